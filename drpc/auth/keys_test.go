package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc/auth"
)

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     auth.KeyType
		bits     int
		wantBits int // RSA modulus size
		wantErr  error
	}{
		{name: "ed25519", kind: auth.KeyEd25519},
		{name: "ed25519 ignores bits", kind: auth.KeyEd25519, bits: 1},
		{name: "rsa default is 3072", kind: auth.KeyRSA, wantBits: 3072},
		{name: "rsa 2048", kind: auth.KeyRSA, bits: 2048, wantBits: 2048},
		{name: "rsa 1024 too small", kind: auth.KeyRSA, bits: 1024, wantErr: auth.ErrUnsupportedKey},
		{name: "rsa 2047 too small", kind: auth.KeyRSA, bits: 2047, wantErr: auth.ErrUnsupportedKey},
		{name: "rsa negative", kind: auth.KeyRSA, bits: -1, wantErr: auth.ErrUnsupportedKey},
		{name: "rsa too large", kind: auth.KeyRSA, bits: auth.MaxRSABits + 1, wantErr: auth.ErrUnsupportedKey},
		{name: "none", kind: auth.KeyNone, wantErr: auth.ErrUnsupportedKey},
		{name: "empty", kind: "", wantErr: auth.ErrUnsupportedKey},
		{name: "ecdsa", kind: "ecdsa", wantErr: auth.ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantBits > 2048 && testing.Short() {
				t.Skip("slow RSA key generation")
			}
			key, err := auth.GenerateKey(tc.kind, tc.bits)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, key)
				return
			}
			require.NoError(t, err)
			got, err := auth.KeyTypeOf(key)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, got)
			if tc.wantBits != 0 {
				require.IsType(t, &rsa.PrivateKey{}, key)
				assert.Equal(t, tc.wantBits, key.(*rsa.PrivateKey).N.BitLen())
			} else {
				assert.IsType(t, ed25519.PrivateKey{}, key)
			}
		})
	}
}

func TestParseKeyType(t *testing.T) {
	for in, want := range map[string]auth.KeyType{"ed25519": auth.KeyEd25519, "RSA": auth.KeyRSA, " rsa\n": auth.KeyRSA} {
		got, err := auth.ParseKeyType(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, string(want), got.String())
	}
	for _, in := range []string{"", "none", "ecdsa", "rsa3072"} {
		_, err := auth.ParseKeyType(in)
		assert.ErrorIs(t, err, auth.ErrUnsupportedKey, in)
	}
}

