package app

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cc532012/drpc/daemon/cli"
)

// bodyFlags are the flags that give a call's body: --data (JSON of the
// request message, inline, @FILE or - for stdin) or --hex (raw bytes, the
// same three ways).
type bodyFlags struct {
	data, hex string
}

// add adds --data and --hex to fs.
func (b *bodyFlags) add(fs *cli.FlagSet) {
	fs.StringVar(&b.data, "data", "", "request as JSON of the method's request message: `JSON`, @FILE, or - for stdin")
	fs.StringVar(&b.hex, "hex", "", "request as raw bytes in hex: `HEX`, @FILE, or - for stdin")
}

// body returns the call body for t that the flags give (an empty body if
// neither was given), reading stdin for "-".
func (b *bodyFlags) body(cmd *cobra.Command, t Target) ([]byte, error) {
	dataSet, hexSet := cli.Changed(cmd, "data"), cli.Changed(cmd, "hex")
	switch {
	case dataSet && hexSet:
		return nil, usage(errors.New("--data and --hex both give the body: pass only one"))
	case dataSet:
		in, err := readInput("data", b.data, cmd.InOrStdin(), maxMessageSize)
		if err != nil {
			return nil, err
		}
		return encodeJSON(t, in)
	case hexSet:
		in, err := readInput("hex", b.hex, cmd.InOrStdin(), 2*maxMessageSize+4096)
		if err != nil {
			return nil, err
		}
		return decodeHex(in)
	}
	return nil, nil
}

// input is a body flag's text and where it came from, for messages.
type input struct {
	text   []byte
	source string // "--data", "file req.json", "stdin"
}

// readInput reads a --data or --hex value: inline text, @FILE or - (stdin),
// at most limit bytes.
func readInput(flag, value string, stdin io.Reader, limit int) (input, error) {
	switch {
	case value == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, int64(limit)+1))
		if err != nil {
			return input{}, usage(fmt.Errorf("cannot read --%s from stdin: %w", flag, err))
		}
		if len(b) > limit {
			return input{}, usage(fmt.Errorf("--%s on stdin is larger than %d bytes, the largest dRPC message", flag, limit))
		}
		return input{text: b, source: "stdin"}, nil
	case strings.HasPrefix(value, "@"):
		name := value[1:]
		if name == "" {
			return input{}, usage(fmt.Errorf("--%s @ names no file: write --%s @FILE", flag, flag))
		}
		st, err := os.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return input{}, usage(fmt.Errorf("--%s @%s: no such file; check the path", flag, name))
		case errors.Is(err, fs.ErrPermission):
			return input{}, usage(fmt.Errorf("--%s @%s: permission denied; make the file readable", flag, name))
		case err != nil:
			return input{}, usage(fmt.Errorf("--%s @%s: %w", flag, name, err))
		case st.IsDir():
			return input{}, usage(fmt.Errorf("--%s @%s is a directory: name a file", flag, name))
		case st.Mode().IsRegular() && st.Size() > int64(limit):
			return input{}, usage(fmt.Errorf("--%s @%s is larger than %d bytes, the largest dRPC message", flag, name, limit))
		}
		f, err := os.Open(name)
		if err != nil {
			return input{}, usage(fmt.Errorf("--%s @%s: %w", flag, name, err))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
		if err != nil {
			return input{}, usage(fmt.Errorf("--%s @%s: read: %w", flag, name, err))
		}
		if len(b) > limit {
			return input{}, usage(fmt.Errorf("--%s @%s is larger than %d bytes, the largest dRPC message", flag, name, limit))
		}
		return input{text: b, source: "file " + name}, nil
	}
	return input{text: []byte(value), source: "--" + flag}, nil
}

// decodeHex decodes a --hex body: hex digits, optionally with a 0x prefix
// and with white space, ':' or '-' between bytes.
func decodeHex(in input) ([]byte, error) {
	s := strings.TrimSpace(string(in.text))
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', ':', '-':
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		where := "--hex"
		if in.source != where {
			where += " (" + in.source + ")"
		}
		var inv hex.InvalidByteError
		switch {
		case errors.As(err, &inv):
			return nil, usage(fmt.Errorf("%s is not hex: %q is not a hex digit; give two hex digits per byte, e.g. 0a0568656c6c6f", where, rune(inv)))
		case errors.Is(err, hex.ErrLength):
			return nil, usage(fmt.Errorf("%s has an odd number of hex digits: give two digits per byte", where))
		}
		return nil, usage(fmt.Errorf("%s: %w", where, err))
	}
	return b, nil
}

