package tlsconfig

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Errors of the files, for errors.Is.
var (
	// ErrPermissions: a private key that group or others may read, or a
	// certificate that they may write.
	ErrPermissions = errors.New("file permissions are too open")
	// ErrBadFile: not a regular file, too large, or not the PEM it should
	// hold.
	ErrBadFile = errors.New("not a usable certificate or key file")
)

// maxFileSize bounds what is read of a certificate or key file: a chain of
// a few RSA-16384 certificates is well below it.
const maxFileSize = 256 << 10

// readKey reads a private key file, refusing one that group or others may
// read or write.
func readKey(path string) ([]byte, error) {
	return readFile(path, "private key", func(mode fs.FileMode) error {
		if mode.Perm()&0o077 != 0 {
			return fmt.Errorf("%w: private key %s has mode %04o and may be read by others: run: chmod 400 %s",
				ErrPermissions, path, mode.Perm(), path)
		}
		return nil
	})
}

// readCert reads a certificate file, refusing one that group or others may
// write: whoever can replace a certificate (above all the CA's) can let
// anyone in.
func readCert(path string) ([]byte, error) {
	return readFile(path, "certificate", func(mode fs.FileMode) error {
		if mode.Perm()&0o022 != 0 {
			return fmt.Errorf("%w: certificate %s has mode %04o and may be replaced by others: run: chmod 644 %s",
				ErrPermissions, path, mode.Perm(), path)
		}
		return nil
	})
}

// readFile reads a regular file of at most maxFileSize bytes after
// checkMode accepted its permissions, checked on the opened file.
func readFile(path, what string, checkMode func(fs.FileMode) error) ([]byte, error) {
	if fi, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: correct the path, or make the certificates with 'drpc-server gen-certs --out %s'",
			what, err, filepath.Dir(path))
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s %s is not a regular file (%s)", ErrBadFile, what, path, fi.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s %s is not a regular file (%s)", ErrBadFile, what, path, fi.Mode().Type())
	}
	if err := checkMode(fi.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%w: %s %s is larger than %d bytes", ErrBadFile, what, path, maxFileSize)
	}
	return b, nil
}

// parseCerts decodes every CERTIFICATE block of a PEM file.
func parseCerts(path string, b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %s: %w", ErrBadFile, path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrBadFile, path)
	}
	return certs, nil
}

// loadCAPool reads the CA certificate file into a pool.
func loadCAPool(path string) (*x509.CertPool, error) {
	b, err := readCert(path)
	if err != nil {
		return nil, fmt.Errorf("ca_cert: %w", err)
	}
	certs, err := parseCerts(path, b)
	if err != nil {
		return nil, fmt.Errorf("ca_cert: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
