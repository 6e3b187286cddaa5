package auth

import "errors"

// Errors returned by this package. They are always wrapped with context and
// a hint for the user; test for them with errors.Is.
var (
	// ErrNoToken: the credential, its token or its verifier is missing or
	// empty. The peer sent no usable credential.
	ErrNoToken = errors.New("credential has no token or no verifier")

	// ErrMalformedToken: a token has the wrong flavor (not AUTH_SYS) or its
	// data does not decode as an AUTH_SYS identity (Sys).
	ErrMalformedToken = errors.New("malformed AUTH_SYS token")

	// ErrBadSignature: the verifier is not a valid signature of the token by
	// the given public key (the token or signature was changed, or it was
	// signed by another key).
	ErrBadSignature = errors.New("credential signature does not verify")

	// ErrInsecureNotAllowed: the credential carries only a digest of its
	// token (its issuer has no signing key) and the Verifier does not allow
	// insecure credentials.
	ErrInsecureNotAllowed = errors.New("insecure (digest-only) credential not allowed")

	// ErrExpired: the token's stamp is older than the Verifier's MaxAge, too
	// far in the future, or missing (0) while a MaxAge is required.
	ErrExpired = errors.New("credential expired or not yet valid")

	// ErrUnsupportedKey: the key is not an RSA (at least 2048 bits) or
	// Ed25519 key, or cannot be exported.
	ErrUnsupportedKey = errors.New("unsupported key")

	// ErrMalformedKey: key data is not a PEM block of the expected kind
	// (PKCS#8 "PRIVATE KEY" or PKIX "PUBLIC KEY") or does not parse.
	ErrMalformedKey = errors.New("malformed key")

	// ErrBadOrigin: a credential origin is not a plain name that can be used
	// as a key file name (see ValidateOrigin).
	ErrBadOrigin = errors.New("invalid credential origin")

	// ErrKeyExists: WriteKeyPair would overwrite an existing file and force
	// is false.
	ErrKeyExists = errors.New("key file already exists")

	// ErrKeyPermissions: a private key file is accessible by group or others,
	// a public key file is writable by group or others, or a trusted key
	// file (KeyDir) or a directory above it could be changed by a user
	// other than root and this process's.
	ErrKeyPermissions = errors.New("key file permissions are too open")

	// ErrCertificateNotValid: a certificate is expired or not valid yet.
	ErrCertificateNotValid = errors.New("certificate not valid at this time")

	// ErrKeyMismatch: a keys directory holds both "<origin>.pub" and
	// "<origin>.crt", and they hold different public keys.
	ErrKeyMismatch = errors.New("the origin's key files disagree")

	// ErrInvalidIdentity: NewSysToken was given an identity that cannot be
	// written as an AUTH_SYS token (empty user, group or host, a name with
	// '@', a control character or invalid UTF-8).
	ErrInvalidIdentity = errors.New("invalid identity")
)
