package auth

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"
	"time"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// DefaultMaxSkew is how far in the future a token's stamp may be, to allow
// for clocks that differ between machines, when Verifier.MaxSkew is 0.
const DefaultMaxSkew = time.Minute

// maxStamp bounds the stamps that are converted to a time.Time (year
// 36812); larger ones are simply in the future.
const maxStamp = 1 << 40

// Verifier checks credentials. The zero value accepts only validly signed
// credentials and does not look at their age. A Verifier is safe for
// concurrent use if its Now is.
type Verifier struct {
	// AllowInsecure accepts credentials whose verifier is only the SHA-512
	// digest of the token (issued without a key). Such a credential proves
	// nothing about its issuer: allow it only where anyone who can reach
	// the server is trusted anyway, e.g. for tests.
	AllowInsecure bool
	// MaxAge, if positive, refuses credentials whose stamp is older than
	// MaxAge, more than MaxSkew in the future, or 0 (DAOS agents write 0:
	// leave MaxAge 0 to accept their credentials).
	MaxAge time.Duration
	// MaxSkew is how far in the future a stamp may be when MaxAge is set;
	// 0 (or less) means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks cred against the issuer's public key pub (an *rsa.PublicKey
// or ed25519.PublicKey) and returns the identity in its token.
//
// The signature covers the deterministic protobuf encoding of the received
// token, re-marshalled here as DAOS's server does. A valid signature by pub
// is accepted: RSA-PSS over the SHA-512 digest with any salt length, or pure
// Ed25519. Failing that, if v.AllowInsecure is set, a verifier equal to the
// SHA-512 digest of the token is accepted. pub may be nil: then only such a
// digest can pass, and only with AllowInsecure.
//
// Errors, to test with errors.Is: ErrNoToken, ErrMalformedToken,
// ErrUnsupportedKey (pub is not a supported public key), ErrBadSignature,
// ErrInsecureNotAllowed, ErrExpired (see MaxAge).
func (v Verifier) Verify(cred *authv1.Credential, pub crypto.PublicKey) (*authv1.Sys, error) {
	origin := displayOrigin(cred.GetOrigin())
	fail := func(format string, args ...any) error {
		return fmt.Errorf("verify credential from origin %s: "+format, append([]any{origin}, args...)...)
	}
	token, verifier := cred.GetToken(), cred.GetVerifier()
	switch {
	case cred == nil:
		return nil, fmt.Errorf("verify credential: %w: no credential given: the client must send one", ErrNoToken)
	case len(token.GetData()) == 0:
		return nil, fail("%w: the token is missing or empty: the client must send a credential from its agent", ErrNoToken)
	case len(verifier.GetData()) == 0:
		return nil, fail("%w: the verifier is missing or empty: the client must send a credential from its agent", ErrNoToken)
	case token.GetFlavor() != authv1.Flavor_FLAVOR_AUTH_SYS:
		return nil, fail("%w: token flavor is %v, want %v", ErrMalformedToken, token.GetFlavor(), authv1.Flavor_FLAVOR_AUTH_SYS)
	case verifier.GetFlavor() != authv1.Flavor_FLAVOR_AUTH_SYS:
		return nil, fail("%w: verifier flavor is %v, want %v", ErrMalformedToken, verifier.GetFlavor(), authv1.Flavor_FLAVOR_AUTH_SYS)
	}

	kind := KeyNone
	if pub != nil {
		var err error
		if kind, err = publicKeyType(pub); err != nil {
			return nil, fail("%w", err)
		}
	}

	tb, err := marshalDeterministic(token)
	if err != nil {
		return nil, fail("%w: encode token: %w", ErrMalformedToken, err)
	}
	sig := verifier.GetData()
	var signed bool
	switch kind {
	case KeyRSA:
		d := sha512.Sum512(tb)
		signed = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA512, d[:], sig, nil) == nil
	case KeyEd25519:
		signed = len(sig) == ed25519.SignatureSize && ed25519.Verify(edPublic(pub), tb, sig)
	}
	if !signed {
		// An Ed25519 signature and a SHA-512 digest are both 64 bytes:
		// compare, do not guess from the length.
		d := sha512.Sum512(tb)
		isDigest := bytes.Equal(sig, d[:])
		switch {
		case isDigest && v.AllowInsecure:
			// accepted: insecure mode
		case isDigest:
			return nil, fail("%w: its verifier is only a digest (the issuer has no signing key): give the issuer a key, or allow insecure credentials", ErrInsecureNotAllowed)
		case pub == nil:
			return nil, fail("%w: it is signed, but there is no public key to check it: install the issuer's public key", ErrBadSignature)
		default:
			return nil, fail("%w: not a valid signature by the %s public key: the credential was altered, or that key does not match the issuer's private key", ErrBadSignature, kind)
		}
	}

	sys, err := DecodeSys(token)
	if err != nil {
		return nil, fail("%w", err)
	}
	if err := v.checkStamp(sys.GetStamp()); err != nil {
		return nil, fail("%w", err)
	}
	return sys, nil
}