// encodeJSON turns JSON text into the wire encoding of t's request
// message. Empty text is an empty message.
func encodeJSON(t Target, in input) ([]byte, error) {
	if t.Entry == nil {
		return nil, usage(fmt.Errorf("%s is not in the catalog, so JSON cannot be encoded for it: pass the body in hex with --hex", t))
	}
	msg := t.Entry.Request.New().Interface()
	if len(bytes.TrimSpace(in.text)) > 0 {
		if err := protojson.Unmarshal(in.text, msg); err != nil {
			return nil, usage(jsonError(err, in, t.Entry.Request.Descriptor()))
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, usage(fmt.Errorf("cannot encode the request %s: %w", t.Entry.Request.Descriptor().FullName(), err))
	}
	return b, nil
}

// protojsonPos matches protojson's error texts: "proto: (line 1:2): unknown
// field "x"", "proto: syntax error (line 3:13): unexpected token ,".
var protojsonPos = regexp.MustCompile(`^proto:\s*(syntax error\s*)?\(line (\d+):(\d+)\):\s*(.*)$`)

// badBytes matches the detail of a bytes field given a string that is not
// base64, with the string (quoted).
var badBytes = regexp.MustCompile(`^invalid value for bytes field \S+: ("(?:[^"\\]|\\.)*")$`)

// base64Hint says how JSON writes bytes, with the given string (quoted
// JSON) in base64 as the example.
func base64Hint(quoted string) string {
	s, err := strconv.Unquote(quoted)
	if err != nil || s == "" {
		s = "hello"
	}
	return fmt.Sprintf("JSON writes a bytes field in base64: the bytes of %q are %q", s, base64.StdEncoding.EncodeToString([]byte(s)))
}

// unknownField matches the detail of an unknown field error.
var unknownField = regexp.MustCompile(`^unknown field "([^"]*)"`)

// jsonError rewrites a protojson error as one readable line: where (line,
// column, source), what, and for an unknown field the closest known names.
func jsonError(err error, in input, md protoreflect.MessageDescriptor) error {
	text := strings.TrimSpace(strings.ReplaceAll(err.Error(), "\u00a0", " "))
	where := in.source
	m := protojsonPos.FindStringSubmatch(text)
	if m == nil {
		detail := strings.TrimSpace(strings.TrimPrefix(text, "proto:"))
		if detail == "unexpected EOF" {
			return fmt.Errorf("%s is not valid JSON: it ends too early (unexpected end); check the braces and quotes", where)
		}
		return fmt.Errorf("%s does not fit %s: %s", where, md.FullName(), detail)
	}
	pos := fmt.Sprintf("line %s, column %s", m[2], m[3])
	detail := m[4]
	if m[1] != "" {
		return fmt.Errorf("%s is not valid JSON at %s: %s", where, pos, detail)
	}
	if b := badBytes.FindStringSubmatch(detail); b != nil {
		detail += "; " + base64Hint(b[1])
	}
	if u := unknownField.FindStringSubmatch(detail); u != nil {
		if close := closeFields(u[1], md); len(close) > 0 {
			detail += "; did you mean " + strings.Join(quoteAll(close), " or ") + "?"
		} else {
			detail += fmt.Sprintf("; %s has the fields %s", md.FullName(), strings.Join(quoteAll(fieldNames(md)), ", "))
		}
	}
	return fmt.Errorf("%s does not fit %s at %s: %s", where, md.FullName(), pos, detail)
}

// fieldNames lists the names of md's fields, as the tool writes them (the
// proto names; protojson reads these and the lowerCamelCase JSON names).
func fieldNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	names := make([]string, 0, fields.Len())
	for i := range fields.Len() {
		names = append(names, string(fields.Get(i).Name()))
	}
	return names
}

// closeFields returns the names of the fields, in md and the messages it
// contains, that are closest to name (a likely typo): those at the smallest
// distance, each field once (its proto name if that is as close).
func closeFields(name string, md protoreflect.MessageDescriptor) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	seen := make(map[protoreflect.FullName]bool)
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			best := cand{dist: -1}
			for _, n := range []string{string(f.Name()), f.JSONName()} {
				if d, ok := closeness(strings.ToLower(name), strings.ToLower(n)); ok && (best.dist < 0 || d < best.dist) {
					best = cand{name: n, dist: d}
				}
			}
			if best.dist >= 0 && !slices.ContainsFunc(cands, func(c cand) bool { return c.name == best.name }) {
				cands = append(cands, best)
			}
			if f.Message() != nil {
				walk(f.Message())
			}
		}
	}
	walk(md)
	var out []string
	for _, c := range cands {
		if c.dist == slices.MinFunc(cands, func(a, b cand) int { return a.dist - b.dist }).dist && len(out) < maxSuggestions {
			out = append(out, c.name)
		}
	}
	return out
}

// quoteAll quotes each string.
func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
