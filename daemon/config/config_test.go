package config_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/cc532012/drpc/daemon/config"
)

type logging struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type common struct {
	MetricsAddr string `yaml:"metrics_addr"`
}

type sample struct {
	RuntimeDir string            `yaml:"runtime_dir"`
	CacheTTL   config.Duration   `yaml:"cache_ttl"`
	CacheSize  int               `yaml:"cache_size"`
	Insecure   bool              `yaml:"allow_insecure"`
	UIDMap     map[uint32]string `yaml:"uid_map"`
	Groups     []string          `yaml:"groups"`
	Log        logging           `yaml:"log"`
	common     `yaml:",inline"`
	Ignored    string `yaml:"-"`
}

func defaults() sample {
	return sample{RuntimeDir: "/run/x", CacheTTL: config.Duration(time.Minute), CacheSize: 100, Log: logging{Level: "info"}}
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(*sample)
	}{
		{"empty", "", func(*sample) {}},
		{"comment only", "# nothing here\n", func(*sample) {}},
		{"null document", "~\n", func(*sample) {}},
		{"one key", "cache_size: 7\n", func(s *sample) { s.CacheSize = 7 }},
		{"duration", "cache_ttl: 1m30s\n", func(s *sample) { s.CacheTTL = config.Duration(90 * time.Second) }},
		{"zero duration", "cache_ttl: 0\n", func(s *sample) { s.CacheTTL = 0 }},
		{"null keeps default", "cache_ttl:\n", func(*sample) {}},
		{"map", "uid_map:\n  1000: alice\n  1001: bob\n", func(s *sample) { s.UIDMap = map[uint32]string{1000: "alice", 1001: "bob"} }},
		{"list", "groups: [a, b]\n", func(s *sample) { s.Groups = []string{"a", "b"} }},
		{"nested", "log:\n  format: json\n", func(s *sample) { s.Log.Format = "json" }},
		{"inline", "metrics_addr: 127.0.0.1:9\n", func(s *sample) { s.MetricsAddr = "127.0.0.1:9" }},
		{"bool", "allow_insecure: true\n", func(s *sample) { s.Insecure = true }},
		{"document marker", "---\ncache_size: 3\n", func(s *sample) { s.CacheSize = 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			require.NoError(t, config.Decode([]byte(tt.in), "x.yaml", &got))
			want := defaults()
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind error
		line int
		key  string
		msg  string // the whole message
	}{
		{"unknown key", "runtime_dir: /x\ncache_size: 2\n\ncach_ttl: 5s\n", config.ErrUnknownKey, 4, "cach_ttl",
			`config x.yaml: line 4: unknown key "cach_ttl" (did you mean "cache_ttl"?)`},
		{"unknown nested key", "log:\n  levl: debug\n", config.ErrUnknownKey, 2, "log.levl",
			`config x.yaml: line 2: unknown key "log.levl" (did you mean "log.level"?)`},
		{"unknown key far from any", "zzzzzzzzzz: 1\n", config.ErrUnknownKey, 1, "zzzzzzzzzz", ""},
		{"ignored field is unknown", "Ignored: x\n", config.ErrUnknownKey, 1, "Ignored", ""},
		{"bad int", "cache_size: many\n", config.ErrBadValue, 1, "cache_size",
			`config x.yaml: line 1: bad value "many" for key "cache_size": want an integer`},
		{"bad bool", "allow_insecure: maybe\n", config.ErrBadValue, 1, "allow_insecure", ""},
		{"bad duration", "cache_size: 1\ncache_ttl: 5 minutes\n", config.ErrBadValue, 2, "cache_ttl",
			`config x.yaml: line 2: bad value "5 minutes" for key "cache_ttl": want a duration such as "1m30s" or "500ms" (units: ns, us, ms, s, m, h)`},
		{"duration without unit", "cache_ttl: 60\n", config.ErrBadValue, 1, "cache_ttl", ""},
		{"duration as mapping", "cache_ttl:\n  a: 1\n", config.ErrBadValue, 2, "cache_ttl", ""},
		{"string given a mapping", "runtime_dir:\n  a: b\n", config.ErrBadValue, 2, "runtime_dir",
			`config x.yaml: line 2: bad value for key "runtime_dir": want a string, got a mapping`},
		{"bad map key", "uid_map:\n  alice: bob\n", config.ErrBadValue, 2, "uid_map.alice",
			`config x.yaml: line 2: bad key "alice" under "uid_map": want a whole number (0 or more)`},
		{"negative map key", "uid_map:\n  -1: bob\n", config.ErrBadValue, 2, "uid_map.-1", ""},
		{"duplicate key", "cache_size: 1\ncache_size: 2\n", config.ErrDuplicateKey, 2, "cache_size",
			`config x.yaml: line 2: key "cache_size" given again (first at line 1): give each key once`},
		{"syntax", "cache_size: [1\n", config.ErrSyntax, 0, "", ""},
		{"tab indentation", "log:\n\tlevel: debug\n", config.ErrSyntax, 2, "", ""},
		{"two documents", "cache_size: 1\n---\ncache_size: 2\n", config.ErrSyntax, 2, "", ""},
		{"not a mapping", "- a\n- b\n", config.ErrSyntax, 1, "",
			`config x.yaml: line 1: the configuration must be a mapping of keys to values (key: value), not a list`},
		{"scalar document", "hello\n", config.ErrSyntax, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			err := config.Decode([]byte(tt.in), "x.yaml", &got)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.kind)
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			if tt.line > 0 {
				assert.Equal(t, tt.line, ce.Line, "line of %v", err)
			}
			assert.Equal(t, tt.key, ce.Key, "key of %v", err)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, err.Error())
			}
			assert.True(t, strings.HasPrefix(err.Error(), "config x.yaml: "), err.Error())
			assert.Equal(t, defaults(), got, "dst must not change when decoding fails")
		})
	}
}

