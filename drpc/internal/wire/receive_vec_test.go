package wire

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vecReceiver returns a Receiver reading msgs, in order, through a
// vecPacketReader, and the reader.
func vecReceiver(t *testing.T, msgs ...[]byte) (*Receiver, *vecPacketReader) {
	t.Helper()
	var packets [][]byte
	for _, m := range msgs {
		packets = append(packets, sendPackets(t, m)...)
	}
	src := &vecPacketReader{packetReader: &packetReader{packets: packets}}
	return NewReceiver(src, 0), src
}

func TestVectoredReceiverMessages(t *testing.T) {
	// Each message on a fresh Receiver, and all of them in turn on one, so
	// that every size also arrives into a buffer grown for the others.
	sizes := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"64 B", 64},
		{"4 KiB", 4 << 10},
		{"one full chunk", MaxChunkData},
		{"128 KiB, two chunks", 128 << 10},
		{"one byte more than a chunk", MaxChunkData + 1},
		{"three chunks", 2*MaxChunkData + 10},
		{"5 MiB, a buffer not kept", 5 << 20},
	}
	var all [][]byte
	for _, s := range sizes {
		msg := testMessage(s.size)
		all = append(all, msg, []byte("small after"))
		t.Run(s.name, func(t *testing.T) {
			r, _ := vecReceiver(t, msg)
			got, err := r.ReadMessage()
			require.NoError(t, err)
			require.Len(t, got, len(msg))
			assert.True(t, bytes.Equal(msg, got), "message differs")
			if s.size > MaxChunkData {
				// Its size, rounded up to the allocator's size class, and
				// not a window more for the read of its last chunk.
				assert.GreaterOrEqual(t, len(r.buf), HeaderSize+s.size)
				assert.Less(t, len(r.buf), HeaderSize+s.size+8<<10, "a message of several chunks gets a buffer of its size")
			}
			_, err = r.ReadMessage()
			assert.Equal(t, io.EOF, err)
			assert.False(t, r.over.Held())
		})
	}
	t.Run("in turn", func(t *testing.T) {
		r, _ := vecReceiver(t, all...)
		for i, want := range all {
			got, err := r.ReadMessage()
			require.NoError(t, err, "message %d", i)
			require.True(t, bytes.Equal(want, got), "message %d of %d bytes differs", i, len(want))
			assert.False(t, r.over.Held())
		}
		_, err := r.ReadMessage()
		assert.Equal(t, io.EOF, err)
	})
}

// How a Receiver read the first packet of a message from a
// vecPacketReader.
const (
	byCopy   = "copy"   // into the overflow alone, then copied into the buffer
	byVector = "vector" // into the buffer and on into the overflow (readv)
	direct   = "direct" // into the buffer, which has room for a whole window
)

