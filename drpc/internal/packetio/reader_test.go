package packetio

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// The packet readers over real sockets: what they give a Receiver (whole
// messages, in a buffer the size of the messages), and the connection's
// behaviour that must not change (end of file, deadlines, Close).

// socketPair returns both ends of a connected AF_UNIX SOCK_SEQPACKET
// socket pair, closed when the test ends.
func socketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close() // FileConn holds a duplicate
		c, err := net.FileConn(f)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// readerKinds are the packet readers a side may use.
var readerKinds = []struct {
	name   string
	reader func(c *net.UnixConn) io.Reader
}{
	{"plain", func(c *net.UnixConn) io.Reader { return New(c, 0) }},
	{"busy poll", func(c *net.UnixConn) io.Reader { return New(c, 50*time.Microsecond) }},
}

// testMessage returns n bytes that differ from chunk to chunk.
func testMessage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/wire.MaxChunkData)
	}
	return b
}

// readResultOf is the outcome of a ReadMessage run in another goroutine.
type readResultOf struct {
	msg []byte
	err error
}

// parkedRead starts recv.ReadMessage in a goroutine, waits until the read
// waits in the network poller, and returns where its outcome arrives.
func parkedRead(t *testing.T, recv *wire.Receiver) <-chan readResultOf {
	t.Helper()
	before := parkedReads()
	out := make(chan readResultOf, 1)
	go func() {
		msg, err := recv.ReadMessage()
		out <- readResultOf{bytes.Clone(msg), err}
	}()
	require.Eventually(t, func() bool { return parkedReads() > before }, 10*time.Second, time.Millisecond, "the read should wait in the poller")
	return out
}

// parkedReads counts the goroutines whose ReadMessage waits in the
// network poller ("IO wait").
func parkedReads() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, "(*Receiver).ReadMessage") {
			n++
		}
	}
	return n
}

func waitRead(t *testing.T, ch <-chan readResultOf) readResultOf {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the read did not return")
		panic("unreachable")
	}
}

func TestPacketReadersAreVectorReaders(t *testing.T) {
	for _, kind := range readerKinds {
		_, b := socketPair(t)
		r := kind.reader(b)
		_, ok := r.(wire.VectorReader)
		assert.True(t, ok, "%s: a Receiver reading from it keeps a small buffer only if it reads vectors", kind.name)
	}
}

func TestPacketReadersCarryMessages(t *testing.T) {
	// Small and large messages interleaved, so that each size also arrives
	// into a buffer grown for another.
	sizes := []int{64, 0, 1, 4 << 10, 64, wire.MaxChunkData, 64, 128 << 10, wire.MaxChunkData + 1, 10, 2*wire.MaxChunkData + 10, 64, 5 << 20, 64, 300 << 10, 1}
	for _, kind := range readerKinds {
		t.Run(kind.name, func(t *testing.T) {
			a, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			errc := make(chan error, 1)
			go func() {
				s := wire.NewSender(a)
				for _, n := range sizes {
					if err := s.Send(nil, testMessage(n)); err != nil {
						errc <- err
						return
					}
				}
				errc <- a.CloseWrite()
			}()
			for i, n := range sizes {
				msg, err := recv.ReadMessage()
				require.NoError(t, err, "message %d", i)
				require.Len(t, msg, n, "message %d", i)
				require.True(t, bytes.Equal(testMessage(n), msg), "message %d of %d bytes differs", i, n)
			}
			_, err := recv.ReadMessage()
			assert.Equal(t, io.EOF, err, "a clean end is io.EOF itself")
			require.NoError(t, <-errc)
		})
	}
}

func TestPacketReadersEndOfFile(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind.name+"/between messages", func(t *testing.T) {
			a, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			require.NoError(t, wire.NewSender(a).Send(nil, []byte("one")))
			require.NoError(t, a.Close())
			msg, err := recv.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, "one", string(msg))
			_, err = recv.ReadMessage()
			assert.Equal(t, io.EOF, err)
		})
		t.Run(kind.name+"/while parked", func(t *testing.T) {
			a, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			out := parkedRead(t, recv)
			require.NoError(t, a.Close())
			assert.Equal(t, io.EOF, waitRead(t, out).err)
		})
		for _, first := range []int{64, wire.MaxChunkData} { // into a small buffer, and spilling over
			t.Run(fmt.Sprintf("%s/peer closes mid-message after %d bytes", kind.name, first), func(t *testing.T) {
				a, b := socketPair(t)
				recv := wire.NewReceiver(kind.reader(b), 0)
				h := wire.Header{TotalDataSize: 3 * wire.MaxChunkData, ChunkDataSize: uint64(first), TotalChunks: 3}
				p := make([]byte, wire.HeaderSize+first)
				h.Put(p)
				_, err := a.Write(p)
				require.NoError(t, err)
				require.NoError(t, a.Close())
				_, err = recv.ReadMessage()
				require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			})
		}
	}
}

