package engine

import (
	"fmt"
	"sort"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packable says why a run of m on bb cannot step in a pack (nil: it can). A pack needs an
// input or hook method that declares RowPacker (its Transform, Begin and hooks treat each row
// on its own and touch only its own state: a stacked pass gives each run's hooks its own rows,
// packhooks.go) and does nothing else the packed step would skip or share: no weight edits,
// no loss of its own, no optimiser outside AdamW, no state beyond its parameters, no
// artefacts (the harness accounts artefacts per run). The backbone must be a core.Packer: it
// says how stacked inputs are padded (the side it pads, so a row padded further keeps its
// positions) and computes each run's loss from one stacked pass (T5, Llama).
func Packable(bb core.Backbone, m core.Method) error {
	if p, ok := m.(core.RowPacker); !ok || !p.PacksRows() {
		return fmt.Errorf("the method does not declare row-independent rows (core.RowPacker)")
	}
	if !isA[core.InputMethod](m) && !isA[core.BackboneMethod](m) {
		return fmt.Errorf("neither an input method nor a hook method")
	}
	for _, refuse := range []struct {
		is  bool
		why string
	}{
		{isA[core.LossMethod](m), "it computes its own loss"},
		{isA[core.ExternalOptimizer](m), "its optimiser is its own"},
		{isA[core.StateSaver](m), "its state is not just its parameters"},
		{editsWeights(m), "it edits the backbone's weights"},
		{needsArtefacts(m), "it uses artefacts trained elsewhere"},
	} {
		if refuse.is {
			return fmt.Errorf("%s", refuse.why)
		}
	}
	if _, ok := bb.(core.Packer); !ok {
		return fmt.Errorf("backbone %s does not pack (core.Packer)", bb.Info().Name)
	}
	return nil
}

func isA[T any](m core.Method) bool { _, ok := m.(T); return ok }

func editsWeights(m core.Method) bool {
	we, ok := m.(core.WeightEditor)
	return ok && we.EditsWeights()
}

func needsArtefacts(m core.Method) bool {
	au, ok := m.(core.ArtefactUser)
	return ok && len(au.NeededArtefacts()) > 0
}

// packMember is one run of a pack: its state between start and finish, its callbacks, and
// whether (and how) it has ended.
type packMember struct {
	r     *runState
	cbs   []Callback
	ended bool
	err   error
	// hooks are the run's own (a hook method's; nil otherwise); hooked says whether any
	// member of the pack has hooks (packhooks.go).
	hooks  *core.Hooks
	hooked bool
}

// RunPacked trains runs that share one backbone together: at every step each run draws and
// collates its own batch (its own seeded order) and transforms it with its own method; the
// transformed inputs are padded on the right to the pack's longest (masked, so every row
// sees the positions it would alone) and stacked along the batch, the backbone runs forward
// and backward once, and each run's loss is the mean cross-entropy over its own rows' target
// tokens — the loss it would have alone. The sum of the runs' losses is back-propagated (a
// run's parameters get exactly its own loss's gradient); each run then clips and steps its
// own AdamW with its own schedule. Evaluation, best checkpoints and the final test run per
// run through the callbacks Run uses, so a packed run's result is its unpacked result
// within float rounding (the stacked shapes change reduction orders).
//
// A run that fails (an error or a libtorch panic in its own batch, transform or callbacks)
// or diverges ends alone; the others go on. If the shared forward itself fails, that step
// falls back to one backbone pass per run. Runs with fewer steps leave the pack early.
// StepInfo.Seconds (the rows' step times) is the pack's step wall time divided by the runs
// in it. Dropout draws from one torch generator in the pack's order, so with dropout on the
// masks differ from the unpacked runs' (the presets train without dropout).
//
// Every trainer must share one Backbone and pass Packable; results and errors come back in
// the trainers' order (exactly one of them set per run).
func RunPacked(trs []*Trainer) ([]*TrainResult, []error) {
	results, errs := make([]*TrainResult, len(trs)), make([]error, len(trs))
	if len(trs) == 0 {
		return results, errs
	}
	bb := trs[0].Backbone
	ResetPeakRSS()
	members := make([]*packMember, len(trs))
	for i, tr := range trs {
		if tr.Backbone != bb {
			errs[i] = fmt.Errorf("pack: runs must share one backbone")
			continue
		}
		if err := Packable(tr.Backbone, tr.Method); err != nil {
			errs[i] = fmt.Errorf("pack: %w", err)
			continue
		}
		var r *runState
		if err := guard(func() (err error) { r, err = tr.start(); return err }); err != nil {
			errs[i] = err
			continue
		}
		members[i] = &packMember{r: r, cbs: r.callbacks()}
		if bm, ok := tr.Method.(core.BackboneMethod); ok {
			members[i].hooks = bm.Hooks()
		}
	}
	hooked := false
	for _, m := range members {
		hooked = hooked || (m != nil && m.hooks != nil)
	}
	for _, m := range members {
		if m != nil {
			m.hooked = hooked
		}
	}
	start := time.Now()
	for step := 1; ; step++ {
		var active []*packMember
		for _, m := range members {
			if m != nil && !m.ended {
				active = append(active, m)
			}
		}
		if len(active) == 0 {
			break
		}
		t0 := time.Now()
		losses, stepErrs := packedStep(bb, active, step)
		seconds := time.Since(t0).Seconds() / float64(len(active))
		var stepped []*packMember
		for k, m := range active {
			if stepErrs[k] != nil {
				m.err, m.ended = stepError(step, stepErrs[k]), true
			} else if checkFinite("loss", losses[k]) == nil {
				stepped = append(stepped, m)
			}
		}
		// The runs that evaluate on dev after this step decode together (packeval.go); each
		// one's evaluation callback then finds its predictions.
		_ = guard(func() error { packedPredict(bb, devJobs(stepped, step)); return nil })
		for k, m := range active {
			if stepErrs[k] != nil {
				continue
			}
			info := StepInfo{Step: step, Total: m.r.o.Steps, Loss: losses[k], Seconds: seconds, Elapsed: time.Since(start)}
			m.use()
			var stop bool
			if err := guard(func() (err error) { stop, err = runOnStep(m.cbs, info); return err }); err != nil || stop {
				m.err, m.ended = err, true
			}
			if step >= m.r.o.Steps {
				m.ended = true
			}
			m.r.tr.packed = nil
		}
		// Runs that ended this step finish now: OnEnd, their test evaluations decoded
		// together, then each run's result; their sessions close.
		var ending []*packMember
		for _, m := range active {
			if m.ended {
				m.use()
				m.err = runOnEnd(m.cbs, m.err)
				ending = append(ending, m)
			}
		}
		// A failure here only leaves the runs to evaluate alone (finish).
		_ = guard(func() error { packedPredict(bb, testJobs(ending)); return nil })
		for _, m := range ending {
			m.finish()
		}
	}
	for i, m := range members {
		if m != nil {
			results[i], errs[i] = m.r.res, m.err
			if m.err != nil {
				results[i] = nil
			}
		}
	}
	return results, errs
}

// finish completes an ended member (its OnEnd callbacks have run): without an error, its
// final evaluation; then it frees a failed run's checkpoint and closes the session.
func (m *packMember) finish() {
	defer func() { m.r.tr.packed = nil }()
	m.use()
	if m.err == nil {
		m.err = guard(func() (err error) { _, err = m.r.finish(); return err })
	}
	if err := guard(func() error { m.r.close(); return nil }); err != nil && m.err == nil {
		m.err = err
	}
	if m.err != nil {
		core.DropNamed(m.r.res.Best)
		m.r.res.Best = nil
	}
}

// guard runs f and turns a panic (gotch's Must* functions panic on a libtorch error) into
// f's error (core.PanicError).
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = core.PanicError(p)
		}
	}()
	return f()
}

