package wire

import (
	"fmt"
	"io"
	"net"
	"slices"
)

// Sender writes dRPC messages to one connection as packets, reusing its
// scratch space. A Sender is not safe for concurrent use.
//
// On a *net.UnixConn a large packet goes out with one writev of the header
// and the slices of the message it carries, so its bytes are never copied
// in user space; a small one (up to smallPacket bytes) is assembled in a
// scratch buffer and written with one write, which costs the kernel less
// than gathering three pieces. Other writers (tests, wrappers) get every
// packet assembled and written with one Write. The scratch buffer is sized
// to the largest packet assembled so far: on a connection, at most
// smallPacket bytes.
type Sender struct {
	w       io.Writer
	conn    *net.UnixConn // w, if it is one
	header  [HeaderSize]byte
	parts   [4][]byte // a packet: the header and up to three parts
	vec     net.Buffers
	scratch []byte
}

// NewSender returns a Sender that writes packets to w, one packet per Write;
// w must keep packet boundaries (a SOCK_SEQPACKET connection).
func NewSender(w io.Writer) *Sender {
	s := &Sender{w: w}
	s.conn, _ = w.(*net.UnixConn)
	return s
}

// Send writes the message made of head followed by body. Neither slice is
// changed or retained.
func (s *Sender) Send(head, body []byte) error {
	return s.SendParts(head, body, nil)
}

// SendParts writes the message made of head, body and tail, one after the
// other, as Send does: a message whose end lies elsewhere in memory than
// its start goes out without being copied together first. None of the
// slices is changed or retained.
func (s *Sender) SendParts(head, body, tail []byte) error {
	msg := [3][]byte{head, body, tail}
	total := uint64(len(head)) + uint64(len(body)) + uint64(len(tail))
	chunks := ChunkCount(total)
	h := Header{TotalDataSize: total, TotalChunks: uint32(chunks)}
	for i := uint64(0); i < chunks; i++ {
		start := i * MaxChunkData
		end := min(start+MaxChunkData, total)
		h.ChunkIdx = uint32(i)
		h.ChunkDataSize = end - start
		h.Put(s.header[:])

		packet := append(s.parts[:0], s.header[:])
		at := uint64(0) // where the current part starts in the message
		for _, part := range msg {
			next := at + uint64(len(part))
			if len(part) > 0 && next > start && at < end {
				packet = append(packet, part[max(start, at)-at:min(end, next)-at])
			}
			at = next
		}
		if err := s.write(packet); err != nil {
			return fmt.Errorf("send dRPC %s: %w", h, err)
		}
	}
	return nil
}

// smallPacket is the largest packet a Sender copies together rather than
// gathers with writev: below it the copy is cheaper than the kernel's work
// per extra piece.
const smallPacket = 16 << 10

// write sends the concatenation of parts as one packet.
func (s *Sender) write(parts [][]byte) error {
	n := packetLen(parts)
	if s.conn != nil && n > smallPacket {
		s.vec = parts
		_, err := s.vec.WriteTo(s.conn)
		return err
	}
	if cap(s.scratch) < n {
		// Exactly what the packet needs (to the allocator's size class),
		// not append's doubling: a connection keeps its scratch while it
		// is idle, and on a connection it serves small packets only, so
		// it stays at most smallPacket bytes.
		s.scratch = slices.Grow([]byte(nil), n)
	}
	s.scratch = s.scratch[:0]
	for _, p := range parts {
		s.scratch = append(s.scratch, p...)
	}
	_, err := s.w.Write(s.scratch)
	return err
}

func packetLen(parts [][]byte) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}
