package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packetReader replays packets, one per Read, the way a SOCK_SEQPACKET
// socket delivers them: a packet larger than the read is cut to it, and an
// empty packet reads as end of file (as Go's net package reports it).
type packetReader struct {
	packets [][]byte
	next    int
	loop    bool  // start again after the last packet instead of EOF
	err     error // returned after the last packet instead of io.EOF
}

func (r *packetReader) Read(p []byte) (int, error) {
	pkt, err := r.nextPacket()
	if err != nil {
		return 0, err
	}
	return copy(p, pkt), nil
}

// nextPacket returns the next packet, or the error a read returns instead.
func (r *packetReader) nextPacket() ([]byte, error) {
	if r.next == len(r.packets) {
		if !r.loop || len(r.packets) == 0 {
			if r.err != nil {
				return nil, r.err
			}
			return nil, io.EOF
		}
		r.next = 0
	}
	pkt := r.packets[r.next]
	r.next++
	if len(pkt) == 0 {
		return nil, io.EOF
	}
	return pkt, nil
}

// vecPacketReader replays packets like packetReader, and through ReadVec
// the way readv on a SOCK_SEQPACKET socket does: a packet longer than p
// goes on into the overflow, and is cut to both. Like the connection's
// readers, it takes the overflow for each read and gives it back unless
// the packet went into it. It counts its reads by kind.
type vecPacketReader struct {
	*packetReader
	reads     int // calls of Read: a whole window of the Receiver's buffer
	copyReads int // calls of ReadVec with an empty p: into the overflow only
	vecReads  int // calls of ReadVec with p and the overflow
	spills    int // packets of vecReads that went on into the overflow
}

func (r *vecPacketReader) Read(p []byte) (int, error) {
	r.reads++
	return r.packetReader.Read(p)
}

func (r *vecPacketReader) ReadVec(p []byte, o *Overflow) (int, error) {
	if o == nil {
		return r.Read(p)
	}
	if len(p) == 0 {
		r.copyReads++
	} else {
		r.vecReads++
	}
	pkt, err := r.nextPacket()
	if err != nil {
		return 0, err
	}
	n := copy(p, pkt)
	n += copy(o.Take(), pkt[n:])
	switch {
	case n <= len(p):
		o.Release()
	case len(p) > 0:
		r.spills++
	}
	return n, nil
}

// readerKinds are the two ways a Receiver reads: whole windows from a plain
// io.Reader, and its own buffer plus the overflow from a VectorReader.
var readerKinds = []string{"plain", "vectored"}

// source returns the packets of pr as a reader of the kind.
func source(kind string, pr *packetReader) io.Reader {
	if kind == "vectored" {
		return &vecPacketReader{packetReader: pr}
	}
	return pr
}

// newTestReceiver returns a Receiver of the kind reading packets.
func newTestReceiver(kind string, packets [][]byte, limit int) *Receiver {
	return NewReceiver(source(kind, &packetReader{packets: packets}), limit)
}

// packet returns a packet with header h and data.
func packet(h Header, data []byte) []byte {
	p := make([]byte, HeaderSize, HeaderSize+len(data))
	h.Put(p)
	return append(p, data...)
}

// chunkOf returns the well-formed packet idx of a message of total bytes
// whose chunks are all full but the last, filled with fill.
func chunkOf(total uint64, idx uint32, fill byte) []byte {
	start := uint64(idx) * MaxChunkData
	n := min(MaxChunkData, total-start)
	return packet(Header{TotalDataSize: total, ChunkDataSize: n, ChunkIdx: idx, TotalChunks: uint32(ChunkCount(total))}, bytes.Repeat([]byte{fill}, int(n)))
}

