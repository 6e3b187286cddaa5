package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// readWindow is how much one read asks for: one byte more than the largest
// legal packet, so a larger packet (which the kernel truncates to the read)
// shows up as too long instead of passing unnoticed.
const readWindow = MaxPacketSize + 1

// keepBufferSize is the largest buffer a Receiver keeps between messages; a
// larger one, grown for a rare big message, is dropped before the next read.
const keepBufferSize = 4 << 20

// Receiver reassembles dRPC messages from packets. It reuses one buffer for
// every message, so a message returned by ReadMessage is valid only until the
// next call. A Receiver is not safe for concurrent use.
type Receiver struct {
	r       io.Reader
	maxSize uint64
	buf     []byte
}

// NewReceiver returns a Receiver that reads packets from r, one packet per
// Read (a SOCK_SEQPACKET connection), and rejects messages larger than
// maxMessageSize bytes (DefaultMaxMessageSize if maxMessageSize <= 0).
func NewReceiver(r io.Reader, maxMessageSize int) *Receiver {
	if maxMessageSize <= 0 {
		maxMessageSize = DefaultMaxMessageSize
	}
	return &Receiver{r: r, maxSize: uint64(maxMessageSize)}
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
	r.ensure(readWindow)

	n, err := r.r.Read(r.buf[:readWindow])
	if err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("receive dRPC packet: %w", err)
	}
	first, err := r.checkFirst(r.buf[:n])
	if errors.Is(err, ErrMessageTooLarge) {
		return nil, r.discard(first, n)
	}
	if err != nil {
		return nil, err
	}
	if first.TotalChunks == 0 { // C peer's empty message
		return r.buf[HeaderSize:HeaderSize], nil
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

// checkFirst checks the first packet of a message. A message above the
// size limit gives an error wrapping ErrMessageTooLarge only if its first
// packet is otherwise well formed, so that the rest can be discarded.
func (r *Receiver) checkFirst(packet []byte) (Header, error) {
	h, err := ParseHeader(packet)
	if err != nil {
		return h, err
	}
	if h.TotalDataSize > r.maxSize {
		if want := ChunkCount(h.TotalDataSize); uint64(h.TotalChunks) != want {
			return h, malformed("total_chunks is %d, but a message of %d bytes takes %d", h.TotalChunks, h.TotalDataSize, want)
		}
		if err := checkChunk(h, h, 0, 0, len(packet)); err != nil {
			return h, err
		}
		return h, ErrMessageTooLarge
	}
	if h.TotalChunks == 0 {
		if h.TotalDataSize == 0 && h.ChunkDataSize == 0 && len(packet) == HeaderSize {
			return h, nil
		}
		return h, malformed("total_chunks is 0 on a message of %d bytes", h.TotalDataSize)
	}
	if want := ChunkCount(h.TotalDataSize); uint64(h.TotalChunks) != want {
		return h, malformed("total_chunks is %d, but a message of %d bytes takes %d", h.TotalChunks, h.TotalDataSize, want)
	}
	return h, checkChunk(h, h, 0, 0, len(packet))
}

// readNext reads chunk idx of the message described by first, of which got
// bytes have arrived, and returns the new count.
//
// The packet is read straight into place: its data lands right behind the
// data so far, and its header over the last HeaderSize bytes of that data,
// which are saved before the read and put back after it.
func (r *Receiver) readNext(first Header, idx uint32, got uint64) (uint64, error) {
	at := int(got) // data so far is buf[HeaderSize : HeaderSize+at]
	r.ensure(at + readWindow)
	var saved [HeaderSize]byte
	copy(saved[:], r.buf[at:at+HeaderSize])

	n, err := r.r.Read(r.buf[at : at+readWindow])
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("receive dRPC chunk %d of %d: connection closed after %d of %d bytes: %w", idx, first.TotalChunks, got, first.TotalDataSize, err)
	}
	h, err := ParseHeader(r.buf[at : at+n])
	if err != nil {
		return 0, err
	}
	copy(r.buf[at:at+HeaderSize], saved[:])
	if err := checkChunk(first, h, idx, got, n); err != nil {
		return 0, err
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
	if len(r.buf) >= n {
		return
	}
	if cap(r.buf) >= n {
		r.buf = r.buf[:cap(r.buf)]
		return
	}
	grown := make([]byte, max(n, 2*cap(r.buf)))
	copy(grown, r.buf)
	r.buf = grown
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
// described by first, whose first packet of n bytes is in the buffer,
// checking each as ReadMessage would.
func (r *Receiver) discard(first Header, n int) error {
	tooLarge := &TooLargeError{
		Size:  first.TotalDataSize,
		Limit: r.maxSize,
		Head:  bytes.Clone(r.buf[HeaderSize:min(n, HeaderSize+HeadSize)]),
	}
	got := first.ChunkDataSize
	for idx := uint32(1); idx < first.TotalChunks; idx++ {
		n, err := r.r.Read(r.buf[:readWindow])
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("drop chunk %d of %d of a message of %d bytes above the limit: connection closed: %w", idx, first.TotalChunks, first.TotalDataSize, err)
		}
		h, err := ParseHeader(r.buf[:n])
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
