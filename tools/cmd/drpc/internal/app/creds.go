package app

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	"github.com/cc532012/drpc/drpc/catalog"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// The agent's default socket: <runtime dir>/daos_agent.sock, in the
// runtime directory the agent uses by default (package daemon/rundir).
const (
	agentRuntimeDirName = "daos_agent"
	agentSocketName     = "daos_agent.sock"
)

// DefaultAgentSocket is the socket the agent listens on when started
// without --runtime-dir: /var/run/daos_agent/daos_agent.sock as root.
func DefaultAgentSocket() string {
	return filepath.Join(rundir.Default(agentRuntimeDirName), agentSocketName)
}

// CredsJSON is what `drpc creds --json` prints.
type CredsJSON struct {
	Socket string   `json:"socket"`
	User   string   `json:"user"`
	Group  string   `json:"group"`
	Groups []string `json:"groups"`
	Host   string   `json:"host"`
	SecCtx string   `json:"secctx,omitempty"`
	// Stamp is the issue time in Unix seconds (0: not set, as DAOS agents
	// write it); StampTime is the same in RFC 3339, if set.
	Stamp     uint64 `json:"stamp"`
	StampTime string `json:"stamp_time,omitempty"`
	Origin    string `json:"origin"`
	Flavor    string `json:"flavor"`
	// SignatureKind is the kind of the verifier: "ed25519", "rsa-3072",
	// "digest (insecure)", "none", or "unknown (N bytes)". Without
	// --pubkey, or when it does not verify, it is what the verifier's size
	// suggests (auth.SignatureKind); once verified, the kind of the key
	// that verified it. Verified says which.
	SignatureKind  string `json:"signature_kind"`
	SignatureBytes int    `json:"signature_bytes"`
	// PublicKey, Verified and VerifyError are set with --pubkey.
	PublicKey   string `json:"public_key,omitempty"`
	Verified    *bool  `json:"verified,omitempty"`
	VerifyError string `json:"verify_error,omitempty"`
}

