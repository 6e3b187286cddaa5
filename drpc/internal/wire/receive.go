package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// readWindow is how much one read asks for: one byte more than the largest
// legal packet, so that a larger packet (which the kernel truncates to the
// read) shows up as too long instead of passing unnoticed.
const readWindow = MaxPacketSize + 1

// keepBufferSize is the largest buffer a Receiver keeps between messages; a
// larger one, grown for a rare big message, is dropped before the next read.
const keepBufferSize = 4 << 20

// minBufferSize is the smallest buffer a Receiver reading through a
// VectorReader allocates: room for a small call or answer, so that the
// first messages of a connection do not grow it one step at a time.
const minBufferSize = 512

// Receiver reassembles dRPC messages from packets. It reuses one buffer for
// every message, so a message returned by ReadMessage is valid only until the
// next call. A Receiver is not safe for concurrent use.
//
// Its buffer is sized to the messages it sees. SOCK_SEQPACKET drops the
// part of a packet beyond the read, so a read must offer room for the
// largest legal packet and one byte more. A Receiver whose source is a
// VectorReader borrows a shared overflow buffer of that size while a
// packet is read (never while it waits for one): a small buffer takes a
// copy of the packet from it (see copyLimit), a larger one reads the
// packet in place and only the part that does not fit goes there; the
// buffer grows when a packet does not fit. So a connection that carries
// small messages holds a small buffer, also while it waits. A plain
// io.Reader gets reads of a whole window, from a buffer of that size.
type Receiver struct {
	// Allowance, if set, is charged for the Receiver's buffer: the buffer
	// grows only while it grants the bytes, and a message that would need
	// more is read and dropped like one above the size limit (a
	// *DroppedError wrapping ErrOverBudget). It is charged only through a
	// VectorReader; a plain reader needs a whole window whatever it
	// declares and is used by tests and wrappers only.
	Allowance Allowance
	// Partial, if set, is called with true when the first packet of a
	// message of several packets has arrived, and with false when that
	// message has been read or dropped or its reading failed: the caller
	// can bound the time the rest may take. It is not called for messages
	// of one packet.
	Partial func(inProgress bool)

	r       io.Reader
	vr      VectorReader // r, if it is one
	maxSize uint64
	buf     []byte // len(buf) == cap(buf)
	charged int    // bytes of buf charged to Allowance
	over    Overflow
	inBuf   int                         // bytes of the packet just read that are in buf
	head    [HeaderSize + HeadSize]byte // the start of a packet cut in two
}

// Allowance is an account of memory that a Receiver charges its buffer to,
// such as the budget of a peer. It must be safe for concurrent use if it
// is shared.
type Allowance interface {
	// Grow asks for n more bytes and reports whether they are granted.
	Grow(n int) bool
	// Force takes n more bytes without asking: memory that is held
	// already (the allocator rounds a buffer up to its size class).
	Force(n int)
	// Shrink gives back n bytes.
	Shrink(n int)
}

// NewReceiver returns a Receiver that reads packets from r, one packet per
// Read (a SOCK_SEQPACKET connection), and rejects messages larger than
// maxMessageSize bytes (DefaultMaxMessageSize if maxMessageSize <= 0). If r
// is a VectorReader, the Receiver reads through ReadVec.
func NewReceiver(r io.Reader, maxMessageSize int) *Receiver {
	if maxMessageSize <= 0 {
		maxMessageSize = DefaultMaxMessageSize
	}
	vr, _ := r.(VectorReader)
	return &Receiver{r: r, vr: vr, maxSize: uint64(maxMessageSize), over: newOverflow()}
}

