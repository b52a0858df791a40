package benchmarks

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/ptbench/ptbench/core"
)

// BenchOptions configure `ptbench bench`: training-step timing of methods on one warm
// backbone, with synthetic token ids (the numbers do not depend on the text).
type BenchOptions struct {
	Methods       []string
	MethodConfigs map[string]map[string]any
	Seq           int   // fixed source length (every row has exactly Seq tokens)
	Batch         int   // batch size
	Steps         int   // timed steps per method and mode
	Warmup        int   // untimed steps first (allocator and thread-pool warm-up)
	TargetLen     int   // label tokens per row
	RSSAt         []int // record resident memory after these step numbers
	// Lengths, if not empty, adds a "dynamic" mode: each row's length is drawn from these
	// (a real task's tokenized source lengths) and each batch is padded to its longest row.
	Lengths     []int
	LengthsName string
	Seed        int64
	Log         io.Writer
}

// BenchResult is one method in one padding mode.
type BenchResult struct {
	Method           string         `json:"method"`
	Label            string         `json:"label"`
	Mode             string         `json:"mode"` // "fixed-256" or "dynamic-rte"
	TrainableParams  int64          `json:"trainable_params"`
	EncoderPositions float64        `json:"encoder_positions"` // mean prompt + padded source length
	MeanStepSec      float64        `json:"mean_step_seconds"`
	MedianStepSec    float64        `json:"median_step_seconds"`
	PeakRSSBytes     int64          `json:"peak_rss_bytes"`
	RSSAt            map[int]int64  `json:"rss_at_step,omitempty"`
	Extra            map[string]any `json:"extra,omitempty"`
}

// Bench times forward + backward + AdamW steps for each method on bb.
func Bench(bb core.Backbone, o BenchOptions) ([]BenchResult, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.TargetLen == 0 {
		o.TargetLen = 2
	}
	modes := []string{fmt.Sprintf("fixed-%d", o.Seq)}
	if len(o.Lengths) > 0 {
		modes = append(modes, "dynamic-"+o.LengthsName)
	}
	var out []BenchResult
	for _, name := range o.Methods {
		for mi, mode := range modes {
			r, err := benchOne(bb, name, mode, mi == 1, o)
			if err != nil {
				return out, fmt.Errorf("bench %s (%s): %w", name, mode, err)
			}
			fmt.Fprintf(o.Log, "%-6s %-12s mean %.4fs median %.4fs (%d steps) positions %.0f trainable %d peak RSS %.0f MiB\n",
				name, mode, r.MeanStepSec, r.MedianStepSec, o.Steps, r.EncoderPositions, r.TrainableParams, float64(r.PeakRSSBytes)/(1<<20))
			out = append(out, r)
		}
	}
	return out, nil
}

func benchOne(bb core.Backbone, name, mode string, dynamic bool, o BenchOptions) (BenchResult, error) {
	m, err := core.NewMethod(name, o.MethodConfigs[name])
	if err != nil {
		return BenchResult{}, err
	}
	defer m.Close()
	core.SeedAll(o.Seed)
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: o.Seed, MaxSourceLen: o.Seq, Task: "bench"}); err != nil {
		return BenchResult{}, err
	}
	if bm, ok := m.(core.BackboneMethod); ok {
		bb.SetHooks(bm.Hooks())
		defer bb.SetHooks(nil)
	}
	groups := m.ParamGroups()
	opt := core.NewAdamW(groups)
	defer opt.Close()
	res := BenchResult{Method: name, Label: core.MethodLabel(name, m), Mode: mode, TrainableParams: core.TrainableParams(m), RSSAt: map[int]int64{}}

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 1))
	vocab := bb.Info().Vocab
	row := func(n int) []int64 {
		r := make([]int64, n)
		for i := range r[:n-1] {
			r[i] = 3 + rng.Int64N(min(vocab, 5000)-3)
		}
		r[n-1] = 1 // EOS
		return r
	}
	prompt := promptLength(m)
	var times []float64
	var positions float64
	for step := 1; step <= o.Warmup+o.Steps; step++ {
		srcs := make([][]int64, o.Batch)
		tgts := make([][]int64, o.Batch)
		longest := 0
		for i := range srcs {
			n := o.Seq
			if dynamic {
				n = min(o.Lengths[rng.IntN(len(o.Lengths))], o.Seq)
			}
			srcs[i], tgts[i] = row(n), row(o.TargetLen)
			longest = max(longest, n)
		}
		t0 := time.Now()
		if _, err := core.TrainStep(bb, m, opt, srcs, tgts, 0, 1e-3, 1.0); err != nil {
			return res, err
		}
		if step > o.Warmup {
			times = append(times, time.Since(t0).Seconds())
			positions += float64(prompt + longest)
		}
		for _, at := range o.RSSAt {
			if step == at {
				res.RSSAt[at] = core.CurrentRSS()
			}
		}
	}
	res.MeanStepSec, res.MedianStepSec = core.MeanMedian(times)
	res.EncoderPositions = positions / float64(max(len(times), 1))
	res.PeakRSSBytes = core.PeakRSS()
	return res, nil
}

// promptLength reads a method's prefix length from its config when it has one.
func promptLength(m core.Method) int {
	type lengthy interface{ PromptLength() int }
	if l, ok := m.(lengthy); ok {
		return l.PromptLength()
	}
	return 0
}

// RenderBench writes bench results as a markdown table (tablewriter).
func RenderBench(w io.Writer, res []BenchResult) error {
	return table(w, []any{"Method", "Padding", "Encoder positions", "Mean step (s)", "Median step (s)", "vs first method", "Trainable params", "Peak RSS (MiB)"},
		func(add func(...any)) {
			base := map[string]float64{}
			for _, r := range res {
				if _, ok := base[r.Mode]; !ok {
					base[r.Mode] = r.MeanStepSec
				}
				rel := "–"
				if b := base[r.Mode]; b > 0 && r.Method != res[0].Method {
					rel = fmt.Sprintf("%+.1f%%", 100*(r.MeanStepSec/b-1))
				}
				add(r.Label, r.Mode, fmt.Sprintf("%.0f", r.EncoderPositions), fmt.Sprintf("%.4f", r.MeanStepSec),
					fmt.Sprintf("%.4f", r.MedianStepSec), rel, fmt.Sprint(r.TrainableParams),
					fmt.Sprintf("%.0f", float64(r.PeakRSSBytes)/(1<<20)))
			}
		})
}
