package drpc_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// TestMaxSessions checks that a server serves its limit of sessions,
// answers the first call of one more with the reason, and takes new
// clients again once a session has ended; the same per uid.
func TestMaxSessions(t *testing.T) {
	tests := []struct {
		name   string
		limits drpc.Limits
		reason string
	}{
		{"in all", drpc.Limits{MaxSessions: 3}, "serves its limit of 3 sessions"},
		{"per uid", drpc.Limits{MaxSessions: 10, MaxSessionsPerUID: 3}, fmt.Sprintf("serves its limit of 3 sessions per user to uid %d", os.Getuid())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 3
			rec := newStatsRecorder()
			srv, _ := startServer(t, drpc.WithLimits(tc.limits), drpc.WithStats(rec))
			clients := make([]*drpc.ClientConnection, limit)
			for i := range clients {
				clients[i] = connect(t, srv)
				echo(t, clients[i], "within the limit")
			}
			require.Equal(t, limit, srv.NumSessions())

			extra := connect(t, srv)
			resp, err := extra.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("one too many")})
			require.NoError(t, err, "the refusal is an answer")
			f := drpc.FailureFromResponse(resp)
			require.Equal(t, drpc.StatusFailure, drpc.StatusOf(f))
			assert.Contains(t, f.Error(), tc.reason)
			assert.Equal(t, 1, rec.event(drpc.EventSessionRefused))

			require.NoError(t, clients[0].Close())
			sessionsDropTo(t, srv, limit-1)
			echo(t, connect(t, srv), "a place is free again")
		})
	}
}

// helperHoldEnv names the socket for TestHelperHoldSessions; helperHoldN
// how many sessions it opens.
const (
	helperHoldEnv = "DRPC_TEST_HOLD_SOCKET"
	helperHoldN   = "DRPC_TEST_HOLD_N"
)

// TestHelperHoldSessions is not a test: run by TestSessionsPerUIDSpareOtherUsers
// as another user, it opens sessions to the socket, makes a call on each,
// reports each outcome on a line and holds the sessions until its stdin
// closes.
func TestHelperHoldSessions(t *testing.T) {
	path := os.Getenv(helperHoldEnv)
	if path == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(helperHoldN))
	for i := range n {
		c := drpc.NewClientConnection(path)
		if err := c.Connect(context.Background()); err != nil {
			fmt.Println("SESSION", i, "ERROR", err)
			continue
		}
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("hold")})
		switch {
		case err != nil:
			fmt.Println("SESSION", i, "ERROR", err)
		case resp.Status != drpc.StatusSuccess:
			fmt.Println("SESSION", i, "REFUSED", string(resp.Body))
		default:
			fmt.Println("SESSION", i, "OK")
		}
	}
	fmt.Println("HOLDING")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

