package demotest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

// repoRoot is the repository, three levels up from this package.
var repoRoot = func() string {
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		panic(err)
	}
	return dir
}()

// buildBinaries builds the demo's binaries into dir, each from its own
// module as `make demo` does.
func buildBinaries(t *testing.T, dir string) {
	t.Helper()
	for _, b := range []struct{ module, pkg, name string }{
		{"server", "./cmd/drpc-server", "drpc-server"},
		{"agent", "./cmd/drpc-agent", "drpc-agent"},
		{"tools", "./cmd/drpc-engine", "drpc-engine"},
		{"tools", "./cmd/drpc", "drpc"},
	} {
		require.NoError(t, daemontest.GoBuild(filepath.Join(repoRoot, b.module), b.pkg, filepath.Join(dir, b.name)))
	}
}

type run struct {
	stdout, stderr string
	code           int
	dir            string // the directory the demo reported
}

// runDemo runs scripts/demo with the binaries in bin, TMPDIR tmp, and the
// extra arguments before bin.
func runDemo(t *testing.T, bin, tmp string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append(append([]string{filepath.Join(repoRoot, "scripts", "demo")}, args...), bin)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "KEEP=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "the demo did not run: %s", r.stderr)
		r.code = ee.ExitCode()
	}
	m := regexp.MustCompile(`dRPC demo in (\S+)`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "the demo names its directory:\n%s", r.stdout)
	r.dir = m[1]
	return r
}

// assertNothingLeft checks that no socket is left in dir and no process of
// the demo still runs.
func assertNothingLeft(t *testing.T, dir string) {
	t.Helper()
	var sockets []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSocket != 0 {
			sockets = append(sockets, p)
		}
		return nil
	})
	assert.Empty(t, sockets, "sockets left behind")
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			t.Errorf("a process of the demo still runs: %s: %s", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds and runs every daemon; skipped with -short")
	}
	bin := t.TempDir()
	buildBinaries(t, bin)
	tmp := daemontest.SocketDir(t) // short: socket paths are limited

	t.Run("passes", func(t *testing.T) {
		r := runDemo(t, bin, tmp, "--keep")
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		for step := 0; step <= 9; step++ {
			assert.Contains(t, r.stdout, "\n["+string(rune('0'+step))+"] ")
		}
		for _, want := range []string{
			"ready",
			"verified:  yes",
			"genuine credential: accepted",
			"tampered copy: refused with status -1001",
			"demo: disk 3 is slow",
			"after kill -9:  engine 1 unavailable",
			"after restart:  engine 1 ready",
			"calls/s",
			"GetAttachInfo (206) on node 1's agent: tcp://127.0.0.1:31416 tcp://127.0.0.1:31417\n",
			"tls=true",
			`engine 0: msg="pool handle evicted" index=0 pool=8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d handle=11111111-2222-4333-8444-555555555555`,
			`engine 1: msg="pool handle evicted" index=1`,
			"pool evictions: 1 asked for, 2 handles evicted",
			"prepare-for-shutdown (218) to both engines",
			"no socket is left",
			"demo passed; logs in " + r.dir,
		} {
			assert.Contains(t, r.stdout, want)
		}
		for _, log := range []string{"server.log", "engine0.log", "engine1.log", "agent.log", "echo.log", "node1.log", "client.log"} {
			assert.FileExists(t, filepath.Join(r.dir, log))
		}
		b, err := os.ReadFile(filepath.Join(r.dir, "engine0.log"))
		require.NoError(t, err)
		assert.Contains(t, string(b), `msg="prep shutdown"`)
		assertNothingLeft(t, r.dir)
		_, err = os.Stat(filepath.Join(r.dir, "agent.key"))
		assert.NoError(t, err, "kept with --keep")
		require.NoError(t, os.RemoveAll(r.dir))
	})

	t.Run("passes, and removes its directory", func(t *testing.T) {
		r := runDemo(t, bin, tmp)
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "demo passed; its directory is removed (--keep or KEEP=1 keeps it)")
		assert.NoDirExists(t, r.dir, "the directory holds a private key")
		assertNothingLeft(t, r.dir)
	})

	t.Run("a failing step stops everything", func(t *testing.T) {
		// An engine that cannot start: the demo names the step and the
		// cause, shows the engine's log, stops the server and exits 1.
		fake := t.TempDir()
		for _, b := range []string{"drpc-server", "drpc-agent", "drpc"} {
			require.NoError(t, os.Symlink(filepath.Join(bin, b), filepath.Join(fake, b)))
		}
		require.NoError(t, os.WriteFile(filepath.Join(fake, "drpc-engine"),
			[]byte("#!/bin/sh\necho 'engine: cannot start: simulated failure' >&2\nexit 1\n"), 0o755))
		r := runDemo(t, fake, tmp)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "FAILED at step 1: engine0 exited before engine 0 ready")
		assert.Contains(t, r.stderr, "engine0.log")
		assert.Contains(t, r.stderr, "simulated failure")
		assert.True(t, strings.HasSuffix(strings.TrimSpace(r.stderr),
			"logs kept in "+r.dir+" (the private key and credentials removed; --keep or KEEP=1 keeps them)"), r.stderr)
		assert.FileExists(t, filepath.Join(r.dir, "engine0.log"))
		assertNothingLeft(t, r.dir)
	})

	for _, tc := range []struct {
		name  string
		args  []string
		after string // the step at whose line Ctrl-C comes
	}{
		{"Ctrl-C stops at once and removes the directory", nil, "5"},
		{"Ctrl-C with --keep keeps the directory", []string{"--keep"}, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := interruptDemo(t, bin, tmp, tc.after, tc.args...)
			assert.Equal(t, 130, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, "interrupted at step "+tc.after+": stopping everything")
			assert.NotContains(t, r.stderr, "FAILED")
			assert.NotContains(t, r.stdout, "demo passed")
			if len(tc.args) == 0 {
				assert.NoDirExists(t, r.dir)
			} else {
				assert.Contains(t, r.stderr, "kept (--keep): "+r.dir)
				assert.FileExists(t, filepath.Join(r.dir, "server.log"))
				require.NoError(t, os.RemoveAll(r.dir))
			}
			assertNothingLeft(t, r.dir)
		})
	}
}

