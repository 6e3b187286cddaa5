package auth

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"errors"
	"fmt"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// Signer turns AUTH_SYS tokens into credentials. Make one with NewSigner;
// it is safe for concurrent use if its key is.
type Signer struct {
	key  crypto.Signer // nil: insecure, the verifier is a digest
	kind KeyType
	err  error // why key cannot be used; reported by Sign
}

// NewSigner returns a Signer that signs with key: RSA-PSS over SHA-512 for
// an RSA key (as DAOS), pure Ed25519 for an Ed25519 key. The key may be any
// crypto.Signer whose public key is RSA or Ed25519, e.g. one held in
// hardware.
//
// A nil key makes an insecure signer: the verifier of each credential is
// just the SHA-512 digest of its token, which proves nothing about who made
// it; verifiers refuse such credentials unless they allow insecure mode.
//
// An unsupported key is reported by Sign (ErrUnsupportedKey); check it early
// with KeyTypeOf.
func NewSigner(key crypto.Signer) *Signer {
	if key == nil {
		return &Signer{kind: KeyNone}
	}
	kind, err := KeyTypeOf(key)
	if err != nil {
		return &Signer{key: key, err: err}
	}
	return &Signer{key: key, kind: kind}
}

// KeyType reports the type of the Signer's key: KeyRSA, KeyEd25519, KeyNone
// for an insecure signer, or "" if the key is unsupported.
func (s *Signer) KeyType() KeyType {
	if s == nil {
		return ""
	}
	return s.kind
}

// Sign returns the credential for token, issued by origin:
// Credential{token, verifier: Token{AUTH_SYS, signature}, origin}. The
// signature covers the deterministic protobuf encoding of the token. The
// token must be an AUTH_SYS token holding a Sys (see NewSysToken), and
// origin a plain name (see ValidateOrigin; DAOS agents use "agent"). The
// credential holds a copy of the token, so later changes to token do not
// affect it.
func (s *Signer) Sign(token *authv1.Token, origin string) (*authv1.Credential, error) {
	if s == nil {
		return nil, errors.New("sign credential: nil Signer: make one with NewSigner")
	}
	if s.err != nil {
		return nil, fmt.Errorf("sign credential: %w", s.err)
	}
	if err := ValidateOrigin(origin); err != nil {
		return nil, fmt.Errorf("sign credential: %w", err)
	}
	if _, err := DecodeSys(token); err != nil {
		return nil, fmt.Errorf("sign credential: %w", err)
	}
	tok := &authv1.Token{Flavor: token.GetFlavor(), Data: bytes.Clone(token.GetData())}
	b, err := marshalDeterministic(tok)
	if err != nil {
		return nil, fmt.Errorf("sign credential: %w: encode token: %w", ErrMalformedToken, err)
	}
	sig, err := s.sign(b)
	if err != nil {
		return nil, fmt.Errorf("sign credential with %s key: %w", s.kind, err)
	}
	return &authv1.Credential{
		Token:    tok,
		Verifier: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: sig},
		Origin:   origin,
	}, nil
}

// sign returns the verifier data for the marshalled token b.
func (s *Signer) sign(b []byte) ([]byte, error) {
	switch s.kind {
	case KeyNone:
		d := sha512.Sum512(b)
		return d[:], nil
	case KeyRSA:
		d := sha512.Sum512(b)
		// Same as DAOS's rsa.SignPSS(rand, key, SHA512, digest, nil),
		// through the crypto.Signer interface: the largest salt.
		return s.key.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA512})
	case KeyEd25519:
		return s.key.Sign(rand.Reader, b, crypto.Hash(0))
	}
	return nil, fmt.Errorf("%w: key type %q", ErrUnsupportedKey, s.kind)
}