// ReadMessage reads the packets of one message and returns its bytes. It
// returns io.EOF if the peer closed the connection between messages, an
// error wrapping io.ErrUnexpectedEOF if it closed in the middle of one, and
// an error wrapping ErrMalformedPacket for a packet that breaks the rules.
//
// A well-formed message above the size limit, or one that needs more
// memory than the Allowance grants, is read and dropped packet by packet,
// never buffered, and reported as a *DroppedError (which wraps
// ErrMessageTooLarge or ErrOverBudget): the connection is still in step
// and may go on. The buffer grows with the bytes that arrive, never ahead
// of them to the size the first packet declares.
// After any other error the connection must be closed: the stream of
// packets can no longer be trusted.
func (r *Receiver) ReadMessage() ([]byte, error) {
	if cap(r.buf) > keepBufferSize {
		r.setBuffer(nil)
	}
	n, err := r.readPacket(0)
	if err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("receive dRPC packet: %w", err)
	}
	first, err := r.checkFirst(r.packetHead(0, n), n)
	if err != nil && !errors.Is(err, ErrMessageTooLarge) {
		r.over.Release()
		return nil, err
	}
	if first.TotalChunks > 1 && r.Partial != nil {
		r.Partial(true)
		defer r.Partial(false)
	}
	if err != nil {
		return nil, r.drop(first, n, ErrMessageTooLarge)
	}
	if !r.landFirst(first, n) {
		return nil, r.drop(first, n, ErrOverBudget)
	}
	if first.TotalChunks == 0 { // C peer's empty message
		return r.buf[HeaderSize:HeaderSize], nil
	}
	got := first.ChunkDataSize
	for idx := uint32(1); idx < first.TotalChunks; idx++ {
		if !r.roomForChunk(first, got) {
			return nil, r.dropRest(first, idx, got, ErrOverBudget)
		}
		if got, err = r.readNext(first, idx, got); err != nil {
			return nil, err
		}
	}
	if got != first.TotalDataSize {
		return nil, malformed("message ends after chunk %d of %d with %d of %d bytes", first.TotalChunks-1, first.TotalChunks, got, first.TotalDataSize)
	}
	return r.buf[HeaderSize : HeaderSize+got], nil
}

// roomForChunk makes room in the buffer, read through a VectorReader, for
// the next chunk of the message described by first, of which got bytes
// have arrived: the buffer grows with the bytes received, never to the
// size a peer declares before it sends them, doubling (up to the whole
// message) so that its copies cost less than the message itself. It
// reports false if the Allowance refuses the growth.
func (r *Receiver) roomForChunk(first Header, got uint64) bool {
	if r.vr == nil {
		return true // readNext makes a whole window of room
	}
	need := int(got) + HeaderSize + int(min(MaxChunkData, first.TotalDataSize-got))
	if cap(r.buf) >= need {
		return true
	}
	return r.grow(max(need, min(2*cap(r.buf), HeaderSize+int(first.TotalDataSize))))
}

// grow replaces the buffer by one of at least n bytes holding its
// contents, if the Allowance grants the difference.
func (r *Receiver) grow(n int) bool {
	if !r.charge(n) { // before allocating: a refused message costs nothing
		return false
	}
	grown := allocBuffer(n)
	r.settle(cap(grown))
	copy(grown, r.buf)
	r.buf = grown
	return true
}

// settle accounts for the allocator's rounding of a buffer charged with
// charge: the few bytes more are taken whether the Allowance grants them
// or not, as they are there.
func (r *Receiver) settle(n int) {
	if r.Allowance == nil || r.vr == nil || n <= r.charged {
		return
	}
	if !r.Allowance.Grow(n - r.charged) {
		r.Allowance.Force(n - r.charged)
	}
	r.charged = n
}

// charge accounts for a buffer of n bytes replacing the current one: it
// asks the Allowance for the difference (a plain reader's buffers are not
// charged), and reports whether it was granted.
func (r *Receiver) charge(n int) bool {
	if r.Allowance == nil || r.vr == nil {
		return true
	}
	switch d := n - r.charged; {
	case d > 0:
		if !r.Allowance.Grow(d) {
			return false
		}
	case d < 0:
		r.Allowance.Shrink(-d)
	}
	r.charged = n
	return true
}

// setBuffer replaces the buffer by buf, which is smaller, and gives the
// difference back to the Allowance.
func (r *Receiver) setBuffer(buf []byte) {
	r.buf = buf
	r.charge(cap(buf))
}

