package interceptor

import (
	"context"
	"log/slog"
	"time"

	"github.com/cc532012/drpc/drpc"
)

// Logging returns an interceptor that logs every call once it has been
// answered: the method, its status, how long it took, the sizes of the
// request and reply bodies and the peer's uid and pid; at debug level for a
// success and at warn level for a failure (with the error). A nil log uses
// slog.Default().
func Logging(log *slog.Logger) drpc.Interceptor {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		start := time.Now()
		reply, err := next.HandleCall(ctx, s, m, body)
		status := drpc.StatusOf(err)
		level := slog.LevelDebug
		if err != nil {
			level = slog.LevelWarn
		}
		if !log.Enabled(ctx, level) {
			return reply, err
		}
		creds := s.PeerCredentials()
		attrs := []slog.Attr{
			slog.String("method", m.String()),
			slog.Int("module", int(m.Module())),
			slog.String("status", status.String()),
			slog.Duration("duration", time.Since(start)),
			slog.Int("request_bytes", len(body)),
			slog.Int("reply_bytes", len(reply)),
			slog.Uint64("peer_uid", uint64(creds.UID)),
			slog.Int("peer_pid", int(creds.PID)),
			slog.Uint64("session", s.ID()),
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		log.LogAttrs(ctx, level, "dRPC call", attrs...)
		return reply, err
	}
}
