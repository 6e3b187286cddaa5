package drpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// statsRecorder is a drpc.Stats that counts what it is told.
type statsRecorder struct {
	mu       sync.Mutex
	started  map[string]int
	finished map[string]map[drpc.Status]int
	reqBytes map[string]int
	repBytes map[string]int
	events   map[drpc.ServerEvent]int
}

func newStatsRecorder() *statsRecorder {
	return &statsRecorder{
		started:  map[string]int{},
		finished: map[string]map[drpc.Status]int{},
		reqBytes: map[string]int{},
		repBytes: map[string]int{},
		events:   map[drpc.ServerEvent]int{},
	}
}

func (r *statsRecorder) CallStarted(m drpc.Method, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started[m.String()]++
	r.reqBytes[m.String()] += n
}

func (r *statsRecorder) CallFinished(m drpc.Method, st drpc.Status, d time.Duration, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished[m.String()] == nil {
		r.finished[m.String()] = map[drpc.Status]int{}
	}
	r.finished[m.String()][st]++
	r.repBytes[m.String()] += n
}

func (r *statsRecorder) ServerEvent(e drpc.ServerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[e]++
}

func (r *statsRecorder) event(e drpc.ServerEvent) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[e]
}

func TestStats(t *testing.T) {
	rec := newStatsRecorder()
	srv, mod := startServer(t, drpc.WithStats(rec), drpc.WithLimits(drpc.Limits{MaxSessions: 3}), drpc.WithMaxMessageSize(1000))
	c := connect(t, srv)
	ctx := context.Background()
	for range 3 {
		echo(t, c, "12345")
	}
	_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodFail), Body: []byte{byte(drpc.StatusFailure)}})
	require.NoError(t, err)
	_, err = c.SendMsg(ctx, &drpc.Call{Module: 5, Method: 501})
	require.NoError(t, err)
	_, err = c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: make([]byte, 2000)})
	require.NoError(t, err)

	// A client that hangs up during its call.
	hang := connect(t, srv)
	inFlight := blockingCall(t, hang, mod)
	raw := dialPacket(t, srv.SocketPath()) // the third session
	require.NoError(t, hang.Close())
	eventually(t, func() bool { return rec.event(drpc.EventHangUp) == 1 }, "the hang-up should be reported")
	receive(t, inFlight, "the call of the client that hung up")
	sessionsDropTo(t, srv, 2) // c and raw
	eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.finished["block"][drpc.StatusFailure] == 1
	}, "the cut call should be reported finished")

	// With c and raw open, extra takes the last place and extra2 is
	// refused; then a malformed packet.
	extra := connect(t, srv)
	extra2 := connect(t, srv)
	_, _ = extra.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho)})
	_, _ = extra2.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, writePackets(raw, chunkPacket(wire.Header{TotalDataSize: 5, ChunkDataSize: 5, TotalChunks: 2}, []byte("12345"))))
	waitClosed(t, raw)
	eventually(t, func() bool { return rec.event(drpc.EventMalformedPacket) == 1 }, "the malformed packet should be reported")
	// A call is reported finished after its reply is sent: the client may
	// have the reply of extra's echo before the server has reported it.
	eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.finished["echo"][drpc.StatusSuccess] == 4
	}, "extra's echo should be reported finished")
	// A session is reported closed after its connection is: raw's may come
	// after waitClosed has seen the close.
	eventually(t, func() bool { return rec.event(drpc.EventSessionClosed) >= 2 }, "the ended sessions should be reported closed")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, map[string]int{"echo": 4, "fail": 1, "block": 1}, rec.started)
	assert.Equal(t, map[string]map[drpc.Status]int{
		"echo":  {drpc.StatusSuccess: 4},
		"fail":  {drpc.StatusFailure: 1},
		"block": {drpc.StatusFailure: 1},
	}, rec.finished)
	assert.Equal(t, 15, rec.reqBytes["echo"])
	assert.Equal(t, 15, rec.repBytes["echo"])
	assert.Equal(t, 1, rec.events[drpc.EventUnknownMethod])
	assert.Equal(t, 1, rec.events[drpc.EventMessageTooLarge])
	assert.Equal(t, 1, rec.events[drpc.EventHangUp])
	assert.Equal(t, 1, rec.events[drpc.EventSessionRefused])
	assert.GreaterOrEqual(t, rec.events[drpc.EventSessionOpened], 3)
	assert.GreaterOrEqual(t, rec.events[drpc.EventSessionClosed], 2)
}

func TestServerEventNames(t *testing.T) {
	names := map[string]bool{}
	for e := drpc.EventSessionOpened; e <= drpc.EventMessageTimeout; e++ {
		n := e.String()
		assert.NotEqual(t, "unknown_event", n)
		assert.False(t, names[n], "%s twice", n)
		names[n] = true
	}
	assert.Equal(t, "unknown_event", drpc.ServerEvent(0).String())
}
