package drpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// The round-trip benchmarks run the server in another process (this test
// binary, started again with benchServerEnv set), so client and server never
// share a Go scheduler: the figures are those of two daemons on one machine.
//
// Next to every dRPC round trip they time a raw SOCK_SEQPACKET ping-pong of
// the same payload with no framing at all (packets of up to 128 KiB, no
// header, no protobuf) against the same process, and report the ratio as
// x-raw (drpc-ns/op over raw-ns/op). Allocations are the dRPC client's (the
// raw path allocates nothing). Run with: make bench.

const (
	benchServerEnv = "DRPC_BENCH_SERVER_DIR"
	rawPacketSize  = 1 << 17
)

var benchSizes = []struct {
	name string
	size int
}{
	{"64B", 64},
	{"4KiB", 4 << 10},
	{"128KiB", 128 << 10},
	{"1MiB", 1 << 20},
}

// runBenchServer serves dRPC (drpc.sock, the echo module) and raw ping-pong
// (raw.sock) in dir until its standard input closes.
//
// With DRPC_BENCH_SERVER_CPUPROFILE set, it writes the server's CPU profile
// to that file when it stops; with DRPC_BENCH_SERVER_MUTEXPROFILE and
// DRPC_BENCH_SERVER_BLOCKPROFILE, its mutex and block profiles (every
// event recorded).
func runBenchServer(dir string) int {
	if path := os.Getenv("DRPC_BENCH_SERVER_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() {
				pprof.StopCPUProfile()
				_ = f.Close()
			}()
		}
	}
	for _, p := range []struct{ env, profile string }{
		{"DRPC_BENCH_SERVER_MUTEXPROFILE", "mutex"},
		{"DRPC_BENCH_SERVER_BLOCKPROFILE", "block"},
	} {
		path := os.Getenv(p.env)
		if path == "" {
			continue
		}
		if p.profile == "mutex" {
			runtime.SetMutexProfileFraction(1)
		} else {
			runtime.SetBlockProfileRate(1)
		}
		defer writeProfile(p.profile, path)
	}
	srv, err := drpc.NewDomainSocketServer(filepath.Join(dir, "drpc.sock"))
	if err == nil {
		err = srv.RegisterRPCModule(&echoModule{block: make(chan struct{})})
	}
	if err == nil {
		err = srv.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	raw, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: filepath.Join(dir, "raw.sock"), Net: "unixpacket"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	go serveRaw(raw)
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = raw.Close()
	_ = srv.Shutdown(context.Background())
	return 0
}

// writeProfile writes the named runtime profile to path, for a benchmark
// run by hand; a failure is reported on stderr.
func writeProfile(name, path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: %s profile: %v\n", name, err)
	}
}

// serveRaw answers raw ping-pong connections: the first packet holds the
// payload size as 8 bytes; then each payload received (in packets of up to
// rawPacketSize bytes) is sent back the same way.
func serveRaw(ln *net.UnixListener) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			buf := make([]byte, rawPacketSize)
			n, err := conn.Read(buf)
			if err != nil || n != 8 {
				return
			}
			size := int(binary.LittleEndian.Uint64(buf))
			payload := make([]byte, size)
			for {
				if rawRecv(conn, payload) != nil || rawSend(conn, payload) != nil {
					return
				}
			}
		}()
	}
}

func rawSend(conn *net.UnixConn, payload []byte) error {
	for off := 0; off < len(payload) || off == 0; off += rawPacketSize {
		if _, err := conn.Write(payload[off:min(off+rawPacketSize, len(payload))]); err != nil {
			return err
		}
		if len(payload) == 0 {
			break
		}
	}
	return nil
}

func rawRecv(conn *net.UnixConn, payload []byte) error {
	for got := 0; got < len(payload); {
		n, err := conn.Read(payload[got:min(got+rawPacketSize, len(payload))])
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

// startBenchServer starts the server process and returns its directory.
func startBenchServer(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("", "drpcbench")
	require.NoError(b, err)
	b.Cleanup(func() { _ = os.RemoveAll(dir) })

	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(b, err, "bench server did not start")
	require.Equal(b, "ready\n", line)
	return dir
}

func BenchmarkRoundTrip(b *testing.B) {
	dir := startBenchServer(b)
	ctx := context.Background()
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			payload := pattern(bs.size)

			client := drpc.NewClientConnection(filepath.Join(dir, "drpc.sock"))
			require.NoError(b, client.Connect(ctx))
			defer client.Close()
			raw, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: filepath.Join(dir, "raw.sock"), Net: "unixpacket"})
			require.NoError(b, err)
			defer raw.Close()
			var hello [8]byte
			binary.LittleEndian.PutUint64(hello[:], uint64(bs.size))
			_, err = raw.Write(hello[:])
			require.NoError(b, err)
			echo := make([]byte, bs.size)

			call := &drpc.Call{Module: 0, Method: int32(methodEcho), Body: payload}
			sendDRPC := func() {
				resp, err := client.SendMsg(ctx, call)
				if err != nil || resp.Status != drpc.StatusSuccess || len(resp.Body) != bs.size {
					b.Fatalf("dRPC echo failed: %v %v", err, resp)
				}
			}
			sendRaw := func() {
				if err := rawSend(raw, payload); err != nil {
					b.Fatal(err)
				}
				if err := rawRecv(raw, echo); err != nil {
					b.Fatal(err)
				}
			}
			for range 10 { // warm up both paths
				sendDRPC()
				sendRaw()
			}

			// The two are interleaved, call by call, so that whatever else
			// the machine does weighs on both alike; ns/op counts both.
			b.SetBytes(int64(2 * bs.size))
			b.ReportAllocs()
			b.ResetTimer()
			var drpcTime, rawTime time.Duration
			for range b.N {
				t0 := time.Now()
				sendDRPC()
				t1 := time.Now()
				sendRaw()
				drpcTime += t1.Sub(t0)
				rawTime += time.Since(t1)
			}
			b.StopTimer()

			b.ReportMetric(float64(drpcTime.Nanoseconds())/float64(b.N), "drpc-ns/op")
			b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(drpcTime)/float64(rawTime), "x-raw")
		})
	}
}

