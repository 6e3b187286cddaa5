package main

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/tools/internal/drpcopt"
)

// defaultImportPrefix is the import path of drpc/gen, where buf.gen.yaml
// writes the output.
const defaultImportPrefix = "github.com/cc532012/drpc/drpc/gen"

// Import paths the generated code uses besides the message packages.
const (
	contextPackage = protogen.GoImportPath("context")
	drpcPackage    = protogen.GoImportPath("github.com/cc532012/drpc/drpc")
	catalogPackage = protogen.GoImportPath("github.com/cc532012/drpc/drpc/catalog")
)

// config holds the plugin's options.
type config struct {
	// importPrefix is the import path of the output folder.
	importPrefix string
}

// generate writes one Go file per proto file to generate that declares
// services. It is main's work, callable from tests.
func generate(gen *protogen.Plugin, cfg config) error {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL |
		pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	gen.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	gen.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2024
	if cfg.importPrefix == "" {
		return errors.New("import_prefix is empty")
	}

	documented := make(map[string]bool) // output folders whose package doc is written
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		if want := strings.TrimSuffix(f.Desc.Path(), ".proto"); f.GeneratedFilenamePrefix != want {
			return fmt.Errorf("%s: protoc-gen-go-drpc lays its output out like the proto files: set the option paths=source_relative", f.Desc.Path())
		}
		services, err := loadServices(f)
		if err != nil {
			return err
		}
		dir := path.Dir(f.Desc.Path())
		fg := &fileGen{
			gen:      gen,
			file:     f,
			services: services,
			pkgName:  string(f.GoPackageName) + "drpc",
			withDoc:  !documented[dir],
		}
		documented[dir] = true
		fg.g = gen.NewGeneratedFile(f.GeneratedFilenamePrefix+"_drpc.pb.go",
			protogen.GoImportPath(cfg.importPrefix+"/"+dir))
		fg.generate()
	}
	return nil
}

// service is a service to generate with its dRPC IDs.
type service struct {
	*protogen.Service
	ids drpcopt.Service
}

// methodID returns the method ID of the service's i-th rpc.
func (s service) methodID(i int) drpc.MethodID { return s.ids.Methods[i].ID }

