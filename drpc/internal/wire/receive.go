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
	r       io.Reader
	vr      VectorReader // r, if it is one
	maxSize uint64
	buf     []byte // len(buf) == cap(buf)
	over    Overflow
	inBuf   int                         // bytes of the packet just read that are in buf
	head    [HeaderSize + HeadSize]byte // the start of a packet cut in two
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
// A well-formed message above the size limit is read and dropped packet by
// packet, never buffered, and reported as a *TooLargeError (which wraps
// ErrMessageTooLarge): the connection is still in step and may go on.
// After any other error the connection must be closed: the stream of
// packets can no longer be trusted.
func (r *Receiver) ReadMessage() ([]byte, error) {
	if cap(r.buf) > keepBufferSize {
		r.buf = nil
	}
	n, err := r.readPacket(0)
	if err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("receive dRPC packet: %w", err)
	}
	first, err := r.checkFirst(r.packetHead(0, n), n)
	if errors.Is(err, ErrMessageTooLarge) {
		return nil, r.discard(first, n)
	}
	if err != nil {
		r.over.Release()
		return nil, err
	}
	r.landFirst(first, n)
	if first.TotalChunks == 0 { // C peer's empty message
		return r.buf[HeaderSize:HeaderSize], nil
	}
	if first.TotalChunks > 1 && r.vr != nil {
		// The size is checked: make room for the whole message at once,
		// so that its chunks land in place without another copy.
		r.reserve(HeaderSize + int(first.TotalDataSize))
	}
	got := first.ChunkDataSize
	for idx := uint32(1); idx < first.TotalChunks; idx++ {
		if got, err = r.readNext(first, idx, got); err != nil {
			return nil, err
		}
	}
	if got != first.TotalDataSize {
		return nil, malformed("message ends after chunk %d of %d with %d of %d bytes", first.TotalChunks-1, first.TotalChunks, got, first.TotalDataSize)
	}
	return r.buf[HeaderSize : HeaderSize+got], nil
}

// copyLimit is the largest buffer into which a Receiver copies the first
// packet of a message rather than reading it in place. Below it, the packet
// is read with a plain read into the overflow alone and copied over: the
// vectored read (readv) that would put it in place costs the kernel more
// than copying a few KiB does (it imports and walks a vector where read
// takes one buffer), and a round trip of small calls made it a few percent
// slower. A larger buffer (grown for larger messages) takes its packets in
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
// has room and else into a grown one (of the whole message if more chunks
// follow), and the overflow goes back.
func (r *Receiver) landFirst(first Header, n int) {
	in := r.inBuf
	if in == n {
		return
	}
	if n <= cap(r.buf) {
		copy(r.buf[in:n], r.over.bytes())
		r.over.Release()
		return
	}
	var size int
	if first.TotalChunks > 1 {
		size = HeaderSize + int(first.TotalDataSize) // the size is checked
	} else {
		// Double, as append does, so that messages that grow a little at
		// a time do not grow the buffer every time; but not beyond a
		// whole window, from where on packets are read straight in.
		size = max(n, min(2*cap(r.buf), readWindow), minBufferSize)
	}
	grown := allocBuffer(size)
	copy(grown, r.buf[:in])
	copy(grown[in:n], r.over.bytes())
	r.over.Release()
	r.buf = grown
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
// VectorReader the buffer already holds the whole message (reserve), so a
// packet that spills over is longer than what remains of the message and
// fails the checks; a plain reader needs a whole window of room.
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

// reserve grows the buffer, keeping its contents, to exactly the n bytes a
// message needs, if it is smaller: the message's size is known, so there
// is nothing to gain from doubling.
func (r *Receiver) reserve(n int) {
	if cap(r.buf) >= n {
		return
	}
	grown := allocBuffer(n)
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

// TooLargeError reports a message above the receiver's size limit that was
// read and dropped: the connection is still in step. It wraps
// ErrMessageTooLarge.
type TooLargeError struct {
	// Size is the message's total_data_size.
	Size uint64
	// Limit is the receiver's limit.
	Limit uint64
	// Head is a copy of the message's first bytes (at most HeadSize), enough
	// to decode the fields of a Call or Response that precede the body.
	Head []byte
}

// HeadSize is the most of a dropped message's first bytes that a
// TooLargeError keeps.
const HeadSize = 64

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: %d bytes, above the limit of %d bytes", ErrMessageTooLarge, e.Size, e.Limit)
}

// Unwrap returns ErrMessageTooLarge.
func (e *TooLargeError) Unwrap() error { return ErrMessageTooLarge }

// discard reads and drops the remaining packets of the too-large message
// described by first, whose first packet of n bytes was just read, checking
// each as ReadMessage would. It never grows the buffer of a Receiver that
// reads through a VectorReader.
func (r *Receiver) discard(first Header, n int) error {
	head := r.packetHead(0, n)
	tooLarge := &TooLargeError{
		Size:  first.TotalDataSize,
		Limit: r.maxSize,
		Head:  bytes.Clone(head[HeaderSize:]),
	}
	r.over.Release()
	got := first.ChunkDataSize
	for idx := uint32(1); idx < first.TotalChunks; idx++ {
		n, err := r.readPacket(0)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("drop chunk %d of %d of a message of %d bytes above the limit: connection closed: %w", idx, first.TotalChunks, first.TotalDataSize, err)
		}
		h, err := ParseHeader(r.packetHead(0, n))
		r.over.Release()
		if err == nil {
			err = checkChunk(first, h, idx, got, n)
		}
		if err != nil {
			return fmt.Errorf("drop a message of %d bytes above the limit: %w", first.TotalDataSize, err)
		}
		got += h.ChunkDataSize
	}
	if got != first.TotalDataSize {
		return malformed("message ends after chunk %d of %d with %d of %d bytes", first.TotalChunks-1, first.TotalChunks, got, first.TotalDataSize)
	}
	return tooLarge
}
