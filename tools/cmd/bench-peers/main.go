// Command bench-peers measures this project's dRPC transport side by side
// with a raw SOCK_SEQPACKET ping-pong (the floor), gRPC, storj.io/drpc and
// net/rpc, each against a server in a second process, and prints the
// results as Markdown tables (and, with -json, every number).
//
//	bench-peers [-rounds 3] [-duration 700ms] [-warmup 100ms]
//	            [-sizes 64,4KiB,128KiB,1MiB] [-conns 1,8]
//	            [-transports all] [-quick] [-json FILE]
//	            [-cpuprofile FILE] [-server-cpuprofile FILE] [-memprofile FILE]
//
// Every cell (transport, body size, connections) runs once per round, the
// rounds one after the other, so that whatever else the machine does weighs
// on every transport alike; the tables show the median over the rounds.
// Each connection is one goroutine making calls back to back, and every
// echo is verified. See tools/README.md for how to read the output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	daemonconfig "github.com/cc532012/drpc/daemon/config"
)

// maxBodySize is the largest body -sizes accepts.
const maxBodySize = 16 << 20

// config is the command line, parsed.
type config struct {
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	sizes      []int
	conns      []int
	transports []transport
	jsonPath   string
	quick      bool
	// Profiles of the whole run (connecting and warm-up included): run
	// one transport, size and number of connections to profile a cell.
	cpuProfile       string // this process's CPU profile
	serverCPUProfile string // the server process's CPU profile
	memProfile       string // this process's allocations (pprof heap profile)
	args             []string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status: 0, 1 if a cell
// failed (a broken echo, a call error) or the run could not go on, 2 for a
// bad command line.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == serveCommand {
		return serve(args[1:], stdin, stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-peers:", err)
		return 2
	}
	rep, err := runBench(cfg, stderr)
	if rep != nil {
		if werr := writeReport(stdout, rep); werr != nil && err == nil {
			err = werr
		}
		if cfg.jsonPath != "" {
			if jerr := writeJSON(cfg.jsonPath, rep); jerr != nil && err == nil {
				err = jerr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-peers:", err)
		return 1
	}
	if n := rep.failures(); n > 0 {
		fmt.Fprintf(stderr, "bench-peers: %d cell run(s) failed (see the errors above and in the tables)\n", n)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench-peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 3, "rounds; each runs every cell once, and the tables show the median")
	duration := fs.Duration("duration", 700*time.Millisecond, "timed duration of every cell in every round")
	warmup := fs.Duration("warmup", 100*time.Millisecond, "untimed warm-up of every cell before its timed part")
	sizes := fs.String("sizes", "64,4KiB,128KiB,1MiB", "comma-separated body sizes (suffixes B, KiB, MiB)")
	conns := fs.String("conns", "1,8", "comma-separated numbers of connections, one goroutine each")
	names := fs.String("transports", "all", "comma-separated transports, or all (known: "+transportNames()+")")
	quick := fs.Bool("quick", false, "tiny durations and one round, to check that everything works")
	jsonPath := fs.String("json", "", "also write every number, per round, to this JSON file")
	cpuProfile := fs.String("cpuprofile", "", "write the client process's CPU profile of the whole run to this file")
	serverCPUProfile := fs.String("server-cpuprofile", "", "write the server process's CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write the client process's allocation profile of the whole run to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bench-peers [flags]\n\nMeasures this project's dRPC against a raw SOCK_SEQPACKET ping-pong and its peers;\nthe server runs in a second process. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := &config{rounds: *rounds, duration: *duration, warmup: *warmup, jsonPath: *jsonPath, quick: *quick, args: args,
		cpuProfile: *cpuProfile, serverCPUProfile: *serverCPUProfile, memProfile: *memProfile}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			cfg.rounds = 1
		}
		if !set["duration"] {
			cfg.duration = 30 * time.Millisecond
		}
		if !set["warmup"] {
			cfg.warmup = 5 * time.Millisecond
		}
	}
	if cfg.rounds < 1 || cfg.rounds > 1000 {
		return nil, fmt.Errorf("-rounds %d: want 1 to 1000", cfg.rounds)
	}
	if cfg.duration <= 0 || cfg.duration > time.Hour {
		return nil, fmt.Errorf("-duration %v: want more than 0 and at most an hour", cfg.duration)
	}
	if cfg.warmup < 0 || cfg.warmup > time.Hour {
		return nil, fmt.Errorf("-warmup %v: want 0 to an hour", cfg.warmup)
	}
	var err error
	if cfg.sizes, err = parseList(*sizes, parseSize); err != nil {
		return nil, fmt.Errorf("-sizes: %w", err)
	}
	if cfg.conns, err = parseList(*conns, parseConns); err != nil {
		return nil, fmt.Errorf("-conns: %w", err)
	}
	if cfg.transports, err = selectTransports(*names); err != nil {
		return nil, fmt.Errorf("-transports: %w", err)
	}
	return cfg, nil
}

// parseList parses a comma-separated list, dropping repeats.
func parseList(s string, parse func(string) (int, error)) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list %q", s)
	}
	return out, nil
}

// parseSize parses a body size such as 64, 64B, 4KiB, 4K, 1MiB or 1M
// (daemonconfig.ParseSize, as drpc bench --size and the daemons' configuration).
func parseSize(s string) (int, error) {
	n, err := daemonconfig.ParseSize(s)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > maxBodySize {
		return 0, fmt.Errorf("size %q: want 1 B to %d MiB", s, maxBodySize>>20)
	}
	return int(n), nil
}

func parseConns(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 256 {
		return 0, fmt.Errorf("connections %q: want 1 to 256", s)
	}
	return n, nil
}

// sizeLabel writes a size the way -sizes takes it.
func sizeLabel(n int) string { return daemonconfig.FormatSize(int64(n)) }
