package core

import (
	"math"
	"strings"
	"testing"
)

func TestTrainOptionsValidate(t *testing.T) {
	good := TrainOptions{Steps: 100, BatchSize: 8, MaxGradNorm: 1}
	cases := []struct {
		name string
		edit func(*TrainOptions)
		want string // "" = valid
	}{
		{"good", func(*TrainOptions) {}, ""},
		{"defaults elsewhere are zero", func(o *TrainOptions) { *o = TrainOptions{Steps: 1, BatchSize: 1} }, ""},
		{"steps -5", func(o *TrainOptions) { o.Steps = -5 }, "--steps must be ≥ 1, got -5"},
		{"steps 0", func(o *TrainOptions) { o.Steps = 0 }, "--steps must be ≥ 1, got 0"},
		{"batch -3", func(o *TrainOptions) { o.BatchSize = -3 }, "--batch-size must be ≥ 1, got -3"},
		{"batch 0", func(o *TrainOptions) { o.BatchSize = 0 }, "--batch-size must be ≥ 1, got 0"},
		{"eval batch -1", func(o *TrainOptions) { o.EvalBatchSize = -1 }, "eval_batch_size must be ≥ 0, got -1"},
		{"eval every -1", func(o *TrainOptions) { o.EvalEvery = -1 }, "--eval-every must be ≥ 0, got -1"},
		{"warmup -2", func(o *TrainOptions) { o.Warmup = -2 }, "--warmup must be ≥ 0, got -2"},
		{"warmup > steps", func(o *TrainOptions) { o.Warmup = 101 }, "--warmup must be ≤ --steps (100), got 101"},
		{"warmup = steps", func(o *TrainOptions) { o.Warmup = 100 }, ""},
		{"max grad norm nan", func(o *TrainOptions) { o.MaxGradNorm = math.NaN() }, "--max-grad-norm must be a finite number ≥ 0 (0 = off), got NaN"},
		{"max grad norm inf", func(o *TrainOptions) { o.MaxGradNorm = math.Inf(1) }, "--max-grad-norm must be a finite number ≥ 0 (0 = off), got +Inf"},
		{"max grad norm -1", func(o *TrainOptions) { o.MaxGradNorm = -1 }, "--max-grad-norm must be a finite number ≥ 0 (0 = off), got -1"},
		{"max grad norm off", func(o *TrainOptions) { o.MaxGradNorm = 0 }, ""},
		{"max source len -1", func(o *TrainOptions) { o.MaxSourceLen = -1 }, "--max-source-len must be ≥ 0, got -1"},
		{"eval limit -1", func(o *TrainOptions) { o.EvalLimit = -1 }, "--eval-limit must be ≥ 0, got -1"},
		{"test limit -7", func(o *TrainOptions) { o.TestLimit = -7 }, "--test-limit must be ≥ 0, got -7"},
		{"max new tokens -1", func(o *TrainOptions) { o.MaxNewTokens = -1 }, "max_new_tokens must be ≥ 0, got -1"},
	}
	for _, c := range cases {
		o := good
		c.edit(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if err := ValidateKShot(-4); err == nil || !strings.Contains(err.Error(), "--k-shot must be ≥ 0") {
		t.Errorf("k-shot -4: %v", err)
	}
	if err := ValidateKShot(16); err != nil {
		t.Errorf("k-shot 16: %v", err)
	}
}