func TestReceiverAccepts(t *testing.T) {
	const limit = 3*MaxChunkData + 17
	tests := []struct {
		name    string
		packets [][]byte
		want    []byte
	}{
		{"empty message, total_chunks 1", sendPackets(t, nil), []byte{}},
		{"empty message from a C peer, total_chunks 0", [][]byte{packet(Header{}, nil)}, []byte{}},
		{"one byte", sendPackets(t, []byte{42}), []byte{42}},
		{"one chunk", sendPackets(t, []byte("hello, dRPC")), []byte("hello, dRPC")},
		{"exactly one full chunk", sendPackets(t, testMessage(MaxChunkData)), testMessage(MaxChunkData)},
		{"one byte more than a chunk", sendPackets(t, testMessage(MaxChunkData+1)), testMessage(MaxChunkData + 1)},
		{"exactly two full chunks", sendPackets(t, testMessage(2*MaxChunkData)), testMessage(2 * MaxChunkData)},
		{"many chunks", sendPackets(t, testMessage(3*MaxChunkData+5)), testMessage(3*MaxChunkData + 5)},
		{"exactly the size limit", sendPackets(t, testMessage(limit)), testMessage(limit)},
		{"short first chunk", [][]byte{
			packet(Header{TotalDataSize: MaxChunkData + 10, ChunkDataSize: 10, TotalChunks: 2}, testMessage(10)),
			packet(Header{TotalDataSize: MaxChunkData + 10, ChunkDataSize: MaxChunkData, ChunkIdx: 1, TotalChunks: 2}, testMessage(MaxChunkData)),
		}, append(testMessage(10), testMessage(MaxChunkData)...)},
	}
	for _, kind := range readerKinds {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				r := newTestReceiver(kind, tc.packets, limit)
				msg, err := r.ReadMessage()
				require.NoError(t, err)
				require.Len(t, msg, len(tc.want))
				assert.True(t, bytes.Equal(tc.want, msg), "message differs")
				_, err = r.ReadMessage()
				assert.Equal(t, io.EOF, err, "one message, then a clean end")
			})
		}
	}
}

func TestReceiverOverSocket(t *testing.T) {
	a, b := socketpair(t)
	r := NewReceiver(b, 0)
	// A big message first, then smaller ones that reuse its buffer.
	msgs := [][]byte{testMessage(5*MaxChunkData + 3), testMessage(MaxChunkData), nil, []byte("x"), testMessage(2*MaxChunkData + 1)}
	go func() {
		for _, m := range msgs {
			if err := NewSender(a).Send(nil, m); err != nil {
				return
			}
		}
		// A C peer's empty message, then end of file.
		_, _ = a.Write(packet(Header{}, nil))
		_ = a.CloseWrite()
	}()
	for i, want := range msgs {
		msg, err := r.ReadMessage()
		require.NoError(t, err, "message %d", i)
		require.Len(t, msg, len(want), "message %d", i)
		assert.True(t, bytes.Equal(want, msg), "message %d differs", i)
	}
	msg, err := r.ReadMessage()
	require.NoError(t, err)
	assert.Empty(t, msg)
	_, err = r.ReadMessage()
	assert.Equal(t, io.EOF, err)
}

