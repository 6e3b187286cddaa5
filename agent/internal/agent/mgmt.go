package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cc532012/drpc/agent/internal/mgmtagent"
	"github.com/cc532012/drpc/agent/internal/mgmtclient"
)

// mgmt is the agent's management module (dRPC module 2) and its client of
// the servers: one component that the agent starts and stops.
type mgmt struct {
	svc    *mgmtagent.Service
	client *mgmtclient.Client // nil without access points
	log    *slog.Logger
}

// newMgmt makes the module and, with access points, the client of the
// servers, which reads its TLS files now: a bad file stops New.
func newMgmt(cfg Config, log *slog.Logger) (*mgmt, error) {
	m := &mgmt{log: log}
	opts := mgmtagent.Options{System: cfg.Name, TTL: cfg.AttachInfoTTL.Std(), Logger: log}
	if len(cfg.AccessPoints) > 0 {
		c, err := mgmtclient.New(mgmtclient.Options{AccessPoints: cfg.AccessPoints, Port: cfg.Port, TLS: cfg.Transport, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("access_points: %w", err)
		}
		m.client, opts.Upstream = c, c
	}
	m.svc = mgmtagent.New(opts)
	return m, nil
}

// Start starts the attach info's refresh and logs the access points.
func (m *mgmt) Start(ctx context.Context) error {
	if m.client != nil {
		m.log.Info("agent asks the servers for attach info and evictions", "access_points", m.client.AccessPoints(), "tls", !m.client.Insecure())
		if m.client.Insecure() {
			m.log.Warn("the link to the servers runs without TLS (transport_config.allow_insecure): anyone can read and forge it")
		}
	}
	return m.svc.Start(ctx)
}

// Reload fetches the attach info again and, with access points, reads the
// TLS files again (SIGUSR2).
func (m *mgmt) Reload() error {
	m.svc.Refresh()
	if m.client == nil {
		return nil
	}
	if err := m.client.ReloadTLS(); err != nil {
		return fmt.Errorf("transport_config: %w", err)
	}
	return nil
}

// Stop stops the module (evictions in flight may finish until ctx ends),
// then closes the connections to the servers.
func (m *mgmt) Stop(ctx context.Context) error {
	err := m.svc.Stop(ctx)
	if m.client != nil {
		err = errors.Join(err, m.client.Close())
	}
	return err
}
