package auth_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// testStamp is the issue time used in tests: 2023-11-14T22:13:20Z.
var testStamp = time.Unix(1700000000, 0)

// testIdentity is the identity used in tests.
var testIdentity = auth.Identity{
	User:   "alice",
	Group:  "staff",
	Groups: []string{"wheel", "video"},
	Host:   "node1.example.com",
}

// readTestdata returns the contents of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// testKey returns the test-only private key testdata/<name>.key (made with
// OpenSSL; see testdata/README.md).
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	key, err := auth.ParsePrivateKeyPEM(readTestdata(t, name+".key"))
	require.NoError(t, err)
	return key
}

// testPub returns the public key of testKey(name).
func testPub(t testing.TB, name string) crypto.PublicKey {
	t.Helper()
	return testKey(t, name).Public()
}

// otherRSAKey is a second 2048-bit RSA key, made once per test binary.
var otherRSAKey = sync.OnceValues(func() (crypto.Signer, error) {
	return auth.GenerateKey(auth.KeyRSA, 2048)
})

func otherRSA(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := otherRSAKey()
	require.NoError(t, err)
	return key
}

// testToken returns the AUTH_SYS token of testIdentity at testStamp.
func testToken(t testing.TB) *authv1.Token {
	t.Helper()
	tok, err := auth.NewSysToken(testIdentity, testStamp)
	require.NoError(t, err)
	return tok
}

// signWith signs token with key (nil: insecure) as origin "agent".
func signWith(t testing.TB, key crypto.Signer, token *authv1.Token) *authv1.Credential {
	t.Helper()
	cred, err := auth.NewSigner(key).Sign(token, "agent")
	require.NoError(t, err)
	return cred
}

// daosSign makes a credential the way DAOS does, independently of the
// package: the token is marshalled with plain proto.Marshal, RSA keys sign
// with rsa.SignPSS(rand, key, SHA512, digest, opts), Ed25519 keys sign the
// bytes, and no key gives the digest. It signs any token, even one that the
// package would refuse to sign.
func daosSign(t testing.TB, key crypto.Signer, token *authv1.Token, opts *rsa.PSSOptions) *authv1.Credential {
	t.Helper()
	b, err := proto.Marshal(token)
	require.NoError(t, err)
	digest := sha512.Sum512(b)
	var sig []byte
	switch k := key.(type) {
	case nil:
		sig = digest[:]
	case *rsa.PrivateKey:
		sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA512, digest[:], opts)
		require.NoError(t, err)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, b)
	default:
		t.Fatalf("daosSign: unexpected key %T", key)
	}
	return &authv1.Credential{
		Token:    token,
		Verifier: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: sig},
		Origin:   "agent",
	}
}

// wrappedSigner hides the concrete key type, like a key held in hardware.
type wrappedSigner struct{ key crypto.Signer }

func (w wrappedSigner) Public() crypto.PublicKey { return w.key.Public() }

func (w wrappedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return w.key.Sign(r, digest, opts)
}

// panickySigner is a broken crypto.Signer: its methods dereference nil.
type panickySigner struct{ key *rsa.PrivateKey }

func (p *panickySigner) Public() crypto.PublicKey { return p.key.Public() }

func (p *panickySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return p.key.Sign(r, digest, opts)
}

// parsePKIXUnchecked decodes a PEM public key with no checks of its own.
func parsePKIXUnchecked(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}
