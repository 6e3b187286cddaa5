package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The messages of yaml.TypeError that Decode turns into *Error values. The
// YAML library reports problems as text only; the patterns below are its
// message formats (go.yaml.in/yaml/v3), and anything else is kept verbatim.
var (
	reLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	reSyntax    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	reNotFound  = regexp.MustCompile(`^field (.*) not found in type (.*)$`)
	reDuplicate = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	reSetTwice  = regexp.MustCompile(`^field (.*) already set in type (.*)$`)
	reCannot    = regexp.MustCompile("^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
	reBadValue  = regexp.MustCompile(`^bad value(?: (".*"))?: (.*)$`)
)

func syntaxError(name string, err error) *Error {
	msg := err.Error()
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Kind: ErrSyntax, Err: err, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: name, Kind: ErrSyntax, Err: err, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// entry is one key of the document: its dotted path and its nodes.
type entry struct {
	path       string
	key, value *yaml.Node
}

// keyIndex finds the keys of a document by line.
type keyIndex struct {
	entries []entry
}

func indexKeys(root *yaml.Node) *keyIndex {
	idx := &keyIndex{}
	idx.walk(root, "", 0)
	return idx
}

func (idx *keyIndex) walk(n *yaml.Node, path string, depth int) {
	if n == nil || depth > 100 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			idx.entries = append(idx.entries, entry{path: p, key: k, value: v})
			idx.walk(v, p, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.walk(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	}
}

// keyOnLine returns the entry whose key is name on line.
func (idx *keyIndex) keyOnLine(line int, name string) (entry, bool) {
	for _, e := range idx.entries {
		if e.key.Line == line && e.key.Value == name {
			return e, true
		}
	}
	return entry{}, false
}

// valueOnLine returns the entry whose value starts on line and matches the
// (possibly shortened) value the YAML library quoted; failing that, the
// entry whose key does (a map key that does not fit the map's key type, with
// isKey set); failing that, the last key on the line.
func (idx *keyIndex) valueOnLine(line int, quoted string, haveQuoted bool) (e entry, isKey, ok bool) {
	match := func(v string) bool {
		if !haveQuoted {
			return true
		}
		if strings.HasSuffix(quoted, "...") {
			return strings.HasPrefix(v, strings.TrimSuffix(quoted, "..."))
		}
		return v == quoted
	}
	for _, e := range idx.entries {
		if e.value.Line != line {
			continue
		}
		if e.value.Kind == yaml.ScalarNode && match(e.value.Value) || e.value.Kind != yaml.ScalarNode && !haveQuoted {
			return e, false, true
		}
	}
	for _, e := range idx.entries {
		if e.key.Line == line && match(e.key.Value) {
			return e, true, true
		}
	}
	for i := len(idx.entries) - 1; i >= 0; i-- {
		if e := idx.entries[i]; e.key.Line == line || e.value.Line == line {
			return e, false, true
		}
	}
	return entry{}, false, false
}

// typeProblem turns one message of a yaml.TypeError into an *Error.
func typeProblem(name, msg string, idx *keyIndex, root reflect.Type) *Error {
	m := reLine.FindStringSubmatch(msg)
	if m == nil {
		return &Error{File: name, Kind: ErrBadValue, Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	e := &Error{File: name, Line: line, Kind: ErrBadValue}

	if sm := reNotFound.FindStringSubmatch(rest); sm != nil {
		key := sm[1]
		e.Kind = ErrUnknownKey
		e.Key = key
		parent := ""
		if en, ok := idx.keyOnLine(line, key); ok {
			e.Key = en.path
			parent = strings.TrimSuffix(strings.TrimSuffix(en.path, key), ".")
		}
		e.Msg = fmt.Sprintf("unknown key %q", e.Key)
		if s := suggest(key, fieldNames(typeAt(root, parent))); s != "" {
			if parent != "" {
				s = parent + "." + s
			}
			e.Msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if names := fieldNames(typeAt(root, parent)); len(names) > 0 && len(names) <= 20 {
			e.Msg += fmt.Sprintf(" (known keys: %s)", strings.Join(names, ", "))
		}
		return e
	}
	if sm := reDuplicate.FindStringSubmatch(rest); sm != nil {
		key, err := strconv.Unquote(sm[1])
		if err != nil {
			key = sm[1]
		}
		e.Kind = ErrDuplicateKey
		e.Key = key
		if en, ok := idx.keyOnLine(line, key); ok {
			e.Key = en.path
		}
		e.Msg = fmt.Sprintf("key %q given again (first at line %s): give each key once", e.Key, sm[2])
		return e
	}
	if sm := reSetTwice.FindStringSubmatch(rest); sm != nil {
		e.Kind = ErrDuplicateKey
		e.Key = sm[1]
		e.Msg = fmt.Sprintf("key %q given twice: give each key once", sm[1])
		return e
	}
	if sm := reCannot.FindStringSubmatch(rest); sm != nil {
		tag, quoted, into := sm[1], sm[2], sm[3]
		haveQuoted := strings.Contains(rest, "`")
		want := describeType(into)
		got := describeTag(tag)
		en, isKey, ok := idx.valueOnLine(line, quoted, haveQuoted)
		switch {
		case ok && isKey:
			e.Key = en.path
			e.Msg = fmt.Sprintf("bad key %q under %q: want %s", en.key.Value, parentPath(en.path), want)
		case ok:
			e.Key = en.path
			if haveQuoted {
				e.Msg = fmt.Sprintf("bad value %q for key %q: want %s", en.value.Value, en.path, want)
			} else {
				e.Msg = fmt.Sprintf("bad value for key %q: want %s, got %s", en.path, want, got)
			}
		case haveQuoted:
			e.Msg = fmt.Sprintf("bad value %q: want %s", quoted, want)
		default:
			e.Msg = fmt.Sprintf("bad value: want %s, got %s", want, got)
		}
		return e
	}
	if sm := reBadValue.FindStringSubmatch(rest); sm != nil {
		quoted := ""
		if sm[1] != "" {
			if q, err := strconv.Unquote(sm[1]); err == nil {
				quoted = q
			}
		}
		en, _, ok := idx.valueOnLine(line, quoted, sm[1] != "")
		switch {
		case ok && sm[1] != "":
			e.Key = en.path
			e.Msg = fmt.Sprintf("bad value %s for key %q: %s", sm[1], en.path, sm[2])
		case ok:
			e.Key = en.path
			e.Msg = fmt.Sprintf("bad value for key %q: %s", en.path, sm[2])
		default:
			e.Msg = rest
		}
		return e
	}
	if en, _, ok := idx.valueOnLine(line, "", false); ok {
		e.Key = en.path
		e.Msg = fmt.Sprintf("key %q: %s", en.path, rest)
		return e
	}
	e.Msg = rest
	return e
}

func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return p
}

func describeTag(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	}
	return "a " + strings.TrimPrefix(tag, "!!")
}

// describeType says in words what a Go type (as the YAML library names it)
// wants.
func describeType(t string) string {
	t = strings.TrimLeft(t, "*")
	switch t {
	case "int", "int8", "int16", "int32", "int64":
		return "an integer"
	case "uint", "uint8", "uint16", "uint32", "uint64", "uintptr":
		return "a whole number (0 or more)"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "time.Duration":
		return `a duration in nanoseconds (use "1m30s" where the key takes a duration)`
	}
	switch {
	case strings.HasPrefix(t, "map["):
		return "a mapping (key: value lines)"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a value of type " + t
}

// typeAt returns the struct type at the dotted key path below root, or nil.
func typeAt(root reflect.Type, path string) reflect.Type {
	t := deref(root)
	if path == "" {
		return t
	}
	for seg := range strings.SplitSeq(path, ".") {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		if t == nil || t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByKey(t, seg)
		if !ok {
			return nil
		}
		t = deref(f.Type)
		for t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array) {
			t = deref(t.Elem())
		}
	}
	return t
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

// suggest returns the known key closest to key, if it is close enough to be
// a typo.
func suggest(key string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		d := editDistance(strings.ToLower(key), k)
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(2, len(key)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (in bytes; keys
// are ASCII).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
