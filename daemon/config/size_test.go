package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/config"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"64", 64, true},
		{"64B", 64, true},
		{"64 b", 64, true},
		{"4KiB", 4096, true},
		{"4kib", 4096, true},
		{"4K", 4096, true},
		{" 4 KiB ", 4096, true},
		{"1MiB", 1 << 20, true},
		{"64M", 64 << 20, true},
		{"", 0, false},
		{"KiB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5KiB", 0, false},
		{"4KB", 0, false},
		{"4GiB", 4 << 30, true},
		{"4TiB", 0, false},
		{"0x10", 0, false},
		{"99999999999999999999", 0, false},
		{"9223372036854775807MiB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := config.ParseSize(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, config.ErrSize)
				assert.Contains(t, err.Error(), "e.g. 64, 4KiB, 1MiB")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatSizeRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 64, 1000, 1024, 4096, 4097, 1 << 20, 3 << 20, 128 << 10, 2 << 30} {
		s := config.FormatSize(n)
		got, err := config.ParseSize(strings.ReplaceAll(s, " ", ""))
		require.NoError(t, err, s)
		assert.Equal(t, n, got, s)
	}
	assert.Equal(t, "4 KiB", config.FormatSize(4096))
	assert.Equal(t, "1 MiB", config.FormatSize(1<<20))
	assert.Equal(t, "1000 B", config.FormatSize(1000))
}

func TestSize(t *testing.T) {
	var v config.Size
	require.NoError(t, v.Set("4KiB"))
	assert.Equal(t, config.Size(4096), v)
	assert.Equal(t, "4KiB", v.String())
	assert.Equal(t, "size", v.Type())
	require.Error(t, v.Set("lots"))
	assert.Equal(t, config.Size(4096), v, "a bad value leaves the old one")

	var c struct {
		Max config.Size `yaml:"max"`
	}
	require.NoError(t, config.Decode([]byte("max: 64MiB\n"), "x.yaml", &c))
	assert.Equal(t, config.Size(64<<20), c.Max)
	require.NoError(t, config.Decode([]byte("max: 1024\n"), "x.yaml", &c))
	assert.Equal(t, config.Size(1024), c.Max)
	err := config.Decode([]byte("max: lots\n"), "x.yaml", &c)
	require.ErrorIs(t, err, config.ErrBadValue)
	assert.Contains(t, err.Error(), `config x.yaml: line 1: bad value "lots" for key "max": want a size such as 64MiB`)
	var out strings.Builder
	require.NoError(t, config.Dump(&out, c))
	assert.Equal(t, "max: 1KiB\n", out.String())
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64", "4KiB", "1M", "-1", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := config.ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := config.ParseSize(strings.ReplaceAll(config.FormatSize(n), " ", ""))
		if err != nil || back != n {
			t.Fatalf("FormatSize(%d) = %q does not read back: %d, %v", n, config.FormatSize(n), back, err)
		}
	})
}