// Release gives the buffer back to the Allowance, if it has one: the
// Receiver is done (its connection closed). Reading again starts with a
// new buffer.
func (r *Receiver) Release() {
	r.setBuffer(nil)
	r.over.Release()
}

// copyLimit is the largest buffer into which a Receiver copies the first
// packet of a message rather than reading it in place. Below it, the packet
// is read with a plain read into the overflow alone and copied over: the
// vectored read (readv) that would put it in place costs the kernel more
// than copying a few KiB does (it imports and walks a vector where read
// takes one buffer), and it made a round trip of small calls measurably
// slower (docs/performance.md). A larger buffer (grown for larger messages) takes its packets in
// place with readv, and next chunks always land in place.
const copyLimit = 8 << 10

// readPacket reads one packet to r.buf[at:] and returns its length n; the
// first r.inBuf bytes of it are there, and the rest, if any, in r.over,
// which the caller must then release.
//
// With a whole window of room there, it reads there. Otherwise, from a
// VectorReader, it reads into the room and then the overflow, or (a first
// packet into a small buffer, see copyLimit) into the overflow alone. From
// a plain reader, it grows the buffer to a whole window first.
func (r *Receiver) readPacket(at int) (int, error) {
	room := cap(r.buf) - at
	if room < readWindow && r.vr == nil {
		r.ensure(at + readWindow)
		room = cap(r.buf) - at
	}
	if room >= readWindow {
		n, err := r.r.Read(r.buf[at : at+readWindow])
		r.inBuf = n
		return n, err
	}
	p := r.buf[at:]
	if at == 0 && room <= copyLimit {
		p = p[:0]
	}
	n, err := r.vr.ReadVec(p, &r.over)
	r.inBuf = min(n, len(p))
	switch {
	case err != nil:
		r.over.Release()
		return 0, err
	case n <= len(p):
		r.over.Release()
	case n-len(p) > len(r.over.bytes()):
		r.over.Release()
		return 0, fmt.Errorf("receive dRPC packet: vectored read returned %d bytes for a %d-byte buffer and its overflow", n, len(p))
	}
	return n, nil
}

// packetHead returns the start of the packet of n bytes just read to
// r.buf[at:]: its first min(n, HeaderSize+HeadSize) bytes, in one piece.
func (r *Receiver) packetHead(at, n int) []byte {
	k := min(n, len(r.head))
	switch {
	case r.inBuf >= k:
		return r.buf[at : at+k]
	case r.inBuf == 0:
		return r.over.bytes()[:k]
	}
	copy(r.head[:], r.buf[at:at+r.inBuf])
	copy(r.head[r.inBuf:k], r.over.bytes())
	return r.head[:k]
}

// landFirst puts the checked first packet, of n bytes, whole in the
// buffer: the part in the overflow is copied over, into the buffer if it
// has room and else into a grown one, and the overflow goes back. It
// reports false, keeping the overflow, if the Allowance refuses the
// growth.
func (r *Receiver) landFirst(first Header, n int) bool {
	in := r.inBuf
	if in == n {
		return true
	}
	if n <= cap(r.buf) {
		copy(r.buf[in:n], r.over.bytes())
		r.over.Release()
		return true
	}
	// Double, as append does, so that messages that grow a little at a
	// time do not grow the buffer every time; but not beyond a whole
	// window, from where on packets are read straight in. The first
	// packet of a longer message gets room for itself only: the rest get
	// theirs as they arrive (roomForChunk), so a peer that sends one
	// packet and stops makes the receiver hold that packet, no more.
	size := max(n, min(2*cap(r.buf), readWindow), minBufferSize)
	if first.TotalChunks > 1 {
		size = n
	}
	if !r.charge(size) {
		return false
	}
	grown := allocBuffer(size)
	r.settle(cap(grown))
	copy(grown, r.buf[:in])
	copy(grown[in:n], r.over.bytes())
	r.over.Release()
	r.buf = grown
	return true
}

