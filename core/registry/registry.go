// Package registry is the name → factory table behind every ptbench registry (methods,
// backbones, tasks). It has no libtorch dependency, so the pure-data packages (tasks) can
// register themselves without linking gotch.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry is a name → factory table, safe for concurrent use. Registering a name twice
// is a programming error and panics, as database/sql does.
type Registry[F any] struct {
	kind    string
	mu      sync.RWMutex
	entries map[string]entry[F]
}

type entry[F any] struct {
	factory F
	about   string
}

// New makes an empty registry; kind names it in errors ("Method", "Task").
func New[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, entries: map[string]entry[F]{}}
}

// Register adds name; an empty or duplicate name panics.
func (r *Registry[F]) Register(name, about string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic(fmt.Sprintf("core: Register%s with an empty name", r.kind))
	}
	if _, dup := r.entries[name]; dup {
		panic(fmt.Sprintf("core: Register%s called twice for %q", r.kind, name))
	}
	r.entries[name] = entry[F]{factory: f, about: about}
}

// Lookup returns the factory registered as name, or an error listing the known names.
func (r *Registry[F]) Lookup(name string) (F, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	if !ok {
		var zero F
		return zero, fmt.Errorf("unknown %s %q (known: %v)", r.kind, name, r.namesLocked())
	}
	return e.factory, nil
}

// List describes every entry, sorted by name.
func (r *Registry[F]) List() []Registered {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Registered, 0, len(r.entries))
	for _, n := range r.namesLocked() {
		out = append(out, Registered{Name: n, About: r.entries[n].about})
	}
	return out
}

func (r *Registry[F]) namesLocked() []string {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Registered describes one registry entry for listings (`ptbench methods`).
type Registered struct {
	Name  string `json:"name"`
	About string `json:"about"`
}
