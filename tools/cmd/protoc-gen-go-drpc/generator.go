package main

import (
	"errors"
	"fmt"
	"go/token"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/cc532012/drpc/drpc/ids"
	"github.com/cc532012/drpc/tools/internal/drpcopt"
)

// Packages the generated code uses besides the message packages.
const (
	contextPackage = protogen.GoImportPath("context")
	drpcPackage    = protogen.GoImportPath("github.com/cc532012/drpc/drpc")
	catalogPackage = protogen.GoImportPath("github.com/cc532012/drpc/drpc/catalog")
)

// importMap maps the import paths of message packages under from to
// import paths of generated packages under to: from/X gives to/X.
type importMap struct {
	from, to string
}

// config holds the plugin's options.
type config struct {
	// importMaps are the import_prefix_map options.
	importMaps []importMap
	// imports, if set (imports=PKG), makes the plugin write only one file,
	// in package PKG: blank imports of every package it would generate.
	imports protogen.GoImportPath
	// skipFiles are the skip_file options: proto files whose services are
	// not dRPC modules.
	skipFiles []string
}

// setImports parses the value of an imports option: an import path whose
// last element is a Go package name.
func (c *config) setImports(value string) error {
	value = strings.TrimSuffix(value, "/")
	name := path.Base(value)
	if value == "" || !token.IsIdentifier(name) || strings.HasPrefix(name, "_") {
		return fmt.Errorf("imports=%s: want the import path of a package whose last element is a Go name, e.g. imports=example.com/tools/internal/apiall", value)
	}
	c.imports = protogen.GoImportPath(value)
	return nil
}

// addSkipFile parses the value of a skip_file option, a proto file path.
func (c *config) addSkipFile(value string) error {
	if value == "" || path.IsAbs(value) || path.Clean(value) != value {
		return fmt.Errorf("skip_file=%s: want the path of a proto file as the request names it, e.g. skip_file=mgmt/mgmt.proto", value)
	}
	if slices.Contains(c.skipFiles, value) {
		return fmt.Errorf("skip_file=%s is given twice", value)
	}
	c.skipFiles = append(c.skipFiles, value)
	return nil
}

// addImportMap parses the value of an import_prefix_map option, FROM=TO.
func (c *config) addImportMap(value string) error {
	from, to, ok := strings.Cut(value, "=")
	from, to = strings.TrimSuffix(from, "/"), strings.TrimSuffix(to, "/")
	switch {
	case !ok || from == "" || to == "":
		return fmt.Errorf("import_prefix_map=%s: want import_prefix_map=FROM=TO, two import path prefixes", value)
	case from == to:
		return fmt.Errorf("import_prefix_map=%s: the generated packages would share the folders of the message packages: map to another prefix", value)
	}
	for _, m := range c.importMaps {
		if m.from == from {
			return fmt.Errorf("import_prefix_map=%s: %s is already mapped to %s", value, from, m.to)
		}
	}
	c.importMaps = append(c.importMaps, importMap{from: from, to: to})
	return nil
}

// importPath returns the import path of the generated package for the
// message package msgs: the longest matching import_prefix_map wins.
func (c *config) importPath(msgs protogen.GoImportPath) (protogen.GoImportPath, error) {
	best := -1
	for i, m := range c.importMaps {
		if (string(msgs) == m.from || strings.HasPrefix(string(msgs), m.from+"/")) && (best < 0 || len(m.from) > len(c.importMaps[best].from)) {
			best = i
		}
	}
	if best < 0 {
		var from []string
		for _, m := range c.importMaps {
			from = append(from, m.from)
		}
		if len(from) == 0 {
			return "", errors.New("no import_prefix_map option: set one, e.g. import_prefix_map=example.com/proto=example.com/api")
		}
		return "", fmt.Errorf("the Go package %s is under no import_prefix_map prefix (%s): add an import_prefix_map option for it", msgs, strings.Join(from, ", "))
	}
	m := c.importMaps[best]
	return protogen.GoImportPath(m.to + strings.TrimPrefix(string(msgs), m.from)), nil
}