func TestKeyTypeOf(t *testing.T) {
	rsaKey := testKey(t, "rsa2048").(*rsa.PrivateKey)
	edKey := testKey(t, "ed25519").(ed25519.PrivateKey)
	edPub := edKey.Public().(ed25519.PublicKey)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	small := testKey(t, "rsa2048").(*rsa.PrivateKey).PublicKey
	small.N = new(big.Int).Rsh(small.N, 1100) // 948 bits
	evenE := rsaKey.PublicKey
	evenE.E = 4

	for _, tc := range []struct {
		name    string
		key     any
		want    auth.KeyType
		wantErr bool
	}{
		{name: "rsa private", key: rsaKey, want: auth.KeyRSA},
		{name: "rsa public", key: &rsaKey.PublicKey, want: auth.KeyRSA},
		{name: "ed25519 private", key: edKey, want: auth.KeyEd25519},
		{name: "ed25519 private pointer", key: &edKey, want: auth.KeyEd25519},
		{name: "ed25519 public", key: edPub, want: auth.KeyEd25519},
		{name: "ed25519 public pointer", key: &edPub, want: auth.KeyEd25519},
		{name: "wrapped rsa signer", key: wrappedSigner{rsaKey}, want: auth.KeyRSA},
		{name: "wrapped ed25519 signer", key: wrappedSigner{edKey}, want: auth.KeyEd25519},
		{name: "ecdsa private", key: ecKey, wantErr: true},
		{name: "ecdsa public", key: &ecKey.PublicKey, wantErr: true},
		{name: "wrapped ecdsa signer", key: wrappedSigner{ecKey}, wantErr: true},
		{name: "nil", key: nil, wantErr: true},
		{name: "typed nil rsa private", key: (*rsa.PrivateKey)(nil), wantErr: true},
		{name: "typed nil rsa public", key: (*rsa.PublicKey)(nil), wantErr: true},
		{name: "typed nil ed25519 pointer", key: (*ed25519.PublicKey)(nil), wantErr: true},
		{name: "rsa without modulus", key: &rsa.PublicKey{E: 65537}, wantErr: true},
		{name: "rsa too small", key: &small, wantErr: true},
		{name: "rsa even exponent", key: &evenE, wantErr: true},
		{name: "short ed25519 public", key: edPub[:31], wantErr: true},
		{name: "short ed25519 private", key: edKey[:10], wantErr: true},
		{name: "empty ed25519 private", key: ed25519.PrivateKey(nil), wantErr: true},
		{name: "broken signer", key: (*panickySigner)(nil), wantErr: true},
		{name: "string", key: "rsa", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.KeyTypeOf(tc.key)
			if tc.wantErr {
				require.ErrorIs(t, err, auth.ErrUnsupportedKey)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	rsaKey := testKey(t, "rsa2048").(*rsa.PrivateKey)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	encode := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
	}

	for _, tc := range []struct {
		name     string
		in       []byte
		want     auth.KeyType
		wantErr  error
		wantText string // in the error
	}{
		{name: "openssl rsa 2048", in: readTestdata(t, "rsa2048.key"), want: auth.KeyRSA},
		{name: "openssl rsa 3072", in: readTestdata(t, "rsa3072.key"), want: auth.KeyRSA},
		{name: "openssl ed25519", in: readTestdata(t, "ed25519.key"), want: auth.KeyEd25519},
		{name: "text around the block", in: append(append([]byte("comment\n"), pkcs8PEM(t, rsaKey)...), "trailer\n"...), want: auth.KeyRSA},
		{name: "openssl ecdsa", in: readTestdata(t, "ecdsa-p256.key"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl ed448", in: readTestdata(t, "ed448.key"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl rsa-pss only key", in: readTestdata(t, "rsa-pss2048.key"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl rsa 1024", in: readTestdata(t, "rsa1024.key"), wantErr: auth.ErrUnsupportedKey, wantText: "1024-bit"},
		{name: "sec1 ecdsa", in: encode("EC PRIVATE KEY", ecDER, nil), wantErr: auth.ErrUnsupportedKey},
		{name: "pkcs1 rsa", in: encode("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil), wantErr: auth.ErrMalformedKey, wantText: "openssl pkcs8"},
		{name: "pkcs1 bytes labelled pkcs8", in: encode("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil), wantErr: auth.ErrMalformedKey},
		{name: "public key", in: readTestdata(t, "rsa2048.pub"), wantErr: auth.ErrMalformedKey},
		{name: "encrypted", in: encode("ENCRYPTED PRIVATE KEY", pkcs8, nil), wantErr: auth.ErrMalformedKey, wantText: "encrypted"},
		{name: "legacy encryption headers", in: encode("PRIVATE KEY", pkcs8, map[string]string{"Proc-Type": "4,ENCRYPTED"}), wantErr: auth.ErrMalformedKey},
		{name: "two blocks", in: append(pkcs8PEM(t, rsaKey), readTestdata(t, "ed25519.key")...), wantErr: auth.ErrMalformedKey},
		{name: "truncated der", in: encode("PRIVATE KEY", pkcs8[:len(pkcs8)/2], nil), wantErr: auth.ErrMalformedKey},
		{name: "der not pem", in: pkcs8, wantErr: auth.ErrMalformedKey},
		{name: "empty", in: nil, wantErr: auth.ErrMalformedKey},
		{name: "garbage", in: []byte("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"), wantErr: auth.ErrMalformedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := auth.ParsePrivateKeyPEM(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.wantText)
				assert.Nil(t, key)
				return
			}
			require.NoError(t, err)
			got, err := auth.KeyTypeOf(key)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	rsaKey := testKey(t, "rsa2048").(*rsa.PrivateKey)
	pkix, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		in       []byte
		want     crypto.PublicKey
		wantErr  error
		wantText string
	}{
		{name: "openssl rsa 2048", in: readTestdata(t, "rsa2048.pub"), want: rsaKey.Public()},
		{name: "openssl rsa 3072", in: readTestdata(t, "rsa3072.pub"), want: testPub(t, "rsa3072")},
		{name: "openssl ed25519", in: readTestdata(t, "ed25519.pub"), want: testPub(t, "ed25519")},
		{name: "openssl ecdsa", in: readTestdata(t, "ecdsa-p256.pub"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl ed448", in: readTestdata(t, "ed448.pub"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl rsa-pss only key", in: readTestdata(t, "rsa-pss2048.pub"), wantErr: auth.ErrUnsupportedKey},
		{name: "openssl rsa 1024", in: readTestdata(t, "rsa1024.pub"), wantErr: auth.ErrUnsupportedKey},
		{name: "pkcs1 rsa", in: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}), wantErr: auth.ErrMalformedKey, wantText: "openssl rsa"},
		{name: "private key", in: readTestdata(t, "rsa2048.key"), wantErr: auth.ErrMalformedKey},
		{name: "certificate", in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pkix}), wantErr: auth.ErrMalformedKey, wantText: "as <origin>.crt"},
		{name: "truncated der", in: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix[:20]}), wantErr: auth.ErrMalformedKey},
		{name: "empty", in: []byte{}, wantErr: auth.ErrMalformedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := auth.ParsePublicKeyPEM(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.wantText)
				assert.Nil(t, pub)
				return
			}
			require.NoError(t, err)
			assert.True(t, tc.want.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub))
		})
	}
}

func pkcs8PEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	b, err := auth.MarshalPrivateKeyPEM(key)
	require.NoError(t, err)
	return b
}

