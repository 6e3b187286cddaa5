package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/metrics"
	"github.com/cc532012/drpc/daemon/metrics/metricstest"
	"github.com/cc532012/drpc/drpc"
)

var (
	credMethod = drpc.NewMethod(1, 101, "drpc.auth.v1.SecurityAgentService.RequestCredentials")
	echoMethod = drpc.NewMethod(0, 1, "drpc.test.v1.TestService.Echo")
)

func TestCollectorCounts(t *testing.T) {
	c := metrics.New(metrics.Options{})
	c.AddMethods(credMethod)
	for range 3 {
		c.CallStarted(credMethod, 0)
		c.CallFinished(credMethod, drpc.StatusSuccess, time.Millisecond, 300)
	}
	c.CallStarted(echoMethod, 10)
	c.CallFinished(echoMethod, drpc.StatusFailure, time.Millisecond, 0)
	c.CallStarted(echoMethod, 5)
	c.CallFinished(echoMethod, drpc.Status(42), time.Millisecond, 0)
	for _, e := range []drpc.ServerEvent{drpc.EventSessionOpened, drpc.EventSessionOpened, drpc.EventSessionClosed,
		drpc.EventSessionRefused, drpc.EventMalformedPacket, drpc.EventHangUp, drpc.EventMessageTooLarge,
		drpc.EventUnknownMethod, drpc.EventUnknownMethod, drpc.EventOverMemoryLimit, drpc.EventIdleTimeout, drpc.EventIdleTimeout,
		drpc.EventMessageTimeout, drpc.ServerEvent(99)} {
		c.ServerEvent(e)
	}

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	s := gather(t, reg)

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"drpc_server_calls_started_total", []string{"module", "1", "method", credMethod.String()}, 3},
		{"drpc_server_calls_finished_total", []string{"module", "1", "method", credMethod.String(), "status", "STATUS_SUCCESS"}, 3},
		{"drpc_server_call_duration_seconds_count", []string{"module", "1", "method", credMethod.String()}, 3},
		{"drpc_server_request_bytes_total", []string{"module", "1", "method", credMethod.String()}, 0},
		{"drpc_server_reply_bytes_total", []string{"module", "1", "method", credMethod.String()}, 900},
		{"drpc_server_calls_started_total", []string{"module", "0", "method", echoMethod.String()}, 2},
		{"drpc_server_calls_finished_total", []string{"method", echoMethod.String(), "status", "STATUS_FAILURE"}, 1},
		{"drpc_server_calls_finished_total", []string{"method", echoMethod.String(), "status", "42"}, 1},
		{"drpc_server_request_bytes_total", []string{"method", echoMethod.String()}, 15},
		{"drpc_server_sessions_open", nil, 1},
		{"drpc_server_sessions_opened_total", nil, 2},
		{"drpc_server_sessions_refused_total", nil, 1},
		{"drpc_server_malformed_packets_total", nil, 1},
		{"drpc_server_hangups_total", nil, 1},
		{"drpc_server_messages_too_large_total", nil, 1},
		{"drpc_server_unknown_methods_total", nil, 2},
		{"drpc_server_over_memory_limit_total", nil, 1},
		{"drpc_server_idle_timeouts_total", nil, 2},
		{"drpc_server_message_timeouts_total", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name+strings.Join(tt.labels, ","), func(t *testing.T) {
			v, ok := s.Value(tt.name, tt.labels...)
			require.True(t, ok, "series %s %v missing", tt.name, tt.labels)
			assert.Equal(t, tt.want, v)
		})
	}
}

func TestCollectorOptions(t *testing.T) {
	c := metrics.New(metrics.Options{Namespace: "x", Subsystem: "agent", ConstLabels: prometheus.Labels{"daemon": "agent"}, DurationBuckets: []float64{1}})
	c.CallStarted(credMethod, 1)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	s := gather(t, reg)
	v, ok := s.Value("x_agent_calls_started_total", "daemon", "agent", "module", "1")
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
	// 10 server series, and started, duration, request and reply bytes of
	// the one method seen.
	assert.Equal(t, 14, testutil.CollectAndCount(c))
}

func TestCollectorConcurrent(t *testing.T) {
	c := metrics.New(metrics.Options{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := drpc.NewMethod(1, drpc.MethodID(101+g%3), fmt.Sprintf("m%d", g%3))
			for range 100 {
				c.CallStarted(m, 1)
				c.CallFinished(m, drpc.Status(g%9), time.Microsecond, 1)
				c.ServerEvent(drpc.EventSessionOpened)
			}
		}()
	}
	wg.Wait()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	s := gather(t, reg)
	v, _ := s.Value("drpc_server_calls_started_total")
	assert.Equal(t, 800.0, v)
	v, _ = s.Value("drpc_server_calls_finished_total")
	assert.Equal(t, 800.0, v)
}

