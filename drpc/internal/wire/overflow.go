package wire

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// VectorReader is a packet source that can read one packet into two
// buffers with one vectored read (readv): the Receiver's own buffer, and
// an overflow buffer for the part that does not fit. A Receiver whose
// source implements it keeps a buffer the size of the messages it sees
// instead of one of a whole packet: SOCK_SEQPACKET drops the part of a
// packet beyond the read, so without the overflow every read would need
// room for the largest legal packet and then some.
type VectorReader interface {
	io.Reader
	// ReadVec reads one packet: its first len(p) bytes into p and the rest
	// into the buffer o.Take returns, and returns the packet's length (cut
	// to len(p) plus the overflow's length, as readv does). With a nil o it
	// reads into p only, like Read; with an empty p, into the overflow
	// only, which a reader should do with a plain read: the Receiver asks
	// for that when it copies small packets rather than pay for a readv.
	//
	// The overflow is shared by all connections, so a reader takes it only
	// when a packet is there to read, and releases it before it waits for
	// one: a connection waiting for its next message must hold nothing. It
	// may keep it when it returns with a packet; the caller releases it.
	//
	// Errors are those of Read on the connection: io.EOF for a packet of no
	// bytes (the peer closed), and the connection's own errors for a
	// deadline that passed or a closed connection.
	ReadVec(p []byte, o *Overflow) (int, error)
}

// OverflowSize is the size of an overflow buffer: with it, a read into any
// buffer has room for one byte more than the largest legal packet, so that
// a longer one is seen for what it is.
const OverflowSize = readWindow

// overflowBuf is an overflow buffer; a pointer to an array, so that lending
// it out and taking it back moves one word and never allocates.
type overflowBuf = *[OverflowSize]byte

// Only the reads in progress hold an overflow buffer, so a process needs
// about as many as it has reads running at once, whatever its number of
// connections. The buffers belong to slots, one buffer each; a read
// borrows a slot with one compare-and-swap and gives it back with one
// store.
//
// Which slot: the one the Receiver used last, so that its reads go into
// the same memory, as they did into its own buffer, warm in the cache of
// the core it runs on. A process's first Receivers (overflowKeep of them)
// start on slots of their own, which they fill; so a client and its
// server in one process never pass one buffer back and forth between two
// cores (which made their round trips measurably slower: see
// docs/performance.md). When its slot is taken, a Receiver looks for a
// free slot that has a buffer, from its own on, and only if there is none
// does a free slot get a new buffer; so connections that take turns share
// a few warm buffers. (Not a sync.Pool
// of slots: putting one back on another processor than the one it came
// from allocates, after every garbage collection; nor of buffers: the
// race detector makes a sync.Pool drop items on purpose, which would make
// a read allocate now and then in race-enabled tests of the
// allocation-free path.)
//
// The first overflowKeep slots keep their buffers for good: about as many
// as a busy process reads into at once, so that it does not allocate one
// in the middle of its work the first time two reads overlap. The others
// lose theirs, like a sync.Pool's items, once unused for trimAfter garbage
// collection cycles (trimOverflowSlots): a few rather than one, as a busy
// process may collect many times a second while its reads overlap only
// now and then. Beyond the last slot (more reads at once than any process
// here makes) buffers come from a plain sync.Pool.
var (
	overflowSlots = make([]overflowSlot, 256)
	overflowKeep  = min(runtime.GOMAXPROCS(0), 4)
	overflowHigh  atomic.Int32  // the slots from it on have never had a buffer
	overflowSeq   atomic.Uint32 // Receivers made, for their first slots
	overflowSpare = sync.Pool{New: func() any { return new([OverflowSize]byte) }}
	overflowTrim  atomic.Bool // trimOverflowSlots will run after the next collection
)

type overflowSlot struct {
	busy atomic.Uint32 // 1 while its buffer is lent or being trimmed
	warm atomic.Bool   // b is set; changed under busy, read by searches
	idle uint32        // trims since it was last borrowed; under busy
	b    overflowBuf   // under busy
	_    [64 - 24]byte // a cache line of its own, so that slots do not contend
}

// fill gives slot s, which the caller holds, a buffer if it has none.
func (s *overflowSlot) fill(i int) {
	if s.b != nil {
		return
	}
	s.b = new([OverflowSize]byte)
	s.warm.Store(true)
	for h := overflowHigh.Load(); h <= int32(i); h = overflowHigh.Load() {
		if overflowHigh.CompareAndSwap(h, int32(i)+1) {
			break
		}
	}
	if i >= overflowKeep && overflowTrim.CompareAndSwap(false, true) {
		armOverflowTrim()
	}
}

