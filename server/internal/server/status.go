package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	controlv1drpc "github.com/cc532012/drpc/api/control/v1/controlv1drpc"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	"github.com/cc532012/drpc/server/internal/control"
)

// ErrNotRunning: no server answers on the socket.
var ErrNotRunning = errors.New("no server is running")

// ErrNoPermission: this user may not connect to the server's socket.
var ErrNoPermission = errors.New("permission denied")

// permissionError explains EACCES on the server's socket in one line: the
// socket's mode and owner (when this user may see them) and this process's
// uid.
func permissionError(socket string) error {
	st, err := os.Stat(socket)
	if err != nil {
		return fmt.Errorf("%w: this user may not enter the directory of %s: run status as the server's user or root", ErrNoPermission, socket)
	}
	owner := ""
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf(", owner uid %d gid %d", sys.Uid, sys.Gid)
	}
	return fmt.Errorf("%w connecting to %s (mode %#o%s, this process uid %d): run status as the server's user or root",
		ErrNoPermission, socket, st.Mode().Perm(), owner, os.Geteuid())
}

// FetchStatus asks the server on socket for its status (control module,
// GetStatus), with every event it keeps.
func FetchStatus(ctx context.Context, socket string) (*controlv1.GetStatusResp, error) {
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w: %s does not exist: start the server, or give its --socket-dir", ErrNotRunning, socket)
		case errors.Is(err, os.ErrPermission):
			return nil, permissionError(socket)
		}
		return nil, fmt.Errorf("%w on %s: %w", ErrNotRunning, socket, err)
	}
	defer conn.Close()
	resp, err := controlv1drpc.NewControlServiceClient(conn).GetStatus(ctx, &controlv1.GetStatusReq{})
	if err != nil {
		var f *drpc.Failure
		if errors.As(err, &f) && f.Status() == drpc.StatusUnknownModule {
			return nil, fmt.Errorf("the server on %s does not serve the status module (not a drpc-server?): %w", socket, err)
		}
		return nil, fmt.Errorf("status of the server on %s: %w", socket, err)
	}
	return resp, nil
}

// StatusJSON is the JSON form of `drpc-server status --json`.
type StatusJSON struct {
	Server    ServerJSON     `json:"server"`
	Engines   []EngineJSON   `json:"engines"`
	Events    []EventJSON    `json:"events"`
	Evictions []EvictionJSON `json:"evictions"`
}

// ServerJSON describes the server process.
type ServerJSON struct {
	PID            int32      `json:"pid"`
	Socket         string     `json:"socket"`
	SocketDir      string     `json:"socket_dir"`
	Started        *time.Time `json:"started"`
	Version        string     `json:"version"`
	EventsReceived uint64     `json:"events_received"`
	EventsKept     uint32     `json:"events_kept"`
	MaxEvents      uint32     `json:"max_events"`
	// System, MgmtAddress and MgmtTLS describe the management service
	// (gRPC, for the agents).
	System      string `json:"system,omitempty"`
	MgmtAddress string `json:"mgmt_address,omitempty"`
	MgmtTLS     bool   `json:"mgmt_tls"`
	// EvictionsReceived and HandlesEvicted count the pool evictions asked
	// for and the handles the engines evicted, since the start.
	EvictionsReceived uint64 `json:"evictions_received"`
	HandlesEvicted    uint64 `json:"handles_evicted"`
}

// EvictionJSON is one pool eviction an agent asked for, with each engine's
// answer.
type EvictionJSON struct {
	Received *time.Time           `json:"received"`
	Pool     string               `json:"pool"`
	Handles  []string             `json:"handles"`
	Machine  string               `json:"machine"`
	Peer     string               `json:"peer"`
	PeerName string               `json:"peer_name,omitempty"`
	Count    int32                `json:"count"`
	Engines  []EngineEvictionJSON `json:"engines"`
}

// EngineEvictionJSON is what one engine answered to an eviction.
type EngineEvictionJSON struct {
	Index  uint32 `json:"index"`
	Rank   uint32 `json:"rank"`
	Count  int32  `json:"count"`
	Status int32  `json:"status"`
	Error  string `json:"error,omitempty"`
}

// EngineJSON is one engine; State is "ready", "unavailable" or "stopped".
// PID, Incarnation and URI are nil (null) when the server does not know
// them: an engine it adopted at start-up (found running) is known by its
// socket, and by the process listening on it, until it notifies ready.
type EngineJSON struct {
	Index       uint32     `json:"index"`
	Rank        uint32     `json:"rank"`
	State       string     `json:"state"`
	Socket      string     `json:"socket"`
	LastPing    *time.Time `json:"last_ping"`
	Notified    *time.Time `json:"notified"`
	StateSince  *time.Time `json:"state_since"`
	PID         *int32     `json:"pid"`
	Incarnation *uint64    `json:"incarnation"`
	URI         *string    `json:"uri"`
	RankSet     bool       `json:"rank_set"`
	Error       string     `json:"error,omitempty"`
}

