package auth_test

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed files of testdata/fuzz/FuzzVerify")

// fuzzSeed is one marshalled Credential for FuzzVerify.
type fuzzSeed struct {
	name string
	data []byte
}

// fuzzSeeds returns the FuzzVerify seeds: good credentials of each kind (so
// the fuzzer starts from inputs that pass) and the edge cases around them.
func fuzzSeeds(t testing.TB) []fuzzSeed {
	t.Helper()
	marshal := func(c *authv1.Credential) []byte {
		b, err := proto.Marshal(c)
		require.NoError(t, err)
		return b
	}
	tok := testToken(t)
	sysToken := func(sys *authv1.Sys) *authv1.Token {
		b, err := proto.Marshal(sys)
		require.NoError(t, err)
		return &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: b}
	}
	stamp0 := proto.CloneOf(wantSys)
	stamp0.Stamp = 0
	future := proto.CloneOf(wantSys)
	future.Stamp = 1<<64 - 1

	withUnknown := protowire.AppendTag(marshal(signWith(t, testKey(t, "ed25519"), tok)), 15, protowire.BytesType)
	withUnknown = protowire.AppendBytes(withUnknown, []byte("future field"))

	noneFlavor := signWith(t, nil, tok)
	noneFlavor.Verifier.Flavor = authv1.Flavor_FLAVOR_AUTH_NONE

	return []fuzzSeed{
		{"rsa2048", marshal(signWith(t, testKey(t, "rsa2048"), tok))},
		{"rsa3072", marshal(signWith(t, testKey(t, "rsa3072"), tok))},
		{"ed25519", marshal(signWith(t, testKey(t, "ed25519"), tok))},
		{"digest", marshal(signWith(t, nil, tok))},
		{"daos_digest_stamp0", marshal(daosSign(t, nil, sysToken(stamp0), nil))},
		{"ed25519_stamp_max", marshal(daosSign(t, testKey(t, "ed25519"), sysToken(future), nil))},
		{"ed25519_unknown_field", withUnknown},
		{"verifier_flavor_none", marshal(noneFlavor)},
		{"no_verifier", marshal(&authv1.Credential{Token: tok, Origin: "agent"})},
		{"empty", []byte{}},
		{"garbage", []byte("\x0a\x02\x08\x01\x12\xff")},
	}
}

// FuzzVerify checks that arbitrary credential bytes never make Verify,
// DecodeSys or SignatureKind panic, and that whatever Verify returns obeys
// its contract.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.data)
	}
	pubs := []crypto.PublicKey{nil, testPub(f, "rsa2048"), testPub(f, "ed25519")}
	verifiers := []auth.Verifier{
		{},
		{AllowInsecure: true},
		{AllowInsecure: true, MaxAge: time.Hour, Now: func() time.Time { return testStamp }},
	}
	sentinels := []error{auth.ErrNoToken, auth.ErrMalformedToken, auth.ErrBadSignature, auth.ErrInsecureNotAllowed, auth.ErrExpired}

	f.Fuzz(func(t *testing.T, data []byte) {
		var cred authv1.Credential
		if err := proto.Unmarshal(data, &cred); err != nil {
			return
		}
		_ = auth.SignatureKind(&cred)
		_, _ = auth.DecodeSys(cred.GetToken())
		for _, pub := range pubs {
			for _, v := range verifiers {
				sys, err := v.Verify(&cred, pub)
				if err != nil {
					if sys != nil {
						t.Fatalf("Verify returned an identity and an error: %v", err)
					}
					known := false
					for _, s := range sentinels {
						known = known || errors.Is(err, s)
					}
					if !known {
						t.Fatalf("Verify error wraps none of the package's errors: %v", err)
					}
					continue
				}
				if sys == nil {
					t.Fatal("Verify returned neither an identity nor an error")
				}
				if pub == nil && !v.AllowInsecure {
					t.Fatal("Verify accepted a credential without a key or insecure mode")
				}
			}
		}
	})
}

// TestFuzzCorpus keeps the committed seed files of FuzzVerify in step with
// fuzzSeeds: run with -update-fuzz-corpus to rewrite them.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	for _, s := range fuzzSeeds(t) {
		path := filepath.Join(dir, "seed_"+s.name)
		if *updateCorpus {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			continue
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err, "missing seed file: run go test -run TestFuzzCorpus -update-fuzz-corpus")
		data := parseCorpusFile(t, b)
		// Signatures are random, so the files differ from fuzzSeeds; but
		// the good credentials in them must still verify.
		var pub crypto.PublicKey
		var v auth.Verifier
		switch s.name {
		case "rsa2048", "rsa3072", "ed25519":
			pub = testPub(t, s.name)
		case "digest", "daos_digest_stamp0":
			v.AllowInsecure = true
		default:
			continue
		}
		var cred authv1.Credential
		require.NoError(t, proto.Unmarshal(data, &cred), path)
		_, err = v.Verify(&cred, pub)
		require.NoError(t, err, path)
	}
}

// parseCorpusFile decodes a fuzz corpus file holding one []byte.
func parseCorpusFile(t testing.TB, b []byte) []byte {
	t.Helper()
	header, value, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
	require.True(t, ok)
	require.Equal(t, "go test fuzz v1", header)
	quoted, ok := strings.CutPrefix(value, "[]byte(")
	require.True(t, ok, value)
	quoted, ok = strings.CutSuffix(quoted, ")")
	require.True(t, ok, value)
	s, err := strconv.Unquote(quoted)
	require.NoError(t, err)
	return []byte(s)
}

// FuzzParseKeyPEM checks that arbitrary key and certificate files never
// make the parsers panic, and that what they accept is a supported key.
func FuzzParseKeyPEM(f *testing.F) {
	for _, name := range []string{"rsa2048", "ed25519", "ecdsa-p256", "ed448", "rsa-pss2048", "rsa1024"} {
		f.Add(readTestdata(f, name+".key"))
		f.Add(readTestdata(f, name+".pub"))
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add(certPEM(f, testKey(f, "rsa2048"), testStamp, testStamp.Add(time.Hour)))
	f.Add(certPEM(f, testKey(f, "ed25519"), testStamp, testStamp.Add(time.Hour)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if cert, err := auth.ParseCertificatePEM(data); err == nil {
			if _, err := auth.KeyTypeOf(cert.PublicKey); err != nil {
				t.Fatalf("ParseCertificatePEM accepted an unsupported key: %v", err)
			}
		}
		if key, err := auth.ParsePrivateKeyPEM(data); err == nil {
			if _, err := auth.KeyTypeOf(key); err != nil {
				t.Fatalf("ParsePrivateKeyPEM accepted an unsupported key: %v", err)
			}
		}
		if pub, err := auth.ParsePublicKeyPEM(data); err == nil {
			if _, err := auth.KeyTypeOf(pub); err != nil {
				t.Fatalf("ParsePublicKeyPEM accepted an unsupported key: %v", err)
			}
		}
	})
}
