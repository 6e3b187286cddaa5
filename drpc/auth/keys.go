package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"
)

// KeyType names a kind of signing key.
type KeyType string

const (
	// KeyEd25519 is an Ed25519 key; signatures are pure Ed25519 over the
	// marshalled token.
	KeyEd25519 KeyType = "ed25519"
	// KeyRSA is an RSA key; signatures are RSA-PSS over the SHA-512 digest of
	// the marshalled token, as DAOS makes them.
	KeyRSA KeyType = "rsa"
	// KeyNone is what Signer.KeyType reports for an insecure signer (no key:
	// the verifier is only a digest of the token). It is not a key type that
	// GenerateKey accepts.
	KeyNone KeyType = "none"
)

// Key size limits for RSA keys.
const (
	// DefaultRSABits is the RSA key size GenerateKey uses when asked for 0
	// bits; DAOS uses 3072-bit keys.
	DefaultRSABits = 3072
	// MinRSABits is the smallest RSA key this package generates, loads or
	// verifies with.
	MinRSABits = 2048
	// MaxRSABits is the largest RSA key this package generates, loads or
	// verifies with (larger keys only cost time).
	MaxRSABits = 16384
)

// Private key files are PKCS#8 and public key files PKIX, each in one PEM
// block of these types.
const (
	privatePEMType     = "PRIVATE KEY"
	publicPEMType      = "PUBLIC KEY"
	certificatePEMType = "CERTIFICATE"
)

// String returns the key type's name.
func (t KeyType) String() string { return string(t) }

// ParseKeyType returns the KeyType named s ("ed25519" or "rsa", in any
// case), for command-line flags and configuration files.
func ParseKeyType(s string) (KeyType, error) {
	switch t := KeyType(strings.ToLower(strings.TrimSpace(s))); t {
	case KeyEd25519, KeyRSA:
		return t, nil
	}
	return "", fmt.Errorf("%w: key type %q: use %q or %q", ErrUnsupportedKey, s, KeyEd25519, KeyRSA)
}

// GenerateKey makes a new private key of type t. For RSA, rsaBits is the key
// size: 0 means DefaultRSABits (3072, as DAOS); less than MinRSABits or more
// than MaxRSABits is refused. rsaBits is ignored for Ed25519.
func GenerateKey(t KeyType, rsaBits int) (crypto.Signer, error) {
	switch t {
	case KeyEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate Ed25519 key: %w", err)
		}
		return priv, nil
	case KeyRSA:
		if rsaBits == 0 {
			rsaBits = DefaultRSABits
		}
		if rsaBits < MinRSABits || rsaBits > MaxRSABits {
			return nil, fmt.Errorf("%w: RSA key size %d bits: use %d to %d bits (DAOS uses %d)",
				ErrUnsupportedKey, rsaBits, MinRSABits, MaxRSABits, DefaultRSABits)
		}
		priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("generate %d-bit RSA key: %w", rsaBits, err)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%w: key type %q: use %q or %q", ErrUnsupportedKey, t, KeyEd25519, KeyRSA)
}

