package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

// TestServerRestart: a server and two engines; the server stops (killed
// with SIGKILL, as a crash; or SIGTERM, as systemctl restart does, which
// prepares the engines for shutdown first) and a new server starts on the
// same directories. It adopts both engines, which are the same processes,
// without any operator action: they are ready again (rank set, pinged),
// and each engine, called by a new server process, notifies it ready again,
// so that its URI and incarnation are known again.
func TestServerRestart(t *testing.T) {
	tests := []struct {
		name     string
		sig      syscall.Signal
		prepared bool // the first server prepared the engines for shutdown
	}{
		{"SIGKILL then start", syscall.SIGKILL, false},
		{"SIGTERM then start", syscall.SIGTERM, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := daemontest.SocketDir(t)
			cfg := writeConfig(t, dir, "engines:", "  - index: 0", "  - index: 1", "    rank: 7")
			srv := startServer(t, daemontest.ProcessOptions{}, "--config", cfg)
			e0, e1 := startEngine(t, dir, 0), startEngine(t, dir, 1)
			bothReady := func() bool {
				s := status(t, dir)
				return engineIs(s, 0, "ready") && engineIs(s, 1, "ready")
			}
			require.Eventually(t, bothReady, daemontest.WaitFor, daemontest.Tick, "both engines ready")

			code := srv.Stop(t, tc.sig)
			if tc.sig == syscall.SIGTERM {
				require.Equal(t, 0, code, srv.Stderr.String())
				for _, e := range []*daemontest.Process{e0, e1} {
					logged(t, e, `msg="prep shutdown"`)
				}
			}
			require.False(t, e0.Exited() || e1.Exited(), "the engines outlive their server")

			again := startServer(t, daemontest.ProcessOptions{}, "--config", cfg)
			require.Eventually(t, bothReady, daemontest.WaitFor, daemontest.Tick, "both engines ready again; server log:\n%s", again.Stderr.String())
			s := status(t, dir)
			require.Len(t, s.Engines, 2)
			for i, e := range []*daemontest.Process{e0, e1} {
				got := s.Engines[i]
				assert.Equal(t, e.PID(), got.PID, "engine %d is the same process", i)
				assert.Equal(t, filepath.Join(dir, "daos_engine"+string(rune('0'+i))+".sock"), got.Socket)
			}
			assert.EqualValues(t, 7, s.Engines[1].Rank, "the configured rank")
			logged(t, again, `level=INFO msg="engine adopted`)
			logged(t, again, `msg="engines found running at start-up" live_sockets=2 adopted=2`)
			if tc.sig == syscall.SIGKILL {
				logged(t, again, `msg="removed stale socket" path=`+filepath.Join(dir, "daos_server.sock"))
			}

			// The engines notice the new server and notify it: their URI
			// and incarnation are known again.
			for _, e := range []*daemontest.Process{e0, e1} {
				logged(t, e, "a new server process calls this engine: notifying it ready again")
				if tc.prepared {
					logged(t, e, "in use again")
				}
			}
			require.Eventually(t, func() bool {
				s := status(t, dir)
				return len(s.Engines) == 2 && s.Engines[0].URI != nil && s.Engines[1].URI != nil
			}, daemontest.WaitFor, daemontest.Tick, "the engines notified the new server")
			assert.Contains(t, *status(t, dir).Engines[1].URI, "tcp://")
			logged(t, again, `msg="adopted engine notified ready`)

			require.Equal(t, 0, again.Stop(t, syscall.SIGTERM), again.Stderr.String())
			for i, e := range []*daemontest.Process{e0, e1} {
				require.Equal(t, 0, e.Stop(t, syscall.SIGTERM), "engine %d: %s", i, e.Stderr.String())
				assert.Contains(t, e.Stderr.String(), "prepared_for_shutdown=true", "the second server prepared it")
			}
		})
	}
}

// TestStatusAsAnotherUser: status run by a user who may not open the
// server's socket fails with one line that names the socket once and says
// what to do.
func TestStatusAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run status as uid 65534 against a socket only root may open")
	}
	dir := daemontest.SocketDir(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	cmd := exec.Command(serverProgram.Path(t), "status", "--socket-dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := daemontest.Run(t, cmd)
	assert.Equal(t, 1, r.Code, r.Stderr)
	msg := strings.TrimSuffix(r.Stderr, "\n")
	assert.NotContains(t, msg, "\n", "one line")
	sock := filepath.Join(dir, "daos_server.sock")
	assert.Equal(t, "drpc-server: permission denied connecting to "+sock+
		" (mode 0600, owner uid 0 gid 0, this process uid 65534): run status as the server's user or root", msg)
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
}

// TestEngineSeesWhy: an engine the server refuses prints the server's
// reason, with what to do; one started with a relative --socket-dir is
// accepted (the engine makes the path absolute).
func TestEngineSeesWhy(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir, "engines:", "  - index: 0", "  - index: 1"))

	code, _, stderr := run(t, engineProgram, "--socket-dir", dir, "--index", "5")
	assert.Equal(t, 1, code)
	assert.Equal(t, "drpc-engine: the server on "+filepath.Join(dir, "daos_server.sock")+" refused notify ready (STATUS_FAILURE): "+
		"engine index is not configured: index 5 (the configuration lists [0 1]): add it under engines, or start the engine with a listed index\n",
		stderr[strings.LastIndex(stderr, "drpc-engine: "):])

	cmd := exec.Command(engineProgram.Path(t), "--socket-dir", filepath.Base(dir), "--index", "1")
	cmd.Dir = filepath.Dir(dir)
	var out daemontest.SyncBuffer
	cmd.Stderr = &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 1, "ready") }, daemontest.WaitFor, daemontest.Tick, "engine log:\n%s", out.String())
	assert.Equal(t, filepath.Join(dir, "daos_engine1.sock"), status(t, dir).Engines[0].Socket)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), out.String())
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
}
