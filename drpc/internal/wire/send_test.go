package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// packetRecorder is an io.Writer that keeps every Write as one packet, the
// way a SOCK_SEQPACKET socket does.
type packetRecorder struct {
	packets [][]byte
	failAt  int // if > 0, the failAt-th Write fails
}

var errWriteFailed = errors.New("write failed")

func (w *packetRecorder) Write(p []byte) (int, error) {
	if w.failAt > 0 && len(w.packets)+1 == w.failAt {
		return 0, errWriteFailed
	}
	w.packets = append(w.packets, bytes.Clone(p))
	return len(p), nil
}

// sendPackets returns the packets that carry msg, built here from the
// protocol's rules rather than by the code under test: ceil(n/131048)
// packets (one for an empty message), each a native-endian header and the
// next at most 131048 bytes.
func sendPackets(t testing.TB, msg []byte) [][]byte {
	t.Helper()
	chunks := (len(msg) + MaxChunkData - 1) / MaxChunkData
	if chunks == 0 {
		chunks = 1
	}
	packets := make([][]byte, chunks)
	for i := range packets {
		data := msg[i*MaxChunkData : min((i+1)*MaxChunkData, len(msg))]
		p := make([]byte, HeaderSize, HeaderSize+len(data))
		binary.NativeEndian.PutUint64(p[0:], uint64(len(msg)))
		binary.NativeEndian.PutUint64(p[8:], uint64(len(data)))
		binary.NativeEndian.PutUint32(p[16:], uint32(i))
		binary.NativeEndian.PutUint32(p[20:], uint32(chunks))
		packets[i] = append(p, data...)
	}
	return packets
}

// socketpair returns both ends of a connected AF_UNIX SOCK_SEQPACKET
// socket pair, closed when the test ends.
func socketpair(t testing.TB) (a, b *net.UnixConn) {
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

// readPackets reads n packets from c.
func readPackets(t testing.TB, c *net.UnixConn, n int) [][]byte {
	t.Helper()
	buf := make([]byte, 2*MaxPacketSize)
	packets := make([][]byte, n)
	for i := range packets {
		k, err := c.Read(buf)
		require.NoError(t, err)
		packets[i] = bytes.Clone(buf[:k])
	}
	return packets
}

// testMessage returns n bytes that differ from chunk to chunk, so that a
// chunk in the wrong place shows.
func testMessage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/MaxChunkData)
	}
	return b
}

var sendSizes = []int{0, 1, 100, MaxChunkData - 1, MaxChunkData, MaxChunkData + 1, 2 * MaxChunkData, 2*MaxChunkData + 1, 3 << 20}

func TestReferencePackets(t *testing.T) {
	// The reference the senders are held to, checked against the rules once.
	for _, size := range sendSizes {
		packets := sendPackets(t, testMessage(size))
		require.Len(t, packets, int(ChunkCount(uint64(size))), "size %d", size)
		var data []byte
		for i, p := range packets {
			h, err := ParseHeader(p)
			require.NoError(t, err)
			assert.Equal(t, Header{TotalDataSize: uint64(size), ChunkDataSize: uint64(len(p) - HeaderSize), ChunkIdx: uint32(i), TotalChunks: uint32(len(packets))}, h)
			assert.LessOrEqual(t, len(p), MaxPacketSize)
			if i < len(packets)-1 {
				assert.Len(t, p, MaxPacketSize, "every packet but the last is full")
			}
			data = append(data, p[HeaderSize:]...)
		}
		assert.True(t, bytes.Equal(testMessage(size), data))
	}
}

func TestSenderSplitsMessagesIntoPackets(t *testing.T) {
	for _, size := range sendSizes {
		msg := testMessage(size)
		var w packetRecorder
		require.NoError(t, NewSender(&w).Send(nil, msg))
		assert.Equal(t, sendPackets(t, msg), w.packets, "size %d", size)
	}
}

