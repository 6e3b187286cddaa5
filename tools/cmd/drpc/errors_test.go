package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
)

// nobody is the uid (and gid) the permission test runs the binary as.
const nobody = 65534

// TestErrors checks every error a user can act on: its exit code, and one
// line on stderr that says what is wrong and what to do.
func TestErrors(t *testing.T) {
	echo := startServeEcho(t)
	api := startAPIServer(t)
	dir := socketDir(t)

	regular := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(regular, []byte("not a socket"), 0o644))

	stale := filepath.Join(dir, "stale.sock")
	daemontest.StaleSocket(t, stale)

	stream := filepath.Join(dir, "stream.sock")
	sl, err := net.Listen("unix", stream)
	require.NoError(t, err)
	t.Cleanup(func() { sl.Close() })

	badJSON := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badJSON, []byte("{\n  \"uri\": \"tcp://x\",\n  \"nctxs\": \"four\"\n}\n"), 0o644))

	garbage := startFake(t, fakeGarbage)
	badEnvelope := startFake(t, fakeBadEnvelope)
	closing := startFake(t, fakeClose)
	silent := startFake(t, fakeSilent)

	call := func(socket string, args ...string) []string {
		return append([]string{"call", "--socket", socket}, args...)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
	}{
		// The socket cannot be reached, or is not a dRPC server: exit 3.
		{"no such socket", call(filepath.Join(dir, "missing.sock"), "--method", "Echo"), "", 3,
			[]string{"no socket at " + filepath.Join(dir, "missing.sock"), "is the server running?"}},
		{"no such directory", call("/nonexistent-dir/x.sock", "--method", "Echo"), "", 3,
			[]string{"no directory /nonexistent-dir", "Check --socket"}},
		{"regular file", call(regular, "--method", "Echo"), "", 3,
			[]string{regular + " is a regular file, not a socket, so not a dRPC server"}},
		{"directory", call(dir, "--method", "Echo"), "", 3,
			[]string{dir + " is a directory, not a socket"}},
		{"stale socket", call(stale, "--method", "Echo"), "", 3,
			[]string{"nothing listens on " + stale, "left over from a server that stopped"}},
		{"stream socket", call(stream, "--method", "Echo"), "", 3,
			[]string{stream + " is a stream socket (SOCK_STREAM), not a dRPC server"}},
		{"server answers garbage", call(garbage, "--method", "Echo"), "", 3,
			[]string{garbage + " answered with a packet that is not dRPC (malformed dRPC packet", "not a dRPC server"}},
		{"server answers a bad envelope", call(badEnvelope, "--method", "Echo"), "", 3,
			[]string{badEnvelope + " answered with a message that is not a dRPC response", "not a dRPC server"}},
		{"server closes mid-call", call(closing, "--method", "Echo"), "", 3,
			[]string{"the server at " + closing + " closed the connection before it answered", "see its log"}},
		{"server does not answer", call(silent, "--method", "Echo", "--timeout", "300ms"), "", 3,
			[]string{"did not answer within 300ms", "raise --timeout"}},
		{"creds without an agent", []string{"creds", "--socket", filepath.Join(dir, "agent.sock")}, "", 3,
			[]string{"no agent socket at", "is the agent running (drpc-agent start)?"}},
		{"bench without a server", []string{"bench", "--socket", filepath.Join(dir, "missing.sock")}, "", 3,
			[]string{"no socket at"}},

		// The server answers a status other than SUCCESS: exit 1.
		{"unknown method", call(echo, "--module", "0", "--method", "2"), "", 1,
			[]string{"module 0, method 2 answered UNKNOWN_METHOD", "does not serve method 2"}},
		{"unknown module", call(api.socket, "--module", "9", "--method", "901"), "", 1,
			[]string{"module 9, method 901 answered UNKNOWN_MODULE", "has no module 9"}},
		{"unimplemented method", call(api.socket, "--method", "ValidateCredentials"), "", 1,
			[]string{"drpc.auth.v1.SecurityService/ValidateCredentials (module 4, method 401) answered UNKNOWN_METHOD"}},
		{"failure", call(api.socket, "--method", "SetRank", "--data", `{"rank": 7}`), "", 1,
			[]string{"drpc.mgmt.v1.MgmtService/SetRank (module 2, method 202) answered FAILURE", "see its log"}},
		{"body the server cannot decode", call(api.socket, "--method", "PingRank", "--hex", "ffff"), "", 1,
			[]string{"answered FAILED_UNMARSHAL_PAYLOAD", "check --data or --hex"}},

		// The command line is wrong: exit 2.
		{"unknown method name", call(echo, "--method", "NotifyRedy"), "", 2,
			[]string{`unknown method "NotifyRedy": did you mean drpc.srv.v1.SrvService/NotifyReady?`}},
		{"unknown method, several close", call(echo, "--method", "Rank"), "", 2,
			[]string{`unknown method "Rank": did you mean one of`, "drpc.mgmt.v1.MgmtService/SetRank", "drpc.mgmt.v1.MgmtService/PingRank"}},
		{"unknown module name", call(echo, "--module", "mgnt", "--method", "1"), "", 2,
			[]string{`unknown module "mgnt": did you mean 2 (drpc.mgmt.v1.MgmtService)?`}},
		{"ambiguous module", call(echo, "--module", "auth", "--method", "101"), "", 2,
			[]string{`--module "auth" is ambiguous`, "1 (drpc.auth.v1.SecurityAgentService)", "4 (drpc.auth.v1.SecurityService)"}},
		{"unknown JSON field", call(echo, "--method", "srv.NotifyReady", "--data", `{"urii": "tcp://x"}`), "", 2,
			[]string{`--data does not fit drpc.srv.v1.NotifyReadyReq at line 1, column 2: unknown field "urii"; did you mean "uri"?`}},
		{"JSON value of the wrong type, from a file", call(echo, "--method", "srv.NotifyReady", "--data", "@"+badJSON), "", 2,
			[]string{"file " + badJSON + " does not fit drpc.srv.v1.NotifyReadyReq at line 3, column 12", `invalid value for uint32 field nctxs: "four"`}},
		{"JSON syntax error on stdin", call(echo, "--method", "Echo", "--data", "-"), `{"payload": "aGk=",}`, 2,
			[]string{"stdin is not valid JSON at line 1, column 20: unexpected token }"}},
		{"JSON for a method the catalog does not know", call(echo, "--module", "9", "--method", "901", "--data", "{}"), "", 2,
			[]string{"module 9, method 901 is not in the catalog", "--hex"}},
		{"bad hex", call(echo, "--method", "Echo", "--hex", "0x12zz"), "", 2,
			[]string{`'z' is not a hex digit`}},
		{"missing data file", call(echo, "--method", "Echo", "--data", "@"+filepath.Join(dir, "none.json")), "", 2,
			[]string{"none.json: no such file"}},
		{"data and hex", call(echo, "--method", "Echo", "--data", "{}", "--hex", "00"), "", 2,
			[]string{"--data and --hex both give the body"}},
		{"no socket flag", []string{"call", "--method", "Echo"}, "", 2,
			[]string{"--socket is required"}},
		{"no method flag", call(echo), "", 2,
			[]string{"--method is required"}},
		{"unknown flag", call(echo, "--method", "Echo", "--bogus"), "", 2,
			[]string{"unknown flag: --bogus", "drpc call --help"}},
		{"bad flag value", call(echo, "--method", "Echo", "--timeout", "soon"), "", 2,
			[]string{`invalid argument "soon"`}},
		{"unknown command", []string{"cal"}, "", 2,
			[]string{`unknown command "cal"`}},
		{"bench size too large", []string{"bench", "--socket", echo, "--size", "67108865"}, "", 2,
			[]string{"--size 67108865 is out of range"}},
		{"bench size not a size", []string{"bench", "--socket", echo, "--size", "4GB"}, "", 2,
			[]string{`"4GB": not a size`, "e.g. 64, 4KiB, 1MiB"}},
		{"bench size for another method", []string{"bench", "--socket", echo, "--method", "PingRank", "--size", "10"}, "", 2,
			[]string{"--size makes echo bodies"}},

		// serve-echo refuses paths it must not take over: exit 1.
		{"serve-echo on a live socket", []string{"serve-echo", "--socket", echo}, "", 1,
			[]string{"a server already listens on " + echo}},
		{"serve-echo on a file", []string{"serve-echo", "--socket", regular}, "", 1,
			[]string{regular + " exists and is not a socket"}},
		{"serve-echo in a missing directory", []string{"serve-echo", "--socket", "/nonexistent-dir/x.sock"}, "", 1,
			[]string{"the directory /nonexistent-dir does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := toolWith(t, runOpts{stdin: tt.stdin}, tt.args...)
			assert.Equal(t, tt.code, r.Code, "stderr: %s", r.Stderr)
			assertOneLineError(t, r, tt.want...)
		})
	}
}

