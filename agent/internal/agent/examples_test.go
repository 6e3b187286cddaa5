package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/daemon/config"
)

// The shipped example configuration and systemd units stay valid.
func TestShippedFiles(t *testing.T) {
	dir := filepath.Join("..", "..", "systemd")
	cfg := agent.DefaultConfig()
	_, err := config.Load(filepath.Join(dir, "agent.yaml"), &cfg)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "/etc/drpc/agent.key", cfg.KeyFile)
	assert.Equal(t, time.Minute, cfg.CacheTTL.Std())

	socket, err := os.ReadFile(filepath.Join(dir, "drpc-agent.socket"))
	require.NoError(t, err)
	assert.Contains(t, string(socket), "ListenSequentialPacket=/run/"+agent.RuntimeDirName+"/"+agent.SocketName+"\n")
	assert.Contains(t, string(socket), "SocketMode=0666\n")
	assert.Contains(t, string(socket), "Accept=no\n")

	service, err := os.ReadFile(filepath.Join(dir, "drpc-agent.service"))
	require.NoError(t, err)
	for _, line := range []string{"Type=notify", "ExecReload=/bin/kill -USR2 $MAINPID", "Requires=drpc-agent.socket"} {
		assert.True(t, strings.Contains(string(service), "\n"+line+"\n"), line)
	}
}