// outputPackage returns the import path and name of the package generated
// for f: a folder named as the package, <messages' package>drpc, under the
// mapped import path (as connect-go writes pingv1connect/): the messages
// of github.com/x/proto/drpc/srv/v1 (package srvv1) give
// github.com/x/api/srv/v1/srvv1drpc, package srvv1drpc.
func (c *config) outputPackage(f *protogen.File) (protogen.GoImportPath, string, error) {
	dir, err := c.importPath(f.GoImportPath)
	if err != nil {
		return "", "", err
	}
	name := string(f.GoPackageName) + "drpc"
	return protogen.GoImportPath(path.Join(string(dir), name)), name, nil
}

// generate writes one Go file per proto file to generate that declares
// services. It is main's work, callable from tests.
func generate(gen *protogen.Plugin, cfg config) error {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL |
		pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	gen.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	gen.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2024

	if cfg.imports != "" {
		return generateImports(gen, cfg)
	}
	var set ids.Set                                    // the IDs of every service generated, checked together
	documented := make(map[protogen.GoImportPath]bool) // output packages whose package doc is written
	written := make(map[string]string)                 // output file -> its proto file
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 || slices.Contains(cfg.skipFiles, f.Desc.Path()) {
			continue
		}
		base := strings.TrimSuffix(path.Base(f.Desc.Path()), ".proto")
		if f.GeneratedFilenamePrefix != path.Join(string(f.GoImportPath), base) {
			return fmt.Errorf("%s: protoc-gen-go-drpc lays its output out by import path, which import_prefix_map gives: drop paths=source_relative and set module= to the output folder's import path", f.Desc.Path())
		}
		importPath, pkgName, err := cfg.outputPackage(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
		services, err := loadServices(f, &set)
		if err != nil {
			return err
		}
		filename := path.Join(string(importPath), base+"_drpc.pb.go")
		if other, ok := written[filename]; ok {
			return fmt.Errorf("%s and %s both give %s: give them different file names or Go packages", other, f.Desc.Path(), filename)
		}
		written[filename] = f.Desc.Path()
		fg := &fileGen{
			file:     f,
			services: services,
			pkgName:  pkgName,
			withDoc:  !documented[importPath],
			g:        gen.NewGeneratedFile(filename, importPath),
		}
		documented[importPath] = true
		fg.generate()
	}
	return nil
}

// ImportsFile is the name of the file that imports=PKG writes in PKG.
const ImportsFile = "imports_drpc.pb.go"

// generateImports writes PKG/imports_drpc.pb.go for imports=PKG: a package
// that imports, for their side effects (catalog entries registered at
// init), every package that the plugin generates for these files. A tool
// that imports it knows every method of the schema, with no list to keep
// by hand. Run it with every file in one request (buf's strategy: all).
func generateImports(gen *protogen.Plugin, cfg config) error {
	var set ids.Set
	seen := make(map[protogen.GoImportPath]bool)
	var pkgs []protogen.GoImportPath
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 || slices.Contains(cfg.skipFiles, f.Desc.Path()) {
			continue
		}
		if _, err := loadServices(f, &set); err != nil {
			return err
		}
		importPath, _, err := cfg.outputPackage(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
		if !seen[importPath] {
			seen[importPath] = true
			pkgs = append(pkgs, importPath)
		}
	}
	slices.Sort(pkgs)
	name := path.Base(string(cfg.imports))
	g := gen.NewGeneratedFile(path.Join(string(cfg.imports), ImportsFile), cfg.imports)
	g.P("// Code generated by protoc-gen-go-drpc (imports=", string(cfg.imports), "). DO NOT EDIT.")
	g.P()
	g.P("// Package ", name, " imports every package of dRPC modules generated from")
	g.P("// the schema, so that a program that imports it has every method in the")
	g.P("// catalog (drpc/catalog): the packages register their entries at init.")
	g.P("// make generate writes it: a new proto package with services is imported")
	g.P("// here with no hand edit.")
	g.P("package ", name)
	g.P()
	for _, p := range pkgs {
		g.Import(p)
	}
	if len(pkgs) == 0 {
		g.P("// The schema declares no services.")
	}
	return nil
}

// service is a service to generate with its dRPC IDs.
type service struct {
	*protogen.Service
	ids drpcopt.Service
}

// methodID returns the method ID of the service's rpc m, matched by name
// (loadServices checked that it has one).
func (s service) methodID(m *protogen.Method) int32 {
	id, _ := s.ids.Method(m.Desc.Name())
	return id.ID
}

