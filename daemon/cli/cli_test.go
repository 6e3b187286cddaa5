package cli_test

import (
	"bytes"
	"context"
	"errors"
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

type testConfig struct {
	Name       string          `yaml:"name"`
	TTL        config.Duration `yaml:"ttl"`
	cli.Common `yaml:",inline"`
}

// app builds a small daemon-like command tree; run records what "run" saw.
func app(run *testConfig) *cobra.Command {
	root := cli.NewRoot("testd", "a test daemon", "")
	g := cli.AddGlobalFlags(root)
	var name string
	load := func(cmd *cobra.Command) (any, error) {
		cfg := testConfig{Name: "default", Common: cli.DefaultCommon()}
		if err := g.LoadConfig(&cfg); err != nil {
			return nil, err
		}
		g.Apply(cmd, &cfg.Common)
		if cli.Changed(cmd, "name") {
			cfg.Name = name
		}
		return &cfg, cfg.Validate()
	}
	runCmd := &cobra.Command{
		Use:  "run",
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			*run = *cfg.(*testConfig)
			return nil
		},
	}
	runCmd.Flags().StringVar(&name, "name", "", "a name")
	fail := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return errors.Join(errors.New("first problem"), errors.New("second problem: do this"))
	}}
	boom := &cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error { panic("kaboom") }}
	dump := cli.ConfigDumpCommand(load)
	dump.Flags().StringVar(&name, "name", "", "a name")
	root.AddCommand(runCmd, fail, boom, cli.VersionCommand(), cli.ConfigCommand(dump))
	return root
}

// execute runs root with args as cli.Execute does for a daemon, and returns
// the exit code and the output.
func execute(root *cobra.Command, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	code = cli.Execute(context.Background(), root)
	return code, out.String(), errOut.String()
}

func TestExecute(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("name: fromfile\nlog_level: debug\nmetrics_addr: :9\n"), 0o644))
	badFile := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badFile, []byte("nmae: x\n"), 0o644))

	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     string // a substring; "" means empty
		stdout     string // a substring
		wantConfig *testConfig
	}{
		{"defaults", []string{"run"}, cli.ExitOK, "", "", &testConfig{Name: "default", Common: cli.DefaultCommon()}},
		{"file", []string{"run", "--config", cfgFile}, cli.ExitOK, "", "",
			&testConfig{Name: "fromfile", Common: cli.Common{LogLevel: "debug", LogFormat: "text", MetricsAddr: ":9"}}},
		{"flags override file", []string{"--log-level", "error", "run", "--config", cfgFile, "--name", "flag", "--metrics-addr", "127.0.0.1:0"}, cli.ExitOK, "", "",
			&testConfig{Name: "flag", Common: cli.Common{LogLevel: "error", LogFormat: "text", MetricsAddr: "127.0.0.1:0"}}},
		{"bad config", []string{"run", "--config", badFile}, cli.ExitFailure,
			`testd: config ` + badFile + `: line 1: unknown key "nmae" (did you mean "name"?)`, "", nil},
		{"bad log level", []string{"run", "--log-level", "loud"}, cli.ExitFailure, `testd: log_level: unknown log level "loud"`, "", nil},
		{"bad metrics addr", []string{"run", "--metrics-addr", "9191"}, cli.ExitFailure, "testd: metrics_addr: bad metrics address", "", nil},
		{"unknown flag", []string{"run", "--nope"}, cli.ExitUsage, "testd: unknown flag: --nope (run 'testd run --help' for usage)", "", nil},
		{"flag without value", []string{"run", "--name"}, cli.ExitUsage, "flag needs an argument", "", nil},
		{"unknown command", []string{"frobnicate"}, cli.ExitUsage, `testd: unknown command "frobnicate" (run 'testd --help' for usage)`, "", nil},
		{"extra argument", []string{"run", "x"}, cli.ExitUsage, `unexpected argument "x"`, "", nil},
		{"joined errors on one line", []string{"fail"}, cli.ExitFailure, "testd: first problem; second problem: do this\n", "", nil},
		{"panic", []string{"boom"}, cli.ExitFailure, "testd: internal error: kaboom; please report this bug\n", "", nil},
		{"help", []string{}, cli.ExitOK, "", "Usage:", nil},
		{"version", []string{"version"}, cli.ExitOK, "", "testd ", nil},
		{"config dump", []string{"config", "dump", "--config", cfgFile, "--name", "dumped"}, cli.ExitOK, "",
			"name: dumped\nttl: 0s\nlog_level: debug\nlog_format: text\nmetrics_addr: :9\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			code, stdout, stderr := execute(app(&got), tt.args...)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr)
			if tt.stderr == "" {
				assert.Empty(t, stderr)
			} else {
				assert.Contains(t, stderr, tt.stderr)
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				assert.NotContains(t, stderr, "goroutine")
			}
			assert.Contains(t, stdout, tt.stdout)
			if tt.wantConfig != nil {
				assert.Equal(t, *tt.wantConfig, got)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	assert.Equal(t, cli.ExitOK, cli.ExitCode(nil))
	assert.Equal(t, cli.ExitFailure, cli.ExitCode(errors.New("x")))
	assert.Equal(t, 7, cli.ExitCode(cli.WithExitCode(7, errors.New("x"))))
	assert.NoError(t, cli.WithExitCode(7, nil))
	assert.NoError(t, cli.UsageError(nil, nil))
	err := cli.UsageError(nil, errors.New("bad"))
	assert.Equal(t, cli.ExitUsage, cli.ExitCode(err))
	assert.Equal(t, "bad (run with --help for usage)", err.Error())
	assert.Equal(t, err, cli.UsageError(nil, err), "an exit error keeps its code")
	assert.Equal(t, "p: a; b", cli.FormatError("p", errors.New("a\n  b\n")))
}
