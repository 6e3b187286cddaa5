package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"buf.build/go/bufplugin/check"
	"buf.build/go/bufplugin/check/checkutil"
	"buf.build/go/bufplugin/descriptor"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cc532012/drpc/drpc/ids"
	"github.com/cc532012/drpc/tools/internal/drpcopt"
)

// Rule and category IDs.
const (
	ruleServiceModuleID          = "DRPC_SERVICE_MODULE_ID"
	ruleModuleIDUnique           = "DRPC_MODULE_ID_UNIQUE"
	ruleRPCMethodID              = "DRPC_RPC_METHOD_ID"
	ruleMethodIDRange            = "DRPC_METHOD_ID_RANGE"
	ruleMethodIDUnique           = "DRPC_METHOD_ID_UNIQUE"
	ruleReservedMethodIDs        = "DRPC_RESERVED_METHOD_IDS"
	ruleModuleIDNoChange         = "DRPC_MODULE_ID_NO_CHANGE"
	ruleMethodIDNoChange         = "DRPC_METHOD_ID_NO_CHANGE"
	ruleRPCNoDeleteUnlessReserve = "DRPC_RPC_NO_DELETE_UNLESS_RESERVED"
	ruleReservedIDNoDelete       = "DRPC_RESERVED_METHOD_ID_NO_DELETE"

	categoryDRPC = "DRPC"
)

// spec is the plugin: its rules and their category.
var spec = &check.Spec{
	Rules: []*check.RuleSpec{
		lintRule(ruleServiceModuleID, "Checks that every service has a (drpc.v1.module_id) option with a valid module ID.", checkServiceModuleID),
		lintRule(ruleModuleIDUnique, "Checks that no two services have the same (drpc.v1.module_id).", checkModuleIDUnique),
		lintRule(ruleRPCMethodID, "Checks that every rpc has a (drpc.v1.method_id) option.", checkRPCMethodID),
		lintRule(ruleMethodIDRange, "Checks that every method ID lies in its module's range, N*100+1 to N*100+99 for module N.", checkMethodIDRange),
		lintRule(ruleMethodIDUnique, "Checks that no two rpcs of the schema have the same (drpc.v1.method_id).", checkMethodIDUnique),
		lintRule(ruleReservedMethodIDs, "Checks that reserved method IDs lie in the module's range, are listed once and are used by no rpc.", checkReservedMethodIDs),
		breakingRule(ruleModuleIDNoChange, "Checks that no service changes or loses its (drpc.v1.module_id).",
			checkutil.NewServicePairRuleHandler(checkModuleIDNoChange, checkutil.WithoutImports())),
		breakingRule(ruleMethodIDNoChange, "Checks that no rpc changes or loses its (drpc.v1.method_id).",
			checkutil.NewMethodPairRuleHandler(checkMethodIDNoChange, checkutil.WithoutImports())),
		breakingRule(ruleRPCNoDeleteUnlessReserve, "Checks that an rpc is deleted only if its method ID is added to the service's (drpc.v1.reserved_method_ids).",
			checkutil.NewServicePairRuleHandler(checkRPCNoDeleteUnlessReserved, checkutil.WithoutImports())),
		breakingRule(ruleReservedIDNoDelete, "Checks that no method ID is removed from a service's (drpc.v1.reserved_method_ids).",
			checkutil.NewServicePairRuleHandler(checkReservedIDNoDelete, checkutil.WithoutImports())),
	},
	Categories: []*check.CategorySpec{
		{ID: categoryDRPC, Purpose: "Checks the dRPC module and method IDs of the schema."},
	},
}

// lintFunc checks the whole schema of a lint request.
type lintFunc func(w check.ResponseWriter, services []schemaService)

func lintRule(id, purpose string, f lintFunc) *check.RuleSpec {
	return &check.RuleSpec{
		ID:          id,
		CategoryIDs: []string{categoryDRPC},
		Default:     true,
		Purpose:     purpose,
		Type:        check.RuleTypeLint,
		Handler: check.RuleHandlerFunc(func(_ context.Context, w check.ResponseWriter, req check.Request) error {
			services, err := loadSchema(req.FileDescriptors())
			if err != nil {
				return err
			}
			f(w, services)
			return nil
		}),
	}
}

func breakingRule(id, purpose string, h check.RuleHandler) *check.RuleSpec {
	return &check.RuleSpec{
		ID:          id,
		CategoryIDs: []string{categoryDRPC},
		Default:     true,
		Purpose:     purpose,
		Type:        check.RuleTypeBreaking,
		Handler:     h,
	}
}

