package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	"google.golang.org/protobuf/proto"
)

// PrincipalSuffix is what DAOS appends to user and group names in an
// AUTH_SYS token: user "alice" is written "alice@".
const PrincipalSuffix = "@"

// Identity is the system identity put into an AUTH_SYS token. Names are
// plain system names, WITHOUT the '@' that DAOS appends: NewSysToken adds it.
type Identity struct {
	// User is the user name, e.g. "alice". Required.
	User string
	// Group is the primary group name, e.g. "staff". Required.
	Group string
	// Groups are the supplementary group names, e.g. ["wheel", "video"].
	Groups []string
	// Host is the machine's host name. Everything from the first dot is
	// dropped, since DAOS writes the short host name; os.Hostname() is
	// therefore fine here (see also ShortHostname). Required.
	Host string
	// SecCtx is an optional security context (e.g. an SELinux label),
	// copied verbatim.
	SecCtx string
}

// NewSysToken returns the AUTH_SYS token for id issued at stamp:
// Token{flavor: AUTH_SYS, data: marshalled Sys}, with names written the
// DAOS way ("alice@", "staff@", the short host name). The stamp is stored
// in Unix seconds; the zero time.Time gives stamp 0, as DAOS writes it. A
// stamp before 1970 is refused, as is an identity with an empty user, group
// or host, or a name containing '@', a control character or invalid UTF-8
// (ErrInvalidIdentity).
func NewSysToken(id Identity, stamp time.Time) (*authv1.Token, error) {
	var secs uint64
	if !stamp.IsZero() {
		if stamp.Unix() < 0 {
			return nil, fmt.Errorf("%w: stamp %v is before 1970: use the current time", ErrInvalidIdentity, stamp)
		}
		secs = uint64(stamp.Unix())
	}
	host, _, _ := strings.Cut(id.Host, ".")
	if err := checkName("host", host); err != nil {
		return nil, err
	}
	sys := &authv1.Sys{
		Stamp:       secs,
		Machinename: host,
		Secctx:      id.SecCtx,
	}
	var err error
	if sys.User, err = principal("user", id.User); err != nil {
		return nil, err
	}
	if sys.Group, err = principal("group", id.Group); err != nil {
		return nil, err
	}
	for _, g := range id.Groups {
		p, err := principal("supplementary group", g)
		if err != nil {
			return nil, err
		}
		sys.Groups = append(sys.Groups, p)
	}
	if !utf8.ValidString(id.SecCtx) {
		return nil, fmt.Errorf("%w: security context is not valid UTF-8", ErrInvalidIdentity)
	}
	data, err := marshalDeterministic(sys)
	if err != nil {
		return nil, fmt.Errorf("%w: encode AUTH_SYS identity: %w", ErrInvalidIdentity, err)
	}
	return &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: data}, nil
}

// principal checks a user or group name and writes it the DAOS way.
func principal(what, name string) (string, error) {
	if err := checkName(what, name); err != nil {
		return "", err
	}
	if strings.Contains(name, PrincipalSuffix) {
		return "", fmt.Errorf("%w: %s name %q contains %q: give the plain name, the %q is added for you",
			ErrInvalidIdentity, what, name, PrincipalSuffix, PrincipalSuffix)
	}
	return name + PrincipalSuffix, nil
}

// checkName checks that name is non-empty, valid UTF-8 and free of control
// characters.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty %s name", ErrInvalidIdentity, what)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: %s name %q is not valid UTF-8", ErrInvalidIdentity, what, name)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("%w: %s name %q contains a control character", ErrInvalidIdentity, what, name)
	}
	return nil
}

// DecodeSys returns the AUTH_SYS identity in token (it does not check any
// signature: use Verifier.Verify for that). It returns ErrNoToken for a
// missing or empty token, and ErrMalformedToken for a token of another
// flavor, whose data is not a Sys, or that holds no identity: an empty user
// or group name (or one that is only the '@' DAOS appends). A signature
// cannot make such a token mean anyone, so Verify refuses it too.
func DecodeSys(token *authv1.Token) (*authv1.Sys, error) {
	if len(token.GetData()) == 0 {
		return nil, fmt.Errorf("%w: the token is missing or empty", ErrNoToken)
	}
	if f := token.GetFlavor(); f != authv1.Flavor_FLAVOR_AUTH_SYS {
		return nil, fmt.Errorf("%w: token flavor is %v, want %v", ErrMalformedToken, f, authv1.Flavor_FLAVOR_AUTH_SYS)
	}
	sys := new(authv1.Sys)
	if err := proto.Unmarshal(token.GetData(), sys); err != nil {
		return nil, fmt.Errorf("%w: token data is not an AUTH_SYS identity: %w", ErrMalformedToken, err)
	}
	for _, f := range []struct{ what, name string }{{"user", sys.GetUser()}, {"group", sys.GetGroup()}} {
		if f.name == "" || f.name == PrincipalSuffix {
			return nil, fmt.Errorf("%w: the token holds no %s name: it names nobody, whoever signed it", ErrMalformedToken, f.what)
		}
	}
	return sys, nil
}

// marshalDeterministic marshals m the way credentials are signed and
// verified.
func marshalDeterministic(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// ShortHostname returns the machine's host name up to the first dot, as
// DAOS writes it in tokens.
func ShortHostname() (string, error) {
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("host name: %w", err)
	}
	short, _, _ := strings.Cut(name, ".")
	if short == "" {
		return "", errors.New("host name: the system host name is empty: set one (hostnamectl set-hostname)")
	}
	return short, nil
}