func TestPacketReadersDeadlines(t *testing.T) {
	for _, kind := range readerKinds {
		t.Run(kind.name+"/a past deadline interrupts a parked read", func(t *testing.T) {
			a, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			out := parkedRead(t, recv)
			require.NoError(t, b.SetReadDeadline(PastDeadline))
			err := waitRead(t, out).err
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assertReadError(t, err)

			// The connection goes on once the deadline is cleared.
			require.NoError(t, b.SetReadDeadline(time.Time{}))
			require.NoError(t, wire.NewSender(a).Send(nil, []byte("after")))
			msg, err := recv.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, "after", string(msg))
		})
		t.Run(kind.name+"/a deadline that passes while parked", func(t *testing.T) {
			_, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			require.NoError(t, b.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
			_, err := recv.ReadMessage()
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		})
		t.Run(kind.name+"/Close interrupts a parked read", func(t *testing.T) {
			_, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			out := parkedRead(t, recv)
			require.NoError(t, b.Close())
			err := waitRead(t, out).err
			require.ErrorIs(t, err, net.ErrClosed)
			assertReadError(t, err)
		})
		t.Run(kind.name+"/a closed connection", func(t *testing.T) {
			_, b := socketPair(t)
			recv := wire.NewReceiver(kind.reader(b), 0)
			require.NoError(t, b.Close())
			_, err := recv.ReadMessage()
			require.ErrorIs(t, err, net.ErrClosed)
		})
	}
}

// assertReadError checks that err reads as the connection's own Read
// error would.
func assertReadError(t *testing.T, err error) {
	t.Helper()
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "read", op.Op)
	assert.False(t, strings.Contains(err.Error(), "raw-read"), err.Error())
}

func TestReadResult(t *testing.T) {
	a, _ := socketPair(t)
	_, err := readResult(a, 0, syscall.ECONNRESET, nil)
	require.ErrorIs(t, err, syscall.ECONNRESET)
	assertReadError(t, err)
	_, err = readResult(a, 0, nil, nil)
	assert.Equal(t, io.EOF, err)
	n, err := readResult(a, 7, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
}

// tryOnce runs one try of a reader's on fd, as the poller would.
func tryOnce(t *testing.T, conn *net.UnixConn, try func(uintptr) bool) bool {
	t.Helper()
	raw, err := conn.SyscallConn()
	require.NoError(t, err)
	var ok bool
	require.NoError(t, raw.Control(func(fd uintptr) { ok = try(fd) }))
	return ok
}

func TestPacketReadersHoldNoOverflowWhileWaiting(t *testing.T) {
	// The overflow is shared by every connection: a reader that finds no
	// packet gives it back before the poller waits, and one that read a
	// packet keeps it only if the packet spilled into it.
	a, b := socketPair(t)
	raw, err := b.SyscallConn()
	require.NoError(t, err)
	plain := newConnReader(b, raw)
	poll := &pollReader{conn: b, raw: raw, spin: 20 * time.Microsecond, cur: 20 * time.Microsecond}
	tries := []struct {
		name  string
		try   func(uintptr) bool
		state func(p []byte, o *wire.Overflow)
		n     func() int
	}{
		{"plain", plain.try, func(p []byte, o *wire.Overflow) { plain.p, plain.o = p, o }, func() int { return plain.n }},
		{"busy poll", poll.try, func(p []byte, o *wire.Overflow) { poll.p, poll.o, poll.start, poll.missed = p, o, time.Time{}, false }, func() int { return poll.n }},
	}
	for _, tc := range tries {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 100)
			var o wire.Overflow
			tc.state(buf, &o)
			assert.False(t, tryOnce(t, b, tc.try), "no packet: the poller must wait")
			assert.False(t, o.Held(), "no overflow held while waiting")

			_, err := a.Write(testMessage(50))
			require.NoError(t, err)
			assert.True(t, tryOnce(t, b, tc.try))
			assert.Equal(t, 50, tc.n())
			assert.False(t, o.Held(), "a packet that fit needs no overflow")

			_, err = a.Write(testMessage(1000))
			require.NoError(t, err)
			assert.True(t, tryOnce(t, b, tc.try))
			assert.Equal(t, 1000, tc.n())
			require.True(t, o.Held(), "a packet that spilled keeps the overflow for the Receiver")
			assert.Equal(t, testMessage(1000), append(bytes.Clone(buf), o.Take()[:900]...))
			o.Release()

			// With no buffer of its own, the whole packet goes to the
			// overflow.
			tc.state(nil, &o)
			assert.False(t, tryOnce(t, b, tc.try))
			assert.False(t, o.Held(), "no overflow held while waiting")
			_, err = a.Write(testMessage(10))
			require.NoError(t, err)
			assert.True(t, tryOnce(t, b, tc.try))
			assert.Equal(t, 10, tc.n())
			require.True(t, o.Held())
			assert.Equal(t, testMessage(10), o.Take()[:10])
			o.Release()
		})
	}
}

