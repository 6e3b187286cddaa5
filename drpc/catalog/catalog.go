package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/ids"
)

// ErrConflict is wrapped by every error Err reports: an entry contradicts
// one registered before it, or is invalid, and was not added.
var ErrConflict = errors.New("conflicting dRPC catalog entry")

// Entry describes one dRPC method: its IDs, its names in the schema, and
// the messages of its call and reply bodies.
type Entry struct {
	// ModuleID is the ID of the module that serves the method.
	ModuleID drpc.ModuleID
	// MethodID is the method's ID, unique across all modules.
	MethodID drpc.MethodID
	// Service is the full name of the schema's service that describes the
	// module, e.g. "drpc.test.v1.TestService".
	Service protoreflect.FullName
	// MethodName is the rpc's name in the service, e.g. "Echo".
	MethodName protoreflect.Name
	// Request is the message type of the call body.
	Request protoreflect.MessageType
	// Response is the message type of a successful reply's body.
	Response protoreflect.MessageType
	// Idempotent is the rpc's (drpc.v1.idempotent) option: running the
	// method twice with the same request has the same effect as running it
	// once, so a caller may send the request again after an attempt that
	// was sent but got no reply. A method without it must not be resent.
	Idempotent bool
}

// FullMethodName is the rpc's full name, e.g. "drpc.test.v1.TestService.Echo".
func (e Entry) FullMethodName() protoreflect.FullName {
	return e.Service.Append(e.MethodName)
}

// Method returns the method as a drpc.Method named by its full name, and
// idempotent if the entry is; it is equal to the Method value the
// generated package declares.
func (e Entry) Method() drpc.Method {
	if e.Idempotent {
		return drpc.NewIdempotentMethod(e.ModuleID, e.MethodID, string(e.FullMethodName()))
	}
	return drpc.NewMethod(e.ModuleID, e.MethodID, string(e.FullMethodName()))
}

// DecodeRequest decodes a call body into a new request message. An empty
// body is an empty message.
func (e Entry) DecodeRequest(body []byte) (proto.Message, error) {
	return decode(e.Request, body, "request of "+e.FullMethodName())
}

// DecodeResponse decodes a successful reply's body into a new response
// message. An empty body is an empty message.
func (e Entry) DecodeResponse(body []byte) (proto.Message, error) {
	return decode(e.Response, body, "reply of "+e.FullMethodName())
}

func decode(t protoreflect.MessageType, body []byte, what protoreflect.FullName) (proto.Message, error) {
	m := t.New().Interface()
	if err := proto.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%s does not decode as %s: %w", what, t.Descriptor().FullName(), err)
	}
	return m, nil
}

// same reports whether e and o describe the same method with the same
// messages, so that registering o after e changes nothing.
func (e Entry) same(o Entry) bool {
	return e.ModuleID == o.ModuleID && e.MethodID == o.MethodID &&
		e.Service == o.Service && e.MethodName == o.MethodName && e.Idempotent == o.Idempotent &&
		e.Request.Descriptor().FullName() == o.Request.Descriptor().FullName() &&
		e.Response.Descriptor().FullName() == o.Response.Descriptor().FullName()
}

// validate checks what an entry must hold on its own, apart from its IDs,
// which add checks with the others.
func (e Entry) validate() error {
	switch {
	case e.Service == "" || e.MethodName == "":
		return fmt.Errorf("%w: method %d of module %d has no service or method name: set Entry.Service and Entry.MethodName", ErrConflict, e.MethodID, e.ModuleID)
	case e.Request == nil || e.Response == nil:
		return fmt.Errorf("%w: %s has no request or response type: set Entry.Request and Entry.Response", ErrConflict, e.FullMethodName())
	}
	return nil
}

// catalog is a set of entries; the package functions use one for the
// whole process.
type catalog struct {
	mu        sync.RWMutex
	methods   map[drpc.MethodID]Entry
	ids       ids.Set // the module and method IDs of the entries, by the rules of package ids
	conflicts []error
}

func newCatalog() *catalog {
	return &catalog{methods: make(map[drpc.MethodID]Entry)}
}

func (c *catalog) register(entries ...Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		if err := c.add(e); err != nil {
			c.conflicts = append(c.conflicts, err)
		}
	}
}

// add adds e, or explains why it cannot. Method IDs are unique across
// modules, so the catalog is keyed by method ID alone. The ID rules (a
// valid module ID, one service per module ID, the method ID in its
// module's range and unique) are those of package ids; its errors are
// wrapped with ErrConflict.
func (c *catalog) add(e Entry) error {
	if err := e.validate(); err != nil {
		return err
	}
	if prev, ok := c.methods[e.MethodID]; ok {
		switch {
		case prev.same(e):
			return nil
		case prev.ModuleID == e.ModuleID && prev.FullMethodName() == e.FullMethodName() && prev.Idempotent != e.Idempotent:
			return fmt.Errorf("%w: %s (method ID %d) is registered as idempotent=%t, and again as idempotent=%t: link one version of its generated package",
				ErrConflict, e.FullMethodName(), e.MethodID, prev.Idempotent, e.Idempotent)
		case prev.ModuleID == e.ModuleID && prev.FullMethodName() == e.FullMethodName():
			return fmt.Errorf("%w: %s (method ID %d) is registered with messages %s and %s, and again with %s and %s: link one version of its generated package",
				ErrConflict, e.FullMethodName(), e.MethodID,
				prev.Request.Descriptor().FullName(), prev.Response.Descriptor().FullName(),
				e.Request.Descriptor().FullName(), e.Response.Descriptor().FullName())
		}
	}
	// The method's own checks first, so that an entry refused for its
	// method ID does not claim its module ID. Once the module ID is the
	// service's, AddMethod records nothing unless it succeeds.
	if err := ids.CheckMethod(int32(e.ModuleID), int32(e.MethodID), string(e.FullMethodName())); err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err := c.ids.AddModule(int32(e.ModuleID), string(e.Service)); err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err := c.ids.AddMethod(int32(e.ModuleID), int32(e.MethodID), string(e.FullMethodName())); err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	c.methods[e.MethodID] = e
	return nil
}

func (c *catalog) lookup(module drpc.ModuleID, method drpc.MethodID) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.methods[method]
	if !ok || e.ModuleID != module {
		return Entry{}, false
	}
	return e, true
}

func (c *catalog) all() []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Entry, 0, len(c.methods))
	for _, e := range c.methods {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.ModuleID, b.ModuleID), cmp.Compare(a.MethodID, b.MethodID))
	})
	return out
}

func (c *catalog) err() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return errors.Join(c.conflicts...)
}

// process is the catalog of the whole program.
var process = newCatalog()

// Register adds entries to the catalog; generated packages call it from
// their init functions. It never panics: an entry identical to one already
// registered is ignored, and an invalid or conflicting entry is left out and
// reported by Err (the entry registered first stays).
func Register(entries ...Entry) { process.register(entries...) }

// Lookup returns the entry of method ID method in module module, if one was
// registered.
func Lookup(module drpc.ModuleID, method drpc.MethodID) (Entry, bool) {
	return process.lookup(module, method)
}

// All returns every registered entry, ordered by module ID and method ID.
func All() []Entry { return process.all() }

// Err returns nil if every registration succeeded, and otherwise an error
// that joins one error per entry left out, each wrapping ErrConflict and,
// for a broken ID rule, the sentinel of package ids
// (ids.ErrDuplicateModuleID, ids.ErrDuplicateMethodID, ...).
func Err() error { return process.err() }
