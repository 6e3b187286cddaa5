// Package security is the security module (dRPC module 4) of the server:
// method 401, validate credentials, checks a credential that a client
// presents, as the DAOS I/O engine asks the server to do for every client
// that connects to a pool.
//
// The key that verifies a credential is found by its origin in the keys
// directory (package auth's KeyDir): the public key file "<origin>.pub", or
// an x509 certificate "<origin>.crt" as in the client certificates
// directory of DAOS's server (if both exist they must hold the same key).
// The origin comes from the client, so anything but a plain name (a '/',
// "..", a NUL...) is refused before any file is opened. A key file or a
// directory that a user other than root or the server's own owns or may
// write is refused: that user could forge any identity. Keys are read at
// each call, so a key added to or removed from the directory counts at
// once.
//
// The reply is ValidateCredResp{status, token}: status 0 and the credential's
// token when it verifies, and otherwise a negative DAOS error number (DER_*)
// and no token; the dRPC status is SUCCESS either way, as with DAOS. The
// statuses are those DAOS's server answers in the same case, so DAOS's
// engine and clients behave the same; where DAOS answers one status for
// several reasons, so does this module, and the log line ("credential
// refused") names the reason:
//
//	status  DAOS name     reason (log)          when
//	0       DER_SUCCESS                         the credential verifies
//	-1003   DER_INVAL     no token              no credential, token or verifier
//	-1014   DER_PROTO     malformed token       not an AUTH_SYS token holding an identity (a user and a group name)
//	-1026   DER_BADPATH   bad origin            the origin is not a plain name: empty, '/', "..", NUL...
//	-2043   DER_NO_CERT   unknown origin        neither <origin>.pub nor <origin>.crt in the keys directory
//	-2043   DER_NO_CERT   bad key               the origin's key cannot be used: unreadable, not a key, owned or
//	                                            writable by another user (or its directory), an expired or
//	                                            not yet valid certificate, .pub and .crt that disagree
//	-1001   DER_NO_PERM   bad signature         the signature does not verify with the origin's key
//	-1001   DER_NO_PERM   insecure              a digest-only (insecure) credential, and allow_insecure is off
//	-1011   DER_TIMEDOUT  expired               the token is older than credential_max_age, or from the future
//	-1025   DER_MISC      internal              anything else
package security

import (
	"context"
	"crypto"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// The status values of ValidateCredResp (see the package documentation).
// Some reasons share a status, as they do with DAOS's server.
const (
	StatusOK             int32 = 0
	StatusNoToken        int32 = -1003 // -DER_INVAL
	StatusMalformedToken int32 = -1014 // -DER_PROTO
	StatusBadOrigin      int32 = -1026 // -DER_BADPATH
	StatusUnknownOrigin  int32 = -2043 // -DER_NO_CERT, as DAOS's server when the certificate is missing
	StatusBadKey         int32 = -2043 // -DER_NO_CERT
	StatusBadSignature   int32 = -1001 // -DER_NO_PERM
	StatusInsecure       int32 = -1001 // -DER_NO_PERM, as DAOS's server
	StatusExpired        int32 = -1011 // -DER_TIMEDOUT
	StatusInternal       int32 = -1025 // -DER_MISC
)

// StatusName returns the DAOS name of a status of this package, e.g.
// "DER_NO_PERM", or "" for another value.
func StatusName(status int32) string {
	switch status {
	case StatusOK:
		return "DER_SUCCESS"
	case StatusNoToken:
		return "DER_INVAL"
	case StatusMalformedToken:
		return "DER_PROTO"
	case StatusBadOrigin:
		return "DER_BADPATH"
	case StatusBadKey:
		return "DER_NO_CERT"
	case StatusBadSignature:
		return "DER_NO_PERM"
	case StatusExpired:
		return "DER_TIMEDOUT"
	case StatusInternal:
		return "DER_MISC"
	}
	return ""
}

// Reason is why a credential was refused (or "" when it verifies): the
// "reason" of the log line. Several reasons may share a status.
type Reason string

// The reasons, with their statuses in the package documentation.
const (
	ReasonNone           Reason = ""
	ReasonNoToken        Reason = "no token"
	ReasonMalformedToken Reason = "malformed token"
	ReasonBadOrigin      Reason = "bad origin"
	ReasonUnknownOrigin  Reason = "unknown origin"
	ReasonBadKey         Reason = "bad key"
	ReasonBadSignature   Reason = "bad signature"
	ReasonInsecure       Reason = "insecure"
	ReasonExpired        Reason = "expired"
	ReasonInternal       Reason = "internal"
)

// Status returns the status the module answers for r.
func (r Reason) Status() int32 {
	switch r {
	case ReasonNone:
		return StatusOK
	case ReasonNoToken:
		return StatusNoToken
	case ReasonMalformedToken:
		return StatusMalformedToken
	case ReasonBadOrigin:
		return StatusBadOrigin
	case ReasonUnknownOrigin:
		return StatusUnknownOrigin
	case ReasonBadKey:
		return StatusBadKey
	case ReasonBadSignature:
		return StatusBadSignature
	case ReasonInsecure:
		return StatusInsecure
	case ReasonExpired:
		return StatusExpired
	}
	return StatusInternal
}

// serverFault reports whether r is the server's problem (its keys), not
// the client's: logged as an error rather than a warning.
func (r Reason) serverFault() bool { return r == ReasonBadKey || r == ReasonInternal }

// Options configure the module.
type Options struct {
	// KeysDir holds the public keys of trusted origins, "<origin>.pub" or
	// "<origin>.crt" (see auth.KeyDir).
	KeysDir string
	// AllowInsecure accepts digest-only credentials (from an agent without
	// a key), which prove nothing: for tests.
	AllowInsecure bool
	// MaxAge, if positive, refuses tokens older than it (a replay window;
	// DAOS has none). Tokens with stamp 0, as DAOS agents write them, are
	// then refused too.
	MaxAge time.Duration
	// Logger receives a record for each refused credential; nil discards.
	Logger *slog.Logger
	// Now returns the time (for the token's age and the certificates'
	// dates); nil means time.Now.
	Now func() time.Time
}

// Service implements authv1drpc.SecurityServiceServer.
type Service struct {
	authv1drpc.UnimplementedSecurityServiceServer
	opts     Options
	keys     auth.KeyDir
	verifier auth.Verifier
	log      *slog.Logger
}

// New returns the security module's implementation.
func New(opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		opts:     opts,
		keys:     auth.KeyDir{Path: opts.KeysDir, Now: opts.Now},
		verifier: auth.Verifier{AllowInsecure: opts.AllowInsecure, MaxAge: opts.MaxAge, Now: opts.Now},
		log:      log,
	}
}

