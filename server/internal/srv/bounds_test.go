package srv

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 64, "short"},
		{strings.Repeat("a", 64), 64, strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), 64, strings.Repeat("a", 47) + "...[18 bytes cut]"},
		{strings.Repeat("a", 1000), 64, strings.Repeat("a", 45) + "...[955 bytes cut]"},
		// A 3-byte character is never split.
		{strings.Repeat("€", 30), 64, strings.Repeat("€", 15) + "...[45 bytes cut]"},
	} {
		got := Shorten(tc.in, tc.limit)
		assert.Equal(t, tc.want, got)
		assert.LessOrEqual(t, len(got), tc.limit)
		assert.True(t, utf8.ValidString(got))
	}
}

func TestBoundEvent(t *testing.T) {
	big := strings.Repeat("x", 8<<20)
	small := &srvv1.RASEvent{Id: 1, Msg: "disk on fire", Hostname: "node1", Rank: 3,
		ExtendedInfo: &srvv1.RASEvent_PoolSvcInfo{PoolSvcInfo: &srvv1.RASEvent_PoolSvcEventInfo{SvcReps: []uint32{0, 1, 2}}}}
	got, cut := BoundEvent(small)
	assert.Same(t, small, got, "an event within the limits is kept as it is")
	assert.Empty(t, cut)

	for _, tc := range []struct {
		name string
		ev   *srvv1.RASEvent
		cut  []string
	}{
		{"msg", &srvv1.RASEvent{Msg: big}, []string{"msg (8388608 bytes)"}},
		{"every string", &srvv1.RASEvent{Msg: big, Timestamp: big, Hostname: big, HwId: big, JobId: big, PoolUuid: big,
			ContUuid: big, ObjId: big, CtlOp: big, ExtendedInfo: &srvv1.RASEvent_StrInfo{StrInfo: big}},
			[]string{"msg (8388608 bytes)", "timestamp (8388608 bytes)", "hostname (8388608 bytes)", "hw_id (8388608 bytes)",
				"job_id (8388608 bytes)", "pool_uuid (8388608 bytes)", "cont_uuid (8388608 bytes)", "obj_id (8388608 bytes)",
				"ctl_op (8388608 bytes)", "str_info (8388608 bytes)"}},
		{"engine error", &srvv1.RASEvent{Msg: big, ExtendedInfo: &srvv1.RASEvent_EngineStateInfo{
			EngineStateInfo: &srvv1.RASEvent_EngineStateEventInfo{Instance: 1, Error: big}}},
			[]string{"msg (8388608 bytes)", "engine_state_info.error (8388608 bytes)"}},
		{"svc reps", &srvv1.RASEvent{Msg: big, ExtendedInfo: &srvv1.RASEvent_PoolSvcInfo{
			PoolSvcInfo: &srvv1.RASEvent_PoolSvcEventInfo{SvcReps: make([]uint32, 1<<20)}}},
			[]string{"msg (8388608 bytes)", "svc_reps (1048576 replicas)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.CloneOf(tc.ev)
			got, cut := BoundEvent(tc.ev)
			assert.Equal(t, tc.cut, cut)
			assert.True(t, proto.Equal(before, tc.ev), "the event given is not changed")
			assert.LessOrEqual(t, proto.Size(got), MaxEventBytes)
			assert.LessOrEqual(t, len(got.GetMsg()), MaxEventTextBytes)
			assert.True(t, strings.HasPrefix(got.GetMsg(), "xxxx"))
			assert.True(t, strings.HasSuffix(got.GetMsg(), " bytes cut]"), got.GetMsg()[len(got.GetMsg())-40:])
			_, err := proto.Marshal(got)
			require.NoError(t, err, "still valid UTF-8")
		})
	}
}

