package main

import (
	"encoding/binary"
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

	"github.com/cc532012/drpc/daemon/daemontest"
)

// agentDir is the agent module, seen from this package's folder.
var agentDir = filepath.Join("..", "..", "..", "agent")

// The programs the tests run, each built once. drpc is built as users build
// it, without -race: the commands' concurrent code (bench) is also tested
// in-process, under -race, in package app.
var (
	drpcProgram  = &daemontest.Program{Name: "drpc", Module: "."}
	agentProgram = &daemontest.Program{Name: "drpc-agent", Module: agentDir, Package: "./cmd/drpc-agent"}
)

func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }

// agentPath returns the path of drpc-agent, or skips the test if this tree
// has no agent or it does not build.
func agentPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(agentDir, "cmd", "drpc-agent")); err != nil {
		t.Skipf("no agent/cmd/drpc-agent in this tree: %v", err)
	}
	path, err := agentProgram.Build()
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		t.Skipf("the agent (agent/cmd/drpc-agent) does not build yet: %s", first)
	}
	return path
}

// runOpts change how toolWith starts the binary.
type runOpts struct {
	stdin string
	// uid, if not 0, runs the process as that user and group.
	uid uint32
}

// tool runs the binary with args and no stdin.
func tool(t *testing.T, args ...string) daemontest.Result {
	t.Helper()
	return toolWith(t, runOpts{}, args...)
}

// toolWith runs the binary with args.
func toolWith(t *testing.T, o runOpts, args ...string) daemontest.Result {
	t.Helper()
	cmd := exec.Command(drpcProgram.Path(t), args...)
	cmd.Stdin = strings.NewReader(o.stdin)
	if o.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: o.uid, Gid: o.uid}}
	}
	return daemontest.Run(t, cmd)
}

// assertOneLineError checks that stderr is one line "drpc: ..." holding
// every one of want, with no stack trace.
func assertOneLineError(t *testing.T, r daemontest.Result, want ...string) {
	t.Helper()
	msg := strings.TrimSuffix(r.Stderr, "\n")
	assert.NotContains(t, msg, "\n", "stderr must be one line")
	assert.True(t, strings.HasPrefix(msg, "drpc: "), "stderr %q", msg)
	assert.NotContains(t, msg, "goroutine ")
	assert.NotContains(t, msg, "panic")
	for _, w := range want {
		assert.Contains(t, msg, w)
	}
}

// socketDir returns a new short directory for sockets (daemontest.SocketDir)
// that every user may enter.
func socketDir(t *testing.T) string {
	t.Helper()
	dir := daemontest.SocketDir(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// startServeEcho runs `drpc serve-echo` on a new socket, waits until it
// serves, and stops it with SIGINT at the end of the test, checking that
// it exits 0 and removes its socket.
func startServeEcho(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(socketDir(t), "echo.sock")
	p := daemontest.Start(t, drpcProgram.Path(t), daemontest.ProcessOptions{}, "serve-echo", "--socket", sock)
	ready := make(chan string, 1)
	go func() {
		line, _ := p.Stdout.ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, p.Stdout)
	}()
	select {
	case line := <-ready:
		require.Contains(t, line, "serving the echo", "serve-echo: %s", p.Stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve-echo did not start: %s", p.Stderr.String())
	}
	t.Cleanup(func() {
		assert.Equal(t, 0, p.Stop(t, syscall.SIGINT), "serve-echo exit: %s", p.Stderr.String())
		_, err := os.Stat(sock)
		assert.ErrorIs(t, err, fs.ErrNotExist, "serve-echo left its socket")
	})
	return sock
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
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.True(t, strings.HasPrefix(r.Stdout, "drpc "), r.Stdout)
	assert.Contains(t, r.Stdout, "github.com/cc532012/drpc/tools")
	assert.Contains(t, r.Stdout, "github.com/cc532012/drpc/drpc")
}

// TestCompletion checks cobra's completion command and the completion of
// method names.
func TestCompletion(t *testing.T) {
	r := tool(t, "completion", "bash")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "bash completion")

	r = tool(t, "__complete", "call", "--method", "")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "drpc.srv.v1.SrvService/NotifyReady")
}
