package procmon_test

import (
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/procmon"
)

// waitFor bounds how long a test waits for an exit to be noticed; it
// asserts nothing about speed.
const waitFor = 10 * time.Second

// child starts a process that runs until it is killed, reaped at the end
// of the test.
func child(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestExitIsNoticed(t *testing.T) {
	w := procmon.New()
	defer w.Close()
	cmd := child(t)
	pid := int32(cmd.Process.Pid)
	exited := make(chan struct{})
	require.NoError(t, w.Watch(pid, func() { close(exited) }))
	assert.True(t, w.Watched(pid))
	assert.Equal(t, 1, w.Len())
	select {
	case <-exited:
		t.Fatal("onExit ran while the process lives")
	default:
	}
	require.NoError(t, cmd.Process.Kill())
	select {
	case <-exited:
	case <-time.After(waitFor):
		t.Fatal("the exit was not noticed")
	}
	require.Eventually(t, func() bool { return !w.Watched(pid) }, waitFor, time.Millisecond)
	assert.Equal(t, 0, w.Len())
}

// TestZombieCounts: a child that exited but that nobody reaped yet (a
// zombie) has exited.
func TestZombieCounts(t *testing.T) {
	w := procmon.New()
	defer w.Close()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Wait() }()
	exited := make(chan struct{})
	require.NoError(t, w.Watch(int32(cmd.Process.Pid), func() { close(exited) }))
	select {
	case <-exited:
	case <-time.After(waitFor):
		t.Fatal("the exit was not noticed")
	}
}

func TestUnwatchAndClose(t *testing.T) {
	w := procmon.New()
	a, b := child(t), child(t)
	var calls atomic.Int32
	require.NoError(t, w.Watch(int32(a.Process.Pid), func() { calls.Add(1) }))
	require.NoError(t, w.Watch(int32(b.Process.Pid), func() { calls.Add(1) }))

	// Watching again replaces the first watch.
	require.NoError(t, w.Watch(int32(a.Process.Pid), func() { calls.Add(10) }))
	assert.Equal(t, 2, w.Len())

	w.Unwatch(int32(a.Process.Pid))
	assert.False(t, w.Watched(int32(a.Process.Pid)))
	w.Unwatch(12345678) // not watched: nothing happens
	require.NoError(t, a.Process.Kill())
	_ = a.Wait()

	w.Close()
	assert.Equal(t, 0, w.Len())
	require.NoError(t, b.Process.Kill())
	_ = b.Wait()
	assert.EqualValues(t, 0, calls.Load(), "no onExit after Unwatch or Close")
	assert.ErrorIs(t, w.Watch(int32(os.Getpid()), func() {}), procmon.ErrClosed)
}

func TestGoneProcess(t *testing.T) {
	w := procmon.New()
	defer w.Close()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run()) // exited and reaped: its pid is free
	err := w.Watch(int32(cmd.Process.Pid), func() {})
	require.ErrorIs(t, err, procmon.ErrExited)
	require.ErrorIs(t, w.Watch(0, func() {}), procmon.ErrExited)
	require.ErrorIs(t, w.Watch(-1, func() {}), procmon.ErrExited)
}

// TestManyProcesses: each watched process is a parked goroutine, no
// thread: a hundred are watched and noticed.
func TestManyProcesses(t *testing.T) {
	w := procmon.New()
	defer w.Close()
	const n = 100
	var cmds []*exec.Cmd
	done := make(chan int32, n)
	for range n {
		c := child(t)
		cmds = append(cmds, c)
		pid := int32(c.Process.Pid)
		require.NoError(t, w.Watch(pid, func() { done <- pid }))
	}
	for _, c := range cmds {
		require.NoError(t, c.Process.Kill())
	}
	seen := map[int32]bool{}
	for range n {
		select {
		case pid := <-done:
			seen[pid] = true
		case <-time.After(waitFor):
			t.Fatalf("%d exits noticed of %d", len(seen), n)
		}
	}
	assert.Len(t, seen, n)
}
