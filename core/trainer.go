package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/sugarme/gotch/ts"
)

// TrainOptions are the trainer's knobs. Zero values take the defaults in Defaults().
type TrainOptions struct {
	Steps         int      `json:"steps"`
	BatchSize     int      `json:"batch_size"`
	EvalBatchSize int      `json:"eval_batch_size"`
	EvalEvery     int      `json:"eval_every"`
	Warmup        int      `json:"warmup"`
	MaxGradNorm   float64  `json:"max_grad_norm"` // 0 = no clipping
	Seed          int64    `json:"seed"`
	MaxSourceLen  int      `json:"max_source_len"` // 0 = the task's
	MaxTargetLen  int      `json:"max_target_len"`
	MaxNewTokens  int      `json:"max_new_tokens"`
	PadToMax      bool     `json:"pad_to_max"` // pad every batch to MaxSourceLen (DePT's reference code)
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

// TrainResult is what one run produced.
type TrainResult struct {
	Status            string    `json:"status"` // "ok" or "diverged"
	Error             string    `json:"error,omitempty"`
	Steps             int       `json:"steps"`
	BestStep          int       `json:"best_step"`
	Dev               Scores    `json:"dev"`
	Test              Scores    `json:"test"`
	TrainableParams   int64     `json:"trainable_params"`
	MeanStepSeconds   float64   `json:"mean_step_seconds"`
	MedianStepSeconds float64   `json:"median_step_seconds"`
	PeakRSSBytes      int64     `json:"peak_rss_bytes"`
	Losses            []float64 `json:"-"` // every step's training loss
	// Best holds copies of the trainable tensors at the best dev evaluation (caller drops).
	Best []NamedTensor `json:"-"`
}

// Progress receives training progress; see NewProgress.
type Progress interface {
	Step(step, total int, loss float64, stepsPerSec float64)
	Log(format string, args ...any)
}

// Trainer fits a method on a task over a frozen backbone.
type Trainer struct {
	Backbone Backbone
	Method   Method
	Task     Task
	Data     *Dataset
	Opts     TrainOptions
}

type encoded struct{ src, tgt []int64 }

// Run sets the method up, trains, keeps the best dev checkpoint of the method's parameters
// and reports its test score. A NaN/Inf loss ends the run with Status "diverged" (not an error).
func (tr *Trainer) Run() (*TrainResult, error) {
	o := tr.Opts.Defaults(tr.Task)
	if len(tr.Data.Train) == 0 {
		return nil, fmt.Errorf("task %s: no training examples", tr.Task.Name())
	}
	SeedAll(o.Seed)
	ResetPeakRSS()
	if err := tr.Method.Setup(SetupEnv{Backbone: tr.Backbone, Seed: o.Seed, MaxSourceLen: o.MaxSourceLen, Task: tr.Task.Name()}); err != nil {
		return nil, err
	}
	if bm, ok := tr.Method.(BackboneMethod); ok {
		tr.Backbone.SetHooks(bm.Hooks())
		defer tr.Backbone.SetHooks(nil)
	}
	groups := tr.Method.ParamGroups()
	res := &TrainResult{Status: "ok", TrainableParams: TrainableParams(tr.Method)}
	opt := NewAdamW(groups)
	defer opt.Close()

	train := make([]encoded, len(tr.Data.Train))
	for i, ex := range tr.Data.Train {
		train[i] = encoded{tr.Backbone.EncodeSource(ex.Source, o.MaxSourceLen), tr.Backbone.EncodeTarget(ex.Target, o.MaxTargetLen)}
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x7074_6265_6e63_68)) // "ptbench"
	order := rng.Perm(len(train))
	cursor := 0
	nextBatch := func() []encoded {
		b := make([]encoded, 0, o.BatchSize)
		for len(b) < o.BatchSize {
			if cursor == len(order) {
				order, cursor = rng.Perm(len(train)), 0
			}
			b = append(b, train[order[cursor]])
			cursor++
		}
		return b
	}

	best := math.Inf(-1)
	var stepTimes []float64
	start := time.Now()
	for step := 1; step <= o.Steps; step++ {
		t0 := time.Now()
		loss, err := tr.trainStep(nextBatch(), o, opt, LinearSchedule(step, o.Warmup, o.Steps))
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		stepTimes = append(stepTimes, time.Since(t0).Seconds())
		res.Losses = append(res.Losses, loss)
		res.Steps = step
		if o.Progress != nil {
			o.Progress.Step(step, o.Steps, loss, float64(step)/time.Since(start).Seconds())
		}
		if ferr := checkFinite("training loss", loss); ferr != nil {
			res.Status, res.Error = "diverged", fmt.Sprintf("step %d: %v", step, ferr)
			break
		}
		if step%o.EvalEvery == 0 || step == o.Steps {
			dev, err := tr.Evaluate(limit(tr.Data.Dev, o.EvalLimit), o)
			if err != nil {
				return nil, err
			}
			score, err := PrimaryScore(tr.Task, dev)
			if err != nil {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress.Log("step %d: dev %s = %.2f (loss %.4f)", step, tr.Task.Metrics()[0], score, loss)
			}
			if score > best || res.Best == nil {
				best, res.BestStep, res.Dev = score, step, dev
				dropNamed(res.Best)
				res.Best = snapshot(groups)
			}
		}
	}
	res.MeanStepSeconds, res.MedianStepSeconds = MeanMedian(stepTimes)
	if res.Status == "ok" && res.Best != nil {
		restore(groups, res.Best)
		test, err := tr.Evaluate(limit(tr.Data.Test, o.TestLimit), o)
		if err != nil {
			return nil, err
		}
		res.Test = test
	}
	if res.Best == nil {
		res.Best = snapshot(groups)
	}
	res.PeakRSSBytes = PeakRSS()
	return res, nil
}

