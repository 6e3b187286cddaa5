package srv

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// Limits of a RAS event as the server keeps it. DAOS's engine fills these
// fields from short fixed-size strings (identifiers, UUIDs, a one-line
// message), so real events are far below them; an event over them comes
// from a broken or hostile sender. Over-long fields are cut, not refused,
// so that the event itself is not lost: see BoundEvent.
const (
	// MaxEventTextBytes bounds the free-text fields: msg, str_info and
	// engine_state_info.error.
	MaxEventTextBytes = 4096
	// MaxEventFieldBytes bounds every other string field: timestamp,
	// hostname, hw_id, job_id, pool_uuid, cont_uuid, obj_id, ctl_op.
	MaxEventFieldBytes = 256
	// MaxEventSvcReps bounds pool_svc_info.svc_reps (a pool service has a
	// handful of replicas).
	MaxEventSvcReps = 256
	// MaxEventBytes bounds the encoded size of an event that BoundEvent
	// returns: what the limits above allow, with room to spare.
	MaxEventBytes = 16 << 10
	// MaxLogFieldBytes bounds each string of the "cluster event" log line.
	MaxLogFieldBytes = 256
)

// BoundEvent returns ev, or a copy of it with every field over its limit
// cut (strings at a character boundary, with "...[N bytes cut]" at the
// end; svc_reps to its first MaxEventSvcReps), and the fields it cut, each
// as "name (N bytes)" or "svc_reps (N replicas)". The result's encoded size
// is at most MaxEventBytes. ev is not changed.
func BoundEvent(ev *srvv1.RASEvent) (*srvv1.RASEvent, []string) {
	if ev == nil {
		return nil, nil
	}
	var cut []string
	var out *srvv1.RASEvent
	edit := func() *srvv1.RASEvent {
		if out == nil {
			out = proto.CloneOf(ev)
		}
		return out
	}
	for _, f := range []struct {
		name  string
		limit int
		get   func(*srvv1.RASEvent) string
		set   func(*srvv1.RASEvent, string)
	}{
		{"msg", MaxEventTextBytes, (*srvv1.RASEvent).GetMsg, func(e *srvv1.RASEvent, s string) { e.Msg = s }},
		{"timestamp", MaxEventFieldBytes, (*srvv1.RASEvent).GetTimestamp, func(e *srvv1.RASEvent, s string) { e.Timestamp = s }},
		{"hostname", MaxEventFieldBytes, (*srvv1.RASEvent).GetHostname, func(e *srvv1.RASEvent, s string) { e.Hostname = s }},
		{"hw_id", MaxEventFieldBytes, (*srvv1.RASEvent).GetHwId, func(e *srvv1.RASEvent, s string) { e.HwId = s }},
		{"job_id", MaxEventFieldBytes, (*srvv1.RASEvent).GetJobId, func(e *srvv1.RASEvent, s string) { e.JobId = s }},
		{"pool_uuid", MaxEventFieldBytes, (*srvv1.RASEvent).GetPoolUuid, func(e *srvv1.RASEvent, s string) { e.PoolUuid = s }},
		{"cont_uuid", MaxEventFieldBytes, (*srvv1.RASEvent).GetContUuid, func(e *srvv1.RASEvent, s string) { e.ContUuid = s }},
		{"obj_id", MaxEventFieldBytes, (*srvv1.RASEvent).GetObjId, func(e *srvv1.RASEvent, s string) { e.ObjId = s }},
		{"ctl_op", MaxEventFieldBytes, (*srvv1.RASEvent).GetCtlOp, func(e *srvv1.RASEvent, s string) { e.CtlOp = s }},
		{"str_info", MaxEventTextBytes, (*srvv1.RASEvent).GetStrInfo, func(e *srvv1.RASEvent, s string) {
			e.ExtendedInfo = &srvv1.RASEvent_StrInfo{StrInfo: s}
		}},
		{"engine_state_info.error", MaxEventTextBytes,
			func(e *srvv1.RASEvent) string { return e.GetEngineStateInfo().GetError() },
			func(e *srvv1.RASEvent, s string) { e.GetEngineStateInfo().Error = s }},
	} {
		if s := f.get(ev); len(s) > f.limit {
			f.set(edit(), Shorten(s, f.limit))
			cut = append(cut, fmt.Sprintf("%s (%d bytes)", f.name, len(s)))
		}
	}
	if reps := ev.GetPoolSvcInfo().GetSvcReps(); len(reps) > MaxEventSvcReps {
		edit().GetPoolSvcInfo().SvcReps = reps[:MaxEventSvcReps:MaxEventSvcReps]
		cut = append(cut, fmt.Sprintf("svc_reps (%d replicas)", len(reps)))
	}
	if out == nil {
		return ev, nil
	}
	return out, cut
}

// Shorten returns s if it is at most limit bytes, and otherwise its
// beginning, cut at a character boundary, followed by "...[N bytes cut]",
// in at most limit bytes (limit must leave room for that marker: 32 bytes
// or more).
func Shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	keep := max(limit-len(cutMarker(len(s))), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + cutMarker(len(s)-keep)
}

func cutMarker(n int) string { return fmt.Sprintf("...[%d bytes cut]", n) }
