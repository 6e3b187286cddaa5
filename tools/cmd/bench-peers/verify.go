package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// echoCheck builds one worker's request bodies and verifies the echoes.
//
// Every call stamps a fresh sequence number into the request at its start,
// middle and end (bodies of at least stampedMin bytes), so that a stale,
// misrouted or truncated reply fails even the cheap check. A reply is
// compared byte for byte with the request on the first call, on every call
// for bodies up to fullCheckMax bytes, and on one call in fullEvery (about
// one full compare of fullCheckMax bytes per call on average) for larger
// ones; the other calls compare the length and the three stamps.
type echoCheck struct {
	req       []byte
	seq       uint64
	fullEvery uint64
}

const (
	stampedMin   = 24
	fullCheckMax = 4 << 10
)

func newEchoCheck(size int) *echoCheck {
	req := make([]byte, size)
	for i := range req {
		req[i] = byte(i*131 + i>>8 + 7)
	}
	every := uint64(1)
	if size > fullCheckMax {
		every = uint64(max(16, size/fullCheckMax))
	}
	return &echoCheck{req: req, fullEvery: every}
}

// next stamps the request of the next call.
func (c *echoCheck) next() {
	c.seq++
	n := len(c.req)
	if n < stampedMin {
		if n > 0 {
			c.req[0] = byte(c.seq)
		}
		return
	}
	binary.LittleEndian.PutUint64(c.req, c.seq)
	binary.LittleEndian.PutUint64(c.req[n/2-4:], ^c.seq)
	binary.LittleEndian.PutUint64(c.req[n-8:], c.seq*0x9e3779b97f4a7c15)
}

// check verifies reply against the current request; it allocates only to
// report a mismatch.
func (c *echoCheck) check(reply []byte) error {
	req := c.req
	n := len(req)
	if len(reply) != n {
		return fmt.Errorf("echo mismatch on call %d: got %d bytes, want %d", c.seq, len(reply), n)
	}
	if n < stampedMin || c.seq == 1 || c.seq%c.fullEvery == 0 {
		if !bytes.Equal(reply, req) {
			return c.mismatch(reply)
		}
		return nil
	}
	m := n/2 - 4
	if !bytes.Equal(reply[:8], req[:8]) || !bytes.Equal(reply[m:m+8], req[m:m+8]) || !bytes.Equal(reply[n-8:], req[n-8:]) {
		return c.mismatch(reply)
	}
	return nil
}

func (c *echoCheck) mismatch(reply []byte) error {
	at := 0
	for at < len(reply) && reply[at] == c.req[at] {
		at++
	}
	return fmt.Errorf("echo mismatch on call %d: %d-byte reply differs from the request at byte %d", c.seq, len(reply), at)
}