func newCredsCommand() *cobra.Command {
	var (
		socket  string
		pubkey  string
		asJSON  bool
		credOut string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "creds [--socket PATH] [--pubkey FILE] [--json]",
		Short: "Ask the security agent for a credential and show it",
		Long: `creds asks the security agent for a credential for this process (module 1,
method 101, as libdaos does) and shows what it holds: the user, group and
groups (written as the agent writes them, "name@"), the host, the issue stamp
as a time, the origin, and the kind and size of the signature. With --pubkey
it verifies the signature with that public key (PKIX PEM, as 'drpc-agent
gen-key' writes it) and says whether it holds; a credential that does not
verify exits 1. With --cred-out it also writes the credential, as the JSON
body of a validate-credentials call (security module 4, method 401), to a
file: 'drpc call --method ValidateCredentials --data @FILE' then asks a
server to validate it, as an engine does on a client's behalf.

The default socket is the agent's: ` + DefaultAgentSocket() + `.`,
		Example: `  drpc creds
  drpc creds --socket /run/user/1000/daos_agent/daos_agent.sock --pubkey agent.key.pub --json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireSocket(socket); err != nil {
				return err
			}
			var pub crypto.PublicKey
			if pubkey != "" {
				k, err := auth.LoadPublicKey(pubkey)
				if err != nil {
					return usage(fmt.Errorf("--pubkey: %w", err))
				}
				pub = k
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			cred, err := requestCredential(ctx, socket, timeout)
			if err != nil {
				return err
			}
			if credOut != "" {
				if err := writeValidateRequest(credOut, cred); err != nil {
					return err
				}
			}
			return showCredential(cmd, socket, cred, pubkey, pub, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", DefaultAgentSocket(), "the agent's socket `PATH`")
	fs.StringVar(&pubkey, "pubkey", "", "verify the signature with the public key in `FILE`")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	fs.StringVar(&credOut, "cred-out", "", "also write the credential to `FILE`, as the JSON body of a ValidateCredentials call")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "give up after `DURATION`; 0 waits for ever")
	return cmd
}

// credsTarget is the agent's method, for messages.
func credsTarget() Target {
	t := Target{Module: authv1drpc.SecurityAgentServiceModuleID, Method: authv1drpc.SecurityAgentServiceRequestCredentialsMethodID}
	if e, ok := catalog.Lookup(t.Module, t.Method); ok {
		t.Entry = &e
	}
	return t
}

// requestCredential asks the agent at socket for a credential.
func requestCredential(ctx context.Context, socket string, timeout time.Duration) (*authv1.Credential, error) {
	t := credsTarget()
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		te := classify(err, socket, phaseConnect, timeout)
		if te.Kind == KindNoSocket {
			te.msg = fmt.Sprintf("no agent socket at %s: is the agent running (drpc-agent start)? Else give its socket with --socket", socket)
		}
		return nil, cli.WithExitCode(ExitUnreachable, te)
	}
	defer conn.Close()
	resp, err := authv1drpc.NewSecurityAgentServiceClient(conn).RequestCredentials(ctx, &authv1.GetCredReq{})
	var f *drpc.Failure
	switch {
	case errors.As(err, &f):
		return nil, failureError(t, socket, f)
	case errors.Is(err, drpc.ErrMalformedReply):
		return nil, cli.WithExitCode(ExitStatus, fmt.Errorf("the reply from %s does not decode as a credential (%s): it is not a security agent, or speaks another version of the schema", socket, errorText(err)))
	case err != nil:
		return nil, unreachable(err, socket, phaseCall, timeout)
	}
	if st := resp.GetStatus(); st != 0 {
		return nil, cli.WithExitCode(ExitStatus, fmt.Errorf("the agent at %s refused a credential: status %d%s; see the agent's log", socket, st, daosErrorName(st)))
	}
	if resp.GetCred() == nil {
		return nil, cli.WithExitCode(ExitStatus, fmt.Errorf("the agent at %s answered success without a credential: a broken agent; see its log", socket))
	}
	return resp.GetCred(), nil
}

// writeValidateRequest writes cred to path as the protojson of a
// ValidateCredReq, mode 0600: a credential is the caller's identity.
func writeValidateRequest(path string, cred *authv1.Credential) error {
	b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(&authv1.ValidateCredReq{Cred: cred})
	if err != nil {
		return fmt.Errorf("encode the credential: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("--cred-out: %w", err)
	}
	return nil
}

// daosErrorName names the DAOS error numbers an agent answers with.
func daosErrorName(status int32) string {
	switch status {
	case -1001:
		return " (DER_NO_PERM: permission denied)"
	case -1003:
		return " (DER_INVAL: invalid request)"
	case -1005: // drpc-agent before it answered as DAOS's agent does
		return " (DER_NONEXIST: this user or group has no name on the agent's host)"
	case -1025:
		return " (DER_MISC: the credential could not be made, e.g. this user or group has no name on the agent's host)"
	}
	return ""
}

// showCredential prints cred, verified with pub if pubkey is set, and
// returns an error (ExitStatus) if it does not verify or holds no identity.
func showCredential(cmd *cobra.Command, socket string, cred *authv1.Credential, pubkey string, pub crypto.PublicKey, asJSON bool) error {
	sys, err := auth.DecodeSys(cred.GetToken())
	if err != nil {
		return cli.WithExitCode(ExitStatus, fmt.Errorf("the agent at %s sent a credential without a valid identity: %w", socket, err))
	}
	c := CredsJSON{
		Socket:         socket,
		User:           sys.GetUser(),
		Group:          sys.GetGroup(),
		Groups:         append([]string{}, sys.GetGroups()...),
		Host:           sys.GetMachinename(),
		SecCtx:         sys.GetSecctx(),
		Stamp:          sys.GetStamp(),
		Origin:         cred.GetOrigin(),
		Flavor:         strings.TrimPrefix(cred.GetToken().GetFlavor().String(), "FLAVOR_"),
		SignatureKind:  strings.TrimSuffix(auth.SignatureKind(cred), " (unchecked)"),
		SignatureBytes: len(cred.GetVerifier().GetData()),
	}
	if c.Stamp != 0 && c.Stamp <= 1<<62 {
		c.StampTime = time.Unix(int64(c.Stamp), 0).Format(time.RFC3339)
	}
	var verifyErr error
	if pubkey != "" {
		c.PublicKey = pubkey
		_, verifyErr = auth.Verifier{}.Verify(cred, pub)
		ok := verifyErr == nil
		c.Verified = &ok
		if verifyErr != nil {
			c.VerifyError = verifyErr.Error()
		} else if kind, err := auth.KeyTypeOf(pub); err == nil {
			c.SignatureKind = string(kind)
		}
	}

	out := cli.Stdout(cmd)
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(c)
	} else {
		err = writeCreds(out, c, pub)
	}
	if err != nil {
		return fmt.Errorf("write the credential: %w", err)
	}
	if verifyErr != nil {
		return cli.WithExitCode(ExitStatus, fmt.Errorf("the credential does NOT verify with %s: %w", pubkey, verifyErr))
	}
	return nil
}

// signatureLine describes the verifier: its kind, checked or only guessed
// from its size, and its size.
func signatureLine(c CredsJSON) string {
	switch {
	case c.SignatureBytes == 0 || strings.HasPrefix(c.SignatureKind, "digest") || strings.HasPrefix(c.SignatureKind, "unknown"):
		return fmt.Sprintf("%s, %d bytes", c.SignatureKind, c.SignatureBytes)
	case c.Verified == nil:
		return fmt.Sprintf("%s by its size, %d bytes (not checked: give --pubkey to verify it)", c.SignatureKind, c.SignatureBytes)
	case *c.Verified:
		return fmt.Sprintf("%s, %d bytes", c.SignatureKind, c.SignatureBytes)
	}
	return fmt.Sprintf("%s by its size, %d bytes", c.SignatureKind, c.SignatureBytes)
}

// writeCreds writes c as aligned "key: value" lines.
func writeCreds(w io.Writer, c CredsJSON, pub crypto.PublicKey) error {
	groups := strings.Join(c.Groups, ", ")
	if groups == "" {
		groups = "(none)"
	}
	stamp := "0 (not set, as DAOS agents write it)"
	if c.StampTime != "" {
		age := time.Since(time.Unix(int64(c.Stamp), 0)).Round(time.Second)
		stamp = fmt.Sprintf("%s (%d, %s ago)", c.StampTime, c.Stamp, age)
	} else if c.Stamp != 0 {
		stamp = fmt.Sprintf("%d (not a valid time)", c.Stamp)
	}
	lines := [][2]string{
		{"user", c.User},
		{"group", c.Group},
		{"groups", groups},
		{"host", c.Host},
	}
	if c.SecCtx != "" {
		lines = append(lines, [2]string{"secctx", c.SecCtx})
	}
	lines = append(lines,
		[2]string{"stamp", stamp},
		[2]string{"origin", c.Origin},
		[2]string{"flavor", c.Flavor},
		[2]string{"signature", signatureLine(c)},
	)
	if c.Verified != nil {
		v := "NO: " + c.VerifyError
		if *c.Verified {
			kind, _ := auth.KeyTypeOf(pub)
			v = fmt.Sprintf("yes, signed by the %s key in %s", kind, c.PublicKey)
		}
		lines = append(lines, [2]string{"verified", v})
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%-10s %s\n", l[0]+":", l[1]); err != nil {
			return err
		}
	}
	return nil
}