func TestMarshalPEM(t *testing.T) {
	edKey := testKey(t, "ed25519").(ed25519.PrivateKey)
	for _, key := range []crypto.Signer{testKey(t, "rsa2048"), edKey, &edKey} {
		b := pkcs8PEM(t, key)
		assert.True(t, strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n"))
		back, err := auth.ParsePrivateKeyPEM(b)
		require.NoError(t, err)
		assert.True(t, back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()))

		pb, err := auth.MarshalPublicKeyPEM(key.Public())
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(pb), "-----BEGIN PUBLIC KEY-----\n"))
		pub, err := auth.ParsePublicKeyPEM(pb)
		require.NoError(t, err)
		assert.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()))
	}
	// The OpenSSL files and ours are the same encoding.
	assert.Equal(t, string(readTestdata(t, "ed25519.key")), string(pkcs8PEM(t, edKey)))
	pb, err := auth.MarshalPublicKeyPEM(edKey.Public())
	require.NoError(t, err)
	assert.Equal(t, string(readTestdata(t, "ed25519.pub")), string(pb))

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, key := range []crypto.Signer{ecKey, wrappedSigner{edKey}, nil} {
		_, err := auth.MarshalPrivateKeyPEM(key)
		assert.ErrorIs(t, err, auth.ErrUnsupportedKey)
	}
	_, err = auth.MarshalPublicKeyPEM(&ecKey.PublicKey)
	assert.ErrorIs(t, err, auth.ErrUnsupportedKey)
}

// mode returns the permission bits of path.
func mode(t testing.TB, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// dirNames lists the names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteKeyPairRoundTrip(t *testing.T) {
	edKey, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{name: "ed25519", key: edKey},
		{name: "rsa", key: testKey(t, "rsa2048")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "agent.key")
			require.NoError(t, auth.WriteKeyPair(tc.key, path, false))

			assert.Equal(t, fs.FileMode(0o400), mode(t, path), "as DAOS's agent wants it")
			assert.Equal(t, fs.FileMode(0o644), mode(t, path+".pub"))
			assert.ElementsMatch(t, []string{"agent.key", "agent.key.pub"}, dirNames(t, dir), "no temporary files left")

			priv, err := auth.LoadPrivateKey(path)
			require.NoError(t, err)
			assert.True(t, priv.(interface{ Equal(crypto.PrivateKey) bool }).Equal(tc.key))
			pub, err := auth.LoadPublicKey(path + ".pub")
			require.NoError(t, err)
			assert.True(t, tc.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub))

			// What one writes, the other verifies.
			cred := signWith(t, priv, testToken(t))
			_, err = auth.Verifier{}.Verify(cred, pub)
			require.NoError(t, err)
		})
	}
}

