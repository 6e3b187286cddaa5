package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Source says where the keys of a configuration file are, so that a check
// made after loading (a value out of range, two engines with one rank) can
// name the file and line it comes from, as a syntax error does.
type Source struct {
	// File is the file's path.
	File  string
	lines map[string]int // dotted key path ("engines[1].rank") -> line
}

// index records the line of every key below n, at path.
func (s *Source) index(n *yaml.Node, path string, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			s.lines[p] = k.Line
			s.index(v, p, depth+1)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			s.lines[p] = e.Line
			s.index(e, p, depth+1)
		}
	}
}

// Line returns the line of the key at the dotted path (such as
// "engines[1].rank"), and whether the file has it.
func (s *Source) Line(path string) (int, bool) {
	if s == nil {
		return 0, false
	}
	l, ok := s.lines[path]
	return l, ok
}

// Locate names the file and line of each problem of err (one error, or
// several joined with errors.Join) whose message starts with a key path of
// the file followed by ':' ("ping_interval: 5ms is below 10ms"), as a
// configuration's Validate writes them: such a problem becomes an *Error
// of kind ErrBadValue for that line, which still wraps the problem. Keys
// in skip (set by command-line flags rather than the file) and problems
// about other keys are left as they are.
func (s *Source) Locate(err error, skip map[string]bool) error {
	if err == nil || s == nil || len(s.lines) == 0 {
		return err
	}
	paths := make([]string, 0, len(s.lines))
	for p := range s.lines {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) }) // longest first
	problems := errorsOf(err)
	for i, p := range problems {
		var ce *Error
		if errors.As(p, &ce) {
			continue
		}
		msg := p.Error()
		for _, path := range paths {
			if !strings.HasPrefix(msg, path+":") || skip[topKey(path)] {
				continue
			}
			problems[i] = &Error{File: s.File, Line: s.lines[path], Key: path, Kind: ErrBadValue, Err: p, Msg: msg}
			break
		}
	}
	if len(problems) == 1 {
		return problems[0]
	}
	return errors.Join(problems...)
}

// topKey returns the first key of a dotted path: "engines" of
// "engines[1].rank".
func topKey(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}
