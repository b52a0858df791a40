// Package core holds what every part of ptbench agrees on: the Backbone, Method and Task
// interfaces, their name registries, the trainer loop and the results store.
//
// core never imports a concrete method, backbone or task. Like database/sql drivers, each
// implementation registers itself from its package's init function, and a program enables
// it with one blank import.
package core

import (
	"fmt"
	"sort"
	"sync"
)

// registry is a name → factory table, safe for concurrent use. Registering a name twice
// is a programming error and panics, as database/sql does.
type registry[F any] struct {
	kind    string
	mu      sync.RWMutex
	entries map[string]registryEntry[F]
}

type registryEntry[F any] struct {
	factory F
	about   string
}

func newRegistry[F any](kind string) *registry[F] {
	return &registry[F]{kind: kind, entries: map[string]registryEntry[F]{}}
}

func (r *registry[F]) register(name, about string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic(fmt.Sprintf("core: Register%s with an empty name", r.kind))
	}
	if _, dup := r.entries[name]; dup {
		panic(fmt.Sprintf("core: Register%s called twice for %q", r.kind, name))
	}
	r.entries[name] = registryEntry[F]{factory: f, about: about}
}

func (r *registry[F]) lookup(name string) (F, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	if !ok {
		var zero F
		return zero, fmt.Errorf("unknown %s %q (known: %v)", r.kind, name, r.namesLocked())
	}
	return e.factory, nil
}

func (r *registry[F]) list() []Registered {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Registered, 0, len(r.entries))
	for _, n := range r.namesLocked() {
		out = append(out, Registered{Name: n, About: r.entries[n].about})
	}
	return out
}

func (r *registry[F]) namesLocked() []string {
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
