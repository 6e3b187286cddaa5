package security

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

var identity = auth.Identity{User: "alice", Group: "staff", Groups: []string{"wheel"}, Host: "node1.example"}

// keyPair writes a new key for origin into dir (dir/origin.pub) and returns
// its signer.
func keyPair(t *testing.T, dir, origin string, kind auth.KeyType, bits int) *auth.Signer {
	t.Helper()
	key, err := auth.GenerateKey(kind, bits)
	require.NoError(t, err)
	require.NoError(t, auth.WriteKeyPair(key, filepath.Join(dir, origin), false))
	require.NoError(t, os.Remove(filepath.Join(dir, origin)), "the server needs only the public key")
	return auth.NewSigner(key)
}

// certificate writes dir/origin.crt, a self-signed certificate of a new
// 2048-bit RSA key valid from notBefore to notAfter (as DAOS keeps an
// agent's certificate), and returns a signer of that key.
func certificate(t *testing.T, dir, origin string, notBefore, notAfter time.Time) *auth.Signer {
	t.Helper()
	key, err := auth.GenerateKey(auth.KeyRSA, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: origin}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, origin+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return auth.NewSigner(key)
}

func sign(t *testing.T, s *auth.Signer, origin string, stamp time.Time) *authv1.Credential {
	t.Helper()
	tok, err := auth.NewSysToken(identity, stamp)
	require.NoError(t, err)
	cred, err := s.Sign(tok, origin)
	require.NoError(t, err)
	return cred
}

