package apicheck

import (
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"os"
	"sort"
	"strings"

	"golang.org/x/exp/apidiff"
	"golang.org/x/tools/go/packages"
)

// Load returns the exported API of the module in dir, built on its own
// (GOWORK=off): its packages that are neither internal nor main. Types
// come from the compiler's export data (the build cache of `make build`).
func Load(dir string) (*apidiff.Module, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedModule,
		Dir:  dir,
		Env:  append(os.Environ(), "GOWORK=off"),
		Fset: token.NewFileSet(),
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, fmt.Errorf("load the packages in %s: %w", dir, err)
	}
	var errs []error
	m := &apidiff.Module{}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", p.PkgPath, e))
		}
		if p.Module == nil {
			errs = append(errs, fmt.Errorf("%s: not in a module", p.PkgPath))
			continue
		}
		if m.Path == "" {
			m.Path = p.Module.Path
		}
		if p.Name == "main" || IsInternal(p.PkgPath, p.Module.Path) || p.Types == nil {
			continue
		}
		m.Packages = append(m.Packages, p.Types)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load the packages in %s: %w", dir, err)
	}
	if m.Path == "" {
		return nil, fmt.Errorf("load the packages in %s: no package found", dir)
	}
	sort.Slice(m.Packages, func(i, j int) bool { return m.Packages[i].Path() < m.Packages[j].Path() })
	return m, nil
}

// IsInternal reports whether the package path of a package of module
// modPath has an internal element: no other module may import it.
func IsInternal(pkgPath, modPath string) bool {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkgPath, modPath), "/")
	for _, el := range strings.Split(rel, "/") {
		if el == "internal" {
			return true
		}
	}
	return false
}

// Text returns the API of m as text, one declaration a line, sorted: for
// each package its path, then its exported constants, variables,
// functions and types, and the exported methods of each type (of T and
// *T). Names of the package itself are written unqualified.
func Text(m *apidiff.Module) string {
	var b strings.Builder
	for _, p := range m.Packages {
		fmt.Fprintf(&b, "\npackage %s\n", p.Path())
		qual := types.RelativeTo(p)
		scope := p.Scope()
		for _, name := range scope.Names() {
			obj := scope.Lookup(name)
			if !obj.Exported() {
				continue
			}
			fmt.Fprintf(&b, "%s\n", declString(obj, qual))
			tn, ok := obj.(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			if _, isIface := tn.Type().Underlying().(*types.Interface); isIface {
				continue // ObjectString wrote its methods
			}
			ms := types.NewMethodSet(types.NewPointer(tn.Type()))
			var lines []string
			for i := range ms.Len() {
				f := ms.At(i).Obj()
				if !f.Exported() {
					continue
				}
				lines = append(lines, "\t"+types.ObjectString(f, qual))
			}
			sort.Strings(lines)
			for _, l := range lines {
				fmt.Fprintf(&b, "%s\n", l)
			}
		}
	}
	return b.String()
}

// declString is types.ObjectString, except that a struct type shows only
// its exported fields: the others are not part of the API.
func declString(obj types.Object, qual types.Qualifier) string {
	tn, ok := obj.(*types.TypeName)
	if !ok || tn.IsAlias() {
		return types.ObjectString(obj, qual)
	}
	st, ok := tn.Type().Underlying().(*types.Struct)
	if !ok {
		return types.ObjectString(obj, qual)
	}
	var fields []string
	for i := range st.NumFields() {
		f := st.Field(i)
		if !f.Exported() {
			continue
		}
		if f.Embedded() {
			fields = append(fields, types.TypeString(f.Type(), qual))
			continue
		}
		fields = append(fields, f.Name()+" "+types.TypeString(f.Type(), qual))
	}
	name := tn.Name()
	if tp := tn.Type().(*types.Named).TypeParams(); tp.Len() > 0 {
		var params []string
		for i := range tp.Len() {
			p := tp.At(i)
			params = append(params, p.Obj().Name()+" "+types.TypeString(p.Constraint(), qual))
		}
		name += "[" + strings.Join(params, ", ") + "]"
	}
	return "type " + name + " struct{" + strings.Join(fields, "; ") + "}"
}
