package hyperdecoder

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/adapter"
	"github.com/ptbench/ptbench/methods/internal/adapters"
	"github.com/ptbench/ptbench/methods/internal/hypernet"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// encode is e = mlp(mean_pooling(enc, mask)) [B, d] (the reference's mean_pooling: the sum
// over the real tokens divided by their number).
func (m *Method) encode(enc, mask *ts.Tensor) (*ts.Tensor, error) {
	w, err := mask.Totype(gotch.Float, false)
	if err != nil {
		return nil, err
	}
	if w, err = w.Unsqueeze(-1, true); err != nil { // [B, L, 1]
		return nil, err
	}
	defer w.MustDrop()
	masked, err := enc.Mul(w, false)
	if err != nil {
		return nil, err
	}
	sum, err := masked.SumDimIntlist([]int64{1}, false, gotch.Float, true)
	if err != nil {
		return nil, err
	}
	n, err := w.SumDimIntlist([]int64{1}, false, gotch.Float, false)
	if err != nil {
		sum.MustDrop()
		return nil, err
	}
	// A row without tokens would divide by zero (NaN); none reaches here in practice.
	if n, err = n.ClampMin(ts.FloatScalar(1), true); err != nil {
		sum.MustDrop()
		return nil, err
	}
	mean, err := sum.Div(n, true)
	n.MustDrop()
	if err != nil || !m.cfg.ProcessEncoder {
		return mean, err
	}
	hid, err := m.mlp1.Forward(mean)
	mean.MustDrop()
	if err != nil {
		return nil, err
	}
	if hid, err = hid.Relu(true); err != nil {
		return nil, err
	}
	e, err := m.mlp2.Forward(hid)
	hid.MustDrop()
	return e, err
}

// generate is decoder block i's adapters for encodings e [B, d]: heads(ReLU(W_g [e ; l_i])).
func (m *Method) generate(block int, e *ts.Tensor) (hypernet.Generated, error) {
	l, err := m.layers.Narrow(0, int64(block), 1, false)
	if err != nil {
		return hypernet.Generated{}, err
	}
	rows := e.MustSize()[0]
	if l, err = l.Expand([]int64{rows, int64(m.cfg.LayerEmbedDim)}, false, true); err != nil {
		return hypernet.Generated{}, err
	}
	cat, err := ts.Cat([]*ts.Tensor{e, l}, 1)
	l.MustDrop()
	if err != nil {
		return hypernet.Generated{}, err
	}
	s, err := m.gen.Forward(cat)
	cat.MustDrop()
	if err != nil {
		return hypernet.Generated{}, err
	}
	if s, err = s.Relu(true); err != nil {
		return hypernet.Generated{}, err
	}
	defer s.MustDrop()
	return m.heads.Generate(s)
}

// GenerateFor returns the adapters of decoder FFN site for encoder states enc [B, L, d] with
// mask [B, L] (tests and inspection; caller drops).
func (m *Method) GenerateFor(site string, enc, mask *ts.Tensor) (hypernet.Generated, error) {
	block, ok := m.dec[site]
	if !ok {
		return hypernet.Generated{}, fmt.Errorf("hyperdecoder: no decoder adapter at %s", site)
	}
	e, err := m.encode(enc, mask)
	if err != nil {
		return hypernet.Generated{}, err
	}
	defer e.MustDrop()
	return m.generate(block, e)
}

// DecoderSites lists the decoder FFN sites in block order.
func (m *Method) DecoderSites() []string {
	var out []string
	for _, s := range m.decSite {
		out = append(out, s.Name)
	}
	return out
}

// EncoderSites lists the encoder FFN sites in block order.
func (m *Method) EncoderSites() []string {
	var out []string
	for _, s := range m.encSite {
		out = append(out, s.Name)
	}
	return out
}

