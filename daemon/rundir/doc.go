// Package rundir chooses and creates a daemon's runtime directory, where its
// socket lives.
//
// The default for a daemon name follows the conventions that clients look
// for: /var/run/NAME when the daemon runs as root (DAOS's libdaos looks for
// /var/run/daos_agent/daos_agent.sock), else $XDG_RUNTIME_DIR/NAME (the
// user's runtime directory that systemd --user and login sessions provide),
// else NAME-UID under os.TempDir(), so that two users on one machine never
// share a directory.
//
// Ensure creates the directory with an exact mode and refuses a path that is
// not a directory, or a directory that another user owns (whoever owns the
// directory could replace the daemon's socket with their own).
package rundir
