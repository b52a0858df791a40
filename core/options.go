package core

// TrainOptions are the trainer's knobs. Zero values take the defaults in Defaults(). They
// live in core, not in the engine that reads them, because storage keys runs on them
// (storage.RunIdentity) and methods' tests build them.
type TrainOptions struct {
	Steps         int     `json:"steps"`
	BatchSize     int     `json:"batch_size"`
	EvalBatchSize int     `json:"eval_batch_size"`
	EvalEvery     int     `json:"eval_every"`
	Warmup        int     `json:"warmup"`
	MaxGradNorm   float64 `json:"max_grad_norm"` // 0 = no clipping
	// AdamEps is AdamW's ε. 0 = the method's reference value (Description.AdamEps; ForMethod
	// resolves it), and a resolved value equal to DefaultAdamEps is stored as 0, so the run
	// keys of runs at the default stay what they were before the setting existed.
	AdamEps      float64 `json:"adam_eps,omitempty"`
	Seed         int64   `json:"seed"`
	MaxSourceLen int     `json:"max_source_len"` // 0 = the task's
	MaxTargetLen int     `json:"max_target_len"`
	MaxNewTokens int     `json:"max_new_tokens"` // 0 = 19, the references' generation_max_length 20 less the start token
	PadToMax     bool    `json:"pad_to_max"`     // pad every batch to MaxSourceLen (DePT's reference code)
	// GroupByLength draws each epoch's batches from windows of similar-length examples
	// (LengthGroupedBatches): less padding, the same per-row losses.
	GroupByLength bool     `json:"group_by_length,omitempty"`
	EvalLimit     int      `json:"eval_limit"` // evaluate on at most this many dev examples (0 = all)
	TestLimit     int      `json:"test_limit"` // likewise for the final test evaluation
	Progress      Progress `json:"-"`
}

// Defaults fills zero fields with the protocol's settings, scaled for short runs.
func (o TrainOptions) Defaults(task Task) TrainOptions {
	if o.Steps == 0 {
		o.Steps = 30000
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	if o.EvalBatchSize == 0 {
		o.EvalBatchSize = 2 * o.BatchSize
	}
	if o.EvalEvery == 0 {
		o.EvalEvery = min(1000, max(1, o.Steps/4))
	}
	if o.Warmup == 0 {
		o.Warmup = min(500, o.Steps/10)
	}
	if o.MaxSourceLen == 0 {
		o.MaxSourceLen = task.MaxSourceLen()
	}
	if o.MaxTargetLen == 0 {
		o.MaxTargetLen = 32
	}
	if o.MaxNewTokens == 0 {
		// DePT's generation_max_length 20, which Hugging Face's generate counts with the
		// decoder's start token: 19 new tokens (storage.TrainingRevision 2).
		o.MaxNewTokens = 19
	}
	return o
}

// DefaultAdamEps is AdamW's ε where a method's reference code gives no other: the default of
// transformers.AdamW, which DePT's train.py builds its optimiser with (docs/fidelity.md).
const DefaultAdamEps = 1e-6

// ForMethod returns the options a run of the named method trains with: AdamEps, if not set,
// becomes the method's reference ε (its Description's), and an ε equal to DefaultAdamEps is
// stored as 0 (see AdamEps). Methods without a description (plugins) keep the options as given.
func (o TrainOptions) ForMethod(method string) TrainOptions {
	if o.AdamEps == 0 {
		if d, ok := Describe(method); ok {
			o.AdamEps = d.AdamEps
		}
	}
	if o.AdamEps == DefaultAdamEps {
		o.AdamEps = 0
	}
	return o
}

// AdamEpsilon is the ε a run with these options trains with.
func (o TrainOptions) AdamEpsilon() float64 {
	if o.AdamEps > 0 {
		return o.AdamEps
	}
	return DefaultAdamEps
}

// Progress receives training progress; engine.NewProgress prints it.
type Progress interface {
	Step(step, total int, loss float64, stepsPerSec float64)
	Log(format string, args ...any)
}