// BenchmarkRoundTripInProcess runs client and server in this process (on
// different goroutines, so different OS threads when both are busy). Its
// B/op and allocs/op count both sides of the call: they show that a call
// costs a constant number of allocations whatever its size, with no
// per-message receive buffer.
func BenchmarkRoundTripInProcess(b *testing.B) {
	srv, _ := startServer(b)
	ctx := context.Background()
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			client := connect(b, srv)
			call := &drpc.Call{Module: 0, Method: int32(methodEcho), Body: pattern(bs.size)}
			for range 10 {
				_, _ = client.SendMsg(ctx, call)
			}
			b.SetBytes(int64(2 * bs.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				resp, err := client.SendMsg(ctx, call)
				if err != nil || len(resp.Body) != bs.size {
					b.Fatalf("dRPC echo failed: %v %v", err, resp)
				}
			}
		})
	}
}

var benchSink []byte

// BenchmarkRoundTripConcurrent makes echo calls from 8 connections at once
// (one goroutine each) against the server process, then the same load of
// raw ping-pongs, and reports both rates.
func BenchmarkRoundTripConcurrent(b *testing.B) {
	const conns = 8
	dir := startBenchServer(b)
	ctx := context.Background()
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			payload := pattern(bs.size)
			clients := make([]*drpc.ClientConnection, conns)
			raws := make([]*net.UnixConn, conns)
			for i := range clients {
				clients[i] = drpc.NewClientConnection(filepath.Join(dir, "drpc.sock"))
				require.NoError(b, clients[i].Connect(ctx))
				defer clients[i].Close()
				raw, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: filepath.Join(dir, "raw.sock"), Net: "unixpacket"})
				require.NoError(b, err)
				defer raw.Close()
				var hello [8]byte
				binary.LittleEndian.PutUint64(hello[:], uint64(bs.size))
				_, err = raw.Write(hello[:])
				require.NoError(b, err)
				raws[i] = raw
			}
			run := func(n int, one func(i int)) time.Duration {
				var wg sync.WaitGroup
				start := time.Now()
				for i := range conns {
					wg.Go(func() {
						for range n {
							one(i)
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			call := func(i int) {
				c := &drpc.Call{Module: 0, Method: int32(methodEcho), Body: payload}
				if os.Getenv("DRPC_BENCH_LEND") != "" {
					err := clients[i].SendMsgFunc(ctx, c, func(st drpc.Status, body []byte) error {
						if len(body) != bs.size {
							return fmt.Errorf("echo of %d bytes", len(body))
						}
						switch os.Getenv("DRPC_BENCH_LEND") {
						case "alloc":
							benchSink = make([]byte, len(body))
						case "clone":
							benchSink = bytes.Clone(body)
						}
						return nil
					})
					if err != nil {
						panic(err)
					}
					return
				}
				resp, err := clients[i].SendMsg(ctx, c)
				if err != nil || len(resp.Body) != bs.size {
					panic(fmt.Sprintf("dRPC echo failed: %v", err))
				}
			}
			echoes := make([][]byte, conns)
			for i := range echoes {
				echoes[i] = make([]byte, bs.size)
			}
			ping := func(i int) {
				if rawSend(raws[i], payload) != nil || rawRecv(raws[i], echoes[i]) != nil {
					panic("raw ping-pong failed")
				}
			}
			run(10, call)
			run(10, ping)
			per := max(b.N/conns, 1)
			b.ReportAllocs()
			b.ResetTimer()
			drpcTime := run(per, call)
			rawTime := run(per, ping)
			b.StopTimer()
			calls := float64(per * conns)
			b.ReportMetric(calls/drpcTime.Seconds(), "drpc-calls/s")
			b.ReportMetric(calls/rawTime.Seconds(), "raw-calls/s")
			b.ReportMetric(rawTime.Seconds()/drpcTime.Seconds(), "x-raw-rate")
		})
	}
}

var ownedSink []byte

// BenchmarkOwnedReply times what SendMsg adds to a call for the reply body
// it hands over, apart from the transport: a copy of the body into a fresh
// slice (bytes.Clone, as SendMsg makes) against the same copy into memory
// that is reused (what SendMsgFunc's caller may do, or nothing at all).
// The difference is Go's allocation of the slice and the garbage
// collection it causes; docs/performance.md compares it with a call's
// time to show what bounds the owned path for large bodies.
func BenchmarkOwnedReply(b *testing.B) {
	for _, bs := range benchSizes {
		body := pattern(bs.size)
		b.Run(bs.name+"/fresh", func(b *testing.B) {
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			for b.Loop() {
				ownedSink = bytes.Clone(body)
			}
		})
		b.Run(bs.name+"/reused", func(b *testing.B) {
			dst := make([]byte, bs.size)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, body)
			}
			ownedSink = dst
		})
	}
}
