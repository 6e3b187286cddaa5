package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// The raw floor: a SOCK_SEQPACKET ping-pong of the payload bytes only, with
// no header, no encoding and no sequence number. At connect the client sends
// the body size in one 8-byte packet; then each call sends the body in
// packets of up to rawPacket bytes and the server, once it has received the
// whole body, sends it back the same way. Both sides receive into buffers
// allocated once per connection, so a call allocates nothing.
//
// Two implementations exist, with the same logic on both sides. `raw` uses
// blocking system calls (x/sys/unix read and write on a blocking socket):
// the thread sleeps in the kernel and is woken directly by the peer's send,
// and the runtime hands its P to another thread if it sleeps long. It is the
// floor: on the 2-core VM it beat the netpoller in 28 of 32 cell runs (four
// runs of the 8 size and connection cells; 1.1x to 2.1x calls/s, most at 1
// connection and at 128 KiB and 1 MiB on 8; the four others, at 64 B on 8
// connections or 1 MiB on 1, within the machine's noise), with less CPU per
// call. `raw-netpoll` goes through the Go netpoller
// (net.UnixConn: a nonblocking socket, and a goroutine that parks until the
// socket is readable), which is how the drpc transport does its I/O; the
// gap between the two rows is the cost of the netpoller's wake-ups.

const rawPacket = 1 << 17 // the largest dRPC packet, 128 KiB

var errShortHello = errors.New("raw: the first packet is not an 8-byte size")

// packetIO is one side of a raw connection: one packet per write, one per
// read.
type packetIO interface {
	Write(p []byte) (int, error)
	Read(p []byte) (int, error)
}

// sendPackets sends body in packets of at most rawPacket bytes.
func sendPackets(c packetIO, body []byte) error {
	for off := 0; off < len(body); {
		end := min(off+rawPacket, len(body))
		if _, err := c.Write(body[off:end]); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// recvPackets fills buf with packets of at most rawPacket bytes, the way
// sendPackets cut them.
func recvPackets(c packetIO, buf []byte) error {
	for got := 0; got < len(buf); {
		n, err := c.Read(buf[got:min(got+rawPacket, len(buf))])
		if err != nil {
			return err
		}
		if n == 0 {
			return io.EOF
		}
		got += n
	}
	return nil
}

// serveRawConn answers one raw connection until it ends.
func serveRawConn(c packetIO) error {
	var hello [8]byte
	n, err := c.Read(hello[:])
	if err != nil {
		return err
	}
	if n != len(hello) {
		return errShortHello
	}
	size := binary.LittleEndian.Uint64(hello[:])
	if size == 0 || size > maxBodySize {
		return fmt.Errorf("raw: body size %d out of range", size)
	}
	buf := make([]byte, size)
	for {
		if err := recvPackets(c, buf); err != nil {
			return err
		}
		if err := sendPackets(c, buf); err != nil {
			return err
		}
	}
}

// rawCaller is the client side of a raw connection.
type rawCaller struct {
	c     packetIO
	close func() error
	reply []byte
}

func newRawCaller(c packetIO, closeFn func() error, size int) (*rawCaller, error) {
	var hello [8]byte
	binary.LittleEndian.PutUint64(hello[:], uint64(size))
	if _, err := c.Write(hello[:]); err != nil {
		_ = closeFn()
		return nil, fmt.Errorf("raw: send the size: %w", err)
	}
	return &rawCaller{c: c, close: closeFn, reply: make([]byte, size)}, nil
}

func (r *rawCaller) call(req []byte, check func([]byte) error) error {
	if err := sendPackets(r.c, req); err != nil {
		return fmt.Errorf("raw: send: %w", err)
	}
	if err := recvPackets(r.c, r.reply); err != nil {
		return fmt.Errorf("raw: receive: %w", err)
	}
	return check(r.reply)
}

func (r *rawCaller) Close() error { return r.close() }

// dialRawNetpoll connects through the netpoller.
func dialRawNetpoll(path string, size int) (caller, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("raw: dial: %w", err)
	}
	return newRawCaller(c, c.Close, size)
}

// serveRawNetpoll serves raw connections through the netpoller until ln
// closes.
func serveRawNetpoll(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = serveRawConn(c)
		}()
	}
}

// blockingFD is a blocking socket used with plain system calls.
type blockingFD int

func (fd blockingFD) Write(p []byte) (int, error) {
	for {
		n, err := unix.Write(int(fd), p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func (fd blockingFD) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func (fd blockingFD) Close() error { return unix.Close(int(fd)) }

// dialRawBlocking connects a blocking socket.
func dialRawBlocking(path string, size int) (caller, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("raw: socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("raw: connect %s: %w", path, err)
	}
	b := blockingFD(fd)
	return newRawCaller(b, b.Close, size)
}

// listenRawBlocking creates a blocking listening socket at path.
func listenRawBlocking(path string) (blockingFD, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("raw: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("raw: bind %s: %w", path, err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("raw: listen %s: %w", path, err)
	}
	return blockingFD(fd), nil
}

// serveRawBlocking accepts and serves raw connections with blocking system
// calls, one goroutine (and, while it waits, one thread) per connection,
// until the listening socket is shut down.
func serveRawBlocking(ln blockingFD) {
	for {
		fd, _, err := unix.Accept4(int(ln), unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		go func() {
			c := blockingFD(fd)
			defer c.Close()
			_ = serveRawConn(c)
		}()
	}
}
