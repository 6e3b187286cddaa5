package procmon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of Watch.
var (
	// ErrExited: the process does not exist (it has exited already).
	ErrExited = errors.New("the process has exited")
	// ErrClosed: the Watcher is closed.
	ErrClosed = errors.New("the process watcher is closed")
	// ErrUnsupported: the kernel has no pollable pidfds (Linux before 5.3).
	ErrUnsupported = errors.New("pidfds are not supported by this kernel (Linux 5.3 or later is needed)")
)

// noDeadline is the zero time: SetReadDeadline(noDeadline) clears the
// deadline, and fails on a file the poller does not take.
var noDeadline time.Time

// Watcher watches processes for their exit. It is safe for concurrent use.
type Watcher struct {
	mu      sync.Mutex
	closed  bool
	watches map[int32]*watch
	wg      sync.WaitGroup
}

// watch is one watched process: its pidfd and what to call at its exit.
type watch struct {
	pid    int32
	f      *os.File
	onExit func()
}

// New returns a Watcher that watches nothing yet.
func New() *Watcher { return &Watcher{watches: make(map[int32]*watch)} }

// Watch starts watching pid: onExit runs once, on its own goroutine, when
// the process exits, unless Unwatch(pid) or Close comes first. Watching a
// pid that is already watched replaces the previous watch (its onExit will
// not run). If the process does not exist, Watch returns ErrExited.
func (w *Watcher) Watch(pid int32, onExit func()) error {
	if pid <= 0 {
		return fmt.Errorf("watch process %d: %w", pid, ErrExited)
	}
	f, err := openPidfd(pid)
	if err != nil {
		return err
	}
	wt := &watch{pid: pid, f: f, onExit: onExit}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		_ = f.Close()
		return ErrClosed
	}
	if old := w.watches[pid]; old != nil {
		_ = old.f.Close()
	}
	w.watches[pid] = wt
	w.wg.Add(1)
	w.mu.Unlock()
	go w.wait(wt)
	return nil
}

// openPidfd opens a non-blocking pidfd for pid as an *os.File that the
// runtime's poller waits on.
func openPidfd(pid int32) (*os.File, error) {
	fd, err := unix.PidfdOpen(int(pid), unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) { // Linux 5.3 to 5.9: no PIDFD_NONBLOCK
		if fd, err = unix.PidfdOpen(int(pid), 0); err == nil {
			if err = unix.SetNonblock(fd, true); err != nil {
				_ = unix.Close(fd)
			}
		}
	}
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, fmt.Errorf("watch process %d: %w", pid, ErrExited)
	case errors.Is(err, unix.ENOSYS):
		return nil, ErrUnsupported
	case err != nil:
		return nil, fmt.Errorf("watch process %d: pidfd_open: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(int(pid)))
	// A file the poller does not take has no deadlines: say so now rather
	// than block a goroutine for ever.
	if err := f.SetReadDeadline(noDeadline); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("watch process %d: %w: %w", pid, ErrUnsupported, err)
	}
	return f, nil
}

// wait parks until the pidfd is readable (the process exited) or closed
// (Unwatch, Close, a new Watch of the pid), then runs onExit in the first
// case only.
func (w *Watcher) wait(wt *watch) {
	defer w.wg.Done()
	exited := false
	rc, err := wt.f.SyscallConn()
	if err == nil {
		err = rc.Read(func(fd uintptr) bool {
			// Called first, then after each readiness the poller reports:
			// a pidfd is readable once its process has exited.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, perr := unix.Poll(fds, 0)
			exited = perr == nil && n > 0
			return exited
		})
	}
	w.mu.Lock()
	current := w.watches[wt.pid] == wt
	if current {
		delete(w.watches, wt.pid)
	}
	w.mu.Unlock()
	if !current {
		return // unwatched, replaced or closed: the closer closed the file
	}
	_ = wt.f.Close()
	if exited && err == nil {
		wt.onExit()
	}
}

// Unwatch stops watching pid, if it is watched: its onExit will not run.
func (w *Watcher) Unwatch(pid int32) {
	w.mu.Lock()
	wt := w.watches[pid]
	delete(w.watches, pid)
	w.mu.Unlock()
	if wt != nil {
		_ = wt.f.Close() // wakes its goroutine, which finds it unwatched
	}
}

// Watched reports whether pid is watched.
func (w *Watcher) Watched(pid int32) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.watches[pid]
	return ok
}

// Len returns the number of processes watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watches)
}

// Close stops watching every process and refuses new watches. It waits for
// the watching goroutines, and so for an onExit that has begun: keep onExit
// short (start a goroutine for long work).
func (w *Watcher) Close() {
	w.mu.Lock()
	w.closed = true
	watches := w.watches
	w.watches = make(map[int32]*watch)
	w.mu.Unlock()
	for _, wt := range watches {
		_ = wt.f.Close()
	}
	w.wg.Wait()
}
