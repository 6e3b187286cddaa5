// Package installcheck tests `make install`: it installs into a temporary
// DESTDIR with PREFIX=/usr and PREFIX=/usr/local, and checks the tree (the
// four binaries, the systemd units pointed at the installed binaries, the
// tmpfiles.d entry, the configurations), that each installed binary runs
// and reports the version it was installed as, that the installed
// configurations hold every key at its default, and that a second install
// keeps a changed configuration. It has only tests.
package installcheck
