package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// wantSys is the identity in testToken.
var wantSys = &authv1.Sys{
	Stamp: 1700000000, Machinename: "node1", User: "alice@", Group: "staff@",
	Groups: []string{"wheel@", "video@"},
}

func TestSignVerify(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      crypto.Signer
		verifier auth.Verifier
		kind     auth.KeyType
		sigLen   int
	}{
		{name: "rsa 2048", key: testKey(t, "rsa2048"), kind: auth.KeyRSA, sigLen: 256},
		{name: "rsa 3072", key: testKey(t, "rsa3072"), kind: auth.KeyRSA, sigLen: 384},
		{name: "ed25519", key: testKey(t, "ed25519"), kind: auth.KeyEd25519, sigLen: 64},
		{name: "rsa in hardware", key: wrappedSigner{testKey(t, "rsa2048")}, kind: auth.KeyRSA, sigLen: 256},
		{name: "ed25519 in hardware", key: wrappedSigner{testKey(t, "ed25519")}, kind: auth.KeyEd25519, sigLen: 64},
		{name: "insecure", key: nil, verifier: auth.Verifier{AllowInsecure: true}, kind: auth.KeyNone, sigLen: 64},
		{name: "with max age", key: testKey(t, "ed25519"), kind: auth.KeyEd25519, sigLen: 64,
			verifier: auth.Verifier{MaxAge: time.Minute, Now: func() time.Time { return testStamp.Add(time.Second) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := auth.NewSigner(tc.key)
			assert.Equal(t, tc.kind, signer.KeyType())
			cred, err := signer.Sign(testToken(t), "agent")
			require.NoError(t, err)

			assert.Equal(t, "agent", cred.GetOrigin())
			assert.True(t, proto.Equal(testToken(t), cred.GetToken()))
			assert.Equal(t, authv1.Flavor_FLAVOR_AUTH_SYS, cred.GetVerifier().GetFlavor())
			assert.Len(t, cred.GetVerifier().GetData(), tc.sigLen)

			var pub crypto.PublicKey
			if tc.key != nil {
				pub = tc.key.Public()
			}
			// As the server gets it: through the wire.
			wire, err := proto.Marshal(&authv1.ValidateCredReq{Cred: cred})
			require.NoError(t, err)
			var req authv1.ValidateCredReq
			require.NoError(t, proto.Unmarshal(wire, &req))

			sys, err := tc.verifier.Verify(req.GetCred(), pub)
			require.NoError(t, err)
			assert.True(t, proto.Equal(wantSys, sys), "got %v", sys)
		})
	}
}

// TestSignCopiesToken checks that changing the token after signing does not
// change the credential.
func TestSignCopiesToken(t *testing.T) {
	tok := testToken(t)
	cred := signWith(t, testKey(t, "ed25519"), tok)
	tok.Data[len(tok.Data)-1] ^= 1
	tok.Flavor = authv1.Flavor_FLAVOR_AUTH_NONE
	_, err := auth.Verifier{}.Verify(cred, testPub(t, "ed25519"))
	require.NoError(t, err)
}