func gather(t *testing.T, g prometheus.Gatherer) metricstest.Samples {
	t.Helper()
	var b strings.Builder
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			switch {
			case m.Counter != nil:
				fmt.Fprintf(&b, "%s{%s} %v\n", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
			case m.Gauge != nil:
				fmt.Fprintf(&b, "%s{%s} %v\n", mf.GetName(), strings.Join(labels, ","), m.GetGauge().GetValue())
			case m.Histogram != nil:
				fmt.Fprintf(&b, "%s_count{%s} %v\n", mf.GetName(), strings.Join(labels, ","), m.GetHistogram().GetSampleCount())
			}
		}
	}
	s, err := metricstest.Parse(strings.NewReader(b.String()))
	require.NoError(t, err)
	return s
}

// TestEndpointScrape serves a collector on 127.0.0.1:0 and scrapes it over
// HTTP.
func TestEndpointScrape(t *testing.T) {
	c := metrics.New(metrics.Options{})
	reg, err := metrics.NewRegistry(c)
	require.NoError(t, err)
	ep, err := metrics.Listen("127.0.0.1:0", reg, nil)
	require.NoError(t, err)
	defer ep.Shutdown(context.Background())
	assert.True(t, strings.HasPrefix(ep.URL(), "http://127.0.0.1:"), ep.URL())
	assert.True(t, strings.HasSuffix(ep.URL(), "/metrics"))

	for range 4 {
		c.CallStarted(credMethod, 0)
		c.CallFinished(credMethod, drpc.StatusSuccess, 20*time.Microsecond, 310)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := metricstest.Scrape(ctx, ep.URL())
	require.NoError(t, err)
	v, ok := s.Value("drpc_server_calls_started_total", "module", "1", "method", credMethod.String())
	require.True(t, ok)
	assert.Equal(t, 4.0, v)
	v, ok = s.Value("drpc_server_calls_finished_total", "module", "1", "method", credMethod.String(), "status", "STATUS_SUCCESS")
	require.True(t, ok)
	assert.Equal(t, 4.0, v)
	v, ok = s.Value("drpc_server_call_duration_seconds_count", "method", credMethod.String())
	require.True(t, ok)
	assert.Equal(t, 4.0, v)
	v, ok = s.Value("drpc_server_call_duration_seconds_bucket", "method", credMethod.String(), "le", "4e-05")
	require.True(t, ok)
	assert.Equal(t, 4.0, v)
	_, ok = s.Value("go_goroutines")
	assert.True(t, ok, "the registry has the Go collector")

	resp, err := http.Get("http://" + ep.Addr().String() + "/nothing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	require.NoError(t, ep.Shutdown(context.Background()))
	_, err = metricstest.Scrape(ctx, ep.URL())
	require.Error(t, err, "a shut down endpoint must not answer")
}

func TestListenErrors(t *testing.T) {
	ep, err := metrics.Listen("127.0.0.1:0", prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	defer ep.Shutdown(context.Background())
	_, err = metrics.Listen(ep.Addr().String(), prometheus.NewRegistry(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "choose another --metrics-addr")

	_, err = metrics.Listen("nonsense", prometheus.NewRegistry(), nil)
	require.ErrorIs(t, err, metrics.ErrBadAddr)
}

func TestResolveAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{":9191", "127.0.0.1:9191", true},
		{"127.0.0.1:0", "127.0.0.1:0", true},
		{"localhost:9191", "localhost:9191", true},
		{"[::1]:9191", "[::1]:9191", true},
		{"0.0.0.0:9191", "0.0.0.0:9191", true},
		{"9191", "", false},
		{"127.0.0.1", "", false},
		{"127.0.0.1:http", "", false},
		{"127.0.0.1:70000", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := metrics.ResolveAddr(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, metrics.ErrBadAddr)
				assert.Contains(t, err.Error(), "want HOST:PORT")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "0.0.0.0": false, "10.0.0.1": false, "example.com": false} {
		assert.Equal(t, want, metrics.IsLoopback(host), host)
	}
}

func BenchmarkCollector(b *testing.B) {
	c := metrics.New(metrics.Options{})
	b.ReportAllocs()
	for b.Loop() {
		c.CallStarted(credMethod, 0)
		c.CallFinished(credMethod, drpc.StatusSuccess, time.Microsecond, 300)
	}
}
