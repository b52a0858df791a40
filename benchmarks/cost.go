package benchmarks

import (
	"path"
	"strings"

	"github.com/ptbench/ptbench/core"
)

// ptStepSeconds is PT's training step (batch 16, sources up to 256 tokens, prompt 100) on the
// 2-core reference machine (OpenBLAS, OPENBLAS_CORETYPE=Haswell, libtorch 1.13 on CPU), by
// backbone shape and compute dtype. "measured" rows come from `ptbench bench`; the others
// are extrapolated from them by parameter count (T5) or token count (Llama), and say so.
var ptStepSeconds = []struct {
	shape, dtype string
	sec          float64
	source       string
}{
	{"t5-tiny", "", 0.20, "measured"}, // reproduce glue --backbone t5-tiny --steps-scale 0.01: PT on RTE/MRPC, 1 thread
	{"t5-small", "", 3.07, "measured"},
	{"t5-small", "bfloat16", 1.79, "measured"}, // bench --seq 256 --dtype bfloat16: 1.77–1.81 s
	{"t5-base", "", 13.0, "measured"},
	{"t5-base", "bfloat16", 7.6, "extrapolated"}, // bf16 rows: fp32 × t5-small's bf16/fp32 ratio (0.58)
	{"t5-large", "", 43.0, "extrapolated"},       // 737.7M parameters
	{"t5-large", "bfloat16", 25.1, "extrapolated"},
	{"t5-3b", "", 166, "extrapolated"},
	{"t5-3b", "bfloat16", 97, "extrapolated"},
	{"t5-11b", "", 660, "extrapolated"},
	{"t5-11b", "bfloat16", 385, "extrapolated"},
	{"llama-tiny", "", 0.02, "extrapolated"},
	// measured: 45 s at batch 1, 64 source tokens (NF4, bf16); × tokens for batch 16 × 356.
	{"llama-2-7b", "bfloat16", 1560, "extrapolated"},
	{"llama2-7b", "bfloat16", 1560, "extrapolated"},
}

// MethodStepFactor is the method's estimated step time relative to PT: its description's
// StepCost (the number shards are balanced with; 1 for a method without one, e.g. a plugin).
// The estimates come from what a step computes — no prompt on the input (LoRA, adapters,
// BitFit ≈ 0.8), ATTEMPT's attention over source prompts (1.05), full fine-tuning's weight
// gradients and optimiser state (1.4) — or are measured (DePT, EPT); see each method's
// registration. Only ratios matter.
func MethodStepFactor(method string) float64 { return core.MethodStepCost(method) }

// StepSeconds estimates one training step of method on backbone (a preset, HF id or folder,
// matched by its last path element) at the batch size, and says where the number comes from.
// An unknown backbone is costed as t5-base.
func StepSeconds(backbone, method string, batch int, dtype string) (float64, string) {
	shape := strings.ToLower(path.Base(strings.TrimRight(backbone, "/")))
	base, src, best := 13.0, "assumed t5-base", ""
	for _, r := range ptStepSeconds { // the longest shape name the backbone contains
		if strings.Contains(shape, r.shape) && len(r.shape) > len(best) {
			best = r.shape
		}
	}
	found := false
	for _, r := range ptStepSeconds { // its row for this dtype, else its fp32 row, else any
		if r.shape != best {
			continue
		}
		if r.dtype == dtype || !found {
			base, src, found = r.sec, r.source, true
		}
		if r.dtype == dtype {
			break
		}
	}
	if batch <= 0 {
		batch = 16
	}
	return base * MethodStepFactor(method) * float64(batch) / 16, src
}
