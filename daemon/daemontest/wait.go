package daemontest

import "time"

// How long a test waits for something a daemon does (a state reached, a
// line logged, a process gone), and how often it looks: the arguments of
// require.Eventually in the daemons' and tools' tests. Long enough never
// to decide a result on a slow machine; a test that waits longer fails
// instead of hanging.
const (
	WaitFor = 15 * time.Second
	Tick    = 5 * time.Millisecond
)
