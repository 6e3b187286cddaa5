package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cc532012/drpc/drpc/auth"
)

// DefaultKeyType is the key type gen-key makes unless told otherwise: RSA
// (auth.DefaultRSABits, 3072 bits), the only type DAOS's agent and server
// sign and verify. Ed25519 is smaller and much faster to sign, but only
// this project's server verifies it.
const DefaultKeyType = auth.KeyRSA

// KeyDirMode is the mode of the directories gen-key creates above the key
// file, as `install -d` makes them: not writable by group or others.
const KeyDirMode fs.FileMode = 0o755

// KeyFiles is what GenerateKey wrote.
type KeyFiles struct {
	// Private is the private key file (PKCS#8 PEM, mode auth.PrivateKeyMode).
	Private string
	// Public is the public key file, Private+".pub" (PKIX PEM, 0644).
	Public string
	// Type and Bits describe the key (Bits is 0 for Ed25519).
	Type auth.KeyType
	Bits int
	// Created lists the directories that were created, outermost first.
	Created []string
}

// GenerateKey makes a new signing key of type keyType ("rsa" or "ed25519";
// "" means DefaultKeyType) and writes it to out (PKCS#8 PEM, mode 0400,
// which DAOS's agent also accepts) and out.pub (PKIX PEM, mode 0644). bits
// is the RSA key size, 0 for the default (3072, as DAOS). Directories
// missing above out are created with mode 0755 (exactly, whatever the
// umask), as `install -d` would; existing ones are left as they are. Unless
// force is set it refuses to overwrite either file, and says so before it
// makes a key. If it fails, it removes the directories it created.
func GenerateKey(keyType string, bits int, out string, force bool) (KeyFiles, error) {
	if out == "" {
		return KeyFiles{}, errors.New("gen-key: no output file: pass --out FILE, e.g. --out /etc/drpc/agent.key")
	}
	t := DefaultKeyType
	if keyType != "" {
		var err error
		if t, err = auth.ParseKeyType(keyType); err != nil {
			return KeyFiles{}, fmt.Errorf("gen-key: --type: %w", err)
		}
	}
	if t != auth.KeyRSA && bits != 0 {
		return KeyFiles{}, fmt.Errorf("gen-key: --bits applies to rsa keys only, not %s", t)
	}
	if t == auth.KeyRSA && bits == 0 {
		bits = auth.DefaultRSABits
	}
	files := KeyFiles{Private: out, Public: out + auth.PublicKeySuffix, Type: t, Bits: bits}
	if !force {
		for _, p := range []string{files.Private, files.Public} {
			if _, err := os.Lstat(p); err == nil {
				return KeyFiles{}, keyExists(fmt.Errorf("%w: %s", auth.ErrKeyExists, p))
			}
		}
	}
	key, err := auth.GenerateKey(t, bits)
	if err != nil {
		return KeyFiles{}, fmt.Errorf("gen-key: %w", err)
	}
	created, err := makeParents(filepath.Dir(out))
	if err != nil {
		return KeyFiles{}, fmt.Errorf("gen-key: %w", err)
	}
	files.Created = created
	if err := auth.WriteKeyPair(key, out, force); err != nil {
		removeDirs(created)
		if errors.Is(err, auth.ErrKeyExists) {
			return KeyFiles{}, keyExists(err)
		}
		return KeyFiles{}, fmt.Errorf("gen-key: %w", err)
	}
	return files, nil
}

// keyExists adds gen-key's hint, once, to an auth.ErrKeyExists error.
func keyExists(err error) error {
	return fmt.Errorf("gen-key: %w: remove it, or pass --force to overwrite it", err)
}

// makeParents creates dir and the directories missing above it with mode
// KeyDirMode, and returns those it created, outermost first.
func makeParents(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory: choose another --out", d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, KeyDirMode); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // made meanwhile by someone else: theirs, left alone
			}
			removeDirs(created)
			return nil, fmt.Errorf("create the key's directory: %w", err)
		}
		created = append(created, d)
		// Mkdir is subject to the umask: set the mode exactly, as install -d.
		if err := os.Chmod(d, KeyDirMode); err != nil {
			removeDirs(created)
			return nil, fmt.Errorf("create the key's directory: %w", err)
		}
	}
	return created, nil
}

// removeDirs removes the directories that makeParents created, innermost
// first, if they are empty.
func removeDirs(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		_ = os.Remove(created[i])
	}
}
