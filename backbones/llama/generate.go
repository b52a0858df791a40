package llama

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/internal/seq"
)

// Greedy runs the prompt (embeds [B, L, D], mask [B, L], left-padded) once, then appends the
// argmax token step by step through the key/value cache. With stopAtEOS, tokens after a
// row's EOS become pad and decoding ends once every row has emitted EOS. stepLogits, if not
// nil, receives each step's float32 logits [B, V] (owned by the caller).
func (m *Model) Greedy(embeds, mask *ts.Tensor, steps int, stopAtEOS bool, stepLogits *[]*ts.Tensor) [][]int64 {
	B := embeds.MustSize()[0]
	caches := make([]kvCache, len(m.layers))
	cur := mask.MustTotype(gotch.Float, false)
	defer func() {
		for i := range caches {
			caches[i].drop()
		}
		cur.MustDrop()
	}()
	gen := seq.NewGreedy(int(B), m.Cfg.EOS, m.Cfg.Pad, stopAtEOS, stepLogits)
	x := embeds.MustShallowClone()
	for step := 0; step < steps; step++ {
		h := m.run(x, cur, caches)
		x.MustDrop()
		T := h.MustSize()[1]
		last := h.MustNarrow(1, T-1, 1, true)
		logits := m.logits(last).MustView([]int64{B, m.Cfg.Vocab}, true)
		last.MustDrop()
		next, finished := gen.Step(logits)
		if finished || step == steps-1 {
			x = nil
			break
		}
		ids := m.idsOnDevice(next, B, 1)
		x = ts.MustEmbedding(m.embed, ids, -1, false, false)
		ids.MustDrop()
		ones := ts.MustOnes([]int64{B, 1}, gotch.Float, m.dev.Torch())
		nm := ts.MustCat([]*ts.Tensor{cur, ones}, 1)
		ones.MustDrop()
		cur.MustDrop()
		cur = nm
	}
	if x != nil {
		x.MustDrop()
	}
	return gen.Out
}
