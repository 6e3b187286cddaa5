package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The problems of a document are found on its node tree, against the type
// it decodes into, before anything is decoded: an unknown key (with the
// closest known one), a key given twice, a value of the wrong kind or form,
// each with its line and dotted key. Nothing here reads the YAML library's
// error messages: only syntax errors, which have no tree, pass its message
// on as it is.

// maxDepth bounds the nesting a document may have.
const maxDepth = 64

// syntaxError is the *Error of a document that does not parse.
func syntaxError(name string, err error) *Error {
	return &Error{File: name, Kind: ErrSyntax, Err: err, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// tabIndent returns the *Error of the first line of data indented with a
// tab, or nil: YAML indents with spaces only, and the library's own message
// for it ("found character that cannot start any token") does not say so.
func tabIndent(data []byte, name string) *Error {
	for i, line := range bytes.Split(data, []byte("\n")) {
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 && len(bytes.TrimSpace(line)) > 0 && !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			return &Error{File: name, Line: i + 1, Kind: ErrSyntax, Msg: "indented with a tab: YAML indents with spaces only"}
		}
	}
	return nil
}

// checker collects the problems of a document.
type checker struct {
	name     string
	problems []error
}

func (c *checker) add(n *yaml.Node, kind error, key, format string, args ...any) {
	c.problems = append(c.problems, &Error{File: c.name, Line: n.Line, Key: key, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// check checks node n, at the dotted key path, against type t.
func (c *checker) check(n *yaml.Node, t reflect.Type, path string, depth int) {
	if depth > maxDepth {
		c.add(n, ErrSyntax, path, "nested more than %d levels deep", maxDepth)
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // keeps the default
	}
	t = deref(t)
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.badValue(n, path, err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.badValue(n, path, "want a mapping (key: value lines), got "+nodeKindName(n.Kind))
			return
		}
		c.mapping(n, path, func(k *yaml.Node, p string) (reflect.Type, bool) {
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				c.unknownKey(k, t, path, p)
			}
			return f.Type, ok
		}, depth)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.badValue(n, path, "want a mapping (key: value lines), got "+nodeKindName(n.Kind))
			return
		}
		c.mapping(n, path, func(k *yaml.Node, p string) (reflect.Type, bool) {
			if err := k.Decode(reflect.New(t.Key()).Interface()); err != nil {
				c.add(k, ErrBadValue, p, "bad key %q under %q: want %s", k.Value, path, describe(t.Key()))
				return nil, false
			}
			return t.Elem(), true
		}, depth)
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			c.badValue(n, path, "want a list, got "+nodeKindName(n.Kind))
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Interface:
	default:
		if n.Kind != yaml.ScalarNode {
			c.badValue(n, path, fmt.Sprintf("want %s, got %s", describe(t), nodeKindName(n.Kind)))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.badValue(n, path, "want "+describe(t))
		}
	}
}

// mapping checks the entries of the mapping n at path: each key is a
// scalar given once, and field returns the type of its value (false for a
// key already reported).
func (c *checker) mapping(n *yaml.Node, path string, field func(k *yaml.Node, p string) (reflect.Type, bool), depth int) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k, ErrBadValue, path, "a key under %q is %s: keys are plain names", path, nodeKindName(k.Kind))
			continue
		}
		p := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			c.add(k, ErrDuplicateKey, p, "key %q given again (first at line %d): give each key once", p, line)
			continue
		}
		first[k.Value] = k.Line
		if t, ok := field(k, p); ok {
			c.check(v, t, p, depth+1)
		}
	}
}

func (c *checker) badValue(n *yaml.Node, path, why string) {
	if n.Kind == yaml.ScalarNode {
		c.add(n, ErrBadValue, path, "bad value %q for key %q: %s", n.Value, path, why)
		return
	}
	c.add(n, ErrBadValue, path, "bad value for key %q: %s", path, why)
}

func (c *checker) unknownKey(k *yaml.Node, t reflect.Type, parent, p string) {
	msg := fmt.Sprintf("unknown key %q", p)
	names := fieldNames(t)
	if s := Suggest(k.Value, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", join(parent, s))
	} else if len(names) > 0 && len(names) <= 20 {
		msg += fmt.Sprintf(" (known keys: %s)", strings.Join(names, ", "))
	}
	c.add(k, ErrUnknownKey, p, "%s", msg)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// describe says in words what a value of type t must be.
func describe(t reflect.Type) string {
	switch deref(t).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number (0 or more)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value lines)"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a value of type " + t.String()
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldByKey finds the field of struct t that the YAML key names.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range fieldsOf(t, 0) {
		if f.key == key {
			return f.field, true
		}
	}
	return reflect.StructField{}, false
}

type keyedField struct {
	key   string
	field reflect.StructField
}

// fieldsOf yields the YAML keys of struct t, following ",inline" fields as
// the YAML library does.
func fieldsOf(t reflect.Type, depth int) func(func(keyedField) bool) {
	return func(yield func(keyedField) bool) {
		if t == nil || t.Kind() != reflect.Struct || depth > 10 {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(","+opts+",", ",inline,") {
				for sub := range fieldsOf(deref(f.Type), depth+1) {
					if !yield(sub) {
						return
					}
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if !yield(keyedField{key: name, field: f}) {
				return
			}
		}
	}
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for f := range fieldsOf(t, 0) {
		names = append(names, f.key)
	}
	return names
}

// Suggest returns the one of known closest to word, if it is close enough
// to be a typo of it (an edit distance of at most a third of its length,
// and at least 2), or "": the "did you mean" of unknown configuration
// keys.
func Suggest(word string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		d := EditDistance(strings.ToLower(word), strings.ToLower(k))
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(2, len(word)/3) {
		return ""
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in runes: how
// many runes to insert, delete or replace to make one the other. Strings
// longer than 256 runes are as far apart as the longer one is long.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 || len(rb) > 256 {
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// errorsOf returns the problems of a joined error, one by one.
func errorsOf(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, errorsOf(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