func TestValidate(t *testing.T) {
	keys := daemontest.SocketDir(t)
	now := time.Now()
	ed := keyPair(t, keys, "agent", auth.KeyEd25519, 0)
	rsaSigner := keyPair(t, keys, "rsa-agent", auth.KeyRSA, 2048)
	other, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	// A key file that is too open, and one that is not a key.
	keyPair(t, keys, "open", auth.KeyEd25519, 0)
	require.NoError(t, os.Chmod(filepath.Join(keys, "open.pub"), 0o666))
	require.NoError(t, os.WriteFile(filepath.Join(keys, "junk.pub"), []byte("not a key"), 0o644))

	good := sign(t, ed, "agent", now)
	tampered := proto.CloneOf(good)
	sys, err := auth.DecodeSys(tampered.GetToken())
	require.NoError(t, err)
	sys.User = "root@"
	tampered.Token.Data, err = proto.Marshal(sys)
	require.NoError(t, err)
	wrongFlavor := proto.CloneOf(good)
	wrongFlavor.Token.Flavor = authv1.Flavor_FLAVOR_AUTH_NONE
	noVerifier := proto.CloneOf(good)
	noVerifier.Verifier = nil
	insecure := sign(t, auth.NewSigner(nil), "agent", now)
	// A token that names nobody, well signed by a trusted key (our Signer
	// refuses to make one; a hostile issuer need not use it).
	_, rawKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, auth.WriteKeyPair(rawKey, filepath.Join(keys, "raw"), false))
	noUserSys := proto.CloneOf(sys)
	noUserSys.User = ""
	noUserTok := &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS}
	noUserTok.Data, err = proto.Marshal(noUserSys)
	require.NoError(t, err)
	tb, err := proto.MarshalOptions{Deterministic: true}.Marshal(noUserTok)
	require.NoError(t, err)
	noUser := &authv1.Credential{Token: noUserTok, Origin: "raw",
		Verifier: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: ed25519.Sign(rawKey, tb)}}
	// Certificates, as DAOS's server keeps them: valid, and expired.
	certSigner := certificate(t, keys, "daos-agent", now.Add(-time.Hour), now.Add(time.Hour))
	oldSigner := certificate(t, keys, "old-agent", now.Add(-2*time.Hour), now.Add(-time.Hour))
	insecureUnknown := sign(t, auth.NewSigner(nil), "nokey", now)
	withOrigin := func(c *authv1.Credential, origin string) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Origin = origin
		return c
	}

	tests := []struct {
		name   string
		opts   Options
		cred   *authv1.Credential
		reason Reason
		want   int32 // the DAOS status
	}{
		{"ed25519 signature", Options{}, good, ReasonNone, 0},
		{"rsa signature (as DAOS)", Options{}, sign(t, rsaSigner, "rsa-agent", time.Time{}), ReasonNone, 0},
		{"certificate as DAOS keeps it", Options{}, sign(t, certSigner, "daos-agent", now), ReasonNone, 0},
		{"expired certificate", Options{}, sign(t, oldSigner, "old-agent", now), ReasonBadKey, -2043},
		{"stamp 0 without max age (DAOS agents)", Options{}, sign(t, ed, "agent", time.Time{}), ReasonNone, 0},
		{"within the max age", Options{MaxAge: time.Minute}, good, ReasonNone, 0},
		{"no credential", Options{}, nil, ReasonNoToken, -1003},
		{"no token", Options{}, &authv1.Credential{Verifier: good.GetVerifier(), Origin: "agent"}, ReasonNoToken, -1003},
		{"no verifier", Options{}, noVerifier, ReasonNoToken, -1003},
		{"wrong flavor", Options{}, wrongFlavor, ReasonMalformedToken, -1014},
		{"signed token without a user", Options{}, noUser, ReasonMalformedToken, -1014},
		{"tampered token", Options{}, tampered, ReasonBadSignature, -1001},
		{"signed by another key", Options{}, sign(t, auth.NewSigner(other), "agent", now), ReasonBadSignature, -1001},
		{"unknown origin (as DAOS: no certificate)", Options{}, withOrigin(good, "stranger"), ReasonUnknownOrigin, -2043},
		{"path-like origin ../agent", Options{}, withOrigin(good, "../agent"), ReasonBadOrigin, -1026},
		{"path-like origin a/b", Options{}, withOrigin(good, "a/b"), ReasonBadOrigin, -1026},
		{"absolute origin", Options{}, withOrigin(good, "/etc/passwd"), ReasonBadOrigin, -1026},
		{"origin with NUL", Options{}, withOrigin(good, "agent\x00"), ReasonBadOrigin, -1026},
		{"hidden origin", Options{}, withOrigin(good, ".agent"), ReasonBadOrigin, -1026},
		{"empty origin", Options{}, withOrigin(good, ""), ReasonBadOrigin, -1026},
		{"key too open", Options{}, withOrigin(good, "open"), ReasonBadKey, -2043},
		{"not a key", Options{}, withOrigin(good, "junk"), ReasonBadKey, -2043},
		{"expired", Options{MaxAge: time.Minute}, sign(t, ed, "agent", now.Add(-time.Hour)), ReasonExpired, -1011},
		{"stamp 0 with a max age", Options{MaxAge: time.Minute}, sign(t, ed, "agent", time.Time{}), ReasonExpired, -1011},
		{"from the future", Options{MaxAge: time.Minute}, sign(t, ed, "agent", now.Add(time.Hour)), ReasonExpired, -1011},
		{"insecure refused (as DAOS: no permission)", Options{}, insecure, ReasonInsecure, -1001},
		{"insecure allowed", Options{AllowInsecure: true}, insecure, ReasonNone, 0},
		{"insecure allowed, origin without key", Options{AllowInsecure: true}, insecureUnknown, ReasonNone, 0},
		{"insecure refused, origin without key", Options{}, insecureUnknown, ReasonUnknownOrigin, -2043},
		{"signed, origin without key, insecure allowed", Options{AllowInsecure: true}, withOrigin(good, "stranger"), ReasonUnknownOrigin, -2043},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.KeysDir = keys
			svc := New(tc.opts)
			reason, err := svc.Check(tc.cred)
			assert.Equal(t, tc.reason, reason, "%v", err)
			assert.Equal(t, tc.want, reason.Status())
			got, err := svc.Validate(tc.cred)
			assert.Equal(t, tc.want, got, "status %d (%s), want %d (%s): %v", got, StatusName(got), tc.want, StatusName(tc.want), err)
			if tc.want == StatusOK {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
			resp, err := svc.ValidateCredentials(context.Background(), nil, &authv1.ValidateCredReq{Cred: tc.cred})
			require.NoError(t, err, "the status is in the reply, never a dRPC failure")
			assert.Equal(t, tc.want, resp.GetStatus())
			if tc.want == StatusOK {
				assert.True(t, proto.Equal(tc.cred.GetToken(), resp.GetToken()))
			} else {
				assert.Nil(t, resp.GetToken())
			}
		})
	}
}

// TestReasons: every reason has its DAOS status, and every status a DAOS
// name.
func TestReasons(t *testing.T) {
	for reason, want := range map[Reason]int32{
		ReasonNone: 0, ReasonNoToken: -1003, ReasonMalformedToken: -1014, ReasonBadOrigin: -1026,
		ReasonUnknownOrigin: -2043, ReasonBadKey: -2043, ReasonBadSignature: -1001, ReasonInsecure: -1001,
		ReasonExpired: -1011, ReasonInternal: -1025,
	} {
		assert.Equal(t, want, reason.Status(), "%q", reason)
		assert.NotEmpty(t, StatusName(reason.Status()), "%q", reason)
	}
	assert.Equal(t, StatusInternal, Reason("something new").Status())
	assert.Empty(t, StatusName(-1))
}

