package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc"
)

// The server process: `bench-peers serve DIR [CPUPROFILE]` serves every
// transport on a socket in DIR (writing its CPU profile to CPUPROFILE until
// it exits, if given), prints "ready" and then answers commands, one a
// line, on its standard input until it closes:
//
//	cpu  prints the process's user+system CPU time in nanoseconds
//	gc   runs a garbage collection and prints "ok"

const serveCommand = "serve"

// serve runs the server process; it returns the exit status.
func serve(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(stderr, "usage: bench-peers serve DIR [CPUPROFILE]")
		return 2
	}
	profile := ""
	if len(args) == 2 {
		profile = args[1]
	}
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		fmt.Fprintln(stderr, "bench-peers serve:", err)
		return 1
	}
	defer func() {
		if err := stopProfile(); err != nil {
			fmt.Fprintln(stderr, "bench-peers serve:", err)
		}
	}()
	// A Ctrl-C reaches the whole process group: the benchmark decides when
	// this process ends, by closing its input.
	signal.Ignore(os.Interrupt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := startServers(ctx, args[0])
	if err != nil {
		fmt.Fprintln(stderr, "bench-peers serve:", err)
		stop()
		return 1
	}
	defer stop()
	out := bufio.NewWriter(stdout)
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		return 1
	}
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		switch in.Text() {
		case "cpu":
			ns, err := processCPU()
			if err != nil {
				fmt.Fprintln(out, "error", err)
			} else {
				fmt.Fprintln(out, ns)
			}
		case "gc":
			runtime.GC()
			fmt.Fprintln(out, "ok")
		default:
			fmt.Fprintf(out, "error unknown command %q\n", in.Text())
		}
		if err := out.Flush(); err != nil {
			return 1
		}
	}
	return 0
}

// startServers starts a server for every transport in dir; stop ends them
// (the servers started so far, if it fails).
func startServers(ctx context.Context, dir string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	path := func(name string) string {
		t, _ := findTransport(name)
		return filepath.Join(dir, t.socket)
	}

	rawLn, err := listenRawBlocking(path(rawName))
	if err != nil {
		return stop, err
	}
	stops = append(stops, func() {
		_ = unix.Shutdown(int(rawLn), unix.SHUT_RDWR) // wakes the blocked accept
	})
	go serveRawBlocking(rawLn)

	npLn, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path(rawNetpollName), Net: "unixpacket"})
	if err != nil {
		return stop, fmt.Errorf("raw-netpoll server: %w", err)
	}
	stops = append(stops, func() { _ = npLn.Close() })
	go serveRawNetpoll(npLn)

	for _, s := range []struct {
		name string
		mod  drpc.Module
		opts []drpc.ServerOption
	}{
		{name: drpcName, mod: &echoModule{}},
		{name: "drpc-busypoll", mod: &echoModule{}, opts: []drpc.ServerOption{drpc.WithBusyPoll(busyPollSpin)}},
		{name: brokenTag, mod: &echoModule{corrupt: true}},
		{name: "drpc-gen", mod: newGenModule()},
	} {
		srv, err := startDRPCServer(ctx, path(s.name), s.mod, s.opts...)
		if err != nil {
			return stop, err
		}
		stops = append(stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}

	g, err := startGRPCServer(path("grpc"))
	if err != nil {
		return stop, err
	}
	stops = append(stops, g.Stop)

	if err := startStorjServer(ctx, path("storj-drpc")); err != nil {
		return stop, err
	}

	nl, err := startNetRPCServer(path("net/rpc"))
	if err != nil {
		return stop, err
	}
	stops = append(stops, func() { _ = nl.Close() })
	return stop, nil
}

// processCPU returns the user plus system CPU time of this process, all
// threads, in nanoseconds (microsecond resolution).
func processCPU() (int64, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), nil
}

// child is the server process as the benchmark sees it.
type child struct {
	cmd    *os.Process
	wait   chan error
	stdin  io.WriteCloser
	stdout *bufio.Reader
	pid    int
}

var errChildGone = errors.New("the server process is gone")

// startChild starts `bench-peers serve dir [cpuProfile]` from this
// executable and waits until it is ready.
func startChild(dir, cpuProfile string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	args := []string{serveCommand, dir}
	if cpuProfile != "" {
		args = append(args, cpuProfile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server process: %w", err)
	}
	c := &child{cmd: cmd.Process, wait: make(chan error, 1), stdin: stdin, stdout: bufio.NewReader(stdout), pid: cmd.Process.Pid}
	line, err := c.stdout.ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		werr := cmd.Wait()
		return nil, fmt.Errorf("the server process did not start (%q, %v, exit: %v)", line, err, werr)
	}
	go func() { c.wait <- cmd.Wait() }()
	return c, nil
}

// ask sends a command and returns the answer line.
func (c *child) ask(cmd string) (string, error) {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return "", fmt.Errorf("server process: %w: %w", errChildGone, err)
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("server process: %w: %w", errChildGone, err)
	}
	line = line[:len(line)-1]
	if len(line) >= 5 && line[:5] == "error" {
		return "", fmt.Errorf("server process: %s", line)
	}
	return line, nil
}

// cpu returns the server process's CPU time in nanoseconds.
func (c *child) cpu() (int64, error) {
	s, err := c.ask("cpu")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("server process: bad CPU time %q: %w", s, err)
	}
	return ns, nil
}

// kill ends the server process at once (the watchdog's way out).
func (c *child) kill() { _ = c.cmd.Kill() }

// stop closes the server's standard input, which makes it exit, and waits
// for it (killing it if it takes more than a few seconds).
func (c *child) stop() error {
	_ = c.stdin.Close()
	select {
	case err := <-c.wait:
		if err != nil {
			return fmt.Errorf("server process: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		c.kill()
		<-c.wait
		return fmt.Errorf("server process: did not exit within 10 s of its input closing; killed")
	}
}
