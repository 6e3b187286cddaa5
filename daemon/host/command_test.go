package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/host"
)

// testConfig is the configuration of a daemon made with StartCommand.
type testConfig struct {
	RunDir      string `yaml:"run_dir" flag:"run-dir" usage:"the runtime 'DIR'"`
	host.Common `yaml:",inline"`
}

func TestStartCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		ran     []string
	}{
		{"runs until the context ends", []string{"--log-format", "json"}, "", []string{"prepare", "started", "stopping", "stopped"}},
		{"a bad flag value is refused before the start", []string{"--log-level", "loud"}, "loud", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(daemontest.SocketDir(t), "run")
			rec := &hooks{}
			var gotDir string
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			load := cli.NewLoader(func() testConfig { return testConfig{Common: host.DefaultCommon()} })
			cmd := host.StartCommand(load, "serve echoes", func(cfg testConfig, log *slog.Logger) (*host.Host, error) {
				gotDir = cfg.RunDir
				s := spec(cfg.RunDir, rec)
				s.Logger = log
				return host.New(s)
			}, host.RunOptions{Ready: cancel}) // stop once it serves
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(append([]string{"--run-dir", dir}, tc.args...))
			err := cmd.ExecuteContext(ctx)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Empty(t, rec.get(), "nothing started")
				return
			}
			require.NoError(t, err, out.String())
			assert.Equal(t, dir, gotDir, "the flag reached the configuration")
			assert.Equal(t, tc.ran, rec.get())
			assert.Contains(t, out.String(), `"msg":"testd serving"`, "the logger has the configured format")
		})
	}
}