// checkFirst checks the first packet of a message, of n bytes, which start
// with head. A message above the size limit gives an error wrapping
// ErrMessageTooLarge only if its first packet is otherwise well formed, so
// that the rest can be discarded.
func (r *Receiver) checkFirst(head []byte, n int) (Header, error) {
	h, err := ParseHeader(head)
	if err != nil {
		return h, err
	}
	if h.TotalDataSize > r.maxSize {
		if want := ChunkCount(h.TotalDataSize); uint64(h.TotalChunks) != want {
			return h, malformed("total_chunks is %d, but a message of %d bytes takes %d", h.TotalChunks, h.TotalDataSize, want)
		}
		if err := checkChunk(h, h, 0, 0, n); err != nil {
			return h, err
		}
		return h, ErrMessageTooLarge
	}
	if h.TotalChunks == 0 {
		if h.TotalDataSize == 0 && h.ChunkDataSize == 0 && n == HeaderSize {
			return h, nil
		}
		return h, malformed("total_chunks is 0 on a message of %d bytes", h.TotalDataSize)
	}
	if want := ChunkCount(h.TotalDataSize); uint64(h.TotalChunks) != want {
		return h, malformed("total_chunks is %d, but a message of %d bytes takes %d", h.TotalChunks, h.TotalDataSize, want)
	}
	return h, checkChunk(h, h, 0, 0, n)
}

// readNext reads chunk idx of the message described by first, of which got
// bytes have arrived, and returns the new count.
//
// The packet is read straight into place: its data lands right behind the
// data so far, and its header over the last HeaderSize bytes of that data,
// which are saved before the read and put back after it. Through a
// VectorReader the buffer has room for the chunk (roomForChunk), so a
// packet that spills over is longer than the chunk can be and fails the
// checks; a plain reader needs a whole window of room.
func (r *Receiver) readNext(first Header, idx uint32, got uint64) (uint64, error) {
	at := int(got) // data so far is buf[HeaderSize : HeaderSize+at]
	if r.vr == nil {
		r.ensure(at + readWindow)
	}
	var saved [HeaderSize]byte
	copy(saved[:], r.buf[at:at+HeaderSize])

	n, err := r.readPacket(at)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("receive dRPC chunk %d of %d: connection closed after %d of %d bytes: %w", idx, first.TotalChunks, got, first.TotalDataSize, err)
	}
	h, err := ParseHeader(r.packetHead(at, n))
	spilled := r.over.Held()
	r.over.Release()
	if err != nil {
		return 0, err
	}
	copy(r.buf[at:at+HeaderSize], saved[:])
	if err := checkChunk(first, h, idx, got, n); err != nil {
		return 0, err
	}
	if spilled { // cannot pass the checks; never keep a partial copy
		return 0, malformed("chunk %d of %d bytes is longer than the %d bytes that remain of the message", idx, n-HeaderSize, first.TotalDataSize-got)
	}
	return got + h.ChunkDataSize, nil
}

// checkChunk checks header h of the packet of packetLen bytes that should be
// chunk idx of the message that first started, got bytes into it.
func checkChunk(first, h Header, idx uint32, got uint64, packetLen int) error {
	switch {
	case h.TotalDataSize != first.TotalDataSize:
		return malformed("total_data_size changed from %d to %d at chunk %d", first.TotalDataSize, h.TotalDataSize, idx)
	case h.TotalChunks != first.TotalChunks:
		return malformed("total_chunks changed from %d to %d at chunk %d", first.TotalChunks, h.TotalChunks, idx)
	case h.ChunkIdx != idx:
		return malformed("chunk_idx %d arrived where chunk %d was due", h.ChunkIdx, idx)
	case h.ChunkDataSize > MaxChunkData:
		return malformed("chunk_data_size %d is above the %d-byte chunk limit", h.ChunkDataSize, MaxChunkData)
	case h.ChunkDataSize > first.TotalDataSize-got:
		return malformed("chunk %d carries %d bytes but only %d of the message remain", idx, h.ChunkDataSize, first.TotalDataSize-got)
	case packetLen > MaxPacketSize:
		return malformed("packet of more than %d bytes", MaxPacketSize)
	case uint64(packetLen) != HeaderSize+h.ChunkDataSize:
		return malformed("packet of %d bytes does not hold the header plus chunk_data_size %d", packetLen, h.ChunkDataSize)
	}
	return nil
}

