package release

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Batch is a set of the repository's modules released together, at one
// commit, each at its own version.
type Batch struct {
	// Root is the repository's root directory.
	Root string
	// Versions maps the folder of each module of the batch ("drpc") to the
	// version it is released at ("v0.3.0").
	Versions map[string]string
	// Released maps the folder of each sibling that a module of the batch
	// requires but that is not in the batch to the version it was released
	// at before (its tag <folder>/<version> exists).
	Released map[string]string
	// Files lists the files of a module of the batch (WorkTree or
	// GitTracked); the go.mod and go.sum among them are replaced by the
	// released ones.
	Files func(folder string) ([]modzip.File, error)
	// ReleasedZip returns the module zip of a sibling released before
	// (FromTag). It is needed only when Released is not empty.
	ReleasedZip func(folder, version string) ([]byte, error)
}

// Module is one module as a release publishes it.
type Module struct {
	// Folder is the module's folder in the repository ("server").
	Folder string
	// Path is its module path.
	Path string
	// Version is the version it is released at.
	Version string
	// GoMod and GoSum are its go.mod and go.sum as released: sibling
	// modules required at their released versions, no replace of a
	// sibling, and the sums of the sibling versions.
	GoMod, GoSum []byte
	// Zip is its module zip, as a module proxy serves it.
	Zip []byte
}

// Build returns the modules of the batch as released, in dependency order.
// Each module's go.mod requires its siblings at their versions in Versions
// or Released (RewriteGoMod), and its go.sum holds the hashes of those
// versions, computed from the zips Build makes (a sibling of the batch) or
// from ReleasedZip (a sibling released before), so the module builds with
// -mod=readonly at its tag.
func (b Batch) Build() ([]Module, error) {
	if len(b.Versions) == 0 {
		return nil, errors.New("release: no module to release: name at least one, e.g. proto=v0.1.0")
	}
	paths := make(map[string]string) // module path -> version
	for folder, v := range b.Versions {
		if !slices.Contains(Modules, folder) {
			return nil, fmt.Errorf("release: %q is not a module of this repository (%v)", folder, Modules)
		}
		if err := CheckVersion(v); err != nil {
			return nil, fmt.Errorf("release: %s: %w", folder, err)
		}
		paths[ModulePath(folder)] = v
	}
	for folder, v := range b.Released {
		if _, ok := b.Versions[folder]; ok {
			return nil, fmt.Errorf("release: %s is both released in this batch and released before", folder)
		}
		paths[ModulePath(folder)] = v
	}
	made := make(map[string]Module) // by module path
	var out []Module
	for _, folder := range Modules {
		version, ok := b.Versions[folder]
		if !ok {
			continue
		}
		m, err := b.build(folder, version, paths, made)
		if err != nil {
			return nil, err
		}
		made[m.Path] = m
		out = append(out, m)
	}
	return out, nil
}

// build makes one module of the batch; made holds the siblings built so far.
func (b Batch) build(folder, version string, paths map[string]string, made map[string]Module) (Module, error) {
	dir := filepath.Join(b.Root, folder)
	m := Module{Folder: folder, Path: ModulePath(folder), Version: version}
	oldMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	if m.GoMod, err = RewriteGoMod(folder+"/go.mod", oldMod, paths); err != nil {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	oldSum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	sums := make(map[module.Version]string)
	f, err := modfile.ParseLax(folder+"/go.mod", m.GoMod, nil)
	if err != nil {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	for _, r := range f.Require {
		if !isSibling(r.Mod.Path, m.Path) {
			continue
		}
		sib, err := b.sibling(r.Mod, made)
		if err != nil {
			return m, fmt.Errorf("release %s: %w", folder, err)
		}
		if sums[r.Mod], err = ZipHash(sib.Zip); err != nil {
			return m, fmt.Errorf("release %s: %s: %w", folder, r.Mod, err)
		}
		modVersion := module.Version{Path: r.Mod.Path, Version: r.Mod.Version + "/go.mod"}
		if sums[modVersion], err = GoModHash(sib.GoMod); err != nil {
			return m, fmt.Errorf("release %s: %s: %w", folder, r.Mod, err)
		}
	}
	if m.GoSum, err = RewriteGoSum(oldSum, sums); err != nil {
		return m, fmt.Errorf("release %s: %s/go.sum: %w", folder, folder, err)
	}
	files, err := b.Files(folder)
	if err != nil {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	replaced := map[string][]byte{"go.mod": m.GoMod}
	if len(oldSum) > 0 || len(sums) > 0 {
		replaced["go.sum"] = m.GoSum
	}
	if m.Zip, err = CreateZip(m.Path, version, override(files, replaced)); err != nil {
		return m, fmt.Errorf("release %s: %w", folder, err)
	}
	return m, nil
}

// sibling returns the zip and go.mod of a sibling version: one built in
// this batch, or one released before.
func (b Batch) sibling(v module.Version, made map[string]Module) (Module, error) {
	if m, ok := made[v.Path]; ok {
		if m.Version != v.Version {
			return m, fmt.Errorf("requires %s, but the batch releases %s", v, m.Version)
		}
		return m, nil
	}
	folder := v.Path[len(ProjectPrefix):]
	if b.Released[folder] != v.Version || b.ReleasedZip == nil {
		return Module{}, fmt.Errorf("requires %s: release it in this batch, or give the version it was released at", v)
	}
	data, err := b.ReleasedZip(folder, v.Version)
	if err != nil {
		return Module{}, fmt.Errorf("%s: %w", v, err)
	}
	goMod, err := zipFile(data, v.Path+"@"+v.Version+"/go.mod")
	if err != nil {
		return Module{}, fmt.Errorf("%s: %w", v, err)
	}
	return Module{Folder: folder, Path: v.Path, Version: v.Version, GoMod: goMod, Zip: data}, nil
}

// CreateZip makes the module zip of path@version from files, with
// golang.org/x/mod/zip: what a module proxy serves for that version.
func CreateZip(path, version string, files []modzip.File) ([]byte, error) {
	var buf bytes.Buffer
	if err := modzip.Create(&buf, module.Version{Path: path, Version: version}, files); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipFile returns the contents of the file name in a zip.
func zipFile(data []byte, name string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read module zip: %w", err)
	}
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("module zip: %w", err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// override replaces the files named in data (or adds them).
func override(files []modzip.File, data map[string][]byte) []modzip.File {
	out := make([]modzip.File, 0, len(files)+len(data))
	for _, f := range files {
		if _, ok := data[f.Path()]; !ok {
			out = append(out, f)
		}
	}
	for name, d := range data {
		out = append(out, dataFile{name: name, data: d})
	}
	return out
}