func TestVectoredReceiverBufferFollowsMessages(t *testing.T) {
	// Steps of one connection, each a message and what the buffer must be
	// after it: small as long as the messages are, grown when one does not
	// fit, kept up to keepBufferSize. A small buffer takes a copy of each
	// packet; a larger one reads it in place.
	steps := []struct {
		name    string
		size    int
		read    string // how the first packet is read
		grows   bool   // the buffer is replaced
		spills  bool   // a vectored read spills into the overflow
		minCap  int
		maxCap  int
		repeats int // the message is sent this many times (default 1)
	}{
		{name: "first message: no buffer yet", size: 64, read: byCopy, grows: true, minCap: minBufferSize, maxCap: minBufferSize},
		{name: "many small messages stay in it", size: 64, read: byCopy, minCap: minBufferSize, maxCap: minBufferSize, repeats: 1000},
		{name: "a message that fills it", size: minBufferSize - HeaderSize, read: byCopy, minCap: minBufferSize, maxCap: minBufferSize},
		{name: "one byte more doubles it", size: minBufferSize - HeaderSize + 1, read: byCopy, grows: true, minCap: 2 * minBufferSize, maxCap: 2 * minBufferSize},
		{name: "4 KiB grows it to its size", size: 4 << 10, read: byCopy, grows: true, minCap: HeaderSize + 4<<10, maxCap: 5 << 10},
		{name: "4 KiB again fits", size: 4 << 10, read: byCopy, minCap: HeaderSize + 4<<10, maxCap: 5 << 10},
		{name: "small again keeps the buffer", size: 10, read: byCopy, minCap: HeaderSize + 4<<10, maxCap: 5 << 10},
		{name: "9 KiB grows it past copyLimit", size: 9 << 10, read: byCopy, grows: true, minCap: 2 * (HeaderSize + 4<<10), maxCap: 11 << 10},
		{name: "9 KiB again, in place", size: 9 << 10, read: byVector, minCap: 2 * (HeaderSize + 4<<10), maxCap: 11 << 10},
		{name: "small, in place", size: 64, read: byVector, minCap: 2 * (HeaderSize + 4<<10), maxCap: 11 << 10},
		{name: "a full chunk spills", size: MaxChunkData, read: byVector, grows: true, spills: true, minCap: MaxPacketSize, maxCap: MaxPacketSize},
		{name: "two chunks: the whole message at once", size: MaxChunkData + 1, read: byVector, grows: true, minCap: HeaderSize + MaxChunkData + 1, maxCap: HeaderSize + MaxChunkData + 1 + 8<<10},
		{name: "1 MiB", size: 1 << 20, read: direct, grows: true, minCap: HeaderSize + 1<<20, maxCap: HeaderSize + 1<<20 + 8<<10},
		{name: "small after a big one keeps it", size: 64, read: direct, minCap: HeaderSize + 1<<20, maxCap: HeaderSize + 1<<20 + 8<<10},
		{name: "5 MiB", size: 5 << 20, read: direct, grows: true, minCap: HeaderSize + 5<<20, maxCap: HeaderSize + 5<<20 + 8<<10},
		{name: "the 5 MiB buffer is dropped", size: 64, read: byCopy, grows: true, minCap: minBufferSize, maxCap: minBufferSize},
	}
	var msgs [][]byte
	for _, s := range steps {
		for range max(s.repeats, 1) {
			msgs = append(msgs, testMessage(s.size))
		}
	}
	r, src := vecReceiver(t, msgs...)
	for _, s := range steps {
		before := *src
		buf := r.buf
		repeats := max(s.repeats, 1)
		for i := range repeats {
			got, err := r.ReadMessage()
			require.NoError(t, err, "%s: message %d", s.name, i)
			require.True(t, bytes.Equal(testMessage(s.size), got), "%s: message %d differs", s.name, i)
		}
		copies, vectors, reads := src.copyReads-before.copyReads, src.vecReads-before.vecReads, src.reads-before.reads
		switch s.read {
		case byCopy:
			assert.Equal(t, repeats, copies, "%s: reads into the overflow", s.name)
		case byVector:
			assert.Zero(t, copies, s.name)
			assert.GreaterOrEqual(t, vectors, repeats, s.name)
		case direct:
			assert.Zero(t, copies, s.name)
			assert.GreaterOrEqual(t, reads, repeats, s.name)
			// The last chunk of a message may be read with the overflow:
			// the buffer has room for the message, not a window more.
			assert.LessOrEqual(t, vectors, repeats, s.name)
		}
		assert.Equal(t, s.spills, src.spills > before.spills, "%s: spilled", s.name)
		assert.Equal(t, s.grows, cap(buf) == 0 || &buf[:1][0] != &r.buf[:1][0], "%s: grew", s.name)
		assert.GreaterOrEqual(t, cap(r.buf), s.minCap, s.name)
		assert.LessOrEqual(t, cap(r.buf), s.maxCap, s.name)
		assert.Equal(t, cap(r.buf), len(r.buf), s.name)
		assert.False(t, r.over.Held(), s.name)
	}
	_, err := r.ReadMessage()
	assert.Equal(t, io.EOF, err)
}

func TestVectoredReceiverSmallMessagesKeepASmallBuffer(t *testing.T) {
	// The memory a connection of small calls holds: one small buffer,
	// allocated once, and no overflow between messages.
	msgs := make([][]byte, 1000)
	for i := range msgs {
		msgs[i] = testMessage(64)
	}
	r, src := vecReceiver(t, msgs...)
	_, err := r.ReadMessage()
	require.NoError(t, err)
	buf := r.buf
	for range msgs[1:] {
		_, err := r.ReadMessage()
		require.NoError(t, err)
		require.False(t, r.over.Held())
	}
	assert.Less(t, cap(r.buf), 8<<10)
	assert.Same(t, &buf[0], &r.buf[0], "the buffer is allocated once")
	assert.Equal(t, len(msgs), src.copyReads, "small packets are copied from the overflow")
	assert.Zero(t, src.vecReads+src.reads)
}

// lyingReader is a VectorReader that claims more bytes than it was given
// room for.
type lyingReader struct {
	n    int
	take bool
}

func (r *lyingReader) Read(p []byte) (int, error) { return len(p) + r.n, nil }

func (r *lyingReader) ReadVec(p []byte, o *Overflow) (int, error) {
	if r.take && o != nil {
		o.Take()
	}
	return len(p) + r.n, nil
}