// ensure grows the buffer, keeping its contents, to hold at least n bytes.
func (r *Receiver) ensure(n int) {
	if cap(r.buf) >= n {
		return
	}
	grown := allocBuffer(max(n, 2*cap(r.buf)))
	copy(grown, r.buf)
	r.buf = grown
}

// allocBuffer returns a new buffer of at least n bytes whose length is its
// capacity: n rounded up to the allocator's size class, which would
// otherwise go unused.
func allocBuffer(n int) []byte {
	b := slices.Grow([]byte(nil), n)
	return b[:cap(b)]
}

// DroppedError reports a message that was read and dropped, packet by
// packet, without being buffered: it is above the receiver's size limit
// (Err is ErrMessageTooLarge) or its Allowance refused the memory it
// needs (Err is ErrOverBudget). The connection is still in step.
type DroppedError struct {
	// Err is ErrMessageTooLarge or ErrOverBudget.
	Err error
	// Size is the message's total_data_size.
	Size uint64
	// Limit is the receiver's size limit.
	Limit uint64
	// Head is a copy of the message's first bytes (at most HeadSize), enough
	// to decode the fields of a Call or Response that precede the body.
	Head []byte
}

// HeadSize is the most of a dropped message's first bytes that a
// DroppedError keeps.
const HeadSize = 64

func (e *DroppedError) Error() string {
	if e.Err == ErrOverBudget {
		return fmt.Sprintf("%v: %d bytes, more than the receiver may hold now", e.Err, e.Size)
	}
	return fmt.Sprintf("%v: %d bytes, above the limit of %d bytes", e.Err, e.Size, e.Limit)
}

// Unwrap returns Err.
func (e *DroppedError) Unwrap() error { return e.Err }

// drop reads and drops the remaining packets of the message described by
// first, whose first packet of n bytes was just read (and may be in the
// overflow), and returns the *DroppedError for why (ErrMessageTooLarge or
// ErrOverBudget), or the error that broke the message off.
func (r *Receiver) drop(first Header, n int, why error) error {
	head := r.packetHead(0, n)
	e := &DroppedError{Err: why, Size: first.TotalDataSize, Limit: r.maxSize, Head: bytes.Clone(head[HeaderSize:])}
	r.over.Release()
	return r.dropRest(first, 1, first.ChunkDataSize, e)
}

// dropRest reads and drops packets idx and on of the message described
// by first, of which got bytes have arrived, checking each as ReadMessage
// would, and returns dropped (a *DroppedError, or ErrOverBudget for a
// message whose head is read already) once the message has ended. It never
// grows the buffer of a Receiver that reads through a VectorReader.
func (r *Receiver) dropRest(first Header, idx uint32, got uint64, dropped error) error {
	if dropped == ErrOverBudget {
		k := min(int(got), HeadSize)
		dropped = &DroppedError{Err: ErrOverBudget, Size: first.TotalDataSize, Limit: r.maxSize, Head: bytes.Clone(r.buf[HeaderSize : HeaderSize+k])}
		// The part received is of no use, and under a tight budget the
		// buffer is better given back.
		r.setBuffer(nil)
	}
	for ; idx < first.TotalChunks; idx++ {
		n, err := r.readPacket(0)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("drop chunk %d of %d of a message of %d bytes: connection closed: %w", idx, first.TotalChunks, first.TotalDataSize, err)
		}
		h, err := ParseHeader(r.packetHead(0, n))
		r.over.Release()
		if err == nil {
			err = checkChunk(first, h, idx, got, n)
		}
		if err != nil {
			return fmt.Errorf("drop a message of %d bytes: %w", first.TotalDataSize, err)
		}
		got += h.ChunkDataSize
	}
	if got != first.TotalDataSize {
		return malformed("message ends after chunk %d of %d with %d of %d bytes", first.TotalChunks-1, first.TotalChunks, got, first.TotalDataSize)
	}
	return dropped
}
