package drpc

import (
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// kernelWaitReader is how a client with WithKernelWait waits for its
// answer: in the kernel, with a blocking read, rather than in the
// runtime's network poller (see WithKernelWait for when to use it). A
// small call's round trip is mostly the wake-up of the side that waits,
// and a thread that sleeps in read(2) is woken by the kernel the moment
// the packet arrives, where a goroutine parked in the poller waits for a
// thread to come back from epoll_wait, take it and run it: on the 2-core
// VM of docs/performance.md the blocking wait makes small calls on one
// connection about 1.25 times as fast.
//
// The socket stays non-blocking for everything else: the reader clears
// O_NONBLOCK for the one read and sets it again at once (two fcntl calls,
// cheap next to a wake-up). The wait is bounded three ways, so that it
// never costs what the poller exists to save:
//
//   - in time: SO_RCVTIMEO ends it after the window (WithKernelWait,
//     rounded up to the kernel's clock tick), and the read goes on in the
//     poller, where deadlines act; a call with a deadline closer than
//     twice the window goes to the poller at once. A cancelled call
//     notices within the window.
//   - in number: at most maxKernelWaiters reads of the whole process wait
//     in the kernel at once (each holds an OS thread); the others use the
//     poller, which serves many waiters better.
//   - to short waits: after a wait longer than kernelWaitShort, the next
//     kernelWaitRest reads of the connection wait in the poller.
//
// Close does not wait for the window: ClientConnection.Close shuts the
// socket down first, which ends a blocking read at once.
type kernelWaitReader struct {
	connReader
	flags  int                   // the socket's file status flags, O_NONBLOCK included
	waitFn func(fd uintptr) bool // r.wait, made once
	window time.Duration         // the longest wait in the kernel (SO_RCVTIMEO)
	limit  int32                 // the most kernel waiters of the process, this one included
	waited bool                  // the read in progress has had its wait in the kernel
	skip   bool                  // the call's deadline is too close for a wait in the kernel
	rest   int                   // reads left to make in the poller after a long wait
}

// kernelWaitShort is the longest wait in the kernel that pays. A goroutine
// blocked in a system call keeps its processor only until the scheduler's
// monitor takes it back, after 20 µs or so when the process is busy; the
// read then needs a processor again when it returns, which costs more
// than the poller's wake-up. So after a wait longer than this (a large
// body, a slow handler) the next kernelWaitRest reads wait in the poller,
// and then one tries the kernel again.
const kernelWaitShort = 20 * time.Microsecond

// kernelWaitRest is how many reads wait in the poller after a long wait
// in the kernel.
const kernelWaitRest = 16

// kernelWaitWindow is the window the tests use, and the one the
// documentation suggests (WithKernelWait).
const kernelWaitWindow = time.Millisecond

// maxKernelWaiters is how many reads may wait in the kernel at once in
// this process: half the processors (GOMAXPROCS when the process
// started), and none with one. A read blocked in the kernel keeps its
// processor until the scheduler's monitor takes it back, which may take
// milliseconds; so waiters on every processor would stall the process's
// other goroutines. On the 2-core VM, one waiter made small calls on one
// connection about 1.3 times as fast and left eight connections as they
// were; two made eight connections a third slower.
var maxKernelWaiters = int32(runtime.GOMAXPROCS(0) / 2)

// kernelWaiters counts the reads waiting in the kernel now.
var kernelWaiters atomic.Int32

// newKernelWaitReader returns the reader for a client connection that
// waits in the kernel for up to window while fewer than limit reads of the
// process do (the client passes WithKernelWait's and maxKernelWaiters). It
// returns nil if limit is not positive, or if the socket's flags or
// receive timeout cannot be set: the caller then uses a connReader.
func newKernelWaitReader(conn *net.UnixConn, raw syscall.RawConn, window time.Duration, limit int32) *kernelWaitReader {
	if limit <= 0 || window <= 0 {
		return nil
	}
	flags, ok := -1, false
	err := raw.Control(func(fd uintptr) {
		f, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil || f&unix.O_NONBLOCK == 0 {
			return
		}
		tv := unix.NsecToTimeval(window.Nanoseconds())
		if unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) != nil {
			return
		}
		flags, ok = f, true
	})
	if err != nil || !ok {
		return nil
	}
	r := &kernelWaitReader{connReader: *newConnReader(conn, raw), flags: flags, window: window, limit: limit}
	r.tryFn = r.try // the copy's method value would read the original's state
	r.waitFn = r.wait
	return r
}

