// Package daemontest holds the helpers that the tests of the dRPC daemons
// and tools share, so that each is written once:
//
//   - SocketDir: a temporary directory with a short path, for sockets
//     (t.TempDir's paths can exceed the 107 bytes of a socket address);
//   - SyncBuffer: a buffer that a process or goroutine writes while the test
//     reads it;
//   - StaleSocket, LiveSocket and ListenerFile: socket files nobody listens
//     on, listening sockets, and sockets to pass to a socket-activated child;
//   - NotifySocket: a stand-in for systemd's NOTIFY_SOCKET, to read READY=1
//     and STOPPING=1;
//   - Serve and Connect: dRPC modules served in-process on a socket, and a
//     client of them, both stopped when the test ends;
//   - Program and GoBuild: a module's command built once per test binary,
//     as users build it (GOWORK=off);
//   - Run, Start and Process: a program run to completion, or started in
//     the background (optionally as systemd starts a notify or
//     socket-activated service) with its output captured.
//
// It is a test-support package: only tests import it. Failures are reported
// on the testing.TB the helpers get, never by a panic; the timeouts it uses
// bound how long a test waits for a broken program, they assert nothing.
package daemontest
