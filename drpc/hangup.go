package drpc

import (
	"context"
	"errors"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// errClientHungUp is the cause of a handler's context ending because its
// client closed the connection during the call.
var errClientHungUp = errors.New("dRPC client hung up during the call")

// hangupWatchDelay is how long a call runs before its session starts to
// watch for the client hanging up, so that quick calls never pay for it.
const hangupWatchDelay = 10 * time.Millisecond

// hangupWatch ends a session's context when the client hangs up while a
// call runs: the session reads nothing during a call, so without the watch
// a handler waiting on its context would never learn that nobody waits for
// its answer, and the session would never end.
type hangupWatch struct {
	conn   *net.UnixConn
	cancel context.CancelCauseFunc
	timer  *time.Timer   // runs watch once a call has taken hangupWatchDelay
	done   chan struct{} // watch has returned
}

func newHangupWatch(conn *net.UnixConn, cancel context.CancelCauseFunc) *hangupWatch {
	w := &hangupWatch{conn: conn, cancel: cancel, done: make(chan struct{}, 1)}
	w.timer = time.AfterFunc(time.Hour, w.watch)
	w.timer.Stop()
	return w
}

// start arms the watch as a call begins.
func (w *hangupWatch) start() { w.timer.Reset(hangupWatchDelay) }

// stop disarms the watch as the call ends, interrupting a watch in progress
// and waiting for it to return. Every start must be followed by one stop.
func (w *hangupWatch) stop() {
	if w.timer.Stop() {
		return // the call was quick: no watch ran
	}
	_ = w.conn.SetReadDeadline(aLongTimeAgo)
	<-w.done
	_ = w.conn.SetReadDeadline(time.Time{})
}

// watch waits until the connection is readable and, if that is because the
// client closed it, cancels the session's context. It only peeks: a packet
// that arrives stays for the session to read.
func (w *hangupWatch) watch() {
	defer func() { w.done <- struct{}{} }()
	raw, err := w.conn.SyscallConn()
	if err != nil {
		return
	}
	hungUp := false
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return false // nothing yet: wait until readable
		}
		// End of file (or an empty packet, which the receiver takes for
		// one too) or a broken connection.
		hungUp = err != nil || n == 0
		return true
	})
	if hungUp {
		w.cancel(errClientHungUp)
	}
}
