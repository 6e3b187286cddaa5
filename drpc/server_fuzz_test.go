package drpc_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// fuzzMaxMessage is the fuzzed server's message size limit: small, so that
// inputs can reach it.
const fuzzMaxMessage = 4 * wire.MaxChunkData

// maxServerFuzzPackets bounds the packets of one fuzz input, and with them
// the memory synthesized packets take.
const maxServerFuzzPackets = 16

// decodeServerFuzz splits a fuzz input into at most maxServerFuzzPackets
// packets. Each record starts with a kind byte:
//   - even: a raw packet, a 2-byte little-endian length and that many bytes
//     (fewer if the input ends);
//   - odd: a synthesized packet: a 24-byte header, a 1-byte length and that
//     many bytes of data taken from the input, then a 3-byte little-endian
//     length (modulo MaxPacketSize+64) of filler, so that small inputs can
//     make full-size chunks (with a call's head in front) and oversize
//     packets.
func decodeServerFuzz(in []byte) [][]byte {
	var packets [][]byte
	take := func(n int) []byte {
		n = min(n, len(in))
		b := in[:n]
		in = in[n:]
		return b
	}
	for len(in) > 0 && len(packets) < maxServerFuzzPackets {
		kind := take(1)[0]
		if kind%2 == 0 {
			var n [2]byte
			copy(n[:], take(2))
			packets = append(packets, append([]byte(nil), take(int(binary.LittleEndian.Uint16(n[:])))...))
			continue
		}
		hdr := take(wire.HeaderSize)
		var n [1]byte
		copy(n[:], take(1))
		data := take(int(n[0]))
		var fill [4]byte
		copy(fill[:], take(3))
		p := make([]byte, wire.HeaderSize, wire.HeaderSize+len(data)+int(binary.LittleEndian.Uint32(fill[:]))%(wire.MaxPacketSize+64))
		copy(p, hdr)
		p = append(p, data...)
		for i := 0; len(p) < cap(p); i++ {
			p = append(p, byte(i))
		}
		packets = append(packets, p)
	}
	return packets
}

// FuzzServerPackets writes arbitrary packets to a server on a fresh
// connection, then hangs up. Whatever they are, the server must not
// crash, must free the session, and must go on serving.
func FuzzServerPackets(f *testing.F) {
	// One server per fuzzing process, for every input.
	srv, mod := startServer(f, drpc.WithMaxMessageSize(fuzzMaxMessage))
	close(mod.block) // no handler may wait on a client that hung up

	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: srv.SocketPath(), Net: "unixpacket"})
		require.NoError(t, err)
		// Drain the answers, so that the server never waits to send.
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, wire.MaxPacketSize)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		// The server may stop reading (it closed the session, or it waits
		// for a message's next chunk): the deadline only bounds the wait.
		_ = c.SetWriteDeadline(time.Now().Add(hangGuard))
		_ = writePackets(c, decodeServerFuzz(in)...)
		_ = c.Close()
		<-drained

		serverWorks(t, srv)
		sessionsDropTo(t, srv, 0)
	})
}
