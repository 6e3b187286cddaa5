package activation_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/activation"
)

// helperEnv selects the helper main in a re-executed test binary.
const helperEnv = "DRPC_ACTIVATION_HELPER"

// TestMain runs the helper when the test binary is re-executed as a
// socket-activated child: it takes the listener, reports on stdout, and
// answers one connection with "hello".
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

func helper() int {
	ln, err := activation.Listener()
	left := os.Getenv("LISTEN_FDS") + os.Getenv("LISTEN_PID")
	switch {
	case err != nil:
		fmt.Printf("error: %v\n", err)
		return 1
	case ln == nil:
		fmt.Printf("not activated; env left=%q\n", left)
		return 0
	}
	fmt.Printf("activated %s; env left=%q\n", ln.Addr(), left)
	conn, err := ln.Accept()
	if err != nil {
		fmt.Printf("accept: %v\n", err)
		return 1
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("hello")); err != nil {
		fmt.Printf("write: %v\n", err)
		return 1
	}
	ln.Close()
	return 0
}

// startChild runs the test binary as systemd would start a socket-activated
// daemon: files from fd 3 on, LISTEN_FDS set, and LISTEN_PID the child's own
// pid (which the shell knows before it execs the binary).
func startChild(t *testing.T, listenPID string, files ...*os.File) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	script := `export LISTEN_PID=$$; exec "$0" "$@"`
	if listenPID != "" {
		script = `export LISTEN_PID=` + listenPID + `; exec "$0" "$@"`
	}
	cmd := exec.Command("/bin/sh", "-c", script, self, "-test.run=^$")
	// atexit_sleep_ms: a race-enabled child would wait a second at exit.
	cmd.Env = append(os.Environ(), helperEnv+"=1", fmt.Sprintf("LISTEN_FDS=%d", len(files)), "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, bufio.NewReader(out)
}

func fileOf(t *testing.T, ln interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := ln.File()
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func seqpacketListener(t *testing.T) (*net.UnixListener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln, path
}

// TestActivatedChild: a child given a SOCK_SEQPACKET listener as fd 3 with
// LISTEN_FDS=1 and its own LISTEN_PID serves it, clears the environment,
// and leaves the socket file in place.
func TestActivatedChild(t *testing.T) {
	ln, path := seqpacketListener(t)
	cmd, out := startChild(t, "", fileOf(t, ln))
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("activated %s; env left=\"\"\n", path), line)

	conn, err := net.DialTimeout("unixpacket", path, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 16)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	require.NoError(t, cmd.Wait())

	_, err = os.Lstat(path)
	assert.NoError(t, err, "the child must not remove the socket file, which systemd owns")
}

func TestChildRefusesWrongSockets(t *testing.T) {
	stream, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s.sock"), Net: "unix"})
	require.NoError(t, err)
	defer stream.Close()
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer tcp.Close()
	seq1, _ := seqpacketListener(t)
	seq2, _ := seqpacketListener(t)

	tests := []struct {
		name  string
		files []*os.File
		want  string
	}{
		{"stream socket", []*os.File{fileOf(t, stream)}, "fd 3 is AF_UNIX SOCK_STREAM"},
		{"tcp socket", []*os.File{fileOf(t, tcp)}, "fd 3 is AF_INET (TCP/IP) SOCK_STREAM"},
		{"two sockets", []*os.File{fileOf(t, seq1), fileOf(t, seq2)}, "want exactly one listening socket, got 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, out := startChild(t, "", tt.files...)
			line, err := out.ReadString('\n')
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(line, "error: socket activation: "), line)
			assert.Contains(t, line, tt.want)
			assert.Contains(t, line, "ListenSequentialPacket=")
			require.Error(t, cmd.Wait())
		})
	}
}

// TestChildForAnotherPID: LISTEN_PID naming another process means the
// variables are not for this one.
func TestChildForAnotherPID(t *testing.T) {
	ln, _ := seqpacketListener(t)
	cmd, out := startChild(t, "1", fileOf(t, ln))
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "not activated; env left=\"\"\n", line)
	require.NoError(t, cmd.Wait())
}

func TestNotActivated(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("LISTEN_PID", "")
	ln, err := activation.Listener()
	require.NoError(t, err)
	assert.Nil(t, ln)
}

func TestFromFiles(t *testing.T) {
	ln, path := seqpacketListener(t)
	got, err := activation.FromFiles([]*os.File{fileOf(t, ln)})
	require.NoError(t, err)
	defer got.Close()
	assert.Equal(t, path, got.Addr().String())

	// A bound socket that does not listen.
	unbound, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "g.sock"), Net: "unixgram"})
	require.NoError(t, err)
	defer unbound.Close()
	_, err = activation.FromFiles([]*os.File{fileOf(t, unbound)})
	require.ErrorIs(t, err, activation.ErrWrongSocket)
	assert.Contains(t, err.Error(), "SOCK_DGRAM")

	// A regular file.
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	require.NoError(t, err)
	_, err = activation.FromFiles([]*os.File{f})
	require.ErrorIs(t, err, activation.ErrWrongSocket)
	assert.Contains(t, err.Error(), "is not a socket")

	_, err = activation.FromFiles(nil)
	require.ErrorIs(t, err, activation.ErrFDCount)
}
