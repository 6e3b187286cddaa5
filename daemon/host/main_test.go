package host_test

import (
	"os"
	"testing"

	"github.com/cc532012/drpc/daemon/daemontest"
)

func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }
