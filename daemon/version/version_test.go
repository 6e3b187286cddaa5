package version_test

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cc532012/drpc/daemon/version"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/cc532012/drpc/agent", Version: "v1.2.0"},
		Deps: []*debug.Module{
			{Path: "github.com/cc532012/drpc/drpc", Version: "v0.0.0-00010101000000-000000000000", Replace: &debug.Module{Path: "../drpc"}},
			{Path: "github.com/cc532012/drpc/proto", Version: "v1.0.0"},
			{Path: "github.com/spf13/cobra", Version: "v1.10.2"},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}},
	}
	info := version.FromBuildInfo(bi)
	assert.Equal(t, version.Module{Path: "github.com/cc532012/drpc/agent", Version: "v1.2.0"}, info.Main)
	assert.Equal(t, "0123456789abcdef0123", info.Revision)
	assert.True(t, info.Modified)
	assert.Equal(t, "2026-01-02T03:04:05Z", info.Time)
	assert.Equal(t, []version.Module{
		{Path: "github.com/cc532012/drpc/drpc", Version: "(devel)"},
		{Path: "github.com/cc532012/drpc/proto", Version: "v1.0.0"},
	}, info.Modules)
	assert.Equal(t, "drpc-agent v1.2.0 (github.com/cc532012/drpc/agent, go1.26.8, revision 0123456789ab with local changes)\n"+
		"  github.com/cc532012/drpc/drpc (devel)\n"+
		"  github.com/cc532012/drpc/proto v1.0.0\n", info.String("drpc-agent"))
}

func TestDevelAndRead(t *testing.T) {
	info := version.FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "x"}})
	assert.Equal(t, "(devel)", info.Main.Version)
	assert.Equal(t, "p (devel) (x, go1.26.8)\n", info.String("p"))

	got := version.Read()
	assert.True(t, strings.HasPrefix(got.GoVersion, "go"), got.GoVersion)
}
