// Package metrics exports a dRPC server's numbers to Prometheus.
//
// Collector implements the transport's drpc.Stats interface (give it to the
// server with drpc.WithStats) and prometheus.Collector. Per method it counts
// calls started, calls finished by status, request and reply bytes, and
// observes the latency of each call in a histogram; per server it counts
// sessions (open now, opened, refused at the session limit) and the events
// that are not calls of a known method (malformed packets, hang-ups, messages
// above the size limit, unknown modules or methods). With the default
// Options the series are:
//
//	drpc_server_calls_started_total{module, method}
//	drpc_server_calls_finished_total{module, method, status}
//	drpc_server_call_duration_seconds{module, method}    (histogram)
//	drpc_server_request_bytes_total{module, method}
//	drpc_server_reply_bytes_total{module, method}
//	drpc_server_sessions_open
//	drpc_server_sessions_opened_total
//	drpc_server_sessions_refused_total
//	drpc_server_malformed_packets_total
//	drpc_server_hangups_total
//	drpc_server_messages_too_large_total
//	drpc_server_unknown_methods_total
//	drpc_server_over_memory_limit_total
//	drpc_server_idle_timeouts_total
//	drpc_server_message_timeouts_total
//
// Labels: module is the numeric module ID ("1"), method the method's full
// name (drpc.Method's String(), e.g.
// "drpc.auth.v1.SecurityAgentService.RequestCredentials"), and status the
// dRPC status name (drpc.Status's String(), e.g. "STATUS_SUCCESS").
//
// The Collector's call path takes no lock and allocates nothing once a
// method has been seen: it is safe to leave on in production.
//
// Endpoint serves /metrics in the Prometheus text format over HTTP, for a
// daemon's --metrics-addr HOST:PORT. The address is loopback unless the
// operator writes another host: an empty host (":9191") means 127.0.0.1, and
// a host such as 0.0.0.0 is taken as written (and logged as reachable from
// other machines). Port 0 picks a free port; Endpoint.Addr and the log tell
// which.
package metrics