func TestSignErrors(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	good := testToken(t)

	for _, tc := range []struct {
		name    string
		signer  *auth.Signer
		token   *authv1.Token
		origin  string
		wantErr error
	}{
		{name: "nil token", signer: auth.NewSigner(nil), token: nil, origin: "agent", wantErr: auth.ErrNoToken},
		{name: "empty token", signer: auth.NewSigner(nil), token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS}, origin: "agent", wantErr: auth.ErrNoToken},
		{name: "AUTH_NONE", signer: auth.NewSigner(nil), token: &authv1.Token{Data: good.GetData()}, origin: "agent", wantErr: auth.ErrMalformedToken},
		{name: "not a Sys", signer: auth.NewSigner(nil), token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: []byte{0xff}}, origin: "agent", wantErr: auth.ErrMalformedToken},
		{name: "empty origin", signer: auth.NewSigner(nil), token: good, origin: "", wantErr: auth.ErrBadOrigin},
		{name: "path origin", signer: auth.NewSigner(nil), token: good, origin: "../agent", wantErr: auth.ErrBadOrigin},
		{name: "ecdsa key", signer: auth.NewSigner(ecKey), token: good, origin: "agent", wantErr: auth.ErrUnsupportedKey},
		{name: "typed nil key", signer: auth.NewSigner((*rsa.PrivateKey)(nil)), token: good, origin: "agent", wantErr: auth.ErrUnsupportedKey},
		{name: "broken key", signer: auth.NewSigner((*panickySigner)(nil)), token: good, origin: "agent", wantErr: auth.ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := tc.signer.Sign(tc.token, tc.origin)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, cred)
		})
	}

	assert.Empty(t, auth.NewSigner(ecKey).KeyType())
	var nilSigner *auth.Signer
	assert.Empty(t, nilSigner.KeyType())
	_, err = nilSigner.Sign(good, "agent")
	assert.Error(t, err)
}

// flip returns b with one bit of byte i (from the end if negative) changed.
func flip(b []byte, i int) []byte {
	b = append([]byte(nil), b...)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return b
}

