package drpc_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// BenchmarkPool makes echo calls from 8 goroutines that share a Pool of 8
// sessions, then from 8 goroutines with a ClientConnection each, against
// the server process, interleaved in slices so that whatever else the
// machine does weighs on both alike, and reports both rates and their
// ratio (x-conns: the pool's calls/s over the connections'). Run with:
// go test -run '^$' -bench BenchmarkPool.
func BenchmarkPool(b *testing.B) {
	const goroutines = 8
	dir := startBenchServer(b)
	sock := filepath.Join(dir, "drpc.sock")
	ctx := context.Background()
	for _, bs := range benchSizes[:2] { // 64 B and 4 KiB
		b.Run(bs.name, func(b *testing.B) {
			payload := pattern(bs.size)
			pool := drpc.NewPool(sock, drpc.PoolOptions{Size: goroutines})
			defer pool.Close()
			conns := make([]*drpc.ClientConnection, goroutines)
			for i := range conns {
				conns[i] = drpc.NewClientConnection(sock)
				require.NoError(b, conns[i].Connect(ctx))
				defer conns[i].Close()
			}
			echo := func(s drpc.Sender) {
				resp, err := s.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: payload})
				if err != nil || len(resp.Body) != bs.size {
					panic(fmt.Sprintf("dRPC echo failed: %v", err))
				}
			}
			// run makes n calls from each goroutine, through the pool or
			// on the goroutine's connection.
			run := func(n int, pooled bool) time.Duration {
				var wg sync.WaitGroup
				start := time.Now()
				for i := range goroutines {
					var s drpc.Sender = conns[i]
					if pooled {
						s = pool
					}
					wg.Go(func() {
						for range n {
							echo(s)
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			run(10, true) // dial the pool's sessions, warm up both
			run(10, false)
			per := max(b.N/goroutines, 1)
			const slices = 4
			slice := max(per/slices, 1)
			var poolTime, connTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range slices {
				poolTime += run(slice, true)
				connTime += run(slice, false)
			}
			b.StopTimer()
			calls := float64(slices * slice * goroutines)
			b.ReportMetric(calls/poolTime.Seconds(), "pool-calls/s")
			b.ReportMetric(calls/connTime.Seconds(), "conns-calls/s")
			b.ReportMetric(connTime.Seconds()/poolTime.Seconds(), "x-conns")
		})
	}
}
