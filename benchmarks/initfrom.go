package benchmarks

import (
	"fmt"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/peft"
)

// initFrom attaches the PEFT adapter folder g.InitFrom (`ptbench run --init-from`) to m, so
// that m's Setup loads it (peft.Attach; a method that cannot load it, or an adapter of
// another peft_type, is refused here). It returns what the run key hashes as the method's
// config — the config alone without an init; with one, the config and the folder's content
// hash, so a different init is a different run and a moved folder the same — and the row's
// extra fields naming the init.
func (g *Grid) initFrom(m core.Method, method string) (keyConfig any, extra map[string]any, err error) {
	if g.InitFrom == "" {
		return keyConfigOf(m), nil, nil
	}
	a, err := peft.Read(g.InitFrom)
	if err != nil {
		return nil, nil, fmt.Errorf("--init-from: %w", err)
	}
	if err := peft.Attach(m, a); err != nil {
		return nil, nil, fmt.Errorf("method %s: %w", method, err)
	}
	if g.Log != nil {
		for _, w := range a.Warnings(g.Backbone) {
			fmt.Fprintf(g.Log, "warning: --init-from: %s\n", w)
		}
	}
	keyConfig = struct {
		Config   any    `json:"config"`
		InitFrom string `json:"init_from"`
	}{keyConfigOf(m), "sha256:" + a.SHA256}
	extra = map[string]any{"init_from": map[string]any{"path": g.InitFrom, "peft_type": a.PeftType(), "sha256": a.SHA256}}
	return keyConfig, extra, nil
}

// keyConfigOf is what a run key hashes as the method's config: the method's KeyConfig when it
// has one (a plugin: its settings and binary hash, known whether or not it started, so a failed
// start and its retry share a key), else its resolved Config.
func keyConfigOf(m core.Method) any {
	if k, ok := m.(interface{ KeyConfig() any }); ok {
		return k.KeyConfig()
	}
	return m.Config()
}
