package drpc_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

func TestRoundTrip(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	tests := []struct {
		name       string
		call       *drpc.Call
		wantStatus drpc.Status
		wantBody   []byte
	}{
		{"empty echo", &drpc.Call{Module: 0, Method: int32(methodEcho)}, drpc.StatusSuccess, nil},
		{"small echo", &drpc.Call{Method: int32(methodEcho), Body: []byte("hello")}, drpc.StatusSuccess, []byte("hello")},
		{"one chunk exactly", &drpc.Call{Method: int32(methodEcho), Body: bytes.Repeat([]byte{7}, 131048-8)}, drpc.StatusSuccess, bytes.Repeat([]byte{7}, 131048-8)},
		{"many chunks", &drpc.Call{Method: int32(methodEcho), Body: pattern(3 << 20)}, drpc.StatusSuccess, pattern(3 << 20)},
		{"handler failure", &drpc.Call{Method: int32(methodFail), Body: []byte{byte(drpc.StatusFailedUnmarshalPayload)}}, drpc.StatusFailedUnmarshalPayload, nil},
		{"handler panic", &drpc.Call{Method: int32(methodPanic)}, drpc.StatusFailure, nil},
		{"unknown module", &drpc.Call{Module: 9, Method: 901}, drpc.StatusUnknownModule, nil},
		{"unknown method", &drpc.Call{Method: 99}, drpc.StatusUnknownMethod, nil},
		{"method outside module range", &drpc.Call{Method: 101}, drpc.StatusUnknownMethod, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.SendMsg(context.Background(), tc.call)
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, resp.Status)
			assert.Equal(t, int64(i+1), resp.Sequence)
			assert.Equal(t, len(tc.wantBody), len(resp.Body))
			assert.True(t, bytes.Equal(tc.wantBody, resp.Body), "body differs")
		})
	}
}

// pattern returns n bytes that differ from chunk to chunk, so a chunk put in
// the wrong place shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>17)
	}
	return b
}
