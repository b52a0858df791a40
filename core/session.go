package core

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

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
				g := w.Tensor.MustGrad(false)
				if g.MustDefined() {
					g.MustZero_()
				}
				g.MustDrop()
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
	// NoGrad on it left behind (callers pin their goroutine with engine.InitTorch/LockOSThread).
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
	if err := opt.Step(lrFactor); err != nil {
		return v, err
	}
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

// DetachedCopy is a copy of t's values with no autograd history and no requires-grad, made
// outside grad mode (libtorch 1.13 records detach_copy on a tensor that requires grad, and
// then has no derivative for it).
func DetachedCopy(t *ts.Tensor) *ts.Tensor {
	var out *ts.Tensor
	ts.NoGrad(func() { out = t.MustDetachCopy(false) })
	return out
}

func dropNamed(ts []NamedTensor) {
	for _, t := range ts {
		t.Tensor.MustDrop()
	}
}

// DropNamed frees every tensor of a list.
func DropNamed(ts []NamedTensor) { dropNamed(ts) }

// SeedAll seeds libtorch's generator; Go-side randomness takes explicit seeded sources.
func SeedAll(seed int64) { ts.ManualSeed(seed) }