// idempotent reports whether the service's rpc m has the option
// (drpc.v1.idempotent) set.
func (s service) idempotent(m *protogen.Method) bool {
	id, _ := s.ids.Method(m.Desc.Name())
	return id.Idempotent
}

// loadServices reads the dRPC IDs of a file's services and checks what the
// generated code needs: a module ID, a method ID per rpc, no streaming,
// and the ID rules of package ids (valid module ID, method IDs in the
// module's range, unique across set, no reserved ID in use).
func loadServices(f *protogen.File, set *ids.Set) ([]service, error) {
	var out []service
	for _, s := range f.Services {
		opts, err := drpcopt.Load(s.Desc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
		where := fmt.Sprintf("%s: service %s", f.Desc.Path(), s.Desc.FullName())
		if !opts.HasModuleID {
			return nil, fmt.Errorf("%s has no (drpc.v1.module_id) option: every service is a dRPC module", where)
		}
		if err := set.AddModule(opts.ModuleID, string(s.Desc.FullName())); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
		for _, id := range opts.ReservedMethodIDs {
			if err := set.Reserve(opts.ModuleID, id, string(s.Desc.FullName())); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
			}
		}
		for _, m := range s.Methods {
			id, ok := opts.Method(m.Desc.Name())
			switch {
			case m.Desc.IsStreamingClient() || m.Desc.IsStreamingServer():
				return nil, fmt.Errorf("%s: rpc %s streams: dRPC methods are unary", where, m.Desc.Name())
			case !ok || !id.HasID:
				return nil, fmt.Errorf("%s: rpc %s has no (drpc.v1.method_id) option", where, m.Desc.Name())
			}
			if err := set.AddMethod(opts.ModuleID, id.ID, string(m.Desc.FullName())); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
			}
		}
		out = append(out, service{Service: s, ids: opts})
	}
	return out, nil
}

// fileGen writes the Go file of one proto file.
type fileGen struct {
	file     *protogen.File
	services []service
	pkgName  string
	withDoc  bool // write the package doc comment (once per package)
	g        *protogen.GeneratedFile
	v        locals // the names of the generated code's local variables
}

// locals are the names of the parameters, receivers and variables of the
// generated code. Each is its usual name unless one of the file's imports
// has that name, which the local would shadow.
type locals struct {
	ctx, session, req, reply, err, method, body, id, impl, sender, recvClient, recvModule string
}

// p writes one line.
func (fg *fileGen) p(v ...any) { fg.g.P(v...) }

// comment writes text as a // comment, one line per line of text.
func (fg *fileGen) comment(text string) {
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			fg.p("//")
		} else {
			fg.p("// ", line)
		}
	}
}

// verbatim is a paragraph written as it is, such as a comment of the
// schema; other paragraphs of doc are reflowed.
type verbatim string

// doc writes a doc comment made of the non-empty paragraphs, each a string
// (reflowed to lineWidth) or a verbatim.
func (fg *fileGen) doc(paragraphs ...any) {
	var kept []string
	for _, para := range paragraphs {
		var text string
		switch para := para.(type) {
		case verbatim:
			text = strings.TrimSpace(string(para))
		case string:
			text = reflow(strings.TrimSpace(para))
		default:
			panic(fmt.Sprintf("doc: paragraph of type %T", para))
		}
		if text != "" {
			kept = append(kept, text)
		}
	}
	fg.comment(strings.Join(kept, "\n\n"))
}

// lineWidth is the width of the generated comment text, after "// ".
const lineWidth = 76

// reflow fills the words of text into lines of at most lineWidth
// characters (a longer word gets a line of its own).
func reflow(text string) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(word) > lineWidth:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// schemaText returns a proto element's leading comment as plain text: the
// one space protoc leaves after "//" is removed from each line.
func schemaText(c protogen.Comments) verbatim {
	lines := strings.Split(strings.TrimSuffix(string(c), "\n"), "\n")
	for i, line := range lines {
		lines[i] = strings.TrimPrefix(line, " ")
	}
	return verbatim(strings.Join(lines, "\n"))
}