func TestReceiverRejects(t *testing.T) {
	const two = MaxChunkData + 100 // a message of two chunks
	first := chunkOf(two, 0, 1)
	h2 := Header{TotalDataSize: two, ChunkDataSize: 100, ChunkIdx: 1, TotalChunks: 2}
	tests := []struct {
		name    string
		packets [][]byte
		want    string // in the error message
	}{
		{"short packet", [][]byte{make([]byte, 10)}, "packet of 10 bytes is shorter than the 24-byte chunk header"},
		{"short second packet", [][]byte{first, make([]byte, HeaderSize-1)}, "packet of 23 bytes is shorter"},
		{"total_chunks 0 on a non-empty message", [][]byte{packet(Header{TotalDataSize: 5, ChunkDataSize: 5}, []byte("hello"))}, "total_chunks is 0 on a message of 5 bytes"},
		{"total_chunks 0 with data on an empty message", [][]byte{packet(Header{ChunkDataSize: 3}, []byte("abc"))}, "total_chunks is 0"},
		{"total_chunks 0 with trailing bytes", [][]byte{append(packet(Header{}, nil), 1, 2)}, "total_chunks is 0"},
		{"wrong total_chunks for the size", [][]byte{packet(Header{TotalDataSize: 10, ChunkDataSize: 10, TotalChunks: 2}, make([]byte, 10))}, "total_chunks is 2, but a message of 10 bytes takes 1"},
		{"too few total_chunks", [][]byte{packet(Header{TotalDataSize: two, ChunkDataSize: MaxChunkData, TotalChunks: 1}, make([]byte, MaxChunkData))}, "total_chunks is 1, but a message of 131148 bytes takes 2"},
		{"chunk_data_size above the chunk limit", [][]byte{packet(Header{TotalDataSize: two, ChunkDataSize: MaxChunkData + 1, TotalChunks: 2}, make([]byte, MaxChunkData+1))}, "chunk_data_size 131049 is above the 131048-byte chunk limit"},
		{"chunk beyond the message", [][]byte{packet(Header{TotalDataSize: 10, ChunkDataSize: 11, TotalChunks: 1}, make([]byte, 11))}, "chunk 0 carries 11 bytes but only 10 of the message remain"},
		{"second chunk beyond the message", [][]byte{first, packet(Header{TotalDataSize: two, ChunkDataSize: 101, ChunkIdx: 1, TotalChunks: 2}, make([]byte, 101))}, "chunk 1 carries 101 bytes but only 100 of the message remain"},
		{"total_data_size changes", [][]byte{first, packet(Header{TotalDataSize: two + 1, ChunkDataSize: 100, ChunkIdx: 1, TotalChunks: 2}, make([]byte, 100))}, "total_data_size changed from 131148 to 131149 at chunk 1"},
		{"total_chunks changes", [][]byte{first, packet(Header{TotalDataSize: two, ChunkDataSize: 100, ChunkIdx: 1, TotalChunks: 3}, make([]byte, 100))}, "total_chunks changed from 2 to 3 at chunk 1"},
		{"first chunk_idx not 0", [][]byte{packet(Header{TotalDataSize: 5, ChunkDataSize: 5, ChunkIdx: 1, TotalChunks: 1}, make([]byte, 5))}, "chunk_idx 1 arrived where chunk 0 was due"},
		{"chunk repeated", [][]byte{first, first}, "chunk_idx 0 arrived where chunk 1 was due"},
		{"chunk skipped", [][]byte{chunkOf(3*MaxChunkData, 0, 1), chunkOf(3*MaxChunkData, 2, 3)}, "chunk_idx 2 arrived where chunk 1 was due"},
		{"packet shorter than chunk_data_size", [][]byte{packet(Header{TotalDataSize: 5, ChunkDataSize: 5, TotalChunks: 1}, make([]byte, 4))}, "packet of 28 bytes does not hold the header plus chunk_data_size 5"},
		{"packet longer than chunk_data_size", [][]byte{packet(Header{TotalDataSize: 5, ChunkDataSize: 5, TotalChunks: 1}, make([]byte, 6))}, "packet of 30 bytes does not hold the header plus chunk_data_size 5"},
		{"second packet longer than chunk_data_size", [][]byte{first, append(packet(h2, make([]byte, 100)), 0)}, "packet of 125 bytes does not hold the header plus chunk_data_size 100"},
		{"second packet far longer than what remains", [][]byte{
			chunkOf(MaxChunkData+5, 0, 1),
			packet(Header{TotalDataSize: MaxChunkData + 5, ChunkDataSize: 5, ChunkIdx: 1, TotalChunks: 2}, make([]byte, 100)),
		}, "packet of 124 bytes does not hold the header plus chunk_data_size 5"},
		{"packet above 131072 bytes", [][]byte{append(chunkOf(two, 0, 1), 0)}, "packet of more than 131072 bytes"},
		{"second packet above 131072 bytes", [][]byte{chunkOf(3*MaxChunkData, 0, 1), append(chunkOf(3*MaxChunkData, 1, 2), make([]byte, 1000)...)}, "packet of more than 131072 bytes"},
		{"message ends short", [][]byte{
			packet(Header{TotalDataSize: two, ChunkDataSize: 10, TotalChunks: 2}, make([]byte, 10)),
			packet(h2, make([]byte, 100)),
		}, "message ends after chunk 1 of 2 with 110 of 131148 bytes"},
	}
	for _, kind := range readerKinds {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				r := newTestReceiver(kind, tc.packets, 0)
				msg, err := r.ReadMessage()
				require.Error(t, err)
				assert.Nil(t, msg)
				assert.ErrorIs(t, err, ErrMalformedPacket)
				assert.Contains(t, err.Error(), tc.want)
				assert.False(t, r.over.Held(), "the overflow goes back on every path")
			})
		}
	}
}