func TestDecodeSeveralProblems(t *testing.T) {
	var s sample
	err := config.Decode([]byte("cache_size: x\nnope: 1\n"), "f", &s)
	require.Error(t, err)
	assert.ErrorIs(t, err, config.ErrBadValue)
	assert.ErrorIs(t, err, config.ErrUnknownKey)
	assert.Contains(t, err.Error(), "line 1: ")
	assert.Contains(t, err.Error(), "line 2: ")
}

func TestDecodeBadDestination(t *testing.T) {
	require.Error(t, config.Decode([]byte("a: 1"), "", sample{}))
	require.Error(t, config.Decode([]byte("a: 1"), "", (*sample)(nil)))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("cache_size: 9\n"), 0o644))
	s := defaults()
	src, err := config.Load(good, &s)
	require.NoError(t, err)
	line, ok := src.Line("cache_size")
	assert.True(t, ok)
	assert.Equal(t, 1, line)
	assert.Equal(t, 9, s.CacheSize)
	assert.Equal(t, "/run/x", s.RuntimeDir)

	_, err = config.Load(filepath.Join(dir, "missing.yaml"), &s)
	require.ErrorIs(t, err, config.ErrRead)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "missing.yaml: no such file")

	_, err = config.Load(dir, &s)
	require.ErrorIs(t, err, config.ErrRead)
	assert.Contains(t, err.Error(), "not a regular file")

	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte("#\n"), config.MaxFileSize), 0o644))
	_, err = config.Load(big, &s)
	require.ErrorIs(t, err, config.ErrTooLarge)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("cach_ttl: 1s\n"), 0o644))
	_, err = config.Load(bad, &s)
	require.ErrorIs(t, err, config.ErrUnknownKey)
	assert.Equal(t, "config "+bad+`: line 1: unknown key "cach_ttl" (did you mean "cache_ttl"?)`, err.Error())
}

func TestDumpRoundTrip(t *testing.T) {
	s := defaults()
	s.UIDMap = map[uint32]string{1000: "alice"}
	s.Groups = []string{"x"}
	s.MetricsAddr = "127.0.0.1:9100"
	var buf bytes.Buffer
	require.NoError(t, config.Dump(&buf, s))
	out := buf.String()
	assert.Contains(t, out, "cache_ttl: 1m0s\n")
	assert.Contains(t, out, "uid_map:\n  1000: alice\n")
	assert.Contains(t, out, "metrics_addr: 127.0.0.1:9100\n")
	assert.True(t, strings.HasPrefix(out, "runtime_dir: /run/x\n"), out)

	var back sample
	require.NoError(t, config.Decode(buf.Bytes(), "dump", &back))
	assert.Equal(t, s, back)
}

