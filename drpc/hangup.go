package drpc

import (
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

// hangupWatchDelay is how often the server looks for long calls; a call is
// watched for its client hanging up once it has run for one to two
// delays, so that quick calls never pay for it.
const hangupWatchDelay = 100 * time.Millisecond

// hangupWatch ends a session's context when the client hangs up while a
// call runs: the session reads nothing during a call, so without the watch
// a handler waiting on its context would never learn that nobody waits for
// its answer, and the session would never end.
//
// A call only counts itself; the server's hangupWatchdog finds calls that
// were already running at its previous look and starts their watch. So a
// quick call costs an uncontended lock and no timer or clock read:
// per-call timers wake the runtime's network poller and would double the
// round-trip time.
type hangupWatch struct {
	conn     *net.UnixConn
	onHangup func() // ends the call's context

	mu       sync.Mutex
	calls    uint64        // calls started on the session so far
	busy     bool          // a call is running
	seen     uint64        // calls at the watchdog's previous look
	watching bool          // a watch goroutine runs for this call
	done     chan struct{} // the watch goroutine has returned
}

func newHangupWatch(conn *net.UnixConn, onHangup func()) *hangupWatch {
	return &hangupWatch{conn: conn, onHangup: onHangup, done: make(chan struct{}, 1)}
}

// start records that a call begins.
func (w *hangupWatch) start() {
	w.mu.Lock()
	w.calls++
	w.busy = true
	w.mu.Unlock()
}

// stop records that the call ended, interrupting its watch if one runs and
// waiting for it to return. Every start must be followed by one stop.
func (w *hangupWatch) stop() {
	w.mu.Lock()
	w.busy = false
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

// check starts the watch if the call in flight was already running at the
// previous check; it reports whether a call is in flight.
func (w *hangupWatch) check() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.busy {
		return false
	}
	if !w.watching && w.seen == w.calls {
		w.watching = true
		go w.watch()
	}
	w.seen = w.calls
	return true
}

// watch waits until the client shuts its end of the connection down and
// then ends the call's context. It asks the kernel for the hang-up itself
// (POLLRDHUP), not for readability, so a packet the client sends during
// the call neither ends the watch nor passes for a hang-up; it stays for
// the session to read.
func (w *hangupWatch) watch() {
	defer func() { w.done <- struct{}{} }()
	raw, err := w.conn.SyscallConn()
	if err != nil {
		return
	}
	hungUp := false
	_ = raw.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		for {
			n, err := unix.Poll(fds, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			hungUp = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
			// Not yet: wait for the poller's next event on the socket,
			// which a hang-up raises even with data pending.
			return hungUp
		}
	})
	if hungUp {
		w.onHangup()
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
func (d *hangupWatchdog) init(check func() (busy bool)) {
	d.timer = time.AfterFunc(time.Hour, func() {
		// Disarm first, then look: a call that starts after this arms the
		// watchdog itself; one that started before is seen by the check.
		d.armed.Store(false)
		if check() && d.armed.CompareAndSwap(false, true) {
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
	if d.timer != nil {
		d.timer.Stop()
	}
}
