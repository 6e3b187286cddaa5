package signals_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/signals"
)

func kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, syscall.Kill(syscall.Getpid(), sig))
}

const wait = 5 * time.Second

func TestShutdownSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			var logs daemontest.SyncBuffer
			ctx, stop := signals.Handle(context.Background(), signals.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			defer stop()
			_, ok := signals.Cause(ctx)
			assert.False(t, ok)

			kill(t, sig)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
				t.Fatal("context did not end on " + sig.String())
			}
			got, ok := signals.Cause(ctx)
			require.True(t, ok)
			assert.Equal(t, sig, got)
			assert.EqualError(t, context.Cause(ctx), "received signal "+sig.String())

			// A second one is logged, not fatal.
			kill(t, sig)
			require.Eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("while shutting down")) }, wait, time.Millisecond)
		})
	}
}

func TestReload(t *testing.T) {
	var n atomic.Int32
	ctx, stop := signals.Handle(context.Background(), signals.Options{Reload: func() { n.Add(1) }})
	defer stop()
	kill(t, syscall.SIGUSR2)
	require.Eventually(t, func() bool { return n.Load() == 1 }, wait, time.Millisecond)
	kill(t, syscall.SIGUSR2)
	require.Eventually(t, func() bool { return n.Load() == 2 }, wait, time.Millisecond)
	assert.NoError(t, ctx.Err(), "reload must not end the context")
}

func TestReloadWithoutHandlerAndSIGPIPE(t *testing.T) {
	var logs daemontest.SyncBuffer
	ctx, stop := signals.Handle(context.Background(), signals.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer stop()
	kill(t, syscall.SIGUSR2)
	kill(t, syscall.SIGPIPE)
	require.Eventually(t, func() bool {
		s := logs.String()
		return bytes.Contains([]byte(s), []byte("nothing to reload")) && bytes.Contains([]byte(s), []byte("signal=\"broken pipe\""))
	}, wait, time.Millisecond, "logs: %s", logs.String())
	assert.NoError(t, ctx.Err())
}

func TestStopEndsContextAndIsIdempotent(t *testing.T) {
	ctx, stop := signals.Handle(context.Background(), signals.Options{})
	stop()
	stop()
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	_, ok := signals.Cause(ctx)
	assert.False(t, ok)
}

func TestParentEnds(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop := signals.Handle(parent, signals.Options{})
	defer stop()
	cancel()
	<-ctx.Done()
	_, ok := signals.Cause(ctx)
	assert.False(t, ok)
}
