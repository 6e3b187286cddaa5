package cli

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// A configuration key and the flag that overrides it are declared once, on
// the field of the configuration struct:
//
//	RuntimeDir string `yaml:"runtime_dir" flag:"runtime-dir" usage:"DIR for the socket"`
//
// The flag gets the field's default as its default, the usage gets
// "[config: runtime_dir]" appended (a word in single quotes, 'DIR', names
// the flag's value in the help, as a word in back quotes does for pflag;
// a struct tag cannot hold back quotes), and a flag the user gives
// replaces the key's value, whatever the file said. Fields of type string,
// bool, int, []string and any type whose pointer is a pflag.Value (such as
// config.Duration and config.Size) can have flags; structs inlined with
// ",inline" are searched too.

// boundFlag is one flag bound to one field.
type boundFlag struct {
	flag  string
	key   string
	index []int         // the field's index path in the struct
	value reflect.Value // where pflag writes the flag's value (a pointer)
}

// binding is the flags of one command, bound to the fields of a
// configuration struct.
type binding struct {
	flags []boundFlag
}

// taggedField is a field with a flag tag.
type taggedField struct {
	flag, key, usage string
	index            []int
	typ              reflect.Type
}

// taggedFields returns the fields of struct t that have a flag tag,
// following inlined structs.
func taggedFields(t reflect.Type, prefix []int) []taggedField {
	var out []taggedField
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			out = append(out, taggedFields(f.Type, index)...)
			continue
		}
		flag := f.Tag.Get("flag")
		if flag == "" || !f.IsExported() {
			continue
		}
		out = append(out, taggedField{flag: flag, key: name, usage: f.Tag.Get("usage"), index: index, typ: f.Type})
	}
	return out
}

// bind adds to fs the flags of the fields of defaults (a struct) whose key
// is in keys, or of every tagged field if keys is empty; each flag's
// default is the field's value in defaults.
func bind(fs *pflag.FlagSet, defaults reflect.Value, keys []string) (*binding, error) {
	b := &binding{}
	for _, tf := range taggedFields(defaults.Type(), nil) {
		if len(keys) > 0 && !slices.Contains(keys, tf.key) {
			continue
		}
		holder := reflect.New(tf.typ)
		holder.Elem().Set(defaults.FieldByIndex(tf.index))
		usage := strings.TrimSpace(valueName(tf.usage) + " [config: " + tf.key + "]")
		switch p := holder.Interface().(type) {
		case pflag.Value:
			fs.Var(p, tf.flag, usage)
		case *string:
			fs.StringVar(p, tf.flag, *p, usage)
		case *bool:
			fs.BoolVar(p, tf.flag, *p, usage)
		case *int:
			fs.IntVar(p, tf.flag, *p, usage)
		case *[]string:
			fs.StringSliceVar(p, tf.flag, *p, usage)
		default:
			return nil, fmt.Errorf("flag --%s: a field of type %s cannot have a flag", tf.flag, tf.typ)
		}
		b.flags = append(b.flags, boundFlag{flag: tf.flag, key: tf.key, index: tf.index, value: holder})
	}
	for _, k := range keys {
		if !slices.ContainsFunc(b.flags, func(f boundFlag) bool { return f.key == k }) {
			return nil, fmt.Errorf("no flag for the key %q: tag its field with flag:\"...\"", k)
		}
	}
	return b, nil
}

// apply copies the flags the user gave, as fs recorded them, onto dst (a
// pointer to the struct) and returns the keys they set.
func (b *binding) apply(fs *pflag.FlagSet, dst reflect.Value) map[string]bool {
	set := map[string]bool{}
	for _, f := range b.flags {
		if fl := fs.Lookup(f.flag); fl == nil || !fl.Changed {
			continue
		}
		dst.Elem().FieldByIndex(f.index).Set(f.value.Elem())
		set[f.key] = true
	}
	return set
}

// valueName turns the first word in single quotes of usage into one in
// back quotes, which pflag shows as the flag's value name.
func valueName(usage string) string {
	i := strings.IndexByte(usage, '\'')
	if i < 0 {
		return usage
	}
	j := strings.IndexByte(usage[i+1:], '\'')
	if j < 0 {
		return usage
	}
	return usage[:i] + "`" + usage[i+1:i+1+j] + "`" + usage[i+2+j:]
}

// FlagSet is the pflag flag set type, re-exported so that commands can
// write helpers that add their flags to several commands without importing
// pflag.
type FlagSet = pflag.FlagSet