// checkStamp applies MaxAge and MaxSkew to a token's stamp.
func (v Verifier) checkStamp(stamp uint64) error {
	if v.MaxAge <= 0 {
		return nil
	}
	if stamp == 0 {
		return fmt.Errorf("%w: the token has no issue time (stamp 0), so its age cannot be checked: use an agent that stamps credentials, or do not require a maximum age", ErrExpired)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if stamp > maxStamp {
		return fmt.Errorf("%w: stamp %d is far in the future: check the issuer's clock", ErrExpired, stamp)
	}
	issued := time.Unix(int64(stamp), 0)
	if ahead := issued.Sub(now); ahead > skew {
		return fmt.Errorf("%w: issued %v in the future (more than the %v allowed): check the clocks of the issuer and this machine", ErrExpired, ahead.Round(time.Second), skew)
	}
	if age := now.Sub(issued); age > v.MaxAge {
		return fmt.Errorf("%w: issued %v ago, more than the %v allowed: request a new credential", ErrExpired, age.Round(time.Second), v.MaxAge)
	}
	return nil
}

// publicKeyType checks that pub is a supported public key (not a private
// one) and returns its type.
func publicKeyType(pub crypto.PublicKey) (KeyType, error) {
	switch pub.(type) {
	case *rsa.PublicKey, ed25519.PublicKey, *ed25519.PublicKey:
		return KeyTypeOf(pub)
	}
	return "", fmt.Errorf("%w: %T is not an RSA or Ed25519 public key", ErrUnsupportedKey, pub)
}

// edPublic returns an Ed25519 public key that publicKeyType accepted.
func edPublic(pub crypto.PublicKey) ed25519.PublicKey {
	if p, ok := pub.(*ed25519.PublicKey); ok {
		return *p
	}
	return pub.(ed25519.PublicKey)
}

// displayOrigin quotes an untrusted origin for messages, shortened.
func displayOrigin(origin string) string {
	const maxLen = 64
	if len(origin) > maxLen {
		return fmt.Sprintf("%q...", origin[:maxLen])
	}
	return fmt.Sprintf("%q", origin)
}

// SignatureKind describes, for display only, what cred's verifier seems to
// be. It checks nothing but whether the verifier is the digest of the token:
//
//   - "none": no credential or no verifier
//   - "digest (insecure)": the SHA-512 digest of the token (no key)
//   - "ed25519 (unchecked)": 64 bytes that are not the digest of the token;
//     a digest of a since-altered token looks the same
//   - "rsa-3072 (unchecked)": as long as an RSA signature of that key size
//   - "unknown (N bytes)": anything else
func SignatureKind(cred *authv1.Credential) string {
	sig := cred.GetVerifier().GetData()
	if len(sig) == 0 {
		return "none"
	}
	if len(sig) == sha512.Size {
		if tb, err := marshalDeterministic(cred.GetToken()); err == nil {
			if d := sha512.Sum512(tb); bytes.Equal(sig, d[:]) {
				return "digest (insecure)"
			}
		}
	}
	switch n := len(sig); {
	case n == ed25519.SignatureSize:
		return "ed25519 (unchecked)"
	case n*8 >= MinRSABits && n*8 <= MaxRSABits:
		return fmt.Sprintf("rsa-%d (unchecked)", n*8)
	default:
		return fmt.Sprintf("unknown (%d bytes)", n)
	}
}