// loadServices reads the dRPC IDs of a file's services and checks what the
// generated code needs: a module ID, a method ID per rpc inside the
// module's range and unique, no reserved ID in use, no streaming.
func loadServices(f *protogen.File) ([]service, error) {
	var out []service
	for _, s := range f.Services {
		ids, err := drpcopt.Load(s.Desc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
		where := fmt.Sprintf("%s: service %s", f.Desc.Path(), s.Desc.FullName())
		if !ids.HasModuleID {
			return nil, fmt.Errorf("%s has no (drpc.v1.module_id) option: every service is a dRPC module", where)
		}
		if !drpcopt.ValidModuleID(ids.ModuleID) {
			return nil, fmt.Errorf("%s has module ID %d, want 0..%d", where, ids.ModuleID, drpc.MaxModuleID)
		}
		first, last := drpc.MethodRange(ids.ModuleID)
		seen := make(map[drpc.MethodID]string)
		for i, m := range s.Methods {
			id := ids.Methods[i]
			switch {
			case m.Desc.IsStreamingClient() || m.Desc.IsStreamingServer():
				return nil, fmt.Errorf("%s: rpc %s streams: dRPC methods are unary", where, m.Desc.Name())
			case !id.HasID:
				return nil, fmt.Errorf("%s: rpc %s has no (drpc.v1.method_id) option", where, m.Desc.Name())
			case !ids.InRange(id.ID):
				return nil, fmt.Errorf("%s: rpc %s has method ID %d, outside module %d's range %d..%d", where, m.Desc.Name(), id.ID, ids.ModuleID, first, last)
			case ids.IsReserved(id.ID):
				return nil, fmt.Errorf("%s: rpc %s has method ID %d, which the service reserves", where, m.Desc.Name(), id.ID)
			case seen[id.ID] != "":
				return nil, fmt.Errorf("%s: rpcs %s and %s have the same method ID %d", where, seen[id.ID], m.Desc.Name(), id.ID)
			}
			seen[id.ID] = string(m.Desc.Name())
		}
		out = append(out, service{Service: s, ids: ids})
	}
	return out, nil
}

// fileGen writes the Go file of one proto file.
type fileGen struct {
	gen      *protogen.Plugin
	file     *protogen.File
	services []service
	pkgName  string
	withDoc  bool // write the package doc comment (once per package)
	g        *protogen.GeneratedFile

	aliases map[protogen.GoImportPath]string // import path -> package name used
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

// ident returns a message's Go name qualified by its package's name.
func (fg *fileGen) ident(m *protogen.Message) string {
	return fg.aliases[m.GoIdent.GoImportPath] + "." + m.GoIdent.GoName
}

func (fg *fileGen) generate() {
	fg.assignAliases()
	fg.p("// Code generated by protoc-gen-go-drpc. DO NOT EDIT.")
	fg.p("// source: ", fg.file.Desc.Path())
	fg.p()
	if fg.withDoc {
		fg.doc(fmt.Sprintf("Package %s is the dRPC code generated from the services of proto package %s: module and method IDs, typed clients, server adapters and catalog entries.", fg.pkgName, fg.file.Desc.Package()))
	}
	fg.p("package ", fg.pkgName)
	fg.p()
	fg.imports()
	for _, s := range fg.services {
		fg.ids(s)
		fg.client(s)
		fg.server(s)
		fg.module(s)
	}
	fg.catalog()
}

// assignAliases chooses the package name of every import: the Go package
// name of the proto file for message packages, made unique by a number if
// another import or a name the generated code uses already has it.
func (fg *fileGen) assignAliases() {
	fg.aliases = map[protogen.GoImportPath]string{
		contextPackage: "context",
		drpcPackage:    "drpc",
		catalogPackage: "catalog",
	}
	used := map[string]bool{"context": true, "drpc": true, "catalog": true}
	// Parameter and variable names of the generated code.
	for _, name := range []string{"ctx", "session", "req", "reply", "err", "m", "c", "s", "id", "method", "body", "impl"} {
		used[name] = true
	}
	for _, s := range fg.services {
		for _, m := range s.Methods {
			for _, msg := range []*protogen.Message{m.Input, m.Output} {
				ip := msg.GoIdent.GoImportPath
				if _, ok := fg.aliases[ip]; ok {
					continue
				}
				base := string(fg.gen.FilesByPath[msg.Desc.ParentFile().Path()].GoPackageName)
				name := base
				for i := 1; used[name]; i++ {
					name = base + strconv.Itoa(i)
				}
				used[name] = true
				fg.aliases[ip] = name
			}
		}
	}
}

// imports writes the import block: the standard library, then the others,
// each sorted by path.
func (fg *fileGen) imports() {
	var std, other []protogen.GoImportPath
	for ip := range fg.aliases {
		if ip == catalogPackage && !fg.hasMethods() {
			continue // the catalog is filled with rpcs only
		}
		if strings.Contains(strings.Split(string(ip), "/")[0], ".") {
			other = append(other, ip)
		} else {
			std = append(std, ip)
		}
	}
	slices.Sort(std)
	slices.Sort(other)
	fg.p("import (")
	for i, group := range [][]protogen.GoImportPath{std, other} {
		if i > 0 && len(std) > 0 {
			fg.p()
		}
		for _, ip := range group {
			if name := fg.aliases[ip]; name == path.Base(string(ip)) {
				fg.p(strconv.Quote(string(ip)))
			} else {
				fg.p(name, " ", strconv.Quote(string(ip)))
			}
		}
	}
	fg.p(")")
	fg.p()
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
	fg.p("const ", moduleIDName(s), " drpc.ModuleID = ", s.ids.ModuleID)
	fg.p()
	if len(s.Methods) == 0 {
		return
	}
	fg.doc(fmt.Sprintf("The dRPC method IDs of %s.", s.GoName))
	fg.p("const (")
	for i, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s is the method ID of %s.%s.", methodIDName(s, m), s.GoName, m.GoName))
		fg.p(methodIDName(s, m), " drpc.MethodID = ", s.methodID(i))
	}
	fg.p(")")
	fg.p()
	fg.doc(fmt.Sprintf("The dRPC methods of %s; each names itself (String) by the rpc's full name.", s.GoName))
	fg.p("var (")
	for i, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s is %s.%s, method %d of module %d.", methodName(s, m), s.GoName, m.GoName, s.methodID(i), s.ids.ModuleID))
		fg.p(methodName(s, m), " = drpc.NewMethod(", moduleIDName(s), ", ", methodIDName(s, m), ", ", strconv.Quote(string(m.Desc.FullName())), ")")
	}
	fg.p(")")
	fg.p()
}