func (fg *fileGen) generate() {
	fg.prepare()
	fg.p("// Code generated by protoc-gen-go-drpc. DO NOT EDIT.")
	fg.p("// source: ", fg.file.Desc.Path())
	fg.p()
	if fg.withDoc {
		fg.doc(fmt.Sprintf("Package %s is the dRPC code generated from the services of proto package %s: module and method IDs, typed clients, server adapters and catalog entries.", fg.pkgName, fg.file.Desc.Package()))
	}
	fg.p("package ", fg.pkgName)
	fg.p()
	for _, s := range fg.services {
		fg.ids(s)
		fg.client(s)
		fg.server(s)
		fg.module(s)
	}
	fg.catalogInit()
}

// prepare imports, through protogen, every package the file uses, in the
// order of their first use (so the transport's package keeps its name
// drpc, and another package named drpc gets another name), then names the
// local variables so that none shadows an import.
func (fg *fileGen) prepare() {
	imported := make(map[string]bool)
	use := func(qualified string) {
		if i := strings.LastIndexByte(qualified, '.'); i > 0 {
			imported[qualified[:i]] = true
		}
	}
	use(fg.drpc("ModuleID"))
	use(fg.context())
	if fg.hasMethods() {
		use(fg.catalog("Register"))
	}
	for _, s := range fg.services {
		for _, m := range s.Methods {
			use(fg.msg(m.Input))
			use(fg.msg(m.Output))
		}
	}
	free := func(name string) string {
		for i, n := 1, name; ; i++ {
			if !imported[n] {
				return n
			}
			n = name + strconv.Itoa(i)
		}
	}
	fg.v = locals{
		ctx: free("ctx"), session: free("session"), req: free("req"), reply: free("reply"),
		err: free("err"), method: free("method"), body: free("body"), id: free("id"),
		impl: free("impl"), sender: free("s"), recvClient: free("c"), recvModule: free("m"),
	}
}

// context returns context.Context, qualified for the file.
func (fg *fileGen) context() string {
	return fg.g.QualifiedGoIdent(contextPackage.Ident("Context"))
}

// drpc returns the transport's identifier name, qualified for the file.
func (fg *fileGen) drpc(name string) string {
	return fg.g.QualifiedGoIdent(drpcPackage.Ident(name))
}

// catalog returns the catalog package's identifier name, qualified for the
// file.
func (fg *fileGen) catalog(name string) string {
	return fg.g.QualifiedGoIdent(catalogPackage.Ident(name))
}

// msg returns a message's Go type name, qualified for the file.
func (fg *fileGen) msg(m *protogen.Message) string {
	return fg.g.QualifiedGoIdent(m.GoIdent)
}

// hasMethods reports whether some service of the file has an rpc.
func (fg *fileGen) hasMethods() bool {
	for _, s := range fg.services {
		if len(s.Methods) > 0 {
			return true
		}
	}
	return false
}

// Names of the generated identifiers of a service s and its rpcs.
func moduleIDName(s service) string                     { return s.GoName + "ModuleID" }
func serviceNameName(s service) string                  { return s.GoName + "Name" }
func methodIDName(s service, m *protogen.Method) string { return s.GoName + m.GoName + "MethodID" }
func methodName(s service, m *protogen.Method) string   { return s.GoName + m.GoName + "Method" }
func clientName(s service) string                       { return s.GoName + "Client" }
func serverName(s service) string                       { return s.GoName + "Server" }
func unimplementedName(s service) string                { return "Unimplemented" + s.GoName + "Server" }