// schemaService is a service of the request with its dRPC IDs. Services of
// imported files take part in the uniqueness checks but are not reported:
// they are not the schema's to fix.
type schemaService struct {
	drpcopt.Service
	imported bool
}

// loadSchema reads the dRPC IDs of every service of files, in a stable
// order: by file path, then in schema order.
func loadSchema(files []descriptor.FileDescriptor) ([]schemaService, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b descriptor.FileDescriptor) int {
		return cmp.Compare(a.ProtoreflectFileDescriptor().Path(), b.ProtoreflectFileDescriptor().Path())
	})
	var out []schemaService
	for _, f := range files {
		services, err := drpcopt.LoadFile(f.ProtoreflectFileDescriptor())
		if err != nil {
			return nil, err
		}
		for _, s := range services {
			out = append(out, schemaService{Service: s, imported: f.IsImport()})
		}
	}
	return out, nil
}

// rangeText describes a module's method ID range.
func rangeText(module int32) string {
	first, last := ids.MethodRange(module)
	return fmt.Sprintf("%d..%d", first, last)
}

// element is a service or an rpc of the schema.
type element struct {
	desc     protoreflect.Descriptor
	imported bool
}

// violation is what an ids.Set refused while checkIDs filled it.
type violation struct {
	err *ids.Error
	// subject is what the Set refused: a service (its module ID or a
	// reserved method ID) or an rpc (its method ID).
	subject element
	// holder is what already has the ID, for duplicates and reserved IDs.
	holder element
}

// checkIDs adds the modules, the reserved method IDs and the methods of the
// schema, in that order, to an ids.Set, which holds the ID rules, and
// returns what it refused. Reserved IDs go first so that an rpc that uses
// one is reported, wherever it is. Services without a valid module ID add
// neither reserved IDs nor methods: DRPC_SERVICE_MODULE_ID reports them.
func checkIDs(services []schemaService) []violation {
	// Full names are unique in a schema: they name the holders in errors.
	byName := make(map[string]element)
	for _, s := range services {
		byName[string(s.Desc.FullName())] = element{desc: s.Desc, imported: s.imported}
		for _, m := range s.Methods {
			byName[string(m.Desc.FullName())] = element{desc: m.Desc, imported: s.imported}
		}
	}
	var out []violation
	refused := func(err error, subject protoreflect.Descriptor) {
		var e *ids.Error
		if errors.As(err, &e) {
			out = append(out, violation{err: e, subject: byName[string(subject.FullName())], holder: byName[e.Holder]})
		}
	}

	var set ids.Set
	for _, s := range services {
		if s.HasModuleID {
			refused(set.AddModule(s.ModuleID, string(s.Desc.FullName())), s.Desc)
		}
	}
	withModule := slices.DeleteFunc(slices.Clone(services), func(s schemaService) bool {
		return !s.HasModuleID || !ids.ValidModule(s.ModuleID)
	})
	for _, s := range withModule {
		for _, id := range s.ReservedMethodIDs {
			refused(set.Reserve(s.ModuleID, id, string(s.Desc.FullName())), s.Desc)
		}
	}
	for _, s := range withModule {
		for _, m := range s.Methods {
			if m.HasID {
				refused(set.AddMethod(s.ModuleID, m.ID, string(m.Desc.FullName())), m.Desc)
			}
		}
	}
	return out
}

// group is the elements that share an ID.
type group struct {
	id      int32
	members []element
}

// duplicates groups the elements that share an ID, for the violations of
// rule (ids.ErrDuplicateModuleID or ids.ErrDuplicateMethodID): each group
// is the holder of the ID, then every element the Set refused it to, in
// schema order.
func duplicates(violations []violation, rule error) []group {
	var groups []group
	index := make(map[protoreflect.FullName]int) // holder -> its group
	for _, v := range violations {
		if v.err.Rule != rule || v.holder.desc == nil {
			continue
		}
		i, ok := index[v.holder.desc.FullName()]
		if !ok {
			id := v.err.Method
			if rule == ids.ErrDuplicateModuleID {
				id = v.err.Module
			}
			i = len(groups)
			index[v.holder.desc.FullName()] = i
			groups = append(groups, group{id: id, members: []element{v.holder}})
		}
		groups[i].members = append(groups[i].members, v.subject)
	}
	return groups
}

// others names the elements of a group but one, for messages.
func others(group []element, but element) string {
	var names []string
	for _, el := range group {
		if el.desc.FullName() != but.desc.FullName() {
			names = append(names, fmt.Sprintf("%q", el.desc.FullName()))
		}
	}
	return strings.Join(names, ", ")
}

