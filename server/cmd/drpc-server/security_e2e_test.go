package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// genKey runs `drpc-agent gen-key` with its defaults (RSA-3072) into a
// directory of its own and returns the private key's path.
func genKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(daemontest.SocketDir(t), "agent.key")
	code, _, errOut := run(t, agentProgram, "gen-key", "--out", key)
	require.Equal(t, 0, code, errOut)
	return key
}

// startAgent starts drpc-agent with args and the configuration lines given,
// and returns its socket.
func startAgent(t *testing.T, config []string, args ...string) (*daemontest.Process, string) {
	t.Helper()
	dir := daemontest.SocketDir(t)
	cfg := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Join(config, "\n")+"\n"), 0o644))
	runDir := filepath.Join(dir, "run")
	a := daemontest.Start(t, agentProgram.Path(t), daemontest.ProcessOptions{Notify: true},
		append([]string{"start", "--config", cfg, "--runtime-dir", runDir}, args...)...)
	a.WaitReady(t)
	return a, filepath.Join(runDir, "daos_agent.sock")
}

// credential asks the agent on socket for a credential (101).
func credential(t *testing.T, socket string) *authv1.Credential {
	t.Helper()
	conn := daemontest.Connect(t, socket)
	defer conn.Close()
	resp, err := authv1drpc.NewSecurityAgentServiceClient(conn).RequestCredentials(context.Background(), &authv1.GetCredReq{})
	require.NoError(t, err)
	require.Zero(t, resp.GetStatus())
	return resp.GetCred()
}

// validate asks the server in dir to validate cred (401) and returns the
// status.
func validate(t *testing.T, dir string, cred *authv1.Credential) int32 {
	t.Helper()
	conn := daemontest.Connect(t, filepath.Join(dir, "daos_server.sock"))
	defer conn.Close()
	resp, err := authv1drpc.NewSecurityServiceClient(conn).ValidateCredentials(context.Background(), &authv1.ValidateCredReq{Cred: cred})
	require.NoError(t, err)
	if resp.GetStatus() != 0 {
		assert.Nil(t, resp.GetToken())
	}
	return resp.GetStatus()
}

// writeCert writes path, an x509 certificate of pub signed by a test CA,
// valid from notBefore to notAfter: what daos_server's client certificates
// directory holds as <origin>.crt.
func writeCert(t *testing.T, path string, pub crypto.PublicKey, notBefore, notAfter time.Time) {
	t.Helper()
	caKey, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "daosCA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: notBefore.Add(-time.Hour), NotAfter: notAfter.Add(time.Hour)}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "agent"}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

// TestDAOSKeysDir: a keys directory laid out as daos_server's client
// certificates directory (agent.crt, no .pub) validates the credentials of
// an agent whose key gen-key made with its defaults; an expired or not yet
// valid certificate is refused (-2043) with the reason in the log; and a
// digest-only credential is refused -1001, as daos_server does.
func TestDAOSKeysDir(t *testing.T) {
	dir := daemontest.SocketDir(t)
	keys := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	key := genKey(t)
	priv, err := auth.LoadPrivateKey(key)
	require.NoError(t, err)
	crt := filepath.Join(keys, "agent.crt")
	now := time.Now()
	writeCert(t, crt, priv.Public(), now.Add(-time.Hour), now.Add(time.Hour))

	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	agent, socket := startAgent(t, nil, "--key", key)
	cred := credential(t, socket)
	assert.Equal(t, "rsa-3072 (unchecked)", auth.SignatureKind(cred))
	require.Zero(t, validate(t, dir, cred), "agent -> credential -> server 401 with agent.crt -> status 0")

	writeCert(t, crt, priv.Public(), now.Add(-2*time.Hour), now.Add(-time.Hour))
	assert.EqualValues(t, -2043, validate(t, dir, cred), "an expired certificate")
	logged(t, srv, `level=ERROR msg="credential refused" status=-2043 der=DER_NO_CERT reason="bad key" origin=agent`)
	logged(t, srv, "certificate "+crt+": certificate not valid at this time: the certificate expired on")

	writeCert(t, crt, priv.Public(), now.Add(time.Hour), now.Add(2*time.Hour))
	assert.EqualValues(t, -2043, validate(t, dir, cred), "a certificate not valid yet")
	logged(t, srv, "the certificate is not valid yet")

	// A .pub of the same key next to a valid certificate: fine; of another
	// key: refused, naming both files.
	writeCert(t, crt, priv.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	pubPEM, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "agent.pub"), pubPEM, 0o644))
	assert.Zero(t, validate(t, dir, cred))
	otherPub, err := os.ReadFile(genKey(t) + ".pub")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "agent.pub"), otherPub, 0o644))
	assert.EqualValues(t, -2043, validate(t, dir, cred))
	logged(t, srv, "hold different public keys")

	// An agent without a key: its digest-only credential is refused with
	// DER_NO_PERM, as daos_server refuses it.
	require.NoError(t, os.Remove(filepath.Join(keys, "agent.pub")))
	insecure, insecureSocket := startAgent(t, nil, "--allow-insecure")
	assert.EqualValues(t, -1001, validate(t, dir, credential(t, insecureSocket)))
	logged(t, srv, `status=-1001 der=DER_NO_PERM reason=insecure origin=agent`)

	logged(t, srv, `msg="credential replay protection" mode="off: credential_max_age is 0 (as DAOS)`)
	for _, p := range []*daemontest.Process{srv, agent, insecure} {
		require.Equal(t, 0, p.Stop(t, syscall.SIGTERM))
	}
}

