package packetio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// connReader is what a side reads its packets from without busy polling:
// the connection, plus a vectored read (wire.VectorReader) that lets the
// receiver keep a buffer the size of its messages. The vectored read goes
// through the connection's RawConn, so it waits in the runtime's network
// poller like the connection's own Read, and deadlines (and so
// cancellation) and Close act on it the same way.
type connReader struct {
	conn  *net.UnixConn
	raw   syscall.RawConn
	tryFn func(fd uintptr) bool // r.try, made once: a method value per read would allocate

	readState // of the ReadVec in progress; a Receiver reads from one goroutine
}

// readState is the read in progress of a reader: where the packet goes
// (p, then the overflow o) and what came (n bytes, or err).
type readState struct {
	p   []byte
	o   *wire.Overflow // nil for Read
	n   int
	err error
}

// readNow reads one packet from fd without blocking. It reports true when
// the read is over, with a packet (n) or an error other than EAGAIN (err),
// and false when there is nothing to read yet.
func (s *readState) readNow(fd int) bool {
	for {
		n, err := readPacket(fd, s.p, s.o)
		switch {
		case err == nil:
			s.n = n
			return true
		case err == unix.EINTR: // Errnos compare as values; errors.Is costs a read its time
			continue
		case err != unix.EAGAIN:
			s.err = err
			return true
		}
		return false
	}
}

func newConnReader(conn *net.UnixConn, raw syscall.RawConn) *connReader {
	r := &connReader{conn: conn, raw: raw}
	r.tryFn = r.try
	return r
}

// Read is the connection's own Read, for reads that need no overflow.
func (r *connReader) Read(p []byte) (int, error) { return r.conn.Read(p) }

// ReadVec implements wire.VectorReader.
func (r *connReader) ReadVec(p []byte, o *wire.Overflow) (int, error) {
	return r.readWith(r.tryFn, p, o)
}

// readWith reads one packet into p and o through the RawConn, with fn (a
// method value made once, like r.tryFn) doing the reading.
func (r *connReader) readWith(fn func(fd uintptr) bool, p []byte, o *wire.Overflow) (int, error) {
	r.p, r.o, r.n, r.err = p, o, 0, nil
	err := r.raw.Read(fn)
	n, rerr := r.n, r.err
	r.p, r.o, r.err = nil, nil, nil
	if err == nil && rerr == nil && n > 0 {
		return n, nil // the common case, without a call
	}
	return readResult(r.conn, n, rerr, err)
}

// try reads a packet if one is there; if not, it gives the overflow back
// and lets the poller wait.
func (r *connReader) try(fd uintptr) bool {
	if r.readNow(int(fd)) {
		return true
	}
	r.o.Release()
	return false
}

// readPacket reads one packet from fd without blocking: into p and, past
// it, into the overflow buffer of o (none if o is nil), which it borrows
// for the read. It gives the buffer back unless the packet spilled into it
// or there was none to read (unix.EAGAIN): a busy poll keeps the buffer
// across its tries, and releases it before it waits.
//
// With an empty p the packet goes to the overflow with a plain read, which
// costs the kernel less than a readv.
func readPacket(fd int, p []byte, o *wire.Overflow) (int, error) {
	switch {
	case o == nil:
		return unix.Read(fd, p)
	case len(p) == 0: // the common case: a small message, to be copied
		n, err := unix.Read(fd, o.Take())
		if (err != nil && err != unix.EAGAIN) || (err == nil && n == 0) { // failed, or end of file
			o.Release()
		}
		return n, err
	}
	iov := [2][]byte{p, o.Take()}
	n, err := unix.Readv(fd, iov[:])
	if err != unix.EAGAIN && (err != nil || n <= len(p)) {
		o.Release()
	}
	return n, err
}

// readResult turns the outcome of a read through the RawConn into what the
// connection's Read returns: the RawConn's own error (a deadline that
// passed, a closed connection) as the net package reports it, a failed
// read as an *net.OpError, and a packet of no bytes as io.EOF.
func readResult(conn *net.UnixConn, n int, readErr, rawErr error) (int, error) {
	if rawErr != nil {
		var op *net.OpError
		if errors.As(rawErr, &op) && op.Op == "raw-read" {
			op.Op = "read" // it is ours, made for this call
		}
		return 0, rawErr
	}
	if readErr != nil {
		return 0, &net.OpError{Op: "read", Net: "unixpacket", Source: conn.LocalAddr(), Addr: conn.RemoteAddr(), Err: os.NewSyscallError("read", readErr)}
	}
	if n == 0 { // end of file, as the net package reports it
		return 0, io.EOF
	}
	return n, nil
}
