package cli

import (
	"fmt"
	"reflect"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/config"
)

// FlagConfig is the flag that names the configuration file.
const FlagConfig = "config"

// Loader makes the effective configuration of a daemon's commands, of type
// C (a struct): its defaults, overlaid with the file that --config names,
// overlaid with the flags the user gave. The flags come from the struct's
// tags (see the top of flags.go): one declaration per key.
type Loader[C any] struct {
	defaults func() C
	commands map[*cobra.Command]*loaderFlags
}

// loaderFlags are the flags one command has.
type loaderFlags struct {
	file    string
	binding *binding
}

// NewLoader returns a loader whose configurations start from defaults().
func NewLoader[C any](defaults func() C) *Loader[C] {
	if reflect.TypeFor[C]().Kind() != reflect.Struct {
		panic(fmt.Sprintf("cli.NewLoader: %s is not a struct", reflect.TypeFor[C]()))
	}
	return &Loader[C]{defaults: defaults, commands: map[*cobra.Command]*loaderFlags{}}
}

// AddFlags gives cmd the flag --config and the flags of keys, or of every
// key that has one if keys is empty, and returns cmd. Naming a key without
// a flag is a programming error: it panics.
func (l *Loader[C]) AddFlags(cmd *cobra.Command, keys ...string) *cobra.Command {
	lf := &loaderFlags{}
	fs := cmd.Flags()
	fs.StringVar(&lf.file, FlagConfig, "", "YAML configuration `FILE` (the flags override its keys)")
	b, err := bind(fs, reflect.ValueOf(l.defaults()), keys)
	if err != nil {
		panic("cli: " + cmd.Name() + ": " + err.Error())
	}
	lf.binding = b
	l.commands[cmd] = lf
	return cmd
}

// Load returns the effective configuration for cmd, checked by its
// Validate method if it has one: a problem with a value from the file
// names the file and line (config.Source.Locate).
func (l *Loader[C]) Load(cmd *cobra.Command) (C, error) {
	cfg := l.defaults()
	lf := l.commands[cmd]
	if lf == nil {
		return cfg, fmt.Errorf("%s: its flags were not added (cli.Loader.AddFlags)", cmd.CommandPath())
	}
	var src *config.Source
	if lf.file != "" {
		var err error
		if src, err = config.Load(lf.file, &cfg); err != nil {
			return cfg, err
		}
	}
	fromFlags := lf.binding.apply(cmd.Flags(), reflect.ValueOf(&cfg))
	if v, ok := any(&cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return cfg, src.Locate(err, fromFlags)
		}
	}
	return cfg, nil
}
