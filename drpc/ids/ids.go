package ids

import (
	"errors"
	"fmt"
	"math"
)

// ModuleMethodOffset is the spacing of method IDs: module N owns the method
// IDs N*ModuleMethodOffset+1 .. N*ModuleMethodOffset+ModuleMethodOffset-1.
const ModuleMethodOffset = 100

// MaxModuleID is the largest module ID whose method IDs fit in an int32.
const MaxModuleID = (math.MaxInt32 - (ModuleMethodOffset - 1)) / ModuleMethodOffset

// ValidModule reports whether module is a valid module ID, 0..MaxModuleID.
func ValidModule(module int32) bool {
	return module >= 0 && module <= MaxModuleID
}

// MethodRange returns the first and the last method ID that module owns:
// module*100+1 and module*100+99. The range of an invalid module ID (see
// ValidModule) is empty: first is greater than last.
func MethodRange(module int32) (first, last int32) {
	if !ValidModule(module) {
		return 1, 0
	}
	base := module * ModuleMethodOffset
	return base + 1, base + ModuleMethodOffset - 1
}

// Owns reports whether method ID method lies in module's range. An invalid
// module ID owns no method ID.
func Owns(module, method int32) bool {
	first, last := MethodRange(module)
	return method >= first && method <= last
}

// rangeText describes module's range for messages, e.g. "101..199".
func rangeText(module int32) string {
	first, last := MethodRange(module)
	return fmt.Sprintf("%d..%d", first, last)
}

// The rules a Set enforces; every *Error wraps one. Test with errors.Is.
var (
	// ErrInvalidModuleID: a module ID is outside 0..MaxModuleID.
	ErrInvalidModuleID = errors.New("invalid dRPC module ID")
	// ErrDuplicateModuleID: a module ID already belongs to another module.
	ErrDuplicateModuleID = errors.New("duplicate dRPC module ID")
	// ErrMethodOutOfRange: a method ID (or a reserved one) lies outside the
	// range of its module.
	ErrMethodOutOfRange = errors.New("dRPC method ID outside its module's range")
	// ErrDuplicateMethodID: a method ID already belongs to another method.
	ErrDuplicateMethodID = errors.New("duplicate dRPC method ID")
	// ErrReservedMethodID: a method uses a method ID that its module
	// reserves.
	ErrReservedMethodID = errors.New("reserved dRPC method ID in use")
)

// op is the Set operation that failed.
type op int

const (
	opAddModule op = iota
	opAddMethod
	opReserve
)

// Error is the error a Set returns: the rule an ID breaks and the names
// involved, for tools that word their own messages. Its Error method says
// what is wrong and what to do about it.
type Error struct {
	// Rule is the broken rule: ErrInvalidModuleID, ErrDuplicateModuleID,
	// ErrMethodOutOfRange, ErrDuplicateMethodID or ErrReservedMethodID.
	// Unwrap returns it.
	Rule error
	// Module is the module ID involved.
	Module int32
	// Method is the method ID involved; 0 when the error is about a
	// module's own ID (method ID 0 is never valid).
	Method int32
	// Name names what the Set refused: the module (AddModule), the method
	// (AddMethod) or the reserving module (Reserve).
	Name string
	// Holder names what already has the ID, for ErrDuplicateModuleID (a
	// module), ErrDuplicateMethodID (a method) and ErrReservedMethodID (the
	// reserving module when AddMethod fails, the method that uses the ID
	// when Reserve fails); it is empty for the other rules.
	Holder string

	op op
}

// Unwrap returns e.Rule, so that errors.Is matches the sentinels.
func (e *Error) Unwrap() error { return e.Rule }

// Error describes the broken rule and what to change.
func (e *Error) Error() string {
	name, holder := quote(e.Name), quote(e.Holder)
	switch e.op {
	case opAddModule:
		if e.Rule == ErrDuplicateModuleID {
			return fmt.Sprintf("module %s has ID %d, which module %s already has: module IDs must be unique; give %s an unused module ID",
				name, e.Module, holder, name)
		}
		return fmt.Sprintf("module %s has ID %d, want 0..%d: choose a module ID in that range (module N owns the method IDs N*%d+1..N*%d+%d, which must fit in an int32)",
			name, e.Module, MaxModuleID, ModuleMethodOffset, ModuleMethodOffset, ModuleMethodOffset-1)
	case opAddMethod:
		switch e.Rule {
		case ErrInvalidModuleID:
			return fmt.Sprintf("method %s (ID %d) belongs to module %d, which is not a valid module ID (want 0..%d): fix the module ID first",
				name, e.Method, e.Module, MaxModuleID)
		case ErrMethodOutOfRange:
			return fmt.Sprintf("method %s of module %d has ID %d, outside the module's range %s: module N owns the method IDs N*%d+1..N*%d+%d; give %s an ID in %s",
				name, e.Module, e.Method, rangeText(e.Module), ModuleMethodOffset, ModuleMethodOffset, ModuleMethodOffset-1, name, rangeText(e.Module))
		case ErrDuplicateMethodID:
			return fmt.Sprintf("method %s has ID %d, which method %s already has: method IDs must be unique across all modules; give %s an unused ID in %s",
				name, e.Method, holder, name, rangeText(e.Module))
		default:
			return fmt.Sprintf("method %s has ID %d, which module %s reserves: the ID of a removed method must not be used again; give %s an unused ID in %s",
				name, e.Method, holder, name, rangeText(e.Module))
		}
	default:
		switch e.Rule {
		case ErrInvalidModuleID:
			return fmt.Sprintf("module %s reserves method ID %d, but its module ID %d is not valid (want 0..%d): fix the module ID first",
				name, e.Method, e.Module, MaxModuleID)
		case ErrMethodOutOfRange:
			return fmt.Sprintf("module %s (ID %d) reserves method ID %d, outside its range %s: a module reserves IDs of its own range only; remove %d from its reserved IDs",
				name, e.Module, e.Method, rangeText(e.Module), e.Method)
		default:
			return fmt.Sprintf("module %s reserves method ID %d, which method %s uses: the ID of a removed method must not be used again; give %s another ID, or do not reserve %d",
				name, e.Method, holder, holder, e.Method)
		}
	}
}

