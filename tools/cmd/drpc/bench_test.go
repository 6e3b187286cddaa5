package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/tools/cmd/drpc/internal/app"
)

// benchJSON runs bench --json and decodes its report, checking the fields
// the issue names are there.
func benchJSON(t *testing.T, args ...string) (app.BenchResult, daemontest.Result) {
	t.Helper()
	r := tool(t, append([]string{"bench", "--json"}, args...)...)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &raw), "stdout %q stderr %q", r.Stdout, r.Stderr)
	for _, k := range []string{"calls", "calls_per_second", "p50_us", "p90_us", "p99_us", "max_us", "errors"} {
		assert.Contains(t, raw, k)
	}
	assert.IsType(t, map[string]any{}, raw["errors"], "errors is an object")
	var res app.BenchResult
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &res))
	return res, r
}

// assertOrdered checks that the percentiles are ordered and positive.
func assertOrdered(t *testing.T, res app.BenchResult) {
	t.Helper()
	assert.Positive(t, res.P50US)
	assert.LessOrEqual(t, res.MinUS, res.P50US)
	assert.LessOrEqual(t, res.P50US, res.P90US)
	assert.LessOrEqual(t, res.P90US, res.P99US)
	assert.LessOrEqual(t, res.P99US, res.P999US)
	assert.LessOrEqual(t, res.P999US, res.MaxUS)
}

func TestBenchEcho(t *testing.T) {
	sock := startServeEcho(t)

	t.Run("4 connections for 1s", func(t *testing.T) {
		res, r := benchJSON(t, "--socket", sock, "--conns", "4", "--duration", "1s", "--size", "1000")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Empty(t, r.Stderr, "no progress line when stderr is not a terminal")
		assert.Positive(t, res.Calls)
		assert.Positive(t, res.CallsPerSecond)
		assert.Empty(t, res.Errors)
		assert.Equal(t, 4, res.Conns)
		assert.Equal(t, 1000, res.BodyBytes)
		assert.Equal(t, "drpc.test.v1.TestService.Echo", res.MethodName)
		assert.InDelta(t, 1.0, res.Seconds, 0.5)
		assertOrdered(t, res)
	})

	t.Run("64 MiB bodies", func(t *testing.T) {
		res, r := benchJSON(t, "--socket", sock, "--size", "64MiB", "--duration", "100ms")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Positive(t, res.Calls)
		assert.Equal(t, app.MaxBody, res.BodyBytes)
		assert.Empty(t, res.Errors)
	})

	t.Run("text report", func(t *testing.T) {
		r := tool(t, "bench", "--socket", sock, "--duration", "200ms", "--size", "0")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Contains(t, r.Stdout, "drpc.test.v1.TestService.Echo (module 0, method 1) on "+sock)
		assert.Contains(t, r.Stdout, "0-byte body, 1 connection,")
		assert.Regexp(t, `calls: +[1-9][0-9]* \(`, r.Stdout)
		assert.Regexp(t, `latency \(µs\): min [0-9.]+  p50 [0-9.]+  p90 [0-9.]+  p99 [0-9.]+  p99\.9 [0-9.]+  max [0-9.]+`, r.Stdout)
		assert.Contains(t, r.Stdout, "errors:       none")
	})
}

func TestBenchGenerated(t *testing.T) {
	a := startAPIServer(t)

	t.Run("echo body is an EchoRequest", func(t *testing.T) {
		// The generated Echo decodes the body: bench's echo bodies must be
		// EchoRequests, of the size asked, even where a minimal length
		// encoding does not fit.
		for _, size := range []string{"0", "130", "16387"} {
			res, r := benchJSON(t, "--socket", a.socket, "--size", size, "--duration", "100ms")
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Positive(t, res.Calls)
			assert.Empty(t, res.Errors)
			assert.Equal(t, size, strconv.Itoa(res.BodyBytes))
		}
	})

	t.Run("another method with --data", func(t *testing.T) {
		res, r := benchJSON(t, "--socket", a.socket, "--method", "mgmt.PingRank", "--data", `{"rank": 3}`, "--conns", "2", "--duration", "300ms")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Positive(t, res.Calls)
		assert.Equal(t, int32(225), res.Method)
		assert.Equal(t, 2, res.BodyBytes)
		assertOrdered(t, res)
	})

	t.Run("failed calls are counted by kind", func(t *testing.T) {
		// PrepShutdown fails every second call.
		res, r := benchJSON(t, "--socket", a.socket, "--method", "PrepShutdown", "--duration", "300ms")
		require.Equal(t, 1, r.Code, r.Stderr)
		assertOneLineError(t, r, "calls failed", "status_FAILURE")
		assert.Positive(t, res.Calls)
		assert.Positive(t, res.Errors["status_FAILURE"])
		assert.InDelta(t, float64(res.Calls), float64(res.Errors["status_FAILURE"]), float64(res.Calls)/4+2)
	})

	t.Run("a method the server does not serve stops at once", func(t *testing.T) {
		r := tool(t, "bench", "--socket", a.socket, "--method", "ValidateCredentials", "--duration", "10s")
		assert.Equal(t, 1, r.Code)
		assertOneLineError(t, r, "answered UNKNOWN_METHOD")
		assert.Empty(t, r.Stdout)
	})
}
