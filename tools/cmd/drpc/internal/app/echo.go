package app

import (
	"context"
	"encoding/binary"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
)

// EchoModule is module 0 (the schema's drpc.test.v1.TestService) as
// serve-echo serves it: method 1, Echo, answers every body with the same
// bytes, whatever they are, up to the server's size limit.
//
// For a body that is an EchoRequest this is exactly the generated Echo's
// answer (testv1drpc.NewTestServiceModule with an implementation that
// returns the payload): EchoRequest and EchoResponse are both
// {bytes payload = 1}, so the request's encoding is the reply's. Unlike the
// generated adapter it also echoes bodies that are not EchoRequests, which
// lets `drpc bench --size N` and `drpc call --hex` send any bytes, and it
// neither decodes nor copies the body, so that the echo costs the server
// nothing but the transport. Other method IDs of module 0 answer
// UNKNOWN_METHOD.
type EchoModule struct{}

var _ drpc.MethodLister = EchoModule{}

// ID returns module 0.
func (EchoModule) ID() drpc.ModuleID { return testv1drpc.TestServiceModuleID }

// String names the module.
func (EchoModule) String() string { return testv1drpc.TestServiceName + " (raw echo)" }

// Methods lists Echo, method 1.
func (EchoModule) Methods() []drpc.Method {
	return []drpc.Method{testv1drpc.TestServiceEchoMethod}
}

// GetMethod returns Echo for method 1 and UNKNOWN_METHOD otherwise.
func (EchoModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id == testv1drpc.TestServiceEchoMethodID {
		return testv1drpc.TestServiceEchoMethod, nil
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}

// HandleCall returns body as the reply. The transport sends the reply
// before it reuses the buffer that holds body, so no copy is needed.
func (EchoModule) HandleCall(_ context.Context, _ *drpc.Session, m drpc.Method, body []byte) ([]byte, error) {
	if m.ID() != testv1drpc.TestServiceEchoMethodID {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return body, nil
}

// EchoBody returns a body of exactly n bytes for the echo (module 0,
// method 1) that is also a valid EchoRequest, so that a server with the
// generated Echo accepts it as well as serve-echo: the payload field's tag,
// its length and n-1-len(length) bytes of payload. Where no minimal length
// encoding fits n exactly, the length is written as a longer varint, which
// protobuf decoders accept. n == 1 cannot be an EchoRequest; it gives one
// zero byte, which only a raw echo answers. n must be at least 0.
func EchoBody(n int) []byte {
	switch {
	case n <= 0:
		return nil
	case n == 1:
		return []byte{0}
	}
	for v := 1; v <= binary.MaxVarintLen64; v++ {
		p := n - 1 - v
		if p < 0 {
			break
		}
		if varintLen(uint64(p)) > v {
			continue
		}
		b := make([]byte, n)
		b[0] = 0x0a // field 1, length-delimited
		putPaddedVarint(b[1:1+v], uint64(p))
		for i := 1 + v; i < n; i++ {
			b[i] = byte('a' + i%26)
		}
		return b
	}
	return make([]byte, n) // not reached: v = varintLen(n) always fits
}

// varintLen is the length of the minimal varint encoding of x.
func varintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// putPaddedVarint writes x as a varint of exactly len(b) bytes (non-minimal
// if b is longer than needed); x must fit.
func putPaddedVarint(b []byte, x uint64) {
	for i := range b {
		c := byte(x & 0x7f)
		x >>= 7
		if i < len(b)-1 {
			c |= 0x80
		}
		b[i] = c
	}
}
