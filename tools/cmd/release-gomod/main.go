// Command release-gomod prepares the release commit of a batch of this
// repository's modules: for each module named FOLDER=VERSION it rewrites
// FOLDER/go.mod to require the released versions of its sibling modules and
// drops the `replace ../sibling` lines of development, and it writes
// FOLDER/go.sum with the hashes of those sibling versions, so that
// `go install github.com/cc532012/drpc/FOLDER/cmd/X@VERSION` works once the
// tags are pushed, and the module builds at its tag with -mod=readonly.
//
//	release-gomod [-C DIR] [-n] FOLDER=VERSION...
//
// A sibling that a named module requires but that is not named is required
// at its newest release tag (FOLDER/vX.Y.Z); without one, the command stops
// and asks for it to be released in the batch. The work tree must be clean
// and the tags must not exist yet. -n prints the go.mod files it would
// write and changes nothing (on any work tree). RELEASING.md says where the result is
// committed and tagged (a release commit that main never merges).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/cc532012/drpc/tools/internal/release"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status: 0, 1 on a failure,
// 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release-gomod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("C", ".", "the repository's root directory")
	dryRun := fs.Bool("n", false, "print the go.mod files that would be written; change nothing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: release-gomod [-C DIR] [-n] FOLDER=VERSION...   e.g. proto=v0.1.0 drpc=v0.1.0")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	versions, err := parseVersions(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "release-gomod:", err)
		return 2
	}
	if err := prepare(*root, versions, *dryRun, stdout); err != nil {
		fmt.Fprintln(stderr, "release-gomod:", err)
		return 1
	}
	return 0
}

// parseVersions reads FOLDER=VERSION arguments.
func parseVersions(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, errors.New("name the modules to release, e.g. release-gomod proto=v0.1.0 drpc=v0.1.0")
	}
	versions := make(map[string]string)
	for _, a := range args {
		folder, version, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want FOLDER=VERSION, e.g. drpc=v0.3.0", a)
		}
		if !slices.Contains(release.Modules, folder) {
			return nil, fmt.Errorf("%q: %s is not a module folder (one of %s)", a, folder, strings.Join(release.Modules, ", "))
		}
		if err := release.CheckVersion(version); err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		if _, dup := versions[folder]; dup {
			return nil, fmt.Errorf("%s is named twice", folder)
		}
		versions[folder] = version
	}
	return versions, nil
}

// prepare rewrites the go.mod and go.sum files of the batch.
func prepare(root string, versions map[string]string, dryRun bool, stdout io.Writer) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if out, err := git(root, "status", "--porcelain"); err != nil {
		return err
	} else if out != "" && !dryRun {
		return fmt.Errorf("the work tree in %s has uncommitted changes: commit or stash them first (the release's zips are made from the tracked files)", root)
	}
	var tags []string
	for _, folder := range release.Modules {
		if v, ok := versions[folder]; ok {
			tag := folder + "/" + v
			if out, err := git(root, "tag", "-l", tag); err != nil {
				return err
			} else if out != "" {
				return fmt.Errorf("tag %s exists already: a released version is never released again; pick the next version", tag)
			}
			tags = append(tags, tag)
		}
	}
	released, err := releasedSiblings(root, versions)
	if err != nil {
		return err
	}
	b := release.Batch{Root: root, Versions: versions, Released: released, Files: release.GitTracked(root), ReleasedZip: release.FromTag(root)}
	mods, err := b.Build()
	if err != nil {
		return err
	}
	for _, m := range mods {
		if dryRun {
			fmt.Fprintf(stdout, "== %s/go.mod at %s\n%s", m.Folder, m.Version, m.GoMod)
			continue
		}
		dir := filepath.Join(root, m.Folder)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), m.GoMod, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), m.GoSum, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: go.mod and go.sum rewritten for %s\n", m.Folder, m.Version)
	}
	if dryRun {
		return nil
	}
	for folder, v := range released {
		fmt.Fprintf(stdout, "%s: required at its release %s\n", folder, v)
	}
	var files []string
	for _, m := range mods {
		files = append(files, m.Folder+"/go.mod", m.Folder+"/go.sum")
	}
	fmt.Fprintf(stdout, "next, on this detached release commit (RELEASING.md):\n")
	fmt.Fprintf(stdout, "  git add %s\n", strings.Join(files, " "))
	fmt.Fprintf(stdout, "  git commit -m 'release: %s'\n", strings.Join(tags, ", "))
	for _, t := range tags {
		fmt.Fprintf(stdout, "  git tag %s\n", t)
	}
	fmt.Fprintf(stdout, "  git push origin %s\n", strings.Join(tags, " "))
	return nil
}

// releasedSiblings returns, for every sibling that a module of the batch
// requires and that is not in the batch, its newest release tag's version.
func releasedSiblings(root string, versions map[string]string) (map[string]string, error) {
	released := make(map[string]string)
	var missing []string
	for folder := range versions {
		data, err := os.ReadFile(filepath.Join(root, folder, "go.mod"))
		if err != nil {
			return nil, err
		}
		f, err := modfile.ParseLax(folder+"/go.mod", data, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range f.Require {
			sib, ok := strings.CutPrefix(r.Mod.Path, release.ProjectPrefix)
			if !ok || sib == folder {
				continue
			}
			if _, inBatch := versions[sib]; inBatch {
				continue
			}
			if _, done := released[sib]; done {
				continue
			}
			v, err := newestTag(root, sib)
			if err != nil {
				return nil, err
			}
			if v == "" {
				missing = append(missing, fmt.Sprintf("%s (required by %s)", sib, folder))
				continue
			}
			released[sib] = v
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("never released: %s: release them in this batch too (add FOLDER=VERSION)", strings.Join(missing, ", "))
	}
	return released, nil
}

// newestTag returns the highest version of the tags folder/vX.Y.Z, or "".
func newestTag(root, folder string) (string, error) {
	out, err := git(root, "tag", "-l", folder+"/v*")
	if err != nil {
		return "", err
	}
	best := ""
	for _, tag := range strings.Fields(out) {
		v := strings.TrimPrefix(tag, folder+"/")
		if semver.IsValid(v) && semver.Prerelease(v) == "" && (best == "" || semver.Compare(v, best) > 0) {
			best = v
		}
	}
	return best, nil
}

// git runs a git command in root and returns its output, trimmed.
func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
