package agent_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/daemon/config"
)

// FuzzConfig decodes arbitrary configuration files into the agent's Config:
// never a panic; a failure is a *config.Error and leaves the defaults; an
// accepted file validates or not without panicking, and its dump decodes to
// the same configuration.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("runtime_dir: /run/daos_agent\nkey_file: /k\norigin: agent\ncache_ttl: 1m\n"))
	f.Add([]byte("uid_map:\n  1000: alice\ngid_map: {1000: staff}\n"))
	f.Add([]byte("cach_ttl: 1m\n"))
	f.Add([]byte("cache_size: -1\nlog_level: loud\n"))
	f.Add([]byte("metrics_addr: :9191\nallow_insecure: yes\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := agent.DefaultConfig()
		err := config.Decode(data, "fuzz", &cfg)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("not a *config.Error: %v", err)
			}
			return
		}
		_ = cfg.Validate()
		var buf bytes.Buffer
		if err := config.Dump(&buf, cfg); err != nil {
			t.Fatalf("dump: %v", err)
		}
		back := agent.DefaultConfig()
		if err := config.Decode(buf.Bytes(), "dump", &back); err != nil {
			t.Fatalf("decode of dump: %v\n%s", err, buf.Bytes())
		}
		var again bytes.Buffer
		if err := config.Dump(&again, back); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatalf("dump does not round-trip: %v\n%s\n---\n%s", err, buf.Bytes(), again.Bytes())
		}
	})
}
