package daemontest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Program is a command of one of the project's modules that tests run as a
// child process. It is built once per test binary, the first time a test
// asks for it (Path or Build), with GoBuild, into a directory that Main
// removes at the end. Declare programs as package variables:
//
//	var agent = &daemontest.Program{Name: "drpc-agent", Module: ".", Package: "."}
//
//	func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }
//
//	func TestVersion(t *testing.T) {
//		r := daemontest.Run(t, exec.Command(agent.Path(t), "version"))
//		...
//	}
type Program struct {
	// Name is the binary's file name; unique among the Programs of a test
	// binary.
	Name string
	// Module is the directory of the Go module to build in, relative to the
	// test's package directory (the directory `go test` runs it in), or
	// absolute.
	Module string
	// Package is the main package, relative to Module; empty means ".".
	Package string

	once sync.Once
	path string
	err  error
}

// programs is the directory the Programs of this test binary are built in,
// made by the first build.
var programs struct {
	mu  sync.Mutex
	dir string
}

func programDir() (string, error) {
	programs.mu.Lock()
	defer programs.mu.Unlock()
	if programs.dir != "" {
		return programs.dir, nil
	}
	dir, err := os.MkdirTemp("", "dtbin")
	if err != nil {
		return "", fmt.Errorf("make a directory for the test's programs: %w", err)
	}
	// Tests may run a program as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("open the directory of the test's programs to every user: %w", err)
	}
	programs.dir = dir
	return dir, nil
}

// Build builds p the first time it is called (also from several goroutines
// at once) and returns the binary's path, or the error of that one build,
// with the compiler's output.
func (p *Program) Build() (string, error) {
	p.once.Do(func() {
		if p.Name == "" || strings.ContainsRune(p.Name, filepath.Separator) {
			p.err = fmt.Errorf("daemontest.Program: Name %q must be a plain file name", p.Name)
			return
		}
		dir, err := programDir()
		if err != nil {
			p.err = err
			return
		}
		path := filepath.Join(dir, p.Name)
		if err := GoBuild(p.Module, p.Package, path); err != nil {
			p.err = err
			return
		}
		p.path = path
	})
	return p.path, p.err
}

// Path returns the path of the built binary, building it first if no test
// has yet; a build that fails fails t with the compiler's output.
func (p *Program) Path(t testing.TB) string {
	t.Helper()
	path, err := p.Build()
	require.NoError(t, err)
	return path
}

// Main runs the tests of m and then removes the Programs they built; call it
// from TestMain (os.Exit(daemontest.Main(m))). It returns m's exit code.
func Main(m *testing.M) int {
	code := m.Run()
	programs.mu.Lock()
	dir := programs.dir
	programs.dir = ""
	programs.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// GoBuild builds the main package pkg ("." if empty) of the Go module in the
// directory module into the file out, as users build each module on its
// own: `go build -o out pkg` run in module, with GOWORK=off and without the
// test's flags (-race). The error holds the command and its output.
func GoBuild(module, pkg, out string) error {
	if pkg == "" {
		pkg = "."
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("build %s: %w", out, err)
	}
	cmd := exec.Command("go", "build", "-o", abs, pkg)
	cmd.Dir = module
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: 'GOWORK=off go build -o %s %s' in %s: %w\n%s",
			filepath.Base(abs), abs, pkg, module, err, strings.TrimSpace(string(b)))
	}
	return nil
}