func TestVerifyRejects(t *testing.T) {
	rsaKey, edKey := testKey(t, "rsa2048"), testKey(t, "ed25519")
	rsaPub, edPub := rsaKey.Public(), edKey.Public()
	otherEd, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	rsaCred := signWith(t, rsaKey, testToken(t))
	edCred := signWith(t, edKey, testToken(t))
	digestCred := signWith(t, nil, testToken(t))

	// Another identity, with the signature of the first one.
	root := testIdentity
	root.User = "root"
	rootToken, err := auth.NewSysToken(root, testStamp)
	require.NoError(t, err)

	// A validly signed token that does not hold a Sys.
	garbage := &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: []byte{0xff, 0xff, 0xff}}
	// Validly signed tokens that name nobody (NewSysToken refuses to make
	// them; a hostile issuer need not use it).
	sysToken := func(edit func(*authv1.Sys)) *authv1.Token {
		sys := proto.CloneOf(wantSys)
		edit(sys)
		b, err := proto.Marshal(sys)
		require.NoError(t, err)
		return &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: b}
	}
	noUser := sysToken(func(s *authv1.Sys) { s.User, s.Group = "", "" })
	atUser := sysToken(func(s *authv1.Sys) { s.User = "@" })
	noGroup := sysToken(func(s *authv1.Sys) { s.Group = "" })

	withToken := func(c *authv1.Credential, tok *authv1.Token) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Token = tok
		return c
	}
	withVerifier := func(c *authv1.Credential, v *authv1.Token) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Verifier = v
		return c
	}
	tamperToken := func(c *authv1.Credential, i int) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Token.Data = flip(c.Token.Data, i)
		return c
	}
	tamperSig := func(c *authv1.Credential, i int) *authv1.Credential {
		c = proto.CloneOf(c)
		c.Verifier.Data = flip(c.Verifier.Data, i)
		return c
	}
	sysVerifier := func(data []byte) *authv1.Token {
		return &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: data}
	}
	insecure := auth.Verifier{AllowInsecure: true}

	for _, tc := range []struct {
		name     string
		cred     *authv1.Credential
		pub      crypto.PublicKey
		verifier auth.Verifier
		wantErr  error
	}{
		// Missing parts.
		{name: "nil credential", cred: nil, pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "empty credential", cred: &authv1.Credential{}, pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "no token", cred: withToken(rsaCred, nil), pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "empty token", cred: withToken(rsaCred, &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS}), pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "no verifier", cred: withVerifier(rsaCred, nil), pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "empty verifier", cred: withVerifier(rsaCred, sysVerifier(nil)), pub: rsaPub, wantErr: auth.ErrNoToken},
		{name: "no verifier insecure", cred: withVerifier(digestCred, nil), verifier: insecure, wantErr: auth.ErrNoToken},

		// Wrong flavors, undecodable tokens.
		{name: "token AUTH_NONE", cred: withToken(rsaCred, &authv1.Token{Data: rsaCred.GetToken().GetData()}), pub: rsaPub, wantErr: auth.ErrMalformedToken},
		{name: "verifier AUTH_NONE", cred: withVerifier(rsaCred, &authv1.Token{Data: rsaCred.GetVerifier().GetData()}), pub: rsaPub, wantErr: auth.ErrMalformedToken},
		{name: "signed garbage rsa", cred: daosSign(t, rsaKey, garbage, nil), pub: rsaPub, wantErr: auth.ErrMalformedToken},
		{name: "signed garbage ed25519", cred: daosSign(t, edKey, garbage, nil), pub: edPub, wantErr: auth.ErrMalformedToken},
		{name: "digest of garbage", cred: daosSign(t, nil, garbage, nil), verifier: insecure, wantErr: auth.ErrMalformedToken},
		{name: "signed, no user or group", cred: daosSign(t, rsaKey, noUser, nil), pub: rsaPub, wantErr: auth.ErrMalformedToken},
		{name: "signed, user only '@'", cred: daosSign(t, edKey, atUser, nil), pub: edPub, wantErr: auth.ErrMalformedToken},
		{name: "signed, no group", cred: daosSign(t, edKey, noGroup, nil), pub: edPub, wantErr: auth.ErrMalformedToken},
		{name: "digest, no user", cred: daosSign(t, nil, noUser, nil), verifier: insecure, wantErr: auth.ErrMalformedToken},

		// Tampered tokens.
		{name: "rsa token last byte", cred: tamperToken(rsaCred, -1), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "rsa token first byte", cred: tamperToken(rsaCred, 0), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "ed25519 token byte", cred: tamperToken(edCred, 20), pub: edPub, wantErr: auth.ErrBadSignature},
		{name: "digest token byte", cred: tamperToken(digestCred, 20), verifier: insecure, wantErr: auth.ErrBadSignature},
		{name: "digest token byte with key", cred: tamperToken(digestCred, 20), pub: edPub, verifier: insecure, wantErr: auth.ErrBadSignature},
		{name: "rsa other user", cred: withToken(rsaCred, rootToken), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "ed25519 other user", cred: withToken(edCred, rootToken), pub: edPub, wantErr: auth.ErrBadSignature},
		{name: "digest other user", cred: withToken(digestCred, rootToken), verifier: insecure, wantErr: auth.ErrBadSignature},
		{name: "rsa token extra field", cred: withToken(rsaCred, &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: append(rsaCred.GetToken().GetData(), 0x32, 0x00)}), pub: rsaPub, wantErr: auth.ErrBadSignature},

		// Tampered signatures.
		{name: "rsa signature byte", cred: tamperSig(rsaCred, 100), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "rsa signature last byte", cred: tamperSig(rsaCred, -1), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "rsa signature truncated", cred: withVerifier(rsaCred, sysVerifier(rsaCred.GetVerifier().GetData()[:255])), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "rsa signature extended", cred: withVerifier(rsaCred, sysVerifier(append(rsaCred.GetVerifier().GetData(), 0))), pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "ed25519 signature byte", cred: tamperSig(edCred, 10), pub: edPub, wantErr: auth.ErrBadSignature},
		{name: "ed25519 signature truncated", cred: withVerifier(edCred, sysVerifier(edCred.GetVerifier().GetData()[:63])), pub: edPub, wantErr: auth.ErrBadSignature},
		{name: "digest byte", cred: tamperSig(digestCred, 0), verifier: insecure, wantErr: auth.ErrBadSignature},
		{name: "one byte", cred: withVerifier(rsaCred, sysVerifier([]byte{1})), pub: rsaPub, wantErr: auth.ErrBadSignature},

		// Wrong keys.
		{name: "rsa other rsa key", cred: rsaCred, pub: otherRSA(t).Public(), wantErr: auth.ErrBadSignature},
		{name: "rsa other rsa key size", cred: rsaCred, pub: testPub(t, "rsa3072"), wantErr: auth.ErrBadSignature},
		{name: "ed25519 other ed25519 key", cred: edCred, pub: otherEd.Public(), wantErr: auth.ErrBadSignature},
		{name: "rsa with ed25519 key", cred: rsaCred, pub: edPub, wantErr: auth.ErrBadSignature},
		{name: "ed25519 with rsa key", cred: edCred, pub: rsaPub, wantErr: auth.ErrBadSignature},
		{name: "rsa without key", cred: rsaCred, wantErr: auth.ErrBadSignature},
		{name: "rsa without key insecure", cred: rsaCred, verifier: insecure, wantErr: auth.ErrBadSignature},
		// An Ed25519 signature is 64 bytes like a digest: not taken for one.
		{name: "ed25519 without key insecure", cred: edCred, verifier: insecure, wantErr: auth.ErrBadSignature},
		{name: "ed25519 other key insecure", cred: edCred, pub: otherEd.Public(), verifier: insecure, wantErr: auth.ErrBadSignature},

		// Unsupported keys.
		{name: "ecdsa key", cred: rsaCred, pub: &ecKey.PublicKey, wantErr: auth.ErrUnsupportedKey},
		{name: "ecdsa key insecure", cred: digestCred, pub: &ecKey.PublicKey, verifier: insecure, wantErr: auth.ErrUnsupportedKey},
		{name: "rsa 1024 key", cred: rsaCred, pub: mustParsePub(t, "rsa1024.pub"), wantErr: auth.ErrUnsupportedKey},
		{name: "private key given", cred: rsaCred, pub: rsaKey, wantErr: auth.ErrUnsupportedKey},
		{name: "short ed25519 key", cred: edCred, pub: ed25519.PublicKey{1, 2, 3}, wantErr: auth.ErrUnsupportedKey},
		{name: "rsa key without modulus", cred: rsaCred, pub: &rsa.PublicKey{E: 65537}, wantErr: auth.ErrUnsupportedKey},
		{name: "typed nil rsa key", cred: rsaCred, pub: (*rsa.PublicKey)(nil), wantErr: auth.ErrUnsupportedKey},
		{name: "string key", cred: rsaCred, pub: "agent.pub", wantErr: auth.ErrUnsupportedKey},

		// Digest-only credentials.
		{name: "digest without key", cred: digestCred, wantErr: auth.ErrInsecureNotAllowed},
		{name: "digest with rsa key", cred: digestCred, pub: rsaPub, wantErr: auth.ErrInsecureNotAllowed},
		{name: "digest with ed25519 key", cred: digestCred, pub: edPub, wantErr: auth.ErrInsecureNotAllowed},
		{name: "DAOS digest without key", cred: daosSign(t, nil, testToken(t), nil), wantErr: auth.ErrInsecureNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys, err := tc.verifier.Verify(tc.cred, tc.pub)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, sys)
			for _, other := range []error{auth.ErrNoToken, auth.ErrMalformedToken, auth.ErrBadSignature, auth.ErrInsecureNotAllowed, auth.ErrUnsupportedKey, auth.ErrExpired} {
				if other != tc.wantErr {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

func mustParsePub(t testing.TB, name string) crypto.PublicKey {
	t.Helper()
	// ParsePublicKeyPEM refuses small RSA keys: decode it by hand.
	b := readTestdata(t, name)
	pub, err := auth.ParsePublicKeyPEM(b)
	if err == nil {
		return pub
	}
	require.ErrorIs(t, err, auth.ErrUnsupportedKey)
	key, err := parsePKIXUnchecked(b)
	require.NoError(t, err)
	return key
}

// TestVerifyAcceptsInsecure checks that digests pass with AllowInsecure,
// with or without a key, and that a digest is told apart from an Ed25519
// signature (both 64 bytes) by checking.
func TestVerifyAcceptsInsecure(t *testing.T) {
	digestCred := signWith(t, nil, testToken(t))
	daosDigest := daosSign(t, nil, testToken(t), nil)
	assert.Equal(t, digestCred.GetVerifier().GetData(), daosDigest.GetVerifier().GetData())
	for name, pub := range map[string]crypto.PublicKey{
		"no key":      nil,
		"rsa key":     testPub(t, "rsa2048"),
		"ed25519 key": testPub(t, "ed25519"),
	} {
		t.Run(name, func(t *testing.T) {
			for _, cred := range []*authv1.Credential{digestCred, daosDigest} {
				sys, err := auth.Verifier{AllowInsecure: true}.Verify(cred, pub)
				require.NoError(t, err)
				assert.True(t, proto.Equal(wantSys, sys))
			}
		})
	}
	// A signed credential still passes when insecure ones are allowed.
	_, err := auth.Verifier{AllowInsecure: true}.Verify(signWith(t, testKey(t, "ed25519"), testToken(t)), testPub(t, "ed25519"))
	require.NoError(t, err)
}

func TestVerifyStamp(t *testing.T) {
	now := testStamp
	at := func(d time.Duration) time.Time { return now.Add(d) }
	key := testKey(t, "ed25519")

	for _, tc := range []struct {
		name     string
		stamp    time.Time // zero: stamp 0
		verifier auth.Verifier
		wantErr  error
	}{
		{name: "no max age, stamp 0", stamp: time.Time{}},
		{name: "no max age, old", stamp: at(-10 * 365 * 24 * time.Hour)},
		{name: "no max age, future", stamp: at(24 * time.Hour)},
		{name: "fresh", stamp: now, verifier: auth.Verifier{MaxAge: 5 * time.Minute}},
		{name: "4m old", stamp: at(-4 * time.Minute), verifier: auth.Verifier{MaxAge: 5 * time.Minute}},
		{name: "exactly max age", stamp: at(-5 * time.Minute), verifier: auth.Verifier{MaxAge: 5 * time.Minute}},
		{name: "too old", stamp: at(-5*time.Minute - time.Second), verifier: auth.Verifier{MaxAge: 5 * time.Minute}, wantErr: auth.ErrExpired},
		{name: "much too old", stamp: time.Unix(1, 0), verifier: auth.Verifier{MaxAge: 5 * time.Minute}, wantErr: auth.ErrExpired},
		{name: "within default skew", stamp: at(59 * time.Second), verifier: auth.Verifier{MaxAge: 5 * time.Minute}},
		{name: "beyond default skew", stamp: at(61 * time.Second), verifier: auth.Verifier{MaxAge: 5 * time.Minute}, wantErr: auth.ErrExpired},
		{name: "within custom skew", stamp: at(4 * time.Minute), verifier: auth.Verifier{MaxAge: 5 * time.Minute, MaxSkew: 5 * time.Minute}},
		{name: "beyond custom skew", stamp: at(2 * time.Second), verifier: auth.Verifier{MaxAge: 5 * time.Minute, MaxSkew: time.Second}, wantErr: auth.ErrExpired},
		{name: "stamp 0 with max age", stamp: time.Time{}, verifier: auth.Verifier{MaxAge: 5 * time.Minute}, wantErr: auth.ErrExpired},
		{name: "insecure too old", stamp: at(-time.Hour), verifier: auth.Verifier{MaxAge: time.Minute, AllowInsecure: true}, wantErr: auth.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.NewSysToken(testIdentity, tc.stamp)
			require.NoError(t, err)
			signKey := key
			if tc.verifier.AllowInsecure {
				signKey = nil
			}
			cred := signWith(t, signKey, tok)
			v := tc.verifier
			v.Now = func() time.Time { return now }
			sys, err := v.Verify(cred, key.Public())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, sys)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "alice@", sys.GetUser())
		})
	}

	// Stamps no time.Time can hold.
	for _, stamp := range []uint64{1 << 40, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		sys := proto.CloneOf(wantSys)
		sys.Stamp = stamp
		data, err := proto.Marshal(sys)
		require.NoError(t, err)
		cred := daosSign(t, key, &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: data}, nil)
		_, err = auth.Verifier{MaxAge: time.Hour}.Verify(cred, key.Public())
		assert.ErrorIs(t, err, auth.ErrExpired, stamp)
		_, err = auth.Verifier{}.Verify(cred, key.Public())
		assert.NoError(t, err, stamp)
	}

	// The real clock is used when Now is nil.
	tok, err := auth.NewSysToken(testIdentity, time.Now())
	require.NoError(t, err)
	_, err = auth.Verifier{MaxAge: time.Minute}.Verify(signWith(t, key, tok), key.Public())
	require.NoError(t, err)
	_, err = auth.Verifier{MaxAge: time.Minute}.Verify(signWith(t, key, testToken(t)), key.Public())
	require.ErrorIs(t, err, auth.ErrExpired)
}

