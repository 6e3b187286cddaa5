package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/sockowner"
	"github.com/cc532012/drpc/drpc"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// notifier calls the server's notify ready (301) for one engine, with the
// same request each time: the incarnation is the engine process's.
type notifier struct {
	req    *srvv1.NotifyReadyReq
	server string
	log    *slog.Logger
}

func newNotifier(dir string, index uint32, path string, log *slog.Logger) *notifier {
	return &notifier{
		req: &srvv1.NotifyReadyReq{
			Uri:              "tcp://127.0.0.1:" + strconv.Itoa(31416+int(index)),
			Nctxs:            1,
			DrpcListenerSock: path,
			InstanceIdx:      index,
			Ntgts:            1,
			Incarnation:      uint64(time.Now().UnixNano()),
		},
		server: filepath.Join(dir, serverSocket),
		log:    log,
	}
}

// notify calls notify ready, retrying while the server is not up (its
// socket is missing or refuses), until ctx ends.
func (n *notifier) notify(ctx context.Context) error {
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := call(ctx, n.server, func(conn *drpc.ClientConnection) error {
			_, err := srvv1drpc.NewSrvServiceClient(conn).NotifyReady(ctx, n.req)
			return err
		})
		if err == nil {
			n.log.Info("notified the server", "server", n.server, "attempts", attempt)
			return nil
		}
		if !notUp(err) {
			return serverError("notify ready", n.server, err)
		}
		if attempt == 1 {
			n.log.Info("waiting for the server", "server", n.server, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// notUp reports whether err means that the server is not listening yet.
func notUp(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN)
}

// call connects to the socket, runs fn and hangs up.
func call(ctx context.Context, socket string, fn func(*drpc.ClientConnection) error) error {
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// serverError explains a failed call (what) to the server on socket in one
// line, with what to do: the server's own reason when it refused, else
// what the connection's error means.
func serverError(what, socket string, err error) error {
	var f *drpc.Failure
	switch {
	case errors.As(err, &f):
		reason := f.Message()
		if reason == "" {
			reason = "no reason given: see the server's log"
		}
		return fmt.Errorf("the server on %s refused %s (%s): %s", socket, what, f.Status(), reason)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no server socket at %s: start drpc-server, or give its socket directory with --socket-dir", what, socket)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: permission denied connecting to %s: run drpc-engine as the server's user (its socket is 0600)", what, socket)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: nothing listens on %s (a server that stopped left it): start drpc-server", what, socket)
	}
	return fmt.Errorf("%s to the server on %s: %w", what, socket, err)
}

// listenError explains why the engine cannot listen on its own socket
// path, with what to do.
func listenError(path string, index uint32, err error) error {
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, drpc.ErrBadSocketPath) && len(path) > drpc.MaxSocketPathLen:
		return fmt.Errorf("this engine's socket path %s is longer than the %d bytes a socket path may have: give a shorter --socket-dir", path, drpc.MaxSocketPathLen)
	case errors.Is(err, drpc.ErrBadSocketPath):
		return fmt.Errorf("this engine's socket directory %s does not exist or is not a directory: give the server's socket directory (drpc-server's --socket-dir) with --socket-dir", dir)
	case errors.Is(err, drpc.ErrSocketInUse):
		return fmt.Errorf("this engine's socket %s is in use by %s: an engine with index %d already runs; stop it, or give this one another --index",
			path, sockowner.Describe(path), index)
	case errors.Is(err, drpc.ErrNotSocket):
		return fmt.Errorf("this engine's socket path %s holds a file that is not a socket: remove it, or give another --index or --socket-dir", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("this engine cannot create its socket in %s: permission denied: run drpc-engine as the server's user", dir)
	}
	return fmt.Errorf("this engine's socket %s: %w", path, err)
}
