package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The binaries the tests run, built once by TestMain.
var (
	binDir   string
	drpcBin  string
	agentBin string
	// agentSkip says why the agent's tests are skipped, if it could not
	// be built.
	agentSkip string
)

// agentDir is the agent module, seen from this package's folder.
var agentDir = filepath.Join("..", "..", "..", "agent")

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "drpc-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Other users run the binary too (the permission test).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	drpcBin = filepath.Join(dir, "drpc")
	agentBin = filepath.Join(dir, "drpc-agent")

	var (
		wg       sync.WaitGroup
		drpcErr  error
		drpcOut  []byte
		agentOut []byte
		agentErr error
	)
	wg.Go(func() {
		// Built as users build it, without -race: the commands' concurrent
		// code (bench) is also tested in-process, under -race, in package
		// app.
		drpcOut, drpcErr = exec.Command("go", "build", "-o", drpcBin, ".").CombinedOutput()
	})
	wg.Go(func() {
		if _, err := os.Stat(filepath.Join(agentDir, "cmd", "drpc-agent")); err != nil {
			agentErr = fmt.Errorf("no agent/cmd/drpc-agent in this tree: %w", err)
			return
		}
		cmd := exec.Command("go", "build", "-o", agentBin, "./cmd/drpc-agent")
		cmd.Dir = agentDir
		agentOut, agentErr = cmd.CombinedOutput()
	})
	wg.Wait()
	if drpcErr != nil {
		fmt.Fprintf(os.Stderr, "go build drpc: %v\n%s", drpcErr, drpcOut)
		return 1
	}
	if agentErr != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(agentOut)), "\n")
		agentSkip = fmt.Sprintf("the agent (agent/cmd/drpc-agent) does not build yet: %v %s", agentErr, first)
	}
	return m.Run()
}

// result is what a run of the binary gave.
type result struct {
	stdout, stderr string
	code           int
}

// runOpts change how toolWith starts the binary.
type runOpts struct {
	stdin string
	// uid, if not 0, runs the process as that user and group.
	uid uint32
}

// tool runs the binary with args and no stdin.
func tool(t *testing.T, args ...string) result {
	t.Helper()
	return toolWith(t, runOpts{}, args...)
}

// toolWith runs the binary with args.
func toolWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, drpcBin, args...)
	cmd.Stdin = strings.NewReader(o.stdin)
	if o.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: o.uid, Gid: o.uid}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err, "run drpc %v", args)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// assertOneLineError checks that stderr is one line "drpc: ..." holding
// every one of want, with no stack trace.
func assertOneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	msg := strings.TrimSuffix(r.stderr, "\n")
	assert.NotContains(t, msg, "\n", "stderr must be one line")
	assert.True(t, strings.HasPrefix(msg, "drpc: "), "stderr %q", msg)
	assert.NotContains(t, msg, "goroutine ")
	assert.NotContains(t, msg, "panic")
	for _, w := range want {
		assert.Contains(t, msg, w)
	}
}

// socketDir returns a new short directory for sockets (paths must fit in
// 108 bytes), that every user may enter.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "drpc")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServeEcho runs `drpc serve-echo` on a new socket, waits until it
// serves, and stops it with SIGINT at the end of the test, checking that
// it exits 0 and removes its socket.
func startServeEcho(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(socketDir(t), "echo.sock")
	cmd := exec.Command(drpcBin, "serve-echo", "--socket", sock)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		require.Contains(t, line, "serving the echo", "serve-echo: %s", stderr.String())
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve-echo did not start: %s", stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "serve-echo exit: %s", stderr.String())
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("serve-echo did not stop on SIGINT")
		}
		_, err := os.Stat(sock)
		assert.ErrorIs(t, err, fs.ErrNotExist, "serve-echo left its socket")
	})
	return sock
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeMode is how a fake server answers: it is not a dRPC server.
type fakeMode int

const (
	fakeGarbage     fakeMode = iota // a short packet with no chunk header
	fakeBadEnvelope                 // a valid chunk holding bytes that are not a Response
	fakeClose                       // reads the call and hangs up
	fakeSilent                      // reads the call and never answers
)

// startFake serves a SOCK_SEQPACKET socket that answers every call as mode
// says, until the end of the test.
func startFake(t *testing.T, mode fakeMode) string {
	t.Helper()
	sock := filepath.Join(socketDir(t), "fake.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	require.NoError(t, err)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	stop := t.Context().Done()
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				buf := make([]byte, 1<<17)
				if _, err := c.Read(buf); err != nil {
					return
				}
				switch mode {
				case fakeGarbage:
					_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request"[:20]))
				case fakeBadEnvelope:
					var hdr [24]byte
					binary.LittleEndian.PutUint64(hdr[0:], 4)
					binary.LittleEndian.PutUint64(hdr[8:], 4)
					binary.LittleEndian.PutUint32(hdr[16:], 0)
					binary.LittleEndian.PutUint32(hdr[20:], 1)
					_, _ = c.Write(append(hdr[:], 0xff, 0xff, 0xff, 0xff))
				case fakeClose:
					return
				case fakeSilent:
					<-stop
					return
				}
				_, _ = c.Read(buf) // wait for the client to hang up
			})
		}
	}()
	return sock
}

// TestVersion checks that version names the binary and its modules.
func TestVersion(t *testing.T) {
	r := tool(t, "version")
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "drpc "), r.stdout)
	assert.Contains(t, r.stdout, "github.com/cc532012/drpc/tools")
	assert.Contains(t, r.stdout, "github.com/cc532012/drpc/drpc")
}

// TestCompletion checks cobra's completion command and the completion of
// method names.
func TestCompletion(t *testing.T) {
	r := tool(t, "completion", "bash")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "bash completion")

	r = tool(t, "__complete", "call", "--method", "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "drpc.srv.v1.SrvService/NotifyReady")
}
