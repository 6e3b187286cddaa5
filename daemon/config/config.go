package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cc532012/drpc/daemon/rundir"
)

// MaxFileSize is the largest configuration file Load reads: a daemon's
// configuration is a few dozen lines, and anything near this size is the
// wrong file.
const MaxFileSize = 1 << 20

// Load reads the YAML file at path into dst, a pointer to a struct that holds
// the defaults: keys the file names replace them, the others stay. See Decode
// for the rules. It returns where each key of the file is, so that a later
// check of a value can name its line (Source.Locate). A file that cannot be
// read is an *Error of kind ErrRead that also wraps the operating system's
// error (errors.Is(err, fs.ErrNotExist)).
func Load(path string, dst any) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Kind: ErrRead, Err: err, Msg: readMessage(err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{File: path, Kind: ErrRead, Err: err, Msg: readMessage(err)}
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{File: path, Kind: ErrRead, Msg: fmt.Sprintf("not a regular file (it is %s): give the path of a YAML file", rundir.Kind(st.Mode()))}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Kind: ErrRead, Err: err, Msg: readMessage(err)}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Kind: ErrTooLarge, Msg: fmt.Sprintf("larger than %d bytes: is it the right file?", MaxFileSize)}
	}
	return decode(data, path, dst)
}

func readMessage(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file: check the path, or leave the option out to run with the defaults"
	case errors.Is(err, os.ErrPermission):
		return "permission denied: make the file readable by the daemon's user"
	}
	return fmt.Sprintf("cannot read: %v", err)
}

// Decode decodes the YAML document data into dst, a non-nil pointer to a
// struct that holds the defaults. name (a file path) prefixes error messages;
// it may be empty.
//
// Decoding is strict: data must hold at most one YAML document, which must be
// a mapping, indented with spaces; every key must be a field of the struct
// (by its yaml tag) and appear once; every value must fit its field. Empty
// data, or a document that is only a comment or null, leaves dst unchanged.
// Each problem is an *Error naming the line and key; several are joined
// with errors.Join.
//
// dst is only changed if decoding succeeds. (Maps in dst are shared with the
// result: a mapping in data adds to a non-nil map of the defaults.)
// Decode never panics on bad input.
func Decode(data []byte, name string, dst any) error {
	_, err := decode(data, name, dst)
	return err
}

func decode(data []byte, name string, dst any) (src *Source, err error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("config: decode %s: destination must be a non-nil pointer, not %T", name, dst)
	}
	defer func() {
		if r := recover(); r != nil {
			src, err = nil, &Error{File: name, Kind: ErrSyntax, Msg: fmt.Sprintf("cannot parse the file: %v", r)}
		}
	}()
	src = &Source{File: name, lines: map[string]int{}}
	if e := tabIndent(data, name); e != nil {
		return nil, e
	}
	root, err := parseOne(data, name)
	if err != nil || root == nil {
		return src, err
	}
	c := &checker{name: name}
	c.check(root, rv.Elem().Type(), "", 0)
	if len(c.problems) > 0 {
		return nil, errors.Join(c.problems...)
	}
	// Decode into a copy, so that dst keeps its values if decoding fails.
	tmp := reflect.New(rv.Elem().Type())
	tmp.Elem().Set(rv.Elem())
	if err := root.Decode(tmp.Interface()); err != nil {
		// The checks above found nothing: this should not happen.
		return nil, &Error{File: name, Kind: ErrBadValue, Err: err, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	rv.Elem().Set(tmp.Elem())
	src.index(root, "", 0)
	return src, nil
}

// parseOne parses data into its node tree and checks that it holds at most
// one document, a mapping. It returns nil for an empty or null document.
func parseOne(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(name, err)
	default:
		return nil, &Error{File: name, Line: max(extra.Line, 1), Kind: ErrSyntax,
			Msg: `a second YAML document (after a "---" line): put every key in one document`}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Line, Kind: ErrSyntax,
			Msg: fmt.Sprintf("the configuration must be a mapping of keys to values (key: value), not %s", nodeKindName(root.Kind))}
	}
	return root, nil
}

// Dump writes v (a configuration struct or a pointer to one) to w as YAML,
// indented by two spaces, in the order of the struct's fields. Use it for a
// `config dump` command: its output is a valid configuration file.
func Dump(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("config: dump: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: dump: %w", err)
	}
	return nil
}
