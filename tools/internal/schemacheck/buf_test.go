package schemacheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the repository root, seen from this package's folder.
var repoRoot = filepath.Join("..", "..", "..")

// pluginEntry is how the root buf.yaml runs the dRPC check plugin: as a
// `go tool`, which works inside the go.work workspace only.
const pluginEntry = `plugin: ["go", "tool", "buf-plugin-drpc"]`

// copySchema copies the root buf.yaml and every .proto file under proto/ into
// a new temporary folder and returns it, so a test can change the copy. The
// copy runs the dRPC check plugin from the binary `go tool` builds, as the
// temporary folder is outside the workspace; everything else in buf.yaml is
// kept.
func copySchema(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "buf.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dst, "buf.yaml"), cfg, 0o644))
	edit(t, dst, "buf.yaml", pluginEntry, "plugin: "+strconv.Quote(toolBinary(t, "buf-plugin-drpc")))

	src := filepath.Join(repoRoot, "proto")
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	require.NoError(t, err)
	return dst
}

// runBuf runs `go tool buf args...` in dir and returns its combined output
// and whether it succeeded. buf comes from this module's tool directives.
func runBuf(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(toolBinary(t, "buf"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "buf did not run: %s", out)
	}
	return string(out), err == nil
}

// tools are the binaries that `go tool NAME` runs for this module, found
// (and, the first time with an empty Go cache, built: buf takes about two
// minutes) once per test binary, not once per buf run.
var tools sync.Map // name -> func() (string, error)

// toolBinary returns the path of the binary that `go tool name` runs for
// this module (built and cached by the go command), so that it can run in a
// temporary folder outside the module.
func toolBinary(t *testing.T, name string) string {
	t.Helper()
	find, _ := tools.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		out, err := exec.Command("go", "tool", "-n", name).Output()
		return strings.TrimSpace(string(out)), err
	}))
	path, err := find.(func() (string, error))()
	require.NoError(t, err, "cannot build %s with 'go tool -n %s'", name, name)
	return path
}

// edit replaces old with new in the copied file rel, failing the test if old
// is not there exactly once (so a schema change cannot silently void a case).
func edit(t *testing.T, dir, rel, old, new string) {
	t.Helper()
	path := filepath.Join(dir, rel)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(data), old), "%s must hold %q exactly once", rel, old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// TestBreakingCheckDetectsWireChanges builds an image of the current schema
// as the baseline, applies one change to a copy, and runs buf breaking with
// the repository's configuration against it.
func TestBreakingCheckDetectsWireChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf several times; skipped with -short")
	}
	const (
		envelope     = "proto/drpc/v1/drpc.proto"
		srv          = "proto/drpc/srv/v1/srv.proto"
		clusterEvent = `  // ClusterEvent forwards a RAS event to the server.
  rpc ClusterEvent(ClusterEventReq) returns (ClusterEventResp) {
    option (drpc.v1.method_id) = 304;
  }
`
	)
	tests := []struct {
		name     string
		file     string
		old, new string
		breaking bool
		rule     string // a rule ID the failure must name
	}{
		{"field renumbered", envelope, "int64 sequence = 3;", "int64 sequence = 5;", true, "FIELD_NO_DELETE"},
		{"field type changed", envelope, "int32 module = 1;", "int64 module = 1;", true, "FIELD_SAME_TYPE"},
		{"enum value deleted", envelope, "  STATUS_FAILED_MARSHAL = 7;\n", "", true, "ENUM_VALUE_NO_DELETE"},
		{"payload field renumbered", "proto/drpc/mgmt/v1/mgmt.proto", "uint32 map_version = 2;", "uint32 map_version = 4;", true, "FIELD_NO_DELETE"},
		{"method ID changed", "proto/drpc/mgmt/v1/mgmt.proto", "(drpc.v1.method_id) = 218;", "(drpc.v1.method_id) = 219;", true, "DRPC_METHOD_ID_NO_CHANGE"},
		{"module ID changed", "proto/drpc/test/v1/test.proto", "(drpc.v1.module_id) = 0;", "(drpc.v1.module_id) = 9;", true, "DRPC_MODULE_ID_NO_CHANGE"},
		{"rpc deleted without reserving its ID", srv, clusterEvent, "", true, "DRPC_RPC_NO_DELETE_UNLESS_RESERVED"},
		{"field added", envelope, "  bytes body = 4;\n", "  bytes body = 4;\n  // note is a new field.\n  string note = 5;\n", false, ""},
		{"unchanged", envelope, "", "", false, ""},
	}
	t.Parallel()
	base := copySchema(t)
	image := filepath.Join(t.TempDir(), "baseline.binpb")
	out, ok := runBuf(t, base, "build", "-o", image)
	require.True(t, ok, "building the baseline image failed: %s", out)

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copySchema(t)
			if tc.old != "" {
				edit(t, dir, tc.file, tc.old, tc.new)
			}
			out, ok := runBuf(t, dir, "breaking", "--against", image, "--error-format", "json")
			if !tc.breaking {
				require.True(t, ok, "buf breaking rejected a compatible change:\n%s", out)
				return
			}
			require.False(t, ok, "buf breaking accepted a breaking change")
			require.Contains(t, out, `"type":"`+tc.rule+`"`, "buf breaking failed for another reason:\n%s", out)
		})
	}
}

