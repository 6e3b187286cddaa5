package agent

import (
	"errors"
	"fmt"

	"github.com/cc532012/drpc/drpc/auth"
)

// GenerateKey makes a new signing key of type keyType ("ed25519" or "rsa";
// bits is the RSA size, 0 for the default 3072) and writes it to out (PKCS#8
// PEM, mode 0600) and out.pub (PKIX PEM, mode 0644). Unless force is set it
// refuses to overwrite either file. It returns the public key's path.
func GenerateKey(keyType string, bits int, out string, force bool) (string, error) {
	if out == "" {
		return "", errors.New("gen-key: no output file: pass --out FILE, e.g. --out /etc/drpc/agent.key")
	}
	t, err := auth.ParseKeyType(keyType)
	if err != nil {
		return "", fmt.Errorf("gen-key: %w", err)
	}
	if t != auth.KeyRSA && bits != 0 {
		return "", fmt.Errorf("gen-key: --bits applies to rsa keys only, not %s", t)
	}
	key, err := auth.GenerateKey(t, bits)
	if err != nil {
		return "", fmt.Errorf("gen-key: %w", err)
	}
	if err := auth.WriteKeyPair(key, out, force); err != nil {
		if errors.Is(err, auth.ErrKeyExists) {
			return "", fmt.Errorf("gen-key: %w (pass --force to overwrite)", err)
		}
		return "", fmt.Errorf("gen-key: %w", err)
	}
	return out + auth.PublicKeySuffix, nil
}
