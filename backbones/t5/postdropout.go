package t5

import (
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// residualFF is the FFN sublayer's residual add, h + PostDropout(dropout(f)): the
// post-dropout hook sees the FFN's output after its dropout, so what it adds is not dropped
// (HyperDecoder's reference, allenai/hyperdecoders modeling/adapter_t5.py:74-78, computes
// h + dropout(FFN(x)) + A(x)). Without that hook it is residual(h, f), op for op. Drops h
// and f.
func (m *Model) residualFF(site string, h, f *ts.Tensor) *ts.Tensor {
	d := m.dropout(f)
	if m.hooks.HasPostDropout() {
		d = core.Replace(d, m.hooks.PostDropout(core.HookCall{Site: site, Batch: m.batch}, d))
	}
	out := h.MustAdd(d, true)
	d.MustDrop()
	return out
}
