package core

import (
	"fmt"
	"sort"

	"github.com/sugarme/gotch/ts"
)

// TrainOptions are the trainer's knobs. Zero values take the defaults in Defaults().
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

// TrainResult is what one run produced.
type TrainResult struct {
	Status            string    `json:"status"` // "ok" or "diverged"
	Error             string    `json:"error,omitempty"`
	Steps             int       `json:"steps"`
	BestStep          int       `json:"best_step"`
	Dev               Scores    `json:"dev"`  // single-task runs: the task's scores
	Test              Scores    `json:"test"` // (multi-task: see PerTask)
	TrainableParams   int64     `json:"trainable_params"`
	MeanStepSeconds   float64   `json:"mean_step_seconds"`
	MedianStepSeconds float64   `json:"median_step_seconds"`
	PeakRSSBytes      int64     `json:"peak_rss_bytes"`
	EvalSeconds       float64   `json:"eval_seconds"` // dev evaluations during training and the final test
	Losses            []float64 `json:"-"`            // every step's training loss
	// PerTask holds every task's dev and test scores at the best checkpoint.
	PerTask map[string]TaskScores `json:"per_task,omitempty"`
	// DevCurve holds every dev evaluation, in step order (the rows' Curves.Dev).
	DevCurve []DevPoint `json:"-"`
	// Best holds copies of the trainable tensors at the best dev evaluation (caller drops).
	Best []NamedTensor `json:"-"`
}

// DevPoint is one dev evaluation during training: the mean primary score over the run's
// tasks (the one the best checkpoint is chosen by) and each task's primary score.
type DevPoint struct {
	Step    int
	Mean    float64
	PerTask map[string]float64
}

// TaskScores are one task's dev and test scores.
type TaskScores struct {
	Dev  Scores `json:"dev"`
	Test Scores `json:"test"`
	// DevPredictions and TestPredictions are the generations behind Dev (at the best
	// checkpoint's evaluation) and Test; Invalid counts the ill-formed ones.
	DevPredictions  []Prediction  `json:"-"`
	TestPredictions []Prediction  `json:"-"`
	Invalid         InvalidCounts `json:"invalid"`
}

// Progress receives training progress; see NewProgress.
type Progress interface {
	Step(step, total int, loss float64, stepsPerSec float64)
	Log(format string, args ...any)
}

// TaskData is one task of a run with its loaded splits.
type TaskData struct {
	Task Task
	Data *Dataset
}

// Trainer fits a method over a frozen backbone on one task (Task, Data) or several at once
// (Tasks: rows of every batch are drawn from the tasks by a TaskSampler).
type Trainer struct {
	Backbone Backbone
	Method   Method
	Task     Task
	Data     *Dataset
	Tasks    []TaskData // multi-task runs; when set, Task and Data are ignored
	Opts     TrainOptions
	// Temperature of the multi-task sampler (p_i ∝ n_i^{1/T}; 1 = proportional, large =
	// uniform); 0 means 1.
	Temperature float64
	Artefacts   ArtefactStore
	// Callbacks run after the built-in ones at every step (logging, custom stopping).
	Callbacks []Callback

	// packed holds predictions a pack decoded for this run's next evaluation (packeval.go).
	packed map[predKey][]string
}

// tasks returns the run's tasks (one for single-task runs).
func (tr *Trainer) tasks() []TaskData {
	if len(tr.Tasks) > 0 {
		return tr.Tasks
	}
	return []TaskData{{tr.Task, tr.Data}}
}

// Session is a method set up on a backbone and ready to take training steps: hooks
// installed, optimiser made, and — for methods that edit the backbone's weights — a
// snapshot of those weights to restore on Close. The trainer, benchmarks and tests all
// start runs through it.
type Session struct {
	Backbone Backbone
	Method   Method
	Opt      *AdamW
	saved    []NamedTensor // backbone weights before a WeightEditor's run
	hooked   bool
}

// StartSession snapshots the backbone if the method edits it, sets the method up, installs
// its hooks and makes its optimiser. Close undoes all of it.
func StartSession(bb Backbone, m Method, env SetupEnv) (*Session, error) {
	s := &Session{Backbone: bb, Method: m}
	if we, ok := m.(WeightEditor); ok && we.EditsWeights() {
		s.saved = SnapshotWeights(bb)
	}
	if err := m.Setup(env); err != nil {
		s.Close()
		return nil, err
	}
	if bm, ok := m.(BackboneMethod); ok {
		bb.SetHooks(bm.Hooks())
		s.hooked = true
	}
	s.Opt = NewAdamW(m.ParamGroups())
	return s, nil
}

