package engine

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Hook methods in a pack. A backbone holds one set of hooks, so a pack of hook methods
// (LoRA, BitFit: core.RowPacker with hooks that treat each row on its own) installs, for a
// stacked pass, hooks that split every call's rows into the runs' blocks, call each run's own
// hook on its block with its own batch as the context, and stack the answers; a block whose
// run has no hook of that kind (an input method's rows) passes unchanged. Around everything a
// run does alone — its callbacks' evaluation, its test, a step taken alone after a failed
// shared pass — the run's own hooks are installed (packMember.use).

// hookBlock is one run's rows in a stacked pass: its hooks (nil: none), its own batch (the
// hooks' context) and its row count.
type hookBlock struct {
	hooks *core.Hooks
	batch *core.Batch
	rows  int64
}

// use installs the member's own hooks on its backbone, for what it does alone (no-op in a
// pack without hook methods).
func (m *packMember) use() {
	if m.hooked {
		m.r.tr.Backbone.SetHooks(m.hooks)
	}
}

// install sets the hooks of a stacked pass over blocks in a pack with hook methods (hooked):
// none when no block of this pass has hooks, since a run's own hooks may still be installed
// from what it did alone. A pack without hook methods leaves the backbone as it is.
func install(bb core.Backbone, blocks []hookBlock, hooked bool) {
	if hooked {
		bb.SetHooks(stackedHooks(blocks))
	}
}

// stackedHooks are the hooks of a stacked pass over blocks (in stacking order): nil when no
// block has hooks, so a pack of input methods runs exactly as before. Only the kinds some
// block has are set: a backbone that takes a fused path without hooks of a kind still does.
func stackedHooks(blocks []hookBlock) *core.Hooks {
	some := func(has func(*core.Hooks) bool) bool {
		for _, b := range blocks {
			if has(b.hooks) {
				return true
			}
		}
		return false
	}
	h := &core.Hooks{}
	if some((*core.Hooks).HasLinear) {
		h.Linear = func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
			return perBlock(blocks, c.Site, (*core.Hooks).HasLinear, y, x,
				func(b hookBlock, c core.HookCall, y, x *ts.Tensor) *ts.Tensor { return b.hooks.Linear(c, x, y) })
		}
	}
	if some((*core.Hooks).HasSublayer) {
		h.Sublayer = func(c core.HookCall, t *ts.Tensor) *ts.Tensor {
			return perBlock(blocks, c.Site, (*core.Hooks).HasSublayer, t, nil,
				func(b hookBlock, c core.HookCall, t, _ *ts.Tensor) *ts.Tensor { return b.hooks.Sublayer(c, t) })
		}
	}
	if some((*core.Hooks).HasPostDropout) {
		h.PostDropout = func(c core.HookCall, t *ts.Tensor) *ts.Tensor {
			return perBlock(blocks, c.Site, (*core.Hooks).HasPostDropout, t, nil,
				func(b hookBlock, c core.HookCall, t, _ *ts.Tensor) *ts.Tensor { return b.hooks.PostDropout(c, t) })
		}
	}
	if some((*core.Hooks).HasNorm) {
		h.Norm = func(c core.HookCall, t *ts.Tensor) *ts.Tensor {
			return perBlock(blocks, c.Site, (*core.Hooks).HasNorm, t, nil,
				func(b hookBlock, c core.HookCall, t, _ *ts.Tensor) *ts.Tensor { return b.hooks.Norm(c, t) })
		}
	}
	if some((*core.Hooks).HasEncoderOutput) {
		h.EncoderOutput = func(c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor {
			return perBlock(blocks, c.Site, (*core.Hooks).HasEncoderOutput, enc, mask,
				func(b hookBlock, c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor {
					return b.hooks.EncoderOutput(c, enc, mask)
				})
		}
	}
	if !h.Any() {
		return nil
	}
	return h
}

// perBlock answers one hook call of a stacked pass: t (the tensor a hook may replace) and
// other (its second argument, or nil) are split along dimension 0 into the blocks' rows,
// each block with a hook of the kind (has) answers for its rows, and the answers are stacked;
// t itself when no block changed its rows. A call with zero rows (a backbone asking whether
// a site is hooked at all) asks every block and answers "changed" if any would. Rows that
// do not add up to the blocks' (a backbone that reshaped its batch) are a panic, which the
// pack's guard turns into the shared pass's error: the runs then step alone.
func perBlock(blocks []hookBlock, site string, has func(*core.Hooks) bool, t, other *ts.Tensor,
	call func(b hookBlock, c core.HookCall, t, other *ts.Tensor) *ts.Tensor) *ts.Tensor {
	// A hook cannot return an error: a libtorch failure here is a panic naming the site,
	// which the backbone's BlockLosses (training) or the pack's guard (evaluation) turns into
	// the shared pass's error, and the runs then step or evaluate alone.
	fail := func(err error) { panic(fmt.Errorf("pack: the hook at %s: %w", site, err)) }
	sz, err := t.Size()
	if err != nil {
		fail(err)
	}
	n := sz[0]
	if n == 0 {
		for _, b := range blocks {
			if !has(b.hooks) {
				continue
			}
			if r := call(b, core.HookCall{Site: site, Batch: b.batch}, t, other); r != t {
				r.MustDrop()
				clone, err := t.ShallowClone()
				if err != nil {
					fail(err)
				}
				return clone
			}
		}
		return t
	}
	total := int64(0)
	for _, b := range blocks {
		total += b.rows
	}
	if n != total {
		panic(fmt.Sprintf("pack: the hook at %s got %d rows; the stacked pass has %d", site, n, total))
	}
	var views, answers []*ts.Tensor
	defer func() {
		for _, v := range append(views, answers...) {
			v.MustDrop()
		}
	}()
	parts := make([]*ts.Tensor, len(blocks))
	changed := false
	off := int64(0)
	for i, b := range blocks {
		part, err := t.Narrow(0, off, b.rows, false)
		if err != nil {
			fail(err)
		}
		views, parts[i] = append(views, part), part
		if has(b.hooks) {
			var o *ts.Tensor
			if other != nil {
				if o, err = other.Narrow(0, off, b.rows, false); err != nil {
					fail(err)
				}
				views = append(views, o)
			}
			if r := call(b, core.HookCall{Site: site, Batch: b.batch}, part, o); r != part {
				answers, parts[i], changed = append(answers, r), r, true
			}
		}
		off += b.rows
	}
	if !changed {
		return t
	}
	out, err := ts.Cat(parts, 0)
	if err != nil {
		fail(err)
	}
	return out
}
