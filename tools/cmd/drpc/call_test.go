package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/daemon/daemontest"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// replyJSON splits call's output into the status line and the reply, which
// it decodes as JSON.
func replyJSON(t *testing.T, r daemontest.Result) (status string, reply map[string]any) {
	t.Helper()
	first, rest, _ := strings.Cut(r.Stdout, "\n")
	require.NoError(t, json.Unmarshal([]byte(rest), &reply), "reply %q", rest)
	return strings.TrimPrefix(first, "status: "), reply
}

// TestCallEcho calls serve-echo with each way of giving the body.
func TestCallEcho(t *testing.T) {
	sock := startServeEcho(t)
	dir := t.TempDir()
	hello := base64.StdEncoding.EncodeToString([]byte("hello"))
	jsonFile := filepath.Join(dir, "req.json")
	require.NoError(t, os.WriteFile(jsonFile, []byte(`{"payload": "`+hello+`"}`), 0o644))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, several chunks
	bigFile := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(bigFile, []byte(`{"payload": "`+base64.StdEncoding.EncodeToString(big)+`"}`), 0o644))
	helloReq, err := proto.Marshal(&testv1.EchoRequest{Payload: []byte("hello")})
	require.NoError(t, err)

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []byte // the payload in the JSON reply
	}{
		{"json", "", []string{"--method", "Echo", "--data", `{"payload": "` + hello + `"}`}, []byte("hello")},
		{"json file", "", []string{"--method", "drpc.test.v1.TestService/Echo", "--data", "@" + jsonFile}, []byte("hello")},
		{"json stdin", `{"payload": "` + hello + `"}`, []string{"--module", "0", "--method", "1", "--data", "-"}, []byte("hello")},
		{"hex of an EchoRequest", "", []string{"--method", "test.Echo", "--hex", hex.EncodeToString(helloReq)}, []byte("hello")},
		{"hex on stdin", hex.EncodeToString(helloReq), []string{"--method", "Echo", "--hex", "-"}, []byte("hello")},
		{"empty body", "", []string{"--method", "Echo"}, nil},
		{"1 MiB from a file", "", []string{"--method", "Echo", "--data", "@" + bigFile}, big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := toolWith(t, runOpts{stdin: tt.stdin}, append([]string{"call", "--socket", sock}, tt.args...)...)
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Empty(t, r.Stderr)
			status, reply := replyJSON(t, r)
			assert.Equal(t, "SUCCESS", status)
			got, err := base64.StdEncoding.DecodeString(reply["payload"].(string))
			require.NoError(t, err)
			assert.Equal(t, len(tt.want), len(got))
			assert.True(t, bytes.Equal(tt.want, got))
		})
	}

	t.Run("raw bytes come back in hex", func(t *testing.T) {
		r := tool(t, "call", "--socket", sock, "--module", "0", "--method", "1", "--hex", "deadbeef")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, "status: SUCCESS\ndeadbeef\n", r.Stdout)
		assert.Contains(t, r.Stderr, "does not decode as drpc.test.v1.EchoResponse")
	})
	t.Run("quiet", func(t *testing.T) {
		r := tool(t, "call", "-q", "--socket", sock, "--method", "Echo", "--data", `{"payload": "`+hello+`"}`)
		require.Equal(t, 0, r.Code, r.Stderr)
		var reply map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &reply))
		assert.Equal(t, hello, reply["payload"])
	})
}

// TestCallGenerated calls a server with the generated modules, with every
// form of method name.
func TestCallGenerated(t *testing.T) {
	a := startAPIServer(t)
	ready := `{"uri": "tcp://node1:1234", "nctxs": 4, "drpcListenerSock": "/run/e0.sock", "instanceIdx": 1, "incarnation": "77", "secondaryUris": ["a", "b"], "check_mode": true}`
	want := &srvv1.NotifyReadyReq{Uri: "tcp://node1:1234", Nctxs: 4, DrpcListenerSock: "/run/e0.sock", InstanceIdx: 1, Incarnation: 77, SecondaryUris: []string{"a", "b"}, CheckMode: true}

	for _, name := range [][]string{
		{"--method", "301"},
		{"--method", "drpc.srv.v1.SrvService/NotifyReady"},
		{"--method", "drpc.srv.v1.SrvService.NotifyReady"},
		{"--method", "SrvService/NotifyReady"},
		{"--method", "srv.NotifyReady"},
		{"--method", "NotifyReady"},
		{"--module", "srv", "--method", "NotifyReady"},
		{"--module", "3", "--method", "301"},
	} {
		t.Run(strings.Join(name, " "), func(t *testing.T) {
			a.srv.mu.Lock()
			a.srv.last = nil
			a.srv.mu.Unlock()
			r := tool(t, append([]string{"call", "--socket", a.socket, "--data", ready}, name...)...)
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Equal(t, "status: SUCCESS\n{}\n", r.Stdout)
			assert.True(t, proto.Equal(want, a.srv.lastReady()), "server got %v", a.srv.lastReady())
		})
	}

	t.Run("reply decoded as JSON", func(t *testing.T) {
		r := tool(t, "call", "--socket", a.socket, "--method", "mgmt.PingRank", "--data", `{"rank": 7}`)
		require.Equal(t, 0, r.Code, r.Stderr)
		status, reply := replyJSON(t, r)
		assert.Equal(t, "SUCCESS", status)
		assert.Equal(t, -7.0, reply["status"])
	})
	t.Run("keys are the proto names, as drpc-server status --json writes them", func(t *testing.T) {
		r := tool(t, "call", "--socket", a.socket, "--method", "GetStatus")
		require.Equal(t, 0, r.Code, r.Stderr)
		_, reply := replyJSON(t, r)
		server := reply["server"].(map[string]any)
		assert.Equal(t, "/run/daos_server", server["socket_dir"])
		assert.EqualValues(t, 1, server["events_kept"])
		assert.EqualValues(t, 100, server["max_events"])
		assert.NotContains(t, r.Stdout, "socketDir")
	})
	t.Run("zero fields are shown", func(t *testing.T) {
		r := tool(t, "call", "--socket", a.socket, "--method", "PingRank")
		require.Equal(t, 0, r.Code, r.Stderr)
		_, reply := replyJSON(t, r)
		assert.Equal(t, 0.0, reply["status"])
	})
}

// TestCallHold: with --hold, call prints the reply and stays until SIGTERM,
// then exits 0; a failed call does not hold.
func TestCallHold(t *testing.T) {
	sock := startServeEcho(t)
	p := daemontest.Start(t, drpcProgram.Path(t), daemontest.ProcessOptions{}, "call", "--socket", sock, "--method", "Echo", "--data", `{"payload": "aGk="}`, "--hold")
	line, err := p.Stdout.ReadString('\n')
	require.NoError(t, err, p.Stderr.String())
	assert.Equal(t, "status: SUCCESS\n", line)
	_, err = p.Stdout.ReadString('\n') // the reply
	require.NoError(t, err)
	assert.False(t, p.Exited(), "it holds")
	assert.Equal(t, 0, p.Stop(t, syscall.SIGTERM))

	r := tool(t, "call", "--socket", sock, "--module", "0", "--method", "99", "--hold")
	assert.Equal(t, 1, r.Code, "a failed call exits at once")
}