func TestSessionsPerUIDSpareOtherUsers(t *testing.T) {
	// Another user holding its limit of sessions leaves root's calls
	// alone.
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user (uid 65534)")
	}
	const nobody, perUID = 65534, 4
	dir, err := os.MkdirTemp("", "drpc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	exe := filepath.Join(dir, "drpc.test")
	copyFile(t, self, exe, 0o755)

	srv, err := drpc.NewDomainSocketServer(filepath.Join(dir, "s.sock"), drpc.WithSocketMode(0o666),
		drpc.WithLimits(drpc.Limits{MaxSessions: 2 * perUID, MaxSessionsPerUID: perUID}))
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	cmd := exec.Command(exe, "-test.run=^TestHelperHoldSessions$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperHoldEnv+"="+srv.SocketPath(), helperHoldN+"="+strconv.Itoa(perUID+2),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })

	var outcomes []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "HOLDING" {
		if rest, ok := strings.CutPrefix(lines.Text(), "SESSION "); ok {
			outcomes = append(outcomes, rest)
		}
	}
	require.Len(t, outcomes, perUID+2, "the helper reports every session")
	for i, o := range outcomes {
		if i < perUID {
			assert.Equal(t, fmt.Sprintf("%d OK", i), o)
		} else {
			assert.Contains(t, o, fmt.Sprintf("REFUSED dRPC server at %s serves its limit of %d sessions per user to uid %d", srv.SocketPath(), perUID, nobody))
		}
	}
	sessionsDropTo(t, srv, perUID) // the refused ones are gone, the others held

	// Root is another user: its calls are answered meanwhile.
	for range perUID {
		echo(t, connect(t, srv), "root is served")
	}
}

func TestReceiveMemoryGrowsWithTheBytesReceived(t *testing.T) {
	// Connections that each send one full packet of a message that
	// declares the largest size make the server hold about a packet each,
	// and nothing once they close.
	const conns = 20
	srv, _ := startServer(t)
	first := chunkPacket(wire.Header{TotalDataSize: drpc.DefaultMaxMessageSize, ChunkDataSize: wire.MaxChunkData, TotalChunks: uint32(wire.ChunkCount(drpc.DefaultMaxMessageSize))},
		make([]byte, wire.MaxChunkData))
	var open []*net.UnixConn
	for range conns {
		c := dialPacket(t, srv.SocketPath())
		require.NoError(t, writePackets(c, first))
		open = append(open, c)
	}
	uid := uint32(os.Getuid())
	eventually(t, func() bool { total, _ := srv.ReceiveMemory(uid); return total >= conns*wire.MaxChunkData },
		"every session takes its packet")
	total, byUID := srv.ReceiveMemory(uid)
	assert.LessOrEqual(t, total, int64(conns*3*wire.MaxPacketSize), "about what was sent, not what was declared")
	assert.Equal(t, total, byUID)

	for _, c := range open {
		require.NoError(t, c.Close())
	}
	sessionsDropTo(t, srv, 0)
	total, _ = srv.ReceiveMemory(uid)
	assert.Zero(t, total, "closed sessions hold nothing")
}

func TestReceiveMemoryLimit(t *testing.T) {
	// A call that needs more receive memory than the user's limit is read
	// and dropped, answered with the reason, and the session goes on;
	// what is held never passes the limit.
	const limit = 4 * wire.MaxPacketSize
	rec := newStatsRecorder()
	srv, _ := startServer(t, drpc.WithLimits(drpc.Limits{MaxReceiveMemoryPerUID: limit}), drpc.WithStats(rec))
	c := connect(t, srv)
	uid := uint32(os.Getuid())

	echo(t, c, "small")
	big := strings.Repeat("x", 3*wire.MaxChunkData) // fits: the buffer doubles up to the message
	echo(t, c, big)
	huge := make([]byte, 8*wire.MaxChunkData)
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: huge})
	require.NoError(t, err)
	f := drpc.FailureFromResponse(resp)
	require.Equal(t, drpc.StatusFailure, drpc.StatusOf(f))
	assert.Contains(t, f.Error(), "receive memory")
	assert.Equal(t, 1, rec.event(drpc.EventOverMemoryLimit))
	_, byUID := srv.ReceiveMemory(uid)
	assert.LessOrEqual(t, byUID, int64(limit))

	echo(t, c, "the session goes on")
	require.NoError(t, c.Close())
	sessionsDropTo(t, srv, 0)
	total, _ := srv.ReceiveMemory(uid)
	assert.Zero(t, total)
}

func TestIdleTimeout(t *testing.T) {
	// A session that waits too long for a call is closed; its client's
	// next call is not sent (and says so), and a new connection works.
	rec := newStatsRecorder()
	srv, _ := startServer(t, drpc.WithLimits(drpc.Limits{IdleTimeout: 20 * time.Millisecond}), drpc.WithStats(rec))
	c := connect(t, srv)
	echo(t, c, "before")
	sessionsDropTo(t, srv, 0)
	assert.Equal(t, 1, rec.event(drpc.EventIdleTimeout))

	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("after")})
	require.ErrorIs(t, err, drpc.ErrNotSent)
	echo(t, connect(t, srv), "a new connection")
}

