package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agenttest"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/metrics/metricstest"
)

// The agent's socket is 0666: every local user reaches it. These tests
// attack a real drpc-agent as an unprivileged user (uid 65534) would, from
// a helper process run as that user, while root's calls must go on.

const nobody = 65534

// Environment of TestHelperAttacker.
const (
	attackEnv       = "DRPC_ATTACK"        // the attack: declare, idle, half, garbage
	attackSocketEnv = "DRPC_ATTACK_SOCKET" // the agent's socket
	attackNEnv      = "DRPC_ATTACK_N"      // how many connections or calls
)

// Sizes of the dRPC framing, as the wire protocol fixes them.
const (
	headerSize    = 24
	maxPacketSize = 1 << 17
	maxChunkData  = maxPacketSize - headerSize
	declaredSize  = 64 << 20 // the largest message the agent accepts
)

// packet returns a packet of a message of total bytes: chunk idx of
// chunks, with data bytes.
func packet(total uint64, idx, chunks uint32, data int) []byte {
	p := make([]byte, headerSize+data)
	binary.NativeEndian.PutUint64(p[0:], total)
	binary.NativeEndian.PutUint64(p[8:], uint64(data))
	binary.NativeEndian.PutUint32(p[16:], idx)
	binary.NativeEndian.PutUint32(p[20:], chunks)
	return p
}

// TestHelperAttacker is not a test: run as another user by the attack
// tests, it attacks the agent's socket as $DRPC_ATTACK says, prints
// "DONE opened=N" and, for the attacks that hold connections, holds them
// until its stdin closes.
func TestHelperAttacker(t *testing.T) {
	attack := os.Getenv(attackEnv)
	if attack == "" {
		return
	}
	socket := os.Getenv(attackSocketEnv)
	n, _ := strconv.Atoi(os.Getenv(attackNEnv))
	var held []net.Conn
	opened := 0
	dial := func() net.Conn {
		c, err := net.Dial("unixpacket", socket)
		if err != nil {
			return nil
		}
		opened++
		held = append(held, c)
		return c
	}
	chunks := uint32((declaredSize + maxChunkData - 1) / maxChunkData)
	switch attack {
	case "declare": // one full packet of a message that declares 64 MiB
		first := packet(declaredSize, 0, chunks, maxChunkData)
		for range n {
			if c := dial(); c != nil {
				_, _ = c.Write(first)
			}
		}
	case "idle": // connections that send nothing
		for range n {
			dial()
		}
	case "half": // the first of three packets, and nothing more
		first := packet(2*maxChunkData+10, 0, 3, maxChunkData)
		for range n {
			if c := dial(); c != nil {
				_, _ = c.Write(first)
			}
		}
	case "garbage": // fuzzed calls: random packets, random calls
		r := rand.New(rand.NewPCG(1, 2))
		for i := range n {
			c := dial()
			if c == nil {
				continue
			}
			var p []byte
			switch i % 3 {
			case 0: // random bytes
				p = make([]byte, r.IntN(200))
				for j := range p {
					p[j] = byte(r.Uint32())
				}
			case 1: // a well-framed call to an unknown module: module field 1 = 77
				body := []byte{0x08, 77, 0x10, 0xcd, 0x3c}
				p = append(packet(uint64(len(body)), 0, 1, 0), body...)
				binary.NativeEndian.PutUint64(p[8:], uint64(len(body)))
			case 2: // a well-framed call of method 101 whose body does not decode
				body := []byte{0x08, 1, 0x10, 101, 0x22, 3, 0xff, 0xff, 0xff}
				p = append(packet(uint64(len(body)), 0, 1, 0), body...)
				binary.NativeEndian.PutUint64(p[8:], uint64(len(body)))
			}
			_, _ = c.Write(p)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 1024)
			_, _ = c.Read(buf)
			_ = c.Close()
			held = held[:0]
		}
	}
	fmt.Printf("DONE opened=%d\n", opened)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range held {
		_ = c.Close()
	}
}

// attacker is a running TestHelperAttacker.
type attacker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	opened int
}

// attack runs the attack against socket as uid 65534 with n connections or
// calls, and waits until it is done (its connections held).
func attack(t *testing.T, exe, socket, kind string, n int) *attacker {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^TestHelperAttacker$", "-test.count=1")
	cmd.Env = daemontest.CleanEnv(attackEnv+"="+kind, attackSocketEnv+"="+socket, attackNEnv+"="+strconv.Itoa(n),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	a := &attacker{cmd: cmd, stdin: stdin}
	t.Cleanup(a.stop)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "DONE opened="); ok {
			a.opened, _ = strconv.Atoi(rest)
			return a
		}
	}
	require.FailNow(t, "the attacker ended without reporting")
	return nil
}

// stop closes the attacker's connections and waits for it to exit.
func (a *attacker) stop() {
	if a.stdin != nil {
		_ = a.stdin.Close()
		a.stdin = nil
		_ = a.cmd.Wait()
	}
}

// attackSetup checks that the test runs as root, and returns a directory
// that uid 65534 can enter, and a copy of the test binary it can run.
func attackSetup(t *testing.T) (dir, exe string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to attack as another user (uid 65534)")
	}
	dir = daemontest.SocketDir(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	exe = filepath.Join(dir, "attacker.test")
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, data, 0o755))
	return dir, exe
}

// rss returns the resident and peak resident memory of pid, in bytes.
func rss(t *testing.T, pid int) (now, peak int64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			now = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return now, peak
}

// sessionsOpen scrapes the agent's number of open sessions.
func sessionsOpen(t *testing.T, url string) float64 {
	t.Helper()
	samples, err := metricstest.Scrape(context.Background(), url)
	require.NoError(t, err)
	v, ok := samples.Value("drpc_server_sessions_open")
	require.True(t, ok)
	return v
}

