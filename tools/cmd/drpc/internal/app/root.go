// Package app is the drpc command-line tool: what grpcurl is for gRPC,
// for dRPC. It calls methods with bodies written as JSON (through the
// catalog of generated methods and protojson), lists the catalog, asks the
// security agent for a credential, load-tests a server and serves an echo
// server to test against. The binary tools/cmd/drpc is a thin main around
// NewRoot; tests run the commands through it.
package app

import (
	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
	// Every generated package of the api module, so that the catalog knows
	// every method of the schema (they register themselves in init);
	// make generate writes the list.
	_ "github.com/cc532012/drpc/tools/internal/apiall"
)

// Name is the binary's name, used in messages.
const Name = "drpc"

// MaxBody is the largest body the tool sends, receives and echoes: 64 MiB,
// the transport's default message limit.
const MaxBody = 64 << 20

// envelopeSlack is room for the Call or Response envelope around a body of
// MaxBody (the IDs, sequence, status and length take well under 64 bytes).
const envelopeSlack = 1 << 10

// maxMessageSize is the message limit of the tool's connections and of
// serve-echo, so that a body of MaxBody fits in a message.
const maxMessageSize = MaxBody + envelopeSlack

const long = `drpc calls dRPC servers by hand, the way grpcurl does for gRPC: it sends a
call with a body written as JSON (or hex), prints the status and the reply as
JSON, lists the methods it knows, asks the security agent for a credential,
load-tests a server, and serves an echo to test against.

  drpc list
  drpc call --socket /var/run/daos_server/daos_server.sock \
      --method srv.NotifyReady --data '{"uri": "tcp://node1:1234", "nctxs": 4}'
  drpc creds --pubkey /etc/drpc/keys/agent.pub
  drpc serve-echo --socket /tmp/echo.sock &
  drpc bench --socket /tmp/echo.sock --size 4096 --conns 4 --duration 10s

Exit codes: 0 success; 1 the server answered a status other than SUCCESS (or
the command failed otherwise); 2 the command line is wrong; 3 no answer from a
dRPC server at the socket (missing, no permission, not a dRPC server, hung up,
timed out).`

// NewRoot returns the drpc command tree. Run it with cli.Execute, which
// prints an error as one line on stderr and returns the exit code.
func NewRoot() *cobra.Command {
	root := cli.NewRoot(Name, "Call, list, benchmark and serve dRPC methods by hand", long)
	root.CompletionOptions.DisableDefaultCmd = false // drpc completion bash|zsh|fish|powershell
	root.AddCommand(
		newCallCommand(),
		newListCommand(),
		newCredsCommand(),
		newBenchCommand(),
		newServeEchoCommand(),
		cli.VersionCommand(),
	)
	return root
}