func TestDuration(t *testing.T) {
	var d config.Duration
	require.NoError(t, d.Set("1m30s"))
	assert.Equal(t, 90*time.Second, d.Std())
	assert.Equal(t, "1m30s", d.String())
	assert.Equal(t, "duration", d.Type())
	err := d.Set("90")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid duration "90"`)
	assert.Equal(t, 90*time.Second, d.Std(), "a failed Set keeps the value")

	b, err := d.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "1m30s", string(b))
	require.NoError(t, d.UnmarshalText([]byte("2h")))
	assert.Equal(t, 2*time.Hour, d.Std())
}

func TestErrorFormat(t *testing.T) {
	e := &config.Error{Msg: "boom", Kind: config.ErrRead, Err: fs.ErrPermission}
	assert.Equal(t, "config: boom", e.Error())
	assert.True(t, errors.Is(e, fs.ErrPermission))
	assert.True(t, errors.Is(e, config.ErrRead))
}

// picky refuses every value with a plain error, as a custom decoder may.
type picky struct{}

func (*picky) UnmarshalYAML(*yaml.Node) error { return errors.New("picky refuses") }

func TestCustomDecoderError(t *testing.T) {
	var v struct {
		P picky `yaml:"p"`
	}
	err := config.Decode([]byte("p: 1\n"), "c.yaml", &v)
	require.ErrorIs(t, err, config.ErrBadValue)
	assert.Equal(t, `config c.yaml: line 1: bad value "1" for key "p": picky refuses`, err.Error())
}

func TestTabIndent(t *testing.T) {
	var s sample
	err := config.Decode([]byte("log:\n  level: debug\n\tformat: json\n"), "t.yaml", &s)
	require.ErrorIs(t, err, config.ErrSyntax)
	assert.Equal(t, "config t.yaml: line 3: indented with a tab: YAML indents with spaces only", err.Error())
}

func TestSourceLocate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("cache_size: 9\nlog:\n  level: loud\ngroups: [a, b]\n"), 0o644))
	s := defaults()
	src, err := config.Load(file, &s)
	require.NoError(t, err)

	checks := errors.Join(
		errors.New("cache_size: 9 is not between 10 and 20"),
		errors.New("log.level: unknown level \"loud\""),
		errors.New("runtime_dir: not in the file"),
		errors.New("groups[1]: not a group"),
	)
	located := src.Locate(checks, nil)
	assert.Equal(t, "config "+file+": line 1: cache_size: 9 is not between 10 and 20\n"+
		"config "+file+": line 3: log.level: unknown level \"loud\"\n"+
		"runtime_dir: not in the file\n"+
		"config "+file+": line 4: groups[1]: not a group", located.Error())
	assert.ErrorIs(t, located, config.ErrBadValue)

	flagged := src.Locate(errors.New("cache_size: 9 is not between 10 and 20"), map[string]bool{"cache_size": true})
	assert.Equal(t, "cache_size: 9 is not between 10 and 20", flagged.Error(), "a key a flag set is not the file's")
	assert.NoError(t, src.Locate(nil, nil))
}

func TestEditDistance(t *testing.T) {
	assert.Equal(t, 0, config.EditDistance("abc", "abc"))
	assert.Equal(t, 1, config.EditDistance("notifyredy", "notifyready"))
	assert.Equal(t, 3, config.EditDistance("", "abc"))
	assert.Equal(t, 2, config.EditDistance("ab", "ba"))
	assert.Equal(t, 1, config.EditDistance("µs", "us"))
	assert.Equal(t, "cache_ttl", config.Suggest("cach_ttl", []string{"cache_size", "cache_ttl"}))
	assert.Empty(t, config.Suggest("zzzzzz", []string{"cache_ttl"}))
}
