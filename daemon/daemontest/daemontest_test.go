package daemontest_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/activation"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/sdnotify"
	"github.com/cc532012/drpc/drpc"
)

// hello is testdata/hello, a module of its own.
var hello = &daemontest.Program{Name: "hello", Module: filepath.Join("testdata", "hello")}

func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }

func TestSocketDir(t *testing.T) {
	var dir string
	t.Run("made", func(t *testing.T) {
		dir = daemontest.SocketDir(t)
		st, err := os.Stat(dir)
		require.NoError(t, err)
		assert.True(t, st.IsDir())
		assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
		// A socket path in it leaves room for long names under sun_path.
		assert.Less(t, len(filepath.Join(dir, "daos_engine123.sock")), 80, dir)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o600))
	})
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "removed with its content when the test ends")
}

func TestSyncBuffer(t *testing.T) {
	var b daemontest.SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, strings.Repeat("x", 400), b.String())
}

func TestSockets(t *testing.T) {
	dir := daemontest.SocketDir(t)
	dial := func(path string) error {
		c, err := net.Dial("unixpacket", path)
		if err == nil {
			c.Close()
		}
		return err
	}

	stale := filepath.Join(dir, "stale.sock")
	daemontest.StaleSocket(t, stale)
	st, err := os.Lstat(stale)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, st.Mode().Type())
	assert.ErrorIs(t, dial(stale), syscall.ECONNREFUSED)

	live := filepath.Join(dir, "live.sock")
	ln := daemontest.LiveSocket(t, live)
	assert.Equal(t, live, ln.Addr().String())
	assert.NoError(t, dial(live))
}

// TestListenerFile: the file is what a socket-activated daemon accepts
// (SOCK_SEQPACKET) or refuses (SOCK_STREAM), and its socket file stays.
func TestListenerFile(t *testing.T) {
	tests := []struct {
		network string
		wantErr error
	}{
		{"unixpacket", nil},
		{"unix", activation.ErrWrongSocket},
	}
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			path := filepath.Join(daemontest.SocketDir(t), "act.sock")
			f := daemontest.ListenerFile(t, tt.network, path)
			ln, err := activation.FromFiles([]*os.File{f})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				require.NoError(t, ln.Close())
			}
			st, err := os.Lstat(path)
			require.NoError(t, err, "the socket file stays")
			assert.Equal(t, os.ModeSocket, st.Mode().Type())
		})
	}
}

func TestNotifySocket(t *testing.T) {
	n := daemontest.SetNotifySocket(t)
	require.NoError(t, sdnotify.Ready("serving"))
	assert.Equal(t, "READY=1\nSTATUS=serving", n.Read(t))
	require.NoError(t, sdnotify.Stopping(""))
	assert.Equal(t, "STOPPING=1", n.Read(t))
}

func TestProgram(t *testing.T) {
	path := hello.Path(t)
	again, err := hello.Build()
	require.NoError(t, err)
	assert.Equal(t, path, again, "built once")
	st, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "other users may run the programs")

	tests := []struct {
		name string
		prog *daemontest.Program
		want string
	}{
		{"missing package", &daemontest.Program{Name: "missing", Module: hello.Module, Package: "./nothing"}, "GOWORK=off go build"},
		{"name with a slash", &daemontest.Program{Name: "a/b", Module: hello.Module}, "plain file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.prog.Build()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, again := tt.prog.Build()
			assert.Equal(t, err, again, "the one build's error is kept")
		})
	}
}

func TestGoBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, daemontest.GoBuild(hello.Module, "", out))
	r := daemontest.Run(t, exec.Command(out, "echo", "built"))
	assert.Equal(t, "built\n", r.Stdout)

	err := daemontest.GoBuild(hello.Module, "./nothing", out+"2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing")
}

