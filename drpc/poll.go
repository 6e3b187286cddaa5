package drpc

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// aLongTimeAgo is a deadline that has passed: setting it unblocks I/O.
var aLongTimeAgo = time.Unix(1, 0)

// newPacketReader returns what a side reads its packets from: the
// connection itself, or with busy polling (WithBusyPoll) a pollReader.
func newPacketReader(conn *net.UnixConn, spin time.Duration) io.Reader {
	if spin <= 0 {
		return conn
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return conn
	}
	r := &pollReader{raw: raw, spin: spin}
	r.tryFn = r.try // one method value for the reader's life, not one per read
	return r
}

// pollReader reads one packet per Read like the connection does, but polls
// the socket without blocking for up to spin before it parks in the
// runtime's network poller, so that an answer that comes back within
// microseconds is not delayed by the wake-up of a parked thread. Deadlines
// (and so cancellation) and Close act as on the connection once it parks.
type pollReader struct {
	raw   syscall.RawConn
	spin  time.Duration
	tryFn func(fd uintptr) bool

	// State of the Read in progress; a Receiver reads from one goroutine.
	p     []byte
	n     int
	err   error
	start time.Time // when polling started; zero before the first miss
}

func (r *pollReader) Read(p []byte) (int, error) {
	r.p, r.n, r.err, r.start = p, 0, nil, time.Time{}
	err := r.raw.Read(r.tryFn)
	r.p = nil
	switch {
	case err != nil: // closed, or a deadline passed while parked
		return 0, err
	case r.err != nil:
		return 0, os.NewSyscallError("read", r.err)
	case r.n == 0: // end of file, as the net package reports it
		return 0, io.EOF
	}
	return r.n, nil
}

// try reads a packet without blocking; it keeps trying until one arrives
// or spin has passed since the first miss, and then lets the poller wait.
// Once the poller has woken it, it tries once more per wake-up.
func (r *pollReader) try(fd uintptr) bool {
	for {
		n, err := unix.Read(int(fd), r.p)
		switch {
		case err == nil:
			r.n = n
			return true
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			r.err = err
			return true
		}
		if r.start.IsZero() {
			r.start = time.Now()
		} else if time.Since(r.start) >= r.spin {
			return false
		}
		// Let a thread that waits for this core run: on a machine with
		// fewer free cores than spinning peers, the answer being waited
		// for may come from it.
		_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}
