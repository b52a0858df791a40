// Package hyperdecoder is HyperDecoder (Ivison & Peters, Findings of EMNLP 2022): the decoder's
// adapters are generated for each input from its encoding, so every example gets its own
// decoder; the encoder has ordinary learned adapters.
//
//	encoder:  h' = h + W_up ReLU(W_down h + b_down) + b_up   (Houlsby, learned, after the
//	          self-attention and FFN sublayers of every encoder block; W_up, b_up zero)
//	x̄  = mean over the real tokens of the encoder output           ∈ R^d   (encoder-output hook)
//	e   = W_e2 ReLU(W_e1 x̄ + c_e1) + c_e2                          ∈ R^t   (t = 64, hidden 128)
//	I   = W_2 ReLU(W_1 [e ; l_i ; p_j] + c_1) + c_2                 ∈ R^t   (l_i block, p_j position)
//	(W_down, b_down, W_up, b_up, γ, β) = heads(I)                          (the Hypernet of HyperFormer)
//	decoder:  g' = g + LayerNorm_{γ,β}(W_up GELU(W_down g + b_down) + b_up)  per example
//
// after the self-attention and FFN sublayers of every decoder block. Defined only for
// encoder–decoder backbones (a decoder-only model has no encoder output): Setup refuses others.
// At step 0 the model equals the frozen backbone (encoder W_up = 0; generated adapters start
// as the identity). The backbone stays frozen.
//
// Trainable parameters on t5-base (d = 768, b = 24, t = 64): encoder adapters 24 × 37,656 =
// 903,744; input MLP 768·128 + 128 + 128·64 + 64 = 106,688; projector 32,960; embeddings
// (12 + 2)·64 = 896; heads 2,547,480 — 3,591,768 in all. DePT's table lists 1.8M for
// HyperDecoder: the original generates smaller decoder adapters (bottleneck and head sizes
// are settings here).
package hyperdecoder

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/hyperformer"
)

// Config is HyperDecoder's settings.
type Config struct {
	Bottleneck int     `json:"bottleneck"` // b, encoder and generated decoder adapters
	TaskDim    int     `json:"task_dim"`   // t
	HiddenDim  int     `json:"hidden_dim"` // hidden size of the input MLP and the projector
	LR         float64 `json:"lr"`
	InitStd    float64 `json:"init_std"` // std of the encoder adapters' W_down
}

// DefaultConfig is bottleneck 24.
func DefaultConfig() Config {
	return Config{Bottleneck: 24, TaskDim: 64, HiddenDim: 128, LR: 3e-4, InitStd: 1e-2}
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Bottleneck <= 0 || c.TaskDim <= 0 || c.HiddenDim <= 0:
		return fmt.Errorf("bottleneck, task_dim and hidden_dim must be > 0 (got %d, %d, %d)", c.Bottleneck, c.TaskDim, c.HiddenDim)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("lr must be a positive number, got %v", c.LR)
	case !(c.InitStd >= 0) || math.IsInf(c.InitStd, 0):
		return fmt.Errorf("init_std must be ≥ 0, got %v", c.InitStd)
	}
	return nil
}

func init() {
	core.RegisterConfigured("hyperdecoder", "HyperDecoder (Ivison & Peters 2022): decoder adapters generated per example from the encoder output",
		DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

type encAdapter struct{ down, downB, up, upB *ts.Tensor }

// Method is HyperDecoder.
type Method struct {
	cfg              Config
	enc              map[string]*encAdapter
	encOrder         []string
	dec              map[string]hyperformer.Site
	e1, ce1, e2, ce2 *ts.Tensor // input MLP
	proj             *hyperformer.Projector
	layers, pos      *ts.Tensor // [decoder blocks, t], [2, t]
	net              *hyperformer.Hypernet
	pooled           *ts.Tensor // e of the current batch [B, t], set by the encoder-output hook
}

func (m *Method) Config() any   { return m.cfg }
func (m *Method) Label() string { return "HyperDecoder" }

func uniform(out, in int64) *ts.Tensor {
	b := 1 / math.Sqrt(float64(in))
	r := ts.MustRand([]int64{out, in}, gotch.Float, gotch.CPU)
	return r.MustMulScalar(ts.FloatScalar(2*b), true).MustSubScalar(ts.FloatScalar(b), true)
}

func zeros(shape ...int64) *ts.Tensor { return ts.MustZeros(shape, gotch.Float, gotch.CPU) }

// Setup makes the encoder adapters, the input MLP, the projector and the heads.
func (m *Method) Setup(env core.SetupEnv) error {
	if err := core.RequireEncoderDecoder(env.Backbone, "hyperdecoder"); err != nil {
		return err
	}
	encSites, _ := hyperformer.AdapterSites(env.Backbone, "encoder")
	decSites, _ := hyperformer.AdapterSites(env.Backbone, "decoder")
	if len(encSites) == 0 || len(decSites) == 0 {
		return fmt.Errorf("hyperdecoder: the backbone lists no encoder or decoder sublayer sites")
	}
	d, b := encSites[0].Out, int64(m.cfg.Bottleneck)
	t, h := int64(m.cfg.TaskDim), int64(m.cfg.HiddenDim)
	m.enc = map[string]*encAdapter{}
	for _, s := range encSites {
		a := &encAdapter{
			down:  ts.MustRandn([]int64{b, d}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(m.cfg.InitStd), true),
			downB: zeros(b), up: zeros(d, b), upB: zeros(d),
		}
		m.enc[s.Name] = a
		m.encOrder = append(m.encOrder, s.Name)
	}
	m.dec = map[string]hyperformer.Site{}
	decBlocks := 0
	firstDec := decSites[0].Block
	for _, s := range decSites {
		s.Block -= firstDec // decoder blocks from 0
		m.dec[s.Name] = s
		decBlocks = max(decBlocks, s.Block+1)
	}
	m.e1, m.ce1, m.e2, m.ce2 = uniform(h, d), zeros(h), uniform(t, h), zeros(t)
	m.layers = ts.MustRandn([]int64{int64(decBlocks), t}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.5), true)
	m.pos = ts.MustRandn([]int64{2, t}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.5), true)
	for _, p := range m.own() {
		p.Tensor.MustRequiresGrad_(true)
	}
	m.proj = hyperformer.NewProjector(t, h)
	m.net = hyperformer.NewHypernet(d, b, t)
	return nil
}