// ids writes the service's name, module ID, method IDs and Method values.
func (fg *fileGen) ids(s service) {
	full := s.Desc.FullName()
	fg.doc(fmt.Sprintf("%s is the full name of the schema's service %s, dRPC module %d.", serviceNameName(s), s.GoName, s.ids.ModuleID))
	fg.p("const ", serviceNameName(s), " = ", strconv.Quote(string(full)))
	fg.p()
	fg.doc(fmt.Sprintf("%s is the dRPC module ID of %s.", moduleIDName(s), s.GoName))
	fg.p("const ", moduleIDName(s), " ", fg.drpc("ModuleID"), " = ", s.ids.ModuleID)
	fg.p()
	if len(s.Methods) == 0 {
		return
	}
	fg.doc(fmt.Sprintf("The dRPC method IDs of %s.", s.GoName))
	fg.p("const (")
	for _, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s is the method ID of %s.%s.", methodIDName(s, m), s.GoName, m.GoName))
		fg.p(methodIDName(s, m), " ", fg.drpc("MethodID"), " = ", s.methodID(m))
	}
	fg.p(")")
	fg.p()
	fg.doc(fmt.Sprintf("The dRPC methods of %s; each names itself (String) by the rpc's full name, and says (Idempotent) whether the schema marks it (drpc.v1.idempotent), so that a drpc.Pool sends it again after a lost answer.", s.GoName))
	fg.p("var (")
	for _, m := range s.Methods {
		ctor, idem := "NewMethod", ""
		if s.idempotent(m) {
			ctor, idem = "NewIdempotentMethod", ", idempotent"
		}
		fg.doc(fmt.Sprintf("%s is %s.%s, method %d of module %d%s.", methodName(s, m), s.GoName, m.GoName, s.methodID(m), s.ids.ModuleID, idem))
		fg.p(methodName(s, m), " = ", fg.drpc(ctor), "(", moduleIDName(s), ", ", methodIDName(s, m), ", ", strconv.Quote(string(m.Desc.FullName())), ")")
	}
	fg.p(")")
	fg.p()
}

// methodDoc writes the doc comment of an rpc's Go method: the rpc's
// comment in the schema, its method ID, whether it is idempotent and
// whether it is deprecated.
func (fg *fileGen) methodDoc(s service, m *protogen.Method) {
	var text any = schemaText(m.Comments.Leading)
	if m.Comments.Leading == "" {
		text = fmt.Sprintf("%s calls %s.%s.", m.GoName, s.GoName, m.GoName)
	}
	var deprecated string
	if opts, ok := m.Desc.Options().(*descriptorpb.MethodOptions); ok && opts.GetDeprecated() {
		deprecated = "Deprecated: the rpc is deprecated in the schema."
	}
	idem := fmt.Sprintf("Method ID %d.", s.methodID(m))
	if s.idempotent(m) {
		idem = fmt.Sprintf("Method ID %d, idempotent (drpc.v1.idempotent).", s.methodID(m))
	}
	fg.doc(text, idem, deprecated)
}

// client writes the typed client of a service.
func (fg *fileGen) client(s service) {
	v := fg.v
	iface, impl := clientName(s), lowerFirst(clientName(s))
	fg.doc(fmt.Sprintf("%s calls the methods of %s, dRPC module %d.", iface, s.GoName, s.ids.ModuleID),
		schemaText(s.Comments.Leading), `A call the server answers with a status other than SUCCESS returns that
status as a *drpc.Failure, with the reason the server gave: read the
status with drpc.StatusOf. See drpc.Invoke for the other errors.`)
	fg.p("type ", iface, " interface {")
	for _, m := range s.Methods {
		fg.methodDoc(s, m)
		fg.p(m.GoName, "(", v.ctx, " ", fg.context(), ", ", v.req, " *", fg.msg(m.Input), ") (*", fg.msg(m.Output), ", error)")
	}
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("New%s returns the client of %s that makes its calls through %s, such as a connected *drpc.ClientConnection.", iface, s.GoName, v.sender))
	fg.p("func New", iface, "(", v.sender, " ", fg.drpc("Sender"), ") ", iface, " {")
	fg.p("return &", impl, "{sender: ", v.sender, "}")
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("%s is the %s that New%s returns.", impl, iface, iface))
	fg.p("type ", impl, " struct {")
	fg.p("sender ", fg.drpc("Sender"))
	fg.p("}")
	fg.p()
	for _, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s calls %s.", m.GoName, methodName(s, m)))
		fg.p("func (", v.recvClient, " *", impl, ") ", m.GoName, "(", v.ctx, " ", fg.context(), ", ", v.req, " *", fg.msg(m.Input), ") (*", fg.msg(m.Output), ", error) {")
		fg.p(v.reply, " := new(", fg.msg(m.Output), ")")
		fg.p("if ", v.err, " := ", fg.drpc("Invoke"), "(", v.ctx, ", ", v.recvClient, ".sender, ", methodName(s, m), ", ", v.req, ", ", v.reply, "); ", v.err, " != nil {")
		fg.p("return nil, ", v.err)
		fg.p("}")
		fg.p("return ", v.reply, ", nil")
		fg.p("}")
		fg.p()
	}
}

