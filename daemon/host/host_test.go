package host_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/drpc"
)

// echo is module 9: method 901 echoes the body.
type echo struct{}

var echoMethod = drpc.NewMethod(9, 901, "echo")

func (echo) ID() drpc.ModuleID      { return 9 }
func (echo) String() string         { return "echo" }
func (echo) Methods() []drpc.Method { return []drpc.Method{echoMethod} }
func (echo) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != echoMethod.ID() {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return echoMethod, nil
}
func (echo) HandleCall(_ context.Context, _ *drpc.Session, _ drpc.Method, body []byte) ([]byte, error) {
	return body, nil
}

// hooks records the hooks a host ran, in order, and fails the ones named
// in fail.
type hooks struct {
	mu   sync.Mutex
	ran  []string
	fail string
}

func (h *hooks) hook(name string) func(context.Context) error {
	return func(context.Context) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.ran = append(h.ran, name)
		if h.fail == name {
			return errors.New(name + " failed")
		}
		return nil
	}
}

func (h *hooks) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ran...)
}

// spec returns the spec of a test daemon whose runtime directory is dir.
func spec(dir string, rec *hooks) host.Spec {
	return host.Spec{
		Name:       "testd",
		Serving:    "echoes",
		Dir:        dir,
		DirFlag:    "--run-dir (run_dir)",
		CreateDir:  true,
		DirMode:    0o755,
		SocketName: "testd.sock",
		SocketMode: 0o600,
		Modules:    []drpc.Module{echo{}},
		Common:     host.DefaultCommon(),
		Hooks: host.Hooks{
			Prepare:  rec.hook("prepare"),
			Started:  rec.hook("started"),
			Stopping: rec.hook("stopping"),
			Stopped:  rec.hook("stopped"),
		},
	}
}

func call(t *testing.T, socket, body string) (*drpc.Response, error) {
	t.Helper()
	c := drpc.NewClientConnection(socket)
	if err := c.Connect(context.Background()); err != nil {
		return nil, err
	}
	defer c.Close()
	return c.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901, Body: []byte(body)})
}

