// Package mgmtagent is the agent's management module: dRPC module 2, the
// methods that DAOS's daos_agent serves to the client processes of its node
// (the engines serve the module's other methods; here they answer
// UNKNOWN_METHOD):
//
//   - 206 GetAttachInfo: what a client needs to attach to the system (the
//     ranks' URIs, the MS ranks, the network hint), answered from a cache
//     that the agent fills from the server (gRPC GetAttachInfo) and
//     refreshes every TTL, on SIGUSR2 and when it is empty (on demand). A
//     warm call is one local call: no network. If a refresh fails, the
//     agent keeps answering from the last reply it got (and logs it); with
//     nothing cached, a call waits for the server up to MissWait (3 s) and
//     then answers status -DER_UNREACH (at once for a second after a
//     failed fetch).
//   - 235 NotifyPoolConnect, 236 NotifyPoolDisconnect, 233 NotifyExit: the
//     process monitor. The agent keeps each client process's pool handles,
//     keyed by the caller's pid as the kernel reports it for the socket
//     (SO_PEERCRED), never by anything in the body. It watches each such
//     process with a pidfd (package procmon): when one exits without
//     disconnecting its handles (a crash, SIGKILL), the agent asks the
//     server to evict them (gRPC PoolEvict, with this node's host name);
//     the server has the engines evict them. NotifyExit is a clean exit:
//     the agent forgets the process's handles without evicting them.
//
// Replies: GetAttachInfoResp for 206; DaosResp for 233, 235 and 236, whose
// status-0 form is an empty body, as DAOS's agent answers. A body that does
// not decode answers FAILED_UNMARSHAL_PAYLOAD (the generated adapter); a
// system name other than the agent's, or a pool or handle that is not a
// UUID, status -DER_INVAL.
//
// Bounds, against a local user who would fill the agent's memory or file
// descriptors: at most MaxProcesses processes watched (MaxProcessesPerUID
// per uid) and MaxHandlesPerProcess handles each; beyond them, 235 answers
// -DER_BUSY and is logged.
//
// A local process can only register handles under its own pid; it can name
// any handle UUID, as with DAOS: a handle UUID is the capability, and a
// process that knows another's can have it evicted by exiting.
package mgmtagent
