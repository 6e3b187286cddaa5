package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

// repo is the repository root, seen from this package.
var repo = filepath.Join("..", "..", "..")

// The programs these tests run, each built once, as users build it.
var (
	serverProgram = &daemontest.Program{Name: "drpc-server", Module: "."}
	engineProgram = &daemontest.Program{Name: "drpc-engine", Module: filepath.Join(repo, "tools"), Package: "./cmd/drpc-engine"}
	agentProgram  = &daemontest.Program{Name: "drpc-agent", Module: filepath.Join(repo, "agent"), Package: "./cmd/drpc-agent"}
)

func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }

// run runs prog to completion and returns its exit code and output.
func run(t *testing.T, prog *daemontest.Program, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := daemontest.Run(t, exec.Command(prog.Path(t), args...))
	return r.Code, r.Stdout, r.Stderr
}

// startServer starts `drpc-server start args...` and waits for READY=1.
func startServer(t *testing.T, opts daemontest.ProcessOptions, args ...string) *daemontest.Process {
	t.Helper()
	opts.Notify = true
	p := daemontest.Start(t, serverProgram.Path(t), opts, append([]string{"start"}, args...)...)
	p.WaitReady(t)
	return p
}

// writeConfig writes a configuration file for a server on dir that pings
// every 100ms, with its management service on a free port of 127.0.0.1
// without TLS (mgmt_test.go tests it with TLS), plus the extra lines.
func writeConfig(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	path := filepath.Join(daemontest.SocketDir(t), "server.yaml")
	lines := append([]string{
		"socket_dir: " + dir,
		"keys_dir: " + filepath.Join(dir, "keys"),
		"ping_interval: 100ms",
		"attempt_timeout: 300ms",
		"call_timeout: 3s",
		"log_level: debug",
		"port: 0",
		"listen_address: 127.0.0.1",
		"transport_config: {allow_insecure: true}",
	}, extra...)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// statusJSON is what the tests read of `drpc-server status --json`.
type statusJSON struct {
	Server struct {
		PID            int    `json:"pid"`
		Socket         string `json:"socket"`
		EventsReceived int    `json:"events_received"`
	} `json:"server"`
	Engines []struct {
		Index    uint32  `json:"index"`
		Rank     uint32  `json:"rank"`
		State    string  `json:"state"`
		Socket   string  `json:"socket"`
		LastPing *string `json:"last_ping"`
		RankSet  bool    `json:"rank_set"`
		PID      int     `json:"pid"`
		URI      *string `json:"uri"`
	} `json:"engines"`
	Events []struct {
		Sequence uint64 `json:"sequence"`
		Msg      string `json:"msg"`
		Rank     uint32 `json:"rank"`
	} `json:"events"`
}

// statusCalls counts the GetStatus calls the tests made (for the metrics).
var statusCalls atomic.Int64

func status(t *testing.T, dir string) statusJSON {
	t.Helper()
	statusCalls.Add(1)
	code, out, errOut := run(t, serverProgram, "status", "--socket-dir", dir, "--json")
	require.Equal(t, 0, code, errOut)
	var s statusJSON
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	return s
}

// engineIs reports whether the status shows engine index in state.
func engineIs(s statusJSON, index uint32, state string) bool {
	for _, e := range s.Engines {
		if e.Index == index {
			return e.State == state && (state != "ready" || (e.RankSet && e.LastPing != nil))
		}
	}
	return false
}

func startEngine(t *testing.T, dir string, index int) *daemontest.Process {
	t.Helper()
	return daemontest.Start(t, engineProgram.Path(t), daemontest.ProcessOptions{}, "--socket-dir", dir, "--index", strconv.Itoa(index))
}