func TestWriteKeyPairOverwrite(t *testing.T) {
	key := testKey(t, "ed25519")
	other, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		existing []string // files there before
		force    bool
		wantErr  string // file named in the ErrKeyExists error
	}{
		{name: "private exists", existing: []string{"k"}, wantErr: "k"},
		{name: "public exists", existing: []string{"k.pub"}, wantErr: "k.pub"},
		{name: "both exist", existing: []string{"k", "k.pub"}, wantErr: "k"},
		{name: "force replaces both", existing: []string{"k", "k.pub"}, force: true},
		{name: "force replaces one", existing: []string{"k.pub"}, force: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "k")
			for _, name := range tc.existing {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("old "+name), 0o666))
				require.NoError(t, os.Chmod(filepath.Join(dir, name), 0o666))
			}

			err := auth.WriteKeyPair(other, path, tc.force)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, auth.ErrKeyExists)
				assert.True(t, strings.HasSuffix(err.Error(), ": "+filepath.Join(dir, tc.wantErr)), err.Error())
				assert.NotContains(t, err.Error(), "force", "the hint is the caller's")
				// Nothing was written or removed.
				assert.ElementsMatch(t, tc.existing, dirNames(t, dir))
				for _, name := range tc.existing {
					b, err := os.ReadFile(filepath.Join(dir, name))
					require.NoError(t, err)
					assert.Equal(t, "old "+name, string(b))
				}
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"k", "k.pub"}, dirNames(t, dir))
			// The new files have the right modes, whatever the old ones had.
			assert.Equal(t, fs.FileMode(0o400), mode(t, path))
			assert.Equal(t, fs.FileMode(0o644), mode(t, path+".pub"))
			priv, err := auth.LoadPrivateKey(path)
			require.NoError(t, err)
			assert.True(t, priv.(interface{ Equal(crypto.PrivateKey) bool }).Equal(other))
			assert.False(t, priv.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key))
		})
	}
}

func TestWriteKeyPairErrors(t *testing.T) {
	dir := t.TempDir()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	err = auth.WriteKeyPair(nil, filepath.Join(dir, "k"), false)
	assert.ErrorIs(t, err, auth.ErrUnsupportedKey)
	err = auth.WriteKeyPair(ecKey, filepath.Join(dir, "k"), false)
	assert.ErrorIs(t, err, auth.ErrUnsupportedKey)
	err = auth.WriteKeyPair(wrappedSigner{testKey(t, "ed25519")}, filepath.Join(dir, "k"), false)
	assert.ErrorIs(t, err, auth.ErrUnsupportedKey, "a key that cannot be exported")
	err = auth.WriteKeyPair(testKey(t, "ed25519"), "", false)
	assert.Error(t, err)
	err = auth.WriteKeyPair(testKey(t, "ed25519"), filepath.Join(dir, "missing", "k"), false)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Empty(t, dirNames(t, dir))

	// A directory in the way, even with force: refused before anything is
	// written.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d.pub"), 0o755))
	err = auth.WriteKeyPair(testKey(t, "ed25519"), filepath.Join(dir, "d"), true)
	assert.ErrorContains(t, err, "is a directory")
	assert.ElementsMatch(t, []string{"d.pub"}, dirNames(t, dir))
}

func TestWriteKeyPairRelativePath(t *testing.T) {
	key := testKey(t, "ed25519")
	t.Chdir(t.TempDir())
	require.NoError(t, auth.WriteKeyPair(key, "agent.key", false))
	_, err := auth.LoadPrivateKey("agent.key")
	require.NoError(t, err)
	_, err = auth.LoadPublicKey("agent.key.pub")
	require.NoError(t, err)
}

func TestLoadPrivateKeyModes(t *testing.T) {
	// Tests may run as root, who can read any file: these check the mode
	// test itself, not what the OS allows.
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o640, false}, {0o644, false}, {0o604, false}, {0o620, false}, {0o602, false}, {0o666, false}, {0o610, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.key")
			require.NoError(t, os.WriteFile(path, readTestdata(t, "ed25519.key"), 0o600))
			require.NoError(t, os.Chmod(path, tc.mode))
			key, err := auth.LoadPrivateKey(path)
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, key)
				return
			}
			require.ErrorIs(t, err, auth.ErrKeyPermissions)
			assert.Contains(t, err.Error(), "chmod 400 "+path)
			assert.Nil(t, key)
		})
	}
}

