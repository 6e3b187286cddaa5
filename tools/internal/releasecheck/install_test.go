package releasecheck

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/tools/internal/release"
)

// testVersion is the version every module is released at in the test.
const testVersion = "v0.99.0"

// repoRoot is the repository, three levels up from this package.
var repoRoot = func() string {
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		panic(err)
	}
	return dir
}()

// binaries are the commands a user installs, by package.
var binaries = []struct{ pkg, name string }{
	{"server/cmd/drpc-server", "drpc-server"},
	{"agent/cmd/drpc-agent", "drpc-agent"},
	{"tools/cmd/drpc", "drpc"},
	{"tools/cmd/drpc-engine", "drpc-engine"},
}

// sandbox is an empty GOPATH and module cache whose only module sources
// are a file proxy and, for third-party modules, the download cache of
// the machine's module cache: nothing touches the network.
type sandbox struct {
	home, gobin string
	env         []string
}

func newSandbox(t *testing.T, proxy release.FileProxy) sandbox {
	t.Helper()
	home := t.TempDir()
	s := sandbox{home: home, gobin: filepath.Join(home, "bin")}
	cache := goEnv(t, "GOMODCACHE")
	s.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GOPATH=" + filepath.Join(home, "gopath"),
		"GOMODCACHE=" + filepath.Join(home, "gopath", "pkg", "mod"),
		"GOBIN=" + s.gobin,
		// The build cache holds compiled packages by content: sharing it
		// only saves time.
		"GOCACHE=" + goEnv(t, "GOCACHE"),
		"GOPROXY=" + proxy.URL() + ",file://" + filepath.ToSlash(filepath.Join(cache, "cache", "download")),
		// No checksum database offline (go install by version checks
		// every module against it, not against go.sum); the released
		// go.sum files are checked by TestReleasedModuleBuildsAtItsTag.
		"GOSUMDB=off",
		// -modcacherw: the test's module cache must be removable by a
		// user who is not root.
		"GOFLAGS=-mod=mod -modcacherw",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	}
	return s
}

// goEnv returns `go env NAME` of the test's environment.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	v := strings.TrimSpace(string(out))
	require.NotEmpty(t, v, "go env %s", name)
	return v
}

// run runs a command in the sandbox and returns its combined output.
func (s sandbox) run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ensureThirdParty makes sure the machine's module cache holds every
// third-party module the binaries need (a no-op after `make test` built
// them), with the environment the test runs in.
func ensureThirdParty(t *testing.T) {
	t.Helper()
	for _, m := range []string{"server", "agent", "tools"} {
		cmd := exec.Command("go", "mod", "download")
		cmd.Dir = filepath.Join(repoRoot, m)
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go mod download in %s: %s", m, out)
	}
}

// releaseAll releases every module of the working tree at testVersion into
// a file proxy.
func releaseAll(t *testing.T) (release.FileProxy, []release.Module) {
	t.Helper()
	versions := make(map[string]string)
	for _, m := range release.Modules {
		versions[m] = testVersion
	}
	mods, err := release.Batch{Root: repoRoot, Versions: versions, Files: release.WorkTree(repoRoot)}.Build()
	require.NoError(t, err)
	proxy := release.FileProxy{Dir: t.TempDir()}
	for _, m := range mods {
		require.NoError(t, proxy.Add(m.Path, m.Version, m.Zip, m.GoMod, time.Now()))
	}
	return proxy, mods
}

// TestGoInstallFromRelease installs each binary by version from the
// released modules, in an empty module cache, and runs it.
func TestGoInstallFromRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary from a file module proxy (about a minute): run without -short (.ci/run does)")
	}
	ensureThirdParty(t)
	proxy, mods := releaseAll(t)
	for _, m := range mods {
		assert.NotContains(t, string(m.GoMod), "replace", "%s/go.mod as released", m.Folder)
		assert.NotContains(t, string(m.GoMod), "v0.0.0-00010101000000-000000000000", "%s/go.mod as released", m.Folder)
	}
	s := newSandbox(t, proxy)
	for _, b := range binaries {
		t.Run(b.name, func(t *testing.T) {
			target := release.ProjectPrefix + b.pkg + "@" + testVersion
			out, err := s.run(t, s.home, "go", "install", target)
			require.NoError(t, err, "go install %s:\n%s", target, out)
			bin := filepath.Join(s.gobin, b.name)
			out, err = s.run(t, s.home, bin, "version")
			if err != nil && b.name == "drpc-engine" && strings.Contains(out, `unexpected argument "version"`) {
				// This drpc-engine has no version command yet: that it
				// runs is what the test can check.
				out, err = s.run(t, s.home, bin, "--help")
				require.NoError(t, err, "%s --help:\n%s", bin, out)
				return
			}
			require.NoError(t, err, "%s version:\n%s", bin, out)
			assert.Contains(t, out, b.name+" "+testVersion, "the installed binary names its release")
			assert.NotContains(t, out, "(devel)", "every module of the project comes from the release")
		})
	}
}

// TestReleasedModuleBuildsAtItsTag builds the released server module on
// its own (as a clone of its tag would), with -mod=readonly: its go.mod
// and go.sum must name every sibling version with the right hash.
func TestReleasedModuleBuildsAtItsTag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the released server module from a file module proxy: run without -short (.ci/run does)")
	}
	ensureThirdParty(t)
	proxy, mods := releaseAll(t)
	s := newSandbox(t, proxy)
	s.env = append(s.env, "GOFLAGS=-mod=readonly -modcacherw") // the last one wins
	for _, m := range mods {
		if m.Folder != "server" {
			continue
		}
		dir := filepath.Join(s.home, "server")
		unzip(t, m.Zip, m.Path+"@"+m.Version+"/", dir)
		out, err := s.run(t, dir, "go", "build", "./...")
		require.NoError(t, err, "go build in the released server module:\n%s", out)
		out, err = s.run(t, dir, "go", "mod", "verify")
		require.NoError(t, err, "go mod verify:\n%s", out)
	}
}

// TestDevelopmentGoModCannotBeInstalled shows why the release step exists:
// a module whose go.mod keeps its replace lines cannot be installed by
// version.
func TestDevelopmentGoModCannotBeInstalled(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the go command and a file module proxy: run without -short (.ci/run does)")
	}
	const version = "v0.98.0"
	dir := filepath.Join(repoRoot, "server")
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	z, err := zipOf(release.ModulePath("server"), version, dir)
	require.NoError(t, err)
	proxy := release.FileProxy{Dir: t.TempDir()}
	require.NoError(t, proxy.Add(release.ModulePath("server"), version, z, goMod, time.Now()))
	s := newSandbox(t, proxy)
	out, err := s.run(t, s.home, "go", "install", release.ProjectPrefix+"server/cmd/drpc-server@"+version)
	require.Error(t, err)
	assert.Contains(t, out, "replace directives")
}

// zipOf makes the module zip of dir as it is, go.mod unchanged.
func zipOf(path, version, dir string) ([]byte, error) {
	files, err := release.WorkTree(filepath.Dir(dir))(filepath.Base(dir))
	if err != nil {
		return nil, err
	}
	return release.CreateZip(path, version, files)
}

// unzip extracts the files under prefix of a module zip into dir.
func unzip(t *testing.T, data []byte, prefix, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		require.True(t, ok, "zip entry %s is outside %s", f.Name, prefix)
		dst := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		r, err := f.Open()
		require.NoError(t, err)
		var buf bytes.Buffer
		_, err = buf.ReadFrom(r)
		r.Close()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, buf.Bytes(), 0o644))
	}
}
