package benchmarks

import (
	"testing"

	"github.com/ptbench/ptbench/core"
	_ "github.com/ptbench/ptbench/methods/bitfit"
	_ "github.com/ptbench/ptbench/methods/hyperformer"
	_ "github.com/ptbench/ptbench/methods/lora"
)

// Hook methods pack too (LoRA, BitFit, HyperFormer with frozen norms: each run's hooks see
// only its own rows of a stacked pass, with its own batch and tasks), beside an input method
// in passes of its own, on T5 and on Llama in float32 and NF4 (the recomputed backward with
// the pack's hooks): every row as when the runs train one at a time.
func TestPackedHookMethodsMatchUnpacked(t *testing.T) {
	packedMatchesAloneOn(t, []packBackbone{{"t5-tiny", core.QuantNone}, {"llama-tiny", core.QuantNone}, {"llama-tiny", core.QuantNF4}},
		[]string{"lora", "bitfit", "hyperformer", "pt"}, []int64{1, 2}, func(g *Grid) {
			// PT's 40 prompt tokens put its rows in passes of their own (lengthGroups), where
			// no hook method's hooks may be left installed.
			g.MethodConfigs["pt"] = map[string]any{"length": 40}
			g.MethodConfigs["hyperformer"] = map[string]any{"unfreeze_layer_norms": false}
		})
}
