package wire

import (
	"encoding/binary"
	"fmt"
)

// Sizes fixed by the dRPC wire protocol.
const (
	// HeaderSize is the size of the chunk header that starts every packet.
	HeaderSize = 24
	// MaxPacketSize is the largest packet a peer sends or accepts.
	MaxPacketSize = 1 << 17
	// MaxChunkData is the largest number of message bytes in one packet.
	MaxChunkData = MaxPacketSize - HeaderSize
	// DefaultMaxMessageSize bounds a message's total_data_size unless the
	// caller chooses another limit.
	DefaultMaxMessageSize = 64 << 20
)

// Header is the chunk header at the start of every packet.
type Header struct {
	TotalDataSize uint64 // length of the whole marshalled message
	ChunkDataSize uint64 // data bytes in this packet
	ChunkIdx      uint32 // 0-based index of this packet
	TotalChunks   uint32 // packets in the message
}

// Put writes h into b[:HeaderSize] in native byte order.
func (h Header) Put(b []byte) {
	_ = b[HeaderSize-1]
	binary.NativeEndian.PutUint64(b[0:8], h.TotalDataSize)
	binary.NativeEndian.PutUint64(b[8:16], h.ChunkDataSize)
	binary.NativeEndian.PutUint32(b[16:20], h.ChunkIdx)
	binary.NativeEndian.PutUint32(b[20:24], h.TotalChunks)
}

// ParseHeader reads the header at the start of packet.
func ParseHeader(packet []byte) (Header, error) {
	if len(packet) < HeaderSize {
		return Header{}, malformed("packet of %d bytes is shorter than the %d-byte chunk header", len(packet), HeaderSize)
	}
	return Header{
		TotalDataSize: binary.NativeEndian.Uint64(packet[0:8]),
		ChunkDataSize: binary.NativeEndian.Uint64(packet[8:16]),
		ChunkIdx:      binary.NativeEndian.Uint32(packet[16:20]),
		TotalChunks:   binary.NativeEndian.Uint32(packet[20:24]),
	}, nil
}

// String formats h for error messages and logs.
func (h Header) String() string {
	return fmt.Sprintf("chunk %d of %d, %d of %d bytes", h.ChunkIdx, h.TotalChunks, h.ChunkDataSize, h.TotalDataSize)
}

// ChunkCount is the number of packets that carry a message of size bytes:
// ceil(size / MaxChunkData), and 1 for an empty message.
func ChunkCount(size uint64) uint64 {
	if size == 0 {
		return 1
	}
	return (size-1)/MaxChunkData + 1 // cannot overflow, unlike size+MaxChunkData-1
}
