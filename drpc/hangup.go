package drpc

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// errClientHungUp is the cause of a handler's context ending because its
// client closed the connection during the call.
var errClientHungUp = errors.New("dRPC client hung up during the call")

// hangupWatchDelay is how long a call runs before its session starts to
// watch for the client hanging up, so that quick calls never pay for it.
const hangupWatchDelay = 100 * time.Millisecond

// hangupWatch ends a session's context when the client hangs up while a
// call runs: the session reads nothing during a call, so without the watch
// a handler waiting on its context would never learn that nobody waits for
// its answer, and the session would never end.
//
// A call only records when it started; the server's hangupWatchdog finds
// calls that have run for hangupWatchDelay and starts their watch. So a
// quick call costs two uncontended locks and no timer: per-call timers wake
// the runtime's network poller and would double the round-trip time.
type hangupWatch struct {
	conn   *net.UnixConn
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	started  time.Time     // of the call in flight; zero when idle
	watching bool          // a watch goroutine runs for this call
	done     chan struct{} // the watch goroutine has returned
}

func newHangupWatch(conn *net.UnixConn, cancel context.CancelCauseFunc) *hangupWatch {
	return &hangupWatch{conn: conn, cancel: cancel, done: make(chan struct{}, 1)}
}

// start records that a call begins.
func (w *hangupWatch) start() {
	w.mu.Lock()
	w.started = time.Now()
	w.mu.Unlock()
}

// stop records that the call ended, interrupting its watch if one runs and
// waiting for it to return. Every start must be followed by one stop.
func (w *hangupWatch) stop() {
	w.mu.Lock()
	w.started = time.Time{}
	watching := w.watching
	w.watching = false
	w.mu.Unlock()
	if !watching {
		return
	}
	_ = w.conn.SetReadDeadline(aLongTimeAgo)
	<-w.done
	_ = w.conn.SetReadDeadline(time.Time{})
}

// check starts the watch if a call has run for hangupWatchDelay by now; it
// reports whether a call is in flight.
func (w *hangupWatch) check(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started.IsZero() {
		return false
	}
	if !w.watching && now.Sub(w.started) >= hangupWatchDelay {
		w.watching = true
		go w.watch()
	}
	return true
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

// hangupWatchdog looks at the server's calls in flight every
// hangupWatchDelay, but only while there are any, and starts the watch of
// those that have run that long.
type hangupWatchdog struct {
	armed atomic.Bool
	timer *time.Timer
}

// init makes the watchdog run check when it fires.
func (d *hangupWatchdog) init(check func(now time.Time) (busy bool)) {
	d.timer = time.AfterFunc(time.Hour, func() {
		// Disarm first, then look: a call that starts after this arms the
		// watchdog itself; one that started before is seen by the check.
		d.armed.Store(false)
		if check(time.Now()) && d.armed.CompareAndSwap(false, true) {
			d.timer.Reset(hangupWatchDelay)
		}
	})
	d.timer.Stop()
}

// callStarted arms the watchdog unless it is armed already.
func (d *hangupWatchdog) callStarted() {
	if !d.armed.Load() && d.armed.CompareAndSwap(false, true) {
		d.timer.Reset(hangupWatchDelay)
	}
}

// stop stops the watchdog for good.
func (d *hangupWatchdog) stop() {
	d.armed.Store(true) // never arm again
	d.timer.Stop()
}