// parallel is d = dropout(FFN(x)) plus the adapter of its site on the FFN's normed input x,
// which the norm hook kept: the reference's h + dropout(FFN(x)) + A(x) once the backbone adds
// h, the adapter's output outside the dropout.
func (m *Method) parallel(site string, d *ts.Tensor) (*ts.Tensor, error) {
	x, ok := m.inputs[site]
	if !ok {
		return nil, fmt.Errorf("the FFN at %s ran without its norm hook", site)
	}
	delete(m.inputs, site)
	defer x.MustDrop()
	var delta *ts.Tensor
	var err error
	if a, ok := m.enc[site]; ok {
		delta, err = a.Delta(x)
	} else {
		if m.pooled == nil {
			return nil, fmt.Errorf("decoder FFN %s ran before the encoder-output hook", site)
		}
		var g hypernet.Generated
		if g, err = m.generate(m.dec[site], m.pooled); err != nil {
			return nil, err
		}
		delta, err = g.Delta(x, adapters.ReLU)
		g.Drop()
	}
	if err != nil {
		return nil, err
	}
	out, err := d.Add(delta, false)
	delta.MustDrop()
	return out, err
}

// checkPostDropout is an error if an encoder FFN's input is still kept once the encoder has
// run: the backbone ran the FFN without calling the post-dropout hook, which would leave
// the adapters out of the model unnoticed.
func (m *Method) checkPostDropout() error {
	for _, s := range m.encSite {
		if _, ok := m.inputs[s.Name]; ok {
			return fmt.Errorf("the backbone never called the post-dropout hook at %s (HyperDecoder adds its adapters there)", s.Name)
		}
	}
	return nil
}

// Hooks: the norm hook in front of each FFN keeps the FFN's input; the FFN's post-dropout
// hook adds the adapter's output on it (learned in the encoder, generated in the decoder),
// after the FFN's dropout as in the reference; the encoder-output hook keeps each example's
// encoding for the decoder's generator.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{
		Norm: func(c core.HookCall, x *ts.Tensor) *ts.Tensor {
			site, ok := m.normOf[c.Site]
			if !ok {
				return x
			}
			keep, err := x.ShallowClone()
			if err != nil {
				panic(fmt.Errorf("hyperdecoder at %s: %w", c.Site, err))
			}
			if old := m.inputs[site]; old != nil {
				old.MustDrop()
			}
			m.inputs[site] = keep
			return x
		},
		PostDropout: func(c core.HookCall, d *ts.Tensor) *ts.Tensor {
			_, isEnc := m.enc[c.Site]
			if _, isDec := m.dec[c.Site]; !isEnc && !isDec {
				return d
			}
			out, err := m.parallel(c.Site, d)
			if err != nil {
				panic(fmt.Errorf("hyperdecoder at %s: %w", c.Site, err)) // the grid recovers it as the run's error
			}
			return out
		},
		EncoderOutput: func(c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor {
			if err := m.checkPostDropout(); err != nil {
				panic(fmt.Errorf("hyperdecoder: %w", err))
			}
			e, err := m.encode(enc, mask)
			if err != nil {
				panic(fmt.Errorf("hyperdecoder: encoding the input: %w", err))
			}
			if m.pooled != nil {
				m.pooled.MustDrop()
			}
			m.pooled = e
			return enc
		},
	}
}

// Close frees the method's tensors.
func (m *Method) Close() {
	for _, a := range m.enc {
		a.Close()
	}
	for _, x := range m.inputs {
		x.MustDrop()
	}
	for _, l := range []hypernet.Linear{m.mlp1, m.mlp2, m.gen} {
		l.Close()
	}
	if m.heads != nil {
		m.heads.Close()
	}
	params.Drop(&m.layers, &m.pooled)
	*m = Method{cfg: m.cfg}
}

// EncoderAdapter is the learned adapter of an encoder FFN site (nil if none).
func (m *Method) EncoderAdapter(site string) *adapter.Adapter { return m.enc[site] }
