package app

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/catalog"
)

// targetFlags are --module and --method.
type targetFlags struct {
	module, method string
}

// add adds --module and --method to cmd, with shell completion of names.
func (f *targetFlags) add(cmd *cobra.Command, defModule, defMethod string) {
	fs := cmd.Flags()
	fs.StringVar(&f.module, "module", defModule, "module `ID or NAME` (optional with a method name)")
	fs.StringVar(&f.method, "method", defMethod, "method `ID or NAME`, e.g. 301, srv.NotifyReady, drpc.srv.v1.SrvService/NotifyReady")
	_ = cmd.RegisterFlagCompletionFunc("method", completeMethods)
	_ = cmd.RegisterFlagCompletionFunc("module", completeModules)
}

// completeMethods completes --method with the catalog's full method names.
func completeMethods(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, e := range catalog.All() {
		out = append(out, cobra.CompletionWithDesc(methodLabel(e), fmt.Sprintf("module %d, method %d", e.ModuleID, e.MethodID)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeModules completes --module with the catalog's service names.
func completeModules(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, m := range catalogModules() {
		out = append(out, cobra.CompletionWithDesc(string(m.service), "module "+strconv.Itoa(int(m.id))))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// resolve resolves the flags into a Target, as a usage error if they name
// nothing.
func (f *targetFlags) resolve() (Target, error) {
	t, err := Resolve(f.module, f.method)
	if err != nil {
		return Target{}, usage(err)
	}
	return t, nil
}

// requireSocket checks that --socket was given.
func requireSocket(socket string) error {
	if socket == "" {
		return usage(errors.New("--socket is required: give the server's socket path, e.g. --socket /var/run/daos_server/daos_server.sock"))
	}
	if len(socket) > drpc.MaxSocketPathLen {
		return usage(fmt.Errorf("--socket path is %d bytes, longer than the %d the kernel accepts for a socket: use a shorter path", len(socket), drpc.MaxSocketPathLen))
	}
	return nil
}

// withTimeout bounds ctx by d, unless d is 0 (no limit).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func newCallCommand() *cobra.Command {
	var (
		socket  string
		target  targetFlags
		body    bodyFlags
		timeout time.Duration
		quiet   bool
		hold    bool
	)
	cmd := &cobra.Command{
		Use:   "call --socket PATH --method METHOD [--module MODULE] [--data JSON|@FILE|- | --hex HEX|@FILE|-]",
		Short: "Call one method and print the status and the reply",
		Long: `call sends one call and prints the response's status and its body: as JSON
of the method's reply message (protojson, with the fields' proto names, e.g.
socket_dir) when the catalog knows the method, else in hex. The body of the call is --data, JSON of the method's request
message (inline, @FILE, or - for stdin), or --hex, raw bytes; without either
it is empty (an empty request message).

` + NameForms + `

Exit codes: 0 SUCCESS; 1 another status (the reason the server sent, if any,
is printed); 2 a mistake on the command line (a name, a flag, JSON that does
not fit the request); 3 no answer from a dRPC server at --socket.`,
		Example: `  drpc call --socket /tmp/echo.sock --method Echo --data '{"payload": "aGVsbG8="}'
  drpc call --socket /tmp/echo.sock --module 0 --method 1 --hex 0a0568656c6c6f
  drpc call --socket "$SOCK" --method srv.NotifyReady --data @ready.json
  echo '{"rank": 3}' | drpc call --socket "$SOCK" --method mgmt.PingRank --data -
  drpc call --socket /var/run/daos_agent/daos_agent.sock --method GetAttachInfo --data '{"all_ranks": true}'
  drpc call --socket "$AGENT" --method NotifyPoolConnect --data '{"pool_uuid": "...", "pool_handle_uuid": "..."}' --hold &`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireSocket(socket); err != nil {
				return err
			}
			if timeout < 0 {
				return usage(fmt.Errorf("--timeout %s is negative: give a duration such as 10s, or 0 for no limit", timeout))
			}
			t, err := target.resolve()
			if err != nil {
				return err
			}
			b, err := body.body(cmd, t)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := callOnce(ctx, socket, t, b, timeout)
			if err != nil {
				return err
			}
			if err := printResponse(cmd, t, socket, resp, quiet); err != nil || !hold {
				return err
			}
			// The process stays, as a client that holds what it asked
			// for (a pool handle the agent watches) until it is stopped.
			<-cmd.Context().Done()
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", "", "the server's socket `PATH`")
	target.add(cmd, "", "")
	body.add(fs)
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "give up after `DURATION` (connect and call); 0 waits for ever")
	fs.BoolVarP(&quiet, "quiet", "q", false, "print only the reply (JSON or hex), not the status line; the exit code tells the status")
	fs.BoolVar(&hold, "hold", false, "after a successful reply, keep the process running until SIGINT or SIGTERM (exit 0): "+
		"a client that holds what it asked for, e.g. a pool handle registered with the agent (mgmt.NotifyPoolConnect), to kill to see it evicted")
	return cmd
}

// callOnce connects to socket, makes one call to t with body and closes
// the connection. Transport failures come back explained, with
// ExitUnreachable.
func callOnce(ctx context.Context, socket string, t Target, body []byte, timeout time.Duration) (*drpc.Response, error) {
	conn := drpc.NewClientConnection(socket, drpc.WithMaxMessageSize(maxMessageSize))
	if err := conn.Connect(ctx); err != nil {
		return nil, unreachable(err, socket, phaseConnect, timeout)
	}
	defer conn.Close()
	resp, err := conn.SendMsg(ctx, &drpc.Call{Module: int32(t.Module), Method: int32(t.Method), Body: body})
	if err != nil {
		return nil, unreachable(err, socket, phaseCall, timeout)
	}
	return resp, nil
}

// replyJSON is how replies are encoded: with every field, so that a zero
// value is seen rather than missing, under the fields' proto names
// (snake_case, as in the .proto files and as `drpc-server status --json`
// writes them). indentJSON then lays them out.
var replyJSON = protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: true}

// indentJSON lays out JSON with two-space indents. protojson varies its
// white space on purpose (so that nobody compares its output byte for
// byte); re-indenting makes the tool's output stable for people and diffs.
func indentJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return b
	}
	return out.Bytes()
}

// printResponse prints the status line and the reply, and returns the error
// for a status other than SUCCESS.
func printResponse(cmd *cobra.Command, t Target, socket string, resp *drpc.Response, quiet bool) error {
	out := cli.Stdout(cmd)
	if !quiet {
		if _, err := fmt.Fprintf(out, "status: %s\n", StatusName(resp.GetStatus())); err != nil {
			return fmt.Errorf("write the reply: %w", err)
		}
	}
	if resp.GetStatus() != drpc.StatusSuccess {
		return statusError(t, socket, resp)
	}
	if err := writeReply(out, cmd.ErrOrStderr(), t, resp.GetBody()); err != nil {
		return fmt.Errorf("write the reply: %w", err)
	}
	return nil
}

// writeReply writes a successful reply's body: JSON of the reply message if
// the catalog knows the method and the body decodes, else hex (with a note
// on errw if it should have decoded).
func writeReply(w, errw io.Writer, t Target, body []byte) error {
	if t.Entry != nil {
		msg, err := t.Entry.DecodeResponse(body)
		if err == nil {
			b, err := replyJSON.Marshal(msg)
			if err == nil {
				_, err = fmt.Fprintf(w, "%s\n", indentJSON(b))
				return err
			}
			fmt.Fprintf(errw, "%s: note: the reply cannot be written as JSON (%v); here it is in hex\n", Name, err)
		} else {
			fmt.Fprintf(errw, "%s: note: the reply (%d bytes) does not decode as %s (%v); here it is in hex\n",
				Name, len(body), t.Entry.Response.Descriptor().FullName(), errorText(err))
		}
	}
	_, err := fmt.Fprintf(w, "%s\n", hex.EncodeToString(body))
	return err
}

// errorText is the part of a protobuf error that explains it: the text
// after its last "proto:" (protobuf separates it with a space or a
// non-breaking space), or the whole message.
func errorText(err error) string {
	s := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	if i := strings.LastIndex(s, "proto:"); i >= 0 {
		return strings.TrimSpace(s[i+len("proto:"):])
	}
	return s
}
