package release

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// ZipHash returns the go.sum hash ("h1:...") of a module zip, the one the
// go command checks a downloaded zip against.
func ZipHash(zipData []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return "", fmt.Errorf("read module zip: %w", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		files[f.Name] = f
		names = append(names, f.Name)
	}
	h, err := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) { return files[name].Open() })
	if err != nil {
		return "", fmt.Errorf("hash module zip: %w", err)
	}
	return h, nil
}

// GoModHash returns the go.sum hash of a go.mod file (the "/go.mod" line).
func GoModHash(goMod []byte) (string, error) {
	h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(goMod)), nil
	})
	if err != nil {
		return "", fmt.Errorf("hash go.mod: %w", err)
	}
	return h, nil
}

// RewriteGoSum returns the go.sum data with every line of a sibling module
// (a path under ProjectPrefix) dropped and the lines of sums added: sums
// maps a module version (Version "vX.Y.Z" for the zip, "vX.Y.Z/go.mod" for
// the go.mod file) to its hash. Lines are sorted as the go command sorts
// them.
func RewriteGoSum(data []byte, sums map[module.Version]string) ([]byte, error) {
	lines := make(map[module.Version]string)
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("go.sum line %d: want \"path version hash\", got %q", i+1, line)
		}
		if strings.HasPrefix(f[0], ProjectPrefix) {
			continue
		}
		lines[module.Version{Path: f[0], Version: f[1]}] = f[2]
	}
	for m, h := range sums {
		lines[m] = h
	}
	keys := make([]module.Version, 0, len(lines))
	for m := range lines {
		keys = append(keys, m)
	}
	module.Sort(keys)
	var b bytes.Buffer
	for _, m := range keys {
		fmt.Fprintf(&b, "%s %s %s\n", m.Path, m.Version, lines[m])
	}
	return b.Bytes(), nil
}
