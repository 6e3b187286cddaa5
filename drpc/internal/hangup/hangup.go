package hangup

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/packetio"
)

// ErrClientHungUp is the cause of a handler's context ending because its
// client closed the connection during the call.
var ErrClientHungUp = errors.New("dRPC client hung up during the call")

// WatchDelay is how often the server looks for long calls; a call is
// watched for its client hanging up once it has run for one to two
// delays, so that quick calls never pay for it.
const WatchDelay = 100 * time.Millisecond

// Watch ends a session's context when the client hangs up while a
// call runs: the session reads nothing during a call, so without the watch
// a handler waiting on its context would never learn that nobody waits for
// its answer, and the session would never end.
//
// A call only counts itself; the server's Watchdog finds calls that
// were already running at its previous look and starts their watch. So a
// quick call costs an uncontended lock and no timer or clock read:
// per-call timers wake the runtime's network poller and would double the
// round-trip time.
type Watch struct {
	conn     *net.UnixConn
	onHangup func() // ends the call's context

	mu       sync.Mutex
	calls    uint64        // calls started on the session so far
	busy     bool          // a call is running
	seen     uint64        // calls at the watchdog's previous look
	watching bool          // a watch goroutine runs for this call
	done     chan struct{} // the watch goroutine has returned
}

// NewWatch returns the watch of a session on conn; onHangup ends the
// context of the call in flight.
func NewWatch(conn *net.UnixConn, onHangup func()) *Watch {
	return &Watch{conn: conn, onHangup: onHangup, done: make(chan struct{}, 1)}
}

// Start records that a call begins.
func (w *Watch) Start() {
	w.mu.Lock()
	w.calls++
	w.busy = true
	w.mu.Unlock()
}

// Stop records that the call ended, interrupting its watch if one runs and
// waiting for it to return. Every Start must be followed by one Stop.
func (w *Watch) Stop() {
	w.mu.Lock()
	w.busy = false
	watching := w.watching
	w.watching = false
	w.mu.Unlock()
	if !watching {
		return
	}
	_ = w.conn.SetReadDeadline(packetio.PastDeadline)
	<-w.done
	_ = w.conn.SetReadDeadline(time.Time{})
}

// Watching reports whether a watch goroutine runs for the call in flight.
func (w *Watch) Watching() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watching
}

// Check starts the watch if the call in flight was already running at the
// previous check; it reports whether a call is in flight.
func (w *Watch) Check() bool {
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
func (w *Watch) watch() {
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

// Watchdog looks at the server's calls in flight every
// WatchDelay, but only while there are any, and starts the watch of
// those that have run that long.
type Watchdog struct {
	armed atomic.Bool
	timer *time.Timer
}

// Init makes the watchdog run check when it fires.
func (d *Watchdog) Init(check func() (busy bool)) {
	d.timer = time.AfterFunc(time.Hour, func() {
		// Disarm first, then look: a call that starts after this arms the
		// watchdog itself; one that started before is seen by the check.
		d.armed.Store(false)
		if check() && d.armed.CompareAndSwap(false, true) {
			d.timer.Reset(WatchDelay)
		}
	})
	d.timer.Stop()
}

// CallStarted arms the watchdog unless it is armed already.
func (d *Watchdog) CallStarted() {
	if !d.armed.Load() && d.armed.CompareAndSwap(false, true) {
		d.timer.Reset(WatchDelay)
	}
}

// Stop stops the watchdog for good.
func (d *Watchdog) Stop() {
	d.armed.Store(true) // never arm again
	if d.timer != nil {
		d.timer.Stop()
	}
}