// TestRefusalReason checks that a failure's reason, which this server's
// transport sends when it refuses a call, is printed.
func TestRefusalReason(t *testing.T) {
	api := startAPIServer(t, drpc.WithLimits(drpc.Limits{MaxSessions: 1}))
	hold := drpc.NewClientConnection(api.socket)
	require.NoError(t, hold.Connect(t.Context()))
	defer hold.Close()
	_, err := hold.SendMsg(t.Context(), &drpc.Call{Module: 0, Method: 1})
	require.NoError(t, err)

	r := tool(t, "call", "--socket", api.socket, "--method", "Echo")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, "status: FAILURE\n", r.Stdout)
	assertOneLineError(t, r, "answered FAILURE: dRPC server at "+api.socket+" serves its limit of 1 sessions")
}

// TestPermissionDenied runs the binary as another user against a socket
// only root may open.
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as uid 65534 against a socket only root may open")
	}
	api := startAPIServer(t) // socket mode 0600, owned by root
	r := toolWith(t, runOpts{uid: nobody}, "call", "--socket", api.socket, "--method", "Echo")
	assert.Equal(t, 3, r.Code, r.Stderr)
	assertOneLineError(t, r, "permission denied connecting to "+api.socket, "mode 0600", "owner uid 0", "this process uid 65534", "run as the server's user or root")

	// A socket in a directory the user may not enter.
	private := filepath.Join(socketDir(t), "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	sock := filepath.Join(private, "x.sock")
	l, err := net.Listen("unixpacket", sock)
	require.NoError(t, err)
	defer l.Close()
	r = toolWith(t, runOpts{uid: nobody}, "call", "--socket", sock, "--method", "Echo")
	assert.Equal(t, 3, r.Code, r.Stderr)
	assertOneLineError(t, r, "permission denied reaching "+sock, "may not enter its directory")
}

// TestServeEchoStops checks that serve-echo stops on SIGTERM too, removing
// its socket, and lets the echo be called before.
func TestServeEchoStops(t *testing.T) {
	sock := filepath.Join(socketDir(t), "e.sock")
	p := daemontest.Start(t, drpcProgram.Path(t), daemontest.ProcessOptions{}, "serve-echo", "--socket", sock)
	require.Eventually(t, func() bool {
		c := drpc.NewClientConnection(sock)
		defer c.Close()
		return c.Connect(t.Context()) == nil
	}, 10*time.Second, 20*time.Millisecond)
	r := tool(t, "call", "-q", "--socket", sock, "--module", "0", "--method", "1", "--hex", "0a026869")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, `{"payload":"aGk="}`, strings.Join(strings.Fields(r.Stdout), ""))

	require.Equal(t, 0, p.Stop(t, syscall.SIGTERM), p.Stderr.String())
	_, err := os.Stat(sock)
	assert.True(t, os.IsNotExist(err), "socket removed")
}