// TestReceiverRejectsOversizePacketOnSocket sends a packet larger than the
// protocol allows over a real socket, which cuts it to the receiver's read.
func TestReceiverRejectsOversizePacketOnSocket(t *testing.T) {
	a, b := socketpair(t)
	p := append(chunkOf(2*MaxChunkData, 0, 1), make([]byte, 5000)...)
	go func() { _, _ = a.Write(p) }()
	_, err := NewReceiver(b, 0).ReadMessage()
	require.ErrorIs(t, err, ErrMalformedPacket)
	assert.Contains(t, err.Error(), "packet of more than 131072 bytes")
}

func TestReceiverMessageTooLarge(t *testing.T) {
	// A well-formed message above the limit is read and dropped packet by
	// packet: the receiver reports it, keeps no more memory than for a
	// small message, and the next message reads normally.
	tests := []struct {
		name  string
		limit int
		total int
	}{
		{"one byte over a small limit, one chunk", 1000, 1001},
		{"several chunks over a small limit", 1000, 3*MaxChunkData + 5},
		{"one byte over a one-chunk limit", MaxChunkData, MaxChunkData + 1},
		{"one byte over the default limit", 0, DefaultMaxMessageSize + 1},
	}
	for _, kind := range readerKinds {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				testReceiverMessageTooLarge(t, kind, tc.limit, tc.total)
			})
		}
	}
	t.Run("vectored/first message of a connection", func(t *testing.T) {
		// Nothing at all is allocated for a message above the limit, not
		// even the buffer a small one would get.
		packets := append(sendPackets(t, testMessage(3*MaxChunkData)), sendPackets(t, []byte("after"))...)
		r := newTestReceiver("vectored", packets, 1000)
		_, err := r.ReadMessage()
		require.ErrorIs(t, err, ErrMessageTooLarge)
		assert.Zero(t, cap(r.buf))
		msg, err := r.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, "after", string(msg))
	})
}

// testReceiverMessageTooLarge checks that a well-formed message of total
// bytes above limit is read and dropped packet by packet: the receiver
// reports it, keeps no more memory than for a small message, and the next
// message reads normally.
func testReceiverMessageTooLarge(t *testing.T, kind string, limit, total int) {
	t.Helper()
	small := sendPackets(t, []byte("warm-up"))
	big := sendPackets(t, testMessage(total))
	after := sendPackets(t, []byte("after"))
	packets := append(append(append([][]byte{}, small...), big...), after...)
	src := &packetReader{packets: packets}
	r := NewReceiver(source(kind, src), limit)
	_, err := r.ReadMessage()
	require.NoError(t, err)
	capBefore := cap(r.buf)

	msg, err := r.ReadMessage()
	require.ErrorIs(t, err, ErrMessageTooLarge)
	assert.NotErrorIs(t, err, ErrMalformedPacket)
	assert.Nil(t, msg)
	var tl *DroppedError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, uint64(total), tl.Size)
	assert.Equal(t, testMessage(total)[:HeadSize], tl.Head, "the head of the dropped message is kept")
	assert.Contains(t, err.Error(), "above the limit")
	assert.Equal(t, capBefore, cap(r.buf), "the receiver must not buffer a message above the limit")

	msg, err = r.ReadMessage()
	require.NoError(t, err, "the connection is still in step")
	assert.Equal(t, "after", string(msg))

	// Dropping allocates nothing beyond the error itself.
	var before, afterStats runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 5
	for range runs {
		src.next = len(small)
		_, err = r.ReadMessage()
		require.ErrorIs(t, err, ErrMessageTooLarge)
	}
	runtime.ReadMemStats(&afterStats)
	perRun := (afterStats.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perRun, uint64(4096), "bytes allocated to drop an oversize message")
	assert.Equal(t, capBefore, cap(r.buf))
	assert.False(t, r.over.Held())
}

