// Package hyperdecoder is HyperDecoder (Ivison & Peters, Findings of EMNLP 2022) as its
// reference code computes it (allenai/hyperdecoders, configs/experiments/glue_t5_base.json:
// encoder_adapter "manual", decoder_adapter "generated", adapter dims 64, hypernetwork
// bottleneck 128, adapter_norm_input, process_encoder_output). Both stacks get one adapter
// per block, in parallel to the FFN and fed the FFN's normed input x = LN(h):
//
//	h' = h + dropout(FFN(x)) + A(x)        A(x) = W_up ReLU(W_down x + b_down) + b_up
//
// (modeling/adapter_t5.py:74-78; no adapter at the attention sublayers, no layer norm in the
// adapter). A(x) is added outside the FFN's dropout, through the backbone's post-dropout hook
// (core.Hooks.PostDropout), so training with dropout drops only the FFN's part. The
// encoder's A are learned (the adapter method's module: dim 64, ReLU, xavier_uniform(gain
// 10⁻⁴) weights, zero biases). The decoder's A are generated for every example from its encoding:
//
//	x̄   = mean over the real tokens of the encoder output              ∈ R^d
//	e    = W_2 ReLU(W_1 x̄ + c_1) + c_2                                 ∈ R^d   (the mlp, d → d → d)
//	s_i  = ReLU(W_g [e ; l_i] + c_g)                                     ∈ R^128 (l_i ∈ R^10: block i's embedding)
//	W_up, W_down, b_up, b_down = linear heads of s_i                            (hyper-fan-in init)
//
// The heads start tiny (U(±10⁻³√(3/(128·fan-in))), zero bias), so the model starts close to,
// not equal to, the frozen backbone. Everything of T5 stays frozen; lr 3e-4. Defined only for
// encoder–decoder backbones (a decoder-only model has no encoder output): Setup refuses others.
//
// Trainable parameters on t5-base (d = 768): encoder adapters 12 × (2·768·64 + 64 + 768) =
// 1,189,632; mlp 2·(768² + 768) = 1,181,184; layer embeddings 12·10 = 120; W_g 778·128 + 128 =
// 99,712; heads 2·(128·49,152 + 49,152) + (128·768 + 768) + (128·64 + 64) = 12,788,544 —
// 15,259,192 in all, 1,907,399 per task of the 8 GLUE tasks (published: 1.8M).
package hyperdecoder

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/adapter"
	"github.com/ptbench/ptbench/methods/internal/adapters"
	"github.com/ptbench/ptbench/methods/internal/hypernet"
)

// Config is HyperDecoder's settings, named as the reference's arguments are; each field's doc
// tag is its line in `ptbench methods hyperdecoder`.
type Config struct {
	EncoderAdapterDim  int     `json:"encoder_adapter_dim" check:">0" doc:"bottleneck of the learned encoder adapters"`
	DecoderAdapterDim  int     `json:"decoder_adapter_dim" check:">0" doc:"bottleneck of the generated decoder adapters"`
	HypernetBottleneck int     `json:"hypernetwork_bottleneck" check:">0" doc:"size of the generator's hidden state s_i"`
	LayerEmbedDim      int     `json:"layer_embedding_dim" check:">0" doc:"size of the layer embedding l_i (10, fixed in the reference)"`
	ProcessEncoder     bool    `json:"process_encoder_output" doc:"apply the d → d → d mlp to the pooled encoding"`
	LR                 float64 `json:"lr" check:"finite>0" doc:"learning rate of everything trained"`
}