func TestStartAndShutdown(t *testing.T) {
	base := daemontest.SocketDir(t)
	dir := filepath.Join(base, "a", "b")
	rec := &hooks{}
	s := spec(dir, rec)
	s.Common.MetricsAddr = "127.0.0.1:0"
	h, err := host.New(s)
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))

	socket := filepath.Join(dir, "testd.sock")
	assert.Equal(t, socket, h.SocketPath())
	assert.False(t, h.Inherited())
	st, err := os.Stat(socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	resp, err := call(t, socket, "hello")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(resp.Body))

	// The metrics endpoint has a series for the module's method.
	require.True(t, strings.HasPrefix(h.MetricsURL(), "http://127.0.0.1:"), h.MetricsURL())
	r, err := http.Get(h.MetricsURL())
	require.NoError(t, err)
	page, _ := io.ReadAll(r.Body)
	_ = r.Body.Close()
	assert.Contains(t, string(page), `drpc_server_calls_started_total{method="echo",module="9"} 1`)

	require.NoError(t, h.Shutdown(context.Background()))
	assert.Equal(t, []string{"prepare", "started", "stopping", "stopped"}, rec.get())
	_, err = os.Lstat(filepath.Join(base, "a"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the directories the host made are gone")
	assert.NoError(t, h.Shutdown(context.Background()), "a second Shutdown does nothing")
	assert.ErrorIs(t, h.Start(context.Background()), drpc.ErrServerClosed)
}

func TestStartTwice(t *testing.T) {
	h, err := host.New(spec(filepath.Join(daemontest.SocketDir(t), "run"), &hooks{}))
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	assert.ErrorIs(t, h.Start(context.Background()), drpc.ErrServerStarted)
	_, err = call(t, h.SocketPath(), "still serving")
	assert.NoError(t, err)
}

func TestInheritedListener(t *testing.T) {
	// A socket the daemon did not create (a test's, or systemd's) is
	// served as it is, and its file is left alone at the stop.
	base := daemontest.SocketDir(t)
	path := filepath.Join(base, "given.sock")
	ln := daemontest.LiveSocket(t, path)
	rec := &hooks{}
	s := spec(filepath.Join(base, "unused"), rec)
	s.Listener = ln
	h, err := host.New(s)
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	assert.True(t, h.Inherited())
	assert.Equal(t, path, h.SocketPath())
	resp, err := call(t, path, "hi")
	require.NoError(t, err)
	assert.Equal(t, "hi", string(resp.Body))

	require.NoError(t, h.Shutdown(context.Background()))
	_, err = os.Lstat(path)
	assert.NoError(t, err, "the inherited socket's file stays")
	_, err = os.Lstat(filepath.Join(base, "unused"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no runtime directory was made")
}

func TestStartRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, base string, s *host.Spec) // changes the spec of a daemon in base/run
		want  string
		is    error
		ran   []string // hooks run
	}{
		{"a missing directory it may not make", func(t *testing.T, base string, s *host.Spec) { s.CreateDir = false },
			"testd: runtime directory " + "BASE/run does not exist: create it (install -d -m 0755 BASE/run) or give another --run-dir (run_dir)", os.ErrNotExist, nil},
		{"a directory every user may write", func(t *testing.T, base string, s *host.Spec) {
			require.NoError(t, os.Mkdir(s.Dir, 0o755))
			require.NoError(t, os.Chmod(s.Dir, 0o777))
		}, "testd: runtime directory BASE/run: runtime directory is not safe from other users: BASE/run is writable by every user (mode 0777, no sticky bit): another user could move the socket away and serve their own: chmod o-w BASE/run; or give another --run-dir (run_dir)",
			rundir.ErrInsecure, nil},
		{"a live socket", func(t *testing.T, base string, s *host.Spec) {
			require.NoError(t, os.Mkdir(s.Dir, 0o755))
			daemontest.LiveSocket(t, filepath.Join(s.Dir, "testd.sock"))
		}, "testd socket is in use: BASE/run/testd.sock is served by process", host.ErrSocketInUse, []string{"prepare"}},
		{"a file where the socket goes", func(t *testing.T, base string, s *host.Spec) {
			require.NoError(t, os.Mkdir(s.Dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "testd.sock"), nil, 0o644))
		}, "remove that file, or give another --run-dir (run_dir)", drpc.ErrNotSocket, []string{"prepare"}},
		{"a failed prepare", func(t *testing.T, base string, s *host.Spec) {}, "prepare failed", nil, []string{"prepare"}},
		{"a failed start hook", func(t *testing.T, base string, s *host.Spec) { s.Common.MetricsAddr = "127.0.0.1:0" },
			"started failed", nil, []string{"prepare", "started"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := daemontest.SocketDir(t)
			require.NoError(t, os.Chmod(base, 0o755))
			rec := &hooks{}
			s := spec(filepath.Join(base, "run"), rec)
			tc.setup(t, base, &s)
			switch {
			case strings.Contains(tc.name, "prepare"):
				rec.fail = "prepare"
			case strings.Contains(tc.name, "start hook"):
				rec.fail = "started"
			}
			h, err := host.New(s)
			require.NoError(t, err)
			err = h.Start(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), strings.ReplaceAll(tc.want, "BASE", base))
			assert.Equal(t, 1, strings.Count(cliLine(err), "\n")+1, "one line")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Equal(t, tc.ran, rec.get())
			if !strings.Contains(tc.name, "socket") && !strings.Contains(tc.name, "every user") {
				_, err := os.Lstat(s.Dir)
				assert.ErrorIs(t, err, os.ErrNotExist, "a failed start leaves nothing behind")
			}
		})
	}
}