func TestReceiverMessageTooLargeMalformed(t *testing.T) {
	// A message above the limit whose packets break the rules is malformed:
	// the connection must be closed, nothing is allocated for it.
	total := uint64(2*MaxChunkData + 1)
	tests := []struct {
		name    string
		limit   int
		packets [][]byte
	}{
		{"chunk count does not fit the size", 1000, [][]byte{packet(Header{TotalDataSize: 1 << 62, ChunkDataSize: 10, TotalChunks: 7}, make([]byte, 10))}},
		{"all ones", 0, [][]byte{packet(Header{TotalDataSize: ^uint64(0), ChunkDataSize: 10, TotalChunks: ^uint32(0)}, make([]byte, 10))}},
		{"first chunk shorter than its header says", 1000, [][]byte{packet(Header{TotalDataSize: 1001, ChunkDataSize: 1001, TotalChunks: 1}, make([]byte, 10))}},
		{"message ends short", 1000, [][]byte{packet(Header{TotalDataSize: 1001, ChunkDataSize: 10, TotalChunks: 1}, make([]byte, 10))}},
		{"second chunk out of order", 1000, [][]byte{chunkOf(total, 0, 1), chunkOf(total, 2, 1)}},
		{"second chunk of another size", 1000, [][]byte{chunkOf(total, 0, 1), chunkOf(total+1, 1, 1)}},
	}
	for _, kind := range readerKinds {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				r := newTestReceiver(kind, tc.packets, tc.limit)
				_, err := r.ReadMessage()
				require.ErrorIs(t, err, ErrMalformedPacket)
				var tl *DroppedError
				assert.False(t, errors.As(err, &tl))
				assert.False(t, r.over.Held())
			})
		}
		t.Run(kind+"/peer closes while its message is dropped", func(t *testing.T) {
			r := newTestReceiver(kind, [][]byte{chunkOf(total, 0, 1)}, 1000)
			_, err := r.ReadMessage()
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		})
	}
}

func TestReceiverSizeLimitBoundary(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) {
			// A message of exactly the limit passes the size check.
			r := newTestReceiver(kind, [][]byte{chunkOf(1000, 0, 1)}, 1000)
			msg, err := r.ReadMessage()
			require.NoError(t, err)
			assert.Len(t, msg, 1000)

			// So does one of exactly the default limit: the receiver goes
			// on to wait for its second chunk and finds the end of the
			// input instead.
			r = newTestReceiver(kind, [][]byte{chunkOf(DefaultMaxMessageSize, 0, 1)}, 0)
			_, err = r.ReadMessage()
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.NotErrorIs(t, err, ErrMessageTooLarge)
		})
	}
}

func TestReceiverEOF(t *testing.T) {
	t.Run("between messages", func(t *testing.T) {
		r := NewReceiver(&packetReader{packets: sendPackets(t, []byte("one"))}, 0)
		_, err := r.ReadMessage()
		require.NoError(t, err)
		_, err = r.ReadMessage()
		assert.Equal(t, io.EOF, err, "a clean end is io.EOF itself")
	})
	t.Run("before any message", func(t *testing.T) {
		_, err := NewReceiver(&packetReader{}, 0).ReadMessage()
		assert.Equal(t, io.EOF, err)
	})
	t.Run("mid-message", func(t *testing.T) {
		packets := sendPackets(t, testMessage(3*MaxChunkData))
		for _, kind := range readerKinds {
			for keep := 1; keep < len(packets); keep++ {
				_, err := newTestReceiver(kind, packets[:keep], 0).ReadMessage()
				require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s, after %d of 3 chunks", kind, keep)
				assert.NotEqual(t, io.EOF, err)
				assert.Contains(t, err.Error(), "connection closed after")
			}
		}
	})
	t.Run("mid-message on a socket", func(t *testing.T) {
		a, b := socketpair(t)
		packets := sendPackets(t, testMessage(3*MaxChunkData))
		go func() {
			_, _ = a.Write(packets[0])
			_ = a.Close()
		}()
		_, err := NewReceiver(b, 0).ReadMessage()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("other read errors", func(t *testing.T) {
		boom := errors.New("boom")
		for _, kind := range readerKinds {
			_, err := NewReceiver(source(kind, &packetReader{err: boom}), 0).ReadMessage()
			assert.ErrorIs(t, err, boom)
			packets := sendPackets(t, testMessage(2*MaxChunkData))
			_, err = NewReceiver(source(kind, &packetReader{packets: packets[:1], err: boom}), 0).ReadMessage()
			assert.ErrorIs(t, err, boom)
		}
	})
}

func TestReceiverReusesBuffer(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) {
			src := &packetReader{packets: sendPackets(t, testMessage(64)), loop: true}
			r := NewReceiver(source(kind, src), 0)
			_, err := r.ReadMessage() // warm-up: allocates the buffer
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() {
				msg, err := r.ReadMessage()
				if err != nil || len(msg) != 64 {
					t.Fatalf("ReadMessage: %d bytes, %v", len(msg), err)
				}
			})
			assert.Zero(t, allocs, "reading a small message must not allocate")
		})
	}
}

