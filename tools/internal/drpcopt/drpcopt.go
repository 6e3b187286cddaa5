// Package drpcopt reads the dRPC custom options of a schema, the
// (drpc.v1.module_id) and (drpc.v1.reserved_method_ids) of services and the
// (drpc.v1.method_id) and (drpc.v1.idempotent) of rpcs
// (proto/drpc/v1/options.proto), for the code generator and the buf check
// plugin.
//
// Descriptors reach those tools from buf or protoc through different
// decoders: their options may hold the dRPC options as known extension
// fields, as dynamic ones, or as unknown fields. The functions here
// re-encode the options and decode them again with the dRPC extensions
// known, so every form reads the same.
package drpcopt

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/cc532012/drpc/drpc/ids"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

// Service is a service's dRPC IDs. The IDs are int32, as on the wire and
// in package github.com/cc532012/drpc/drpc/ids, which holds the rules they
// must follow.
type Service struct {
	// Desc is the service.
	Desc protoreflect.ServiceDescriptor
	// ModuleID is the (drpc.v1.module_id) option; valid if HasModuleID.
	ModuleID int32
	// HasModuleID tells whether the service sets (drpc.v1.module_id).
	HasModuleID bool
	// ReservedMethodIDs is the (drpc.v1.reserved_method_ids) option, in
	// schema order.
	ReservedMethodIDs []int32
	// Methods are the service's rpcs, in schema order.
	Methods []Method
}

// Method is an rpc's dRPC ID and whether it is idempotent.
type Method struct {
	// Desc is the rpc.
	Desc protoreflect.MethodDescriptor
	// ID is the (drpc.v1.method_id) option; valid if HasID.
	ID int32
	// HasID tells whether the rpc sets (drpc.v1.method_id).
	HasID bool
	// Idempotent is the (drpc.v1.idempotent) option (false if unset).
	Idempotent bool
}

// IsReserved reports whether the service reserves method ID id.
func (s Service) IsReserved(id int32) bool {
	return slices.Contains(s.ReservedMethodIDs, id)
}

// InRange reports whether method ID id lies in the range of the service's
// module (ids.Owns); false if the service has no module ID.
func (s Service) InRange(id int32) bool {
	return s.HasModuleID && ids.Owns(s.ModuleID, id)
}

// Method returns the dRPC ID of the service's rpc named name, matched by
// name and not by position, and false if the service has no such rpc.
func (s Service) Method(name protoreflect.Name) (Method, bool) {
	for _, m := range s.Methods {
		if m.Desc.Name() == name {
			return m, true
		}
	}
	return Method{}, false
}

// Load reads the dRPC options of a service and of its rpcs.
func Load(sd protoreflect.ServiceDescriptor) (Service, error) {
	opts := new(descriptorpb.ServiceOptions)
	if err := reparse(sd.Options(), opts); err != nil {
		return Service{}, fmt.Errorf("options of service %s: %w", sd.FullName(), err)
	}
	s := Service{Desc: sd}
	if proto.HasExtension(opts, drpcv1.E_ModuleId) {
		s.ModuleID = proto.GetExtension(opts, drpcv1.E_ModuleId).(int32)
		s.HasModuleID = true
	}
	s.ReservedMethodIDs = slices.Clone(proto.GetExtension(opts, drpcv1.E_ReservedMethodIds).([]int32))
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		mopts := new(descriptorpb.MethodOptions)
		if err := reparse(md.Options(), mopts); err != nil {
			return Service{}, fmt.Errorf("options of rpc %s: %w", md.FullName(), err)
		}
		m := Method{Desc: md}
		if proto.HasExtension(mopts, drpcv1.E_MethodId) {
			m.ID = proto.GetExtension(mopts, drpcv1.E_MethodId).(int32)
			m.HasID = true
		}
		m.Idempotent = proto.GetExtension(mopts, drpcv1.E_Idempotent).(bool)
		s.Methods = append(s.Methods, m)
	}
	return s, nil
}

// LoadFile reads the dRPC options of every service of a file, in schema
// order.
func LoadFile(fd protoreflect.FileDescriptor) ([]Service, error) {
	services := fd.Services()
	out := make([]Service, 0, services.Len())
	for i := range services.Len() {
		s, err := Load(services.Get(i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// extensions resolves the dRPC options, and only them.
var extensions = func() *protoregistry.Types {
	types := new(protoregistry.Types)
	for _, xt := range []protoreflect.ExtensionType{drpcv1.E_ModuleId, drpcv1.E_ReservedMethodIds, drpcv1.E_MethodId, drpcv1.E_Idempotent} {
		if err := types.RegisterExtension(xt); err != nil {
			panic(err) // the numbers are distinct per extendee
		}
	}
	return types
}()

// reparse copies the options src into dst through their encoding, decoding
// the dRPC extensions as known fields.
func reparse(src protoreflect.ProtoMessage, dst proto.Message) error {
	if src == nil {
		return nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(src)
	if err != nil {
		return err
	}
	return proto.UnmarshalOptions{Resolver: extensions}.Unmarshal(b, dst)
}
