package drpc

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// registered is a module as the registry keeps it: its ID and name are
// read once, at registration, so that calls do not run its ID and String
// methods again.
type registered struct {
	mod  Module
	id   ModuleID
	name string
}

// registry maps module IDs to modules. Reads are lock-free (the map is
// replaced, never changed, on registration) because every call reads it.
type registry struct {
	mu      sync.Mutex // serializes writers
	modules atomic.Pointer[map[ModuleID]registered]
}

func (r *registry) register(m Module) error {
	entry, err := inspectModule(m)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.modules.Load()
	var n int
	if old != nil {
		n = len(*old)
		if prev, ok := (*old)[entry.id]; ok {
			return fmt.Errorf("%w: module %s has ID %d, which module %s already uses", ErrInvalidModule, entry.name, entry.id, prev.name)
		}
	}
	next := make(map[ModuleID]registered, n+1)
	if old != nil {
		for id, e := range *old {
			next[id] = e
		}
	}
	next[entry.id] = entry
	r.modules.Store(&next)
	return nil
}

// inspectModule validates a module and reads its ID and name, turning a
// panic of its methods into an error.
func inspectModule(m Module) (entry registered, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: module %T panicked while it was checked: %v", ErrInvalidModule, m, p)
		}
	}()
	if err := validateModule(m); err != nil {
		return registered{}, err
	}
	return registered{mod: m, id: m.ID(), name: m.String()}, nil
}

func (r *registry) lookup(id ModuleID) (registered, bool) {
	mods := r.modules.Load()
	if mods == nil {
		return registered{}, false
	}
	e, ok := (*mods)[id]
	return e, ok
}
