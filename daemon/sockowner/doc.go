// Package sockowner tells which process listens on a Unix socket, for the
// error of a daemon that finds its socket in use ("... is served by process
// 4242 (drpc-agent): stop that agent first ...").
//
// It connects to the socket: for a connection to a listening socket the
// kernel records the listener's credentials, which SO_PEERCRED returns on
// the connecting end. The process name is /proc/PID/comm. The connection is
// closed at once; the listener sees a client that hangs up before its first
// call.
package sockowner
