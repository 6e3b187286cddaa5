package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	"github.com/cc532012/drpc/tools/cmd/drpc/internal/app"
)

// genKey makes an agent key with `drpc-agent gen-key` and returns the
// private key's path (the public key is path.pub).
func genKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	out, err := exec.Command(agentBin, "gen-key", "--type", "ed25519", "--out", path).CombinedOutput()
	require.NoError(t, err, "gen-key: %s", out)
	return path
}

// startAgent runs `drpc-agent start` with args on a runtime directory under
// dir until the end of the test, and returns its socket once it answers.
func startAgent(t *testing.T, dir string, args ...string) string {
	t.Helper()
	runtimeDir := filepath.Join(dir, "run")
	sock := filepath.Join(runtimeDir, "daos_agent.sock")
	cmd := exec.Command(agentBin, append([]string{"start", "--runtime-dir", runtimeDir}, args...)...)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the agent did not stop on SIGINT: %s", stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := drpc.NewClientConnection(sock)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := c.Connect(ctx)
		cancel()
		c.Close()
		if err == nil {
			return sock
		}
		select {
		case err := <-done:
			t.Fatalf("the agent exited (%v): %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent does not answer on %s: %s", sock, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCreds asks a real agent (agent/cmd/drpc-agent, built by TestMain) for
// credentials.
func TestCreds(t *testing.T) {
	if agentSkip != "" {
		t.Skip(agentSkip)
	}
	dir := socketDir(t)
	key := genKey(t, dir, "agent.key")
	other := genKey(t, dir, "other.key")
	sock := startAgent(t, dir, "--key", key)

	me, err := user.Current()
	require.NoError(t, err)
	host, err := auth.ShortHostname()
	require.NoError(t, err)

	t.Run("text, verified", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", key+".pub")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Contains(t, r.stdout, "user:      "+me.Username+"@\n")
		assert.Contains(t, r.stdout, "host:      "+host+"\n")
		assert.Contains(t, r.stdout, "origin:    agent\n")
		assert.Contains(t, r.stdout, "flavor:    AUTH_SYS\n")
		assert.Contains(t, r.stdout, "signature: ed25519 (unchecked), 64 bytes\n")
		assert.Contains(t, r.stdout, "verified:  yes, signed by the ed25519 key in "+key+".pub\n")
		assert.Regexp(t, `stamp: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.* \(\d+, \d+s ago\)`, r.stdout)
	})

	t.Run("json", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", key+".pub", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		var c app.CredsJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
		assert.Equal(t, me.Username+"@", c.User)
		assert.NotEmpty(t, c.Group)
		assert.NotNil(t, c.Groups)
		assert.Equal(t, host, c.Host)
		assert.Equal(t, "agent", c.Origin)
		assert.Equal(t, "AUTH_SYS", c.Flavor)
		assert.Equal(t, "ed25519 (unchecked)", c.SignatureKind)
		assert.Equal(t, 64, c.SignatureBytes)
		require.NotNil(t, c.Verified)
		assert.True(t, *c.Verified)
		assert.InDelta(t, time.Now().Unix(), int64(c.Stamp), 120)
		_, err := time.Parse(time.RFC3339, c.StampTime)
		assert.NoError(t, err)
	})

	t.Run("cred-out writes a ValidateCredentials body", func(t *testing.T) {
		out := filepath.Join(dir, "cred.json")
		r := tool(t, "creds", "--socket", sock, "--cred-out", out)
		require.Equal(t, 0, r.code, r.stderr)
		fi, err := os.Stat(out)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a credential is the caller's identity")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		var req authv1.ValidateCredReq
		require.NoError(t, protojson.Unmarshal(b, &req))
		pub, err := auth.LoadPublicKey(key + ".pub")
		require.NoError(t, err)
		sys, err := auth.Verifier{}.Verify(req.GetCred(), pub)
		require.NoError(t, err)
		assert.Equal(t, me.Username+"@", sys.GetUser())
	})

	t.Run("another key does not verify", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", other+".pub")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stdout, "verified:  NO: ")
		assertOneLineError(t, r, "the credential does NOT verify with "+other+".pub", "signature does not verify")
	})

	t.Run("missing public key", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", filepath.Join(dir, "none.pub"))
		assert.Equal(t, 2, r.code)
		assertOneLineError(t, r, "--pubkey", "none.pub")
	})

	t.Run("the identity is the caller's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root, to run the binary as uid 65534")
		}
		u, err := user.LookupId(strconv.Itoa(nobody))
		if err != nil {
			t.Skipf("uid %d has no name here: %v", nobody, err)
		}
		r := toolWith(t, runOpts{uid: nobody}, "creds", "--socket", sock, "--json")
		require.Equal(t, 0, r.code, r.stderr)
		var c app.CredsJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
		assert.Equal(t, u.Username+"@", c.User)
	})
}

// TestCredsInsecureAgent checks an agent without a key: its credentials
// carry only a digest, which --pubkey refuses.
func TestCredsInsecureAgent(t *testing.T) {
	if agentSkip != "" {
		t.Skip(agentSkip)
	}
	dir := socketDir(t)
	key := genKey(t, dir, "agent.key")
	sock := startAgent(t, dir, "--allow-insecure")

	r := tool(t, "creds", "--socket", sock)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "signature: digest (insecure), 64 bytes\n")
	assert.NotContains(t, r.stdout, "verified:")

	r = tool(t, "creds", "--socket", sock, "--pubkey", key+".pub")
	assert.Equal(t, 1, r.code)
	assertOneLineError(t, r, "does NOT verify", "insecure")
}