func TestVectoredReceiverDistrustsItsReader(t *testing.T) {
	// A broken VectorReader is an error, never a panic or a message made
	// of bytes nobody read.
	tests := []struct {
		name string
		r    *lyingReader
	}{
		{"spill without an overflow", &lyingReader{n: 10}},
		{"spill beyond the overflow", &lyingReader{n: OverflowSize + 1, take: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReceiver(tc.r, 0)
			msg, err := r.ReadMessage()
			require.Error(t, err)
			assert.Nil(t, msg)
			assert.Contains(t, err.Error(), "vectored read returned")
			assert.False(t, r.over.Held())
		})
	}
}

func TestOverflow(t *testing.T) {
	var o Overflow
	assert.False(t, o.Held())
	b := o.Take()
	assert.Len(t, b, OverflowSize)
	assert.True(t, o.Held())
	assert.Equal(t, &b[0], &o.Take()[0], "Take keeps the buffer it holds")
	o.Release()
	assert.False(t, o.Held())
	o.Release() // nothing held: nothing happens

	var none *Overflow
	assert.False(t, none.Held())
	none.Release()
}

func TestOverflowSlots(t *testing.T) {
	// Claims held at once never share a buffer; taking turns, they reuse
	// the slots' buffers and allocate nothing, with or without the race
	// detector (which makes sync.Pool drop slots, never buffers).
	a, b := newOverflow(), newOverflow()
	bufA, bufB := a.Take(), b.Take()
	require.Len(t, bufA, OverflowSize)
	require.Len(t, bufB, OverflowSize)
	assert.NotSame(t, &bufA[0], &bufB[0], "a buffer in use is never lent twice")
	require.NotNil(t, a.slot)
	require.NotNil(t, b.slot)
	a.Release()
	b.Release()
	allocs := testing.AllocsPerRun(100, func() {
		a.Take()
		b.Take()
		b.Release()
		a.Release()
	})
	assert.Zero(t, allocs)
}

// slotBuffer returns slot s's buffer, taking the slot for the look.
func slotBuffer(s *overflowSlot) overflowBuf {
	for !s.busy.CompareAndSwap(0, 1) {
		runtime.Gosched()
	}
	defer s.busy.Store(0)
	return s.b
}

func TestOverflowSlotsTrimmed(t *testing.T) {
	// A slot's buffer goes after trimAfter collection cycles without a
	// read, never while it is lent; the first overflowKeep slots keep
	// theirs.
	for range overflowKeep {
		newOverflow()
	}
	for i := range overflowKeep {
		require.NotNil(t, slotBuffer(&overflowSlots[i]), "kept slot %d has its buffer from the first Receivers on", i)
	}
	// Claims on the kept slots, so that the next claim is on one that is
	// not kept.
	var held []*Overflow
	defer func() {
		for _, h := range held {
			h.Release()
		}
	}()
	claim := func() *Overflow {
		for {
			o := new(Overflow)
			o.Take()
			require.NotNil(t, o.slot)
			if o.slot.idx() >= overflowKeep {
				return o
			}
			held = append(held, o)
		}
	}

	o := claim()
	s := o.slot
	for range trimAfter + 1 {
		assert.True(t, trimOverflowSlots(), "buffers are left to trim")
	}
	assert.True(t, o.Held(), "a slot in use keeps its buffer")
	assert.Same(t, o.b, s.b)
	o.Release()
	for range trimAfter {
		trimOverflowSlots()
	}
	assert.Nil(t, slotBuffer(s), "a slot unused for trimAfter cycles drops its buffer")

	// The garbage collector runs the trim by itself.
	o = claim()
	s = o.slot
	o.Release()
	require.NotNil(t, slotBuffer(s))
	for i := 0; i < 100 && slotBuffer(s) != nil; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond) // lets the cleanup goroutine run
	}
	assert.Nil(t, slotBuffer(s), "collections without reads drop the buffer")
	for i := 0; i < 100 && overflowTrim.Load(); i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	assert.False(t, overflowTrim.Load(), "with nothing left to trim, collections cost nothing")
	for _, h := range held {
		assert.True(t, h.Held(), "a slot in use keeps its buffer")
		h.Release()
	}
	held = nil
	for i := range overflowKeep {
		assert.NotNil(t, slotBuffer(&overflowSlots[i]), "kept slot %d", i)
	}
}

// idx returns the index of s in overflowSlots.
func (s *overflowSlot) idx() int {
	for i := range overflowSlots {
		if &overflowSlots[i] == s {
			return i
		}
	}
	return -1
}

func TestOverflowSlotSize(t *testing.T) {
	assert.Equal(t, uintptr(64), unsafe.Sizeof(overflowSlot{}), "a slot fills a cache line")
}