// trainStep runs one optimisation step on a batch of encoded examples.
func (tr *Trainer) trainStep(batch []encoded, o TrainOptions, opt *AdamW, lrFactor float64) (float64, error) {
	srcs := make([][]int64, len(batch))
	tgts := make([][]int64, len(batch))
	for i, e := range batch {
		srcs[i], tgts[i] = e.src, e.tgt
	}
	padTo := 0
	if o.PadToMax {
		padTo = o.MaxSourceLen
	}
	return TrainStep(tr.Backbone, tr.Method, opt, srcs, tgts, padTo, lrFactor, o.MaxGradNorm)
}

// TrainStep pads and embeds a batch (sources to their longest row, or padTo), lets an input
// method transform it, computes the loss, back-propagates, clips and applies one AdamW
// update. It returns the loss; a non-finite loss is returned without an update.
func TrainStep(bb Backbone, m Method, opt *AdamW, srcs, tgts [][]int64, padTo int, lrFactor, maxGradNorm float64) (float64, error) {
	ids, mask := PadBatch(srcs, padTo)
	in := Input{Embeds: bb.Embed(ids), Mask: mask}
	ids.MustDrop()
	labels := PadLabels(tgts)
	defer labels.MustDrop()
	loss, err := forwardLoss(bb, m, in, labels)
	in.Drop()
	if err != nil {
		return 0, err
	}
	v := loss.Float64Values()[0]
	if checkFinite("loss", v) != nil {
		loss.MustDrop()
		return v, nil
	}
	opt.ZeroGrad()
	loss.MustBackward()
	loss.MustDrop()
	if maxGradNorm > 0 {
		opt.ClipGradNorm(maxGradNorm)
	}
	opt.Step(lrFactor)
	if eo, ok := m.(ExternalOptimizer); ok {
		if err := eo.AfterBackward(lrFactor, maxGradNorm); err != nil {
			return v, err
		}
	}
	return v, nil
}

// forwardLoss lets an input method transform the embedded batch and computes the loss.
func forwardLoss(bb Backbone, m Method, in Input, labels *ts.Tensor) (*ts.Tensor, error) {
	if im, ok := m.(InputMethod); ok {
		x, err := im.Transform(in, true)
		if err != nil {
			return nil, err
		}
		defer x.Drop()
		return bb.Loss(x, labels)
	}
	return bb.Loss(in, labels)
}

// makeBatch pads and embeds sources for evaluation.
func (tr *Trainer) makeBatch(batch []encoded, o TrainOptions) Input {
	srcs := make([][]int64, len(batch))
	for i, e := range batch {
		srcs[i] = e.src
	}
	padTo := 0
	if o.PadToMax {
		padTo = o.MaxSourceLen
	}
	ids, mask := PadBatch(srcs, padTo)
	in := Input{Embeds: tr.Backbone.Embed(ids), Mask: mask}
	ids.MustDrop()
	return in
}

