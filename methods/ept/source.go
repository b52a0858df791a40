package ept

import (
	"encoding/json"
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// defaultSourceSeed is the source run's seed when source_seed is 0 (SPoT's: fixed across
// target seeds, so every target seed transfers from the same source state).
const defaultSourceSeed = 42

// NeededArtefacts is, with sources set, the multi-task EPT run on them whose tensors start
// this run: the same EPT settings (so every tensor has this run's shape), without sources.
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	if len(m.cfg.Sources) == 0 {
		return nil
	}
	return []core.ArtefactSpec{m.sourceSpec()}
}

func (m *Method) sourceSpec() core.ArtefactSpec {
	src := m.cfg
	src.Sources, src.SourceSeed, src.SourceSteps = nil, 0, 0
	var raw map[string]any
	b, _ := json.Marshal(src) // a struct of numbers, strings and bools: always encodes
	_ = json.Unmarshal(b, &raw)
	seed := m.cfg.SourceSeed
	if seed == 0 {
		seed = defaultSourceSeed
	}
	return core.ArtefactSpec{Method: "ept", Config: raw, Tasks: append([]string(nil), m.cfg.Sources...), Seed: seed, Steps: m.cfg.SourceSteps}
}

// initFromSource copies every trainable tensor (P_s, A, B, W_down, W_up, W_g, b_g) from the
// source run's artefact, checking names and shapes. Without sources it does nothing.
func (m *Method) initFromSource(env core.SetupEnv) error {
	if len(m.cfg.Sources) == 0 {
		return nil
	}
	if env.Artefacts == nil {
		return fmt.Errorf("ept with sources %v needs the source EPT run, but this run offers no artefact store (run it through `ptbench run`)", m.cfg.Sources)
	}
	art, err := env.Artefacts.Artefact(m.sourceSpec())
	if err != nil {
		return fmt.Errorf("ept source run on %v: %w", m.cfg.Sources, err)
	}
	defer art.Close()
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			src, err := art.Tensor(p.Name)
			if err != nil {
				return err
			}
			want, got := p.Tensor.MustSize(), src.Tensor.MustSize()
			if fmt.Sprint(want) != fmt.Sprint(got) {
				return fmt.Errorf("artefact %s: tensor %s has shape %v, this run's is %v", art.Name, p.Name, got, want)
			}
			var cerr error
			ts.NoGrad(func() { cerr = copyInto(p.Tensor, src.Tensor) })
			if cerr != nil {
				return fmt.Errorf("artefact %s: tensor %s: %w", art.Name, p.Name, cerr)
			}
		}
	}
	return nil
}

// copyInto copies src's values into dst in place (a libtorch error is returned, not raised).
func copyInto(dst, src *ts.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	dst.Copy_(src)
	return nil
}
