// Package srv is the srv module (dRPC module 3) of the server: the calls
// that engines make to the server they run under.
//
//   - 301 notify ready: an engine says that it serves its own dRPC socket.
//     The engine's index must be one the configuration lists (any index if
//     it lists none), and its socket (drpcListenerSock) must be a socket
//     directly inside the server's socket directory (or a symbolic link to
//     that directory) and not the server's own. The engine is then recorded in the engine registry, which calls
//     it back in the background (package engine): set rank, then pings.
//   - 304 cluster event: an engine reports a RAS event. The server logs its
//     fields, keeps the last N events in memory (Events) for `drpc-server
//     status`, and replies with the event's sequence. Events are bounded:
//     a field over its limit (4 KiB for msg, str_info and the engine
//     error, 256 bytes for the others, 256 service replicas) is cut, the
//     event is kept and answered status 0, and its log line (at warn)
//     names the fields cut; every string of the log line is at most 256
//     bytes; the events kept take at most 16 MiB together (BoundEvent,
//     MaxKeptEventBytes).
//
// The other methods of DAOS's srv module (303 get pool service, 305 pool
// find by label, 306-309 checker calls, 310 list pools, 311 get system
// properties) answer questions about pools and the system, which only a
// DAOS management service (with its pool service and raft database) can
// answer. This server has none, so it answers them UNKNOWN_METHOD, as the
// generated adapter does for every method the schema does not declare:
// an engine learns at once that the call is not served, instead of getting
// an answer that would be wrong.
package srv
