package lifecycle_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/lifecycle"
)

// fake is a Service that records what Run did with it.
type fake struct {
	ln          *net.UnixListener // what the constructor got
	url         string
	startErr    error
	shutdownErr error
	reloadErr   error

	mu          sync.Mutex
	started     bool
	shutdown    bool
	deadline    time.Time // of Shutdown's context
	hasDeadline bool
	reloads     int
}

func (f *fake) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = f.startErr == nil
	return f.startErr
}

func (f *fake) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdown = true
	f.deadline, f.hasDeadline = ctx.Deadline()
	return f.shutdownErr
}

func (f *fake) SocketPath() string { return "/run/fake/fake.sock" }
func (f *fake) MetricsURL() string { return f.url }

func (f *fake) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return f.reloadErr
}

func (f *fake) reloaded() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}

// closed reports whether ln was closed.
func closed(ln *net.UnixListener) bool {
	// SetDeadline fails on a closed listener only.
	return ln.SetDeadline(time.Now()) != nil
}

// run is a Run in the background, with the test's NOTIFY_SOCKET.
type run struct {
	notify *daemontest.NotifySocket
	logs   *daemontest.SyncBuffer
	stdout *daemontest.SyncBuffer
	ready  chan *fake
	done   chan error
	cancel context.CancelFunc
}

func startRun(t *testing.T, svc *fake, newErr error, opts lifecycle.Options[*fake]) *run {
	t.Helper()
	r := &run{
		notify: daemontest.SetNotifySocket(t),
		logs:   &daemontest.SyncBuffer{},
		stdout: &daemontest.SyncBuffer{},
		ready:  make(chan *fake, 1),
		done:   make(chan error, 1),
	}
	opts.Logger = slog.New(slog.NewTextHandler(r.logs, nil))
	opts.Stdout = r.stdout
	opts.Ready = func(f *fake) { r.ready <- f }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		r.done <- lifecycle.Run(ctx, func(ln *net.UnixListener) (*fake, error) {
			svc.ln = ln
			if newErr != nil {
				return nil, newErr
			}
			return svc, nil
		}, opts)
	}()
	return r
}

// waitReady waits until the service serves.
func (r *run) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-r.ready:
	case err := <-r.done:
		t.Fatalf("Run returned before the service was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not become ready")
	}
}

