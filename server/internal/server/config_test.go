package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/daemontest"
)

// TestCredentialMaxAgeNotes: the start-up notes about credential_max_age:
// which replay mode the server runs in, and warnings for values that
// agents with default settings cannot meet.
func TestCredentialMaxAgeNotes(t *testing.T) {
	for _, tc := range []struct {
		maxAge time.Duration
		mode   string
		warn   string // "" for none
	}{
		{0, "off: credential_max_age is 0 (as DAOS)", ""},
		{time.Second, "on: credentials issued more than 1s ago", "credential_max_age 1s cannot work: credentials are stamped in whole seconds"},
		{5 * time.Second, "on: credentials issued more than 5s ago", "credential_max_age 5s is shorter than an agent's default cache_ttl (1m0s) plus 1m0s"},
		{time.Minute, "on:", "set credential_max_age: 1m0s in every agent's configuration too"},
		{2 * time.Minute, "on: credentials issued more than 2m0s ago", ""},
		{5 * time.Minute, "on:", ""},
	} {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CredentialMaxAge = config.Duration(tc.maxAge)
			require.NoError(t, cfg.Validate())
			assert.True(t, strings.HasPrefix(cfg.ReplayMode(), tc.mode), cfg.ReplayMode())
			w := cfg.Warnings()
			if tc.warn == "" {
				assert.Empty(t, w)
				return
			}
			require.Len(t, w, 1)
			assert.Contains(t, w[0], tc.warn)
		})
	}
}

// TestStartLogsReplayMode: the server's start-up log says which replay
// mode it runs in, and warns about a credential_max_age agents cannot meet.
func TestStartLogsReplayMode(t *testing.T) {
	for _, tc := range []struct {
		maxAge time.Duration
		want   []string
	}{
		{0, []string{`level=INFO msg="credential replay protection" mode="off: credential_max_age is 0 (as DAOS)`}},
		{5 * time.Second, []string{`level=INFO msg="credential replay protection" mode="on: credentials issued more than 5s ago`,
			`level=WARN msg="credential_max_age 5s is shorter than`}},
	} {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			var buf bytes.Buffer
			cfg := testConfig(daemontest.SocketDir(t))
			cfg.CredentialMaxAge = config.Duration(tc.maxAge)
			s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			require.NoError(t, err)
			require.NoError(t, s.Start(context.Background()))
			require.NoError(t, s.Shutdown(context.Background()))
			for _, w := range tc.want {
				assert.Contains(t, buf.String(), w)
			}
			if tc.maxAge == 0 {
				assert.NotContains(t, buf.String(), `level=WARN msg="credential_max_age`)
			}
		})
	}
}
