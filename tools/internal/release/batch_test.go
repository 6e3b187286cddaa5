package release

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFiles writes files (slash paths relative to dir) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
}

// gitRun runs git in dir.
func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

// twoModuleRepo makes a git repository with the modules proto and drpc
// (which requires proto through ../proto), tags proto/v0.1.0, then changes
// proto after the tag.
func twoModuleRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"proto/go.mod": "module github.com/cc532012/drpc/proto\n\ngo 1.26\n",
		"proto/p.go":   "package proto\n\n// V is a value.\nconst V = 1\n",
		"drpc/go.mod": "module github.com/cc532012/drpc/drpc\n\ngo 1.26\n\n" +
			"replace github.com/cc532012/drpc/proto => ../proto\n\n" +
			"require github.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000\n",
		"drpc/d.go":           "package drpc\n\nimport \"github.com/cc532012/drpc/proto\"\n\n// W is proto.V.\nconst W = proto.V\n",
		"drpc/cmd/d/main.go":  "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/cc532012/drpc/drpc\"\n)\n\nfunc main() { fmt.Println(\"w\", drpc.W) }\n",
		"drpc/untracked.keep": "",
	})
	gitRun(t, root, "init", "-q")
	gitRun(t, root, "add", "proto", "drpc/go.mod", "drpc/d.go", "drpc/cmd")
	gitRun(t, root, "commit", "-q", "-m", "one")
	gitRun(t, root, "tag", "proto/v0.1.0")
	writeFiles(t, root, map[string]string{"proto/p.go": "package proto\n\n// V is a value.\nconst V = 2\n"})
	gitRun(t, root, "commit", "-q", "-am", "two")
	return root
}

// TestBatchWithSiblingReleasedBefore releases drpc alone, requiring proto
// at its earlier tag: the go.sum holds the hash of the tag's zip (not of
// the changed working tree), and the go command, given a proxy with both,
// builds drpc with -mod=readonly and installs its command by version.
func TestBatchWithSiblingReleasedBefore(t *testing.T) {
	root := twoModuleRepo(t)
	mods, err := Batch{
		Root:        root,
		Versions:    map[string]string{"drpc": "v0.2.0"},
		Released:    map[string]string{"proto": "v0.1.0"},
		Files:       GitTracked(root),
		ReleasedZip: FromTag(root),
	}.Build()
	require.NoError(t, err)
	require.Len(t, mods, 1)
	d := mods[0]
	assert.Equal(t, "module github.com/cc532012/drpc/drpc\n\ngo 1.26\n\nrequire github.com/cc532012/drpc/proto v0.1.0\n", string(d.GoMod))
	protoZip, err := FromTag(root)("proto", "v0.1.0")
	require.NoError(t, err)
	h, err := ZipHash(protoZip)
	require.NoError(t, err)
	assert.Contains(t, string(d.GoSum), "github.com/cc532012/drpc/proto v0.1.0 "+h+"\n")
	assert.Contains(t, string(d.GoSum), "github.com/cc532012/drpc/proto v0.1.0/go.mod h1:")

	names := zipNamesOf(t, d.Zip)
	assert.ElementsMatch(t, []string{"go.mod", "go.sum", "d.go", "cmd/d/main.go"}, names, "tracked files only, with the released go.mod and go.sum")

	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not installed")
	}
	proxy := FileProxy{Dir: t.TempDir()}
	goMod, err := zipFile(protoZip, "github.com/cc532012/drpc/proto@v0.1.0/go.mod")
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, proxy.Add(ModulePath("proto"), "v0.1.0", protoZip, goMod, now))
	require.NoError(t, proxy.Add(d.Path, d.Version, d.Zip, d.GoMod, now))
	home := t.TempDir()
	cache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GOPATH=" + filepath.Join(home, "gopath"),
		"GOBIN=" + filepath.Join(home, "bin"), "GOPROXY=" + proxy.URL(), "GOSUMDB=off",
		"GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=readonly -modcacherw", "GOCACHE=" + strings.TrimSpace(string(cache)),
	}
	goCmd := func(dir string, args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v: %s", args, out)
		return string(out)
	}
	goCmd(home, "install", ModulePath("drpc")+"/cmd/d@v0.2.0")
	out, err := exec.Command(filepath.Join(home, "bin", "d")).Output()
	require.NoError(t, err)
	assert.Equal(t, "w 1\n", string(out), "built against proto as tagged, not as changed since")

	// A clone of the tag: the go.sum is complete and right.
	clone := filepath.Join(home, "clone")
	for _, name := range names {
		data, err := zipFile(d.Zip, d.Path+"@"+d.Version+"/"+name)
		require.NoError(t, err)
		writeFiles(t, clone, map[string]string{name: string(data)})
	}
	goCmd(clone, "build", "./...")
}

// TestGitTrackedIsWhatTheProxyServes: a module released from the tracked
// files, once committed and tagged, has the zip hash that the go command
// computes from the tag (CreateFromVCS), the root LICENSE included.
func TestGitTrackedIsWhatTheProxyServes(t *testing.T) {
	root := twoModuleRepo(t)
	writeFiles(t, root, map[string]string{"LICENSE": "a licence\n"})
	gitRun(t, root, "add", "LICENSE")
	gitRun(t, root, "commit", "-q", "-m", "licence")
	mods, err := Batch{Root: root, Versions: map[string]string{"proto": "v0.2.0"}, Files: GitTracked(root)}.Build()
	require.NoError(t, err)
	require.Len(t, mods, 1)
	require.NoError(t, os.WriteFile(filepath.Join(root, "proto", "go.mod"), mods[0].GoMod, 0o644))
	gitRun(t, root, "commit", "-q", "--allow-empty", "-am", "release")
	gitRun(t, root, "tag", "proto/v0.2.0")

	tagged, err := FromTag(root)("proto", "v0.2.0")
	require.NoError(t, err)
	assert.Contains(t, zipNamesOf(t, tagged), "LICENSE")
	want, err := ZipHash(tagged)
	require.NoError(t, err)
	got, err := ZipHash(mods[0].Zip)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestBatchRefuses(t *testing.T) {
	root := twoModuleRepo(t)
	for _, tc := range []struct {
		name string
		b    Batch
		want string
	}{
		{"nothing to release", Batch{Root: root}, "no module to release"},
		{"not a module", Batch{Root: root, Versions: map[string]string{"nope": "v0.1.0"}}, "not a module"},
		{"bad version", Batch{Root: root, Versions: map[string]string{"drpc": "v1"}}, "not a semantic version"},
		{"a sibling with no version", Batch{Root: root, Versions: map[string]string{"drpc": "v0.2.0"}, Files: GitTracked(root)}, "requires github.com/cc532012/drpc/proto"},
		{"a sibling never tagged", Batch{Root: root, Versions: map[string]string{"drpc": "v0.2.0"}, Released: map[string]string{"proto": "v0.5.0"}, Files: GitTracked(root), ReleasedZip: FromTag(root)}, "proto/v0.5.0"},
		{"in the batch and released before", Batch{Root: root, Versions: map[string]string{"drpc": "v0.2.0", "proto": "v0.2.0"}, Released: map[string]string{"proto": "v0.1.0"}}, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Build()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// zipNamesOf returns the file names in a module zip, without the
// module@version/ prefix.
func zipNamesOf(t *testing.T, data []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	var names []string
	for _, f := range zr.File {
		at := strings.Index(f.Name, "@")
		require.GreaterOrEqual(t, at, 0, f.Name)
		_, name, ok := strings.Cut(f.Name[at:], "/")
		require.True(t, ok, f.Name)
		names = append(names, name)
	}
	return names
}