// senderSplits are ways to cut a message into the head and body a Sender
// takes: the split point moves across chunk boundaries.
var senderSplits = []struct{ head, body int }{
	{0, 0}, {5, 0}, {0, 5}, {7, 93},
	{0, MaxChunkData}, {MaxChunkData, 0}, {10, MaxChunkData - 10}, {10, MaxChunkData - 9},
	{MaxChunkData - 1, 2}, {MaxChunkData + 1, MaxChunkData}, {20, 3 << 20}, {2*MaxChunkData + 3, 4},
}

func TestSenderSplitsIntoPackets(t *testing.T) {
	var w packetRecorder
	s := NewSender(&w)
	for _, sp := range senderSplits {
		msg := testMessage(sp.head + sp.body)
		head, body := bytes.Clone(msg[:sp.head]), bytes.Clone(msg[sp.head:])
		w.packets = nil
		require.NoError(t, s.Send(head, body))
		assert.Equal(t, sendPackets(t, msg), w.packets, "head %d, body %d", sp.head, sp.body)
		assert.Equal(t, msg[:sp.head], head, "Send must not change head")
		assert.Equal(t, msg[sp.head:], body, "Send must not change body")
	}
}

func TestSenderOverSocket(t *testing.T) {
	// On a *net.UnixConn the Sender writes each packet with writev.
	a, b := socketpair(t)
	s := NewSender(a)
	for _, sp := range senderSplits {
		msg := testMessage(sp.head + sp.body)
		want := sendPackets(t, msg)
		errc := make(chan error, 1)
		go func() { errc <- s.Send(msg[:sp.head], msg[sp.head:]) }()
		assert.Equal(t, want, readPackets(t, b, len(want)), "head %d, body %d: the socket must carry the same packets", sp.head, sp.body)
		require.NoError(t, <-errc)
	}
}

func TestSendWriteError(t *testing.T) {
	msg := testMessage(3 * MaxChunkData)
	w := packetRecorder{failAt: 2}
	err := NewSender(&w).Send(msg[:10], msg[10:])
	require.ErrorIs(t, err, errWriteFailed)
	assert.Contains(t, err.Error(), "chunk 1 of 3")
	assert.Len(t, w.packets, 1, "Send stops at the first failed write")
}

func TestSendToClosedSocket(t *testing.T) {
	a, b := socketpair(t)
	require.NoError(t, b.Close())
	assert.ErrorIs(t, NewSender(a).Send([]byte("he"), []byte("llo")), unix.EPIPE)
}

func TestSenderSendsThreeParts(t *testing.T) {
	// A message in three pieces (a response head, a body, and a tail sent
	// from where it is) goes out as the same packets as the whole, on a
	// socket (writev) and on other writers, wherever the cuts fall.
	a, b := socketpair(t)
	onSocket := NewSender(a)
	var w packetRecorder
	recorded := NewSender(&w)
	for _, sp := range senderSplits {
		for _, tailLen := range []int{0, 1, MaxChunkData - 3, MaxChunkData + 5} {
			msg := testMessage(sp.head + sp.body + tailLen)
			cut := sp.head + sp.body
			head, body, tail := bytes.Clone(msg[:sp.head]), bytes.Clone(msg[sp.head:cut]), bytes.Clone(msg[cut:])
			want := sendPackets(t, msg)

			w.packets = nil
			require.NoError(t, recorded.SendParts(head, body, tail))
			assert.Equal(t, want, w.packets, "head %d, body %d, tail %d", sp.head, sp.body, tailLen)

			errc := make(chan error, 1)
			go func() { errc <- onSocket.SendParts(head, body, tail) }()
			assert.Equal(t, want, readPackets(t, b, len(want)), "head %d, body %d, tail %d: on a socket", sp.head, sp.body, tailLen)
			require.NoError(t, <-errc)
			assert.Equal(t, msg, append(append(head, body...), tail...), "SendParts must not change its parts")
		}
	}
}