// EventJSON is one RAS event, with the fields of RASEvent that are set.
type EventJSON struct {
	Received    *time.Time `json:"received"`
	Sequence    uint64     `json:"sequence"`
	PID         int32      `json:"pid"`
	ID          uint32     `json:"id"`
	Msg         string     `json:"msg"`
	Timestamp   string     `json:"timestamp,omitempty"`
	Type        uint32     `json:"type"`
	Severity    uint32     `json:"severity"`
	Hostname    string     `json:"hostname,omitempty"`
	Rank        uint32     `json:"rank"`
	Incarnation uint64     `json:"incarnation,omitempty"`
	HWID        string     `json:"hw_id,omitempty"`
	ProcID      uint64     `json:"proc_id,omitempty"`
	ThreadID    uint64     `json:"thread_id,omitempty"`
	JobID       string     `json:"job_id,omitempty"`
	PoolUUID    string     `json:"pool_uuid,omitempty"`
	ContUUID    string     `json:"cont_uuid,omitempty"`
	ObjID       string     `json:"obj_id,omitempty"`
	CtlOp       string     `json:"ctl_op,omitempty"`
	StrInfo     string     `json:"str_info,omitempty"`
	EngineState *struct {
		Instance uint32 `json:"instance"`
		Errored  bool   `json:"errored"`
		Error    string `json:"error,omitempty"`
	} `json:"engine_state_info,omitempty"`
	PoolSvc *struct {
		SvcReps []uint32 `json:"svc_reps"`
		Version uint64   `json:"version"`
	} `json:"pool_svc_info,omitempty"`
}

func jsonTime(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime().Local()
	return &t
}

// NewStatusJSON converts a status reply to its JSON form.
func NewStatusJSON(resp *controlv1.GetStatusResp) StatusJSON {
	out := StatusJSON{Engines: []EngineJSON{}, Events: []EventJSON{}, Evictions: []EvictionJSON{}}
	if s := resp.GetServer(); s != nil {
		out.Server = ServerJSON{
			PID: s.GetPid(), Socket: s.GetSocket(), SocketDir: s.GetSocketDir(), Started: jsonTime(s.GetStarted()),
			Version: s.GetVersion(), EventsReceived: s.GetEventsReceived(), EventsKept: s.GetEventsKept(),
			MaxEvents: s.GetMaxEvents(),
			System:    s.GetSystem(), MgmtAddress: s.GetMgmtAddress(), MgmtTLS: s.GetMgmtTls(),
			EvictionsReceived: s.GetEvictionsReceived(), HandlesEvicted: s.GetHandlesEvicted(),
		}
	}
	for _, ev := range resp.GetEvictions() {
		j := EvictionJSON{
			Received: jsonTime(ev.GetReceived()), Pool: ev.GetPool(), Handles: ev.GetHandles(), Machine: ev.GetMachine(),
			Peer: ev.GetPeer(), PeerName: ev.GetPeerName(), Count: ev.GetCount(), Engines: []EngineEvictionJSON{},
		}
		if j.Handles == nil {
			j.Handles = []string{}
		}
		for _, e := range ev.GetEngines() {
			j.Engines = append(j.Engines, EngineEvictionJSON{Index: e.GetIndex(), Rank: e.GetRank(), Count: e.GetCount(), Status: e.GetStatus(), Error: e.GetError()})
		}
		out.Evictions = append(out.Evictions, j)
	}
	for _, e := range resp.GetEngines() {
		j := EngineJSON{
			Index: e.GetIndex(), Rank: e.GetRank(), State: control.StateName(e.GetState()), Socket: e.GetSocket(),
			LastPing: jsonTime(e.GetLastPing()), Notified: jsonTime(e.GetNotified()), StateSince: jsonTime(e.GetStateSince()),
			RankSet: e.GetRankSet(), Error: e.GetError(),
		}
		if pid := e.GetPid(); pid != 0 {
			j.PID = &pid
		}
		if e.GetNotified() != nil { // else adopted, not notified: unknown
			inc, uri := e.GetIncarnation(), e.GetUri()
			j.Incarnation, j.URI = &inc, &uri
		}
		out.Engines = append(out.Engines, j)
	}
	for _, e := range resp.GetEvents() {
		ev := e.GetEvent()
		j := EventJSON{
			Received: jsonTime(e.GetReceived()), Sequence: e.GetSequence(), PID: e.GetPid(),
			ID: ev.GetId(), Msg: ev.GetMsg(), Timestamp: ev.GetTimestamp(), Type: ev.GetType(), Severity: ev.GetSeverity(),
			Hostname: ev.GetHostname(), Rank: ev.GetRank(), Incarnation: ev.GetIncarnation(), HWID: ev.GetHwId(),
			ProcID: ev.GetProcId(), ThreadID: ev.GetThreadId(), JobID: ev.GetJobId(), PoolUUID: ev.GetPoolUuid(),
			ContUUID: ev.GetContUuid(), ObjID: ev.GetObjId(), CtlOp: ev.GetCtlOp(), StrInfo: ev.GetStrInfo(),
		}
		if es := ev.GetEngineStateInfo(); es != nil {
			j.EngineState = &struct {
				Instance uint32 `json:"instance"`
				Errored  bool   `json:"errored"`
				Error    string `json:"error,omitempty"`
			}{es.GetInstance(), es.GetErrored(), es.GetError()}
		}
		if ps := ev.GetPoolSvcInfo(); ps != nil {
			j.PoolSvc = &struct {
				SvcReps []uint32 `json:"svc_reps"`
				Version uint64   `json:"version"`
			}{ps.GetSvcReps(), ps.GetVersion()}
		}
		out.Events = append(out.Events, j)
	}
	return out
}

