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

func TestCheckFiniteConfig(t *testing.T) {
	type group struct {
		LR float64 `json:"lr"`
	}
	type inner struct{ Decay float32 }
	type cfg struct {
		inner
		Length int     `json:"length"`
		LR     float64 `json:"lr,omitempty"`
		Groups []group `json:"groups"`
		Hidden float64 `json:"-"`
		Ptr    *float64
	}
	inf := math.Inf(-1)
	cases := []struct {
		name string
		cfg  any
		want string // "" = fine
	}{
		{"finite struct", cfg{Length: 4, LR: 0.3, Groups: []group{{1}}, Hidden: math.NaN()}, ""},
		{"nan lr", cfg{LR: math.NaN()}, "lr = NaN: settings must be finite numbers"},
		{"inf in a slice", cfg{Groups: []group{{1}, {math.Inf(1)}}}, "groups[1].lr = +Inf"},
		{"embedded field", cfg{inner: inner{Decay: float32(math.NaN())}}, "Decay = NaN"},
		{"pointer", cfg{Ptr: &inf}, "Ptr = -Inf"},
		{"raw map", map[string]any{"a": 1, "lr": math.NaN()}, "lr = NaN"},
		{"nested map", map[string]any{"opt": map[string]any{"beta": []any{0.9, math.Inf(1)}}}, "opt.beta[1] = +Inf"},
		{"bare nan", math.NaN(), "the setting is NaN"},
		{"unencodable", map[string]any{"f": func() {}}, "cannot be recorded"},
		{"nil", nil, ""},
	}
	for _, c := range cases {
		err := CheckFiniteConfig(c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
