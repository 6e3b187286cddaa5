package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the daemons' commands.
const (
	// ExitOK: the command succeeded (for a daemon: it stopped cleanly on
	// SIGINT or SIGTERM).
	ExitOK = 0
	// ExitFailure: the command failed (a bad configuration, a key that
	// cannot be read, a socket in use, ...).
	ExitFailure = 1
	// ExitUsage: the command line is wrong (an unknown command or flag, a
	// bad flag value, a missing argument).
	ExitUsage = 2
)

// ExitError is an error that chooses the process's exit code.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the message of the wrapped error.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that Execute exits with code.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// UsageError wraps err as a command-line mistake (ExitUsage) and adds where
// to read the usage of cmd.
func UsageError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	hint := "run with --help for usage"
	if cmd != nil {
		hint = fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath())
	}
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w (%s)", err, hint)}
}

// ExitCode returns the exit code for err: ExitOK for nil, the code of an
// *ExitError in its chain, ExitFailure otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// FormatError formats err as the one line a daemon prints on stderr:
// "program: message", with the lines of a multi-line message (errors.Join)
// separated by "; ".
func FormatError(program string, err error) string {
	msg := strings.TrimSpace(err.Error())
	lines := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return program + ": " + strings.Join(lines, "; ")
}

// Execute runs root with ctx and returns the process's exit code. An error is
// printed on root's error stream (stderr unless set) as one line, see
// FormatError; a panic in a command is printed the same way, as an internal
// error to report, without a stack trace.
func Execute(ctx context.Context, root *cobra.Command) (code int) {
	stderr := root.ErrOrStderr()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(stderr, FormatError(root.Name(), fmt.Errorf("internal error: %v; please report this bug", r)))
			code = ExitFailure
		}
	}()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ExitCode(err) == ExitFailure && isCobraUsageError(err) {
		err = UsageError(root, err)
	}
	fmt.Fprintln(stderr, FormatError(root.Name(), err))
	return ExitCode(err)
}

// isCobraUsageError recognizes the few usage errors that cobra makes itself
// before any hook of ours runs.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "invalid argument", "flag needs an argument", "accepts ", "requires "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Stdout is where commands print results (version, config dump): the
// command's output stream, os.Stdout unless set.
func Stdout(cmd *cobra.Command) io.Writer {
	if cmd == nil {
		return os.Stdout
	}
	return cmd.OutOrStdout()
}

// Changed reports whether the flag name (of cmd or inherited from a parent)
// was given on the command line.
func Changed(cmd *cobra.Command, name string) bool {
	f := cmd.Flag(name)
	return f != nil && f.Changed
}
