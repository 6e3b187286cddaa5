package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cc532012/drpc/drpc"
)

// caller is one client connection of a transport, used by one goroutine.
type caller interface {
	// call sends req, waits for the echo and runs check on the reply body
	// (which may be valid only during check), returning check's error.
	call(req []byte, check func([]byte) error) error
	Close() error
}

// transport is one row of the benchmark.
type transport struct {
	name string
	// socket is the file name of the server socket in the child's directory.
	socket string
	about  string
	// only restricts the cells the transport runs in; nil runs all.
	only func(size, conns int) bool
	// extra transports run only when -transports names them.
	extra bool
	dial  func(path string, size int) (caller, error)
	// share, if set, replaces dial: the connections of a cell share one
	// client, which share makes for conns callers; each caller comes from
	// next, and done closes the client.
	share func(path string, conns int) (next func() caller, done func() error)
}

const (
	rawName        = "raw"
	rawNetpollName = "raw-netpoll"
	drpcName       = "drpc"
	brokenTag      = "broken-echo"
)

// transports lists every row in table order.
var transports = []transport{
	{
		name: rawName, socket: "raw.sock", dial: dialRawBlocking,
		about: "the floor: SOCK_SEQPACKET ping-pong of the payload only, 128 KiB packets, reused buffers, blocking read/write system calls",
	},
	{
		name: rawNetpollName, socket: "rawnp.sock", dial: dialRawNetpoll,
		about: "the same ping-pong through the Go netpoller (net.UnixConn), as the drpc transport does its I/O",
	},
	{
		name: drpcName, socket: "drpc.sock",
		dial:  func(path string, _ int) (caller, error) { return dialDRPC(path) },
		about: "this project: ClientConnection.SendMsg (a reply the caller owns), hand-written echo module 0",
	},
	{
		name: "drpc-gen", socket: "gen.sock", dial: dialGen,
		about: "this project: generated TestService client and module (protobuf EchoRequest/EchoResponse)",
	},
	{
		name: "drpc-lend", socket: "drpc.sock",
		dial:  func(path string, _ int) (caller, error) { return dialLend(path) },
		about: "this project: SendMsgFunc, the reply body lent from the receive buffer",
	},
	{
		name: "drpc-pool", socket: "drpc.sock", share: sharePool,
		about: "this project: the goroutines share one drpc.Pool of as many sessions; SendMsg, as the drpc row (which has a connection per goroutine)",
	},
	{
		name: "drpc-busypoll", socket: "busypoll.sock",
		only: func(size, conns int) bool { return size == 64 && conns == 1 },
		dial: func(path string, _ int) (caller, error) {
			return dialDRPC(path, drpc.WithBusyPoll(busyPollSpin))
		},
		about: "drpc with WithBusyPoll(50µs) on client and server (64 B, 1 connection only)",
	},
	{
		name: "grpc", socket: "grpc.sock",
		dial:  func(path string, _ int) (caller, error) { return dialGRPC(path) },
		about: "google.golang.org/grpc unary call over a Unix stream socket, []byte codec",
	},
	{
		name: "storj-drpc", socket: "storj.sock",
		dial:  func(path string, _ int) (caller, error) { return dialStorj(path) },
		about: "storj.io/drpc unary call over a Unix stream socket, []byte encoding",
	},
	{
		name: "net/rpc", socket: "netrpc.sock",
		dial:  func(path string, _ int) (caller, error) { return dialNetRPC(path) },
		about: "the standard library's net/rpc (gob) over a Unix stream socket",
	},
	{
		name: brokenTag, socket: "broken.sock", extra: true,
		dial:  func(path string, _ int) (caller, error) { return dialDRPC(path) },
		about: "test only: a drpc server whose echo corrupts one byte (must fail)",
	},
}

func findTransport(name string) (transport, bool) {
	for _, t := range transports {
		if t.name == name {
			return t, true
		}
	}
	return transport{}, false
}

// selectTransports parses -transports: "all" (every row but the extra ones)
// or a comma-separated list of names, kept in table order.
func selectTransports(spec string) ([]transport, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case name == "all":
			for _, t := range transports {
				if !t.extra {
					want[t.name] = true
				}
			}
		default:
			if _, ok := findTransport(name); !ok {
				return nil, fmt.Errorf("unknown transport %q (known: %s)", name, transportNames())
			}
			want[name] = true
		}
	}
	var out []transport
	for _, t := range transports {
		if want[t.name] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no transport selected")
	}
	return out, nil
}

func transportNames() string {
	names := make([]string, len(transports))
	for i, t := range transports {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

func (t transport) path(dir string) string { return filepath.Join(dir, t.socket) }
