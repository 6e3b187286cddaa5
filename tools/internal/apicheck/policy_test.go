package apicheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	const p = "github.com/cc532012/drpc/drpc"
	for _, tc := range []struct {
		name         string
		oldPath      string
		newPath      string
		version      string
		incompatible int
		noted        bool
		ok           bool
		want         string
	}{
		{"no change", p, p, "v1.2.0", 0, false, true, "compatible with the release v1.2.0"},
		{"v0, not noted", p, p, "v0.3.0", 2, false, false, "2 incompatible change(s) since the release v0.3.0: undo"},
		{"v0, noted", p, p, "v0.3.0", 2, true, true, "allowed before v1"},
		{"unreleased, noted", p, p, Unreleased, 1, true, true, "since the baseline (no release yet), allowed"},
		{"v1, noted", p, p, "v1.0.0", 1, true, false, "a module at v1 may not break its API; undo the change, or make a new major version (module path ending in /v2"},
		{"v1 to v2", p, p + "/v2", "v1.4.0", 5, false, true, "a new major version"},
		{"v2, noted", p + "/v2", p + "/v2", "v2.1.0", 1, true, false, "ending in /v3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := Decide(tc.oldPath, tc.newPath, tc.version, tc.incompatible, tc.noted, "drpc/CHANGELOG.md")
			assert.Equal(t, tc.ok, ok, why)
			assert.Contains(t, why, tc.want)
		})
	}
}

func TestBreakingInUnreleased(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"heading with text", "## Unreleased\n\n### Breaking: the API (migration below)\n- x\n", true},
		{"plain heading", "# C\n## Unreleased\n### Breaking\n", true},
		{"lower case", "## unreleased\n### breaking changes\n", true},
		{"only in a release", "## Unreleased\n- x\n## v0.1.0\n### Breaking\n", false},
		{"a word in a line", "## Unreleased\n- Breaking news: nothing broke\n", false},
		{"no unreleased section", "## v0.1.0\n### Breaking\n", false},
		{"deeper heading", "## Unreleased\n#### Breaking\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, breakingInUnreleased([]byte(tc.text)))
		})
	}
	_, err := BreakingNoted(filepath.Join(t.TempDir(), "CHANGELOG.md"))
	require.Error(t, err)
}

func TestIsInternal(t *testing.T) {
	const m = "github.com/cc532012/drpc/drpc"
	assert.True(t, IsInternal(m+"/internal/framing", m))
	assert.True(t, IsInternal(m+"/a/internal", m))
	assert.False(t, IsInternal(m, m))
	assert.False(t, IsInternal(m+"/auth", m))
	assert.False(t, IsInternal(m+"/internals", m))
}

func TestReadBaselineRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadBaseline(dir, "drpc")
	require.ErrorIs(t, err, ErrNoBaseline)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "drpc.txt"), []byte("something else\n"), 0o644))
	_, err = ReadBaseline(dir, "drpc")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the first line must be")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "drpc.txt"), []byte(headerPrefix+"x at v0.1.0\n"), 0o644))
	_, err = ReadBaseline(dir, "drpc")
	require.ErrorIs(t, err, ErrNoBaseline, "the zip is missing")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "drpc.zip"), []byte("not a zip"), 0o644))
	_, err = ReadBaseline(dir, "drpc")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNoBaseline)
}