// DefaultConfig is configs/experiments/glue_t5_base.json.
func DefaultConfig() Config {
	return Config{EncoderAdapterDim: 64, DecoderAdapterDim: 64, HypernetBottleneck: 128, LayerEmbedDim: 10,
		ProcessEncoder: true, LR: 3e-4}
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "hyperdecoder", Label: "HyperDecoder", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: third_party/trainers/t5_trainer.py builds AdamW with
		// eps=args.adam_epsilon, unset in glue_t5_base.json: 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "HyperDecoder (Ivison & Peters 2022): parallel FFN adapters; the decoder's generated per example from the encoder output",
		// Estimated: adapters (no prompt lengthens the input) plus their per-example generation.
		StepCost: 0.85,
		Needs:    core.Needs{EncoderDecoder: true},
		// 1: the adapter is added after the FFN's dropout, as the reference adds it (runs
		// with dropout > 0 changed; the presets' dropout-0 runs did not, but share the new keys).
		Revision: 1,
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// ffnSite is an FFN sublayer and the norm site in front of it (whose output is the FFN's
// input, the adapter's input).
type ffnSite struct {
	core.HookSite
	norm string
}

// ffnSites lists the FFN sublayer sites of a stack with their norm sites, in block order.
func ffnSites(bb core.Backbone, stack string) []ffnSite {
	var out []ffnSite
	lastNorm := ""
	for _, s := range bb.HookSites() {
		if s.Stack != stack {
			continue
		}
		switch {
		case s.Kind == core.HookNorm:
			lastNorm = s.Name
		case s.Kind == core.HookSublayer && s.Role == core.RoleFFN && lastNorm != "":
			out = append(out, ffnSite{HookSite: s, norm: lastNorm})
		}
	}
	return out
}

// Method is HyperDecoder.
type Method struct {
	cfg     Config
	enc     map[string]*adapter.Adapter // by FFN site
	encSite []ffnSite
	dec     map[string]int // FFN site → decoder block
	decSite []ffnSite
	normOf  map[string]string // norm site → FFN site, both stacks
	inputs  map[string]*ts.Tensor

	mlp1, mlp2 hypernet.Linear // the mlp on the pooled encoding
	layers     *ts.Tensor      // [decoder blocks, 10]
	gen        hypernet.Linear // W_g: [e ; l_i] → s_i
	heads      *hypernet.Heads
	pooled     *ts.Tensor // e of the current batch [B, d], set by the encoder-output hook
}

func (m *Method) Config() any { return m.cfg }

// newEncoderAdapter is AdapterLayer's learned ("manual") adapter on dev: the adapter method's
// module with ReLU, its weights redrawn as nn.init.xavier_uniform_(gain=1e-4), zero biases.
// It is drawn on the CPU and then moved, so a seed gives the same weights on every device.
func newEncoderAdapter(dev core.Device, s core.HookSite, dim int) (*adapter.Adapter, error) {
	a, err := adapter.NewAdapter(core.CPU, s, adapter.Spec{Bottleneck: dim, Activation: adapters.ReLU})
	if err != nil {
		return nil, err
	}
	bound := 1e-4 * math.Sqrt(6/float64(s.Out+int64(dim)))
	ts.NoGrad(func() {
		if err = a.Down.Uniform_(-bound, bound); err == nil {
			err = a.Up.Uniform_(-bound, bound)
		}
	})
	if err == nil {
		err = a.ToDevice(dev)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Setup makes the encoder adapters, the mlp, the layer embeddings and the generator.
func (m *Method) Setup(env core.SetupEnv) error {
	if err := core.RequireEncoderDecoder(env.Backbone, "hyperdecoder"); err != nil {
		return err
	}
	m.encSite, m.decSite = ffnSites(env.Backbone, "encoder"), ffnSites(env.Backbone, "decoder")
	if len(m.encSite) == 0 || len(m.decSite) == 0 {
		return fmt.Errorf("hyperdecoder: the backbone lists no encoder or decoder FFN sites with their norms")
	}
	if err := m.build(env.Backbone.Device()); err != nil {
		m.Close()
		return fmt.Errorf("hyperdecoder: %w", err)
	}
	return nil
}

func (m *Method) build(dev core.Device) error {
	c := m.cfg
	d := m.decSite[0].Out
	m.enc, m.dec, m.normOf, m.inputs = map[string]*adapter.Adapter{}, map[string]int{}, map[string]string{}, map[string]*ts.Tensor{}
	for _, s := range m.encSite {
		a, err := newEncoderAdapter(dev, s.HookSite, c.EncoderAdapterDim)
		if err != nil {
			return err
		}
		m.enc[s.Name] = a
		m.normOf[s.norm] = s.Name
	}
	for i, s := range m.decSite {
		m.dec[s.Name] = i
		m.normOf[s.norm] = s.Name
	}
	var err error
	if c.ProcessEncoder {
		if m.mlp1, err = hypernet.NewTorchLinear(dev, d, d); err != nil {
			return err
		}
		if m.mlp2, err = hypernet.NewTorchLinear(dev, d, d); err != nil {
			return err
		}
	}
	l, hb, b := int64(c.LayerEmbedDim), int64(c.HypernetBottleneck), int64(c.DecoderAdapterDim)
	if m.layers, err = hypernet.NewEmbedding(dev, int64(len(m.decSite)), l); err != nil {
		return err
	}
	if m.gen, err = hypernet.NewTorchLinear(dev, d+l, hb); err != nil {
		return err
	}
	// hyperfanin_init_weight / hyperfanin_init_bias (modeling/adapter_generators.py).
	fanIn := func(mainIn int64) func(*ts.Tensor) error {
		return hypernet.Uniform(1e-3 * math.Sqrt(3/float64(hb*mainIn)))
	}
	h := &hypernet.Heads{D: d, B: b, InOut: true}
	m.heads = h
	for _, p := range []struct {
		dst    *hypernet.Linear
		out    int64
		mainIn int64
	}{{&h.Up, d * b, b}, {&h.Down, d * b, d}, {&h.UpB, d, 1}, {&h.DownB, b, 1}} {
		if *p.dst, err = hypernet.NewLinear(dev, hb, p.out, fanIn(p.mainIn), nil); err != nil {
			return err
		}
	}
	return nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	var ps []core.NamedTensor
	for _, s := range m.encSite {
		a := m.enc[s.Name]
		p := adapterPrefix(s.Name)
		ps = append(ps, core.NamedTensor{Name: p + "adapter_down_manual.weight", Tensor: a.Down},
			core.NamedTensor{Name: p + "adapter_down_manual.bias", Tensor: a.DownB},
			core.NamedTensor{Name: p + "adapter_up_manual.weight", Tensor: a.Up},
			core.NamedTensor{Name: p + "adapter_up_manual.bias", Tensor: a.UpB})
	}
	if m.cfg.ProcessEncoder {
		ps = append(ps, m.mlp1.Params("decoder.mlp.0.")...)
		ps = append(ps, m.mlp2.Params("decoder.mlp.2.")...)
	}
	ps = append(ps, core.NamedTensor{Name: "decoder.param_gen.layer_embed.weight", Tensor: m.layers})
	const g = "decoder.param_gen.decoder."
	ps = append(ps, m.gen.Params(g+"linear1.")...)
	ps = append(ps, m.heads.Up.Params(g+"weight_up.")...)
	ps = append(ps, m.heads.Down.Params(g+"weight_down.")...)
	ps = append(ps, m.heads.UpB.Params(g+"bias_up.")...)
	ps = append(ps, m.heads.DownB.Params(g+"bias_down.")...)
	return []core.ParamGroup{{Name: "hyperdecoder", LR: m.cfg.LR, Params: ps}}
}

// adapterPrefix is the reference's module path of an FFN's adapter:
// "encoder.block.3.layer.1.DenseReluDense" → "encoder.block.3.layer.1.adapter_layer.".
func adapterPrefix(ffn string) string {
	for i := len(ffn) - 1; i >= 0; i-- {
		if ffn[i] == '.' {
			return ffn[:i] + ".adapter_layer."
		}
	}
	return ffn + ".adapter_layer."
}
