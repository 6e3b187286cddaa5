// Command api-check compares the exported Go API of each of the
// repository's modules with its baseline under breaking/api/ (the API of
// the module's last release) using golang.org/x/exp/apidiff, and fails on
// an incompatible change that the module's version does not allow (see
// tools/internal/apicheck for the policy). It is `make api-check`;
// `make api-baseline` runs it with -update.
//
//	api-check [-C DIR] [MODULE...]
//	api-check [-C DIR] -update [-version VERSION] [MODULE...]
//
// With no MODULE, every module. -update writes the baselines from the
// modules as they are now instead of comparing; -version records the
// release they are made at (vX.Y.Z; without it, the version already
// recorded is kept, "unreleased" for a new baseline).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/cc532012/drpc/tools/internal/apicheck"
	"github.com/cc532012/drpc/tools/internal/release"
)

// baselineDir is where the baselines are, relative to the repository root.
const baselineDir = "breaking/api"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status: 0, 1 when a module
// breaks its API or the check cannot run, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("api-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("C", ".", "the repository's root directory")
	update := fs.Bool("update", false, "write the baselines from the modules as they are now")
	version := fs.String("version", "", "with -update: the release the baselines are made at (vX.Y.Z)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: api-check [-C DIR] [-update [-version vX.Y.Z]] [MODULE...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	folders := fs.Args()
	if len(folders) == 0 {
		folders = release.Modules
	}
	for _, f := range folders {
		if !slices.Contains(release.Modules, f) {
			fmt.Fprintf(stderr, "api-check: %q is not a module folder (one of %s)\n", f, strings.Join(release.Modules, ", "))
			return 2
		}
	}
	if *version != "" && (!*update || !semver.IsValid(*version) || semver.Canonical(*version) != *version) {
		fmt.Fprintln(stderr, "api-check: -version takes a release version vX.Y.Z, and goes with -update")
		return 2
	}
	if *update {
		if err := updateBaselines(*root, folders, *version, stdout); err != nil {
			fmt.Fprintln(stderr, "api-check:", err)
			return 1
		}
		return 0
	}
	return check(*root, folders, stdout, stderr)
}

// updateBaselines writes the baselines of folders.
func updateBaselines(root string, folders []string, version string, stdout io.Writer) error {
	dir := filepath.Join(root, baselineDir)
	for _, f := range folders {
		v := version
		if v == "" {
			v = apicheck.Unreleased
			if old, err := apicheck.ReadBaseline(dir, f); err == nil {
				v = old.Version
			}
		}
		m, err := apicheck.Load(filepath.Join(root, f))
		if err != nil {
			return err
		}
		if err := apicheck.WriteBaseline(dir, f, m, v); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: baseline written at %s (%d packages): %s/%s.{zip,txt}\n", f, v, len(m.Packages), baselineDir, f)
	}
	return nil
}

// check compares each module with its baseline and prints the result.
func check(root string, folders []string, stdout, stderr io.Writer) int {
	dir := filepath.Join(root, baselineDir)
	status := 0
	for _, f := range folders {
		base, err := apicheck.ReadBaseline(dir, f)
		if errors.Is(err, apicheck.ErrNoBaseline) {
			fmt.Fprintf(stderr, "%s: FAIL: %v: make it with 'make api-baseline MODULE=%s' and commit it\n", f, err, f)
			status = 1
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: FAIL: %v\n", f, err)
			status = 1
			continue
		}
		now, err := apicheck.Load(filepath.Join(root, f))
		if err != nil {
			fmt.Fprintf(stderr, "%s: FAIL: %v\n", f, err)
			status = 1
			continue
		}
		noted, err := apicheck.BreakingNoted(filepath.Join(root, f, "CHANGELOG.md"))
		if err != nil {
			fmt.Fprintf(stderr, "%s: FAIL: %v\n", f, err)
			status = 1
			continue
		}
		r := apicheck.Compare(f, base, now, noted)
		for _, m := range r.Incompatible {
			fmt.Fprintf(stdout, "%s: incompatible: %s\n", f, m)
		}
		for _, m := range r.Compatible {
			fmt.Fprintf(stdout, "%s: compatible: %s\n", f, m)
		}
		if r.OK {
			fmt.Fprintf(stdout, "%s: ok: %s\n", f, r.Why)
		} else {
			fmt.Fprintf(stderr, "%s: FAIL: %s\n", f, r.Why)
			status = 1
		}
	}
	return status
}
