package core

import (
	"fmt"
	"math"
)

// Validate checks the training options as given on the command line, before Defaults and
// before anything loads. Zero keeps meaning "the default" only where Defaults documents it
// (eval batch size, eval interval, warmup, source/target lengths, limits); steps and batch
// size must be given as positive numbers. Messages name the flag (or, for options with no
// flag, the field's JSON name).
func (o TrainOptions) Validate() error {
	ints := []struct {
		flag     string
		v, least int
	}{
		{"--steps", o.Steps, 1},
		{"--batch-size", o.BatchSize, 1},
		{"eval_batch_size", o.EvalBatchSize, 0},
		{"--eval-every", o.EvalEvery, 0},
		{"--warmup", o.Warmup, 0},
		{"--max-source-len", o.MaxSourceLen, 0},
		{"max_target_len", o.MaxTargetLen, 0},
		{"max_new_tokens", o.MaxNewTokens, 0},
		{"--eval-limit", o.EvalLimit, 0},
		{"--test-limit", o.TestLimit, 0},
	}
	for _, c := range ints {
		if c.v < c.least {
			return fmt.Errorf("%s must be ≥ %d, got %d", c.flag, c.least, c.v)
		}
	}
	// Sizes that set tensor shapes are bounded: a typo such as --batch-size 1e9 would otherwise
	// pass here and end as an out-of-memory kill (steps and limits only cost time).
	for _, c := range ints {
		if c.flag == "--steps" || c.flag == "--eval-every" || c.flag == "--warmup" || c.flag == "--eval-limit" || c.flag == "--test-limit" {
			continue
		}
		if c.v > MaxShapeSize {
			return fmt.Errorf("%s must be ≤ %d, got %d", c.flag, MaxShapeSize, c.v)
		}
	}
	if o.Warmup > o.Steps {
		return fmt.Errorf("--warmup must be ≤ --steps (%d), got %d", o.Steps, o.Warmup)
	}
	if math.IsNaN(o.AdamEps) || math.IsInf(o.AdamEps, 0) || o.AdamEps < 0 || o.AdamEps >= 1 {
		return fmt.Errorf("--adam-eps must be a finite number in [0, 1) (0 = each method's reference value), got %v", o.AdamEps)
	}
	if math.IsNaN(o.MaxGradNorm) || math.IsInf(o.MaxGradNorm, 0) || o.MaxGradNorm < 0 {
		return fmt.Errorf("--max-grad-norm must be a finite number ≥ 0 (0 = off), got %v", o.MaxGradNorm)
	}
	return nil
}

// MaxShapeSize bounds the training options that become tensor dimensions (batch sizes,
// sequence lengths): 65,536 is 16 times the longest context of the backbones here.
const MaxShapeSize = 1 << 16

// ValidateKShot checks --k-shot as a number (whether the data has that many examples per
// class is the task's check when it loads).
func ValidateKShot(k int) error {
	if k < 0 {
		return fmt.Errorf("--k-shot must be ≥ 0 (0 = the full training set), got %d", k)
	}
	return nil
}