// newClientReader returns what a client connection reads its answers
// from: with busy polling a pollReader, else with a kernel wait a
// kernelWaitReader (also returned, for setDeadline), else a connReader.
func newClientReader(conn *net.UnixConn, cfg *clientConfig) (io.Reader, *kernelWaitReader) {
	if cfg.busyPoll <= 0 && cfg.kernelWait > 0 {
		if raw, err := conn.SyscallConn(); err == nil {
			if kw := newKernelWaitReader(conn, raw, cfg.kernelWait, maxKernelWaiters); kw != nil {
				return kw, kw
			}
		}
	}
	return newPacketReader(conn, cfg.busyPoll), nil
}

// setDeadline tells the reader the deadline of the call about to read, if
// it has one: a wait in the kernel would overshoot one closer than the
// window.
func (r *kernelWaitReader) setDeadline(d time.Time, ok bool) {
	r.skip = ok && time.Until(d) < 2*r.window
}

// ReadVec implements wire.VectorReader.
func (r *kernelWaitReader) ReadVec(p []byte, o *wire.Overflow) (int, error) {
	if r.skip {
		return r.connReader.ReadVec(p, o)
	}
	if r.rest > 0 {
		r.rest--
		return r.connReader.ReadVec(p, o)
	}
	if kernelWaiters.Add(1) > r.limit {
		kernelWaiters.Add(-1)
		return r.connReader.ReadVec(p, o)
	}
	r.waited = false
	n, err := r.readWith(r.waitFn, p, o)
	if !r.waited {
		// RawConn.Read failed before calling wait (a passed deadline,
		// a closed connection): the wait is not running.
		kernelWaiters.Add(-1)
	}
	return n, err
}

// Read reads one packet, for a Receiver that needs no overflow.
func (r *kernelWaitReader) Read(p []byte) (int, error) { return r.ReadVec(p, nil) }

// wait reads a packet, waiting for it in the kernel the first time it is
// called for a read, and then, as connReader.try does, without blocking.
// It gives up its place among the kernel waiters as soon as its wait ends.
func (r *kernelWaitReader) wait(fd uintptr) bool {
	if r.waited {
		return r.try(fd)
	}
	r.waited = true
	start := time.Now()
	n, err := r.blockingRead(int(fd))
	kernelWaiters.Add(-1)
	if time.Since(start) > kernelWaitShort {
		r.rest = kernelWaitRest
	}
	switch {
	case err == nil:
		r.n = n
		return true
	case err == unix.EAGAIN, err == unix.EINTR: // the window passed, or a signal
		return r.try(fd)
	}
	r.err = err
	return true
}

// blockingRead reads one packet with the socket in blocking mode. If the
// mode cannot be changed it reads without blocking.
func (r *kernelWaitReader) blockingRead(fd int) (int, error) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, r.flags&^unix.O_NONBLOCK); err != nil {
		return readPacket(fd, r.p, r.o)
	}
	n, err := readPacket(fd, r.p, r.o)
	// Only EBADF could fail this, and the descriptor is held open by the
	// RawConn.Read around it.
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, r.flags)
	return n, err
}

// shutdownConn shuts a connection down in both directions: a read or
// write blocked in the kernel on it returns at once, which Close needs
// before it closes the descriptor (net's Close waits for them).
func shutdownConn(conn *net.UnixConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.Shutdown(int(fd), unix.SHUT_RDWR)
	})
}
