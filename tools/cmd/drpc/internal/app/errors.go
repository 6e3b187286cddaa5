package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/drpc"
)

// Exit codes of the drpc command. 0, 1 and 2 are the daemons' (package
// daemon/cli); 3 is this tool's.
const (
	// ExitOK: the call answered SUCCESS (or the command succeeded).
	ExitOK = cli.ExitOK
	// ExitStatus: the server answered with a status other than SUCCESS, or
	// the command failed for another reason (a credential that does not
	// verify, a reply that cannot be written, bench calls that failed).
	ExitStatus = cli.ExitFailure
	// ExitUsage: the command line is wrong (flags, names, the body).
	ExitUsage = cli.ExitUsage
	// ExitUnreachable: no answer came from a dRPC server at the socket:
	// nothing there, no permission, not a dRPC server, or it hung up or
	// did not answer in time.
	ExitUnreachable = 3
)

// Kinds of TransportError, also the keys of bench's error counts.
const (
	KindNoSocket     = "no_socket"
	KindPermission   = "permission_denied"
	KindRefused      = "refused"
	KindNotSocket    = "not_a_socket"
	KindStreamSocket = "stream_socket"
	KindNotDRPC      = "not_drpc"
	KindClosed       = "closed_by_server"
	KindTimeout      = "timeout"
	KindTooLarge     = "reply_too_large"
	KindInterrupted  = "interrupted"
	KindOther        = "other"
)

// TransportError is a call that got no valid response: the socket could not
// be reached or is not a dRPC server, or the server hung up or did not
// answer in time. Its message is one line that says what to do.
type TransportError struct {
	// Kind classifies the failure (KindNoSocket, ...).
	Kind string
	// Socket is the socket's path.
	Socket string
	// Err is the transport's error.
	Err error
	msg string
}

// Error returns the explanation.
func (e *TransportError) Error() string { return e.msg }

// Unwrap returns the transport's error.
func (e *TransportError) Unwrap() error { return e.Err }

// phase tells classify whether the error came from Connect or from a call.
type phase int

const (
	phaseConnect phase = iota
	phaseCall
)

// classify explains a transport error of Connect (phaseConnect) or of a
// call (phaseCall) to socket as a *TransportError. timeout is the limit the
// call had, for the message.
func classify(err error, socket string, ph phase, timeout time.Duration) *TransportError {
	e := &TransportError{Socket: socket, Err: err}
	switch {
	case errors.Is(err, context.Canceled):
		e.Kind, e.msg = KindInterrupted, fmt.Sprintf("interrupted while talking to %s", socket)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		e.Kind = KindTimeout
		what := "answer"
		if ph == phaseConnect {
			what = "accept the connection"
		}
		e.msg = fmt.Sprintf("the server at %s did not %s within %s: it is stuck or overloaded; raise --timeout (0 waits for ever)", socket, what, timeout)
	case errors.Is(err, syscall.ENOENT):
		e.Kind, e.msg = KindNoSocket, noSocketMessage(socket)
	case errors.Is(err, syscall.ENOTDIR):
		e.Kind, e.msg = KindNoSocket, fmt.Sprintf("no socket at %s: a component of the path is not a directory; check --socket", socket)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		e.Kind, e.msg = KindPermission, permissionMessage(socket)
	case errors.Is(err, syscall.EPROTOTYPE):
		e.Kind, e.msg = KindStreamSocket, fmt.Sprintf("%s is a stream socket (SOCK_STREAM), not a dRPC server, which listens on SOCK_SEQPACKET: check --socket", socket)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind, e.msg = refusedMessage(socket)
	case errors.Is(err, syscall.ENOTSOCK):
		e.Kind, e.msg = KindNotSocket, fmt.Sprintf("%s is not a socket, so not a dRPC server: check --socket", socket)
	case errors.Is(err, drpc.ErrMessageTooLarge):
		e.Kind, e.msg = KindTooLarge, fmt.Sprintf("the reply from %s is larger than this tool accepts (%d bytes): %s", socket, maxMessageSize, from(err, drpc.ErrMessageTooLarge.Error()))
	case errors.Is(err, drpc.ErrMalformedPacket):
		e.Kind, e.msg = KindNotDRPC, fmt.Sprintf("%s answered with a packet that is not dRPC (%s): it is not a dRPC server, or a broken one; check --socket", socket, from(err, drpc.ErrMalformedPacket.Error()))
	case errors.Is(err, drpc.ErrSequenceMismatch):
		e.Kind, e.msg = KindNotDRPC, fmt.Sprintf("%s answered with the response to another call (sequence mismatch): it is not a dRPC server, or a broken one; check --socket", socket)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, drpc.ErrConnectionClosed):
		e.Kind, e.msg = KindClosed, fmt.Sprintf("the server at %s closed the connection before it answered: it may have crashed or refused the call; see its log", socket)
	case ph == phaseCall && strings.Contains(err.Error(), "does not decode"):
		e.Kind, e.msg = KindNotDRPC, fmt.Sprintf("%s answered with a message that is not a dRPC response (%s): it is not a dRPC server, or a broken one; check --socket", socket, from(err, "decode dRPC response"))
	default:
		e.Kind, e.msg = KindOther, fmt.Sprintf("cannot talk to the dRPC server at %s: %v", socket, err)
	}
	return e
}

