package auth_test

import (
	"fmt"
	"time"

	"github.com/cc532012/drpc/drpc/auth"
)

// The agent signs a credential for the identity of its socket peer; the
// server verifies it with the agent's public key.
func Example() {
	// Agent side. A real agent loads its key with LoadPrivateKey and takes
	// the identity from the peer's SO_PEERCRED.
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	if err != nil {
		panic(err)
	}
	token, err := auth.NewSysToken(auth.Identity{
		User:   "alice",
		Group:  "staff",
		Groups: []string{"wheel"},
		Host:   "node1.example.com",
	}, time.Now())
	if err != nil {
		panic(err)
	}
	cred, err := auth.NewSigner(key).Sign(token, "agent")
	if err != nil {
		panic(err)
	}

	// Server side. A real server loads the key with
	// LoadOriginKey(keysDir, cred.GetOrigin()).
	sys, err := auth.Verifier{MaxAge: time.Hour}.Verify(cred, key.Public())
	if err != nil {
		panic(err)
	}
	fmt.Println(sys.GetUser(), sys.GetGroup(), sys.GetGroups(), sys.GetMachinename())
	// Output: alice@ staff@ [wheel@] node1
}

// Without a key the verifier is only a digest, which a Verifier refuses
// unless insecure credentials are allowed.
func ExampleVerifier_Verify_insecure() {
	token, err := auth.NewSysToken(auth.Identity{User: "alice", Group: "staff", Host: "node1"}, time.Time{})
	if err != nil {
		panic(err)
	}
	cred, err := auth.NewSigner(nil).Sign(token, "agent")
	if err != nil {
		panic(err)
	}
	fmt.Println(auth.SignatureKind(cred))

	_, err = auth.Verifier{}.Verify(cred, nil)
	fmt.Println(err != nil)

	sys, err := auth.Verifier{AllowInsecure: true}.Verify(cred, nil)
	fmt.Println(sys.GetUser(), err)
	// Output:
	// digest (insecure)
	// true
	// alice@ <nil>
}
