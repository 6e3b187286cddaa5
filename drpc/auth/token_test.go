package auth_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// TestNewSysTokenGolden checks the DAOS layout of a token and its exact
// bytes, worked out by hand from the protobuf encoding rules: a field is a
// key byte (field number << 3 | wire type) then its value; varints are
// 7-bit groups, least significant first, with the high bit set on all but
// the last; strings and bytes are a length then the bytes.
func TestNewSysTokenGolden(t *testing.T) {
	// 1700000000 = 0b110_0101010_1001111_1100010_0000000 -> groups (low
	// first) 0x00 0x62 0x4f 0x2a 0x06 -> 80 e2 cf aa 06.
	sysBytes := []byte{
		0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, // 1 stamp: varint 1700000000
		0x12, 0x05, 'n', 'o', 'd', 'e', '1', // 2 machinename: "node1"
		0x1a, 0x06, 'a', 'l', 'i', 'c', 'e', '@', // 3 user: "alice@"
		0x22, 0x06, 's', 't', 'a', 'f', 'f', '@', // 4 group: "staff@"
		0x2a, 0x06, 'w', 'h', 'e', 'e', 'l', '@', // 5 groups: "wheel@"
		0x2a, 0x06, 'v', 'i', 'd', 'e', 'o', '@', // 5 groups: "video@"
	}
	require.Len(t, sysBytes, 45)
	tokenBytes := append([]byte{
		0x08, 0x01, // 1 flavor: AUTH_SYS
		0x12, 45, // 2 data: 45 bytes
	}, sysBytes...)

	// DAOS leaves the stamp 0, which proto3 does not write at all; no
	// supplementary groups write no field 5.
	zeroSys := []byte{
		0x12, 0x05, 'n', 'o', 'd', 'e', '1',
		0x1a, 0x06, 'a', 'l', 'i', 'c', 'e', '@',
		0x22, 0x06, 's', 't', 'a', 'f', 'f', '@',
		0x32, 0x03, 'c', 't', 'x', // 6 secctx: "ctx"
	}

	for _, tc := range []struct {
		name      string
		id        auth.Identity
		stamp     time.Time
		wantSys   *authv1.Sys
		wantData  []byte
		wantToken []byte
	}{
		{
			name:  "full",
			id:    testIdentity,
			stamp: testStamp,
			wantSys: &authv1.Sys{
				Stamp: 1700000000, Machinename: "node1", User: "alice@", Group: "staff@",
				Groups: []string{"wheel@", "video@"},
			},
			wantData:  sysBytes,
			wantToken: tokenBytes,
		},
		{
			name: "zero stamp like DAOS",
			id:   auth.Identity{User: "alice", Group: "staff", Host: "node1", SecCtx: "ctx"},
			wantSys: &authv1.Sys{
				Machinename: "node1", User: "alice@", Group: "staff@", Secctx: "ctx",
			},
			wantData: zeroSys,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.NewSysToken(tc.id, tc.stamp)
			require.NoError(t, err)
			assert.Equal(t, authv1.Flavor_FLAVOR_AUTH_SYS, tok.GetFlavor())
			assert.Equal(t, tc.wantData, tok.GetData())

			sys, err := auth.DecodeSys(tok)
			require.NoError(t, err)
			assert.True(t, proto.Equal(tc.wantSys, sys), "got %v", sys)

			if tc.wantToken != nil {
				got, err := proto.MarshalOptions{Deterministic: true}.Marshal(tok)
				require.NoError(t, err)
				assert.Equal(t, tc.wantToken, got)
			}
		})
	}
}

func TestNewSysTokenStamp(t *testing.T) {
	loc := time.FixedZone("X", 5*3600)
	tok, err := auth.NewSysToken(testIdentity, time.Date(2023, 11, 15, 3, 13, 20, 999_000_000, loc))
	require.NoError(t, err)
	sys, err := auth.DecodeSys(tok)
	require.NoError(t, err)
	assert.Equal(t, uint64(1700000000), sys.GetStamp(), "Unix seconds, whatever the zone; fractions dropped")
}