// from returns err's message from marker on, the part that explains it
// without the context the transport added; all of it if marker is absent.
func from(err error, marker string) string {
	msg := err.Error()
	if i := strings.Index(msg, marker); i >= 0 {
		return msg[i:]
	}
	return msg
}

// noSocketMessage explains ENOENT, saying whether the directory exists.
func noSocketMessage(socket string) string {
	dir := filepath.Dir(socket)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("no socket at %s, and no directory %s: is the server running, with that runtime directory? Check --socket", socket, dir)
	}
	return fmt.Sprintf("no socket at %s: is the server running? Start it, or check --socket", socket)
}

// permissionMessage explains EACCES with the socket's owner and mode, when
// this user may see them.
func permissionMessage(socket string) string {
	st, err := os.Stat(socket)
	if err != nil {
		return fmt.Sprintf("permission denied reaching %s: this user may not enter its directory; run as the server's user or root, or check --socket", socket)
	}
	owner := ""
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf(", owner uid %d gid %d", sys.Uid, sys.Gid)
	}
	return fmt.Sprintf("permission denied connecting to %s (mode %#o%s, this process uid %d): run as the server's user or root, or have the server open the socket to others",
		socket, st.Mode().Perm(), owner, os.Geteuid())
}

// refusedMessage explains ECONNREFUSED: a stale socket, or a path that is
// not a socket at all.
func refusedMessage(socket string) (kind, msg string) {
	st, err := os.Lstat(socket)
	if err == nil && st.Mode().Type() != fs.ModeSocket {
		what := "a regular file"
		switch {
		case st.IsDir():
			what = "a directory"
		case st.Mode()&fs.ModeSymlink != 0:
			what = "a symbolic link"
			if target, err := os.Stat(socket); err == nil && target.Mode().Type() == fs.ModeSocket {
				return KindRefused, fmt.Sprintf("nothing listens on %s (connection refused): the socket it links to is left over from a server that stopped; start the server", socket)
			}
		case !st.Mode().IsRegular():
			what = "not a socket"
		}
		return KindNotSocket, fmt.Sprintf("%s is %s, not a socket, so not a dRPC server: check --socket", socket, what)
	}
	return KindRefused, fmt.Sprintf("nothing listens on %s (connection refused): the socket is left over from a server that stopped; start the server, or check --socket", socket)
}

// unreachable turns a transport error into the command's error, with
// ExitUnreachable.
func unreachable(err error, socket string, ph phase, timeout time.Duration) error {
	return cli.WithExitCode(ExitUnreachable, classify(err, socket, ph, timeout))
}

// StatusName is a status's name as DAOS writes it: SUCCESS, UNKNOWN_METHOD;
// or the number for a status this tool does not know.
func StatusName(s drpc.Status) string {
	return strings.TrimPrefix(s.String(), "STATUS_")
}

// statusError explains a non-success response to t: the status by name,
// the reason the server sent (if any), and what to check.
func statusError(t Target, socket string, resp *drpc.Response) error {
	var f *drpc.Failure
	if !errors.As(drpc.FailureFromResponse(resp), &f) {
		f = drpc.NewFailure(resp.GetStatus(), "")
	}
	return failureError(t, socket, f)
}

// failureError explains the failure f of a call to t (exit code
// ExitStatus): the status by name and the server's reason, or a hint.
func failureError(t Target, socket string, f *drpc.Failure) error {
	status := f.Status()
	var hint string
	switch status {
	case drpc.StatusUnknownModule:
		hint = fmt.Sprintf("the server at %s has no module %d; check --module (the catalog lists what exists, a server may serve less)", socket, t.Module)
	case drpc.StatusUnknownMethod:
		hint = fmt.Sprintf("module %d at %s does not serve method %d; check --method", t.Module, socket, t.Method)
	case drpc.StatusFailedUnmarshalPayload:
		hint = "the server could not decode the body as the method's request; check --data or --hex"
	case drpc.StatusFailedUnmarshalCall:
		hint = "the server could not decode the call, or it was above its size limit"
	case drpc.StatusFailedMarshal:
		hint = "the server could not encode its reply; see its log"
	case drpc.StatusSubmitted:
		hint = "the server accepted the call to finish it later"
	default:
		hint = "the call failed on the server; see its log"
	}
	if reason := f.Message(); reason != "" {
		return cli.WithExitCode(ExitStatus, fmt.Errorf("%s answered %s: %s (%s)", t, StatusName(status), reason, hint))
	}
	return cli.WithExitCode(ExitStatus, fmt.Errorf("%s answered %s: %s", t, StatusName(status), hint))
}

// usage marks err as a command-line mistake of cmd (exit code 2); the
// message already says what to do, so no hint is added.
func usage(err error) error {
	return cli.WithExitCode(ExitUsage, err)
}
