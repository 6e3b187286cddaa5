package drpc

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// The client's wait in the kernel (kernelWaitReader): what it reads, that
// it leaves the socket as it found it, and that every way out of a read
// (a packet, the window passing, a deadline, Close, the limit) gives its
// place among the kernel waiters back. A place never given back would
// silently turn the fast path off for the whole process.

// newTestKernelWaitReader returns a kernel-wait reader on conn.
func newTestKernelWaitReader(t *testing.T, conn *net.UnixConn, window time.Duration, limit int32) *kernelWaitReader {
	t.Helper()
	raw, err := conn.SyscallConn()
	require.NoError(t, err)
	r := newKernelWaitReader(conn, raw, window, limit)
	require.NotNil(t, r, "the socket takes SO_RCVTIMEO and fcntl")
	return r
}

// sendLater writes packet to conn after delay.
func sendLater(t *testing.T, conn *net.UnixConn, delay time.Duration, packet []byte) {
	t.Helper()
	done := make(chan error, 1)
	time.AfterFunc(delay, func() {
		_, err := conn.Write(packet)
		done <- err
	})
	t.Cleanup(func() { require.NoError(t, <-done) })
}

// kernelReadResult is what one ReadVec returned.
type kernelReadResult struct {
	b   []byte
	err error
}

// readInBackground runs one ReadVec of r into a buffer of size bytes.
func readInBackground(r *kernelWaitReader, size int) <-chan kernelReadResult {
	out := make(chan kernelReadResult, 1)
	go func() {
		var o wire.Overflow
		buf := make([]byte, size)
		n, err := r.ReadVec(buf, &o)
		o.Release()
		out <- kernelReadResult{b: buf[:min(n, size)], err: err}
	}()
	return out
}

func waitResult(t *testing.T, ch <-chan kernelReadResult, what string) kernelReadResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(hangGuard):
		t.Fatalf("%s did not return within %v", what, hangGuard)
		return kernelReadResult{}
	}
}

// hangGuard is how long a test waits for something that must happen
// before it calls it a hang; it is not a timing assertion.
const hangGuard = 10 * time.Second

func requireNoKernelWaiters(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return kernelWaiters.Load() == 0 }, hangGuard, time.Millisecond,
		"every read gives its place among the kernel waiters back")
}

func TestKernelWaitReader(t *testing.T) {
	const window = 5 * time.Millisecond
	tests := []struct {
		name  string
		delay time.Duration // before the peer answers
	}{
		{"packet already there", 0},
		{"packet within the window", window / 5},
		{"packet after the window: read goes on in the poller", 6 * window},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, peer := socketPair(t)
			r := newTestKernelWaitReader(t, client, window, 1)
			want := testMessage(300)
			if tc.delay == 0 {
				_, err := peer.Write(want)
				require.NoError(t, err)
			} else {
				sendLater(t, peer, tc.delay, want)
			}
			res := waitResult(t, readInBackground(r, 1024), "the read")
			require.NoError(t, res.err)
			assert.Equal(t, want, res.b)
			requireNoKernelWaiters(t)

			// The socket is non-blocking again, as the runtime needs it.
			raw, err := client.SyscallConn()
			require.NoError(t, err)
			var flags int
			require.NoError(t, raw.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) }))
			require.NoError(t, err)
			assert.NotZero(t, flags&unix.O_NONBLOCK, "O_NONBLOCK is set again")
		})
	}
}

func TestKernelWaitReaderThroughAReceiver(t *testing.T) {
	// Whole messages of one and of several chunks, small and large, as the
	// client's Receiver reads them.
	client, peer := socketPair(t)
	r := newTestKernelWaitReader(t, client, time.Millisecond, 1)
	recv := wire.NewReceiver(r, 0)
	send := wire.NewSender(peer)
	for _, size := range []int{0, 1, 4 << 10, wire.MaxChunkData, 3*wire.MaxChunkData + 5} {
		want := testMessage(size)
		sent := make(chan error, 1)
		go func() { sent <- send.Send(nil, want) }()
		got, err := recv.ReadMessage()
		require.NoError(t, err, "message of %d bytes", size)
		assert.Equal(t, want, got, "message of %d bytes", size)
		require.NoError(t, <-sent)
	}
	requireNoKernelWaiters(t)
}