// TestDAOSCompatibility checks both directions against the way DAOS signs
// and verifies, written out independently of the package.
func TestDAOSCompatibility(t *testing.T) {
	rsaKey := testKey(t, "rsa3072").(*rsa.PrivateKey)

	t.Run("DAOS signature verifies", func(t *testing.T) {
		for name, opts := range map[string]*rsa.PSSOptions{
			"nil options (DAOS)": nil,
			"salt auto":          {SaltLength: rsa.PSSSaltLengthAuto},
			"salt equals hash":   {SaltLength: rsa.PSSSaltLengthEqualsHash},
			"salt 20":            {SaltLength: 20},
			"salt 1":             {SaltLength: 1},
		} {
			t.Run(name, func(t *testing.T) {
				cred := daosSign(t, rsaKey, testToken(t), opts)
				sys, err := auth.Verifier{}.Verify(cred, &rsaKey.PublicKey)
				require.NoError(t, err)
				assert.True(t, proto.Equal(wantSys, sys))
			})
		}
	})

	t.Run("our signature verifies as DAOS does", func(t *testing.T) {
		cred := signWith(t, rsaKey, testToken(t))
		b, err := proto.Marshal(cred.GetToken())
		require.NoError(t, err)
		digest := sha512.Sum512(b)
		require.NoError(t, rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA512, digest[:], cred.GetVerifier().GetData(), nil))
		// DAOS uses the largest salt (nil options); so do we.
		require.NoError(t, rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA512, digest[:], cred.GetVerifier().GetData(),
			&rsa.PSSOptions{SaltLength: rsaKey.Size() - 2 - sha512.Size}))
	})

	t.Run("our ed25519 signature is pure Ed25519 over the token bytes", func(t *testing.T) {
		edKey := testKey(t, "ed25519")
		cred := signWith(t, edKey, testToken(t))
		b, err := proto.Marshal(cred.GetToken())
		require.NoError(t, err)
		assert.True(t, ed25519.Verify(edKey.Public().(ed25519.PublicKey), b, cred.GetVerifier().GetData()))
	})

	t.Run("unknown token fields are kept and signed", func(t *testing.T) {
		// A newer peer may add fields to Token; the verifier re-marshals
		// what it received, unknown fields included, as DAOS does.
		var tok authv1.Token
		raw := protowire.AppendTag(nil, 1, protowire.VarintType)
		raw = protowire.AppendVarint(raw, 1)
		raw = protowire.AppendTag(raw, 2, protowire.BytesType)
		raw = protowire.AppendBytes(raw, testToken(t).GetData())
		raw = protowire.AppendTag(raw, 9, protowire.BytesType)
		raw = protowire.AppendBytes(raw, []byte("future"))
		require.NoError(t, proto.Unmarshal(raw, &tok))
		cred := daosSign(t, rsaKey, &tok, nil)

		wire, err := proto.Marshal(cred)
		require.NoError(t, err)
		var got authv1.Credential
		require.NoError(t, proto.Unmarshal(wire, &got))
		_, err = auth.Verifier{}.Verify(&got, &rsaKey.PublicKey)
		require.NoError(t, err)

		// Dropping the unknown field breaks the signature.
		_, err = auth.Verifier{}.Verify(&authv1.Credential{
			Token:    &authv1.Token{Flavor: tok.GetFlavor(), Data: tok.GetData()},
			Verifier: got.GetVerifier(),
		}, &rsaKey.PublicKey)
		require.ErrorIs(t, err, auth.ErrBadSignature)
	})
}

