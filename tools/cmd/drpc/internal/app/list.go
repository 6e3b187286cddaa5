package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/drpc/catalog"
)

// ListJSON is what `drpc list --json` prints.
type ListJSON struct {
	// Modules are the catalog's modules, by ID.
	Modules []ModuleJSON `json:"modules"`
	// Conflicts are the catalog's registration errors (catalog.Err), if any.
	Conflicts []string `json:"conflicts,omitempty"`
}

// ModuleJSON is one module of ListJSON.
type ModuleJSON struct {
	ID      int32        `json:"id"`
	Service string       `json:"service"`
	Methods []MethodJSON `json:"methods"`
}

// MethodJSON is one method of ModuleJSON.
type MethodJSON struct {
	ID int32 `json:"id"`
	// Name is the rpc's name, e.g. "NotifyReady".
	Name string `json:"name"`
	// FullName is the rpc's full name, e.g. "drpc.srv.v1.SrvService.NotifyReady".
	FullName string `json:"full_name"`
	// Request and Reply are the full names of the message types.
	Request string `json:"request"`
	Reply   string `json:"reply"`
}

// List returns the catalog as ListJSON.
func List() ListJSON {
	var out ListJSON
	for _, m := range catalogModules() {
		mj := ModuleJSON{ID: int32(m.id), Service: string(m.service)}
		for _, e := range m.methods {
			mj.Methods = append(mj.Methods, MethodJSON{
				ID:       int32(e.MethodID),
				Name:     string(e.MethodName),
				FullName: string(e.FullMethodName()),
				Request:  string(e.Request.Descriptor().FullName()),
				Reply:    string(e.Response.Descriptor().FullName()),
			})
		}
		out.Modules = append(out.Modules, mj)
	}
	if err := catalog.Err(); err != nil {
		out.Conflicts = splitLines(err.Error())
	}
	return out
}

func newListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the modules and methods the tool knows, with IDs and message types",
		Long: `list prints every module and method of the catalog: the dRPC methods of the
schema's generated packages that this binary contains, with their IDs and
their request and reply message types. call and bench accept the names it
shows (see 'drpc call --help' for the short forms).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l := List()
			for _, c := range l.Conflicts {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: the catalog left out a conflicting entry: %s\n", Name, c)
			}
			out := cli.Stdout(cmd)
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(l); err != nil {
					return fmt.Errorf("write the list: %w", err)
				}
				return nil
			}
			if err := writeList(out, l); err != nil {
				return fmt.Errorf("write the list: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: {\"modules\": [{\"id\", \"service\", \"methods\": [{\"id\", \"name\", \"full_name\", \"request\", \"reply\"}]}]}")
	return cmd
}

// writeList writes l as text: a line per module, and under it a line per
// method with its ID, name and message types, aligned over the whole list.
func writeList(w io.Writer, l ListJSON) error {
	idWidth, nameWidth := 0, 0
	for _, m := range l.Modules {
		for _, me := range m.Methods {
			idWidth = max(idWidth, len(strconv.Itoa(int(me.ID))))
			nameWidth = max(nameWidth, len(me.Name))
		}
	}
	for _, m := range l.Modules {
		if _, err := fmt.Fprintf(w, "module %d  %s\n", m.ID, m.Service); err != nil {
			return err
		}
		for _, me := range m.Methods {
			if _, err := fmt.Fprintf(w, "  %*d  %-*s  %s -> %s\n", idWidth, me.ID, nameWidth, me.Name, me.Request, me.Reply); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitLines splits a multi-line error message (errors.Join) into lines.
func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
