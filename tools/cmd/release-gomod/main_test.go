package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return string(out)
}

// repo makes a git repository with the modules proto, drpc (requires
// proto) and api (requires drpc and proto), all through ../ replaces.
func repo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	files := map[string]string{
		"proto/go.mod": "module github.com/cc532012/drpc/proto\n\ngo 1.26\n",
		"proto/p.go":   "package proto\n",
		"drpc/go.mod": "module github.com/cc532012/drpc/drpc\n\ngo 1.26\n\nreplace github.com/cc532012/drpc/proto => ../proto\n\n" +
			"require github.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000\n",
		"drpc/d.go": "package drpc\n",
		"api/go.mod": "module github.com/cc532012/drpc/api\n\ngo 1.26\n\nreplace (\n\tgithub.com/cc532012/drpc/drpc => ../drpc\n\tgithub.com/cc532012/drpc/proto => ../proto\n)\n\n" +
			"require (\n\tgithub.com/cc532012/drpc/drpc v0.0.0-00010101000000-000000000000\n\tgithub.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000\n)\n",
		"api/a.go": "package api\n",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	gitRun(t, root, "init", "-q")
	gitRun(t, root, "add", ".")
	gitRun(t, root, "commit", "-q", "-m", "one")
	return root
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBadCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "name the modules"},
		{[]string{"drpc"}, "want FOLDER=VERSION"},
		{[]string{"nope=v0.1.0"}, "not a module folder"},
		{[]string{"drpc=0.1"}, "not a semantic version"},
		{[]string{"drpc=v0.1.0", "drpc=v0.2.0"}, "named twice"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		code, _, stderr := runCmd(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}

func TestReleaseBatch(t *testing.T) {
	root := repo(t)

	code, stdout, stderr := runCmd("-C", root, "-n", "proto=v0.1.0", "drpc=v0.1.0")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "require github.com/cc532012/drpc/proto v0.1.0")
	assert.Empty(t, gitRun(t, root, "status", "--porcelain"), "-n changes nothing")

	code, stdout, stderr = runCmd("-C", root, "proto=v0.1.0", "drpc=v0.1.0")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "git tag proto/v0.1.0")
	assert.Contains(t, stdout, "git tag drpc/v0.1.0")
	data, err := os.ReadFile(filepath.Join(root, "drpc", "go.mod"))
	require.NoError(t, err)
	assert.Equal(t, "module github.com/cc532012/drpc/drpc\n\ngo 1.26\n\nrequire github.com/cc532012/drpc/proto v0.1.0\n", string(data))
	sum, err := os.ReadFile(filepath.Join(root, "drpc", "go.sum"))
	require.NoError(t, err)
	assert.Contains(t, string(sum), "github.com/cc532012/drpc/proto v0.1.0 h1:")

	code, _, stderr = runCmd("-C", root, "api=v0.1.0")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "uncommitted changes")

	assert.Contains(t, stdout, "git add proto/go.mod proto/go.sum drpc/go.mod drpc/go.sum")
	gitRun(t, root, "add", "-A")
	gitRun(t, root, "commit", "-q", "-m", "release")
	gitRun(t, root, "tag", "proto/v0.1.0")
	gitRun(t, root, "tag", "drpc/v0.1.0")

	code, _, stderr = runCmd("-C", root, "drpc=v0.1.0")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "tag drpc/v0.1.0 exists already")

	// api alone: its siblings come from their newest tags.
	code, stdout, stderr = runCmd("-C", root, "api=v0.1.0")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "proto: required at its release v0.1.0")
	data, err = os.ReadFile(filepath.Join(root, "api", "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "github.com/cc532012/drpc/drpc v0.1.0")
	assert.NotContains(t, string(data), "replace")
}

func TestNeverReleasedSibling(t *testing.T) {
	root := repo(t)
	code, _, stderr := runCmd("-C", root, "api=v0.1.0")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "never released: drpc (required by api), proto (required by api)")
}
