//go:build race

package drpc_test

// raceEnabled tells tests that measure allocations that the race detector
// is on: it makes sync.Pool drop items on purpose.
const raceEnabled = true