// server writes the server interface and its Unimplemented implementation.
func (fg *fileGen) server(s service) {
	v := fg.v
	iface, unimpl := serverName(s), unimplementedName(s)
	fg.doc(fmt.Sprintf("%s is an implementation of %s, dRPC module %d; New%sModule serves it.", iface, s.GoName, s.ids.ModuleID, s.GoName),
		schemaText(s.Comments.Leading), fmt.Sprintf(`Each method receives the call's context (it ends when the client hangs up
or the server stops without waiting for the call), its session (for the peer's credentials) and the
decoded request. The request's bytes fields may share the session's receive
buffer (drpc.UnmarshalRequest does not copy them): they are valid until the
method returns, so the reply may carry them, but copy what you keep. Do not
change the reply once returned: a large bytes field of it is sent from where
it is (drpc.ReplyBody). A *drpc.Failure error sets the response status; any other
error answers FAILURE. A nil reply with a nil error sends an empty reply.
Embed %s to keep compiling when rpcs are added to the schema.`, unimpl))
	fg.p("type ", iface, " interface {")
	for _, m := range s.Methods {
		fg.methodDoc(s, m)
		fg.p(m.GoName, "(", v.ctx, " ", fg.context(), ", ", v.session, " *", fg.drpc("Session"), ", ", v.req, " *", fg.msg(m.Input), ") (*", fg.msg(m.Output), ", error)")
	}
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf(`%s answers every method of %s with
STATUS_UNKNOWN_METHOD. Embed it in an
implementation of %s so that the implementation still compiles, and
answers UNKNOWN_METHOD, when an rpc is added to the schema.`, unimpl, s.GoName, iface))
	fg.p("type ", unimpl, " struct{}")
	fg.p()
	for _, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s answers STATUS_UNKNOWN_METHOD.", m.GoName))
		fg.p("func (", unimpl, ") ", m.GoName, "(", fg.context(), ", *", fg.drpc("Session"), ", *", fg.msg(m.Input), ") (*", fg.msg(m.Output), ", error) {")
		fg.p("return nil, ", fg.drpc("NewFailure"), "(", fg.drpc("StatusUnknownMethod"), `, "")`)
		fg.p("}")
		fg.p()
	}
}

