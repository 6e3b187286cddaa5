package bytesize

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int
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
		{"4GiB", 0, false},
		{"0x10", 0, false},
		{"99999999999999999999", 0, false},
		{"9223372036854775807MiB", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, ErrSyntax)
				assert.Contains(t, err.Error(), "e.g. 64, 4KiB, 1MiB")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 64, 1000, 1024, 4096, 4097, 1 << 20, 3 << 20, 128 << 10} {
		s := Format(n)
		got, err := Parse(strings.ReplaceAll(s, " ", ""))
		require.NoError(t, err, s)
		assert.Equal(t, n, got, s)
	}
	assert.Equal(t, "4 KiB", Format(4096))
	assert.Equal(t, "1 MiB", Format(1<<20))
	assert.Equal(t, "1000 B", Format(1000))
}

func TestValue(t *testing.T) {
	var v Value
	require.NoError(t, v.Set("4KiB"))
	assert.Equal(t, Value(4096), v)
	assert.Equal(t, "4096", v.String())
	assert.Equal(t, "size", v.Type())
	require.Error(t, v.Set("lots"))
	assert.Equal(t, Value(4096), v, "a bad value leaves the old one")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"64", "4KiB", "1M", "-1", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		back, err := Parse(strings.ReplaceAll(Format(n), " ", ""))
		if err != nil || back != n {
			t.Fatalf("Format(%d) = %q does not read back: %d, %v", n, Format(n), back, err)
		}
	})
}
