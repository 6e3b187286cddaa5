package drpc

import (
	"context"
	"fmt"
	"reflect"

	"github.com/cc532012/drpc/drpc/ids"
)

// ModuleID identifies a dRPC module (a group of related methods) on the wire.
type ModuleID int32

// MethodID identifies a dRPC method; IDs are unique across all modules.
type MethodID int32

// Module is a group of dRPC methods registered on a server under one ID
// (module N owns the method IDs N*100+1 .. N*100+99; package ids holds the
// rules). The IDs of the DAOS modules are in DAOS's drpc_modules.h.
type Module interface {
	// ID is the module ID that calls name.
	ID() ModuleID
	// String names the module in logs and errors.
	String() string
	// GetMethod returns the method with the given ID, or an error (a
	// *Failure with StatusUnknownMethod, ideally) if the module has none.
	GetMethod(id MethodID) (Method, error)
	// Handler runs the module's calls.
	Handler
}

// Handler runs calls: a Module, and the next step of an Interceptor.
type Handler interface {
	// HandleCall runs method with the marshalled request body and returns
	// the marshalled reply. A *Failure error sets the response status and
	// its message is sent as the reason; any other error answers
	// StatusFailure without one. ctx ends when the client hangs up during
	// the call, or when the server stops without waiting for it.
	//
	// body is only valid until HandleCall returns: it is the session's
	// receive buffer, which the next call reuses (this saves copying every
	// request). Decode it, return it (or part of it) as the reply, or copy
	// it, but do not keep it.
	HandleCall(ctx context.Context, session *Session, method Method, body []byte) ([]byte, error)
}

// Method is one dRPC method of a module.
//
// A Method may also have a method Idempotent() bool that reports whether
// running it twice with the same request has the effect of running it
// once (the schema's option (drpc.v1.idempotent); NewIdempotentMethod
// makes such a Method, and the generated code uses it). A Pool sends a
// call of an idempotent method again when its answer was lost.
type Method interface {
	// ID is the method ID that calls name.
	ID() MethodID
	// Module is the ID of the module that serves the method.
	Module() ModuleID
	// String names the method in logs and errors.
	String() string
}

// owns reports whether method ID m lies in module id's range.
func owns(id ModuleID, m MethodID) bool {
	return ids.Owns(int32(id), int32(m))
}

// NewMethod returns a Method with the given IDs and name, for modules that do
// not need a type of their own. It is comparable: two calls with the same
// arguments return equal values.
func NewMethod(module ModuleID, id MethodID, name string) Method {
	return method{module: module, id: id, name: name}
}

// NewIdempotentMethod returns a Method like NewMethod, for a method that
// may run twice with the same request to the effect of running once
// (setting a value, reading one): its Idempotent method reports true, so
// that a Pool sends a call of it again when the answer was lost. The
// generated code makes the methods marked (drpc.v1.idempotent) with it.
func NewIdempotentMethod(module ModuleID, id MethodID, name string) Method {
	return method{module: module, id: id, name: name, idempotent: true}
}

type method struct {
	module     ModuleID
	id         MethodID
	name       string
	idempotent bool
}

func (m method) ID() MethodID     { return m.id }
func (m method) Module() ModuleID { return m.module }
func (m method) String() string   { return m.name }
func (m method) Idempotent() bool { return m.idempotent }

// isIdempotent reports whether m says it is idempotent (see Method).
func isIdempotent(m Method) bool {
	i, ok := m.(interface{ Idempotent() bool })
	return ok && i.Idempotent()
}

// MethodLister is implemented by modules that can list their methods. The
// server then checks every listed method at registration; modules without
// it are probed with GetMethod over their whole ID range.
type MethodLister interface {
	Methods() []Method
}

// validateModule checks a module's ID and its methods' IDs with the rules
// of package ids: a valid module ID, every method in the module's range,
// no two methods with one ID. The errors wrap ErrInvalidModule and, for a
// broken ID rule, the ids sentinel (ids.ErrMethodOutOfRange, ...).
func validateModule(m Module) error {
	if m == nil {
		return fmt.Errorf("%w: module is nil", ErrInvalidModule)
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		// Its methods would most likely dereference it.
		return fmt.Errorf("%w: module is nil (%T)", ErrInvalidModule, m)
	}
	id := m.ID()
	var set ids.Set
	if err := set.AddModule(int32(id), m.String()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	check := func(meth Method) error {
		if meth.Module() != id {
			return fmt.Errorf("%w: method %s (%d) says it belongs to module %d, not to module %s (%d)", ErrInvalidModule, meth, meth.ID(), meth.Module(), m, id)
		}
		if err := set.AddMethod(int32(id), int32(meth.ID()), meth.String()); err != nil {
			return fmt.Errorf("%w: module %s: %w", ErrInvalidModule, m, err)
		}
		return nil
	}
	if lister, ok := m.(MethodLister); ok {
		for _, meth := range lister.Methods() {
			if meth == nil {
				return fmt.Errorf("%w: module %s lists a nil method", ErrInvalidModule, m)
			}
			if err := check(meth); err != nil {
				return err
			}
		}
		return nil
	}
	first, last := ids.MethodRange(int32(id))
	for i := first; i <= last; i++ {
		mid := MethodID(i)
		meth, err := m.GetMethod(mid)
		if err != nil || meth == nil {
			continue
		}
		if meth.ID() != mid {
			return fmt.Errorf("%w: module %s returns method %s (%d) for ID %d", ErrInvalidModule, m, meth, meth.ID(), mid)
		}
		if err := check(meth); err != nil {
			return err
		}
	}
	return nil
}