// interruptDemo runs the demo in a process group of its own, as a shell
// runs a command in the foreground, and sends SIGINT to that whole group,
// as Ctrl-C does, when the demo prints the line of step after. It waits
// for the demo to exit, within a generous deadline.
func interruptDemo(t *testing.T, bin, tmp, after string, args ...string) run {
	t.Helper()
	// A SIGINT ignored here (go test started in the background of a shell)
	// would be ignored by the demo too, and bash cannot trap a signal
	// ignored when it starts; a caught one is reset to the default at exec.
	if signal.Ignored(syscall.SIGINT) {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGINT)
		defer signal.Reset(syscall.SIGINT)
	}
	cmd := exec.Command("bash", append(append([]string{filepath.Join(repoRoot, "scripts", "demo")}, args...), bin)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "KEEP=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr daemontest.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	lines := make(chan string)
	var stdout strings.Builder
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(3 * time.Minute)
	for seen := false; !seen; {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "the demo ended before step %s:\n%s\n%s", after, stdout.String(), stderr.String())
			stdout.WriteString(line + "\n")
			seen = strings.HasPrefix(line, "["+after+"] ")
		case <-deadline:
			require.FailNow(t, "no step "+after, "stdout:\n%s", stdout.String())
		}
	}
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	for line := range lines { // until the demo closes its output
		stdout.WriteString(line + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var r run
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		require.FailNow(t, "the demo did not exit after SIGINT", "stderr:\n%s", stderr.String())
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &ee)
		r.code = ee.ExitCode()
	}
	m := regexp.MustCompile(`dRPC demo in (\S+)`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "the demo names its directory:\n%s", r.stdout)
	r.dir = m[1]
	return r
}
