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
	Seed          int64   `json:"seed"`
	MaxSourceLen  int     `json:"max_source_len"` // 0 = the task's
	MaxTargetLen  int     `json:"max_target_len"`
	MaxNewTokens  int     `json:"max_new_tokens"`
	PadToMax      bool    `json:"pad_to_max"` // pad every batch to MaxSourceLen (DePT's reference code)
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
		o.MaxNewTokens = 20
	}
	return o
}

// Progress receives training progress; engine.NewProgress prints it.
type Progress interface {
	Step(step, total int, loss float64, stepsPerSec float64)
	Log(format string, args ...any)
}