// KeyTypeOf reports the type of a private or public key: *rsa.PrivateKey,
// *rsa.PublicKey, ed25519.PrivateKey, ed25519.PublicKey (or pointers to the
// Ed25519 types), or any other crypto.Signer whose public key is one of
// those. It returns ErrUnsupportedKey for anything else, for a nil or
// malformed key, and for RSA keys outside MinRSABits..MaxRSABits.
func KeyTypeOf(k any) (KeyType, error) {
	switch k := k.(type) {
	case nil:
		return "", fmt.Errorf("%w: no key", ErrUnsupportedKey)
	case *rsa.PrivateKey:
		if k == nil {
			return "", fmt.Errorf("%w: nil RSA private key", ErrUnsupportedKey)
		}
		return checkRSA(&k.PublicKey)
	case *rsa.PublicKey:
		return checkRSA(k)
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return "", fmt.Errorf("%w: Ed25519 private key of %d bytes, want %d", ErrUnsupportedKey, len(k), ed25519.PrivateKeySize)
		}
		return KeyEd25519, nil
	case *ed25519.PrivateKey:
		if k == nil {
			return "", fmt.Errorf("%w: nil Ed25519 private key", ErrUnsupportedKey)
		}
		return KeyTypeOf(*k)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("%w: Ed25519 public key of %d bytes, want %d", ErrUnsupportedKey, len(k), ed25519.PublicKeySize)
		}
		return KeyEd25519, nil
	case *ed25519.PublicKey:
		if k == nil {
			return "", fmt.Errorf("%w: nil Ed25519 public key", ErrUnsupportedKey)
		}
		return KeyTypeOf(*k)
	case crypto.Signer:
		pub, err := signerPublic(k)
		if err != nil {
			return "", err
		}
		switch pub.(type) {
		case *rsa.PublicKey, ed25519.PublicKey, *ed25519.PublicKey:
			return KeyTypeOf(pub)
		}
		return "", fmt.Errorf("%w: %T with a %T public key: use an RSA or Ed25519 key", ErrUnsupportedKey, k, pub)
	}
	return "", fmt.Errorf("%w: %T: use an RSA or Ed25519 key", ErrUnsupportedKey, k)
}

// signerPublic returns s.Public(), turning a panic of a broken signer (a
// typed nil, say) into an error.
func signerPublic(s crypto.Signer) (pub crypto.PublicKey, err error) {
	defer func() {
		if r := recover(); r != nil {
			pub, err = nil, fmt.Errorf("%w: %T has no usable public key", ErrUnsupportedKey, s)
		}
	}()
	return s.Public(), nil
}

// checkRSA checks that k is a usable RSA public key of a supported size.
func checkRSA(k *rsa.PublicKey) (KeyType, error) {
	if k == nil || k.N == nil || k.N.Sign() <= 0 {
		return "", fmt.Errorf("%w: RSA key without a modulus", ErrUnsupportedKey)
	}
	if k.E < 3 || k.E%2 == 0 {
		return "", fmt.Errorf("%w: RSA key with invalid public exponent %d", ErrUnsupportedKey, k.E)
	}
	if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return "", fmt.Errorf("%w: %d-bit RSA key: use %d to %d bits (DAOS uses %d)",
			ErrUnsupportedKey, bits, MinRSABits, MaxRSABits, DefaultRSABits)
	}
	return KeyRSA, nil
}

// MarshalPrivateKeyPEM encodes key as a PKCS#8 PEM block ("PRIVATE KEY").
// The key must be an *rsa.PrivateKey or ed25519.PrivateKey (a key held in
// hardware cannot be exported: ErrUnsupportedKey).
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	if _, err := KeyTypeOf(key); err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	if k, ok := key.(*ed25519.PrivateKey); ok {
		key = *k
	}
	switch key.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("encode private key: %w: %T cannot be exported", ErrUnsupportedKey, key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w: %w", ErrUnsupportedKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privatePEMType, Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes an RSA or Ed25519 public key as a PKIX PEM
// block ("PUBLIC KEY").
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := KeyTypeOf(pub); err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	if k, ok := pub.(*ed25519.PublicKey); ok {
		pub = *k
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w: %w", ErrUnsupportedKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicPEMType, Bytes: der}), nil
}

// decodePEM returns the one PEM block in b, which must be of type want.
func decodePEM(b []byte, want string) (*pem.Block, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found: want a %q PEM block", ErrMalformedKey, want)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block: put only the %q block in the file", ErrMalformedKey, want)
	}
	if block.Type == want {
		return block, nil
	}
	hint := ""
	switch block.Type {
	case "RSA PRIVATE KEY":
		hint = ": this is a PKCS#1 key; convert it with: openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW"
	case "EC PRIVATE KEY":
		return nil, fmt.Errorf("%w: %q PEM block: ECDSA keys are not supported, use an RSA or Ed25519 key", ErrUnsupportedKey, block.Type)
	case "ENCRYPTED PRIVATE KEY":
		hint = ": encrypted keys are not supported; decrypt it with: openssl pkey -in OLD -out NEW"
	case "OPENSSH PRIVATE KEY":
		hint = ": OpenSSH key format is not supported; convert it with: ssh-keygen -p -m PKCS8 -f FILE"
	case "RSA PUBLIC KEY":
		hint = ": this is a PKCS#1 key; convert it with: openssl rsa -RSAPublicKey_in -in OLD -pubout -out NEW"
	case certificatePEMType:
		hint = ": a certificate goes in a keys directory as <origin>.crt, or extract its key with: openssl x509 -pubkey -noout -in CERT"
	}
	return nil, fmt.Errorf("%w: found a %q PEM block, want %q%s", ErrMalformedKey, block.Type, want, hint)
}

