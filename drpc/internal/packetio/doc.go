// Package packetio reads and tunes the SOCK_SEQPACKET connections of the
// transport: the packet readers that a wire.Receiver reads through (New),
// which are wire.VectorReaders so that a connection holds a buffer the
// size of its messages, with or without busy polling; the connection's
// send buffer (Tune); and the half-close that ends a session's reading
// (ShutdownRead).
package packetio