// packedStep takes one training step for every active member and returns each one's loss
// or error. A member whose batch or transform fails gets that error and sits the step out.
func packedStep(bb core.Backbone, active []*packMember, step int) ([]float64, []error) {
	losses, errs := make([]float64, len(active)), make([]error, len(active))
	if _, err := ts.GradSetEnabled(true); err != nil {
		for k := range errs {
			errs[k] = err
		}
		return losses, errs
	}
	batches := make([]*core.Batch, len(active))
	inputs := make([]core.Input, len(active))
	var ready []int
	for k, m := range active {
		errs[k] = guard(func() (err error) {
			if batches[k], err = m.r.collate(step); err != nil {
				return err
			}
			inputs[k], err = core.MethodInput(bb, m.r.tr.Method, batches[k])
			return err
		})
		if errs[k] == nil {
			ready = append(ready, k)
		}
	}
	defer func() {
		for k := range active {
			inputs[k].Drop()
			batches[k].Close()
		}
	}()
	if len(ready) == 0 {
		return losses, errs
	}
	if len(ready) > 1 {
		committed := false
		err := guard(func() error { return stackedStep(bb, active, step, ready, batches, inputs, losses, errs, &committed) })
		if err == nil {
			return losses, errs
		}
		if committed { // parameters may have moved: the step cannot be retried
			for _, k := range ready {
				errs[k] = err
			}
			return losses, errs
		}
		// The shared pass failed before any update: take this step one run at a time, so a
		// failure that belongs to one run's rows fails only that run.
		for _, k := range ready {
			active[k].r.res.AloneSteps++
		}
	}
	for _, k := range ready {
		m, b := active[k], batches[k]
		m.use()
		errs[k] = guard(func() (err error) {
			losses[k], err = core.TrainBatch(bb, m.r.tr.Method, m.r.sess.Opt, b, m.lrFactor(step), m.r.o.MaxGradNorm)
			return err
		})
	}
	return losses, errs
}

