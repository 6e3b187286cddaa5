package security

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1"
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
	insecureUnknown := sign(t, auth.NewSigner(nil), "nokey", now)
	withOrigin := func(c *authv1.Credential, origin string) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Origin = origin
		return c
	}

	tests := []struct {
		name string
		opts Options
		cred *authv1.Credential
		want int32
	}{
		{"ed25519 signature", Options{}, good, StatusOK},
		{"rsa signature (as DAOS)", Options{}, sign(t, rsaSigner, "rsa-agent", time.Time{}), StatusOK},
		{"stamp 0 without max age (DAOS agents)", Options{}, sign(t, ed, "agent", time.Time{}), StatusOK},
		{"within the max age", Options{MaxAge: time.Minute}, good, StatusOK},
		{"no credential", Options{}, nil, StatusNoToken},
		{"no token", Options{}, &authv1.Credential{Verifier: good.GetVerifier(), Origin: "agent"}, StatusNoToken},
		{"no verifier", Options{}, noVerifier, StatusNoToken},
		{"wrong flavor", Options{}, wrongFlavor, StatusMalformedToken},
		{"tampered token", Options{}, tampered, StatusBadSignature},
		{"signed by another key", Options{}, sign(t, auth.NewSigner(other), "agent", now), StatusBadSignature},
		{"unknown origin", Options{}, withOrigin(good, "stranger"), StatusUnknownOrigin},
		{"path-like origin ../agent", Options{}, withOrigin(good, "../agent"), StatusBadOrigin},
		{"path-like origin a/b", Options{}, withOrigin(good, "a/b"), StatusBadOrigin},
		{"absolute origin", Options{}, withOrigin(good, "/etc/passwd"), StatusBadOrigin},
		{"origin with NUL", Options{}, withOrigin(good, "agent\x00"), StatusBadOrigin},
		{"hidden origin", Options{}, withOrigin(good, ".agent"), StatusBadOrigin},
		{"empty origin", Options{}, withOrigin(good, ""), StatusBadOrigin},
		{"key too open", Options{}, withOrigin(good, "open"), StatusBadKey},
		{"not a key", Options{}, withOrigin(good, "junk"), StatusBadKey},
		{"expired", Options{MaxAge: time.Minute}, sign(t, ed, "agent", now.Add(-time.Hour)), StatusExpired},
		{"stamp 0 with a max age", Options{MaxAge: time.Minute}, sign(t, ed, "agent", time.Time{}), StatusExpired},
		{"from the future", Options{MaxAge: time.Minute}, sign(t, ed, "agent", now.Add(time.Hour)), StatusExpired},
		{"insecure refused", Options{}, insecure, StatusInsecure},
		{"insecure allowed", Options{AllowInsecure: true}, insecure, StatusOK},
		{"insecure allowed, origin without key", Options{AllowInsecure: true}, insecureUnknown, StatusOK},
		{"insecure refused, origin without key", Options{}, insecureUnknown, StatusUnknownOrigin},
		{"signed, origin without key, insecure allowed", Options{AllowInsecure: true}, withOrigin(good, "stranger"), StatusUnknownOrigin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.KeysDir = keys
			svc := New(tc.opts)
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

// TestStatusesDistinct: every reason has its own status and a DAOS name.
func TestStatusesDistinct(t *testing.T) {
	all := []int32{StatusOK, StatusNoToken, StatusMalformedToken, StatusBadOrigin, StatusUnknownOrigin,
		StatusBadKey, StatusBadSignature, StatusInsecure, StatusExpired, StatusInternal}
	seen := map[int32]bool{}
	for _, s := range all {
		assert.False(t, seen[s], "status %d twice", s)
		seen[s] = true
		assert.NotEmpty(t, StatusName(s))
		if s != StatusOK {
			assert.Negative(t, s)
		}
	}
	assert.Empty(t, StatusName(-1))
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