func checkServiceModuleID(w check.ResponseWriter, services []schemaService) {
	for _, s := range services {
		if !s.imported && !s.HasModuleID {
			w.AddAnnotation(check.WithDescriptor(s.Desc), check.WithMessagef(
				"Service %q has no (drpc.v1.module_id): every service is a dRPC module and needs its module ID.", s.Desc.FullName()))
		}
	}
	for _, v := range checkIDs(services) {
		if _, ok := v.subject.desc.(protoreflect.ServiceDescriptor); ok && !v.subject.imported && errors.Is(v.err, ids.ErrInvalidModuleID) {
			w.AddAnnotation(check.WithDescriptor(v.subject.desc), check.WithMessagef(
				"Service %q has module ID %d; module IDs are 0..%d, so that their method IDs fit in an int32.", v.subject.desc.FullName(), v.err.Module, ids.MaxModuleID))
		}
	}
}

func checkModuleIDUnique(w check.ResponseWriter, services []schemaService) {
	for _, g := range duplicates(checkIDs(services), ids.ErrDuplicateModuleID) {
		for _, el := range g.members {
			if !el.imported {
				w.AddAnnotation(check.WithDescriptor(el.desc), check.WithMessagef(
					"Service %q has module ID %d, as %s: module IDs must be unique; give each service its own.", el.desc.FullName(), g.id, others(g.members, el)))
			}
		}
	}
}

func checkRPCMethodID(w check.ResponseWriter, services []schemaService) {
	for _, s := range services {
		if s.imported {
			continue
		}
		for _, m := range s.Methods {
			if !m.HasID {
				w.AddAnnotation(check.WithDescriptor(m.Desc), check.WithMessagef(
					"RPC %q has no (drpc.v1.method_id): every rpc of a dRPC module needs its method ID.", m.Desc.FullName()))
			}
		}
	}
}

func checkMethodIDRange(w check.ResponseWriter, services []schemaService) {
	for _, v := range checkIDs(services) {
		md, ok := v.subject.desc.(protoreflect.MethodDescriptor)
		if !ok || v.subject.imported || !errors.Is(v.err, ids.ErrMethodOutOfRange) {
			continue
		}
		w.AddAnnotation(check.WithDescriptor(md), check.WithMessagef(
			"RPC %q has method ID %d, outside the range %s of module %d (service %q): give it an ID in that range.",
			md.FullName(), v.err.Method, rangeText(v.err.Module), v.err.Module, md.Parent().FullName()))
	}
}

func checkMethodIDUnique(w check.ResponseWriter, services []schemaService) {
	for _, g := range duplicates(checkIDs(services), ids.ErrDuplicateMethodID) {
		for _, el := range g.members {
			if !el.imported {
				w.AddAnnotation(check.WithDescriptor(el.desc), check.WithMessagef(
					"RPC %q has method ID %d, as %s: method IDs must be unique in the whole schema; give each rpc its own.", el.desc.FullName(), g.id, others(g.members, el)))
			}
		}
	}
}

func checkReservedMethodIDs(w check.ResponseWriter, services []schemaService) {
	for _, s := range services {
		if s.imported {
			continue
		}
		listed := make(map[int32]bool)
		for _, id := range s.ReservedMethodIDs {
			if listed[id] {
				w.AddAnnotation(check.WithDescriptor(s.Desc), check.WithMessagef(
					"Service %q lists reserved method ID %d more than once.", s.Desc.FullName(), id))
			}
			listed[id] = true
		}
	}
	for _, v := range checkIDs(services) {
		switch {
		case errors.Is(v.err, ids.ErrMethodOutOfRange):
			if sd, ok := v.subject.desc.(protoreflect.ServiceDescriptor); ok && !v.subject.imported {
				w.AddAnnotation(check.WithDescriptor(sd), check.WithMessagef(
					"Service %q reserves method ID %d, outside the range %s of its module %d: a module reserves IDs of its own range only.",
					sd.FullName(), v.err.Method, rangeText(v.err.Module), v.err.Module))
			}
		case errors.Is(v.err, ids.ErrReservedMethodID):
			// An rpc uses a reserved ID: the rpc is to blame, whichever the
			// Set saw first.
			rpc, service := v.subject, v.holder
			if _, ok := rpc.desc.(protoreflect.MethodDescriptor); !ok {
				rpc, service = service, rpc
			}
			if rpc.desc != nil && service.desc != nil && !rpc.imported {
				w.AddAnnotation(check.WithDescriptor(rpc.desc), check.WithMessagef(
					"RPC %q has method ID %d, which service %q reserves: the ID of a removed rpc must never be used again; give the rpc an unused ID.",
					rpc.desc.FullName(), v.err.Method, service.desc.FullName()))
			}
		}
	}
}