func TestIdleTimeoutSparesCallsInFlight(t *testing.T) {
	// A call that runs longer than the idle timeout keeps its session.
	srv, mod := startServer(t, drpc.WithLimits(drpc.Limits{IdleTimeout: 20 * time.Millisecond}))
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod)
	eventually(t, func() bool { return mod.blocked.Load() == 1 })
	// Many looks of the idle sweep pass while the call runs.
	for range 10 {
		other := drpc.NewClientConnection(srv.SocketPath())
		require.NoError(t, other.Connect(context.Background()))
		echo(t, other, "other sessions come and go")
		require.NoError(t, other.Close())
		sessionsDropTo(t, srv, 1)
	}
	close(mod.block)
	require.NoError(t, receive(t, inFlight, "the long call").err)
}

func TestMessageTimeout(t *testing.T) {
	// A client that sends the first packet of a message and not the rest
	// is disconnected after the message timeout, logged once.
	rec := newStatsRecorder()
	log := &logRecorder{}
	srv, _ := startServer(t, drpc.WithLimits(drpc.Limits{MessageTimeout: 20 * time.Millisecond}), drpc.WithStats(rec), drpc.WithLogger(slog.New(log)))
	c := dialPacket(t, srv.SocketPath())
	msg := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 1, Body: make([]byte, threeChunks)})
	require.NoError(t, writePackets(c, messagePackets(msg)[0]))
	waitClosed(t, c)
	sessionsDropTo(t, srv, 0)
	assert.Equal(t, 1, rec.event(drpc.EventMessageTimeout))
	logged := log.find("dRPC session closed: the rest of a message did not arrive in time")
	require.Len(t, logged, 1)
	assert.Equal(t, strconv.Itoa(os.Getuid()), logged[0]["uid"])
}

func TestPeerLogsAreBounded(t *testing.T) {
	// A peer that sends many malformed calls gets one record per kind in
	// an interval, and a summary of the others when it ends.
	defer drpc.SetPeerLogInterval(time.Hour)()
	log := &logRecorder{}
	srv, _ := startServer(t, drpc.WithLogger(slog.New(log)))
	const bad = 50
	for range bad {
		c := dialPacket(t, srv.SocketPath())
		require.NoError(t, writePackets(c, []byte("not a packet")))
		waitClosed(t, c)
	}
	c := connect(t, srv)
	for range bad {
		_, err := c.SendMsg(context.Background(), &drpc.Call{Module: 77, Method: 7701})
		require.NoError(t, err)
	}
	require.NoError(t, srv.Shutdown(context.Background()))

	assert.Len(t, log.find("dRPC session closed: malformed packet"), 1)
	unknown := log.find("dRPC call refused: no module with this ID is registered")
	require.Len(t, unknown, 1)
	assert.NotContains(t, unknown[0], "err", "no empty err=<nil> field")
	left := map[string]string{}
	for _, r := range log.find("dRPC: more records of this kind from this peer were left out") {
		left[r["kind"]] = r["left_out"]
	}
	assert.Equal(t, map[string]string{"malformed packet": strconv.Itoa(bad - 1), "unknown method": strconv.Itoa(bad - 1)}, left)
}

func TestPeerLogsResumeAfterTheInterval(t *testing.T) {
	// Once the interval has passed, the summary comes by itself, and the
	// next record of the kind is logged again.
	defer drpc.SetPeerLogInterval(20 * time.Millisecond)()
	log := &logRecorder{}
	srv, _ := startServer(t, drpc.WithLogger(slog.New(log)))
	c := connect(t, srv)
	call := func() {
		_, err := c.SendMsg(context.Background(), &drpc.Call{Module: 77, Method: 7701})
		require.NoError(t, err)
	}
	call()
	call()
	eventually(t, func() bool { return len(log.find("dRPC: more records of this kind from this peer were left out")) == 1 },
		"the summary of the second call")
	call()
	assert.Len(t, log.find("dRPC call refused: no module with this ID is registered"), 2)
}
