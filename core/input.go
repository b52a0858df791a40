package core

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// PrependPrompt returns [prompt ; embeds] with the mask extended by ones — the input of every
// prompt method (H0 = [P ; E]). prompt is [m, d] (shared by the batch) or [B, m, d] (per
// example). in is not consumed.
func PrependPrompt(in Input, prompt *ts.Tensor) (Input, error) {
	es := in.Embeds.MustSize()
	ps := prompt.MustSize()
	B := es[0]
	var prefix *ts.Tensor
	switch {
	case len(ps) == 2 && ps[1] == es[2]:
		prefix = prompt.MustUnsqueeze(0, false).MustExpand([]int64{B, ps[0], ps[1]}, false, true)
	case len(ps) == 3 && ps[0] == B && ps[2] == es[2]:
		prefix = prompt.MustShallowClone()
	default:
		return Input{}, fmt.Errorf("prompt shape %v does not fit input embeddings %v", ps, es)
	}
	dev, err := DeviceOf(in.Mask) // the prompt's mask columns join the batch's where it is
	if err != nil {
		prefix.MustDrop()
		return Input{}, err
	}
	m := prefix.MustSize()[1]
	embeds := ts.MustCat([]*ts.Tensor{prefix, in.Embeds}, 1)
	prefix.MustDrop()
	ones := ts.MustOnes([]int64{B, m}, gotch.Float, dev.Torch())
	mask := ts.MustCat([]*ts.Tensor{ones, in.Mask}, 1)
	ones.MustDrop()
	return Input{Embeds: embeds, Mask: mask, Batch: in.Batch}, nil
}

// AddOffset returns embeds + offset[position] — DePT's position-indexed update of the input
// embeddings. offset is [s, d] (row p is added to every token at position p of its source;
// in.Positions says which, and without it positions are 0..L-1) or [B, L, d] (per token).
// in is not consumed; the mask is shared (shallow copy).
func AddOffset(in Input, offset *ts.Tensor) (Input, error) {
	es := in.Embeds.MustSize()
	os := offset.MustSize()
	var rows *ts.Tensor
	switch {
	case len(os) == 3 && os[0] == es[0] && os[1] == es[1] && os[2] == es[2]:
		rows = offset.MustShallowClone()
	case len(os) == 2 && os[1] == es[2] && in.Positions != nil:
		top := in.Positions.MustMax(false)
		last := top.Int64Values()[0]
		top.MustDrop()
		if last >= os[0] {
			return Input{}, fmt.Errorf("offset has %d rows but the batch has a token at position %d (a source longer than max_len?)", os[0], last)
		}
		flat := in.Positions.MustView([]int64{-1}, false)
		rows = offset.MustIndexSelect(0, flat, false).MustView(es, true)
		flat.MustDrop()
	case len(os) == 2 && os[0] >= es[1] && os[1] == es[2]:
		rows = offset.MustNarrow(0, 0, es[1], false)
	default:
		return Input{}, fmt.Errorf("offset shape %v does not fit input embeddings %v (a batch longer than the offset's rows?)", os, es)
	}
	embeds := in.Embeds.MustAdd(rows, false)
	rows.MustDrop()
	return Input{Embeds: embeds, Mask: in.Mask.MustShallowClone(), Positions: in.Positions, Batch: in.Batch}, nil
}