// own lists every trainable tensor but the heads.
func (m *Method) own() []core.NamedTensor {
	var out []core.NamedTensor
	for _, n := range m.encOrder {
		a := m.enc[n]
		p := n + ".adapter."
		out = append(out, core.NamedTensor{Name: p + "down.weight", Tensor: a.down}, core.NamedTensor{Name: p + "down.bias", Tensor: a.downB},
			core.NamedTensor{Name: p + "up.weight", Tensor: a.up}, core.NamedTensor{Name: p + "up.bias", Tensor: a.upB})
	}
	return append(out,
		core.NamedTensor{Name: "input_mlp.0.weight", Tensor: m.e1}, core.NamedTensor{Name: "input_mlp.0.bias", Tensor: m.ce1},
		core.NamedTensor{Name: "input_mlp.2.weight", Tensor: m.e2}, core.NamedTensor{Name: "input_mlp.2.bias", Tensor: m.ce2},
		core.NamedTensor{Name: "layer_embeddings", Tensor: m.layers}, core.NamedTensor{Name: "position_embeddings", Tensor: m.pos})
}

func (m *Method) ParamGroups() []core.ParamGroup {
	params := append(m.own(), m.proj.Params()...)
	return []core.ParamGroup{{Name: "hyperdecoder", LR: m.cfg.LR, Params: append(params, m.net.Params()...)}}
}

// encode is the input MLP on the masked mean of the encoder output: e [B, t].
func (m *Method) encode(enc, mask *ts.Tensor) *ts.Tensor {
	w := mask.MustUnsqueeze(-1, false) // [B, L, 1]
	sum := enc.MustMul(w, false).MustSumDimIntlist([]int64{1}, false, gotch.Float, true)
	n := w.MustSumDimIntlist([]int64{1}, false, gotch.Float, true).MustClampMin(ts.FloatScalar(1), true)
	mean := sum.MustDiv(n, true)
	n.MustDrop()
	hid := ts.MustLinear(mean, m.e1, m.ce1).MustRelu(true)
	mean.MustDrop()
	e := ts.MustLinear(hid, m.e2, m.ce2)
	hid.MustDrop()
	return e
}

// GenerateFor returns the decoder adapter a site gets for encoder states enc [B, L, d] with
// mask [B, L] (tests and inspection; caller drops).
func (m *Method) GenerateFor(site string, enc, mask *ts.Tensor) (hyperformer.Generated, error) {
	e := m.encode(enc, mask)
	defer e.MustDrop()
	return m.generate(site, e)
}

func (m *Method) generate(site string, e *ts.Tensor) (hyperformer.Generated, error) {
	s, ok := m.dec[site]
	if !ok {
		return hyperformer.Generated{}, fmt.Errorf("hyperdecoder: no decoder adapter at %s", site)
	}
	src := m.proj.Project(e, m.layers, m.pos, s.Block, s.Position)
	defer src.MustDrop()
	return m.net.Generate(src), nil
}

// DecoderSites lists the decoder adapter sites.
func (m *Method) DecoderSites() []string {
	var out []string
	for n := range m.dec {
		out = append(out, n)
	}
	return out
}

// Hooks: learned encoder adapters; the encoder-output hook keeps each example's encoding;
// decoder sublayers get the adapters generated from it.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{
		Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
			if a, ok := m.enc[c.Site]; ok {
				z := ts.MustLinear(h, a.down, a.downB).MustRelu(true)
				u := ts.MustLinear(z, a.up, a.upB)
				z.MustDrop()
				out := h.MustAdd(u, false)
				u.MustDrop()
				return out
			}
			if _, ok := m.dec[c.Site]; !ok {
				return h
			}
			if m.pooled == nil {
				panic(fmt.Errorf("hyperdecoder: decoder site %s ran before the encoder-output hook", c.Site))
			}
			g, err := m.generate(c.Site, m.pooled)
			if err != nil {
				panic(err)
			}
			defer g.Drop()
			return g.Apply(h)
		},
		EncoderOutput: func(c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor {
			if m.pooled != nil {
				m.pooled.MustDrop()
			}
			m.pooled = m.encode(enc, mask)
			return enc
		},
	}
}

func (m *Method) Close() {
	for _, p := range m.own() {
		if p.Tensor != nil {
			p.Tensor.MustDrop()
		}
	}
	if m.net != nil {
		m.net.Close()
	}
	if m.proj != nil {
		m.proj.Close()
	}
	if m.pooled != nil {
		m.pooled.MustDrop()
	}
	*m = Method{cfg: m.cfg}
}
