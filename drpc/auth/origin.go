package auth

import (
	"crypto"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxOriginLen is the longest origin ValidateOrigin accepts: the key file
// name "<origin>.pub" must fit in a file name (255 bytes).
const MaxOriginLen = 255 - len(PublicKeySuffix)

// ValidateOrigin checks that origin is a plain name that can safely name a
// key file ("<origin>.pub") in a keys directory: not empty, at most
// MaxOriginLen bytes, valid UTF-8, no '/', '\' or NUL, no control
// character, and not starting with '.' (which also rules out "." and "..").
// It returns an error wrapping ErrBadOrigin otherwise. Call it before
// opening any file named after an origin.
func ValidateOrigin(origin string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q %s: an origin must be a plain name such as \"agent\"", ErrBadOrigin, origin, why)
	}
	switch {
	case origin == "":
		return fmt.Errorf("%w: empty origin: an origin must be a plain name such as \"agent\"", ErrBadOrigin)
	case len(origin) > MaxOriginLen:
		return fmt.Errorf("%w: origin of %d bytes is too long (at most %d)", ErrBadOrigin, len(origin), MaxOriginLen)
	case origin == "." || origin == "..":
		return bad("is a directory name")
	case strings.HasPrefix(origin, "."):
		return bad("starts with '.'")
	case strings.ContainsAny(origin, "/\\"):
		return bad("contains a path separator")
	case strings.ContainsRune(origin, 0):
		return bad("contains a NUL byte")
	case !utf8.ValidString(origin):
		return bad("is not valid UTF-8")
	case strings.ContainsFunc(origin, unicode.IsControl):
		return bad("contains a control character")
	}
	return nil
}

// OriginKeyPath returns the path of the public key for origin in dir,
// "<dir>/<origin>.pub", after checking origin with ValidateOrigin. (A keys
// directory may hold "<origin>.crt" instead: see KeyDir.)
func OriginKeyPath(dir, origin string) (string, error) {
	if err := ValidateOrigin(origin); err != nil {
		return "", err
	}
	return filepath.Join(dir, origin+PublicKeySuffix), nil
}

// LoadOriginKey loads the public key that verifies credentials from origin
// from the keys directory dir: KeyDir{Path: dir}.Load(origin), which reads
// "<origin>.pub" or "<origin>.crt" and refuses files and directories that
// another user could change. The origin is validated before any file is
// opened.
func LoadOriginKey(dir, origin string) (crypto.PublicKey, error) {
	return KeyDir{Path: dir}.Load(origin)
}
