package auth_test

import (
	"crypto"
	"testing"

	"github.com/cc532012/drpc/drpc/auth"
)

// benchKeys are the keys benchmarked: Ed25519 and RSA-3072, the DAOS size,
// plus the insecure digest for comparison.
func benchKeys(b *testing.B) []struct {
	name string
	key  crypto.Signer
} {
	return []struct {
		name string
		key  crypto.Signer
	}{
		{"ed25519", testKey(b, "ed25519")},
		{"rsa-3072", testKey(b, "rsa3072")},
		{"digest", nil},
	}
}

func BenchmarkSign(b *testing.B) {
	tok := testToken(b)
	for _, k := range benchKeys(b) {
		b.Run(k.name, func(b *testing.B) {
			s := auth.NewSigner(k.key)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(tok, "agent"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	tok := testToken(b)
	for _, k := range benchKeys(b) {
		b.Run(k.name, func(b *testing.B) {
			cred := signWith(b, k.key, tok)
			var pub crypto.PublicKey
			if k.key != nil {
				pub = k.key.Public()
			}
			v := auth.Verifier{AllowInsecure: k.key == nil}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(cred, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