// trimAfter is how many garbage collection cycles an unused slot keeps its
// buffer.
const trimAfter = 4

// trimOverflowSlots drops the buffers of the slots beyond overflowKeep not
// used in the last trimAfter runs. It runs after every garbage collection
// while there are such buffers, and reports whether some are left.
func trimOverflowSlots() (left bool) {
	for i := overflowKeep; i < int(overflowHigh.Load()); i++ {
		s := &overflowSlots[i]
		if !s.busy.CompareAndSwap(0, 1) {
			left = true // being read into: used
			continue
		}
		if s.idle++; s.idle >= trimAfter && s.b != nil {
			s.b = nil
			s.warm.Store(false)
		}
		left = left || s.b != nil
		s.busy.Store(0)
	}
	return left
}

// gcToken is what a garbage collection finds unreachable, to run
// trimOverflowSlots; a pointer field keeps it out of the tiny allocator,
// whose blocks may outlive it.
type gcToken struct{ _ *byte }

// armOverflowTrim runs trimOverflowSlots after the next garbage
// collection, and after each one as long as there are buffers to trim:
// arming allocates, and a busy process may collect every few calls. The
// flag is cleared before the slots are looked at, so that a buffer made
// meanwhile arms the trim again (fill).
func armOverflowTrim() {
	runtime.AddCleanup(&gcToken{}, func(struct{}) {
		overflowTrim.Store(false)
		if trimOverflowSlots() && overflowTrim.CompareAndSwap(false, true) {
			armOverflowTrim()
		}
	}, struct{}{})
}

// Overflow is a Receiver's claim on an overflow buffer during one read.
// The zero value holds none and starts on slot 0. It is not safe for
// concurrent use: it belongs to the read in progress.
type Overflow struct {
	b    overflowBuf
	slot *overflowSlot // b's slot, or nil for a buffer of overflowSpare
	last int           // the slot to try first: the one used last
}

// newOverflow returns a Receiver's Overflow, which starts on the next slot
// in turn. The first overflowKeep fill theirs.
func newOverflow() Overflow {
	i := int(overflowSeq.Add(1)-1) % len(overflowSlots)
	if i < overflowKeep {
		s := &overflowSlots[i]
		for !s.busy.CompareAndSwap(0, 1) {
			runtime.Gosched() // being read into, or trimmed: briefly
		}
		s.fill(i)
		s.busy.Store(0)
	}
	return Overflow{last: i}
}

// Take borrows an overflow buffer of OverflowSize bytes, unless one is held
// already, and returns it.
func (o *Overflow) Take() []byte {
	if o.b == nil {
		o.borrow()
	}
	return o.b[:]
}

func (o *Overflow) borrow() {
	if s := &overflowSlots[o.last]; s.busy.CompareAndSwap(0, 1) {
		if s.b != nil {
			o.lend(s, o.last)
			return
		}
		s.busy.Store(0)
	}
	o.search()
}

// search borrows a free slot that has a buffer, from this claim's own on,
// or else the lowest free slot, which gets one.
func (o *Overflow) search() {
	if high := int(overflowHigh.Load()); high > 0 {
		for k := range high {
			i := (o.last + k) % high
			s := &overflowSlots[i]
			if s.warm.Load() && s.busy.Load() == 0 && s.busy.CompareAndSwap(0, 1) {
				if s.b != nil {
					o.lend(s, i)
					return
				}
				s.busy.Store(0)
			}
		}
	}
	for i := range overflowSlots {
		s := &overflowSlots[i]
		if s.busy.Load() == 0 && s.busy.CompareAndSwap(0, 1) {
			s.fill(i)
			o.lend(s, i)
			return
		}
	}
	o.b, o.slot = overflowSpare.Get().(overflowBuf), nil
}

// lend takes the buffer of slot i, s, whose busy flag o has just set.
func (o *Overflow) lend(s *overflowSlot, i int) {
	s.idle = 0
	o.b, o.slot, o.last = s.b, s, i
}

// Release gives the buffer back, if one is held. The bytes Take returned
// must no longer be used. It does nothing on a nil Overflow.
func (o *Overflow) Release() {
	if o == nil || o.b == nil {
		return
	}
	o.release()
}

func (o *Overflow) release() {
	if s := o.slot; s != nil {
		s.busy.Store(0)
	} else {
		overflowSpare.Put(o.b)
	}
	o.b, o.slot = nil, nil
}

// Held reports whether a buffer is borrowed.
func (o *Overflow) Held() bool { return o != nil && o.b != nil }

// bytes returns the held buffer, or nil.
func (o *Overflow) bytes() []byte {
	if o.b == nil {
		return nil
	}
	return o.b[:]
}