func TestSignatureKind(t *testing.T) {
	digestCred := signWith(t, nil, testToken(t))
	for _, tc := range []struct {
		name string
		cred *authv1.Credential
		want string
	}{
		{name: "nil", cred: nil, want: "none"},
		{name: "no verifier", cred: &authv1.Credential{Token: testToken(t)}, want: "none"},
		{name: "digest", cred: digestCred, want: "digest (insecure)"},
		{name: "digest of another token", cred: &authv1.Credential{Token: &authv1.Token{Data: []byte{1}}, Verifier: digestCred.GetVerifier()}, want: "ed25519 (unchecked)"},
		{name: "ed25519", cred: signWith(t, testKey(t, "ed25519"), testToken(t)), want: "ed25519 (unchecked)"},
		{name: "rsa 2048", cred: signWith(t, testKey(t, "rsa2048"), testToken(t)), want: "rsa-2048 (unchecked)"},
		{name: "rsa 3072", cred: signWith(t, testKey(t, "rsa3072"), testToken(t)), want: "rsa-3072 (unchecked)"},
		{name: "odd size", cred: &authv1.Credential{Verifier: &authv1.Token{Data: make([]byte, 7)}}, want: "unknown (7 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, auth.SignatureKind(tc.cred))
		})
	}
}

