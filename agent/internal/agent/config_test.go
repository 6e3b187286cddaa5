package agent_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/daemon/config"
)

// TestCredentialMaxAge: credential_max_age is checked, warned about when it
// cannot work, and its effect on the cache is logged at start-up.
func TestCredentialMaxAge(t *testing.T) {
	for _, tc := range []struct {
		maxAge time.Duration
		err    string
		warn   string
		info   string
	}{
		{0, "", "", ""},
		{-time.Second, "credential_max_age: -1s is negative", "", ""},
		{time.Second, "", "credential_max_age 1s cannot work", `reuse=500ms`},
		{5 * time.Second, "", "", `msg="a cached credential is signed anew once half of credential_max_age old, sooner than cache_ttl" credential_max_age=5s cache_ttl=1m0s reuse=2.5s`},
		{5 * time.Minute, "", "", ""},
	} {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.AllowInsecure = true
			cfg.CredentialMaxAge = config.Duration(tc.maxAge)
			err := cfg.Validate()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			w := cfg.Warnings()
			if tc.warn == "" {
				assert.Empty(t, w)
			} else {
				require.Len(t, w, 1)
				assert.Contains(t, w[0], tc.warn)
			}
			var logs bytes.Buffer
			a, err := agent.New(cfg, agent.Options{Logger: logger(&logs)})
			require.NoError(t, err)
			require.NoError(t, a.Start(context.Background()))
			require.NoError(t, a.Shutdown(context.Background()))
			if tc.warn != "" {
				assert.Contains(t, logs.String(), "level=WARN msg=\"credential_max_age")
			}
			if tc.info != "" {
				assert.Contains(t, logs.String(), tc.info)
			} else {
				assert.NotContains(t, logs.String(), "signed anew")
			}
		})
	}
}
