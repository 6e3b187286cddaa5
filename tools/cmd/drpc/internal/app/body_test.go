package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

func TestEncodeJSON(t *testing.T) {
	target, err := Resolve("", "srv.NotifyReady")
	require.NoError(t, err)

	b, err := encodeJSON(target, input{text: []byte(`{"uri": "tcp://n1:1", "nctxs": 4, "drpcListenerSock": "/x.sock", "check_mode": true}`), source: "--data"})
	require.NoError(t, err)
	var got srvv1.NotifyReadyReq
	require.NoError(t, proto.Unmarshal(b, &got))
	assert.True(t, proto.Equal(&srvv1.NotifyReadyReq{Uri: "tcp://n1:1", Nctxs: 4, DrpcListenerSock: "/x.sock", CheckMode: true}, &got))

	b, err = encodeJSON(target, input{text: []byte(" \n"), source: "stdin"})
	require.NoError(t, err)
	assert.Empty(t, b)

	tests := []struct {
		name, json string
		want       []string
	}{
		{"unknown field", `{"urii": "x"}`, []string{"--data does not fit drpc.srv.v1.NotifyReadyReq at line 1, column 2", `unknown field "urii"`, `did you mean "uri"?`}},
		{"unknown field far from any", `{"zzzzzzzz": 1}`, []string{`unknown field "zzzzzzzz"`, `has the fields "uri", "nctxs"`}},
		{"wrong type", "{\n  \"nctxs\": \"four\"\n}", []string{"at line 2, column 12", `invalid value for uint32 field nctxs: "four"`}},
		{"syntax", `{"uri": "a",, }`, []string{"--data is not valid JSON at line 1, column 13", "unexpected token ,"}},
		{"truncated", `{"uri": "a"`, []string{"ends too early"}},
		{"not an object", `[1]`, []string{"not valid JSON at line 1, column 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeJSON(target, input{text: []byte(tt.json), source: "--data"})
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n")
			assert.NotContains(t, err.Error(), "proto:")
		})
	}

	unknown, err := Resolve("9", "901")
	require.NoError(t, err)
	_, err = encodeJSON(unknown, input{text: []byte(`{}`), source: "--data"})
	assert.ErrorContains(t, err, "pass the body in hex with --hex")
}

// TestEncodeJSONBytes: a bytes field takes base64; a string that is not
// base64 gets a hint with its own base64.
func TestEncodeJSONBytes(t *testing.T) {
	echo, err := Resolve("", "Echo")
	require.NoError(t, err)
	_, err = encodeJSON(echo, input{text: []byte(`{"payload": "aGVsbG8h"}`), source: "--data"})
	require.NoError(t, err)
	_, err = encodeJSON(echo, input{text: []byte(`{"payload": "hello!"}`), source: "--data"})
	assert.EqualError(t, err, `--data does not fit drpc.test.v1.EchoRequest at line 1, column 13: invalid value for bytes field payload: "hello!"; `+
		`JSON writes a bytes field in base64: the bytes of "hello!" are "aGVsbG8h"`)
}

func TestDecodeHex(t *testing.T) {
	for _, in := range []string{"0a0568656c6c6f", "0x0a0568656c6c6f", "0a 05 68 65 6c 6c 6f\n", "0a:05:68:65:6c:6c:6f"} {
		b, err := decodeHex(input{text: []byte(in), source: "--hex"})
		require.NoError(t, err, in)
		assert.Equal(t, []byte("\x0a\x05hello"), b)
	}
	_, err := decodeHex(input{text: []byte("0g"), source: "--hex"})
	assert.EqualError(t, err, `--hex is not hex: 'g' is not a hex digit; give two hex digits per byte, e.g. 0a0568656c6c6f`)
	_, err = decodeHex(input{text: []byte("zz"), source: "file body.hex"})
	assert.ErrorContains(t, err, `--hex (file body.hex) is not hex: 'z'`)
	_, err = decodeHex(input{text: []byte("abc"), source: "--hex"})
	assert.ErrorContains(t, err, "odd number of hex digits")
}
