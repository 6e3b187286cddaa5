package wire

import (
	"fmt"
	"io"
)

// AppendFrame returns buf[:0] grown by HeaderSize bytes of headroom, ready for
// a message to be appended behind it and the result passed to Send.
func AppendFrame(buf []byte) []byte {
	if cap(buf) < HeaderSize {
		buf = make([]byte, 0, MaxPacketSize)
	}
	return buf[:HeaderSize]
}

// Send writes the message frame[HeaderSize:] to w as dRPC packets, one Write
// per packet. w must keep packet boundaries (a SOCK_SEQPACKET connection).
//
// frame[:HeaderSize] is headroom for the first header; each later header is
// written over the last HeaderSize bytes of the chunk before it, which has
// been sent by then, so no data is copied. frame's contents are therefore
// clobbered: build a new frame for every message.
func Send(w io.Writer, frame []byte) error {
	if len(frame) < HeaderSize {
		return fmt.Errorf("dRPC frame of %d bytes has no room for the %d-byte header", len(frame), HeaderSize)
	}
	total := uint64(len(frame) - HeaderSize)
	chunks := ChunkCount(total)
	h := Header{TotalDataSize: total, TotalChunks: uint32(chunks)}
	for i := uint64(0); i < chunks; i++ {
		start := i * MaxChunkData
		end := min(start+MaxChunkData, total)
		h.ChunkIdx = uint32(i)
		h.ChunkDataSize = end - start
		packet := frame[start : HeaderSize+end]
		h.Put(packet)
		if _, err := w.Write(packet); err != nil {
			return fmt.Errorf("send dRPC %s: %w", h, err)
		}
	}
	return nil
}
