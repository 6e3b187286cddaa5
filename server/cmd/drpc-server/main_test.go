package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The binaries these tests run, built by TestMain into a temp directory.
var (
	binDir       string
	serverBin    string
	engineBin    string
	agentBin     string
	agentBuild   sync.Once
	agentBuildOK bool
	agentOutput  string
)

// repo is the repository root, seen from this package.
var repo = filepath.Join("..", "..", "..")

// goBuild builds pkg of the module in dir into out, as users build it
// (each module on its own: GOWORK=off).
func goBuild(dir, pkg, out string) (string, error) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// TestMain builds drpc-server and drpc-engine once.
func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "drpc-server-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(binDir, "drpc-server")
	engineBin = filepath.Join(binDir, "drpc-engine")
	agentBin = filepath.Join(binDir, "drpc-agent")
	for _, b := range []struct{ dir, pkg, out string }{
		{".", ".", serverBin},
		{filepath.Join(repo, "tools"), "./cmd/drpc-engine", engineBin},
	} {
		if out, err := goBuild(b.dir, b.pkg, b.out); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.out, err, out)
			os.RemoveAll(binDir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// buildAgent builds drpc-agent from ../agent the first time a test needs it.
func buildAgent(t *testing.T) {
	t.Helper()
	agentBuild.Do(func() {
		agentOutput, _ = goBuild(filepath.Join(repo, "agent"), "./cmd/drpc-agent", agentBin)
		_, err := os.Stat(agentBin)
		agentBuildOK = err == nil
	})
	require.True(t, agentBuildOK, "build drpc-agent from ../agent: %s", agentOutput)
}

// tempDir is a temp directory with a short path (socket paths are limited).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dp")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanEnv is the environment of a child, without systemd's variables.
func cleanEnv(extra ...string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "NOTIFY_SOCKET" || k == "LISTEN_FDS" || k == "LISTEN_PID" || k == "LISTEN_FDNAMES" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// run runs a binary to completion and returns its exit code and output.
func run(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		require.NoError(t, err)
	}
	return code, out.String(), errOut.String()
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a child process started in the background.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr *syncBuffer
	notify *net.UnixConn // the NOTIFY_SOCKET of the child, if any
	done   chan struct{}
}

type procOptions struct {
	notify   bool       // give the child a NOTIFY_SOCKET of its own
	activate []*os.File // pass these as fds 3.. with LISTEN_FDS and LISTEN_PID
}

// startProc starts bin args in the background; the test's end kills it.
func startProc(t *testing.T, bin string, opts procOptions, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(bin) + " " + strings.Join(args, " "), stderr: &syncBuffer{}, done: make(chan struct{})}
	var env []string
	if opts.notify {
		path := filepath.Join(tempDir(t), "notify")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		p.notify = conn
		env = append(env, "NOTIFY_SOCKET="+path)
	}
	if opts.activate != nil {
		// systemd sets LISTEN_PID to the service's own pid: a shell that
		// execs the binary keeps its pid.
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", `export LISTEN_PID=$$; exec "$0" "$@"`, bin}, args...)...)
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(opts.activate)))
		p.cmd.ExtraFiles = opts.activate
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Env = cleanEnv(env...)
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.stdout = bufio.NewReader(out)
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// readNotify returns the next message the child sent to its NOTIFY_SOCKET.
func (p *proc) readNotify(t *testing.T) string {
	t.Helper()
	require.NoError(t, p.notify.SetReadDeadline(time.Now().Add(15*time.Second)))
	buf := make([]byte, 4096)
	n, err := p.notify.Read(buf)
	require.NoError(t, err, "no notification from %s; stderr: %s", p.name, p.stderr.String())
	return string(buf[:n])
}

// wait waits for the child to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit; stderr: %s", p.name, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	return p.wait(t)
}

// startServer starts `drpc-server start args...` and waits for READY=1.
func startServer(t *testing.T, opts procOptions, args ...string) *proc {
	t.Helper()
	opts.notify = true
	p := startProc(t, serverBin, opts, append([]string{"start"}, args...)...)
	msg := p.readNotify(t)
	require.True(t, strings.HasPrefix(msg, "READY=1"), msg)
	return p
}

// writeConfig writes a configuration file for a server on dir that pings
// every 100ms, plus the extra lines.
func writeConfig(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "server.yaml")
	lines := append([]string{
		"socket_dir: " + dir,
		"keys_dir: " + filepath.Join(dir, "keys"),
		"ping_interval: 100ms",
		"attempt_timeout: 300ms",
		"call_timeout: 3s",
		"log_level: debug",
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
	code, out, errOut := run(t, serverBin, "status", "--socket-dir", dir, "--json")
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

func startEngine(t *testing.T, dir string, index int) *proc {
	t.Helper()
	return startProc(t, engineBin, procOptions{}, "--socket-dir", dir, "--index", strconv.Itoa(index))
}
