package benchmarks

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
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
	// GroupByLength adds a "grouped" mode: batches of an epoch of length-grouped batches over
	// Lengths (engine.LengthGroupedBatches), each padded to its longest row.
	GroupByLength bool
	Seed          int64
	Log           io.Writer
}

// BenchResult is one method in one padding mode.
type BenchResult struct {
	Backbone         string         `json:"backbone"`
	RandomInit       bool           `json:"random_init,omitempty"` // a preset: released shape, random weights
	Batch            int            `json:"batch"`
	Threads          int            `json:"threads"`
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
		if o.GroupByLength {
			modes = append(modes, "grouped-"+o.LengthsName)
		}
	}
	var out []BenchResult
	for _, name := range o.Methods {
		for mi, mode := range modes {
			r, err := safeBenchOne(bb, name, mode, mi, o)
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

// safeBenchOne is benchOne with a libtorch panic (gotch's patched Must*) as its error.
func safeBenchOne(bb core.Backbone, name, mode string, kind int, o BenchOptions) (r BenchResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return benchOne(bb, name, mode, kind, o)
}

// benchOne times one method in one mode: 0 every row Seq long, 1 rows of random task
// lengths, 2 the batches of a length-grouped epoch over the task lengths.
func benchOne(bb core.Backbone, name, mode string, kind int, o BenchOptions) (BenchResult, error) {
	m, err := core.NewMethod(name, o.MethodConfigs[name])
	if err != nil {
		return BenchResult{}, err
	}
	defer m.Close()
	core.SeedAll(o.Seed)
	engine.ResetPeakRSS()
	// The same setup path as a training run: hooks, optimiser, backbone snapshot for
	// methods that edit weights.
	// Source artefacts (SPoT, ATTEMPT, MPT) are untrained: a step costs the same.
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: o.Seed, MaxSourceLen: o.Seq, Task: "bench", Tasks: []string{"bench"},
		Artefacts: &core.UntrainedArtefacts{Backbone: bb, Seed: o.Seed}})
	if err != nil {
		return BenchResult{}, err
	}
	defer sess.Close()
	res := BenchResult{Backbone: bb.Info().Name, RandomInit: core.IsBackbonePreset(bb.Info().Name), Batch: o.Batch, Threads: engine.Threads(), Method: name, Label: core.MethodLabel(name, m), Mode: mode, TrainableParams: core.TrainableParams(m), RSSAt: map[int]int64{}}

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
	// The training loop's own Loop and callbacks: timing after the warm-up steps, RSS samples.
	longest := 0
	var grouped [][]int
	if kind == 2 {
		grouped = engine.LengthGroupedBatches(o.Lengths, o.Batch, rand.New(rand.NewPCG(uint64(o.Seed), 3)))
	}
	loop := &engine.Loop{Steps: o.Warmup + o.Steps, Step: func(step int) (float64, error) {
		var lens []int
		switch kind {
		case 0:
			for range o.Batch {
				lens = append(lens, o.Seq)
			}
		case 1:
			for range o.Batch {
				lens = append(lens, min(o.Lengths[rng.IntN(len(o.Lengths))], o.Seq))
			}
		case 2:
			for _, i := range grouped[(step-1)%len(grouped)] {
				lens = append(lens, min(o.Lengths[i], o.Seq))
			}
		}
		rows := make([]core.Encoded, len(lens))
		longest = 0
		for i, n := range lens {
			rows[i] = core.Encoded{Source: row(n), Target: row(o.TargetLen)}
			longest = max(longest, n)
		}
		b, err := bb.Collate(rows, core.CollateOptions{Train: true, Step: step, TaskNames: []string{"bench"}})
		if err != nil {
			return 0, err
		}
		defer b.Close()
		return sess.Step(b, 1e-3, 1.0)
	}, Callbacks: []engine.Callback{
		{Name: "time", OnStep: func(s engine.StepInfo) error {
			if s.Step > o.Warmup {
				times = append(times, s.Seconds)
				positions += float64(prompt + longest)
			}
			return nil
		}},
		engine.RSSCallback(o.RSSAt, res.RSSAt),
	}}
	if err := loop.Run(); err != nil {
		return res, err
	}
	res.MeanStepSec, res.MedianStepSec = engine.MeanMedian(times)
	res.EncoderPositions = positions / float64(max(len(times), 1))
	res.PeakRSSBytes = engine.PeakRSS()
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

// RenderBench writes bench results as a markdown table (tablewriter); RSS columns appear
// for every step of --rss-at.
func RenderBench(w io.Writer, res []BenchResult) error {
	var at []int
	if len(res) > 0 {
		for n := range res[0].RSSAt {
			at = append(at, n)
		}
		sort.Ints(at)
	}
	header := []any{"Method", "Backbone", "Threads", "Padding", "Encoder positions", "Mean step (s)", "Median step (s)", "vs first method (same backbone, padding)", "Trainable params", "Peak RSS (MiB)"}
	for _, n := range at {
		header = append(header, fmt.Sprintf("RSS after step %d (MiB)", n))
	}
	return table(w, header, func(add func(...any)) {
		base := map[string]float64{}
		for _, r := range res {
			key := fmt.Sprintf("%s/%d/%s", r.Backbone, r.Threads, r.Mode)
			first := false
			if _, ok := base[key]; !ok {
				base[key], first = r.MeanStepSec, true
			}
			rel := "–"
			if b := base[key]; b > 0 && !first {
				rel = fmt.Sprintf("%+.1f%%", 100*(r.MeanStepSec/b-1))
			}
			shown := r.Backbone
			if r.RandomInit {
				shown += " (random init)"
			}
			line := []any{r.Label, shown, fmt.Sprint(r.Threads), r.Mode, fmt.Sprintf("%.0f", r.EncoderPositions), fmt.Sprintf("%.4f", r.MeanStepSec),
				fmt.Sprintf("%.4f", r.MedianStepSec), rel, fmt.Sprint(r.TrainableParams),
				fmt.Sprintf("%.0f", float64(r.PeakRSSBytes)/(1<<20))}
			for _, n := range at {
				line = append(line, fmt.Sprintf("%.0f", float64(r.RSSAt[n])/(1<<20)))
			}
			add(line...)
		}
	})
}

// AppendBench adds bench results to dir/bench.jsonl (atomically), beside results.jsonl, so
// `ptbench leaderboard` can show the timing table next to the scores.
func AppendBench(dir string, res []BenchResult) error {
	path := filepath.Join(dir, "bench.jsonl")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, r := range res {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		old = append(append(old, b...), '\n')
	}
	return storage.WriteFileAtomic(path, old)
}

// ReadBench reads dir/bench.jsonl (none = no rows); a bad line is an error naming file:line.
func ReadBench(dir string) ([]BenchResult, error) {
	path := filepath.Join(dir, "bench.jsonl")
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []BenchResult
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r BenchResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
