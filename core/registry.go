package core

import "github.com/ptbench/ptbench/core/registry"

// Registered describes one registry entry for listings (`ptbench methods`).
type Registered = registry.Registered

type registryOf[F any] struct{ *registry.Registry[F] }

func newRegistry[F any](kind string) registryOf[F] { return registryOf[F]{registry.New[F](kind)} }

func (r registryOf[F]) register(name, about string, f F) { r.Register(name, about, f) }
func (r registryOf[F]) lookup(name string) (F, error)    { return r.Lookup(name) }
func (r registryOf[F]) list() []Registered               { return r.List() }
