package apicheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"

	"golang.org/x/exp/apidiff"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Result is the comparison of one module with its baseline.
type Result struct {
	// Folder is the module's folder.
	Folder string
	// Path is its module path now; BaselinePath the one in the baseline.
	Path, BaselinePath string
	// BaselineVersion is the release the baseline was made at.
	BaselineVersion string
	// Incompatible and Compatible are apidiff's messages.
	Incompatible, Compatible []string
	// OK says whether the check passes; Why says why, in a sentence.
	OK  bool
	Why string
}

// Compare compares the module's API now with its baseline and decides, by
// the policy of Decide, whether the change is allowed. breakingNoted says
// whether the module's CHANGELOG notes a breaking change (BreakingNoted).
func Compare(folder string, base Baseline, now *apidiff.Module, breakingNoted bool) Result {
	r := Result{Folder: folder, Path: now.Path, BaselinePath: base.Module.Path, BaselineVersion: base.Version}
	for _, c := range apidiff.ModuleChanges(base.Module, now).Changes {
		if c.Compatible {
			r.Compatible = append(r.Compatible, c.Message)
		} else {
			r.Incompatible = append(r.Incompatible, c.Message)
		}
	}
	r.OK, r.Why = Decide(r.BaselinePath, r.Path, base.Version, len(r.Incompatible), breakingNoted, folder+"/CHANGELOG.md")
	return r
}

// Decide applies the compatibility policy to a module whose API has
// incompatible changes since a baseline made at version (a release, or
// Unreleased):
//   - no incompatible change: pass;
//   - a new major version (the module path's /vN changed): pass, a new
//     major version owes nothing to the old one;
//   - v1 and above: fail, the change needs a new major version;
//   - v0 (or never released): pass if the CHANGELOG notes the break under
//     "## Unreleased" / "### Breaking", else fail.
func Decide(oldPath, newPath, version string, incompatible int, breakingNoted bool, changelog string) (bool, string) {
	switch {
	case incompatible == 0:
		return true, "compatible with " + describe(version)
	case majorOf(oldPath) != majorOf(newPath):
		return true, fmt.Sprintf("a new major version (%s, was %s): compatibility with %s is not required", newPath, oldPath, describe(version))
	case version != Unreleased && semver.Major(version) != "v0":
		return false, fmt.Sprintf("%d incompatible change(s) since %s: a module at %s may not break its API; undo the change, or make a new major version (module path ending in /v%d, see RELEASING.md)",
			incompatible, version, semver.Major(version), majorNumber(version)+1)
	case breakingNoted:
		return true, fmt.Sprintf("%d incompatible change(s) since %s, allowed before v1: %s notes them under \"## Unreleased\" / \"### Breaking\"", incompatible, describe(version), changelog)
	default:
		return false, fmt.Sprintf("%d incompatible change(s) since %s: undo the change, or, as the module is before v1, describe it and how to migrate in %s under \"## Unreleased\" in a \"### Breaking\" section (see RELEASING.md)",
			incompatible, describe(version), changelog)
	}
}

func describe(version string) string {
	if version == Unreleased {
		return "the baseline (no release yet)"
	}
	return "the release " + version
}

// majorOf returns the /vN suffix of a module path ("" for v0 and v1).
func majorOf(path string) string {
	_, major, _ := module.SplitPathVersion(path)
	return major
}

func majorNumber(version string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(semver.Major(version), "v"), "%d", &n)
	return n
}

// breakingHeading is a "### Breaking" heading (any text may follow).
var breakingHeading = regexp.MustCompile(`(?i)^###\s+breaking\b`)

// BreakingNoted reports whether a CHANGELOG.md has, in its "## Unreleased"
// section, a heading that starts with "### Breaking". A missing file is
// an error.
func BreakingNoted(changelog string) (bool, error) {
	data, err := os.ReadFile(changelog)
	if err != nil {
		return false, fmt.Errorf("read the changelog: %w", err)
	}
	return breakingInUnreleased(data), nil
}

func breakingInUnreleased(data []byte) bool {
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			in = strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(line, "## ")), "Unreleased")
			continue
		}
		if in && breakingHeading.MatchString(line) {
			return true
		}
	}
	return false
}