func metricsURL(t *testing.T, d *daemontest.Process) string {
	t.Helper()
	line, err := d.Stdout.ReadString('\n')
	require.NoError(t, err)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "metrics: ")
	require.True(t, ok, line)
	return url
}

func TestAttackDeclaredSizes(t *testing.T) {
	// 1,000 connections of uid 65534, each one full packet of a message
	// that declares 64 MiB: the agent holds about what was sent, within
	// its per-user memory limit, gives it back once they close, and
	// answers root meanwhile.
	dir, exe := attackSetup(t)
	runDir := filepath.Join(dir, "run")
	socket := filepath.Join(runDir, "daos_agent.sock")
	d := start(t, nil, "--allow-insecure", "--runtime-dir", runDir, "--metrics-addr", "127.0.0.1:0")
	url := metricsURL(t, d)
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus())
	base, _ := rss(t, d.PID())

	const conns = 1000
	a := attack(t, exe, socket, "declare", conns)
	require.Equal(t, conns, a.opened, "every connection is accepted (the per-user session limit is 1024)")
	require.Eventually(t, func() bool { return sessionsOpen(t, url) == conns }, 30*time.Second, 10*time.Millisecond)
	for range 3 {
		require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus(), "root is answered meanwhile")
	}
	_, peak := rss(t, d.PID())
	t.Logf("rss: %d MiB before, peak %d MiB", base>>20, peak>>20)
	assert.LessOrEqual(t, peak-base, int64(256<<20), "the peak of the agent's memory")

	a.stop()
	require.Eventually(t, func() bool { return sessionsOpen(t, url) == 0 }, 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		now, _ := rss(t, d.PID())
		return now-base <= 64<<20
	}, 10*time.Second, 50*time.Millisecond, "the agent gives the memory back within 10 s")
	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM))
}

func TestAttackSessions(t *testing.T) {
	// Connections that send nothing, or half a message, are bounded per
	// user and closed after the idle and message timeouts; each kind of
	// refusal is logged once; root is answered meanwhile.
	dir, exe := attackSetup(t)
	runDir := filepath.Join(dir, "run")
	socket := filepath.Join(runDir, "daos_agent.sock")
	cfg := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("limits:\n  max_sessions_per_uid: 100\n  idle_timeout: 1s\n  message_timeout: 1s\n"), 0o644))
	d := start(t, nil, "--config", cfg, "--allow-insecure", "--runtime-dir", runDir, "--metrics-addr", "127.0.0.1:0")
	url := metricsURL(t, d)

	idle := attack(t, exe, socket, "idle", 300)
	assert.Equal(t, 300, idle.opened, "the kernel accepts them; the agent answers the extra ones with a refusal")
	require.Eventually(t, func() bool { return sessionsOpen(t, url) == 100 }, 30*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus(), "root is answered while uid 65534 holds its maximum")
	require.Eventually(t, func() bool { return sessionsOpen(t, url) == 0 }, 30*time.Second, 10*time.Millisecond, "idle sessions are closed")
	idle.stop()

	half := attack(t, exe, socket, "half", 50)
	assert.Equal(t, 50, half.opened)
	require.Eventually(t, func() bool { return sessionsOpen(t, url) == 0 }, 30*time.Second, 10*time.Millisecond, "half messages time out")
	half.stop()
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus())

	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM))
	logs := d.Stderr.String()
	assert.Equal(t, 1, strings.Count(logs, "dRPC connection refused"), "a refusal kind is logged once per user a minute:\n%s", logs)
	assert.Equal(t, 1, strings.Count(logs, "the rest of a message did not arrive in time"))
	assert.Contains(t, logs, "more records of this kind from this peer were left out")
}

func TestAttackLogFlood(t *testing.T) {
	// 5,000 fuzzed calls of uid 65534 write a few lines to the agent's
	// log, not thousands.
	dir, exe := attackSetup(t)
	runDir := filepath.Join(dir, "run")
	socket := filepath.Join(runDir, "daos_agent.sock")
	d := start(t, nil, "--allow-insecure", "--runtime-dir", runDir)
	a := attack(t, exe, socket, "garbage", 5000)
	a.stop()
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus())
	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM))
	logs := d.Stderr.String()
	warnings := strings.Count(logs, "level=WARN")
	t.Logf("%d warnings, %d bytes of log", warnings, len(logs))
	assert.LessOrEqual(t, warnings, 10, "warnings in the log:\n%s", logs)
	assert.Less(t, len(logs), 20<<10)
}

func TestRuntimeDirOthersMayWrite(t *testing.T) {
	// A runtime directory that another user may write (or a directory
	// above it) is refused, in one line that says what to do.
	dir := daemontest.SocketDir(t)
	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o777))
	for _, runDir := range []string{open, filepath.Join(open, "run")} {
		code, _, stderr := run(t, "start", "--allow-insecure", "--runtime-dir", runDir)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "is writable by every user (mode 0777, no sticky bit): another user could move the socket away and serve their own: chmod o-w "+open)
		assert.Contains(t, stderr, "or give another --runtime-dir (runtime_dir)")
		assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	}
	_, err := os.Lstat(filepath.Join(open, "run"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing is made in a directory that is refused")

	if os.Geteuid() == 0 {
		theirs := filepath.Join(dir, "theirs")
		require.NoError(t, os.Mkdir(theirs, 0o755))
		require.NoError(t, os.Chown(theirs, nobody, nobody))
		code, _, stderr := run(t, "start", "--allow-insecure", "--runtime-dir", theirs)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "uid 65534")
	}

}
