package packetio

import (
	"io"
	"net"
	"syscall"
	"time"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// PastDeadline is a deadline that has passed: setting it unblocks I/O.
var PastDeadline = time.Unix(1, 0)

// newPacketReader returns what a side reads its packets from: a
// connReader, or with busy polling (WithBusyPoll) a pollReader. Both are
// wire.VectorReaders, so the side's Receiver keeps a buffer the size of its
// messages.
func New(conn *net.UnixConn, spin time.Duration) io.Reader {
	raw, err := conn.SyscallConn()
	if err != nil {
		return conn // the Receiver then reads whole windows
	}
	if spin <= 0 {
		return newConnReader(conn, raw)
	}
	r := &pollReader{conn: conn, raw: raw, spin: spin, cur: spin}
	r.tryFn = r.try // one method value for the reader's life, not one per read
	return r
}

// pollReader reads one packet per Read or ReadVec like a connReader, but
// polls the socket without blocking for a while before it parks in the
// runtime's network poller, so that an answer that comes back within
// microseconds is not delayed by the wake-up of a parked thread. Deadlines
// (and so cancellation) and Close act as on the connection once it parks.
//
// The polling adapts: a wait that the poll did not cover (the answer came
// later, or this side shares its core with the peer it waits for, which
// cannot answer while it spins) halves the next poll, down to none, and a
// wait the poll covered restores it. A reader that stopped polling tries
// again every probeEvery reads. So busy polling costs nothing once it
// stops paying, and a pair of spinners on one core does not stall.
type pollReader struct {
	conn  *net.UnixConn
	raw   syscall.RawConn
	spin  time.Duration // the most to poll, from WithBusyPoll
	cur   time.Duration // the poll of the next read
	quiet int           // reads since polling stopped
	tryFn func(fd uintptr) bool

	readState           // of the read in progress; a Receiver reads from one goroutine
	start     time.Time // when polling started; zero before the first miss
	missed    bool      // the poll ran out before a packet came
}

// probeEvery is how many reads a pollReader that stopped polling makes
// before it polls again.
const probeEvery = 64

func (r *pollReader) Read(p []byte) (int, error) { return r.ReadVec(p, nil) }

// ReadVec implements wire.VectorReader.
func (r *pollReader) ReadVec(p []byte, o *wire.Overflow) (int, error) {
	r.p, r.o, r.n, r.err, r.start, r.missed = p, o, 0, nil, time.Time{}, false
	err := r.raw.Read(r.tryFn)
	n, rerr := r.n, r.err
	r.p, r.o, r.err = nil, nil, nil
	r.adapt()
	if err == nil && rerr == nil && n > 0 {
		return n, nil // the common case, without a call
	}
	return readResult(r.conn, n, rerr, err)
}

// adapt sets the next read's poll from how this one went.
func (r *pollReader) adapt() {
	switch {
	case r.start.IsZero(): // the packet was there at once
	case r.missed:
		r.cur /= 2
		if r.cur < time.Microsecond {
			r.cur = 0
		}
	default:
		r.cur = r.spin
	}
	if r.cur == 0 {
		r.quiet++
		if r.quiet >= probeEvery {
			r.quiet, r.cur = 0, r.spin
		}
	}
}

// try reads a packet without blocking; it keeps trying until one arrives
// or the poll has run out, and then lets the poller wait. Once the poller
// has woken it, it tries once per wake-up. The overflow, if any, is held
// while it polls (it is busy reading) and given back before it waits.
func (r *pollReader) try(fd uintptr) bool {
	for {
		if r.readNow(int(fd)) {
			return true
		}
		if r.start.IsZero() {
			r.start = time.Now()
		}
		if r.missed || time.Since(r.start) >= r.cur {
			r.missed = true
			r.o.Release()
			return false
		}
	}
}