func (m *packMember) lrFactor(step int) float64 {
	return core.LinearSchedule(step, m.r.o.Warmup, m.r.o.Steps)
}

// stackedStep is the shared pass of packedStep for the members ready: per length group
// (lengthGroups), stack, forward once, per-run losses and one backward of their sum — a
// group's graph is freed before the next group's forward, so the pack holds one group's
// activations at a time — then per-run clip and AdamW. A member with a non-finite loss gets
// no update (as TrainBatch), and its loss stays out of the sums. committed is set once the
// first optimiser step starts (from then on an error cannot be retried without stepping
// some runs twice; before, a retry zeroes the gradients again).
func stackedStep(bb core.Backbone, active []*packMember, step int, ready []int, batches []*core.Batch, inputs []core.Input, losses []float64, errs []error, committed *bool) error {
	for _, k := range ready {
		active[k].r.sess.Opt.ZeroGrad()
	}
	var finite []int
	for _, group := range lengthGroups(ready, inputLength(inputs), bb.(core.Packer).PackSlack()) {
		ok, err := groupPass(bb, active, group, step, batches, inputs, losses)
		if err != nil {
			return err
		}
		finite = append(finite, ok...)
	}
	*committed = true
	for _, k := range finite {
		m := active[k]
		if m.r.o.MaxGradNorm > 0 {
			m.r.sess.Opt.ClipGradNorm(m.r.o.MaxGradNorm)
		}
		errs[k] = m.r.sess.Opt.Step(m.lrFactor(step)) // a run's optimiser failure is that run's
	}
	return nil
}

// groupPass runs one stacked forward for a length group with the pack's hooks (packhooks.go)
// and back-propagates the sum of the members' losses, which the backbone computes per run
// (core.Packer's BlockLosses): a run's parameters get exactly its own loss's gradient (its
// rows are its own; the backbone is frozen). It records every member's loss and returns the
// members with a finite one; a member with a non-finite loss gets no optimiser step, and its
// rows' gradients reach only its own parameters.
func groupPass(bb core.Backbone, active []*packMember, group []int, step int, batches []*core.Batch, inputs []core.Input, losses []float64) ([]int, error) {
	p := bb.(core.Packer)
	in, labels, err := stackInputs(group, batches, inputs, step, p.PackPadSide())
	if err != nil {
		return nil, err
	}
	defer in.Drop()
	defer labels.MustDrop()
	blocks := make([]hookBlock, len(group))
	rows := make([]int64, len(group))
	for i, k := range group {
		rows[i] = int64(batches[k].Size())
		blocks[i] = hookBlock{hooks: active[k].hooks, batch: batches[k], rows: rows[i]}
	}
	install(bb, blocks, active[group[0]].hooked)
	total, each, err := p.BlockLosses(in, labels, rows)
	if err != nil {
		return nil, err
	}
	defer total.MustDrop()
	if len(each) != len(group) {
		return nil, fmt.Errorf("pack: the backbone returned %d losses for %d runs", len(each), len(group))
	}
	var finite []int
	for i, k := range group {
		losses[k] = each[i]
		if checkFinite("loss", each[i]) == nil {
			finite = append(finite, k)
		}
	}
	if len(finite) == 0 {
		return nil, nil
	}
	return finite, total.Backward()
}