// TestLintCheckAppliesDRPCRules runs buf lint with the repository's
// configuration on changed copies of the schema: the dRPC rules of the
// check plugin are enabled and fire.
func TestLintCheckAppliesDRPCRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf several times; skipped with -short")
	}
	const mgmt = "proto/drpc/mgmt/v1/mgmt.proto"
	tests := []struct {
		name     string
		file     string
		old, new string
		rule     string // the rule that must fail, or "" if lint must pass
	}{
		{"unchanged", mgmt, "", "", ""},
		{"method ID outside the module's range", mgmt, "(drpc.v1.method_id) = 225;", "(drpc.v1.method_id) = 325;", "DRPC_METHOD_ID_RANGE"},
		{"method ID used twice", mgmt, "(drpc.v1.method_id) = 225;", "(drpc.v1.method_id) = 202;", "DRPC_METHOD_ID_UNIQUE"},
		{"rpc without method ID", mgmt, "    option (drpc.v1.method_id) = 225;\n", "", "DRPC_RPC_METHOD_ID"},
		{"service without module ID", mgmt, "  option (drpc.v1.module_id) = 2;\n", "", "DRPC_SERVICE_MODULE_ID"},
		{"module ID used twice", mgmt, "(drpc.v1.module_id) = 2;", "(drpc.v1.module_id) = 3;", "DRPC_MODULE_ID_UNIQUE"},
		{"reserved method ID in use", mgmt, "(drpc.v1.module_id) = 2;", "(drpc.v1.module_id) = 2;\n  option (drpc.v1.reserved_method_ids) = 225;", "DRPC_RESERVED_METHOD_IDS"},
	}
	t.Parallel()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copySchema(t)
			if tc.old != "" {
				edit(t, dir, tc.file, tc.old, tc.new)
			}
			out, ok := runBuf(t, dir, "lint", "--error-format", "json")
			if tc.rule == "" {
				require.True(t, ok, "buf lint rejected the schema:\n%s", out)
				return
			}
			require.False(t, ok, "buf lint accepted a schema that breaks %s", tc.rule)
			require.Contains(t, out, `"type":"`+tc.rule+`"`, "buf lint failed for another reason:\n%s", out)
		})
	}
}

// TestCommittedBaselineIsCompatible is `make breaking`: the schema in the
// tree must not break the committed baseline of the last proto release. It
// runs on a copy, so that it needs no workspace to start the plugin.
func TestCommittedBaselineIsCompatible(t *testing.T) {
	t.Parallel()
	baseline, err := filepath.Abs(filepath.Join(repoRoot, "breaking", "baseline.binpb"))
	require.NoError(t, err)
	out, ok := runBuf(t, copySchema(t), "breaking", "--against", baseline)
	require.True(t, ok, "the schema breaks the committed baseline:\n%s", out)
}