// methodDoc writes the doc comment of an rpc's Go method: the rpc's
// comment in the schema, its method ID, and whether it is deprecated.
func (fg *fileGen) methodDoc(s service, m *protogen.Method, i int) {
	var text any = schemaText(m.Comments.Leading)
	if m.Comments.Leading == "" {
		text = fmt.Sprintf("%s calls %s.%s.", m.GoName, s.GoName, m.GoName)
	}
	var deprecated string
	if opts, ok := m.Desc.Options().(*descriptorpb.MethodOptions); ok && opts.GetDeprecated() {
		deprecated = "Deprecated: the rpc is deprecated in the schema."
	}
	fg.doc(text, fmt.Sprintf("Method ID %d.", s.methodID(i)), deprecated)
}

// client writes the typed client of a service.
func (fg *fileGen) client(s service) {
	iface, impl := clientName(s), lowerFirst(clientName(s))
	fg.doc(fmt.Sprintf("%s calls the methods of %s, dRPC module %d.", iface, s.GoName, s.ids.ModuleID),
		schemaText(s.Comments.Leading), `A call the server answers with a status other than SUCCESS returns that
status as a *drpc.Failure: test it with errors.As, or errors.Is against a
Failure of the same status (drpc.UnknownMethodFailure(), ...). See
drpc.Invoke for the other errors.`)
	fg.p("type ", iface, " interface {")
	for i, m := range s.Methods {
		fg.methodDoc(s, m, i)
		fg.p(m.GoName, "(ctx context.Context, req *", fg.ident(m.Input), ") (*", fg.ident(m.Output), ", error)")
	}
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("New%s returns the client of %s that makes its calls through s, such as a connected *drpc.ClientConnection.", iface, s.GoName))
	fg.p("func New", iface, "(s drpc.Sender) ", iface, " {")
	fg.p("return &", impl, "{sender: s}")
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("%s is the %s that New%s returns.", impl, iface, iface))
	fg.p("type ", impl, " struct {")
	fg.p("sender drpc.Sender")
	fg.p("}")
	fg.p()
	for _, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s calls %s.", m.GoName, methodName(s, m)))
		fg.p("func (c *", impl, ") ", m.GoName, "(ctx context.Context, req *", fg.ident(m.Input), ") (*", fg.ident(m.Output), ", error) {")
		fg.p("reply := new(", fg.ident(m.Output), ")")
		fg.p("if err := drpc.Invoke(ctx, c.sender, ", methodName(s, m), ", req, reply); err != nil {")
		fg.p("return nil, err")
		fg.p("}")
		fg.p("return reply, nil")
		fg.p("}")
		fg.p()
	}
}

// server writes the server interface and its Unimplemented implementation.
func (fg *fileGen) server(s service) {
	iface, unimpl := serverName(s), unimplementedName(s)
	fg.doc(fmt.Sprintf("%s is an implementation of %s, dRPC module %d; New%sModule serves it.", iface, s.GoName, s.ids.ModuleID, s.GoName),
		schemaText(s.Comments.Leading), fmt.Sprintf(`Each method receives the call's context (it ends when the client hangs up
or the server stops without waiting for the call), its session (for the peer's credentials) and the
decoded request. A *drpc.Failure error sets the response status; any other
error answers FAILURE. A nil reply with a nil error sends an empty reply.
Embed %s to keep compiling when rpcs are added to the schema.`, unimpl))
	fg.p("type ", iface, " interface {")
	for i, m := range s.Methods {
		fg.methodDoc(s, m, i)
		fg.p(m.GoName, "(ctx context.Context, session *drpc.Session, req *", fg.ident(m.Input), ") (*", fg.ident(m.Output), ", error)")
	}
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf(`%s answers every method of %s with
STATUS_UNKNOWN_METHOD (drpc.UnknownMethodFailure). Embed it in an
implementation of %s so that the implementation still compiles, and
answers UNKNOWN_METHOD, when an rpc is added to the schema.`, unimpl, s.GoName, iface))
	fg.p("type ", unimpl, " struct{}")
	fg.p()
	for _, m := range s.Methods {
		fg.doc(fmt.Sprintf("%s answers STATUS_UNKNOWN_METHOD.", m.GoName))
		fg.p("func (", unimpl, ") ", m.GoName, "(context.Context, *drpc.Session, *", fg.ident(m.Input), ") (*", fg.ident(m.Output), ", error) {")
		fg.p("return nil, drpc.UnknownMethodFailure()")
		fg.p("}")
		fg.p()
	}
}