// lengthGroups splits members into groups whose lengths are within slack of the group's
// shortest (slack ≤ 1: one group), shortest first; members keep their order within a group.
func lengthGroups(members []int, length func(k int) int64, slack float64) [][]int {
	sorted := append([]int(nil), members...)
	sort.SliceStable(sorted, func(a, b int) bool { return length(sorted[a]) < length(sorted[b]) })
	var groups [][]int
	var shortest int64
	for _, k := range sorted {
		if n := len(groups); n == 0 || (slack > 1 && float64(length(k)) > slack*float64(shortest)) {
			groups, shortest = append(groups, nil), length(k)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], k)
	}
	for _, g := range groups {
		sort.Ints(g)
	}
	return groups
}

// inputLength is the positions of each input (prefix and tokens).
func inputLength(inputs []core.Input) func(k int) int64 {
	return func(k int) int64 { return inputs[k].Embeds.MustSize()[1] }
}

// stackInputs stacks the ready members' transformed inputs (stackEmbeds, padded on side) and
// their labels, padded on the right to the longest target with -100, in the order of ready.
// The stacked input's batch context is a training batch of the step with every row's
// length; it carries no task names (a pack has no hooks to read them).
func stackInputs(ready []int, batches []*core.Batch, inputs []core.Input, step int, side core.PadSide) (core.Input, *ts.Tensor, error) {
	T := int64(0)
	var xs []core.Input
	for _, k := range ready {
		lz, err := batches[k].Labels.Size()
		if err != nil {
			return core.Input{}, nil, err
		}
		T = max(T, lz[1])
		xs = append(xs, inputs[k])
	}
	var labels []*ts.Tensor
	defer func() {
		for _, t := range labels {
			t.MustDrop()
		}
	}()
	ctx := &core.Batch{Train: true, Step: step}
	for _, k := range ready {
		b := batches[k]
		// Pad with 0 after shifting by +100, then shift back: the padding reads -100.
		lab, err := b.Labels.AddScalar(ts.IntScalar(100), false)
		if err != nil {
			return core.Input{}, nil, err
		}
		padded, err := lab.ConstantPadNd([]int64{0, T - b.Labels.MustSize()[1]}, true)
		if err != nil {
			return core.Input{}, nil, err
		}
		labels = append(labels, padded)
		if err := padded.SubScalar_(ts.IntScalar(100)); err != nil {
			return core.Input{}, nil, err
		}
		ctx.Lengths = append(ctx.Lengths, b.Lengths...)
	}
	lab, err := ts.Cat(labels, 0)
	if err != nil {
		return core.Input{}, nil, err
	}
	in, err := stackEmbeds(xs, side)
	if err != nil {
		lab.MustDrop()
		return core.Input{}, nil, err
	}
	in.Batch = ctx
	return in, lab, nil
}

// stackEmbeds pads every input's embeddings and mask to the longest (zero embeddings, mask 0)
// on side and stacks them along the batch. Rows keep their positions: T5 pads on the right,
// and its relative position bias sees a row's prefix and tokens where they were, with the
// extra positions masked out as keys; Llama pads on the left and numbers real tokens only,
// so a source still ends at the last column and positions do not move.
func stackEmbeds(inputs []core.Input, side core.PadSide) (core.Input, error) {
	L := int64(0)
	for _, x := range inputs {
		sz, err := x.Embeds.Size()
		if err != nil {
			return core.Input{}, err
		}
		L = max(L, sz[1])
	}
	var embeds, masks []*ts.Tensor
	defer func() {
		for _, t := range append(embeds, masks...) {
			t.MustDrop()
		}
	}()
	for _, x := range inputs {
		n := x.Embeds.MustSize()[1]
		before, after := int64(0), L-n
		if side == core.PadLeft {
			before, after = L-n, 0
		}
		e, err := x.Embeds.ConstantPadNd([]int64{0, 0, before, after}, false)
		if err != nil {
			return core.Input{}, err
		}
		embeds = append(embeds, e)
		mk, err := x.Mask.ConstantPadNd([]int64{before, after}, false)
		if err != nil {
			return core.Input{}, err
		}
		masks = append(masks, mk)
	}
	e, err := ts.Cat(embeds, 0)
	if err != nil {
		return core.Input{}, err
	}
	mk, err := ts.Cat(masks, 0)
	if err != nil {
		e.MustDrop()
		return core.Input{}, err
	}
	return core.Input{Embeds: e, Mask: mk}, nil
}