// Step trains on one batch: embed, transform, loss, backward, clip, AdamW. It returns the
// loss; a non-finite loss is returned without an update.
func (s *Session) Step(b *Batch, lrFactor, maxGradNorm float64) (float64, error) {
	return TrainBatch(s.Backbone, s.Method, s.Opt, b, lrFactor, maxGradNorm)
}

// Close removes the hooks, frees the optimiser state and restores edited backbone weights.
func (s *Session) Close() {
	if s.hooked {
		s.Backbone.SetHooks(nil)
		s.hooked = false
	}
	if s.Opt != nil {
		s.Opt.Close()
		s.Opt = nil
	}
	if s.saved != nil {
		RestoreWeights(s.Backbone, s.saved)
		dropNamed(s.saved)
		s.saved = nil
	}
}

// SnapshotWeights copies every backbone weight (detached).
func SnapshotWeights(bb Backbone) []NamedTensor {
	var out []NamedTensor
	for _, w := range bb.Weights() {
		out = append(out, NamedTensor{Name: w.Name, Tensor: DetachedCopy(w.Tensor)})
	}
	return out
}

// UnfrozenWeight names a backbone weight that requires gradients ("" when all are frozen):
// after a run, a sign that a method edited the backbone without restoring it.
func UnfrozenWeight(bb Backbone) string {
	for _, w := range bb.Weights() {
		if w.Tensor.MustRequiresGrad() {
			return w.Name
		}
	}
	return ""
}

// RestoreWeights copies a snapshot back into the backbone's live weights and freezes them
// again (requires_grad off, gradients zeroed), so the next run sees a fresh backbone.
func RestoreWeights(bb Backbone, snap []NamedTensor) {
	byName := map[string]*ts.Tensor{}
	for _, s := range snap {
		byName[s.Name] = s.Tensor
	}
	ts.NoGrad(func() {
		for _, w := range bb.Weights() {
			if w.Tensor.MustRequiresGrad() {
				if g := w.Tensor.MustGrad(false); g.MustDefined() {
					g.MustZero_()
				}
				w.Tensor.MustRequiresGrad_(false)
			}
			if s, ok := byName[w.Name]; ok {
				w.Tensor.Copy_(s)
			}
		}
	})
}

// TrainStep collates a batch of source and target ids (Train on), trains on it and frees it:
// the shape benchmarks and tests use.
func TrainStep(bb Backbone, m Method, opt *AdamW, srcs, tgts [][]int64, padTo int, lrFactor, maxGradNorm float64) (float64, error) {
	rows := make([]Encoded, len(srcs))
	for i := range srcs {
		rows[i] = Encoded{Source: srcs[i], Target: tgts[i]}
	}
	b, err := bb.Collate(rows, CollateOptions{PadTo: padTo, Train: true})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	return TrainBatch(bb, m, opt, b, lrFactor, maxGradNorm)
}