// WriteStatusJSON writes the status as one indented JSON object.
func WriteStatusJSON(w io.Writer, resp *controlv1.GetStatusResp) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewStatusJSON(resp))
}

// WriteStatusText writes the status for people: the server, a table of the
// engines and the last events, with times relative to now.
func WriteStatusText(w io.Writer, resp *controlv1.GetStatusResp, now time.Time) error {
	st := NewStatusJSON(resp)
	var b strings.Builder
	s := st.Server
	fmt.Fprintf(&b, "server: pid %d, socket %s, version %s", s.PID, s.Socket, s.Version)
	if s.Started != nil {
		fmt.Fprintf(&b, ", up %s", ago(*s.Started, now))
	}
	b.WriteString("\n")
	if s.MgmtAddress != "" {
		security := "mutual TLS"
		if !s.MgmtTLS {
			security = "no TLS (allow_insecure)"
		}
		fmt.Fprintf(&b, "management service: system %s, listening on %s, %s\n", s.System, s.MgmtAddress, security)
	}
	b.WriteString("\n")
	if len(st.Engines) == 0 {
		b.WriteString("engines: none has notified ready\n")
	} else {
		fmt.Fprintf(&b, "engines: %d\n", len(st.Engines))
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INDEX\tRANK\tSTATE\tSINCE\tLAST PING\tPID\tSOCKET")
		for _, e := range st.Engines {
			rank := fmt.Sprint(e.Rank)
			if !e.RankSet {
				rank += " (not set)"
			}
			lastPing := "never"
			if e.LastPing != nil {
				lastPing = ago(*e.LastPing, now) + " ago"
			}
			since := "-"
			if e.StateSince != nil {
				since = ago(*e.StateSince, now)
			}
			pid := "?"
			if e.PID != nil {
				pid = fmt.Sprint(*e.PID)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Index, rank, e.State, since, lastPing, pid, e.Socket)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, e := range st.Engines {
			if e.Notified == nil {
				fmt.Fprintf(&b, "engine %d: adopted (found running when the server started): uri and incarnation unknown until it notifies ready\n", e.Index)
			}
			if e.Error != "" {
				fmt.Fprintf(&b, "engine %d: %s\n", e.Index, e.Error)
			}
		}
	}
	b.WriteString("\n")
	if len(st.Events) == 0 {
		fmt.Fprintf(&b, "events: none received (the server keeps the last %d)\n", s.MaxEvents)
	} else {
		fmt.Fprintf(&b, "events: %d received, %d kept (the server keeps the last %d), oldest first:\n", s.EventsReceived, s.EventsKept, s.MaxEvents)
		for _, e := range st.Events {
			when := "?"
			if e.Received != nil {
				when = e.Received.Format(time.RFC3339)
			}
			fmt.Fprintf(&b, "  %s seq %d pid %d: id %d type %d severity %d host %q rank %d: %s\n",
				when, e.Sequence, e.PID, e.ID, e.Type, e.Severity, e.Hostname, e.Rank, e.Msg)
		}
	}
	b.WriteString("\n")
	if len(st.Evictions) == 0 {
		fmt.Fprintf(&b, "pool evictions: none (%d asked for, %d handles evicted)\n", s.EvictionsReceived, s.HandlesEvicted)
	} else {
		fmt.Fprintf(&b, "pool evictions: %d asked for, %d handles evicted; the last %d, oldest first:\n", s.EvictionsReceived, s.HandlesEvicted, len(st.Evictions))
		for _, ev := range st.Evictions {
			when := "?"
			if ev.Received != nil {
				when = ev.Received.Format(time.RFC3339)
			}
			by := ev.Peer
			if ev.PeerName != "" {
				by = ev.PeerName + " (" + ev.Peer + ")"
			}
			var engines []string
			for _, e := range ev.Engines {
				switch {
				case e.Error != "":
					engines = append(engines, fmt.Sprintf("engine %d: unreachable", e.Index))
				case e.Status != 0:
					engines = append(engines, fmt.Sprintf("engine %d: status %d", e.Index, e.Status))
				default:
					engines = append(engines, fmt.Sprintf("engine %d: %d", e.Index, e.Count))
				}
			}
			if len(engines) == 0 {
				engines = []string{"no engine was ready"}
			}
			fmt.Fprintf(&b, "  %s pool %s machine %q asked by %s: %d evicted (%s)\n", when, ev.Pool, ev.Machine, by, ev.Count, strings.Join(engines, ", "))
			for _, h := range ev.Handles {
				fmt.Fprintf(&b, "    handle %s\n", h)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ago formats how long ago t was, rounded for reading.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
