// Package secagent is the security agent module (dRPC module 1) of the
// agent daemon: method 101, request credentials, gives the calling process a
// signed AUTH_SYS credential for its own identity.
//
// The identity comes only from the session's peer credentials, which the
// kernel recorded when the process connected (SO_PEERCRED for the uid and
// gid, SO_PEERGROUPS for the supplementary groups); the call body is ignored,
// so no process can ask for another's identity. Names come from the user
// database (os/user); a uid or gid without a name (common in containers)
// falls back to the configured uid_map and gid_map, else the call is
// answered with a failure status and the reason is logged.
//
// The reply is GetCredResp{status, cred}: status 0 and the credential on
// success; on failure a negative DAOS error number, as libdaos expects and
// as DAOS's agent answers: -DER_MISC (-1025) both for an identity without
// a name (StatusNoName) and for anything else (StatusFailure); the log
// says which. The dRPC status itself is SUCCESS either way.
//
// Credentials are cached per (uid, gid, supplementary groups) for the
// configured time to live, in a cache of bounded size (least recently used
// entries go first), so that a busy client costs one map look-up per call
// instead of a signature. Each credential's stamp is the time it was
// signed; with Options.MaxAge (the servers' credential_max_age) a cached
// credential is handed out only while it is less than MaxAge/2 old, so it
// still validates when its client presents it. Reload replaces the signing
// key and empties the cache.
package secagent
