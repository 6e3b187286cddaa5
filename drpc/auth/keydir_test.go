package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc/auth"
)

// certPEM returns a self-signed x509 certificate for key, valid from
// notBefore to notAfter, in PEM: what DAOS keeps as <origin>.crt.
func certPEM(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "agent"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestKeyDir(t *testing.T) {
	rsaKey, edKey := testKey(t, "rsa2048"), testKey(t, "ed25519")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	valid := certPEM(t, rsaKey, testStamp.Add(-time.Hour), testStamp.Add(time.Hour))
	expired := certPEM(t, rsaKey, testStamp.Add(-2*time.Hour), testStamp.Add(-time.Hour))
	future := certPEM(t, rsaKey, testStamp.Add(time.Hour), testStamp.Add(2*time.Hour))
	write := func(path string, data []byte, mode fs.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, data, mode))
		require.NoError(t, os.Chmod(path, mode))
	}

	for _, tc := range []struct {
		name    string
		setup   func(root, keys string) string // returns the keys dir to use
		want    crypto.PublicKey
		wantErr error
		message string
	}{
		{name: "pub", want: edKey.Public(), setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			return keys
		}},
		{name: "crt as DAOS keeps it", want: rsaKey.Public(), setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), valid, 0o644)
			return keys
		}},
		{name: "crt expired", wantErr: auth.ErrCertificateNotValid, message: "expired on", setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), expired, 0o644)
			return keys
		}},
		{name: "crt not valid yet", wantErr: auth.ErrCertificateNotValid, message: "not valid yet", setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), future, 0o644)
			return keys
		}},
		{name: "pub and crt of the same key", want: rsaKey.Public(), setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "rsa2048.pub"), 0o644)
			write(filepath.Join(keys, "agent.crt"), valid, 0o644)
			return keys
		}},
		{name: "pub and crt of other keys", wantErr: auth.ErrKeyMismatch, message: "hold different public keys", setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			write(filepath.Join(keys, "agent.crt"), valid, 0o644)
			return keys
		}},
		{name: "pub and an expired crt", wantErr: auth.ErrCertificateNotValid, setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "rsa2048.pub"), 0o644)
			write(filepath.Join(keys, "agent.crt"), expired, 0o644)
			return keys
		}},
		{name: "neither", wantErr: fs.ErrNotExist, message: "neither", setup: func(_, keys string) string {
			write(filepath.Join(keys, "other.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			return keys
		}},
		{name: "no keys dir", wantErr: fs.ErrNotExist, setup: func(root, _ string) string { return filepath.Join(root, "missing") }},
		{name: "keys dir is a file", message: "not a directory", setup: func(root, _ string) string {
			write(filepath.Join(root, "file"), nil, 0o644)
			return filepath.Join(root, "file")
		}},
		{name: "crt not a certificate", wantErr: auth.ErrMalformedKey, setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), readTestdata(t, "rsa2048.pub"), 0o644)
			return keys
		}},
		{name: "crt of an ECDSA key", wantErr: auth.ErrUnsupportedKey, setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), certPEM(t, ecKey, testStamp.Add(-time.Hour), testStamp.Add(time.Hour)), 0o644)
			return keys
		}},
		{name: "crt writable by others", wantErr: auth.ErrKeyPermissions, message: "chmod 644", setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.crt"), valid, 0o666)
			return keys
		}},
		{name: "pub writable by group", wantErr: auth.ErrKeyPermissions, setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o664)
			return keys
		}},
		{name: "keys dir writable by others", wantErr: auth.ErrKeyPermissions, message: "can add or replace keys", setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Chmod(keys, 0o777))
			return keys
		}},
		{name: "keys dir writable by others, sticky", wantErr: auth.ErrKeyPermissions, setup: func(_, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Chmod(keys, 0o777|fs.ModeSticky))
			return keys
		}},
		{name: "keys dir through a symbolic link", want: edKey.Public(), setup: func(root, keys string) string {
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Symlink(keys, filepath.Join(root, "link")))
			return filepath.Join(root, "link")
		}},
		{name: "a directory above writable by others", wantErr: auth.ErrKeyPermissions, message: "above the keys directory", setup: func(root, _ string) string {
			keys := filepath.Join(root, "open", "keys")
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Chmod(filepath.Join(root, "open"), 0o777))
			return keys
		}},
		{name: "a directory above writable by others, sticky (as /tmp)", want: edKey.Public(), setup: func(root, _ string) string {
			keys := filepath.Join(root, "tmp", "keys")
			write(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Chmod(filepath.Join(root, "tmp"), 0o777|fs.ModeSticky))
			return keys
		}},
		{name: "pub linked to a file in an open directory", wantErr: auth.ErrKeyPermissions, message: "symbolic link", setup: func(root, keys string) string {
			open := filepath.Join(root, "open")
			write(filepath.Join(open, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.Chmod(open, 0o777))
			require.NoError(t, os.MkdirAll(keys, 0o755))
			require.NoError(t, os.Symlink(filepath.Join(open, "agent.pub"), filepath.Join(keys, "agent.pub")))
			return keys
		}},
		{name: "pub linked to a file in a safe directory", want: edKey.Public(), setup: func(root, keys string) string {
			safe := filepath.Join(root, "safe")
			write(filepath.Join(safe, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644)
			require.NoError(t, os.MkdirAll(keys, 0o755))
			require.NoError(t, os.Symlink(filepath.Join(safe, "agent.pub"), filepath.Join(keys, "agent.pub")))
			return keys
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			keys := tc.setup(root, filepath.Join(root, "keys"))
			pub, err := auth.KeyDir{Path: keys, Now: func() time.Time { return testStamp }}.Load("agent")
			if tc.want != nil {
				require.NoError(t, err)
				assert.True(t, tc.want.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub))
				return
			}
			require.Error(t, err)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			assert.Contains(t, err.Error(), tc.message)
			assert.Nil(t, pub)
		})
	}
}