func TestRun(t *testing.T) {
	bin := hello.Path(t)
	t.Setenv("NOTIFY_SOCKET", "/nowhere")
	tests := []struct {
		name string
		cmd  *exec.Cmd
		want daemontest.Result
	}{
		{"output", exec.Command(bin, "echo", "a", "b"), daemontest.Result{Stdout: "a b\n", Stderr: "hello on stderr\n"}},
		{"exit code", exec.Command(bin, "exit", "3"), daemontest.Result{Code: 3, Stderr: "exiting with 3\n"}},
		{"systemd's variables are not passed on", exec.Command(bin, "env", "NOTIFY_SOCKET"), daemontest.Result{Stdout: "\n"}},
		{"an explicit environment is kept", func() *exec.Cmd {
			c := exec.Command(bin, "env", "NOTIFY_SOCKET")
			c.Env = []string{"NOTIFY_SOCKET=/here"}
			return c
		}(), daemontest.Result{Stdout: "/here\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, daemontest.Run(t, tt.cmd))
		})
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("DAEMONTEST_KEEP", "yes")
	env := daemontest.CleanEnv("EXTRA=1")
	assert.Contains(t, env, "DAEMONTEST_KEEP=yes")
	assert.Equal(t, "EXTRA=1", env[len(env)-1])
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, "LISTEN_FDS="), kv)
	}
}

// TestStart: a daemon started as systemd starts a notify service, plain
// and socket-activated, reports how it was started, is ready, and stops on
// SIGTERM.
func TestStart(t *testing.T) {
	bin := hello.Path(t)
	tests := []struct {
		name     string
		activate bool
		want     string
	}{
		{"plain", false, "LISTEN_FDS= own LISTEN_PID=false\n"},
		{"socket-activated", true, "LISTEN_FDS=1 own LISTEN_PID=true\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := daemontest.ProcessOptions{Notify: true}
			if tt.activate {
				f := daemontest.ListenerFile(t, "unixpacket", filepath.Join(daemontest.SocketDir(t), "s.sock"))
				opts.Activate = []*os.File{f}
			}
			p := daemontest.Start(t, bin, opts, "serve")
			assert.Equal(t, "hello serve", p.Name)
			assert.Equal(t, "READY=1\nSTATUS=serving", p.WaitReady(t))
			line, err := p.Stdout.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, tt.want, line)
			assert.False(t, p.Exited())
			assert.Positive(t, p.PID())

			assert.Equal(t, 0, p.Stop(t, syscall.SIGTERM))
			assert.True(t, p.Exited())
			assert.Equal(t, "STOPPING=1", p.ReadNotify(t))
		})
	}
}

func TestStartExitCode(t *testing.T) {
	p := daemontest.Start(t, hello.Path(t), daemontest.ProcessOptions{}, "exit", "4")
	assert.Equal(t, 4, p.Wait(t))
	assert.Equal(t, "exiting with 4\n", p.Stderr.String())
	assert.Nil(t, p.Notify, "no NOTIFY_SOCKET unless asked for")
}

// echo is a dRPC module (9) whose one method (901) answers with its body.
type echo struct{}

func (echo) ID() drpc.ModuleID { return 9 }
func (echo) String() string    { return "echo" }

func (echo) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != 901 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return drpc.NewMethod(9, 901, "Echo"), nil
}

func (echo) HandleCall(_ context.Context, _ *drpc.Session, _ drpc.Method, body []byte) ([]byte, error) {
	return append([]byte(nil), body...), nil
}

// TestServeAndConnect: a module served on a socket answers a client; both
// end with the test.
func TestServeAndConnect(t *testing.T) {
	path := filepath.Join(daemontest.SocketDir(t), "echo.sock")
	t.Run("serve", func(t *testing.T) {
		srv := daemontest.Serve(t, path, []drpc.Module{echo{}}, drpc.WithSocketMode(0o600))
		assert.Equal(t, path, srv.SocketPath())
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the options apply")

		conn := daemontest.Connect(t, path)
		resp, err := conn.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901, Body: []byte("hi")})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusSuccess, resp.GetStatus())
		assert.Equal(t, []byte("hi"), resp.GetBody())
	})
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the server is shut down when the test ends")
}
