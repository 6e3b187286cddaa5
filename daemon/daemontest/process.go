package daemontest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Bounds on how long the helpers wait for a child; a child that takes
// longer fails the test (with its stderr) instead of hanging it.
const (
	// RunTimeout bounds a Run.
	RunTimeout = 2 * time.Minute
	// ExitTimeout bounds Process.Wait and Process.Stop.
	ExitTimeout = 20 * time.Second
)

// systemdVars are the variables by which systemd talks to a service; a
// child never inherits the test's own.
var systemdVars = []string{"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}

// CleanEnv returns this process's environment without systemd's variables
// (NOTIFY_SOCKET, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), so that a test
// run under systemd does not hand them to a child, followed by extra
// ("KEY=VALUE" each).
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(systemdVars, k) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Result is what a program run to completion gave.
type Result struct {
	// Code is the exit code (-1 if a signal killed the program).
	Code int
	// Stdout and Stderr are the program's output.
	Stdout, Stderr string
}

// Run runs cmd to completion and returns its exit code and output; cmd's
// Stdout and Stderr are set here. If cmd.Env is nil the child gets
// CleanEnv(). A program that cannot start, or that runs longer than
// RunTimeout (it is then killed), fails t; an exit code other than 0 does
// not.
func Run(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = CleanEnv()
	}
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start(), "start %s", cmd)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(RunTimeout):
		_ = cmd.Process.Kill()
		<-done
		require.FailNow(t, "program did not exit", "%s ran longer than %v and was killed; stderr:\n%s", cmd, RunTimeout, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err, "run %s; stderr:\n%s", cmd, stderr.String())
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// ProcessOptions say how Start runs a program. The zero value starts it
// plainly, with CleanEnv().
type ProcessOptions struct {
	// Notify gives the child a NOTIFY_SOCKET of its own (Process.Notify), as
	// systemd does for a service of Type=notify.
	Notify bool
	// Activate, if not empty, passes these files as descriptors 3, 4, ...
	// with LISTEN_FDS set to their number and LISTEN_PID to the child's own
	// pid, as systemd starts a socket-activated service (see ListenerFile).
	Activate []*os.File
	// Env is added to the child's environment.
	Env []string
}

// Process is a program started in the background by Start. The end of the
// test kills it if it still runs, and logs its stderr if the test failed.
type Process struct {
	// Name is the program's file name and arguments, for messages.
	Name string
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Stdout reads the child's standard output. A child that writes more
	// than a pipe holds blocks until the test reads it.
	Stdout *bufio.Reader
	// Stderr collects the child's standard error.
	Stderr *SyncBuffer
	// Notify is the child's NOTIFY_SOCKET, if ProcessOptions.Notify.
	Notify *NotifySocket

	done chan struct{}
}

// Start starts bin with args in the background as opts say.
func Start(t testing.TB, bin string, opts ProcessOptions, args ...string) *Process {
	t.Helper()
	p := &Process{
		Name:   strings.TrimSpace(filepath.Base(bin) + " " + strings.Join(args, " ")),
		Stderr: &SyncBuffer{},
		done:   make(chan struct{}),
	}
	env := append([]string(nil), opts.Env...)
	if opts.Notify {
		p.Notify = ListenNotify(t)
		env = append(env, "NOTIFY_SOCKET="+p.Notify.Path)
	}
	if len(opts.Activate) > 0 {
		// systemd sets LISTEN_PID to the service's own pid: a shell that
		// execs the program keeps its pid.
		p.Cmd = exec.Command("/bin/sh", append([]string{"-c", `export LISTEN_PID=$$; exec "$0" "$@"`, bin}, args...)...)
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(opts.Activate)))
		p.Cmd.ExtraFiles = opts.Activate
	} else {
		p.Cmd = exec.Command(bin, args...)
	}
	p.Cmd.Env = CleanEnv(env...)
	out, err := p.Cmd.StdoutPipe()
	require.NoError(t, err)
	p.Stdout = bufio.NewReader(out)
	p.Cmd.Stderr = p.Stderr
	require.NoError(t, p.Cmd.Start(), "start %s", p.Name)
	go func() {
		_ = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", p.Name, p.Stderr.String())
		}
	})
	return p
}

// PID returns the child's process ID.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the child.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(sig), "signal %v to %s", sig, p.Name)
}

// Wait waits for the child to exit and returns its exit code (-1 if a
// signal killed it); a child that has not exited within ExitTimeout fails
// t.
func (p *Process) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(ExitTimeout):
		require.FailNow(t, "program did not exit", "%s did not exit within %v; stderr:\n%s", p.Name, ExitTimeout, p.Stderr.String())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Stop sends sig to the child and returns its exit code, as Wait.
func (p *Process) Stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	p.Signal(t, sig)
	return p.Wait(t)
}

// ReadNotify returns the next message the child sent to its NOTIFY_SOCKET
// (ProcessOptions.Notify); none within NotifyTimeout fails t.
func (p *Process) ReadNotify(t testing.TB) string {
	t.Helper()
	require.NotNil(t, p.Notify, "%s was started without ProcessOptions.Notify", p.Name)
	return p.Notify.Read(t, "no notification from %s; stderr:\n%s", p.Name, p.Stderr.String())
}

// WaitReady waits for the child's READY=1 (see ReadNotify) and returns the
// whole message, with its STATUS= line.
func (p *Process) WaitReady(t testing.TB) string {
	t.Helper()
	msg := p.ReadNotify(t)
	require.True(t, strings.HasPrefix(msg, "READY=1"), "%s sent %q instead of READY=1; stderr:\n%s", p.Name, msg, p.Stderr.String())
	return msg
}