func TestNewSysTokenInvalid(t *testing.T) {
	with := func(change func(*auth.Identity)) auth.Identity {
		id := testIdentity
		id.Groups = append([]string(nil), id.Groups...)
		change(&id)
		return id
	}
	for _, tc := range []struct {
		name  string
		id    auth.Identity
		stamp time.Time
	}{
		{name: "empty user", id: with(func(id *auth.Identity) { id.User = "" })},
		{name: "empty group", id: with(func(id *auth.Identity) { id.Group = "" })},
		{name: "empty host", id: with(func(id *auth.Identity) { id.Host = "" })},
		{name: "empty short host", id: with(func(id *auth.Identity) { id.Host = ".example.com" })},
		{name: "user with @", id: with(func(id *auth.Identity) { id.User = "alice@" })},
		{name: "group with @", id: with(func(id *auth.Identity) { id.Group = "st@ff" })},
		{name: "supplementary with @", id: with(func(id *auth.Identity) { id.Groups[1] = "video@" })},
		{name: "empty supplementary", id: with(func(id *auth.Identity) { id.Groups[0] = "" })},
		{name: "control character", id: with(func(id *auth.Identity) { id.User = "al\nice" })},
		{name: "NUL", id: with(func(id *auth.Identity) { id.Group = "a\x00" })},
		{name: "invalid UTF-8 user", id: with(func(id *auth.Identity) { id.User = "\xff" })},
		{name: "invalid UTF-8 host", id: with(func(id *auth.Identity) { id.Host = "n\xffode" })},
		{name: "invalid UTF-8 secctx", id: with(func(id *auth.Identity) { id.SecCtx = "\xfe" })},
		{name: "before 1970", id: testIdentity, stamp: time.Unix(-1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.NewSysToken(tc.id, tc.stamp)
			require.ErrorIs(t, err, auth.ErrInvalidIdentity)
			assert.Nil(t, tok)
		})
	}
}

func TestDecodeSys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   *authv1.Token
		wantErr error
	}{
		{name: "nil", token: nil, wantErr: auth.ErrNoToken},
		{name: "empty", token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS}, wantErr: auth.ErrNoToken},
		{name: "AUTH_NONE", token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_NONE, Data: testToken(t).GetData()}, wantErr: auth.ErrMalformedToken},
		{name: "unknown flavor", token: &authv1.Token{Flavor: 7, Data: testToken(t).GetData()}, wantErr: auth.ErrMalformedToken},
		{name: "garbage", token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: []byte{0xff, 0xff}}, wantErr: auth.ErrMalformedToken},
		{name: "invalid UTF-8", token: &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: []byte{0x1a, 0x01, 0xff}}, wantErr: auth.ErrMalformedToken},
		{name: "no user", token: sysToken(t, &authv1.Sys{Group: "staff@", Machinename: "n"}), wantErr: auth.ErrMalformedToken},
		{name: "user only '@'", token: sysToken(t, &authv1.Sys{User: "@", Group: "staff@", Machinename: "n"}), wantErr: auth.ErrMalformedToken},
		{name: "no group", token: sysToken(t, &authv1.Sys{User: "alice@", Machinename: "n"}), wantErr: auth.ErrMalformedToken},
		{name: "only a stamp", token: sysToken(t, &authv1.Sys{Stamp: 1}), wantErr: auth.ErrMalformedToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys, err := auth.DecodeSys(tc.token)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, sys)
		})
	}
}

// sysToken marshals sys into an AUTH_SYS token as is, without
// NewSysToken's checks.
func sysToken(t *testing.T, sys *authv1.Sys) *authv1.Token {
	t.Helper()
	b, err := proto.Marshal(sys)
	require.NoError(t, err)
	return &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: b}
}

func TestValidateOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"agent", true},
		{"agent-2.node_1", true},
		{"a.", true},
		{"agent..1", true},
		{"ägent", true},
		{strings.Repeat("a", auth.MaxOriginLen), true},
		{strings.Repeat("a", auth.MaxOriginLen+1), false},
		{strings.Repeat("a", 4096), false},
		{"", false},
		{".", false},
		{"..", false},
		{".agent", false},
		{"../agent", false},
		{"a/b", false},
		{"/agent", false},
		{"agent/", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"\x00", false},
		{"a\nb", false},
		{"\x7f", false},
		{"\xff", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			err := auth.ValidateOrigin(tc.origin)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, auth.ErrBadOrigin)
		})
	}
	assert.Less(t, auth.MaxOriginLen+len(".pub"), 256, "the key file name fits NAME_MAX")
}

func TestShortHostname(t *testing.T) {
	full, err := os.Hostname()
	require.NoError(t, err)
	short, err := auth.ShortHostname()
	if strings.HasPrefix(full, ".") || full == "" {
		require.Error(t, err)
		return
	}
	require.NoError(t, err)
	assert.NotContains(t, short, ".")
	assert.True(t, strings.HasPrefix(full, short))

	// NewSysToken shortens a full name the same way.
	tok, err := auth.NewSysToken(auth.Identity{User: "u", Group: "g", Host: full}, time.Time{})
	require.NoError(t, err)
	sys, err := auth.DecodeSys(tok)
	require.NoError(t, err)
	assert.Equal(t, short, sys.GetMachinename())
}
