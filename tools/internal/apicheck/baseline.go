package apicheck

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/exp/apidiff"
	"golang.org/x/mod/semver"
	"golang.org/x/tools/go/gcexportdata"
)

// Unreleased is the version of a baseline made before the module's first
// release.
const Unreleased = "unreleased"

// ErrNoBaseline: the module has no baseline under the baseline directory.
var ErrNoBaseline = errors.New("no API baseline")

// Baseline is a module's API as recorded at a release.
type Baseline struct {
	// Module is the API.
	Module *apidiff.Module
	// Version is the release it was recorded at, or Unreleased.
	Version string
}

// headerPrefix starts the first line of FOLDER.txt.
const headerPrefix = "# API baseline of "

// zipName and textName are the baseline files of a module folder.
func zipName(dir, folder string) string  { return filepath.Join(dir, folder+".zip") }
func textName(dir, folder string) string { return filepath.Join(dir, folder+".txt") }

// WriteBaseline writes the baseline of the module folder into dir:
// FOLDER.zip (export data, apidiff's module format) and FOLDER.txt (the API
// as text, headed by the module path and version). version is a release
// version (vX.Y.Z) or Unreleased.
func WriteBaseline(dir, folder string, m *apidiff.Module, version string) error {
	if version != Unreleased && !semver.IsValid(version) {
		return fmt.Errorf("baseline of %s: version %q: want vX.Y.Z or %q", folder, version, Unreleased)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, err := zw.Create("module")
	if err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	if _, err := io.WriteString(w, m.Path); err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	fset := token.NewFileSet()
	for _, p := range m.Packages {
		w, err := zw.Create(p.Path() + ".x")
		if err != nil {
			return fmt.Errorf("baseline of %s: %w", folder, err)
		}
		if err := gcexportdata.Write(w, fset, p); err != nil {
			return fmt.Errorf("baseline of %s: export data of %s: %w", folder, p.Path(), err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	text := fmt.Sprintf("%s%s at %s\n# Made by `make api-baseline`; `make api-check` compares with %s (see RELEASING.md).\n%s",
		headerPrefix, m.Path, version, filepath.Base(zipName(dir, folder)), Text(m))
	if err := os.WriteFile(zipName(dir, folder), zbuf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	if err := os.WriteFile(textName(dir, folder), []byte(text), 0o644); err != nil {
		return fmt.Errorf("baseline of %s: %w", folder, err)
	}
	return nil
}

// ReadBaseline reads the baseline of the module folder from dir. A missing
// baseline is an error wrapping ErrNoBaseline.
func ReadBaseline(dir, folder string) (Baseline, error) {
	version, err := readVersion(textName(dir, folder))
	if err != nil {
		return Baseline{}, err
	}
	z, err := zip.OpenReader(zipName(dir, folder))
	if errors.Is(err, os.ErrNotExist) {
		return Baseline{}, fmt.Errorf("%w: %s is missing", ErrNoBaseline, zipName(dir, folder))
	}
	if err != nil {
		return Baseline{}, fmt.Errorf("API baseline %s: %w", zipName(dir, folder), err)
	}
	defer z.Close()
	m := &apidiff.Module{}
	fset := token.NewFileSet()
	for _, f := range z.File {
		data, err := readEntry(f)
		if err != nil {
			return Baseline{}, fmt.Errorf("API baseline %s: %w", zipName(dir, folder), err)
		}
		if f.Name == "module" {
			m.Path = string(data)
			continue
		}
		pkgPath, ok := strings.CutSuffix(f.Name, ".x")
		if !ok {
			return Baseline{}, fmt.Errorf("API baseline %s: unexpected entry %q", zipName(dir, folder), f.Name)
		}
		p, err := gcexportdata.Read(bytes.NewReader(data), fset, make(map[string]*types.Package), pkgPath)
		if err != nil {
			return Baseline{}, fmt.Errorf("API baseline %s: %s: %w (remake it with make api-baseline)", zipName(dir, folder), pkgPath, err)
		}
		m.Packages = append(m.Packages, p)
	}
	if m.Path == "" {
		return Baseline{}, fmt.Errorf("API baseline %s: no module path", zipName(dir, folder))
	}
	return Baseline{Module: m, Version: version}, nil
}

// readVersion reads the version in the header of FOLDER.txt.
func readVersion(name string) (string, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s is missing", ErrNoBaseline, name)
	}
	if err != nil {
		return "", fmt.Errorf("API baseline: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("API baseline %s: %w", name, err)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), headerPrefix)
	_, version, found := strings.Cut(rest, " at ")
	if !ok || !found || (version != Unreleased && !semver.IsValid(version)) {
		return "", fmt.Errorf("API baseline %s: the first line must be %q: remake it with make api-baseline", name, headerPrefix+"MODULE at VERSION")
	}
	return version, nil
}

func readEntry(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
