// Package demotest runs the repository's demo, scripts/demo, the way
// `make demo` does, so that CI proves the whole system works end to end:
// the real drpc-server, drpc-engine, drpc-agent and drpc binaries as
// processes on a fresh temporary directory.
package demotest