// TestRefusalLogged: each refusal is one log line with its status and the
// reason, which tells apart reasons that share a status.
func TestRefusalLogged(t *testing.T) {
	keys := daemontest.SocketDir(t)
	signer := keyPair(t, keys, "agent", auth.KeyEd25519, 0)
	var buf bytes.Buffer
	svc := New(Options{KeysDir: keys, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for _, origin := range []string{"stranger", "agent"} {
		cred := sign(t, signer, origin, time.Now())
		if origin == "agent" {
			cred = sign(t, auth.NewSigner(nil), origin, time.Now())
		}
		_, err := svc.ValidateCredentials(context.Background(), nil, &authv1.ValidateCredReq{Cred: cred})
		require.NoError(t, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], `level=WARN msg="credential refused" status=-2043 der=DER_NO_CERT reason="unknown origin" origin=stranger`)
	assert.Contains(t, lines[0], "neither "+filepath.Join(keys, "stranger.pub")+" nor "+filepath.Join(keys, "stranger.crt"))
	assert.Contains(t, lines[1], `msg="credential refused" status=-1001 der=DER_NO_PERM reason=insecure origin=agent`)
}

// TestKeysAnotherUserOwns: as root, a key file or a keys directory that
// uid 65534 owns is refused (-2043, logged as an error that says why),
// even when the credential is signed by the key it holds: that user could
// have put its own key there (issue 19: it did, and root@ validated).
func TestKeysAnotherUserOwns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user (uid 65534)")
	}
	for _, tc := range []struct {
		name, origin string
		chown        func(keys string) string
	}{
		{"key file owned by uid 65534", "agent", func(keys string) string { return filepath.Join(keys, "agent.pub") }},
		{"keys dir owned by uid 65534, with rogue.pub", "rogue", func(keys string) string { return keys }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := filepath.Join(daemontest.SocketDir(t), "keys")
			require.NoError(t, os.Mkdir(keys, 0o755))
			signer := keyPair(t, keys, tc.origin, auth.KeyEd25519, 0)
			var buf bytes.Buffer
			svc := New(Options{KeysDir: keys, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			root := identity
			root.User = "root"
			tok, err := auth.NewSysToken(root, time.Now())
			require.NoError(t, err)
			cred, err := signer.Sign(tok, tc.origin)
			require.NoError(t, err)
			reason, err := svc.Check(cred)
			require.Equal(t, ReasonNone, reason, "%v", err)

			culprit := tc.chown(keys)
			require.NoError(t, os.Chown(culprit, 65534, 65534))
			resp, err := svc.ValidateCredentials(context.Background(), nil, &authv1.ValidateCredReq{Cred: cred})
			require.NoError(t, err)
			assert.Equal(t, StatusBadKey, resp.GetStatus())
			assert.Nil(t, resp.GetToken())
			log := buf.String()
			assert.Contains(t, log, `level=ERROR msg="credential refused" status=-2043 der=DER_NO_CERT reason="bad key"`)
			assert.Contains(t, log, culprit+" is owned by uid 65534, neither root nor this process's user (uid 0)")
		})
	}
}

// TestOverTheSocket: the module answers 401 over a real socket.
func TestOverTheSocket(t *testing.T) {
	keys := daemontest.SocketDir(t)
	signer := keyPair(t, keys, "agent", auth.KeyEd25519, 0)
	svc := New(Options{KeysDir: keys})
	path := filepath.Join(daemontest.SocketDir(t), "daos_server.sock")
	daemontest.Serve(t, path, []drpc.Module{svc.Module()})
	client := authv1drpc.NewSecurityServiceClient(daemontest.Connect(t, path))

	cred := sign(t, signer, "agent", time.Now())
	resp, err := client.ValidateCredentials(context.Background(), &authv1.ValidateCredReq{Cred: cred})
	require.NoError(t, err)
	assert.Equal(t, StatusOK, resp.GetStatus())
	got, err := auth.DecodeSys(resp.GetToken())
	require.NoError(t, err)
	assert.Equal(t, "alice@", got.GetUser())

	cred.Origin = "../../etc/agent"
	resp, err = client.ValidateCredentials(context.Background(), &authv1.ValidateCredReq{Cred: cred})
	require.NoError(t, err)
	assert.Equal(t, StatusBadOrigin, resp.GetStatus())
}

// TestPathLikeOriginOpensNothing: the origin is refused before any file
// is opened, even when the file it names exists and is a valid key.
func TestPathLikeOriginOpensNothing(t *testing.T) {
	root := daemontest.SocketDir(t)
	keys := filepath.Join(root, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	signer := keyPair(t, root, "outside", auth.KeyEd25519, 0) // root/outside.pub, a valid key
	svc := New(Options{KeysDir: keys})
	status, err := svc.Validate(sign(t, signer, "outside", time.Now()))
	assert.Equal(t, StatusUnknownOrigin, status, "%v", err)
	cred := sign(t, signer, "outside", time.Now())
	cred.Origin = "../outside"
	status, err = svc.Validate(cred)
	assert.Equal(t, StatusBadOrigin, status, "%v", err)
}
