package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
)

const devGoMod = `module github.com/cc532012/drpc/api

go 1.26.7

replace (
	github.com/cc532012/drpc/drpc => ../drpc
	github.com/cc532012/drpc/proto => ../proto
	example.com/other => ../other
)

require (
	github.com/cc532012/drpc/drpc v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000 // indirect
	example.com/other v1.0.0 // indirect
)
`

func TestRewriteGoMod(t *testing.T) {
	out, err := RewriteGoMod("api/go.mod", []byte(devGoMod), map[string]string{
		ModulePath("drpc"):  "v0.3.0",
		ModulePath("proto"): "v0.2.1",
		ModulePath("api"):   "v9.9.9", // itself: ignored
	})
	require.NoError(t, err)
	assert.Equal(t, `module github.com/cc532012/drpc/api

go 1.26.7

replace example.com/other => ../other

require (
	github.com/cc532012/drpc/drpc v0.3.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cc532012/drpc/proto v0.2.1 // indirect
	example.com/other v1.0.0 // indirect
)
`, string(out), "sibling replaces dropped, other replaces and comments kept")
}

func TestRewriteGoModRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions map[string]string
		want     string
	}{
		{"a sibling without a version", map[string]string{ModulePath("drpc"): "v0.3.0"}, "requires github.com/cc532012/drpc/proto"},
		{"not semver", map[string]string{ModulePath("drpc"): "0.3.0", ModulePath("proto"): "v0.1.0"}, "not a semantic version"},
		{"not canonical", map[string]string{ModulePath("drpc"): "v0.3", ModulePath("proto"): "v0.1.0"}, "not a semantic version"},
		{"v2 without /v2", map[string]string{ModulePath("drpc"): "v2.0.0", ModulePath("proto"): "v0.1.0"}, "/v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RewriteGoMod("api/go.mod", []byte(devGoMod), tc.versions)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := RewriteGoMod("api/go.mod", []byte(devGoMod), map[string]string{ModulePath("drpc"): "v0.3.0"})
	require.ErrorIs(t, err, ErrNoVersion)
	_, err = RewriteGoMod("api/go.mod", []byte("module x\nrequire (\n"), nil)
	require.Error(t, err, "a go.mod that does not parse")
}

func TestRewriteGoSum(t *testing.T) {
	old := "github.com/cc532012/drpc/proto v0.1.0 h1:old=\n" +
		"github.com/stretchr/testify v1.12.1 h1:t=\n" +
		"github.com/stretchr/testify v1.12.1/go.mod h1:tm=\n" +
		"github.com/davecgh/go-spew v1.1.1/go.mod h1:s=\n"
	out, err := RewriteGoSum([]byte(old), map[module.Version]string{
		{Path: ModulePath("proto"), Version: "v0.2.0/go.mod"}: "h1:pm=",
		{Path: ModulePath("proto"), Version: "v0.2.0"}:        "h1:p=",
	})
	require.NoError(t, err)
	assert.Equal(t, "github.com/cc532012/drpc/proto v0.2.0 h1:p=\n"+
		"github.com/cc532012/drpc/proto v0.2.0/go.mod h1:pm=\n"+
		"github.com/davecgh/go-spew v1.1.1/go.mod h1:s=\n"+
		"github.com/stretchr/testify v1.12.1 h1:t=\n"+
		"github.com/stretchr/testify v1.12.1/go.mod h1:tm=\n", string(out))

	_, err = RewriteGoSum([]byte("just two\n"), nil)
	require.Error(t, err)
}

func TestGoModHash(t *testing.T) {
	// The go.sum line of github.com/stretchr/testify v1.12.1/go.mod in
	// this module's go.sum was computed by the go command from the same
	// bytes; a known small case: the empty go.mod.
	h, err := GoModHash([]byte("module example.com/m\n"))
	require.NoError(t, err)
	assert.Regexp(t, `^h1:[A-Za-z0-9+/]{43}=$`, h)
}
