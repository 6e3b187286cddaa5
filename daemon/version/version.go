package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// ProjectPrefix is the module path prefix of this project's modules; Info
// lists the ones a binary contains as Modules.
const ProjectPrefix = "github.com/cc532012/drpc/"

// Module is a module and its version.
type Module struct {
	Path    string
	Version string
}

// Info describes a binary's build.
type Info struct {
	// Main is the main module: its path, and its version ("(devel)" for a
	// build from a work tree).
	Main Module
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
	// Revision, Time and Modified describe the VCS checkout, if the build
	// recorded it (-buildvcs).
	Revision string
	Time     string
	Modified bool
	// Modules are the project's other modules (ProjectPrefix) in the
	// binary. A module replaced by a local folder has version "(devel)".
	Modules []Module
}

// Read returns the build information of the running binary. Without build
// information (a binary built without module support) the versions are
// "unknown".
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return withStamp(Info{Main: Module{Version: "unknown"}, GoVersion: "unknown"}, stamped)
	}
	return withStamp(FromBuildInfo(bi), stamped)
}

// stamped is the version a build stamps in with -ldflags -X (see the
// package documentation); empty when the build did not.
var stamped string

// withStamp returns info with the main module's version replaced by the
// stamped version, if there is one.
func withStamp(info Info, stamp string) Info {
	if stamp != "" {
		info.Main.Version = stamp
	}
	return info
}

// FromBuildInfo extracts an Info from bi.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Main: Module{Path: bi.Main.Path, Version: orDevel(bi.Main.Version)}, GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if !strings.HasPrefix(d.Path, ProjectPrefix) {
			continue
		}
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
			if d.Replace.Version == "" { // a local folder
				v = "(devel)"
			}
		}
		info.Modules = append(info.Modules, Module{Path: d.Path, Version: orDevel(v)})
	}
	return info
}

func orDevel(v string) string {
	if v == "" {
		return "(devel)"
	}
	return v
}

// String formats the information for a `version` command, program being the
// binary's name:
//
//	drpc-agent v1.2.0 (github.com/cc532012/drpc/agent, go1.26.8, revision 0123abcd)
//	  github.com/cc532012/drpc/drpc v1.4.0
func (i Info) String(program string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s, %s", program, i.Main.Version, i.Main.Path, i.GoVersion)
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		fmt.Fprintf(&b, ", revision %s", rev)
		if i.Modified {
			b.WriteString(" with local changes")
		}
	}
	b.WriteString(")\n")
	for _, m := range i.Modules {
		fmt.Fprintf(&b, "  %s %s\n", m.Path, m.Version)
	}
	return b.String()
}
