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
		{"adam eps nan", func(o *TrainOptions) { o.AdamEps = math.NaN() }, "--adam-eps must be a finite number in [0, 1) (0 = each method's reference value), got NaN"},
		{"adam eps -1e-8", func(o *TrainOptions) { o.AdamEps = -1e-8 }, "--adam-eps must be a finite number in [0, 1) (0 = each method's reference value), got -1e-08"},
		{"adam eps 1", func(o *TrainOptions) { o.AdamEps = 1 }, "--adam-eps must be a finite number in [0, 1) (0 = each method's reference value), got 1"},
		{"adam eps 1e-8", func(o *TrainOptions) { o.AdamEps = 1e-8 }, ""},
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

// ForMethod gives a run its method's reference ε unless the options set one, and stores the
// protocol's default as 0 so that keys of runs at the default do not change.
func TestTrainOptionsForMethodResolvesAdamEps(t *testing.T) {
	RegisterDescribed(Description{Name: "test-eps-reference", AdamEps: 1e-8}, func(map[string]any) (Method, error) { return nil, nil })
	RegisterDescribed(Description{Name: "test-eps-default"}, func(map[string]any) (Method, error) { return nil, nil })
	cases := []struct {
		method      string
		given       float64 // --adam-eps
		stored, use float64
	}{
		{"test-eps-reference", 0, 1e-8, 1e-8},         // the reference's ε
		{"test-eps-default", 0, 0, DefaultAdamEps},    // no reference value: the protocol's
		{"test-eps-reference", 1e-6, 0, 1e-6},         // overridden to the default: stored as 0
		{"test-eps-default", 1e-7, 1e-7, 1e-7},        // overridden
		{"plugin:./x", 0, 0, DefaultAdamEps},          // no description
		{"test-eps-default", DefaultAdamEps, 0, 1e-6}, // the default, given explicitly
	}
	for _, c := range cases {
		o := TrainOptions{Steps: 10, AdamEps: c.given}.ForMethod(c.method)
		if o.AdamEps != c.stored || o.AdamEpsilon() != c.use {
			t.Errorf("%s with --adam-eps %g: stored %g, used %g; want %g, %g", c.method, c.given, o.AdamEps, o.AdamEpsilon(), c.stored, c.use)
		}
		if o.Steps != 10 {
			t.Errorf("%s: ForMethod changed another option", c.method)
		}
	}
}