// PadBatch right-pads id rows with 0 to the longest row (or to padTo when larger) and
// returns ids [B, L] int64 and the float mask [B, L].
func PadBatch(rows [][]int64, padTo int) (ids, mask *ts.Tensor) {
	L := padTo
	for _, r := range rows {
		L = max(L, len(r))
	}
	flat := make([]int64, 0, len(rows)*L)
	m := make([]float32, 0, len(rows)*L)
	for _, r := range rows {
		for j := 0; j < L; j++ {
			if j < len(r) {
				flat = append(flat, r[j])
				m = append(m, 1)
			} else {
				flat = append(flat, 0)
				m = append(m, 0)
			}
		}
	}
	shape := []int64{int64(len(rows)), int64(L)}
	return ts.MustOfSlice(flat).MustView(shape, true), ts.MustOfSlice(m).MustView(shape, true)
}

// PadLabels right-pads target rows with -100 (ignored by the loss) to the longest row.
func PadLabels(rows [][]int64) *ts.Tensor {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	flat := make([]int64, 0, len(rows)*T)
	for _, r := range rows {
		for j := 0; j < T; j++ {
			if j < len(r) {
				flat = append(flat, r[j])
			} else {
				flat = append(flat, -100)
			}
		}
	}
	return ts.MustOfSlice(flat).MustView([]int64{int64(len(rows)), int64(T)}, true)
}

// Predict decodes greedily for each example (no gradients) and returns the texts.
func (tr *Trainer) Predict(examples []Example, o TrainOptions) ([]string, error) {
	o = o.Defaults(tr.Task)
	// Sort by length so each batch pads little; restore order at the end.
	idx := make([]int, len(examples))
	enc := make([]encoded, len(examples))
	for i, ex := range examples {
		idx[i] = i
		enc[i] = encoded{src: tr.Backbone.EncodeSource(ex.Source, o.MaxSourceLen)}
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(enc[idx[a]].src) < len(enc[idx[b]].src) })
	out := make([]string, len(examples))
	var err error
	ts.NoGrad(func() {
		for s := 0; s < len(idx); s += o.EvalBatchSize {
			e := min(s+o.EvalBatchSize, len(idx))
			batch := make([]encoded, 0, e-s)
			for _, i := range idx[s:e] {
				batch = append(batch, enc[i])
			}
			in := tr.makeBatch(batch, o)
			x := in
			if im, ok := tr.Method.(InputMethod); ok {
				x, err = im.Transform(in, false)
				in.Drop()
				if err != nil {
					return
				}
			}
			var ids [][]int64
			ids, err = tr.Backbone.Generate(x, GenerateOptions{MaxNewTokens: o.MaxNewTokens, StopAtEOS: true})
			x.Drop()
			if err != nil {
				return
			}
			for k, i := range idx[s:e] {
				out[i] = tr.Backbone.DecodeTarget(ids[k])
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Evaluate predicts and scores examples with the task's metrics.
func (tr *Trainer) Evaluate(examples []Example, o TrainOptions) (Scores, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("task %s: evaluation split is empty", tr.Task.Name())
	}
	preds, err := tr.Predict(examples, o)
	if err != nil {
		return nil, err
	}
	return tr.Task.Score(preds, examples)
}

func limit(xs []Example, n int) []Example {
	if n > 0 && len(xs) > n {
		return xs[:n]
	}
	return xs
}

// snapshot copies every trainable tensor (detached).
func snapshot(groups []ParamGroup) []NamedTensor {
	var out []NamedTensor
	for _, g := range groups {
		for _, p := range g.Params {
			out = append(out, NamedTensor{Name: p.Name, Tensor: p.Tensor.MustDetachCopy(false)})
		}
	}
	return out
}

// restore copies a snapshot back into the live tensors (matched by name).
func restore(groups []ParamGroup, snap []NamedTensor) {
	byName := map[string]*ts.Tensor{}
	for _, s := range snap {
		byName[s.Name] = s.Tensor
	}
	ts.NoGrad(func() {
		for _, g := range groups {
			for _, p := range g.Params {
				if s, ok := byName[p.Name]; ok {
					p.Tensor.Copy_(s)
				}
			}
		}
	})
}

func dropNamed(ts []NamedTensor) {
	for _, t := range ts {
		t.Tensor.MustDrop()
	}
}

// DropNamed frees every tensor of a list.
func DropNamed(ts []NamedTensor) { dropNamed(ts) }

// MeanMedian returns the mean and the median of xs (0, 0 when empty).
func MeanMedian(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mid := s[len(s)/2]
	if len(s)%2 == 0 {
		mid = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return sum / float64(len(s)), mid
}

// SeedAll seeds libtorch's generator; Go-side randomness takes explicit seeded sources.
func SeedAll(seed int64) { ts.ManualSeed(seed) }
