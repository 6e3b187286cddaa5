// Package sdnotify tells systemd about a daemon's state, for services of
// Type=notify: READY=1 once the daemon serves (its socket accepts
// connections), STOPPING=1 when it begins to shut down, and STATUS= lines
// that `systemctl status` shows.
//
// It sends through github.com/coreos/go-systemd/v22/daemon to the socket that
// NOTIFY_SOCKET names. When NOTIFY_SOCKET is not set (the daemon was not
// started by systemd, or by a unit of another type) every function does
// nothing and returns nil, so daemons call them unconditionally.
package sdnotify