// TestBoundEventWorstCase: every field at its limit (and the largest
// varints) fits in MaxEventBytes.
func TestBoundEventWorstCase(t *testing.T) {
	field, text := strings.Repeat("f", MaxEventFieldBytes), strings.Repeat("t", MaxEventTextBytes)
	reps := make([]uint32, MaxEventSvcReps)
	for i := range reps {
		reps[i] = 1<<32 - 1
	}
	for _, ext := range []any{
		&srvv1.RASEvent_StrInfo{StrInfo: text},
		&srvv1.RASEvent_EngineStateInfo{EngineStateInfo: &srvv1.RASEvent_EngineStateEventInfo{Instance: 1<<32 - 1, Errored: true, Error: text}},
		&srvv1.RASEvent_PoolSvcInfo{PoolSvcInfo: &srvv1.RASEvent_PoolSvcEventInfo{SvcReps: reps, Version: 1<<64 - 1}},
	} {
		ev := &srvv1.RASEvent{Id: 1<<32 - 1, Msg: text, Timestamp: field, Type: 1<<32 - 1, Severity: 1<<32 - 1, Hostname: field,
			Rank: 1<<32 - 1, Incarnation: 1<<64 - 1, HwId: field, ProcId: 1<<64 - 1, ThreadId: 1<<64 - 1, JobId: field,
			PoolUuid: field, ContUuid: field, ObjId: field, CtlOp: field}
		switch e := ext.(type) {
		case *srvv1.RASEvent_StrInfo:
			ev.ExtendedInfo = e
		case *srvv1.RASEvent_EngineStateInfo:
			ev.ExtendedInfo = e
		case *srvv1.RASEvent_PoolSvcInfo:
			ev.ExtendedInfo = e
		}
		got, cut := BoundEvent(ev)
		assert.Empty(t, cut, "at the limits, nothing is cut")
		assert.LessOrEqual(t, proto.Size(got), MaxEventBytes, "%T", ext)
	}
}

// TestClusterEventTooLarge: 10 events of 3 MiB are kept cut to the limits,
// each answered status 0, each logged on one short line that says what
// was cut.
func TestClusterEventTooLarge(t *testing.T) {
	var buf bytes.Buffer
	events := NewEvents(0)
	svc := New(Options{SocketDir: "/x", Registry: &fakeRegistry{}, Events: events,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	client := serveDir(t, svc)
	big := strings.Repeat("m", 1<<20)
	for i := range 10 {
		resp, err := client.ClusterEvent(context.Background(), &srvv1.ClusterEventReq{Sequence: uint64(i),
			Event: &srvv1.RASEvent{Id: 7, Msg: big, Hostname: big, ExtendedInfo: &srvv1.RASEvent_StrInfo{StrInfo: big}}})
		require.NoError(t, err)
		assert.Zero(t, resp.GetStatus())
		assert.EqualValues(t, i, resp.GetSequence())
	}
	kept, total := events.Last(0)
	assert.EqualValues(t, 10, total)
	require.Len(t, kept, 10)
	size := 0
	for _, e := range kept {
		assert.LessOrEqual(t, proto.Size(e.RAS), MaxEventBytes)
		size += proto.Size(e.RAS)
	}
	assert.Less(t, size, 256<<10)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 10)
	for _, line := range lines {
		assert.Less(t, len(line), 2048, "a short log line")
		assert.Contains(t, line, `level=WARN msg="cluster event"`)
		assert.Contains(t, line, `cut="msg (1048576 bytes), hostname (1048576 bytes), str_info (1048576 bytes)"`)
	}
}

// TestEventsBytes: the log drops its oldest events to stay within
// MaxKeptEventBytes, whatever its capacity in events.
func TestEventsBytes(t *testing.T) {
	l := NewEvents(10000)
	ev := &srvv1.RASEvent{Msg: strings.Repeat("x", MaxEventTextBytes)}
	size := proto.Size(ev)
	fit := MaxKeptEventBytes / size
	for i := range fit + 100 {
		l.Add(Event{Sequence: uint64(i), RAS: ev, Received: time.Unix(int64(i), 0)})
	}
	got, total := l.Last(0)
	assert.EqualValues(t, fit+100, total)
	require.Len(t, got, fit)
	assert.EqualValues(t, 100, got[0].Sequence, "the oldest went first")
	assert.EqualValues(t, fit+99, got[len(got)-1].Sequence)
	kept := 0
	for _, e := range got {
		kept += proto.Size(e.RAS)
	}
	assert.LessOrEqual(t, kept, MaxKeptEventBytes)
	assert.Equal(t, 10000, l.Cap())
}
