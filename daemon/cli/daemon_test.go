package cli_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
)

// testDaemon is a daemon built with NewDaemon; started records what start
// was given, with a record logged at debug level.
func testDaemon(started *testConfig) *cobra.Command {
	var name string
	root, g := cli.NewDaemon(cli.Daemon[testConfig]{
		Name:       "testd",
		Short:      "a test daemon",
		StartShort: "serve until stopped",
		Defaults: func() testConfig {
			return testConfig{Name: "default", TTL: config.Duration(1e9), Common: cli.DefaultCommon()}
		},
		AddFlags: func(fs *cli.FlagSet) { fs.StringVar(&name, "name", "", "a name") },
		ApplyFlags: func(cmd *cobra.Command, cfg *testConfig) {
			if cli.Changed(cmd, "name") {
				cfg.Name = name
			}
		},
		Start: func(cmd *cobra.Command, cfg testConfig, log *slog.Logger) error {
			*started = cfg
			log.Debug("started", "name", cfg.Name)
			_, err := cmd.OutOrStdout().Write([]byte("serving " + cfg.Name + "\n"))
			return err
		},
	})
	// The globals serve the daemon's own commands.
	root.AddCommand(&cobra.Command{Use: "where", Args: cli.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		_, err := cmd.OutOrStdout().Write([]byte("config " + g.ConfigFile + "\n"))
		return err
	}})
	return root
}

func TestNewDaemon(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("name: fromfile\nlog_level: debug\n"), 0o644))
	badValue := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badValue, []byte("log_format: xml\n"), 0o644))

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string // a substring
		stderr  string // a substring; "" means empty
		started *testConfig
	}{
		{"start with the defaults", []string{"start"}, cli.ExitOK, "serving default\n", "",
			&testConfig{Name: "default", TTL: config.Duration(1e9), Common: cli.DefaultCommon()}},
		{"file, then flags", []string{"start", "--config", cfgFile, "--name", "flag", "--log-format", "json"}, cli.ExitOK, "serving flag\n",
			`"msg":"started","name":"flag"`,
			&testConfig{Name: "flag", TTL: config.Duration(1e9), Common: cli.Common{LogLevel: "debug", LogFormat: "json"}}},
		{"invalid configuration", []string{"start", "--config", badValue}, cli.ExitFailure, "", `testd: log_format: unknown log format "xml"`, nil},
		{"start takes no argument", []string{"start", "x"}, cli.ExitUsage, "", `unexpected argument "x"`, nil},
		{"config dump with the daemon's flags", []string{"config", "dump", "--config", cfgFile, "--name", "dumped"}, cli.ExitOK,
			"name: dumped\nttl: 1s\nlog_level: debug\nlog_format: text\nmetrics_addr: \"\"\n", "", nil},
		{"version", []string{"version"}, cli.ExitOK, "testd ", "", nil},
		{"the daemon's own command", []string{"where", "--config", cfgFile}, cli.ExitOK, "config " + cfgFile, "", nil},
		{"help names start", []string{"--help"}, cli.ExitOK, "serve until stopped", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var started testConfig
			code, stdout, stderr := execute(testDaemon(&started), tt.args...)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr)
			assert.Contains(t, stdout, tt.stdout)
			if tt.stderr == "" {
				assert.Empty(t, stderr)
			} else {
				assert.Contains(t, stderr, tt.stderr)
			}
			if tt.started != nil {
				assert.Equal(t, *tt.started, started)
			}
		})
	}
}

func TestNewDaemonWithoutStart(t *testing.T) {
	root, _ := cli.NewDaemon(cli.Daemon[testConfig]{Name: "testd"})
	code, _, stderr := execute(root, "start")
	assert.Equal(t, cli.ExitFailure, code)
	assert.True(t, strings.HasPrefix(stderr, "testd: testd start: the daemon has nothing to run"), stderr)
}
