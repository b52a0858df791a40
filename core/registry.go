// Package core holds what every part of ptbench agrees on: the Backbone, Method and Task
// interfaces, their name registries, the trainer loop and the results store.
//
// core never imports a concrete method, backbone or task. Like database/sql drivers, each
// implementation registers itself from its package's init function, and a program enables
// it with one blank import.
package core

import "github.com/ptbench/ptbench/core/registry"

// Registered describes one registry entry for listings (`ptbench methods`).
type Registered = registry.Registered

type registryOf[F any] struct{ *registry.Registry[F] }

func newRegistry[F any](kind string) registryOf[F] { return registryOf[F]{registry.New[F](kind)} }

func (r registryOf[F]) register(name, about string, f F) { r.Register(name, about, f) }
func (r registryOf[F]) lookup(name string) (F, error)      { return r.Lookup(name) }
func (r registryOf[F]) list() []Registered                 { return r.List() }