func TestReceiverDropsHugeBuffer(t *testing.T) {
	big := testMessage(5 << 20)
	packets := append(sendPackets(t, big), sendPackets(t, []byte("small"))...)
	for _, kind := range readerKinds {
		t.Run(kind, func(t *testing.T) {
			r := newTestReceiver(kind, packets, 0)
			msg, err := r.ReadMessage()
			require.NoError(t, err)
			require.True(t, bytes.Equal(big, msg))
			assert.Greater(t, cap(r.buf), keepBufferSize)

			msg, err = r.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, "small", string(msg))
			assert.LessOrEqual(t, cap(r.buf), keepBufferSize, "a buffer grown for a rare big message is not kept")
		})
	}
}

// encodeFuzzPackets is the inverse of decodeFuzzPackets for raw packets: it
// turns packets into a FuzzReceiver input.
func encodeFuzzPackets(packets ...[]byte) []byte {
	var in []byte
	for _, p := range packets {
		in = append(in, 0)
		in = binary.LittleEndian.AppendUint32(in, uint32(len(p)))
		in = append(in, p...)
	}
	return in
}

// maxFuzzPackets bounds the packets of one fuzz input, and with them the
// memory synthesized packets take: enough for several messages of several
// chunks.
const maxFuzzPackets = 16

// decodeFuzzPackets splits a fuzz input into at most maxFuzzPackets
// packets. Each record starts with a kind byte:
//   - even: a raw packet, a 4-byte little-endian length and that many bytes
//     (fewer if the input ends);
//   - odd: a synthesized packet, a 24-byte header taken from the input
//     (zero-padded if it ends) followed by a 3-byte little-endian length
//     (modulo MaxPacketSize+64) of filler, so that small inputs can reach
//     full-size chunks and oversize packets.
func decodeFuzzPackets(in []byte) [][]byte {
	var packets [][]byte
	take := func(n int) []byte {
		n = min(n, len(in))
		b := in[:n]
		in = in[n:]
		return b
	}
	for len(in) > 0 && len(packets) < maxFuzzPackets {
		kind := take(1)[0]
		if kind%2 == 0 {
			var n [4]byte
			copy(n[:], take(4))
			packets = append(packets, bytes.Clone(take(int(binary.LittleEndian.Uint32(n[:])))))
			continue
		}
		var n [4]byte
		hdr := take(HeaderSize)
		copy(n[:], take(3))
		fill := int(binary.LittleEndian.Uint32(n[:])) % (MaxPacketSize + 64)
		p := make([]byte, HeaderSize+fill)
		copy(p, hdr)
		for i := range fill {
			p[HeaderSize+i] = byte(i*7 + len(packets))
		}
		packets = append(packets, p)
	}
	return packets
}

func TestDecodeFuzzPackets(t *testing.T) {
	// The seed corpus is written in the raw-packet form.
	packets := [][]byte{{}, []byte("short"), packet(Header{}, nil), testMessage(MaxPacketSize + 5)}
	assert.Equal(t, packets, decodeFuzzPackets(encodeFuzzPackets(packets...)))

	// A synthesized packet: a header from the input and filler.
	h := Header{TotalDataSize: 300, ChunkDataSize: 300, TotalChunks: 1}
	in := []byte{1}
	in = append(in, packet(h, nil)...)
	in = append(in, 44, 1, 0) // 300 bytes of filler
	got := decodeFuzzPackets(in)
	require.Len(t, got, 1)
	require.Len(t, got[0], HeaderSize+300)
	parsed, err := ParseHeader(got[0])
	require.NoError(t, err)
	assert.Equal(t, h, parsed)
}

