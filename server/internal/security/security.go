// Package security is the security module (dRPC module 4) of the server:
// method 401, validate credentials, checks a credential that a client
// presents, as the DAOS I/O engine asks the server to do for every client
// that connects to a pool.
//
// The key that verifies a credential is found by its origin: the public key
// file "<origin>.pub" in the keys directory (package auth's LoadOriginKey).
// The origin comes from the client, so anything but a plain name (a '/',
// "..", a NUL...) is refused before any file is opened. Keys are read at
// each call, so a key added to or removed from the directory counts at once.
//
// The reply is ValidateCredResp{status, token}: status 0 and the credential's
// token when it verifies, and otherwise a negative DAOS error number (DER_*)
// and no token; the dRPC status is SUCCESS either way, as with DAOS. Each
// reason has its own status:
//
//	status  DAOS name          reason
//	0       DER_SUCCESS        the credential verifies
//	-1003   DER_INVAL          no credential, token or verifier (StatusNoToken)
//	-1014   DER_PROTO          the token is not an AUTH_SYS token holding an identity (StatusMalformedToken)
//	-1026   DER_BADPATH        the origin is not a plain name: empty, '/', "..", NUL... (StatusBadOrigin)
//	-1005   DER_NONEXIST       no key for the origin: no <origin>.pub in the keys directory (StatusUnknownOrigin)
//	-2043   DER_NO_CERT        the origin's key file cannot be used: unreadable, too open, not a key (StatusBadKey)
//	-1001   DER_NO_PERM        the signature does not verify with the origin's key (StatusBadSignature)
//	-2037   DER_NOTSUPPORTED   a digest-only (insecure) credential, and allow_insecure is off (StatusInsecure)
//	-1011   DER_TIMEDOUT       the token is older than credential_max_age, or from the future (StatusExpired)
//	-1025   DER_MISC           anything else (StatusInternal)
package security

import (
	"context"
	"crypto"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// The status values of ValidateCredResp (see the package documentation).
const (
	StatusOK             int32 = 0
	StatusNoToken        int32 = -1003 // -DER_INVAL
	StatusMalformedToken int32 = -1014 // -DER_PROTO
	StatusBadOrigin      int32 = -1026 // -DER_BADPATH
	StatusUnknownOrigin  int32 = -1005 // -DER_NONEXIST
	StatusBadKey         int32 = -2043 // -DER_NO_CERT
	StatusBadSignature   int32 = -1001 // -DER_NO_PERM
	StatusInsecure       int32 = -2037 // -DER_NOTSUPPORTED
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
	case StatusUnknownOrigin:
		return "DER_NONEXIST"
	case StatusBadKey:
		return "DER_NO_CERT"
	case StatusBadSignature:
		return "DER_NO_PERM"
	case StatusInsecure:
		return "DER_NOTSUPPORTED"
	case StatusExpired:
		return "DER_TIMEDOUT"
	case StatusInternal:
		return "DER_MISC"
	}
	return ""
}

// Options configure the module.
type Options struct {
	// KeysDir holds the public keys of trusted origins, "<origin>.pub".
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
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Service implements authv1drpc.SecurityServiceServer.
type Service struct {
	authv1drpc.UnimplementedSecurityServiceServer
	opts     Options
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
		verifier: auth.Verifier{AllowInsecure: opts.AllowInsecure, MaxAge: opts.MaxAge, Now: opts.Now},
		log:      log,
	}
}

// Module returns the module to register on the server.
func (s *Service) Module() drpc.Module { return authv1drpc.NewSecurityServiceModule(s) }

// ValidateCredentials verifies the credential of the request (method 401).
func (s *Service) ValidateCredentials(_ context.Context, sess *drpc.Session, req *authv1.ValidateCredReq) (*authv1.ValidateCredResp, error) {
	status, err := s.Validate(req.GetCred())
	if status != StatusOK {
		var pid int32
		var uid uint32
		if sess != nil {
			pc := sess.PeerCredentials()
			pid, uid = pc.PID, pc.UID
		}
		level := slog.LevelWarn
		if status == StatusBadKey || status == StatusInternal {
			level = slog.LevelError // the server's problem, not the client's
		}
		s.log.Log(context.Background(), level, "credential refused", "status", status, "der", StatusName(status),
			"origin", req.GetCred().GetOrigin(), "peer_pid", pid, "peer_uid", uid, "err", err)
		return &authv1.ValidateCredResp{Status: status}, nil
	}
	return &authv1.ValidateCredResp{Token: req.GetCred().GetToken()}, nil
}

// Validate checks cred and returns its status (StatusOK if it verifies) and
// the reason it does not.
func (s *Service) Validate(cred *authv1.Credential) (int32, error) {
	if len(cred.GetToken().GetData()) == 0 || len(cred.GetVerifier().GetData()) == 0 {
		return StatusNoToken, auth.ErrNoToken
	}
	origin := cred.GetOrigin()
	if err := auth.ValidateOrigin(origin); err != nil {
		return StatusBadOrigin, err
	}
	var pub crypto.PublicKey
	key, err := auth.LoadOriginKey(s.opts.KeysDir, origin)
	switch {
	case err == nil:
		pub = key
	case errors.Is(err, fs.ErrNotExist) && s.opts.AllowInsecure:
		// No key: only a digest-only credential can pass (Verify with nil).
	case errors.Is(err, fs.ErrNotExist):
		return StatusUnknownOrigin, err
	default:
		return StatusBadKey, err
	}
	if _, err := s.verifier.Verify(cred, pub); err != nil {
		return statusOf(err, pub == nil), err
	}
	return StatusOK, nil
}

// statusOf maps an error of auth.Verifier.Verify to a status. Without a key
// (noKey, allowed insecure), a credential that is not a digest is from an
// unknown origin rather than badly signed.
func statusOf(err error, noKey bool) int32 {
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return StatusNoToken
	case errors.Is(err, auth.ErrMalformedToken):
		return StatusMalformedToken
	case errors.Is(err, auth.ErrExpired):
		return StatusExpired
	case errors.Is(err, auth.ErrInsecureNotAllowed):
		return StatusInsecure
	case errors.Is(err, auth.ErrBadSignature) && noKey:
		return StatusUnknownOrigin
	case errors.Is(err, auth.ErrBadSignature):
		return StatusBadSignature
	case errors.Is(err, auth.ErrUnsupportedKey):
		return StatusBadKey
	}
	return StatusInternal
}
