package drpc

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// registry maps module IDs to modules. Reads are lock-free (the map is
// replaced, never changed, on registration) because every call reads it.
type registry struct {
	mu      sync.Mutex // serializes writers
	modules atomic.Pointer[map[ModuleID]Module]
}

func (r *registry) register(m Module) error {
	if err := validateModule(m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.modules.Load()
	var n int
	if old != nil {
		n = len(*old)
		if prev, ok := (*old)[m.ID()]; ok {
			return fmt.Errorf("%w: module %s has ID %d, which module %s already uses", ErrDuplicateModule, m, m.ID(), prev)
		}
	}
	next := make(map[ModuleID]Module, n+1)
	if old != nil {
		for id, mod := range *old {
			next[id] = mod
		}
	}
	next[m.ID()] = m
	r.modules.Store(&next)
	return nil
}

func (r *registry) lookup(id ModuleID) (Module, bool) {
	mods := r.modules.Load()
	if mods == nil {
		return nil, false
	}
	m, ok := (*mods)[id]
	return m, ok
}
