package auth

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// KeyDir is a directory of trusted keys: the public keys of the issuers
// whose credentials a verifier accepts, found by the credential's origin.
// For origin "agent" it holds
//
//   - "agent.pub", a PKIX PEM public key (what 'drpc-agent gen-key' writes
//     as FILE.pub), or
//   - "agent.crt", an x509 certificate in PEM, as in the client
//     certificates directory of DAOS's server, so that such a directory
//     works unchanged. A certificate is used only within its validity
//     period; who signed it is not checked (as with a .pub, trust comes
//     from the file being in this directory).
//
// If both exist they must hold the same public key (ErrKeyMismatch
// otherwise), and the certificate's dates still apply.
//
// Whoever can change a trusted key can forge any identity, so Load refuses
// (ErrKeyPermissions, saying why and what to run) a key file or a keys
// directory that a user other than root or this process's effective user
// owns, or that group or others may write; and any directory above them
// (symbolic links resolved) that such a user owns, or that group or others
// may write without the sticky bit (as /tmp), in the manner of OpenSSH's
// StrictModes. Files are read at each Load, so a key added, replaced or
// removed counts at once.
type KeyDir struct {
	// Path is the directory.
	Path string
	// Now returns the time at which certificates must be valid; nil means
	// time.Now.
	Now func() time.Time
}

// Load returns the public key that verifies credentials from origin. The
// origin is checked with ValidateOrigin before any file is opened. Errors,
// to test with errors.Is: ErrBadOrigin; fs.ErrNotExist (the directory, or
// both key files, are missing: an unknown origin); ErrKeyPermissions;
// ErrMalformedKey and ErrUnsupportedKey (a file that is not a usable key or
// certificate); ErrCertificateNotValid; ErrKeyMismatch.
func (d KeyDir) Load(origin string) (crypto.PublicKey, error) {
	if err := ValidateOrigin(origin); err != nil {
		return nil, err
	}
	dir, err := checkKeyDir(d.Path, "keys directory")
	if err != nil {
		return nil, err
	}
	pubPath := filepath.Join(d.Path, origin+PublicKeySuffix)
	crtPath := filepath.Join(d.Path, origin+CertificateSuffix)
	pub, pubErr := d.loadPublicKey(pubPath, dir)
	crt, crtErr := d.loadCertificateKey(crtPath, dir)
	pubMissing, crtMissing := errors.Is(pubErr, fs.ErrNotExist), errors.Is(crtErr, fs.ErrNotExist)
	switch {
	case pubMissing && crtMissing:
		return nil, fmt.Errorf("no key for origin %q: neither %s nor %s exists: install the issuer's public key there (gen-key's FILE.pub, or a certificate): %w",
			origin, pubPath, crtPath, fs.ErrNotExist)
	case pubErr != nil && !pubMissing:
		return nil, pubErr
	case crtErr != nil && !crtMissing:
		return nil, crtErr
	case crtMissing:
		return pub, nil
	case pubMissing:
		return crt, nil
	}
	if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(crt) {
		return nil, fmt.Errorf("%w: %s and %s hold different public keys: remove the one that is not the issuer's", ErrKeyMismatch, pubPath, crtPath)
	}
	return pub, nil
}

// loadPublicKey reads a trusted "<origin>.pub" in the checked directory
// dir (its resolved path).
func (d KeyDir) loadPublicKey(path, dir string) (crypto.PublicKey, error) {
	b, err := readTrustedFile(path, dir, "public key")
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// loadCertificateKey reads a trusted "<origin>.crt" in the checked
// directory dir, checks its dates and returns its public key.
func (d KeyDir) loadCertificateKey(path, dir string) (crypto.PublicKey, error) {
	b, err := readTrustedFile(path, dir, "certificate")
	if err != nil {
		return nil, err
	}
	cert, err := ParseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	if err := CheckCertificateTime(cert, now()); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return cert.PublicKey, nil
}

// readTrustedFile reads a key file of a keys directory whose resolved path
// is dir: a regular file that only root or this process's user owns and
// that group and others may not write. If it is a symbolic link to a file
// in another directory, that directory is held to the same rules.
func readTrustedFile(path, dir, what string) ([]byte, error) {
	b, fi, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkWritableByOthers(path, fi, what); err != nil {
		return nil, err
	}
	if err := checkOwner(what+" "+path, path, fi); err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(path); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	} else if filepath.Dir(real) != dir {
		if _, err := checkKeyDir(filepath.Dir(real), "directory of "+path+" (a symbolic link)"); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// checkKeyDir checks a directory that holds trusted keys, and every
// directory above it, and returns its path with symbolic links resolved.
// what names it in errors.
func checkKeyDir(path, what string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s is not a directory: give the directory of the trusted keys", what, path)
	}
	name := path
	if real != filepath.Clean(path) {
		name = fmt.Sprintf("%s (%s)", path, real)
	}
	if err := checkOwner(what+" "+name, real, fi); err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("%w: %s %s has mode %04o: group or others can add or replace keys in it: run: chmod go-w %s",
			ErrKeyPermissions, what, name, fi.Mode().Perm(), real)
	}
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", what, path, err)
		}
		above := "directory " + p + " above the " + what + " " + path
		if err := checkOwner(above, p, fi); err != nil {
			return "", err
		}
		if m := fi.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
			return "", fmt.Errorf("%w: %s has mode %04o: group or others can replace what it holds: run: chmod go-w %s",
				ErrKeyPermissions, above, m.Perm(), p)
		}
		if p == filepath.Dir(p) {
			return real, nil
		}
	}
}

// checkOwner refuses a file (desc says what it is, path is what to chown)
// that a user other than root or this process's effective user owns.
func checkOwner(desc, path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil // not a Unix file system's stat: nothing to check
	}
	self := uint32(os.Geteuid())
	if st.Uid == 0 || st.Uid == self {
		return nil
	}
	return fmt.Errorf("%w: %s is owned by uid %d, neither root nor this process's user (uid %d): that user could replace it: run: chown %d %s",
		ErrKeyPermissions, desc, st.Uid, self, self, path)
}