// TestCachedCredentialsWithinMaxAge: a server with credential_max_age 5s
// (which it warns about: agents with default settings cannot meet it), and
// an agent told the same: every credential the agent hands out over 8
// seconds validates, because it signs anew before a cached one is half
// that old (issue 19: a request 6 s later got the same stamp, and -1011).
func TestCachedCredentialsWithinMaxAge(t *testing.T) {
	dir := daemontest.SocketDir(t)
	keys := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	key := genKey(t)
	pub, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "agent.pub"), pub, 0o644))

	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir, "credential_max_age: 5s"))
	logged(t, srv, `msg="credential replay protection" mode="on: credentials issued more than 5s ago (credential_max_age) are refused`)
	logged(t, srv, `level=WARN msg="credential_max_age 5s is shorter than an agent's default cache_ttl`)
	agent, socket := startAgent(t, []string{"cache_ttl: 1m", "credential_max_age: 5s"}, "--key", key)
	logged(t, agent, "signed anew once half of credential_max_age old") // stderr is copied apart from READY=1

	stamps := map[uint64]bool{}
	var first time.Time
	require.Eventually(t, func() bool {
		cred := credential(t, socket)
		require.Zero(t, validate(t, dir, cred), "a credential handed out validates")
		sys, err := auth.DecodeSys(cred.GetToken())
		require.NoError(t, err)
		stamps[sys.GetStamp()] = true
		if first.IsZero() {
			first = time.Unix(int64(sys.GetStamp()), 0)
		}
		return time.Since(first) > 8*time.Second
	}, 30*time.Second, 200*time.Millisecond)
	assert.GreaterOrEqual(t, len(stamps), 3, "signed anew every 2 to 3 seconds")
	assert.NotContains(t, srv.Stderr.String(), "status=-1011")

	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
	require.Equal(t, 0, agent.Stop(t, syscall.SIGTERM))
}

// TestKeysAnotherUserCouldReplace: as root, an agent.pub that uid 65534
// owns, or a keys directory it owns (where it put rogue.pub), is refused
// with -2043 and a log line that says why, even for a credential its key
// signs: that user could have swapped in its own key (issue 19: uid 65534
// did, and a root@ credential validated).
func TestKeysAnotherUserCouldReplace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user (uid 65534)")
	}
	dir := daemontest.SocketDir(t)
	keys := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	// The attacker's key, and a root@ credential it signed.
	rogue, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	rogueFile := filepath.Join(daemontest.SocketDir(t), "rogue")
	require.NoError(t, auth.WriteKeyPair(rogue, rogueFile, false))
	rootToken, err := auth.NewSysToken(auth.Identity{User: "root", Group: "root", Host: "node1"}, time.Now())
	require.NoError(t, err)
	forged := func(origin string) *authv1.Credential {
		cred, err := auth.NewSigner(rogue).Sign(rootToken, origin)
		require.NoError(t, err)
		return cred
	}
	roguePub, err := os.ReadFile(rogueFile + ".pub")
	require.NoError(t, err)

	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	agentPub := filepath.Join(keys, "agent.pub")
	require.NoError(t, os.WriteFile(agentPub, roguePub, 0o644))
	require.Zero(t, validate(t, dir, forged("agent")), "owned by root: trusted")

	require.NoError(t, os.Chown(agentPub, 65534, 65534))
	assert.EqualValues(t, -2043, validate(t, dir, forged("agent")))
	logged(t, srv, `level=ERROR msg="credential refused" status=-2043 der=DER_NO_CERT reason="bad key" origin=agent`)
	logged(t, srv, "public key "+agentPub+" is owned by uid 65534, neither root nor this process's user (uid 0): that user could replace it: run: chown 0 "+agentPub)

	require.NoError(t, os.Remove(agentPub))
	require.NoError(t, os.WriteFile(filepath.Join(keys, "rogue.pub"), roguePub, 0o644))
	require.NoError(t, os.Chown(keys, 65534, 65534))
	assert.EqualValues(t, -2043, validate(t, dir, forged("rogue")))
	logged(t, srv, "keys directory "+keys+" is owned by uid 65534")

	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
}

// TestLargeEvents: 10 RAS events of 8 MiB each are kept cut to the
// server's limits; `drpc-server status` (text and JSON) still works, and
// every log line stays short (issue 19: an 84 MB status reply, 8 MiB log
// lines).
func TestLargeEvents(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	conn := daemontest.Connect(t, filepath.Join(dir, "daos_server.sock"))
	client := srvv1drpc.NewSrvServiceClient(conn)
	big := strings.Repeat("x", 8<<20)
	for i := range 10 {
		resp, err := client.ClusterEvent(context.Background(), &srvv1.ClusterEventReq{Sequence: uint64(i), Event: &srvv1.RASEvent{
			Id: 1, Msg: big, Hostname: "node1"}})
		require.NoError(t, err)
		assert.Zero(t, resp.GetStatus(), "kept, cut")
	}
	require.NoError(t, conn.Close())

	s := status(t, dir)
	require.Len(t, s.Events, 10)
	for _, e := range s.Events {
		assert.LessOrEqual(t, len(e.Msg), 4096)
		assert.True(t, strings.HasSuffix(e.Msg, " bytes cut]"), e.Msg[len(e.Msg)-32:])
	}
	code, out, errOut := run(t, serverProgram, "status", "--socket-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "events: 10 received")
	assert.Less(t, len(out), 128<<10)

	logged(t, srv, `cut="msg (8388608 bytes)"`)
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
	for _, line := range strings.Split(srv.Stderr.String(), "\n") {
		assert.Less(t, len(line), 2048, "a short log line: %.200s...", line)
	}
}
