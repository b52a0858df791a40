package promptbank

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Prompt is one trainable soft prompt P ∈ R^{l×d} prepended to every example, H0 = [P ; E]:
// the whole of PT and of SPoT, which differ only in where P starts (vocabulary or text rows;
// a source task's PT prompt). Both embed it for their ParamGroups, Transform and Close, so
// the two train, checkpoint ("prompt") and free the same way.
type Prompt struct {
	P           *ts.Tensor // [l, d], owned; nil before Setup and after Close
	LR          float64
	WeightDecay float64 // AdamW's decoupled decay of P (PT's reference decays it)
}

// ParamGroups is the one group "prompt" holding P.
func (p *Prompt) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "prompt", LR: p.LR, WeightDecay: p.WeightDecay, Params: []core.NamedTensor{{Name: "prompt", Tensor: p.P}}}}
}

// Transform prepends P to every example.
func (p *Prompt) Transform(in core.Input, train bool) (core.Input, error) {
	return core.PrependPrompt(in, p.P)
}

// Close frees P.
func (p *Prompt) Close() { params.Drop(&p.P) }

// CheckVocabLimit is the rule between the init and vocab_limit settings of every prompt
// method that samples vocabulary rows (PT, DePT, EPT): "vocab" needs ids to draw from.
func CheckVocabLimit(how string, limit int) error {
	if how == "vocab" && limit <= 0 {
		return fmt.Errorf("vocab_limit must be > 0, got %d", limit)
	}
	return nil
}
