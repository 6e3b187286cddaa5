package app

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/catalog"
	"github.com/cc532012/drpc/drpc/ids"
)

// NameForms documents the ways --module and --method may name a module and
// a method; the help of call and bench shows it.
const NameForms = `Modules and methods are given by number or by name. Method names, for the
method drpc.srv.v1.SrvService.NotifyReady (module 3, method 301):

  301                                   the method ID (the module is ID/100,
                                        unless --module says otherwise)
  drpc.srv.v1.SrvService/NotifyReady    full name, as gRPC writes it
  drpc.srv.v1.SrvService.NotifyReady    full name, as protobuf writes it
  SrvService/NotifyReady                service and method (also with a dot)
  Srv.NotifyReady                       service without "Service" (also /)
  srv.NotifyReady                       proto package's short name (also /)
  NotifyReady                           the method alone, when no other
                                        module has a method of that name

Modules: the ID (3), the service's full name (drpc.srv.v1.SrvService), its
name (SrvService), without "Service" (Srv), or the proto package (srv, or
drpc.srv.v1) when only one service of the catalog lives there. Names are
matched without regard to case. With a method name, --module may be left
out; if given, it must be the method's module. 'drpc list' shows every
module and method the tool knows.`

// Target is a resolved --module/--method pair: the IDs to call and, if the
// catalog knows the method, its entry (names and message types).
type Target struct {
	Module drpc.ModuleID
	Method drpc.MethodID
	// Entry is the method's catalog entry; nil for a method the catalog
	// does not know (its bodies are shown in hex).
	Entry *catalog.Entry
}

// String names the target for messages: the method's full name and IDs,
// or only the IDs.
func (t Target) String() string {
	if t.Entry != nil {
		return fmt.Sprintf("%s/%s (module %d, method %d)", t.Entry.Service, t.Entry.MethodName, t.Module, t.Method)
	}
	return fmt.Sprintf("module %d, method %d", t.Module, t.Method)
}

// NameError reports a --module or --method value that names nothing, or
// more than one thing, in the catalog. Its message lists the close names.
type NameError struct {
	// Flag is the flag that held the name: "module" or "method".
	Flag string
	// Name is the value given.
	Name string
	// Matches lists the names that match, for an ambiguous name.
	Matches []string
	// Suggestions lists the known names closest to Name, best first, for an
	// unknown name.
	Suggestions []string
	// Detail, if set, replaces the standard explanation.
	Detail string
}

// Error describes the mistake in one line and says what to do.
func (e *NameError) Error() string {
	switch {
	case e.Detail != "":
		return e.Detail
	case len(e.Matches) > 0:
		return fmt.Sprintf("--%s %q is ambiguous: it matches %s; give the full name", e.Flag, e.Name, strings.Join(e.Matches, ", "))
	case len(e.Suggestions) == 1:
		return fmt.Sprintf("unknown %s %q: did you mean %s? ('drpc list' shows them all)", e.Flag, e.Name, e.Suggestions[0])
	case len(e.Suggestions) > 1:
		return fmt.Sprintf("unknown %s %q: did you mean one of %s? ('drpc list' shows them all)", e.Flag, e.Name, strings.Join(e.Suggestions, ", "))
	}
	return fmt.Sprintf("unknown %s %q: no %s of that name in the catalog; run 'drpc list' to see them, or give the numeric ID", e.Flag, e.Name, e.Flag)
}

// module is one module of the catalog: its ID, service and methods.
type module struct {
	id      drpc.ModuleID
	service protoreflect.FullName
	methods []catalog.Entry
}

// catalogModules groups the catalog's entries by module, in ID order.
func catalogModules() []module {
	var mods []module
	for _, e := range catalog.All() {
		if n := len(mods); n > 0 && mods[n-1].id == e.ModuleID {
			mods[n-1].methods = append(mods[n-1].methods, e)
			continue
		}
		mods = append(mods, module{id: e.ModuleID, service: e.Service, methods: []catalog.Entry{e}})
	}
	return mods
}

