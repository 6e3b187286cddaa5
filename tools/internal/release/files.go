package release

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// WorkTree returns a Batch.Files that lists the files on disk in a
// module's folder under root (VCS directories and irregular files left
// out; golang.org/x/mod/zip leaves out nested modules). It is what a test
// uses: the zip holds the working tree as it is, uncommitted changes
// included.
func WorkTree(root string) func(folder string) ([]modzip.File, error) {
	return func(folder string) ([]modzip.File, error) {
		dir := filepath.Join(root, folder)
		var files []modzip.File
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				switch d.Name() {
				case ".git", ".hg", ".svn", ".bzr":
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, diskFile{name: filepath.ToSlash(rel), path: p})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list the files of %s: %w", dir, err)
		}
		if _, err := os.Stat(filepath.Join(root, "LICENSE")); err == nil {
			files = withRootLicense(files, root)
		}
		return files, nil
	}
}

// withRootLicense adds the repository's LICENSE to the files of a module
// that has none of its own, as the go command and the module proxy do for
// a module in a sub-folder.
func withRootLicense(files []modzip.File, root string) []modzip.File {
	for _, f := range files {
		if f.Path() == "LICENSE" {
			return files
		}
	}
	return append(files, diskFile{name: "LICENSE", path: filepath.Join(root, "LICENSE")})
}

// GitTracked returns a Batch.Files that lists the files git tracks in a
// module's folder under root, read from disk, and the repository's LICENSE
// if the module has none. On a clean work tree this is what the module
// proxy serves for a tag on the commit (golang.org/x/mod/zip's
// CreateFromVCS: `git archive` of the folder, plus the root LICENSE).
func GitTracked(root string) func(folder string) ([]modzip.File, error) {
	return func(folder string) ([]modzip.File, error) {
		cmd := exec.Command("git", "ls-files", "-z", "--", folder)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git ls-files %s: %w: %s", folder, err, strings.TrimSpace(stderr.String()))
		}
		var files []modzip.File
		for _, name := range strings.Split(string(out), "\x00") {
			if name == "" {
				continue
			}
			rel, ok := strings.CutPrefix(name, folder+"/")
			if !ok {
				continue
			}
			files = append(files, diskFile{name: rel, path: filepath.Join(root, filepath.FromSlash(name))})
		}
		lic := exec.Command("git", "ls-files", "--", "LICENSE")
		lic.Dir = root
		if out, err := lic.Output(); err == nil && strings.TrimSpace(string(out)) == "LICENSE" {
			files = withRootLicense(files, root)
		}
		return files, nil
	}
}

// FromTag returns a Batch.ReleasedZip that makes the module zip of a
// released version from its tag <folder>/<version> in the git repository
// at root, as the module proxy does.
func FromTag(root string) func(folder, version string) ([]byte, error) {
	return func(folder, version string) ([]byte, error) {
		var buf bytes.Buffer
		m := module.Version{Path: ModulePath(folder), Version: version}
		if err := modzip.CreateFromVCS(&buf, m, root, folder+"/"+version, folder); err != nil {
			return nil, fmt.Errorf("zip of tag %s/%s: %w", folder, version, err)
		}
		return buf.Bytes(), nil
	}
}

// diskFile is a file of the working tree.
type diskFile struct{ name, path string }

func (f diskFile) Path() string                 { return f.name }
func (f diskFile) Lstat() (fs.FileInfo, error)  { return os.Lstat(f.path) }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// dataFile is a file whose contents are in memory.
type dataFile struct {
	name string
	data []byte
}

func (f dataFile) Path() string                 { return f.name }
func (f dataFile) Lstat() (fs.FileInfo, error)  { return dataInfo{f}, nil }
func (f dataFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type dataInfo struct{ f dataFile }

func (i dataInfo) Name() string       { return filepath.Base(i.f.name) }
func (i dataInfo) Size() int64        { return int64(len(i.f.data)) }
func (i dataInfo) Mode() fs.FileMode  { return 0o644 }
func (i dataInfo) ModTime() time.Time { return time.Time{} }
func (i dataInfo) IsDir() bool        { return false }
func (i dataInfo) Sys() any           { return nil }