// cliLine is err as one line, as cli.FormatError prints it.
func cliLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func TestLimits(t *testing.T) {
	// The configured limits reach the transport: a second session of the
	// same user is refused with the reason.
	rec := &hooks{}
	s := spec(filepath.Join(daemontest.SocketDir(t), "run"), rec)
	s.Common.Limits.MaxSessionsPerUID = 1
	h, err := host.New(s)
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	defer h.Shutdown(context.Background())

	first := daemontest.Connect(t, h.SocketPath())
	_, err = first.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901})
	require.NoError(t, err)
	resp, err := call(t, h.SocketPath(), "second")
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusFailure, resp.Status)
	assert.Contains(t, string(resp.Body), "serves its limit of 1 sessions per user")
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*host.Limits)
		want   string
	}{
		{"the defaults", func(*host.Limits) {}, ""},
		{"every limit off", func(l *host.Limits) { *l = host.Limits{MaxMessageSize: l.MaxMessageSize} }, ""},
		{"negative", func(l *host.Limits) { l.IdleTimeout = -1 }, "limits.idle_timeout: negative: use 0 to turn the limit off"},
		{"no message size", func(l *host.Limits) { l.MaxMessageSize = 0 }, "limits.max_message_size: 0B: want a positive size"},
		{"per user above all", func(l *host.Limits) { l.MaxSessionsPerUID = l.MaxSessions + 1 }, "one user could take every session"},
		{"memory below a message", func(l *host.Limits) { l.MaxReceiveMemoryPerUID = l.MaxMessageSize - 1 },
			"limits.max_receive_memory_per_uid: 67108863B is below max_message_size (64MiB): the largest call could never be received"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := host.DefaultLimits()
			tc.change(&l)
			err := l.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// started runs h in the background with Run and the test's NOTIFY_SOCKET,
// and waits until it serves.
type started struct {
	notify *daemontest.NotifySocket
	stdout *daemontest.SyncBuffer
	done   chan error
	cancel context.CancelFunc
}

func runHost(t *testing.T, h *host.Host, opts host.RunOptions) *started {
	t.Helper()
	r := &started{notify: daemontest.SetNotifySocket(t), stdout: &daemontest.SyncBuffer{}, done: make(chan error, 1)}
	ready := make(chan struct{})
	opts.Stdout, opts.Ready = r.stdout, func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	go func() { r.done <- host.Run(ctx, h, opts) }()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("Run returned before the daemon served: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not serve")
	}
	return r
}

func (r *started) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestRun(t *testing.T) {
	// Run starts, says READY=1 with what it serves and the metrics URL,
	// and on the end of its context says STOPPING=1 and stops.
	var logs daemontest.SyncBuffer
	rec := &hooks{}
	s := spec(filepath.Join(daemontest.SocketDir(t), "run"), rec)
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s.Common.MetricsAddr = "127.0.0.1:0"
	h, err := host.New(s)
	require.NoError(t, err)
	r := runHost(t, h, host.RunOptions{})
	assert.Equal(t, "READY=1\nSTATUS=serving echoes on "+h.SocketPath(), r.notify.Read(t))
	assert.Equal(t, "metrics: "+h.MetricsURL()+"\n", r.stdout.String())
	r.cancel()
	require.NoError(t, r.wait(t))
	assert.Equal(t, "STOPPING=1\nSTATUS=stopping", r.notify.Read(t))
	assert.Contains(t, logs.String(), `msg="testd stopping"`)
	assert.Contains(t, logs.String(), `msg="testd stopped"`)
	assert.Equal(t, []string{"prepare", "started", "stopping", "stopped"}, rec.get())
}

func TestRunStartFails(t *testing.T) {
	rec := &hooks{fail: "prepare"}
	h, err := host.New(spec(filepath.Join(daemontest.SocketDir(t), "run"), rec))
	require.NoError(t, err)
	err = host.Run(context.Background(), h, host.RunOptions{})
	require.EqualError(t, err, "prepare failed")
}

func TestRunShutdownFails(t *testing.T) {
	rec := &hooks{fail: "stopped"}
	h, err := host.New(spec(filepath.Join(daemontest.SocketDir(t), "run"), rec))
	require.NoError(t, err)
	r := runHost(t, h, host.RunOptions{})
	r.cancel()
	require.EqualError(t, r.wait(t), "testd shutdown: stopped failed")
}

func TestRunSignals(t *testing.T) {
	// SIGUSR2 reloads (a failed reload is logged and the daemon keeps
	// serving), SIGTERM stops; the signals go to the test process itself.
	var logs daemontest.SyncBuffer
	reloads := make(chan struct{}, 4)
	s := spec(filepath.Join(daemontest.SocketDir(t), "run"), &hooks{})
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s.Hooks.Reload = func() error { reloads <- struct{}{}; return errors.New("bad key") }
	h, err := host.New(s)
	require.NoError(t, err)
	r := runHost(t, h, host.RunOptions{})
	r.notify.Read(t)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR2))
	select {
	case <-reloads:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR2 did not reload")
	}
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `msg="reload failed" err="bad key"`) }, 10*time.Second, time.Millisecond)
	resp, err := call(t, h.SocketPath(), "still here")
	require.NoError(t, err)
	assert.Equal(t, "still here", string(resp.Body))

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	require.NoError(t, r.wait(t))
	assert.Contains(t, logs.String(), `msg="testd stopping" signal=terminated`)
}

func TestNewChecks(t *testing.T) {
	_, err := host.New(host.Spec{})
	require.Error(t, err)
	s := spec("/run/x", &hooks{})
	s.Common.LogLevel = "loud"
	_, err = host.New(s)
	require.ErrorContains(t, err, `log_level: unknown log level "loud"`)
}
