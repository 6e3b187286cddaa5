package release

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// FileProxy writes a module proxy into a directory, in the layout of the
// GOPROXY protocol, so that GOPROXY=file://DIR serves it:
// DIR/<escaped module path>/@v/{list, VERSION.info, VERSION.mod, VERSION.zip}.
type FileProxy struct {
	// Dir is the proxy's root directory.
	Dir string
}

// URL returns the GOPROXY entry that serves the proxy.
func (p FileProxy) URL() string { return "file://" + filepath.ToSlash(p.Dir) }

// Add publishes path@version: its zip, its go.mod (which must be the
// go.mod inside the zip), an .info file with the time t, and the version
// in the module's list.
func (p FileProxy) Add(path, version string, zipData, goMod []byte, t time.Time) error {
	escPath, err := module.EscapePath(path)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	escVersion, err := module.EscapeVersion(version)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	dir := filepath.Join(p.Dir, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, t.UTC()})
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{escVersion + ".zip", zipData},
		{escVersion + ".mod", goMod},
		{escVersion + ".info", info},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	return p.addToList(filepath.Join(dir, "list"), version)
}

// addToList adds version to the list file, once.
func (p FileProxy) addToList(list, version string) error {
	data, err := os.ReadFile(list)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("proxy: %w", err)
	}
	versions := strings.Fields(string(data))
	if slices.Contains(versions, version) {
		return nil
	}
	versions = append(versions, version)
	if err := os.WriteFile(list, []byte(strings.Join(versions, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}
