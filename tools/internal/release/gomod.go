package release

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// ProjectPrefix is the module path prefix shared by the repository's
// modules: github.com/cc532012/drpc/<folder>.
const ProjectPrefix = "github.com/cc532012/drpc/"

// Modules are the repository's module folders, in dependency order (a
// module comes after every module it may require).
var Modules = []string{"proto", "drpc", "api", "daemon", "server", "agent", "tools"}

// ErrNoVersion: a module requires a sibling whose release version was not
// given.
var ErrNoVersion = errors.New("no release version for a sibling module")

// ModulePath returns the module path of the repository's folder name:
// "drpc" gives github.com/cc532012/drpc/drpc.
func ModulePath(folder string) string { return ProjectPrefix + folder }

// CheckVersion refuses a version that cannot be a release tag's version:
// it must be canonical semver (vX.Y.Z, optionally -pre) with no build
// suffix, and a major version of 0 or 1 (from v2 on the module path ends in
// /vN, which this repository does not use yet).
func CheckVersion(v string) error {
	if !semver.IsValid(v) || semver.Canonical(v) != v {
		return fmt.Errorf("version %q is not a semantic version vX.Y.Z: write it as v0.3.0", v)
	}
	if m := semver.Major(v); m != "v0" && m != "v1" {
		return fmt.Errorf("version %s: a major version above v1 needs the module path to end in /%s first (see RELEASING.md)", v, m)
	}
	return nil
}

// RewriteGoMod returns the go.mod data (of the file named file, for
// messages) as a release needs it: every `replace` of a sibling module
// (a path under ProjectPrefix) is dropped, and every requirement of a
// sibling is set to its version in versions (keyed by module path). A
// sibling that is required but has no version in versions is an error
// wrapping ErrNoVersion. Other requirements and replacements are kept
// as they are.
func RewriteGoMod(file string, data []byte, versions map[string]string) ([]byte, error) {
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	self := ""
	if f.Module != nil {
		self = f.Module.Mod.Path
	}
	for _, r := range f.Replace {
		if isSibling(r.Old.Path, self) {
			if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				return nil, fmt.Errorf("%s: drop replace %s: %w", file, r.Old.Path, err)
			}
		}
	}
	var missing, siblings []string
	for _, r := range f.Require {
		if isSibling(r.Mod.Path, self) {
			siblings = append(siblings, r.Mod.Path)
		}
	}
	for _, path := range siblings {
		v, ok := versions[path]
		if !ok {
			missing = append(missing, path)
			continue
		}
		if err := CheckVersion(v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, path, err)
		}
		if err := module.Check(path, v); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		// AddRequire rewrites the existing line in place and keeps its
		// comment (// indirect).
		if err := f.AddRequire(path, v); err != nil {
			return nil, fmt.Errorf("%s: require %s %s: %w", file, path, v, err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%s requires %s: %w: give each one's released version", file, strings.Join(missing, ", "), ErrNoVersion)
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", file, err)
	}
	return out, nil
}

// isSibling reports whether path is another module of this repository.
func isSibling(path, self string) bool {
	return strings.HasPrefix(path, ProjectPrefix) && path != self
}