// FuzzReceiver feeds arbitrary packet sequences to a Receiver. It must never
// panic; every message it returns must have the announced length and be
// the packets' chunks put together; and the packets Send and Sender make of
// any bytes must come back as those bytes.
// errorKind classifies an error of ReadMessage.
func errorKind(err error) string {
	for _, e := range []error{ErrMalformedPacket, ErrMessageTooLarge, ErrOverBudget, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return fmt.Sprint(err)
}

func FuzzReceiver(f *testing.F) {
	const limit = 4*MaxChunkData + 1000
	f.Fuzz(func(t *testing.T, in []byte) {
		packets := decodeFuzzPackets(in)
		src := &packetReader{packets: packets}
		r := NewReceiver(src, limit)
		// The same packets through a VectorReader must give the same
		// messages and errors, whatever the size of its buffer.
		vsrc := &vecPacketReader{packetReader: &packetReader{packets: packets}}
		vr := NewReceiver(vsrc, limit)
		for {
			start := src.next
			msg, err := r.ReadMessage()
			vmsg, verr := vr.ReadMessage()
			require.Equal(t, fmt.Sprint(err), fmt.Sprint(verr), "a vectored read ends otherwise")
			require.True(t, bytes.Equal(msg, vmsg), "a vectored read gives another message")
			require.Equal(t, src.next, vsrc.next, "a vectored read takes other packets")
			require.False(t, vr.over.Held(), "the overflow goes back after every message")
			if err != nil {
				require.Nil(t, msg)
				if err != io.EOF {
					ok := errors.Is(err, ErrMalformedPacket) || errors.Is(err, ErrMessageTooLarge) || errors.Is(err, io.ErrUnexpectedEOF)
					require.True(t, ok, "unexpected kind of error: %v", err)
				}
				break
			}
			first, herr := ParseHeader(packets[start])
			require.NoError(t, herr, "a message was read from a packet without a header")
			require.Equal(t, first.TotalDataSize, uint64(len(msg)), "message length differs from total_data_size")
			require.LessOrEqual(t, len(msg), limit)
			var want []byte
			for _, p := range packets[start:src.next] {
				want = append(want, p[HeaderSize:]...)
			}
			require.True(t, bytes.Equal(want, msg), "message is not its chunks put together")
		}

		// Send's packets always round-trip: the input itself, and a message
		// whose size the input picks, up to several chunks.
		msgs := [][]byte{in}
		if len(in) >= 3 {
			size := int(in[0]) | int(in[1])<<8 | int(in[2])<<16
			size %= 3*MaxChunkData + 2
			big := make([]byte, size)
			for i := range big {
				big[i] = in[i%len(in)] + byte(i/MaxChunkData)
			}
			msgs = append(msgs, big)
		}
		var w packetRecorder
		s := NewSender(&w)
		for _, m := range msgs {
			require.NoError(t, NewSender(&w).Send(nil, m))
			split := len(m) / 3 // the Sender takes a head and a body
			require.NoError(t, s.Send(m[:split], m[split:]))
		}
		for _, kind := range readerKinds {
			r = newTestReceiver(kind, w.packets, 0)
			for i, m := range msgs {
				for _, by := range []string{"Send", "Sender"} {
					got, err := r.ReadMessage()
					require.NoError(t, err, "message %d by %s, %s read", i, by, kind)
					require.True(t, bytes.Equal(m, got), "message %d of %d bytes by %s does not round-trip, %s read", i, len(m), by, kind)
				}
			}
			_, err := r.ReadMessage()
			require.Equal(t, io.EOF, err)
		}

		// Under a budget the input picks, a vectored receiver never holds
		// more than the budget, holds exactly its buffer, reads what fits
		// as without a budget, and stays in step over what does not.
		budget := minBufferSize
		if len(in) > 0 {
			budget += int(in[len(in)-1]) * 2048
		}
		acct := &account{limit: budget}
		br := newTestReceiver("vectored", packets, limit)
		br.Allowance = acct
		ref := newTestReceiver("vectored", packets, limit)
		for {
			msg, err := br.ReadMessage()
			want, werr := ref.ReadMessage()
			require.LessOrEqual(t, acct.peak, budget)
			require.Equal(t, cap(br.buf), acct.held)
			if errors.Is(err, ErrOverBudget) {
				require.NoError(t, werr, "a message dropped for the budget is well formed")
				continue
			}
			require.Equal(t, errorKind(werr), errorKind(err), "%v / %v", werr, err)
			require.True(t, bytes.Equal(want, msg))
			if err != nil {
				break
			}
		}
		br.Release()
		require.Zero(t, acct.held)
	})
}
