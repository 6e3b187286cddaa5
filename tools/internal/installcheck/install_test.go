package installcheck

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testVersion is the version the test installs as.
const testVersion = "v0.99.0-test"

// repoRoot is the repository, three levels up from this package.
var repoRoot = func() string {
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		panic(err)
	}
	return dir
}()

// makeInstall runs `make install` with the variables given and returns its
// output.
func makeInstall(t *testing.T, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := append([]string{"-C", repoRoot, "--no-print-directory", "install", "VERSION=" + testVersion}, vars...)
	cmd := exec.CommandContext(ctx, "make", args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// tree lists the files and directories under root as "mode path".
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, info.Mode().String()+" /"+filepath.ToSlash(rel))
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

// run runs an installed binary.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// unitLines returns the lines of a unit file that start with key=.
func unitLines(t *testing.T, path, key string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key+"=") {
			out = append(out, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func TestInstallPrefixUsr(t *testing.T) {
	dest, bin := t.TempDir(), t.TempDir()
	makeInstall(t, "DESTDIR="+dest, "PREFIX=/usr", "BIN="+bin)

	assert.Equal(t, []string{
		"-rw-r--r-- /etc/drpc/agent.yaml",
		"-rw-r--r-- /etc/drpc/server.yaml",
		"-rw-r--r-- /usr/lib/systemd/system/drpc-agent.service",
		"-rw-r--r-- /usr/lib/systemd/system/drpc-agent.socket",
		"-rw-r--r-- /usr/lib/systemd/system/drpc-server.service",
		"-rw-r--r-- /usr/lib/systemd/system/drpc-server.socket",
		"-rw-r--r-- /usr/lib/tmpfiles.d/drpc.conf",
		"-rwxr-xr-x /usr/bin/drpc",
		"-rwxr-xr-x /usr/bin/drpc-agent",
		"-rwxr-xr-x /usr/bin/drpc-engine",
		"-rwxr-xr-x /usr/bin/drpc-server",
		"drwxr-xr-x /etc",
		"drwxr-xr-x /etc/drpc",
		"drwxr-xr-x /etc/drpc/keys",
		"drwxr-xr-x /usr",
		"drwxr-xr-x /usr/bin",
		"drwxr-xr-x /usr/lib",
		"drwxr-xr-x /usr/lib/systemd",
		"drwxr-xr-x /usr/lib/systemd/system",
		"drwxr-xr-x /usr/lib/tmpfiles.d",
	}, tree(t, dest))

	units := filepath.Join(dest, "usr", "lib", "systemd", "system")
	assert.Equal(t, []string{"ExecStart=/usr/bin/drpc-server start --config /etc/drpc/server.yaml --socket-dir /run/daos_server"},
		unitLines(t, filepath.Join(units, "drpc-server.service"), "ExecStart"))
	assert.Equal(t, []string{"ExecStart=/usr/bin/drpc-agent start --config /etc/drpc/agent.yaml"},
		unitLines(t, filepath.Join(units, "drpc-agent.service"), "ExecStart"))
	assert.Equal(t, []string{"ListenSequentialPacket=/run/daos_server/daos_server.sock"},
		unitLines(t, filepath.Join(units, "drpc-server.socket"), "ListenSequentialPacket"))
	assert.Equal(t, []string{"ListenSequentialPacket=/run/daos_agent/daos_agent.sock"},
		unitLines(t, filepath.Join(units, "drpc-agent.socket"), "ListenSequentialPacket"))

	t.Run("version", func(t *testing.T) {
		for _, b := range []string{"drpc-server", "drpc-agent", "drpc", "drpc-engine"} {
			path := filepath.Join(dest, "usr", "bin", b)
			out, err := run(t, path, "version")
			if err != nil && b == "drpc-engine" && strings.Contains(out, `unexpected argument "version"`) {
				// This drpc-engine has no version command yet.
				out, err = run(t, path, "--help")
				require.NoError(t, err, "%s --help: %s", b, out)
				continue
			}
			require.NoError(t, err, "%s version: %s", b, out)
			assert.True(t, strings.HasPrefix(out, b+" "+testVersion+" ("), "%s version says %q", b, out)
		}
	})

	t.Run("configurations hold every key at its default", func(t *testing.T) {
		for _, d := range []struct {
			bin, file string
			// not the default: the installed value.
			differ map[string]string
		}{
			{"drpc-server", "server.yaml", nil},
			{"drpc-agent", "agent.yaml", map[string]string{"key_file": "/etc/drpc/agent.key"}},
		} {
			bin := filepath.Join(dest, "usr", "bin", d.bin)
			file := filepath.Join(dest, "etc", "drpc", d.file)
			withFile, err := run(t, bin, "config", "dump", "--config", file)
			require.NoError(t, err, "%s config dump --config %s: %s", d.bin, file, withFile)
			defaults, err := run(t, bin, "config", "dump")
			require.NoError(t, err, "%s config dump: %s", d.bin, defaults)
			got, want := topLevel(withFile), topLevel(defaults)
			for k, v := range d.differ {
				want[k] = v
			}
			if os.Geteuid() != 0 {
				// The default runtime directory is root's only as root.
				delete(got, "socket_dir")
				delete(want, "socket_dir")
				delete(got, "runtime_dir")
				delete(want, "runtime_dir")
			}
			assert.Equal(t, want, got, "%s: %s", d.bin, d.file)

			data, err := os.ReadFile(file)
			require.NoError(t, err)
			for k := range topLevel(defaults) {
				assert.Regexp(t, "(?m)^"+k+":", string(data), "%s names every key", d.file)
			}
		}
	})

	t.Run("tmpfiles.d", func(t *testing.T) {
		conf := filepath.Join(dest, "usr", "lib", "tmpfiles.d", "drpc.conf")
		data, err := os.ReadFile(conf)
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^d\s+/run/daos_agent\s+0755\s+root\s+root\s+-$`, string(data))
		assert.Regexp(t, `(?m)^d\s+/run/daos_server\s+0755\s+root\s+root\s+-$`, string(data))
		if _, err := exec.LookPath("systemd-tmpfiles"); err != nil || os.Geteuid() != 0 {
			t.Skip("systemd-tmpfiles --root needs systemd-tmpfiles and root")
		}
		root := t.TempDir()
		out, err := exec.Command("systemd-tmpfiles", "--create", "--root="+root, conf).CombinedOutput()
		require.NoError(t, err, "systemd-tmpfiles: %s", out)
		for _, d := range []string{"daos_agent", "daos_server"} {
			st, err := os.Stat(filepath.Join(root, "run", d))
			require.NoError(t, err)
			assert.True(t, st.IsDir())
			assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), d)
		}
	})

	t.Run("a changed configuration is kept", func(t *testing.T) {
		file := filepath.Join(dest, "etc", "drpc", "server.yaml")
		changed := []byte("max_events: 7\n")
		require.NoError(t, os.WriteFile(file, changed, 0o644))
		out := makeInstall(t, "DESTDIR="+dest, "PREFIX=/usr", "BIN="+bin)
		assert.Contains(t, out, "kept "+file)
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, changed, data)
	})
}

func TestInstallPrefixUsrLocal(t *testing.T) {
	dest, bin := t.TempDir(), t.TempDir()
	makeInstall(t, "DESTDIR="+dest, "BIN="+bin) // PREFIX=/usr/local by default

	for _, p := range []string{"usr/local/bin/drpc-server", "usr/local/bin/drpc-agent", "usr/local/bin/drpc-engine", "usr/local/bin/drpc",
		"usr/local/lib/systemd/system/drpc-server.service", "usr/local/lib/tmpfiles.d/drpc.conf", "etc/drpc/server.yaml", "etc/drpc/agent.yaml"} {
		assert.FileExists(t, filepath.Join(dest, p))
	}
	units := filepath.Join(dest, "usr", "local", "lib", "systemd", "system")
	assert.Equal(t, []string{"ExecStart=/usr/local/bin/drpc-server start --config /etc/drpc/server.yaml --socket-dir /run/daos_server"},
		unitLines(t, filepath.Join(units, "drpc-server.service"), "ExecStart"))
	assert.Equal(t, []string{"ExecStart=/usr/local/bin/drpc-agent start --config /etc/drpc/agent.yaml"},
		unitLines(t, filepath.Join(units, "drpc-agent.service"), "ExecStart"))
}

func TestInstallRefusesRelativePaths(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-C", repoRoot, "--no-print-directory", "install", "VERSION="+testVersion,
		"DESTDIR="+t.TempDir(), "BIN="+t.TempDir(), "PREFIX=usr")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "usr is not an absolute path")
}

// topLevel returns the top-level keys of a `config dump` and their values
// (the text after "key:" on the key's line, with the lines under it).
func topLevel(dump string) map[string]string {
	out := make(map[string]string)
	key := ""
	for _, line := range strings.Split(dump, "\n") {
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '-' && strings.Contains(line, ":") {
			k, v, _ := strings.Cut(line, ":")
			key = k
			out[key] = strings.TrimSpace(v)
			continue
		}
		out[key] += "\n" + line
	}
	return out
}
