package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

// asMainEnv makes the test binary run as bench-peers itself, so that the
// tests run the real program (and, through it, the real server process)
// without building another binary.
const asMainEnv = "BENCH_PEERS_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runProgram runs bench-peers with args as a child process and returns its
// exit status, its standard output and error, and its JSON report.
func runProgram(t *testing.T, args ...string) (int, string, string, *report) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(exe, append(args, "-json", jsonPath)...)
	cmd.Env = daemontest.CleanEnv(asMainEnv + "=1")
	r := daemontest.Run(t, cmd)
	var rep report
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err, "no JSON report; stderr:\n%s", r.Stderr)
	require.NoError(t, json.Unmarshal(data, &rep))
	return r.Code, r.Stdout, r.Stderr, &rep
}

// TestQuickRunEveryTransport runs every row, the generated client and
// module included, at every default size (64 B to 1 MiB, so with messages
// of one packet and of several) with 1 and 2 connections.
func TestQuickRunEveryTransport(t *testing.T) {
	code, out, errOut, rep := runProgram(t, "-quick", "-conns", "1,2")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)

	sizes := []int{64, 4 << 10, 128 << 10, 1 << 20}
	want := map[cellKey]bool{}
	for _, tr := range transports {
		if tr.extra {
			continue
		}
		for _, size := range sizes {
			for _, conns := range []int{1, 2} {
				if tr.only == nil || tr.only(size, conns) {
					want[cellKey{tr.name, size, conns}] = true
				}
			}
		}
	}
	got := map[cellKey]bool{}
	for _, c := range rep.Cells {
		k := cellKey{c.Transport, c.Size, c.Conns}
		got[k] = true
		require.Len(t, c.Rounds, 1, "%v", k)
		s := c.Rounds[0]
		assert.Empty(t, s.Error, "%v", k)
		assert.Positive(t, s.Calls, "%v", k)
		assert.Positive(t, s.CallsPerSec, "%v", k)
		assert.Positive(t, s.P50Ns, "%v", k)
		assert.LessOrEqual(t, s.P50Ns, s.P99Ns, "%v", k)
		assert.Positive(t, s.ClientCPUNsPerCall, "%v", k)
		assert.Positive(t, s.ServerCPUNsPerCall, "%v", k)
		if assert.NotNil(t, c.Median, "%v", k) {
			assert.Equal(t, s.CallsPerSec, c.Median.CallsPerSec, "%v", k)
		}
		if assert.NotNil(t, c.VsRaw, "%v", k) && c.Transport == rawName {
			assert.InDelta(t, 1, *c.VsRaw, 1e-9)
		}
		if c.Transport == rawName {
			assert.Less(t, s.AllocsPerCall, 0.5, "the raw floor allocates per call")
		}
	}
	assert.Equal(t, want, got)

	for _, size := range sizes {
		for _, conns := range []string{"1 connection", "2 connections"} {
			assert.Contains(t, out, "## "+sizeLabel(size)+", "+conns)
		}
		assert.True(t, want[cellKey{"drpc-gen", size, 1}], "the generated path runs at %s", sizeLabel(size))
	}
	assert.Contains(t, out, "| drpc-busypoll |")
	assert.NotContains(t, out, "ERROR")
}

func TestBrokenEchoIsReported(t *testing.T) {
	code, out, errOut, rep := runProgram(t, "-quick", "-transports", "raw,"+brokenTag, "-sizes", "64,128KiB", "-conns", "1")
	assert.Equal(t, 1, code, "a broken echo must fail the run; stderr:\n%s", errOut)
	var broken, good int
	for _, c := range rep.Cells {
		for _, s := range c.Rounds {
			if c.Transport == brokenTag {
				broken++
				assert.Contains(t, s.Error, "echo mismatch", "%s %d", c.Transport, c.Size)
				assert.Nil(t, c.Median)
			} else {
				good++
				assert.Empty(t, s.Error)
			}
		}
	}
	assert.Equal(t, 2, broken)
	assert.Equal(t, 2, good)
	assert.Contains(t, out, "## Errors")
	assert.Contains(t, out, "echo mismatch")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-sizes", "0"},
		{"-sizes", "64,banana"},
		{"-sizes", "17MiB"},
		{"-conns", "0"},
		{"-transports", "carrier-pigeon"},
		{"-rounds", "0"},
		{"-duration", "-1s"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		assert.Equal(t, 2, run(args, strings.NewReader(""), &bytes.Buffer{}, &stderr), "%v", args)
		assert.NotEmpty(t, stderr.String(), "%v", args)
	}
	assert.Equal(t, 2, run([]string{serveCommand}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}))
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"64": 64, "64B": 64, "4KiB": 4096, "4k": 4096, "128KiB": 128 << 10, "1MiB": 1 << 20, "16M": 16 << 20} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	assert.Equal(t, "64 B", sizeLabel(64))
	assert.Equal(t, "4 KiB", sizeLabel(4096))
	assert.Equal(t, "1 MiB", sizeLabel(1<<20))
	assert.Equal(t, "1000 B", sizeLabel(1000))
}

func TestEchoCheck(t *testing.T) {
	for _, size := range []int{1, 23, 24, 64, 4 << 10, 128 << 10, 1 << 20} {
		c := newEchoCheck(size)
		reply := make([]byte, size)
		for range 2*c.fullEvery + 1 {
			c.next()
			copy(reply, c.req)
			require.NoError(t, c.check(reply), "size %d call %d", size, c.seq)
			assert.Error(t, c.check(reply[:size-1]), "short reply")
			reply[0] ^= 1 // the first byte is always checked
			assert.ErrorContains(t, c.check(reply), "echo mismatch")
			reply[0] ^= 1
			if c.seq%c.fullEvery == 0 || c.seq == 1 {
				reply[size/3] ^= 1 // caught by the full compares only
				assert.ErrorContains(t, c.check(reply), "at byte", "size %d call %d", size, c.seq)
				reply[size/3] ^= 1
			}
		}
		// A stale reply (the previous call's) fails.
		stale := bytes.Clone(c.req)
		c.next()
		if size >= 8 {
			assert.Error(t, c.check(stale), "size %d: stale reply", size)
		}
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	client, server, allocs := filepath.Join(dir, "client.prof"), filepath.Join(dir, "server.prof"), filepath.Join(dir, "allocs.prof")
	code, out, errOut, _ := runProgram(t, "-quick", "-transports", "drpc-gen", "-sizes", "4KiB", "-conns", "1",
		"-cpuprofile", client, "-server-cpuprofile", server, "-memprofile", allocs)
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	for _, p := range []string{client, server, allocs} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), "%s is empty", p)
	}

	// A profile that cannot be written fails the run before it starts.
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-quick", "-transports", "raw", "-sizes", "64", "-conns", "1", "-cpuprofile", filepath.Join(dir, "missing", "x.prof"))
	cmd.Env = daemontest.CleanEnv(asMainEnv + "=1")
	r := daemontest.Run(t, cmd)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "CPU profile")
}