// serviceAliases returns the lower-case names that name service: its full
// name, its own name, that name without "Service", the proto package and
// the package's last component that is not a version.
func serviceAliases(service protoreflect.FullName) []string {
	name := string(service.Name())
	aliases := []string{string(service), name}
	if short := strings.TrimSuffix(name, "Service"); short != "" && short != name {
		aliases = append(aliases, short)
	}
	if pkg := string(service.Parent()); pkg != "" {
		aliases = append(aliases, pkg)
		parts := strings.Split(pkg, ".")
		for i := len(parts) - 1; i >= 0; i-- {
			if !isVersion(parts[i]) {
				aliases = append(aliases, parts[i])
				break
			}
		}
	}
	for i := range aliases {
		aliases[i] = strings.ToLower(aliases[i])
	}
	return aliases
}

// isVersion reports whether a package component is a version: v1, v2beta1.
func isVersion(s string) bool {
	return len(s) >= 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9'
}

// matchesService reports whether name (any case) is one of service's
// aliases.
func matchesService(name string, service protoreflect.FullName) bool {
	return slices.Contains(serviceAliases(service), strings.ToLower(name))
}

// moduleLabel names a module in messages: "3 (drpc.srv.v1.SrvService)".
func moduleLabel(m module) string {
	return fmt.Sprintf("%d (%s)", m.id, m.service)
}

// methodLabel names a method in messages, in the full gRPC-style form.
func methodLabel(e catalog.Entry) string {
	return fmt.Sprintf("%s/%s", e.Service, e.MethodName)
}

// ResolveModule turns a --module value into a module ID: a number
// (0..ids.MaxModuleID, known to the catalog or not) or a service name.
// The second result is true if the catalog knows the module.
func ResolveModule(s string) (drpc.ModuleID, bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, &NameError{Flag: "module", Name: s, Detail: "--module is empty: give a module ID or service name"}
	}
	mods := catalogModules()
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(ids.MaxModuleID) {
			return 0, false, &NameError{Flag: "module", Name: s, Detail: fmt.Sprintf("--module %d is out of range: module IDs go from 0 to %d", n, ids.MaxModuleID)}
		}
		id := drpc.ModuleID(n)
		return id, slices.ContainsFunc(mods, func(m module) bool { return m.id == id }), nil
	}
	var found []module
	for _, m := range mods {
		if matchesService(s, m.service) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0].id, true, nil
	case 0:
		return 0, false, &NameError{Flag: "module", Name: s, Suggestions: suggestModules(s, mods)}
	}
	labels := make([]string, len(found))
	for i, m := range found {
		labels[i] = moduleLabel(m)
	}
	return 0, false, &NameError{Flag: "module", Name: s, Matches: labels}
}

// Resolve turns the --module and --method values into a Target. moduleFlag
// may be empty (not given): a method name implies its module, a method ID
// N its owner N/100.
func Resolve(moduleFlag, methodFlag string) (Target, error) {
	methodFlag = strings.TrimSpace(methodFlag)
	if methodFlag == "" {
		return Target{}, &NameError{Flag: "method", Detail: "--method is required: give a method ID or name (see 'drpc list')"}
	}
	var (
		modID  drpc.ModuleID
		hasMod = moduleFlag != ""
	)
	if hasMod {
		id, _, err := ResolveModule(moduleFlag)
		if err != nil {
			return Target{}, err
		}
		modID = id
	}

	if n, err := strconv.ParseInt(methodFlag, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt32 {
			return Target{}, &NameError{Flag: "method", Name: methodFlag, Detail: fmt.Sprintf("--method %d is out of range: method IDs go from 0 to %d", n, math.MaxInt32)}
		}
		id := drpc.MethodID(n)
		if !hasMod {
			owner := drpc.ModuleID(n / ids.ModuleMethodOffset)
			if n%ids.ModuleMethodOffset == 0 || owner > drpc.ModuleID(ids.MaxModuleID) {
				return Target{}, &NameError{Flag: "method", Name: methodFlag, Detail: fmt.Sprintf(
					"method %d lies in no module's range (module N owns N*%d+1 .. N*%d+%d): give --module too",
					n, ids.ModuleMethodOffset, ids.ModuleMethodOffset, ids.ModuleMethodOffset-1)}
			}
			modID = owner
		}
		t := Target{Module: modID, Method: id}
		if e, ok := catalog.Lookup(modID, id); ok {
			t.Entry = &e
		}
		return t, nil
	}

	svcPart, methodPart := splitMethodName(methodFlag)
	all := catalog.All()
	var found []catalog.Entry
	for _, e := range all {
		if !strings.EqualFold(string(e.MethodName), methodPart) {
			continue
		}
		if svcPart != "" && !matchesService(svcPart, e.Service) {
			continue
		}
		found = append(found, e)
	}
	if hasMod && len(found) > 0 {
		var inModule []catalog.Entry
		for _, e := range found {
			if e.ModuleID == modID {
				inModule = append(inModule, e)
			}
		}
		if len(inModule) == 0 {
			return Target{}, &NameError{Flag: "method", Name: methodFlag, Detail: fmt.Sprintf(
				"--method %q is %s in module %d, not in --module %s: drop --module or fix it",
				methodFlag, methodLabel(found[0]), found[0].ModuleID, moduleFlag)}
		}
		found = inModule
	}
	switch len(found) {
	case 1:
		e := found[0]
		return Target{Module: e.ModuleID, Method: e.MethodID, Entry: &e}, nil
	case 0:
		return Target{}, &NameError{Flag: "method", Name: methodFlag, Suggestions: suggestMethods(methodFlag, all)}
	}
	labels := make([]string, len(found))
	for i, e := range found {
		labels[i] = methodLabel(e)
	}
	return Target{}, &NameError{Flag: "method", Name: methodFlag, Matches: labels}
}