func TestLoadPublicKeyModes(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o644, true}, {0o444, true}, {0o600, true}, {0o755, true},
		{0o664, false}, {0o646, false}, {0o666, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.pub")
			require.NoError(t, os.WriteFile(path, readTestdata(t, "ed25519.pub"), 0o644))
			require.NoError(t, os.Chmod(path, tc.mode))
			pub, err := auth.LoadPublicKey(path)
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, pub)
				return
			}
			require.ErrorIs(t, err, auth.ErrKeyPermissions)
			assert.Contains(t, err.Error(), "chmod 644 "+path)
		})
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	require.NoError(t, os.WriteFile(good, readTestdata(t, "ed25519.key"), 0o600))
	link := filepath.Join(dir, "link.key")
	require.NoError(t, os.Symlink(good, link))
	fifo := filepath.Join(dir, "fifo.key")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.key")
	require.NoError(t, os.WriteFile(big, make([]byte, 1<<20), 0o600))
	ecdsaKey := filepath.Join(dir, "ecdsa.key")
	require.NoError(t, os.WriteFile(ecdsaKey, readTestdata(t, "ecdsa-p256.key"), 0o600))
	ecdsaPub := filepath.Join(dir, "ecdsa.pub")
	require.NoError(t, os.WriteFile(ecdsaPub, readTestdata(t, "ecdsa-p256.pub"), 0o644))

	_, err := auth.LoadPrivateKey(link)
	require.NoError(t, err, "symbolic links are followed")

	for _, tc := range []struct {
		name    string
		path    string
		wantErr error
	}{
		{name: "missing", path: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
		{name: "directory", path: dir, wantErr: auth.ErrMalformedKey},
		{name: "fifo", path: fifo, wantErr: auth.ErrMalformedKey},
		{name: "too large", path: big, wantErr: auth.ErrMalformedKey},
		{name: "ecdsa", path: ecdsaKey, wantErr: auth.ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.LoadPrivateKey(tc.path)
			require.ErrorIs(t, err, tc.wantErr)
			if tc.name != "ecdsa" {
				_, err = auth.LoadPublicKey(tc.path)
				require.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
	_, err = auth.LoadPublicKey(ecdsaPub)
	assert.ErrorIs(t, err, auth.ErrUnsupportedKey)
	_, err = auth.LoadPublicKey(good)
	assert.ErrorIs(t, err, auth.ErrMalformedKey, "a private key is not a public key")
	assert.Contains(t, err.Error(), good)
}

// TestLoadPrivateKeyGivenPublic: a public key, a certificate or another
// file given as the private key is refused as what it is, whatever its
// mode: no chmod advice.
func TestLoadPrivateKeyGivenPublic(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"agent.key.pub", "is a public key", readTestdata(t, "ed25519.pub")},
		{"agent.crt", "is a certificate", certPEM(t, testKey(t, "rsa2048"), testStamp.Add(-time.Hour), testStamp.Add(time.Hour))},
		{"agent.yaml", "malformed key: no PEM block found", []byte("origin: agent\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			_, err := auth.LoadPrivateKey(path)
			require.ErrorIs(t, err, auth.ErrMalformedKey)
			if tc.name == "agent.yaml" {
				assert.Contains(t, err.Error(), tc.want)
			} else {
				assert.Contains(t, err.Error(), path+" "+tc.want+", not a private key")
			}
			assert.NotContains(t, err.Error(), "chmod")
		})
	}
}

func TestLoadOriginKey(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644))

	path, err := auth.OriginKeyPath(dir, "agent")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "agent.pub"), path)
	pub, err := auth.LoadOriginKey(dir, "agent")
	require.NoError(t, err)
	assert.True(t, testPub(t, "ed25519").(ed25519.PublicKey).Equal(pub))

	_, err = auth.LoadOriginKey(dir, "other")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	for _, origin := range []string{"", "../agent", "..", ".agent", "a/b"} {
		_, err := auth.LoadOriginKey(dir, origin)
		assert.ErrorIs(t, err, auth.ErrBadOrigin, origin)
		_, err = auth.OriginKeyPath(dir, origin)
		assert.ErrorIs(t, err, auth.ErrBadOrigin, origin)
	}
}