// module writes New<Service>Module and the drpc.Module it returns.
func (fg *fileGen) module(s service) {
	ctor, impl := "New"+s.GoName+"Module", lowerFirst(s.GoName)+"Module"
	fg.doc(fmt.Sprintf(`%s returns the drpc.Module %s (ID %s) served by impl, to
register on a drpc.DomainSocketServer. For each call it decodes the body
into the rpc's request (an empty body is an empty request; a body that does
not decode answers FAILED_UNMARSHAL_PAYLOAD), runs impl's method and
encodes its reply (FAILED_MARSHAL if that fails). Method IDs %s does not
declare answer UNKNOWN_METHOD. It panics if impl is nil.`, ctor, s.GoName, moduleIDName(s), s.GoName))
	fg.p("func ", ctor, "(impl ", serverName(s), ") drpc.Module {")
	fg.p("if impl == nil {")
	fg.p(`panic("`, fg.pkgName, ".", ctor, `: impl is nil")`)
	fg.p("}")
	fg.p("return &", impl, "{impl: impl}")
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("%s adapts an implementation of %s to drpc.Module.", impl, serverName(s)))
	fg.p("type ", impl, " struct {")
	fg.p("impl ", serverName(s))
	fg.p("}")
	fg.p()
	fg.doc(fmt.Sprintf("ID returns %s.", moduleIDName(s)))
	fg.p("func (m *", impl, ") ID() drpc.ModuleID { return ", moduleIDName(s), " }")
	fg.p()
	fg.doc(fmt.Sprintf("String returns %s, the service's full name.", serviceNameName(s)))
	fg.p("func (m *", impl, ") String() string { return ", serviceNameName(s), " }")
	fg.p()
	fg.doc("Methods lists the module's methods, so that registration checks their IDs.")
	fg.p("func (m *", impl, ") Methods() []drpc.Method {")
	fg.p("return []drpc.Method{")
	for _, m := range s.Methods {
		fg.p(methodName(s, m), ",")
	}
	fg.p("}")
	fg.p("}")
	fg.p()
	fg.doc("GetMethod returns the method with ID id, or a STATUS_UNKNOWN_METHOD failure.")
	fg.p("func (m *", impl, ") GetMethod(id drpc.MethodID) (drpc.Method, error) {")
	if len(s.Methods) > 0 {
		fg.p("switch id {")
		for _, m := range s.Methods {
			fg.p("case ", methodIDName(s, m), ":")
			fg.p("return ", methodName(s, m), ", nil")
		}
		fg.p("}")
	}
	fg.p("return nil, drpc.UnknownMethodFailure()")
	fg.p("}")
	fg.p()
	fg.doc("HandleCall decodes body into the method's request, runs the implementation and encodes its reply.")
	if len(s.Methods) == 0 {
		fg.p("func (m *", impl, ") HandleCall(_ context.Context, _ *drpc.Session, _ drpc.Method, _ []byte) ([]byte, error) {")
	} else {
		fg.p("func (m *", impl, ") HandleCall(ctx context.Context, session *drpc.Session, method drpc.Method, body []byte) ([]byte, error) {")
		fg.p("switch method.ID() {")
		for _, m := range s.Methods {
			fg.p("case ", methodIDName(s, m), ":")
			fg.p("req := new(", fg.ident(m.Input), ")")
			fg.p("if err := drpc.UnmarshalRequest(method, body, req); err != nil {")
			fg.p("return nil, err")
			fg.p("}")
			fg.p("reply, err := m.impl.", m.GoName, "(ctx, session, req)")
			fg.p("if err != nil {")
			fg.p("return nil, err")
			fg.p("}")
			fg.p("return drpc.MarshalReply(method, reply)")
		}
		fg.p("}")
	}
	fg.p("return nil, drpc.UnknownMethodFailure()")
	fg.p("}")
	fg.p()
}

// catalog writes the init function that registers the file's methods.
func (fg *fileGen) catalog() {
	var n int
	for _, s := range fg.services {
		n += len(s.Methods)
	}
	if n == 0 {
		return
	}
	fg.doc("init registers the file's methods in the dRPC catalog.")
	fg.p("func init() {")
	fg.p("catalog.Register(")
	for _, s := range fg.services {
		for _, m := range s.Methods {
			fg.p("catalog.Entry{")
			fg.p("ModuleID: ", moduleIDName(s), ",")
			fg.p("MethodID: ", methodIDName(s, m), ",")
			fg.p("Service: ", serviceNameName(s), ",")
			fg.p("MethodName: ", strconv.Quote(string(m.Desc.Name())), ",")
			fg.p("Request: (*", fg.ident(m.Input), ")(nil).ProtoReflect().Type(),")
			fg.p("Response: (*", fg.ident(m.Output), ")(nil).ProtoReflect().Type(),")
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
