package attempt

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// pool is x̂ [B, d]: the maximum over the positions of the input embeddings. "real" masks
// padding out; "padded" keeps the batch's pad positions and takes the maximum with the pad
// embedding for every row shorter than the max source length, which is the reference's
// torch.max over a source padded to max_source_length (rows at the max have no padding).
func (m *Method) pool(in core.Input) (*ts.Tensor, error) {
	if m.cfg.Pool == "real" || m.padEmb == nil {
		mask, err := in.Mask.Unsqueeze(-1, false) // [B, L, 1]
		if err != nil {
			return nil, err
		}
		pad := mask.MustRsubScalar(ts.FloatScalar(1), true).MustMulScalar(ts.FloatScalar(-math.MaxFloat32), true)
		masked, err := in.Embeds.Add(pad, false)
		pad.MustDrop()
		if err != nil {
			return nil, err
		}
		return masked.Amax([]int64{1}, false, true)
	}
	x, err := in.Embeds.Amax([]int64{1}, false, false) // [B, d], pad positions included
	if err != nil {
		return nil, err
	}
	if m.maxLen <= 0 {
		return x, nil // no known max length: the batch's own padding is all there is
	}
	// rows shorter than maxLen: max with E[pad]; others: with -inf (no change).
	lengths, err := in.Mask.SumDimIntlist([]int64{1}, true, gotch.Float, false) // [B, 1]
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	full := lengths.MustGe(ts.FloatScalar(float64(m.maxLen)), true).MustTotype(gotch.Float, true) // 1 = no padding
	off := full.MustMulScalar(ts.FloatScalar(-math.MaxFloat32), true)                             // [B, 1]: 0 or -max
	cand, err := off.Add(m.padEmb, true)                                                          // [B, d]
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	out, err := x.Maximum(cand, true)
	cand.MustDrop()
	return out, err
}

// candidates are the n + 1 prompts [n+1, l·d] and their keys p̂ [n+1, d]: the frozen
// sources, then the current target (so the target's key follows its training).
func (m *Method) candidates() (prompts, keys *ts.Tensor, err error) {
	flat, err := m.target.View([]int64{1, int64(m.cfg.Length) * m.d}, false)
	if err != nil {
		return nil, nil, err
	}
	prompts, err = ts.Cat([]*ts.Tensor{m.sources, flat}, 0)
	flat.MustDrop()
	if err != nil {
		return nil, nil, err
	}
	tkey, err := m.target.Amax([]int64{0}, true, false) // [1, d]
	if err != nil {
		prompts.MustDrop()
		return nil, nil, err
	}
	keys, err = ts.Cat([]*ts.Tensor{m.sourceKeys, tkey}, 0)
	tkey.MustDrop()
	if err != nil {
		prompts.MustDrop()
		return nil, nil, err
	}
	return prompts, keys, nil
}

// Weights returns the attention weights a [B, n+1] for a batch, the target's last (caller
// drops). libtorch errors inside it, as in Transform, come back as the error.
func (m *Method) Weights(in core.Input) (a *ts.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attempt: %v", p)
		}
	}()
	prompts, keys, err := m.candidates()
	if err != nil {
		return nil, err
	}
	prompts.MustDrop()
	defer keys.MustDrop()
	return m.weights(in, keys)
}

// weights is softmax_j(p̂_j · LayerNorm(W_up SiLU(W_down x̂)) / T) [B, n+1].
func (m *Method) weights(in core.Input, keys *ts.Tensor) (*ts.Tensor, error) {
	x, err := m.pool(in)
	if err != nil {
		return nil, err
	}
	hidden := x.MustMatmul(m.down, true).MustSilu(true)
	h := hidden.MustMatmul(m.up, true)
	normed, err := ts.LayerNorm(h, []int64{m.d}, m.lnW, m.lnB, 1e-5, false)
	h.MustDrop()
	if err != nil {
		return nil, err
	}
	keysT := keys.MustTranspose(0, 1, false)
	scores := normed.MustMatmul(keysT, true).MustDivScalar(ts.FloatScalar(m.cfg.Temperature), true) // [B, n+1]
	keysT.MustDrop()
	return scores.Softmax(-1, gotch.Float, true)
}

// Transform builds each example's prompt Σ_j a_j P_j + P_t over the n + 1 candidates and
// prepends it.
func (m *Method) Transform(in core.Input, train bool) (out core.Input, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attempt: %v", p)
		}
	}()
	prompts, keys, err := m.candidates()
	if err != nil {
		return core.Input{}, err
	}
	defer prompts.MustDrop()
	defer keys.MustDrop()
	a, err := m.weights(in, keys)
	if err != nil {
		return core.Input{}, err
	}
	B := a.MustSize()[0]
	if m.recordWeight {
		m.LastWeights = core.Float32s(a)
	}
	mixed := a.MustMatmul(prompts, true).MustView([]int64{B, int64(m.cfg.Length), m.d}, true) // [B, l, d]
	prompt, err := mixed.Add(m.target, true)
	if err != nil {
		return core.Input{}, err
	}
	defer prompt.MustDrop()
	return core.PrependPrompt(in, prompt)
}

// RecordWeights keeps each batch's attention weights in LastWeights.
func (m *Method) RecordWeights(on bool) { m.recordWeight = on }