func checkModuleIDNoChange(_ context.Context, w check.ResponseWriter, _ check.Request, sd, against protoreflect.ServiceDescriptor) error {
	cur, err := drpcopt.Load(sd)
	if err != nil {
		return err
	}
	prev, err := drpcopt.Load(against)
	if err != nil {
		return err
	}
	switch {
	case !prev.HasModuleID:
	case !cur.HasModuleID:
		w.AddAnnotation(check.WithDescriptor(sd), check.WithAgainstDescriptor(against), check.WithMessagef(
			"Service %q lost its module ID %d: the module ID is part of the wire.", sd.FullName(), prev.ModuleID))
	case cur.ModuleID != prev.ModuleID:
		w.AddAnnotation(check.WithDescriptor(sd), check.WithAgainstDescriptor(against), check.WithMessagef(
			"Service %q changed its module ID from %d to %d: the module ID is part of the wire.", sd.FullName(), prev.ModuleID, cur.ModuleID))
	}
	return nil
}

func checkMethodIDNoChange(_ context.Context, w check.ResponseWriter, _ check.Request, md, against protoreflect.MethodDescriptor) error {
	cur, err := loadMethod(md)
	if err != nil {
		return err
	}
	prev, err := loadMethod(against)
	if err != nil {
		return err
	}
	switch {
	case !prev.HasID:
	case !cur.HasID:
		w.AddAnnotation(check.WithDescriptor(md), check.WithAgainstDescriptor(against), check.WithMessagef(
			"RPC %q lost its method ID %d: the method ID is part of the wire.", md.FullName(), prev.ID))
	case cur.ID != prev.ID:
		w.AddAnnotation(check.WithDescriptor(md), check.WithAgainstDescriptor(against), check.WithMessagef(
			"RPC %q changed its method ID from %d to %d: the method ID is part of the wire.", md.FullName(), prev.ID, cur.ID))
	}
	return nil
}

// loadMethod reads the dRPC ID of one rpc.
func loadMethod(md protoreflect.MethodDescriptor) (drpcopt.Method, error) {
	s, err := drpcopt.Load(md.Parent().(protoreflect.ServiceDescriptor))
	if err != nil {
		return drpcopt.Method{}, err
	}
	m, ok := s.Method(md.Name())
	if !ok {
		return drpcopt.Method{}, fmt.Errorf("rpc %s is not in its service's descriptor", md.FullName())
	}
	return m, nil
}

// checkRPCNoDeleteUnlessReserved reports an rpc of the previous schema that
// is gone, by name, from its service while its method ID is neither
// reserved nor still used (an rpc renamed with its ID is no dRPC deletion;
// buf's own RPC_NO_DELETE speaks about the name).
func checkRPCNoDeleteUnlessReserved(_ context.Context, w check.ResponseWriter, _ check.Request, sd, against protoreflect.ServiceDescriptor) error {
	cur, err := drpcopt.Load(sd)
	if err != nil {
		return err
	}
	prev, err := drpcopt.Load(against)
	if err != nil {
		return err
	}
	used := make(map[int32]bool)
	for _, m := range cur.Methods {
		if m.HasID {
			used[m.ID] = true
		}
	}
	for _, m := range prev.Methods {
		if !m.HasID || sd.Methods().ByName(m.Desc.Name()) != nil || used[m.ID] || cur.IsReserved(m.ID) {
			continue
		}
		w.AddAnnotation(check.WithDescriptor(sd), check.WithAgainstDescriptor(m.Desc), check.WithMessagef(
			"RPC %q (method ID %d) was deleted without reserving its ID: add %d to the (drpc.v1.reserved_method_ids) of service %q.", m.Desc.FullName(), m.ID, m.ID, sd.FullName()))
	}
	return nil
}

func checkReservedIDNoDelete(_ context.Context, w check.ResponseWriter, _ check.Request, sd, against protoreflect.ServiceDescriptor) error {
	cur, err := drpcopt.Load(sd)
	if err != nil {
		return err
	}
	prev, err := drpcopt.Load(against)
	if err != nil {
		return err
	}
	reported := make(map[int32]bool)
	for _, id := range prev.ReservedMethodIDs {
		if !cur.IsReserved(id) && !reported[id] {
			reported[id] = true
			w.AddAnnotation(check.WithDescriptor(sd), check.WithAgainstDescriptor(against), check.WithMessagef(
				"Service %q no longer reserves method ID %d: a reserved ID must stay reserved, so that it is never used again.", sd.FullName(), id))
		}
	}
	return nil
}
