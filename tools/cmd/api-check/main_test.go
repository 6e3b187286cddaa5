package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the repository, three levels up from this package.
var repoRoot = func() string {
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		panic(err)
	}
	return dir
}()

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// scratchProto copies the proto module into a scratch repository root.
func scratchProto(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join(repoRoot, "proto")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, "proto", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	require.NoError(t, err)
	return root
}

func write(t *testing.T, root, name, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte(data), 0o644))
}

const (
	changelogPlain    = "# Changelog\n\n## Unreleased\n- Added things.\n\n## v0.1.0 - 2026-01-01\n### Breaking\n- An old break.\n"
	changelogBreaking = "# Changelog\n\n## Unreleased\n\n### Breaking: Extra is gone\n- Use nothing instead.\n"
)

// TestAPICheck makes a baseline of a scratch copy of the proto module with
// an extra exported function, then changes the copy: an added function
// passes, a removed one fails unless the module is before v1 and its
// CHANGELOG notes the break, and fails at v1 whatever the CHANGELOG says.
func TestAPICheck(t *testing.T) {
	root := scratchProto(t)
	write(t, root, "proto/extra.go", "package proto\n\n// Extra is part of the API.\nfunc Extra() int { return 1 }\n")
	write(t, root, "proto/CHANGELOG.md", changelogPlain)

	code, stdout, stderr := runCmd("-C", root, "-update", "proto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "proto: baseline written at unreleased")
	txt, err := os.ReadFile(filepath.Join(root, "breaking", "api", "proto.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(txt), "func Extra() int")

	code, stdout, stderr = runCmd("-C", root, "proto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "proto: ok: compatible")

	// A compatible change: an added function.
	write(t, root, "proto/added.go", "package proto\n\n// Added is new.\nfunc Added() {}\n")
	code, stdout, stderr = runCmd("-C", root, "proto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "proto: compatible: Added: added")

	// An incompatible change: a removed function.
	require.NoError(t, os.Remove(filepath.Join(root, "proto", "extra.go")))
	code, stdout, stderr = runCmd("-C", root, "proto")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "proto: incompatible: Extra: removed")
	assert.Contains(t, stderr, `proto: FAIL: 1 incompatible change(s) since the baseline (no release yet): undo the change, or, as the module is before v1, describe it and how to migrate in proto/CHANGELOG.md under "## Unreleased" in a "### Breaking" section`)

	// Before v1, a break noted in the CHANGELOG passes.
	write(t, root, "proto/CHANGELOG.md", changelogBreaking)
	code, stdout, stderr = runCmd("-C", root, "proto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "allowed before v1")

	// At v1, it fails whatever the CHANGELOG says.
	write(t, root, "proto/extra.go", "package proto\n\n// Extra is part of the API.\nfunc Extra() int { return 1 }\n")
	code, _, stderr = runCmd("-C", root, "-update", "-version", "v1.0.0", "proto")
	require.Equal(t, 0, code, stderr)
	require.NoError(t, os.Remove(filepath.Join(root, "proto", "extra.go")))
	code, _, stderr = runCmd("-C", root, "proto")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "since v1.0.0: a module at v1 may not break its API")

	// -update keeps the recorded version.
	code, stdout, stderr = runCmd("-C", root, "-update", "proto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "baseline written at v1.0.0")
}

func TestMissingBaseline(t *testing.T) {
	root := scratchProto(t)
	code, _, stderr := runCmd("-C", root, "proto")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no API baseline")
	assert.Contains(t, stderr, "make api-baseline MODULE=proto")
}

func TestBadCommandLine(t *testing.T) {
	for _, args := range [][]string{
		{"nope"},
		{"-version", "v1.0.0"},
		{"-update", "-version", "1.0"},
		{"-bogus"},
	} {
		code, _, _ := runCmd(args...)
		assert.Equal(t, 2, code, "%v", args)
	}
}