// splitMethodName splits "Service/Method" or "pkg.Service.Method" into the
// service part and the method's name; a bare name has no service part.
func splitMethodName(s string) (service, method string) {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// maxSuggestions bounds the names an unknown-name error lists.
const maxSuggestions = 5

// scored is a candidate name and how far it is from what was typed.
type scored struct {
	label string
	dist  int
	order int
}

// closeness reports whether a known name, form, is close enough to typed
// to suggest (at a small edit distance, containing it or contained in it),
// and the score to sort by.
func closeness(typed, form string) (int, bool) {
	d := config.EditDistance(typed, form)
	limit := max(2, len([]rune(typed))/3)
	if d <= limit {
		return d, true
	}
	if len(typed) >= 3 && (strings.Contains(form, typed) || strings.Contains(typed, form)) {
		return limit + 1, true
	}
	return 0, false
}

// best keeps the closest suggestions, at most maxSuggestions.
func best(cands []scored) []string {
	slices.SortStableFunc(cands, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.order, b.order))
	})
	var out []string
	for _, c := range cands {
		if len(out) == maxSuggestions {
			break
		}
		if !slices.Contains(out, c.label) {
			out = append(out, c.label)
		}
	}
	return out
}

// suggestMethods lists the methods whose names are close to typed, in any
// of the accepted forms.
func suggestMethods(typed string, all []catalog.Entry) []string {
	lower := strings.ToLower(typed)
	_, methodPart := splitMethodName(lower)
	var cands []scored
	for i, e := range all {
		name := strings.ToLower(string(e.MethodName))
		forms := []string{name}
		for _, a := range serviceAliases(e.Service) {
			forms = append(forms, a+"/"+name, a+"."+name)
		}
		bestD, ok := math.MaxInt, false
		for _, f := range forms {
			if d, c := closeness(lower, f); c {
				bestD, ok = min(bestD, d), true
			}
		}
		if d, c := closeness(methodPart, name); c && methodPart != lower {
			bestD, ok = min(bestD, d+1), true
		}
		if ok {
			cands = append(cands, scored{label: methodLabel(e), dist: bestD, order: i})
		}
	}
	return best(cands)
}

// suggestModules lists the modules whose names are close to typed.
func suggestModules(typed string, mods []module) []string {
	lower := strings.ToLower(typed)
	var cands []scored
	for i, m := range mods {
		for _, a := range serviceAliases(m.service) {
			if d, ok := closeness(lower, a); ok {
				cands = append(cands, scored{label: moduleLabel(m), dist: d, order: i})
			}
		}
	}
	return best(cands)
}