// Module returns the module to register on the server.
func (s *Service) Module() drpc.Module { return authv1drpc.NewSecurityServiceModule(s) }

// ValidateCredentials verifies the credential of the request (method 401).
func (s *Service) ValidateCredentials(_ context.Context, sess *drpc.Session, req *authv1.ValidateCredReq) (*authv1.ValidateCredResp, error) {
	reason, err := s.Check(req.GetCred())
	if reason != ReasonNone {
		var pid int32
		var uid uint32
		if sess != nil {
			pc := sess.PeerCredentials()
			pid, uid = pc.PID, pc.UID
		}
		level := slog.LevelWarn
		if reason.serverFault() {
			level = slog.LevelError
		}
		status := reason.Status()
		s.log.Log(context.Background(), level, "credential refused", "status", status, "der", StatusName(status), "reason", string(reason),
			"origin", req.GetCred().GetOrigin(), "peer_pid", pid, "peer_uid", uid, "err", err)
		return &authv1.ValidateCredResp{Status: status}, nil
	}
	return &authv1.ValidateCredResp{Token: req.GetCred().GetToken()}, nil
}

// Validate checks cred and returns its status (StatusOK if it verifies) and
// the reason it does not.
func (s *Service) Validate(cred *authv1.Credential) (int32, error) {
	reason, err := s.Check(cred)
	return reason.Status(), err
}

// Check checks cred and returns why it is refused (ReasonNone if it
// verifies), and the error that says so in detail.
func (s *Service) Check(cred *authv1.Credential) (Reason, error) {
	if len(cred.GetToken().GetData()) == 0 || len(cred.GetVerifier().GetData()) == 0 {
		return ReasonNoToken, auth.ErrNoToken
	}
	origin := cred.GetOrigin()
	if err := auth.ValidateOrigin(origin); err != nil {
		return ReasonBadOrigin, err
	}
	var pub crypto.PublicKey
	key, err := s.keys.Load(origin)
	switch {
	case err == nil:
		pub = key
	case errors.Is(err, fs.ErrNotExist) && s.opts.AllowInsecure:
		// No key: only a digest-only credential can pass (Verify with nil).
	case errors.Is(err, fs.ErrNotExist):
		return ReasonUnknownOrigin, err
	default:
		return ReasonBadKey, err
	}
	if _, err := s.verifier.Verify(cred, pub); err != nil {
		return reasonOf(err, pub == nil), err
	}
	return ReasonNone, nil
}

// reasonOf maps an error of auth.Verifier.Verify to a reason. Without a key
// (noKey, allowed insecure), a credential that is not a digest is from an
// unknown origin rather than badly signed.
func reasonOf(err error, noKey bool) Reason {
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return ReasonNoToken
	case errors.Is(err, auth.ErrMalformedToken):
		return ReasonMalformedToken
	case errors.Is(err, auth.ErrExpired):
		return ReasonExpired
	case errors.Is(err, auth.ErrInsecureNotAllowed):
		return ReasonInsecure
	case errors.Is(err, auth.ErrBadSignature) && noKey:
		return ReasonUnknownOrigin
	case errors.Is(err, auth.ErrBadSignature):
		return ReasonBadSignature
	case errors.Is(err, auth.ErrUnsupportedKey):
		return ReasonBadKey
	}
	return ReasonInternal
}