// TrainBatch embeds a collated batch, lets the method see it (Begin, Transform), computes
// the loss, back-propagates, clips and applies one AdamW update. It returns the loss; a
// non-finite loss is returned without an update.
func TrainBatch(bb Backbone, m Method, opt *AdamW, b *Batch, lrFactor, maxGradNorm float64) (float64, error) {
	if b.Labels == nil {
		return 0, fmt.Errorf("training batch without labels")
	}
	// Grad mode is per OS thread: make sure this thread records the step, whatever an earlier
	// NoGrad on it left behind (callers pin their goroutine with core.InitTorch/LockOSThread).
	if _, err := ts.GradSetEnabled(true); err != nil {
		return 0, err
	}
	loss, err := forwardLoss(bb, m, b)
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

// EmbedBatch looks up the frozen embeddings of a batch's ids: the input every method starts
// from (the caller drops it).
func EmbedBatch(bb Backbone, b *Batch) Input {
	return Input{Embeds: bb.Embed(b.IDs), Mask: b.Mask.MustShallowClone(), Positions: b.Positions, Batch: b}
}

// MethodInput is the backbone input for a batch under a method: Begin for backbone-family
// methods, then the frozen embeddings transformed by an input method (the caller drops it).
func MethodInput(bb Backbone, m Method, b *Batch) (Input, error) {
	if bb2, ok := m.(BatchBeginner); ok {
		if err := bb2.Begin(b); err != nil {
			return Input{}, err
		}
	}
	in := EmbedBatch(bb, b)
	im, ok := m.(InputMethod)
	if !ok {
		return in, nil
	}
	x, err := im.Transform(in, b.Train)
	in.Drop()
	if err != nil {
		return Input{}, err
	}
	if x.Batch == nil {
		x.Batch = b
	}
	return x, nil
}

// forwardLoss computes the teacher-forced loss of a batch under a method.
func forwardLoss(bb Backbone, m Method, b *Batch) (*ts.Tensor, error) {
	x, err := MethodInput(bb, m, b)
	if err != nil {
		return nil, err
	}
	defer x.Drop()
	if lm, ok := m.(LossMethod); ok && b.Train {
		return lm.TrainingLoss(bb, x, b)
	}
	return bb.Loss(x, b.Labels)
}

// PadBatch right-pads id rows with 0 to the longest row (or to padTo when larger) and
// returns ids [B, L] int64 and the float mask [B, L] (tests and tools; the trainer lets the
// backbone collate).
func PadBatch(rows [][]int64, padTo int) (ids, mask *ts.Tensor) {
	enc := make([]Encoded, len(rows))
	for i, r := range rows {
		enc[i] = Encoded{Source: r}
	}
	b, err := CollateWith(enc, CollateOptions{PadTo: padTo, NoLabels: true}, PadRight, 0)
	if err != nil {
		panic(err)
	}
	b.Positions.MustDrop()
	return b.IDs, b.Mask
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

// Predict decodes greedily for each example of one task (no gradients) and returns the
// texts. taskNames and taskIdx give the rows' task context in multi-task runs (nil, 0 for
// single-task).
func (tr *Trainer) Predict(examples []Example, o TrainOptions) ([]string, error) {
	return tr.predict(examples, o.Defaults(tr.tasks()[0].Task), nil, 0)
}

func (tr *Trainer) predict(examples []Example, o TrainOptions, taskNames []string, taskIdx int) ([]string, error) {
	if out, ok := tr.takePacked(examples, taskIdx); ok {
		return out, nil
	}
	// Sort by length so each batch pads little; restore order at the end.
	idx := make([]int, len(examples))
	enc := make([]Encoded, len(examples))
	for i, ex := range examples {
		idx[i] = i
		enc[i] = Encoded{Source: tr.Backbone.EncodeSource(ex.Source, o.MaxSourceLen), Task: taskIdx}
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(enc[idx[a]].Source) < len(enc[idx[b]].Source) })
	padTo := 0
	if o.PadToMax {
		padTo = o.MaxSourceLen
	}
	out := make([]string, len(examples))
	var err error
	ts.NoGrad(func() {
		for s := 0; s < len(idx); s += o.EvalBatchSize {
			e := min(s+o.EvalBatchSize, len(idx))
			rows := make([]Encoded, 0, e-s)
			for _, i := range idx[s:e] {
				rows = append(rows, enc[i])
			}
			var b *Batch
			if b, err = tr.Backbone.Collate(rows, CollateOptions{PadTo: padTo, TaskNames: taskNames, NoLabels: true}); err != nil {
				return
			}
			var x Input
			if x, err = MethodInput(tr.Backbone, tr.Method, b); err != nil {
				b.Close()
				return
			}
			var ids [][]int64
			ids, err = tr.Backbone.Generate(x, GenerateOptions{MaxNewTokens: o.MaxNewTokens, StopAtEOS: true})
			x.Drop()
			b.Close()
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

// Evaluate predicts and scores examples with the (single) task's metrics.
func (tr *Trainer) Evaluate(examples []Example, o TrainOptions) (Scores, error) {
	td := tr.tasks()[0]
	s, _, err := tr.evaluate(td, examples, o.Defaults(td.Task), nil)
	return s, err
}

// evaluate predicts and scores examples of one task, returning the predictions too.
func (tr *Trainer) evaluate(td TaskData, examples []Example, o TrainOptions, names []string) (Scores, []Prediction, error) {
	if len(examples) == 0 {
		return nil, nil, fmt.Errorf("task %s: evaluation split is empty", td.Task.Name())
	}
	idx := 0
	for i, n := range names {
		if n == td.Task.Name() {
			idx = i
		}
	}
	preds, err := tr.predict(examples, o, names, idx)
	if err != nil {
		return nil, nil, err
	}
	s, err := td.Task.Score(preds, examples)
	if err != nil {
		return nil, nil, err
	}
	return s, predictionsOf(examples, preds), nil
}

func limit(xs []Example, n int) []Example {
	if n > 0 && len(xs) > n {
		return xs[:n]
	}
	return xs
}

// DetachedCopy is a copy of t's values with no autograd history and no requires-grad, made
// outside grad mode (libtorch 1.13 records detach_copy on a tensor that requires grad, and
// then has no derivative for it).
func DetachedCopy(t *ts.Tensor) *ts.Tensor {
	var out *ts.Tensor
	ts.NoGrad(func() { out = t.MustDetachCopy(false) })
	return out
}

// snapshot copies every trainable tensor (detached).
func snapshot(groups []ParamGroup) []NamedTensor {
	var out []NamedTensor
	for _, g := range groups {
		for _, p := range g.Params {
			out = append(out, NamedTensor{Name: p.Name, Tensor: DetachedCopy(p.Tensor)})
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
