package secagent_test

import (
	"log/slog"

	"github.com/cc532012/drpc/daemon/daemontest"
)

func textLogger(b *daemontest.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
