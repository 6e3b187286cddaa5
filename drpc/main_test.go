package drpc_test

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as the benchmark's server process:
// with benchServerEnv set it serves instead of running tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(runBenchServer(dir))
	}
	os.Exit(m.Run())
}