// TestErrorMessages checks that errors say what went wrong and what to do.
func TestErrorMessages(t *testing.T) {
	cred := signWith(t, nil, testToken(t))
	cred.Origin = strings.Repeat("x", 1000)
	_, err := auth.Verifier{}.Verify(cred, nil)
	require.ErrorIs(t, err, auth.ErrInsecureNotAllowed)
	assert.Contains(t, err.Error(), "allow insecure")
	assert.Less(t, len(err.Error()), 400, "a long origin is shortened: %s", err)

	cred = signWith(t, testKey(t, "ed25519"), testToken(t))
	_, err = auth.Verifier{}.Verify(cred, testPub(t, "rsa2048"))
	require.ErrorIs(t, err, auth.ErrBadSignature)
	assert.Contains(t, err.Error(), `origin "agent"`)
	assert.Contains(t, err.Error(), "rsa public key")
}

func TestConcurrentUse(t *testing.T) {
	key := testKey(t, "rsa2048")
	signer := auth.NewSigner(key)
	v := auth.Verifier{MaxAge: time.Minute}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				tok, err := auth.NewSysToken(testIdentity, time.Now())
				assert.NoError(t, err)
				cred, err := signer.Sign(tok, "agent")
				assert.NoError(t, err)
				_, err = v.Verify(cred, key.Public())
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

// TestVerifyKeyForms checks the forms of public keys Verify takes.
func TestVerifyKeyForms(t *testing.T) {
	edKey, rsaKey := testKey(t, "ed25519"), testKey(t, "rsa2048").(*rsa.PrivateKey)
	edPub := edKey.Public().(ed25519.PublicKey)
	for name, tc := range map[string]struct {
		key crypto.Signer
		pub crypto.PublicKey
	}{
		"ed25519 value":   {edKey, edPub},
		"ed25519 pointer": {edKey, &edPub},
		"ed25519 parsed":  {edKey, mustParsePub(t, "ed25519.pub")},
		"rsa pointer":     {rsaKey, &rsaKey.PublicKey},
		"rsa parsed":      {rsaKey, mustParsePub(t, "rsa2048.pub")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.Verifier{}.Verify(signWith(t, tc.key, testToken(t)), tc.pub)
			require.NoError(t, err)
		})
	}
}
