package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
)

// testConfig is a daemon-like configuration: its own keys, and common
// ones of an inlined struct, each with its flag.
type testConfig struct {
	Name       string          `yaml:"name" flag:"name" usage:"a 'NAME'"`
	TTL        config.Duration `yaml:"ttl" flag:"ttl" usage:"a 'DURATION'"`
	Size       config.Size     `yaml:"size" flag:"size" usage:"a 'SIZE'"`
	Hosts      []string        `yaml:"hosts" flag:"host" usage:"a 'HOST', again for more"`
	Quiet      bool            `yaml:"quiet" flag:"quiet" usage:"say less"`
	Count      int             `yaml:"count"`
	testCommon `yaml:",inline"`
}

type testCommon struct {
	LogLevel    string `yaml:"log_level" flag:"log-level" usage:"log 'LEVEL'"`
	MetricsAddr string `yaml:"metrics_addr" flag:"metrics-addr" usage:"'HOST:PORT' for metrics"`
}

func defaultConfig() testConfig {
	return testConfig{Name: "default", Size: 1024, Count: 3, testCommon: testCommon{LogLevel: "info"}}
}

// Validate checks the values as a daemon's configuration does: each problem
// starts with its key.
func (c testConfig) Validate() error {
	var errs []error
	if c.LogLevel != "info" && c.LogLevel != "debug" && c.LogLevel != "error" {
		errs = append(errs, fmt.Errorf("log_level: unknown log level %q", c.LogLevel))
	}
	if c.Count < 1 || c.Count > 9 {
		errs = append(errs, fmt.Errorf("count: %d is not between 1 and 9", c.Count))
	}
	return errors.Join(errs...)
}

// app builds a small daemon-like command tree; run records what "run" saw.
func app(run *testConfig) *cobra.Command {
	root := cli.NewRoot("testd", "a test daemon", "")
	load := cli.NewLoader(defaultConfig)
	runCmd := load.AddFlags(&cobra.Command{
		Use:  "run",
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.Load(cmd)
			if err != nil {
				return err
			}
			*run = cfg
			return nil
		},
	})
	status := load.AddFlags(&cobra.Command{
		Use:  "status",
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.Load(cmd)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "status of", cfg.Name)
			return err
		},
	}, "name")
	fail := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return errors.Join(errors.New("first problem"), errors.New("second problem: do this"))
	}}
	boom := &cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error { panic("kaboom") }}
	root.AddCommand(runCmd, status, fail, boom, cli.VersionCommand(), cli.ConfigCommand(load))
	return root
}

func TestExecute(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("name: fromfile\nlog_level: debug\nmetrics_addr: :9\n"), 0o644))
	badFile := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badFile, []byte("nmae: x\n"), 0o644))
	rangeFile := filepath.Join(dir, "range.yaml")
	require.NoError(t, os.WriteFile(rangeFile, []byte("name: x\ncount: 12\n"), 0o644))
	fromFile := func(f func(*testConfig)) *testConfig {
		c := defaultConfig()
		c.Name, c.LogLevel, c.MetricsAddr = "fromfile", "debug", ":9"
		f(&c)
		return &c
	}
	def := func(f func(*testConfig)) *testConfig {
		c := defaultConfig()
		f(&c)
		return &c
	}

	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     string // a substring; "" means empty
		stdout     string // a substring
		wantConfig *testConfig
	}{
		{"defaults", []string{"run"}, cli.ExitOK, "", "", def(func(*testConfig) {})},
		{"file", []string{"run", "--config", cfgFile}, cli.ExitOK, "", "", fromFile(func(*testConfig) {})},
		{"flags override file", []string{"run", "--log-level", "error", "--config", cfgFile, "--name", "flag", "--metrics-addr", "127.0.0.1:0"}, cli.ExitOK, "", "",
			fromFile(func(c *testConfig) { c.LogLevel, c.Name, c.MetricsAddr = "error", "flag", "127.0.0.1:0" })},
		{"every kind of flag", []string{"run", "--ttl", "1m30s", "--size", "4KiB", "--host", "a", "--host", "b:1", "--quiet"}, cli.ExitOK, "", "",
			def(func(c *testConfig) {
				c.TTL, c.Size, c.Hosts, c.Quiet = config.Duration(90*time.Second), 4096, []string{"a", "b:1"}, true
			})},
		{"bad config", []string{"run", "--config", badFile}, cli.ExitFailure,
			`testd: config ` + badFile + `: line 1: unknown key "nmae" (did you mean "name"?)`, "", nil},
		{"a bad value of the file names its line", []string{"run", "--config", rangeFile}, cli.ExitFailure,
			`testd: config ` + rangeFile + `: line 2: count: 12 is not between 1 and 9`, "", nil},
		{"bad log level", []string{"run", "--log-level", "loud"}, cli.ExitFailure, `testd: log_level: unknown log level "loud"`, "", nil},
		{"bad size flag", []string{"run", "--size", "lots"}, cli.ExitUsage, `invalid argument "lots" for "--size" flag`, "", nil},
		{"a command takes only its flags", []string{"status", "--quiet"}, cli.ExitUsage, "unknown flag: --quiet", "", nil},
		{"a command's own flags", []string{"status", "--name", "s"}, cli.ExitOK, "", "status of s", nil},
		{"unknown flag", []string{"run", "--nope"}, cli.ExitUsage, "testd: unknown flag: --nope (run 'testd run --help' for usage)", "", nil},
		{"flag without value", []string{"run", "--name"}, cli.ExitUsage, "flag needs an argument", "", nil},
		{"unknown command", []string{"frobnicate"}, cli.ExitUsage, `testd: unknown command "frobnicate" (run 'testd --help' for usage)`, "", nil},
		{"extra argument", []string{"run", "x"}, cli.ExitUsage, `unexpected argument "x"`, "", nil},
		{"joined errors on one line", []string{"fail"}, cli.ExitFailure, "testd: first problem; second problem: do this\n", "", nil},
		{"panic", []string{"boom"}, cli.ExitFailure, "testd: internal error: kaboom; please report this bug\n", "", nil},
		{"help", []string{}, cli.ExitOK, "", "Usage:", nil},
		{"version", []string{"version"}, cli.ExitOK, "", "testd ", nil},
		{"config dump", []string{"config", "dump", "--config", cfgFile, "--name", "dumped"}, cli.ExitOK, "",
			"name: dumped\nttl: 0s\nsize: 1KiB\nhosts: []\nquiet: false\ncount: 3\nlog_level: debug\nmetrics_addr: :9\n", nil},
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

func TestHelpListsTheFlagsThatApply(t *testing.T) {
	for _, tc := range []struct {
		cmd       []string
		has, hasn []string
	}{
		{[]string{"run", "--help"}, []string{"--name NAME", "--ttl DURATION", "--size SIZE", "--log-level LEVEL", "--config FILE", "[config: ttl]"}, nil},
		{[]string{"status", "--help"}, []string{"--name NAME", "--config FILE"}, []string{"--ttl", "--log-level", "--quiet"}},
		{[]string{"version", "--help"}, nil, []string{"--config", "--log-level"}},
	} {
		var got testConfig
		code, stdout, stderr := execute(app(&got), tc.cmd...)
		require.Equal(t, cli.ExitOK, code, stderr)
		for _, s := range tc.has {
			assert.Contains(t, stdout, s, "%v", tc.cmd)
		}
		for _, s := range tc.hasn {
			assert.NotContains(t, stdout, s, "%v", tc.cmd)
		}
	}
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