// ParsePrivateKeyPEM decodes a PKCS#8 PEM private key ("PRIVATE KEY", not
// encrypted). It returns an *rsa.PrivateKey or an ed25519.PrivateKey; other
// key types (ECDSA, X25519, ...) are refused with ErrUnsupportedKey, and data
// that is not such a PEM block with ErrMalformedKey.
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	block, err := decodePEM(b, privatePEMType)
	if err != nil {
		return nil, err
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM block has headers (legacy encryption?): use an unencrypted PKCS#8 key", ErrMalformedKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, parseError(block.Bytes, true, "PKCS#8 private key", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T: use an RSA or Ed25519 key", ErrUnsupportedKey, key)
	}
	switch signer.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("%w: %T: use an RSA or Ed25519 key", ErrUnsupportedKey, key)
	}
	if _, err := KeyTypeOf(signer); err != nil {
		return nil, err
	}
	return signer, nil
}

// ParsePublicKeyPEM decodes a PKIX PEM public key ("PUBLIC KEY"). It returns
// an *rsa.PublicKey or an ed25519.PublicKey; other key types are refused with
// ErrUnsupportedKey, and data that is not such a PEM block with
// ErrMalformedKey.
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, err := decodePEM(b, publicPEMType)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, parseError(block.Bytes, false, "PKIX public key", err)
	}
	switch pub.(type) {
	case *rsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: %T: use an RSA or Ed25519 key", ErrUnsupportedKey, pub)
	}
	if _, err := KeyTypeOf(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// Object identifiers of the key algorithms this package supports.
var (
	oidRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// keyAlgorithm reads the algorithm identifier of a DER PKCS#8 private key
// (private true) or PKIX public key, to tell a key of another type from a
// corrupt one. ok is false if der has neither form.
func keyAlgorithm(der []byte, private bool) (oid asn1.ObjectIdentifier, ok bool) {
	type algorithmIdentifier struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	var rest []byte
	var err error
	if private {
		var pkcs8 struct {
			Version    int
			Algorithm  algorithmIdentifier
			PrivateKey []byte
			Rest       []asn1.RawValue `asn1:"optional"`
		}
		rest, err = asn1.Unmarshal(der, &pkcs8)
		oid = pkcs8.Algorithm.Algorithm
	} else {
		var spki struct {
			Algorithm algorithmIdentifier
			PublicKey asn1.BitString
		}
		rest, err = asn1.Unmarshal(der, &spki)
		oid = spki.Algorithm.Algorithm
	}
	if err != nil || len(rest) != 0 || len(oid) == 0 {
		return nil, false
	}
	return oid, true
}

// parseError explains why x509 could not parse a key: ErrUnsupportedKey if
// der is a well-formed key of an algorithm other than RSA or Ed25519,
// ErrMalformedKey otherwise.
func parseError(der []byte, private bool, what string, err error) error {
	if oid, ok := keyAlgorithm(der, private); ok && !oid.Equal(oidRSA) && !oid.Equal(oidEd25519) {
		return fmt.Errorf("%w: %s with algorithm %v: use an RSA or Ed25519 key", ErrUnsupportedKey, what, oid)
	}
	return fmt.Errorf("%w: not a valid %s: %w", ErrMalformedKey, what, err)
}