func TestKernelWaitReaderEnds(t *testing.T) {
	// Every way a read ends without a packet gives its place back, and
	// says what happened as the connection's own Read would.
	tests := []struct {
		name   string
		before func(client, peer *net.UnixConn) // before the read starts
		during func(client, peer *net.UnixConn) // while it waits in the kernel
		is     error
	}{
		{
			name:   "deadline already passed",
			before: func(client, _ *net.UnixConn) { _ = client.SetReadDeadline(time.Now().Add(-time.Second)) },
			is:     os.ErrDeadlineExceeded,
		},
		{
			name: "Close during the wait",
			during: func(client, _ *net.UnixConn) {
				shutdownConn(client)
				_ = client.Close()
			},
			is: io.EOF,
		},
		{
			name:   "peer hangs up during the wait",
			during: func(_, peer *net.UnixConn) { _ = peer.Close() },
			is:     io.EOF,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, peer := socketPair(t)
			// A window far longer than the test: only the way out under
			// test can end the wait in time.
			r := newTestKernelWaitReader(t, client, time.Minute, 1)
			if tc.before != nil {
				tc.before(client, peer)
			}
			res := readInBackground(r, 1024)
			if tc.during != nil {
				require.Eventually(t, func() bool { return kernelWaiters.Load() == 1 }, hangGuard, time.Millisecond,
					"the read waits in the kernel")
				tc.during(client, peer)
			}
			got := waitResult(t, res, "the read")
			require.ErrorIs(t, got.err, tc.is)
			requireNoKernelWaiters(t)
		})
	}
}

func TestKernelWaitReaderSkipsForCloseDeadline(t *testing.T) {
	// A call whose deadline is closer than twice the window reads in the
	// poller, where the deadline acts on time; a far deadline does not
	// stop the wait in the kernel.
	client, _ := socketPair(t)
	r := newTestKernelWaitReader(t, client, time.Minute, 1)

	deadline := time.Now().Add(20 * time.Millisecond)
	require.NoError(t, client.SetReadDeadline(deadline))
	r.setDeadline(deadline, true)
	assert.True(t, r.skip)
	got := waitResult(t, readInBackground(r, 1024), "the read with a close deadline")
	require.ErrorIs(t, got.err, os.ErrDeadlineExceeded)
	requireNoKernelWaiters(t)

	r.setDeadline(time.Now().Add(time.Hour), true)
	assert.False(t, r.skip, "a far deadline")
	r.setDeadline(time.Time{}, false)
	assert.False(t, r.skip, "no deadline")
}

func TestKernelWaitReaderLimit(t *testing.T) {
	// With a limit of one, a second reader waits in the poller, and both
	// get their packets.
	const readers = 3
	type pair struct {
		r    *kernelWaitReader
		peer *net.UnixConn
	}
	pairs := make([]pair, readers)
	for i := range pairs {
		client, peer := socketPair(t)
		pairs[i] = pair{newTestKernelWaitReader(t, client, time.Minute, 1), peer}
	}
	results := make([]<-chan kernelReadResult, readers)
	for i, p := range pairs {
		results[i] = readInBackground(p.r, 64)
	}
	var most int32
	var mu sync.Mutex
	require.Eventually(t, func() bool {
		n := kernelWaiters.Load()
		mu.Lock()
		most = max(most, n)
		mu.Unlock()
		return n == 1
	}, hangGuard, time.Millisecond, "one read waits in the kernel")
	for i, p := range pairs {
		_, err := p.peer.Write([]byte{byte(i)})
		require.NoError(t, err)
	}
	for i, ch := range results {
		res := waitResult(t, ch, "a read")
		require.NoError(t, res.err)
		assert.Equal(t, []byte{byte(i)}, res.b)
	}
	assert.LessOrEqual(t, most, int32(1))
	requireNoKernelWaiters(t)
}

func TestNewKernelWaitReaderOff(t *testing.T) {
	client, _ := socketPair(t)
	raw, err := client.SyscallConn()
	require.NoError(t, err)
	assert.Nil(t, newKernelWaitReader(client, raw, time.Millisecond, 0), "no waiters allowed (one processor)")
	assert.Nil(t, newKernelWaitReader(client, raw, 0, 1), "no window")
}

func TestKernelWaitReaderRestsAfterALongWait(t *testing.T) {
	// A wait in the kernel longer than kernelWaitShort sends the next
	// kernelWaitRest reads to the poller; then the kernel is tried again.
	client, peer := socketPair(t)
	r := newTestKernelWaitReader(t, client, time.Minute, 1)
	read := func() {
		t.Helper()
		res := waitResult(t, readInBackground(r, 64), "a read")
		require.NoError(t, res.err)
	}

	sendLater(t, peer, 20*kernelWaitShort, []byte{1})
	read()
	require.Equal(t, kernelWaitRest, r.rest, "a long wait")
	for i := kernelWaitRest - 1; i >= 0; i-- {
		_, err := peer.Write([]byte{2})
		require.NoError(t, err)
		read()
		require.Equal(t, i, r.rest, "the reads in the poller count down")
	}
	// The next read tries the kernel again.
	r.waited = false
	_, err := peer.Write([]byte{3})
	require.NoError(t, err)
	read()
	assert.True(t, r.waited, "the read after the rest went through the kernel wait")
	requireNoKernelWaiters(t)
}