// TestKeyDirOwners: as root, key files and directories that another user
// owns are refused, whatever their modes: that user could replace a key
// with its own, or add one (uid 65534 did both).
func TestKeyDirOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user (uid 65534)")
	}
	const nobody = 65534
	for _, tc := range []struct {
		name  string
		setup func(root, keys string) string
		want  string
	}{
		{"a key file owned by another user", func(_, keys string) string {
			require.NoError(t, os.Lchown(filepath.Join(keys, "agent.pub"), nobody, nobody))
			return filepath.Join(keys, "agent.pub")
		}, "public key"},
		{"a certificate owned by another user", func(_, keys string) string {
			crt := filepath.Join(keys, "agent.crt")
			require.NoError(t, os.Rename(filepath.Join(keys, "agent.pub"), filepath.Join(keys, "other.pub")))
			require.NoError(t, os.WriteFile(crt, certPEM(t, testKey(t, "rsa2048"), testStamp.Add(-time.Hour), testStamp.Add(time.Hour)), 0o644))
			require.NoError(t, os.Chown(crt, nobody, nobody))
			return crt
		}, "certificate"},
		{"a keys dir owned by another user", func(_, keys string) string {
			require.NoError(t, os.Chown(keys, nobody, nobody))
			return keys
		}, "keys directory"},
		{"a directory above owned by another user", func(root, _ string) string {
			require.NoError(t, os.Chown(root, nobody, nobody))
			return root
		}, "above the keys directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "etc")
			keys := filepath.Join(root, "keys")
			require.NoError(t, os.MkdirAll(keys, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(keys, "agent.pub"), readTestdata(t, "ed25519.pub"), 0o644))
			culprit := tc.setup(root, keys)
			_, err := auth.KeyDir{Path: keys, Now: func() time.Time { return testStamp }}.Load("agent")
			require.ErrorIs(t, err, auth.ErrKeyPermissions)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "owned by uid 65534")
			assert.Contains(t, err.Error(), "chown 0 "+culprit)
		})
	}
}

func TestLoadPublicKeyOwnerIgnored(t *testing.T) {
	// LoadPublicKey (not a trusted directory) keeps to the mode check.
	path := filepath.Join(t.TempDir(), "agent.pub")
	require.NoError(t, os.WriteFile(path, readTestdata(t, "ed25519.pub"), 0o644))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(path, 65534, 65534))
	}
	_, err := auth.LoadPublicKey(path)
	require.NoError(t, err)
}

func TestCheckCertificateTime(t *testing.T) {
	cert, err := auth.ParseCertificatePEM(certPEM(t, testKey(t, "ed25519"), testStamp, testStamp.Add(time.Hour)))
	require.NoError(t, err)
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{testStamp, true}, {testStamp.Add(time.Hour), true}, {testStamp.Add(30 * time.Minute), true},
		{testStamp.Add(-time.Second), false}, {testStamp.Add(time.Hour + time.Second), false},
	} {
		err := auth.CheckCertificateTime(cert, tc.at)
		if tc.ok {
			assert.NoError(t, err, tc.at)
		} else {
			assert.ErrorIs(t, err, auth.ErrCertificateNotValid, tc.at)
		}
	}
}
