package sdnotify

import (
	"fmt"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Enabled reports whether NOTIFY_SOCKET is set, that is whether the
// functions of this package send anything.
func Enabled() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// Ready tells systemd that the daemon is ready (READY=1), with an optional
// status line (STATUS=status, omitted if empty). Call it once the daemon's
// socket accepts connections.
func Ready(status string) error { return Notify(daemon.SdNotifyReady, status) }

// Stopping tells systemd that the daemon is shutting down (STOPPING=1), with
// an optional status line.
func Stopping(status string) error { return Notify(daemon.SdNotifyStopping, status) }

// Status sets the status line that `systemctl status` shows (STATUS=status).
func Status(status string) error { return Notify("", status) }

// Notify sends state (one "KEY=VALUE" assignment, or empty) and, if status is
// not empty, a STATUS= line in one message. Newlines in status are replaced
// by spaces, as a message is one assignment per line. It does nothing when
// NOTIFY_SOCKET is not set.
func Notify(state, status string) error {
	var lines []string
	if state != "" {
		lines = append(lines, state)
	}
	if status != "" {
		lines = append(lines, "STATUS="+strings.ReplaceAll(status, "\n", " "))
	}
	if len(lines) == 0 {
		return nil
	}
	msg := strings.Join(lines, "\n")
	if _, err := daemon.SdNotify(false, msg); err != nil {
		return fmt.Errorf("notify systemd of %q through NOTIFY_SOCKET=%s: %w (check that the unit's NotifyAccess= allows this process)",
			strings.Join(lines, " "), os.Getenv("NOTIFY_SOCKET"), err)
	}
	return nil
}
