package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSizes(t *testing.T) {
	// Fixed by the DAOS C struct and its 1 << 17 packet limit.
	assert.Equal(t, 24, HeaderSize)
	assert.Equal(t, 131072, MaxPacketSize)
	assert.Equal(t, 131048, MaxChunkData)
}

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
	}{
		{"zero", Header{}},
		{"empty message, Go style", Header{TotalChunks: 1}},
		{"small", Header{TotalDataSize: 5, ChunkDataSize: 5, TotalChunks: 1}},
		{"middle chunk", Header{TotalDataSize: 3 << 20, ChunkDataSize: MaxChunkData, ChunkIdx: 7, TotalChunks: 25}},
		{"every byte set", Header{TotalDataSize: 0x0102030405060708, ChunkDataSize: 0x1112131415161718, ChunkIdx: 0x21222324, TotalChunks: 0x31323334}},
		{"all ones", Header{TotalDataSize: math.MaxUint64, ChunkDataSize: math.MaxUint64, ChunkIdx: math.MaxUint32, TotalChunks: math.MaxUint32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, HeaderSize+3)
			tc.h.Put(b)
			got, err := ParseHeader(b)
			require.NoError(t, err)
			assert.Equal(t, tc.h, got)
			assert.Equal(t, []byte{0, 0, 0}, b[HeaderSize:], "Put writes only the header")

			// The layout of the C struct, in native byte order.
			assert.Equal(t, tc.h.TotalDataSize, binary.NativeEndian.Uint64(b[0:8]))
			assert.Equal(t, tc.h.ChunkDataSize, binary.NativeEndian.Uint64(b[8:16]))
			assert.Equal(t, tc.h.ChunkIdx, binary.NativeEndian.Uint32(b[16:20]))
			assert.Equal(t, tc.h.TotalChunks, binary.NativeEndian.Uint32(b[20:24]))
		})
	}
}

// TestHeaderBytes pins the exact bytes on the little-endian machines DAOS
// runs on (x86-64, arm64).
func TestHeaderBytes(t *testing.T) {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] != 1 {
		t.Skip("big-endian host: the header is in native byte order, checked by TestHeaderRoundTrip")
	}
	h := Header{TotalDataSize: 0x0102030405060708, ChunkDataSize: 0x1112131415161718, ChunkIdx: 0x21222324, TotalChunks: 0x31323334}
	b := make([]byte, HeaderSize)
	h.Put(b)
	assert.Equal(t, []byte{
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
		0x24, 0x23, 0x22, 0x21,
		0x34, 0x33, 0x32, 0x31,
	}, b)
}

func TestParseHeaderShort(t *testing.T) {
	for n := 0; n < HeaderSize; n++ {
		_, err := ParseHeader(make([]byte, n))
		require.Error(t, err, "%d bytes", n)
		assert.True(t, errors.Is(err, ErrMalformedPacket), "%d bytes: %v", n, err)
		assert.Contains(t, err.Error(), "shorter than the 24-byte chunk header")
	}
	_, err := ParseHeader(make([]byte, HeaderSize))
	assert.NoError(t, err)
}

func TestHeaderPutShortBuffer(t *testing.T) {
	assert.Panics(t, func() { Header{}.Put(make([]byte, HeaderSize-1)) })
}

func TestHeaderString(t *testing.T) {
	h := Header{TotalDataSize: 300000, ChunkDataSize: MaxChunkData, ChunkIdx: 1, TotalChunks: 3}
	assert.Equal(t, "chunk 1 of 3, 131048 of 300000 bytes", h.String())
}

func TestChunkCount(t *testing.T) {
	tests := []struct {
		size uint64
		want uint64
	}{
		{0, 1},
		{1, 1},
		{MaxChunkData - 1, 1},
		{MaxChunkData, 1},
		{MaxChunkData + 1, 2},
		{2 * MaxChunkData, 2},
		{2*MaxChunkData + 1, 3},
		{DefaultMaxMessageSize, 513}, // 64 MiB / 131048 = 512.08
		{math.MaxUint64, (math.MaxUint64-1)/MaxChunkData + 1},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ChunkCount(tc.size), "size %d", tc.size)
	}
}