func TestPacketReadersAllocateNothing(t *testing.T) {
	// Once a connection's buffer has grown to its messages, reading one
	// allocates nothing: through the overflow (a buffer below a window) or
	// straight in (a buffer grown for a big message).
	tests := []struct {
		name       string
		warm, each int
	}{
		{"64 B into a small buffer", 64, 64},
		{"4 KiB into a buffer grown for it", 4 << 10, 4 << 10},
		{"64 B into a big buffer", 3 * wire.MaxChunkData, 64},
		{"a full chunk into a big buffer", 3 * wire.MaxChunkData, wire.MaxChunkData},
	}
	for _, kind := range readerKinds {
		for _, tc := range tests {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				a, b := socketPair(t)
				recv := wire.NewReceiver(kind.reader(b), 0)
				send := wire.NewSender(a)
				errc := make(chan error, 1)
				go func() { errc <- send.Send(nil, testMessage(tc.warm)) }() // may not fit the socket's buffer
				_, err := recv.ReadMessage()
				require.NoError(t, err)
				require.NoError(t, <-errc)

				msg := testMessage(tc.each)
				allocs := testing.AllocsPerRun(50, func() {
					if err := send.Send(nil, msg); err != nil {
						t.Fatal(err)
					}
					got, err := recv.ReadMessage()
					if err != nil || len(got) != tc.each {
						t.Fatalf("got %d bytes, %v", len(got), err)
					}
				})
				assert.Zero(t, allocs, "allocations per message sent and read")
			})
		}
	}
}

func TestFirstReadOfAConnectionAllocatesLittle(t *testing.T) {
	// What a new connection's first small message costs its receiver: a
	// small buffer, not one of a whole packet.
	for _, kind := range readerKinds {
		t.Run(kind.name, func(t *testing.T) {
			const conns = 20
			recvs := make([]*wire.Receiver, conns+1)
			for i := range recvs {
				a, b := socketPair(t)
				recvs[i] = wire.NewReceiver(kind.reader(b), 0)
				require.NoError(t, wire.NewSender(a).Send(nil, testMessage(64)))
			}
			_, err := recvs[0].ReadMessage() // warms up the overflow buffers
			require.NoError(t, err)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for _, r := range recvs[1:] {
				if msg, err := r.ReadMessage(); err != nil || len(msg) != 64 {
					t.Fatalf("%d bytes, %v", len(msg), err)
				}
			}
			runtime.ReadMemStats(&after)
			perConn := (after.TotalAlloc - before.TotalAlloc) / conns
			t.Logf("%s: the first 64-byte message of a connection allocates %d bytes", kind.name, perConn)
			assert.Less(t, perConn, uint64(4<<10), "bytes allocated by the first read of a connection")
		})
	}
}

// BenchmarkPacketReaders is a ping-pong of one message over a socket pair
// with each way of reading: the connection itself (reads of a whole window
// into a buffer of that size, as before the vectored readers), and the
// readers the sides use. Run the kinds alternately (-count) on a busy
// machine: the differences are small.
func BenchmarkPacketReaders(b *testing.B) {
	kinds := []struct {
		name   string
		reader func(c *net.UnixConn) io.Reader
	}{
		{"conn", func(c *net.UnixConn) io.Reader { return c }},
		{"vectored", func(c *net.UnixConn) io.Reader { return New(c, 0) }},
		{"vectored-busypoll", func(c *net.UnixConn) io.Reader { return New(c, 50*time.Microsecond) }},
	}
	for _, size := range []int{64, 4 << 10, 128 << 10} {
		for _, kind := range kinds {
			b.Run(fmt.Sprintf("%s/%d", kind.name, size), func(b *testing.B) {
				a, peer := socketPair(b)
				go func() { // the echo
					recv := wire.NewReceiver(kind.reader(peer), 0)
					send := wire.NewSender(peer)
					for {
						msg, err := recv.ReadMessage()
						if err != nil || send.Send(nil, msg) != nil {
							return
						}
					}
				}()
				recv := wire.NewReceiver(kind.reader(a), 0)
				send := wire.NewSender(a)
				msg := testMessage(size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := send.Send(nil, msg); err != nil {
						b.Fatal(err)
					}
					if got, err := recv.ReadMessage(); err != nil || len(got) != size {
						b.Fatalf("%d bytes, %v", len(got), err)
					}
				}
			})
		}
	}
}