// module writes New<Service>Module and the drpc.Module it returns.
func (fg *fileGen) module(s service) {
	v := fg.v
	ctor, impl := "New"+s.GoName+"Module", lowerFirst(s.GoName)+"Module"
	module, method := fg.drpc("Module"), fg.drpc("Method")
	fg.doc(fmt.Sprintf(`%s returns the drpc.Module %s (ID %s) served by %s, to
register on a drpc.DomainSocketServer. For each call it decodes the body
into the rpc's request (an empty body is an empty request; a body that does
not decode answers FAILED_UNMARSHAL_PAYLOAD), runs %s's method and
encodes its reply (FAILED_MARSHAL if that fails). Method IDs %s does not
declare answer UNKNOWN_METHOD. It panics if %s is nil.`, ctor, s.GoName, moduleIDName(s), v.impl, v.impl, s.GoName, v.impl))
	fg.p("func ", ctor, "(", v.impl, " ", serverName(s), ") ", module, " {")
	fg.p("if ", v.impl, " == nil {")
	fg.p(`panic("`, fg.pkgName, ".", ctor, `: `, v.impl, ` is nil")`)
	fg.p("}")
	fg.p("return &", impl, "{impl: ", v.impl, "}")
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("%s adapts an implementation of %s to drpc.Module.", impl, serverName(s)))
	fg.p("type ", impl, " struct {")
	fg.p("impl ", serverName(s))
	fg.p("}")
	fg.p()
	recv := "(" + v.recvModule + " *" + impl + ")"
	fg.doc(fmt.Sprintf("ID returns %s.", moduleIDName(s)))
	fg.p("func ", recv, " ID() ", fg.drpc("ModuleID"), " { return ", moduleIDName(s), " }")
	fg.p()
	fg.doc(fmt.Sprintf("String returns %s, the service's full name.", serviceNameName(s)))
	fg.p("func ", recv, " String() string { return ", serviceNameName(s), " }")
	fg.p()
	fg.doc("Methods lists the module's methods, so that registration checks their IDs.")
	fg.p("func ", recv, " Methods() []", method, " {")
	fg.p("return []", method, "{")
	for _, m := range s.Methods {
		fg.p(methodName(s, m), ",")
	}
	fg.p("}")
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("GetMethod returns the method with ID %s, or a STATUS_UNKNOWN_METHOD failure.", v.id))
	fg.p("func ", recv, " GetMethod(", v.id, " ", fg.drpc("MethodID"), ") (", method, ", error) {")
	if len(s.Methods) > 0 {
		fg.p("switch ", v.id, " {")
		for _, m := range s.Methods {
			fg.p("case ", methodIDName(s, m), ":")
			fg.p("return ", methodName(s, m), ", nil")
		}
		fg.p("}")
	}
	fg.p("return nil, ", fg.drpc("NewFailure"), "(", fg.drpc("StatusUnknownMethod"), `, "")`)
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("HandleCall decodes %s into the method's request, runs the implementation and encodes its reply.", v.body))
	if len(s.Methods) == 0 {
		fg.p("func ", recv, " HandleCall(_ ", fg.context(), ", _ *", fg.drpc("Session"), ", _ ", method, ", _ []byte) ([]byte, error) {")
	} else {
		fg.p("func ", recv, " HandleCall(", v.ctx, " ", fg.context(), ", ", v.session, " *", fg.drpc("Session"), ", ", v.method, " ", method, ", ", v.body, " []byte) ([]byte, error) {")
		fg.p("switch ", v.method, ".ID() {")
		for _, m := range s.Methods {
			fg.p("case ", methodIDName(s, m), ":")
			fg.p(v.req, " := new(", fg.msg(m.Input), ")")
			fg.p("if ", v.err, " := ", fg.drpc("UnmarshalRequest"), "(", v.method, ", ", v.body, ", ", v.req, "); ", v.err, " != nil {")
			fg.p("return nil, ", v.err)
			fg.p("}")
			fg.p(v.reply, ", ", v.err, " := ", v.recvModule, ".impl.", m.GoName, "(", v.ctx, ", ", v.session, ", ", v.req, ")")
			fg.p("if ", v.err, " != nil {")
			fg.p("return nil, ", v.err)
			fg.p("}")
			fg.p("return ", fg.drpc("ReplyBody"), "(", v.session, ", ", v.method, ", ", v.reply, ")")
		}
		fg.p("}")
	}
	fg.p("return nil, ", fg.drpc("NewFailure"), "(", fg.drpc("StatusUnknownMethod"), `, "")`)
	fg.p("}")
	fg.p()
}

// catalogInit writes the init function that registers the file's methods.
func (fg *fileGen) catalogInit() {
	if !fg.hasMethods() {
		return
	}
	entry := fg.catalog("Entry")
	fg.doc("init registers the file's methods in the dRPC catalog.")
	fg.p("func init() {")
	fg.p(fg.catalog("Register"), "(")
	for _, s := range fg.services {
		for _, m := range s.Methods {
			fg.p(entry, "{")
			fg.p("ModuleID: ", moduleIDName(s), ",")
			fg.p("MethodID: ", methodIDName(s, m), ",")
			fg.p("Service: ", serviceNameName(s), ",")
			fg.p("MethodName: ", strconv.Quote(string(m.Desc.Name())), ",")
			fg.p("Request: (*", fg.msg(m.Input), ")(nil).ProtoReflect().Type(),")
			fg.p("Response: (*", fg.msg(m.Output), ")(nil).ProtoReflect().Type(),")
			if s.idempotent(m) {
				fg.p("Idempotent: true,")
			}
			fg.p("},")
		}
	}
	fg.p(")")
	fg.p("}")
}

// lowerFirst turns an exported Go name into an unexported one: its leading
// upper-case run is lowered, but for the last letter of a run that starts a
// new word (HTTPServer -> httpServer, Echo -> echo).
func lowerFirst(name string) string {
	runes := []rune(name)
	for i := range runes {
		if !unicode.IsUpper(runes[i]) || (i > 0 && i+1 < len(runes) && unicode.IsLower(runes[i+1])) {
			break
		}
		runes[i] = unicode.ToLower(runes[i])
	}
	return string(runes)
}