// wait returns Run's result.
func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestRun: the lifecycle of a service stopped by the end of the context,
// with its notifications, output and logs, and the ways it fails.
func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		svc        *fake // nil: a fake that works
		newErr     error
		opts       lifecycle.Options[*fake]
		ready      bool     // the service becomes ready (then the test cancels)
		wantErr    error    // nil: Run returns nil
		wantMsg    string   // the error's message
		wantNotify []string // READY=1 and STOPPING=1 messages
		wantStdout string
		wantLogs   []string
		shutdown   bool // Shutdown was called
		timeout    time.Duration
	}{
		{
			name:  "clean stop, with metrics",
			svc:   &fake{url: "http://127.0.0.1:9/metrics"},
			opts:  lifecycle.Options[*fake]{Name: "agent", Serving: "credentials", StoppingStatus: "draining", ShutdownTimeout: time.Minute},
			ready: true,
			wantNotify: []string{
				"READY=1\nSTATUS=serving credentials on /run/fake/fake.sock",
				"STOPPING=1\nSTATUS=draining",
			},
			wantStdout: "metrics: http://127.0.0.1:9/metrics\n",
			wantLogs:   []string{`msg="agent stopping"`, `msg="agent stopped"`},
			shutdown:   true,
			timeout:    time.Minute,
		},
		{
			name:       "defaults, no metrics",
			ready:      true,
			wantNotify: []string{"READY=1\nSTATUS=serving on /run/fake/fake.sock", "STOPPING=1\nSTATUS=stopping"},
			wantLogs:   []string{`msg="daemon stopping"`, `msg="daemon stopped"`},
			shutdown:   true,
			timeout:    lifecycle.DefaultShutdownTimeout,
		},
		{
			name:       "shutdown fails",
			svc:        &fake{shutdownErr: boom},
			opts:       lifecycle.Options[*fake]{Name: "server"},
			ready:      true,
			wantErr:    boom,
			wantMsg:    "server shutdown: boom",
			wantNotify: []string{"READY=1\nSTATUS=serving on /run/fake/fake.sock", "STOPPING=1\nSTATUS=stopping"},
			wantLogs:   []string{`msg="server stopping"`},
			shutdown:   true,
			timeout:    lifecycle.DefaultShutdownTimeout,
		},
		{
			name:    "the service cannot be built",
			newErr:  boom,
			wantErr: boom,
			wantMsg: "boom",
		},
		{
			name:    "the service cannot start",
			svc:     &fake{startErr: boom},
			wantErr: boom,
			wantMsg: "boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := daemontest.LiveSocket(t, filepath.Join(daemontest.SocketDir(t), "s.sock"))
			tt.opts.Listener = ln
			svc := tt.svc
			if svc == nil {
				svc = &fake{}
			}
			r := startRun(t, svc, tt.newErr, tt.opts)
			if tt.ready {
				r.waitReady(t)
				assert.Same(t, ln, svc.ln, "the service got the listener")
				assert.False(t, closed(ln), "the service's listener is its own")
				r.cancel()
			}
			err := r.wait(t)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
				assert.EqualError(t, err, tt.wantMsg)
			}
			for _, want := range tt.wantNotify {
				assert.Equal(t, want, r.notify.Read(t))
			}
			assert.Equal(t, tt.wantStdout, r.stdout.String())
			for _, want := range tt.wantLogs {
				assert.Contains(t, r.logs.String(), want)
			}
			assert.Equal(t, tt.shutdown, svc.shutdown, "Shutdown called")
			if tt.shutdown {
				require.True(t, svc.hasDeadline, "Shutdown is bounded")
				assert.LessOrEqual(t, time.Until(svc.deadline), tt.timeout)
			}
			if !tt.ready {
				assert.True(t, closed(ln), "a service that does not run does not keep the listener")
			}
		})
	}
}

// TestRunWithoutActivation: without a listener and without systemd's
// variables, the service is built without a listener.
func TestRunWithoutActivation(t *testing.T) {
	t.Setenv("LISTEN_PID", "")
	t.Setenv("LISTEN_FDS", "")
	svc := &fake{ln: &net.UnixListener{}}
	r := startRun(t, svc, nil, lifecycle.Options[*fake]{})
	r.waitReady(t)
	assert.Nil(t, svc.ln)
	r.cancel()
	require.NoError(t, r.wait(t))
}

// TestRunSignals: SIGUSR2 reloads (a failed reload is logged and the
// service keeps serving), SIGTERM stops, and the signal is logged. The
// signals go to the test process itself: Run handles them while the service
// serves and restores the default handling when it returns.
func TestRunSignals(t *testing.T) {
	svc := &fake{reloadErr: errors.New("bad key")}
	r := startRun(t, svc, nil, lifecycle.Options[*fake]{Name: "agent", Reload: (*fake).Reload})
	r.waitReady(t)
	assert.Equal(t, "READY=1\nSTATUS=serving on /run/fake/fake.sock", r.notify.Read(t))

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR2))
	require.Eventually(t, func() bool { return svc.reloaded() == 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), `msg="reload failed"`) }, 10*time.Second, time.Millisecond)
	assert.Contains(t, r.logs.String(), "bad key")

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	require.NoError(t, r.wait(t))
	assert.Equal(t, "STOPPING=1\nSTATUS=stopping", r.notify.Read(t))
	assert.Contains(t, r.logs.String(), `msg="agent stopping" signal=terminated`)
	assert.Contains(t, r.logs.String(), `msg="agent stopped"`)
	assert.True(t, svc.shutdown)
}

// TestRunSIGUSR2WithoutReload: a daemon without reload logs SIGUSR2 and
// keeps serving.
func TestRunSIGUSR2WithoutReload(t *testing.T) {
	svc := &fake{}
	r := startRun(t, svc, nil, lifecycle.Options[*fake]{})
	r.waitReady(t)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR2))
	require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), "nothing to reload") }, 10*time.Second, time.Millisecond)
	assert.False(t, svc.shutdown)
	r.cancel()
	require.NoError(t, r.wait(t))
}
