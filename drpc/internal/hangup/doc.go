// Package hangup notices a client that hangs up while the server runs its
// call: the session reads nothing during a call, so without a Watch a
// handler waiting on its context would never learn that nobody waits for
// its answer. The Watchdog starts the Watch of calls that have run for a
// while only, so that quick calls pay for none of it.
package hangup