// quote returns name quoted, or "(unnamed)" if it is empty.
func quote(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return fmt.Sprintf("%q", name)
}

// Set checks that modules and methods, added one by one, keep the rules
// together: unique module IDs, unique method IDs, each in its module's
// range, and no reserved ID in use. Each Add method refuses what breaks a
// rule with an *Error and records nothing then; what it accepts stays.
//
// Adding the same module or method again (same IDs and name) is accepted
// and changes nothing, so that a Set can be filled by sources that repeat
// themselves. The zero Set is empty and ready to use. A Set is not safe for
// concurrent use.
type Set struct {
	modules  map[int32]string // module ID -> module name
	methods  map[int32]method // method ID -> the method that has it
	reserved map[int32]string // method ID -> the module that reserves it
}

// method is a method of a Set.
type method struct {
	module int32
	name   string
}

// CheckModule checks the ID of the module named name on its own, as
// AddModule does but for uniqueness: it fails with ErrInvalidModuleID if id
// is not a valid module ID.
func CheckModule(id int32, name string) error {
	if !ValidModule(id) {
		return &Error{Rule: ErrInvalidModuleID, Module: id, Name: name, op: opAddModule}
	}
	return nil
}

// CheckMethod checks the ID of the method named name, of module, on its
// own, as AddMethod does but for uniqueness and reservations: it fails with
// ErrInvalidModuleID if module is not a valid module ID and with
// ErrMethodOutOfRange if id is outside module's range.
func CheckMethod(module, id int32, name string) error {
	switch {
	case !ValidModule(module):
		return &Error{Rule: ErrInvalidModuleID, Module: module, Method: id, Name: name, op: opAddMethod}
	case !Owns(module, id):
		return &Error{Rule: ErrMethodOutOfRange, Module: module, Method: id, Name: name, op: opAddMethod}
	}
	return nil
}

// AddModule records that the module named name has ID id. It fails with
// ErrInvalidModuleID if id is not a valid module ID and with
// ErrDuplicateModuleID if another module already has it.
func (s *Set) AddModule(id int32, name string) error {
	if err := CheckModule(id, name); err != nil {
		return err
	}
	if holder, ok := s.modules[id]; ok {
		if holder == name {
			return nil
		}
		return &Error{Rule: ErrDuplicateModuleID, Module: id, Name: name, Holder: holder, op: opAddModule}
	}
	if s.modules == nil {
		s.modules = make(map[int32]string)
	}
	s.modules[id] = name
	return nil
}

// AddMethod records that the method named name, of module, has ID id. It
// fails with ErrInvalidModuleID if module is not a valid module ID,
// ErrMethodOutOfRange if id is outside module's range,
// ErrDuplicateMethodID if another method already has id and
// ErrReservedMethodID if a module reserves id. The module need not have
// been added.
func (s *Set) AddMethod(module, id int32, name string) error {
	if err := CheckMethod(module, id, name); err != nil {
		return err
	}
	fail := func(rule error, holder string) error {
		return &Error{Rule: rule, Module: module, Method: id, Name: name, Holder: holder, op: opAddMethod}
	}
	if holder, ok := s.methods[id]; ok {
		if holder == (method{module: module, name: name}) {
			return nil
		}
		return fail(ErrDuplicateMethodID, holder.name)
	}
	if by, ok := s.reserved[id]; ok {
		return fail(ErrReservedMethodID, by)
	}
	if s.methods == nil {
		s.methods = make(map[int32]method)
	}
	s.methods[id] = method{module: module, name: name}
	return nil
}

// Reserve records that module, named by, reserves method ID id: no method
// may have it. It fails with ErrInvalidModuleID if module is not a valid
// module ID, ErrMethodOutOfRange if id is outside module's range and
// ErrReservedMethodID if a method already has id. Reserving an ID twice
// is accepted; the first module that reserves it is the one named in
// errors.
func (s *Set) Reserve(module, id int32, by string) error {
	fail := func(rule error, holder string) error {
		return &Error{Rule: rule, Module: module, Method: id, Name: by, Holder: holder, op: opReserve}
	}
	switch {
	case !ValidModule(module):
		return fail(ErrInvalidModuleID, "")
	case !Owns(module, id):
		return fail(ErrMethodOutOfRange, "")
	}
	if holder, ok := s.methods[id]; ok {
		return fail(ErrReservedMethodID, holder.name)
	}
	if _, ok := s.reserved[id]; ok {
		return nil
	}
	if s.reserved == nil {
		s.reserved = make(map[int32]string)
	}
	s.reserved[id] = by
	return nil
}
