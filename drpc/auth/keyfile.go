package auth

import (
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// PublicKeySuffix is appended to a private key's path to name its public
// key file (WriteKeyPair) and to an origin to name its key file
// (OriginKeyPath).
const PublicKeySuffix = ".pub"

// maxKeyFileSize bounds what Load* read: a 16384-bit RSA private key in PEM
// is about 13 KiB.
const maxKeyFileSize = 64 << 10

// PrivateKeyMode is the mode WriteKeyPair gives a private key file: read
// by its owner only, which both this package and DAOS's agent accept (DAOS's
// agent refuses 0600).
const PrivateKeyMode fs.FileMode = 0o400

// PublicKeyMode is the mode WriteKeyPair gives a public key file.
const PublicKeyMode fs.FileMode = 0o644

// LoadPrivateKey reads a PKCS#8 PEM private key file (see ParsePrivateKeyPEM).
// Like ssh, it refuses a file that group or others may read or write
// (ErrKeyPermissions, with the chmod command that fixes it), and anything
// but a regular file (symbolic links are followed). A file that is not a
// private key is refused for that first (ErrMalformedKey, naming a public
// key or a certificate as such), whatever its mode.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	b, fi, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if kind := publicPEMKind(b); kind != "" {
		return nil, fmt.Errorf("%w: %s is %s, not a private key", ErrMalformedKey, path, kind)
	}
	// Parse before the mode check: a file that is no key at all needs
	// another file, not a chmod.
	key, err := ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	if mode := fi.Mode(); mode.Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: private key %s has mode %04o and may be read by others: run: chmod %o %s",
			ErrKeyPermissions, path, mode.Perm(), PrivateKeyMode, path)
	}
	return key, nil
}

// publicPEMKind says what b is if it is a PEM public key or certificate
// ("a public key", "a certificate"), and "" otherwise.
func publicPEMKind(b []byte) string {
	block, _ := pem.Decode(b)
	if block == nil {
		return ""
	}
	switch block.Type {
	case publicPEMType, "RSA PUBLIC KEY":
		return "a public key"
	case certificatePEMType:
		return "a certificate"
	}
	return ""
}

// LoadPublicKey reads a PKIX PEM public key file (see ParsePublicKeyPEM). It
// refuses anything but a regular file (symbolic links are followed), and a
// file that group or others may write (ErrKeyPermissions): whoever can
// replace a verifying key can forge credentials. It does not look at the
// file's owner or directory: a verifier's trusted keys are loaded with
// KeyDir, which does.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, fi, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkWritableByOthers(path, fi, "public key"); err != nil {
		return nil, err
	}
	pub, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// checkWritableByOthers refuses a file that group or others may write.
func checkWritableByOthers(path string, fi fs.FileInfo, what string) error {
	if mode := fi.Mode(); mode.Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s %s has mode %04o and may be replaced by others: run: chmod 644 %s",
			ErrKeyPermissions, what, path, mode.Perm(), path)
	}
	return nil
}

// readKeyFile reads a key file after checking that it is a regular file of
// reasonable size, and returns what the opened file's fstat said of it (to
// check its mode and owner: the file cannot be swapped in between).
func readKeyFile(path string) ([]byte, fs.FileInfo, error) {
	// Stat first, so that opening never blocks on a FIFO or touches a
	// device; O_NONBLOCK covers a swap between the two calls.
	if fi, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("key file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: key file %s is not a regular file (%s)", ErrMalformedKey, path, fi.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: key file %s is not a regular file (%s)", ErrMalformedKey, path, fi.Mode().Type())
	}
	if fi.Size() > maxKeyFileSize {
		return nil, nil, fmt.Errorf("%w: key file %s is %d bytes, too large to be a key", ErrMalformedKey, path, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read key file: %w", err)
	}
	if len(b) > maxKeyFileSize {
		return nil, nil, fmt.Errorf("%w: key file %s is too large to be a key", ErrMalformedKey, path)
	}
	return b, fi, nil
}

// WriteKeyPair writes key to path as a PKCS#8 PEM file with mode 0400
// (PrivateKeyMode), and its public key to path+".pub" as a PKIX PEM file
// with mode 0644 (PublicKeyMode). The directory must exist. Unless
// force is true it refuses to replace either file if it exists
// (ErrKeyExists, naming the file) and writes nothing. Each file is written
// to a temporary file in the same directory, synced, then renamed into
// place, so a crash leaves either the old file or the whole new one, never
// part of a key. (The two files are still replaced one after the other.)
func WriteKeyPair(key crypto.Signer, path string, force bool) error {
	if path == "" {
		return errors.New("write key pair: no file name given")
	}
	privPEM, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return fmt.Errorf("write key pair: %w", err)
	}
	pub, err := signerPublic(key)
	if err != nil {
		return fmt.Errorf("write key pair: %w", err)
	}
	pubPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		return fmt.Errorf("write key pair: %w", err)
	}
	pubPath := path + PublicKeySuffix
	for _, p := range []string{path, pubPath} {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("write key pair: %w", err)
		case !force:
			return keyExists(p)
		case fi.IsDir():
			return fmt.Errorf("write key pair: %s is a directory: choose another file name", p)
		}
	}

	privTmp, err := writeTemp(path, privPEM, PrivateKeyMode)
	if err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	defer os.Remove(privTmp) // fails harmlessly once installed
	pubTmp, err := writeTemp(pubPath, pubPEM, PublicKeyMode)
	if err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	defer os.Remove(pubTmp)

	if err := install(privTmp, path, force); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if err := install(pubTmp, pubPath, force); err != nil {
		if !force {
			// We created the private key a moment ago: do not leave
			// half a pair behind.
			os.Remove(path)
		}
		return fmt.Errorf("write public key: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

func keyExists(path string) error {
	return fmt.Errorf("%w: %s", ErrKeyExists, path)
}

// writeTemp writes data to a new temporary file next to path, with the
// given mode, and syncs it. It returns the temporary file's name.
func writeTemp(path string, data []byte, mode fs.FileMode) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	// Chmod is not subject to the umask, so the mode is exact.
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// install moves tmp to path. Without force it never replaces an existing
// path: a hard link fails if path exists, atomically. If the file system
// cannot link, it falls back to checking and renaming.
func install(tmp, path string, force bool) error {
	if force {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return keyExists(path)
	}
	if _, err := os.Lstat(path); err == nil {
		return keyExists(path)
	}
	return os.Rename(tmp, path)
}

// syncDir makes renames in dir durable, where the file system allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync() // best effort: some file systems refuse to sync directories
	d.Close()
}
