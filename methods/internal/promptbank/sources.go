package promptbank

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// SourceSpec is the artefact of a PT prompt trained on one source task — one spec shared by
// SPoT, ATTEMPT and MPT's teachers, so each reuses the others' source prompts.
func SourceSpec(task string, length int, seed int64, steps int) core.ArtefactSpec {
	return core.ArtefactSpec{Method: "pt", Config: map[string]any{"length": length}, Tasks: []string{task}, Seed: seed, Steps: steps}
}

// SourceSpecs are one SourceSpec per task, in order.
func SourceSpecs(tasks []string, length int, seed int64, steps int) []core.ArtefactSpec {
	out := make([]core.ArtefactSpec, len(tasks))
	for i, t := range tasks {
		out[i] = SourceSpec(t, length, seed, steps)
	}
	return out
}

// LoadSource fetches (training it first if the store does that) a source PT prompt and
// returns a detached copy [l, d] on the backbone's device that does not require grad (caller
// owns it).
func LoadSource(env core.SetupEnv, spec core.ArtefactSpec) (*ts.Tensor, error) {
	if env.Artefacts == nil {
		return nil, fmt.Errorf("needs the PT prompt trained on %v, but this run offers no artefact store (run it through `ptbench run` or train it with `ptbench sources train`)", spec.Tasks)
	}
	art, err := env.Artefacts.Artefact(spec)
	if err != nil {
		return nil, fmt.Errorf("source prompt on %v: %w (train it with `ptbench sources train --sources %s`)", spec.Tasks, err, spec.Tasks[0])
	}
	defer art.Close()
	p, err := art.Tensor("prompt")
	if err != nil {
		return nil, err
	}
	if sz := p.Tensor.MustSize(); len(sz) != 2 || sz[1] != env.Backbone.Info().DModel {
		return nil, fmt.Errorf("artefact %s: prompt has shape %v, want [l, %d]", art.Name, sz, env.Backbone.Info().DModel)
	}
	return env.Backbone.Device().Move(core.DetachedCopy(p.Tensor)) // artefacts are read to the CPU
}

// LoadSourceStack fetches every spec's prompt and stacks them: [n, l, d] (caller owns it).
// The error lists every source that could not be had, not just the first.
func LoadSourceStack(env core.SetupEnv, specs []core.ArtefactSpec) (*ts.Tensor, error) {
	var rows []*ts.Tensor
	defer func() {
		for _, r := range rows {
			r.MustDrop()
		}
	}()
	var missing []string
	for _, spec := range specs {
		p, err := LoadSource(env, spec)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v", spec.Tasks[0], err))
			continue
		}
		rows = append(rows, p)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing source prompts:\n  %s", strings.Join(missing, "\n  "))
	}
	return ts.Stack(rows, 0)
}
