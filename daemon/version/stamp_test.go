package version

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The build with -ldflags -X is tested by tools/internal/installcheck,
// which runs each binary that `make install` installs.
func TestWithStamp(t *testing.T) {
	info := Info{Main: Module{Path: "github.com/cc532012/drpc/server", Version: "(devel)"}}
	assert.Equal(t, "(devel)", withStamp(info, "").Main.Version)
	assert.Equal(t, "v0.1.0", withStamp(info, "v0.1.0").Main.Version)
}
