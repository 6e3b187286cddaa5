package envelope

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

func TestEncodeMatchesProtoMarshal(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 300)
	tests := []struct {
		name string
		call *drpcv1.Call
		resp *drpcv1.Response
	}{
		{"zero", &drpcv1.Call{}, &drpcv1.Response{}},
		{"ids", &drpcv1.Call{Module: 1, Method: 101, Sequence: 1}, &drpcv1.Response{Sequence: 1, Status: drpcv1.Status_STATUS_UNKNOWN_METHOD}},
		{"negative", &drpcv1.Call{Module: -1, Method: -7, Sequence: -1}, &drpcv1.Response{Sequence: -1, Status: drpcv1.Status_STATUS_FAILED_UNMARSHAL_CALL}},
		{"body", &drpcv1.Call{Module: 4, Method: 401, Sequence: 1 << 40, Body: big}, &drpcv1.Response{Sequence: 1 << 40, Body: big}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := proto.Marshal(tc.call)
			require.NoError(t, err)
			got := append(AppendCallHead(nil, tc.call.Module, tc.call.Method, tc.call.Sequence, len(tc.call.Body)), tc.call.Body...)
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "call")

			want, err = proto.Marshal(tc.resp)
			require.NoError(t, err)
			got = append(AppendResponseHead(nil, tc.resp.Sequence, int32(tc.resp.Status), len(tc.resp.Body)), tc.resp.Body...)
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "response")
		})
	}
}

func TestDecodeRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated varint", []byte{0x08, 0xff}},
		{"truncated body", []byte{0x22, 0x05, 'a'}},
		{"field number zero", []byte{0x00, 0x01}},
		{"bad wire type", []byte{0x0f}},
		{"varint too long", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCall(tc.in)
			require.ErrorIs(t, err, ErrInvalid)
			_, err = DecodeResponse(tc.in)
			require.ErrorIs(t, err, ErrInvalid)
			require.Error(t, proto.Unmarshal(tc.in, &drpcv1.Call{}), "proto.Unmarshal accepts it: the case is wrong")
		})
	}
}

// FuzzDecode holds the decoders to proto.Unmarshal: for any input both
// accept or both reject it, and accepted fields agree.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x10, 0x65, 0x18, 0x01})
	f.Add([]byte{0x08, 0x01, 0x1a, 0x02, 0x01, 0x02})
	f.Add([]byte{0x22, 0x02, 'h', 'i', 0x22, 0x01, 'x'})
	f.Add([]byte{0x0a, 0x01, 0x00, 0x08, 0x05})
	f.Add([]byte{0x0b, 0x0c})
	f.Fuzz(func(t *testing.T, in []byte) {
		var pc drpcv1.Call
		perr := proto.Unmarshal(in, &pc)
		c, err := DecodeCall(in)
		require.Equal(t, perr == nil, err == nil, "proto.Unmarshal: %v, DecodeCall: %v", perr, err)
		if err == nil {
			assert.Equal(t, pc.Module, c.Module)
			assert.Equal(t, pc.Method, c.Method)
			assert.Equal(t, pc.Sequence, c.Sequence)
			assert.True(t, bytes.Equal(pc.Body, c.Body), "body")
		}

		var pr drpcv1.Response
		perr = proto.Unmarshal(in, &pr)
		r, err := DecodeResponse(in)
		require.Equal(t, perr == nil, err == nil, "proto.Unmarshal: %v, DecodeResponse: %v", perr, err)
		if err == nil {
			assert.Equal(t, pr.Sequence, r.Sequence)
			assert.Equal(t, int32(pr.Status), r.Status)
			assert.True(t, bytes.Equal(pr.Body, r.Body), "body")
		}
	})
}

func TestDecodeCallHead(t *testing.T) {
	full := AppendCallHead(nil, 3, 301, 4242, 1000)
	full = append(full, make([]byte, 1000)...)
	tests := []struct {
		name string
		in   []byte
		want Call
		ok   bool
	}{
		{"whole head and body", full, Call{Module: 3, Method: 301, Sequence: 4242}, true},
		{"cut in the body", full[:20], Call{Module: 3, Method: 301, Sequence: 4242}, true},
		{"cut in the sequence", full[:6], Call{Module: 3, Method: 301}, false},
		{"empty", nil, Call{}, true},
		{"zero fields left out", AppendCallHead(nil, 0, 0, 7, 5), Call{Sequence: 7}, true},
		{"negative sequence", AppendCallHead(nil, 1, 101, -1, 0), Call{Module: 1, Method: 101, Sequence: -1}, true},
		{"garbage", []byte{0xff, 0xff, 0xff}, Call{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DecodeCallHead(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}
