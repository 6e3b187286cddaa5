package drpc

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cc532012/drpc/drpc/internal/envelope"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// maxRefusing bounds the connections over the session limit that are
// answered at once; more are closed without an answer.
const maxRefusing = 16

// refuseTimeout is how long a connection over the session limit has to
// send its first call.
const refuseTimeout = time.Second

// refuseLocked turns away a connection over the session limits, for the
// reason why. Rather than reset it, which its client could not tell from a
// crash, the server answers its first call with STATUS_FAILURE and a
// reason that names the limit, then closes it. The caller holds srv.mu.
func (srv *DomainSocketServer) refuseLocked(conn *net.UnixConn, creds PeerCredentials, why string) {
	srv.peers.write(slog.LevelWarn, creds.UID, "session refused", "dRPC connection refused: the server "+why,
		"socket", srv.path, "pid", creds.PID, "uid", creds.UID)
	srv.env.disp.event(EventSessionRefused)
	if srv.refusing >= maxRefusing {
		_ = conn.Close()
		return
	}
	srv.refusing++
	srv.wg.Add(1)
	go srv.refuse(conn, why)
}

// refuse reads the first packet of conn's first call, answers it with the
// refusal and closes conn. It reads only the call's head, never a whole
// message.
func (srv *DomainSocketServer) refuse(conn *net.UnixConn, why string) {
	defer func() {
		_ = conn.Close()
		srv.mu.Lock()
		srv.refusing--
		srv.mu.Unlock()
		srv.wg.Done()
	}()
	_ = conn.SetDeadline(time.Now().Add(refuseTimeout))
	var buf [wire.HeaderSize + wire.HeadSize]byte
	n, err := conn.Read(buf[:]) // the rest of a longer packet is dropped
	if err != nil || n < wire.HeaderSize {
		return
	}
	head, _ := envelope.DecodeCallHead(buf[wire.HeaderSize:n])
	reason := fmt.Appendf(nil, "dRPC server at %s %s: close idle connections or retry later", srv.path, why)
	msg := envelope.AppendResponseHead(nil, head.Sequence, int32(StatusFailure), len(reason))
	_ = wire.NewSender(conn).Send(msg, reason)
}
