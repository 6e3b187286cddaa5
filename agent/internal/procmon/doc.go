// Package procmon tells when processes exit, without polling: each watched
// process is a pidfd (pidfd_open(2), Linux 5.3 or later), which becomes
// readable when the process exits, waited for through the Go runtime's
// network poller (epoll) by a goroutine that is parked until then. No
// /proc scan, no timer, no signal: a process's exit is noticed as soon as
// the kernel reaps it into a zombie or releases it.
//
// The pid is the one the caller knows, typically a socket peer's
// (SO_PEERCRED). pidfd_open refers to the process that has that pid when it
// is called: call Watch while the process is known to be alive (during a
// call it is waiting on), so that the pid cannot have been reused.
package procmon
