package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
)

// LoadOptions say how weights are stored once loaded (typed: parsed once, in core).
type LoadOptions struct {
	DType core.DType // compute dtype: core.Float32 (default) or core.BFloat16
	Quant core.Quant // core.QuantNone: full precision; core.QuantNF4: linear weights as NF4
	// Device is where the weights are put as they are loaded (core.CPU by default).
	Device core.Device
}

// source hands out a model's tensors by HF name, one at a time (the caller owns each).
type source func(name string, shape []int64) (*ts.Tensor, error)

// linearNames are a layer's linear modules in HF naming, with their shapes.
func linearShapes(c Config) []struct {
	name    string
	out, in int64
} {
	kv := c.KVHeads * c.HeadSize()
	return []struct {
		name    string
		out, in int64
	}{
		{"self_attn.q_proj", c.Dim, c.Dim}, {"self_attn.k_proj", kv, c.Dim}, {"self_attn.v_proj", kv, c.Dim},
		{"self_attn.o_proj", c.Dim, c.Dim}, {"mlp.gate_proj", c.Hidden, c.Dim}, {"mlp.up_proj", c.Hidden, c.Dim},
		{"mlp.down_proj", c.Dim, c.Hidden},
	}
}

// build assembles a Model tensor by tensor from src, converting each to the compute dtype
// or quantising it as it arrives, so that at most one full-precision matrix is alive.
func build(cfg Config, src source, o LoadOptions) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	quant := o.Quant == core.QuantNF4
	m = &Model{Cfg: cfg, DType: o.DType.Torch(), dev: o.Device}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	get := func(name string, shape []int64) (*ts.Tensor, error) {
		t, err := src(name, shape)
		if err != nil {
			return nil, err
		}
		sz := t.MustSize()
		if fmt.Sprint(sz) != fmt.Sprint(shape) {
			t.MustDrop()
			return nil, fmt.Errorf("llama: %s has shape %v, want %v", name, sz, shape)
		}
		if t.DType() != m.DType {
			t = t.MustTotype(m.DType, true)
		}
		return o.Device.Move(t)
	}
	lin := func(name string, out, in int64) (linear, error) {
		l := linear{name: name, out: out, in: in}
		t, err := src(name+".weight", []int64{out, in})
		if err != nil {
			return l, err
		}
		if sz := t.MustSize(); len(sz) != 2 || sz[0] != out || sz[1] != in {
			t.MustDrop()
			return l, fmt.Errorf("llama: %s.weight has shape %v, want [%d %d]", name, sz, out, in)
		}
		if quant && (out*in)%NF4Block == 0 {
			// With bf16 compute, the bf16 weights are what is quantised, as QLoRA loads the
			// model in bf16 (torch_dtype) before bitsandbytes quantises it.
			if m.DType == gotch.BFloat16 && t.DType() != gotch.BFloat16 {
				if t, err = t.Totype(gotch.BFloat16, true); err != nil {
					return l, fmt.Errorf("llama: %s.weight: %w", name, err)
				}
			}
			l.q, err = QuantizeNF4(t) // on the CPU, then moved packed (about half a byte a weight)
			t.MustDrop()
			if err == nil {
				if err = l.q.ToDevice(o.Device.Torch()); err != nil {
					l.q.Drop()
					l.q = nil
				}
			}
			return l, err
		}
		if t.DType() != m.DType {
			t = t.MustTotype(m.DType, true)
		}
		l.w, err = o.Device.Move(t)
		return l, err
	}
	if m.embed, err = get("model.embed_tokens.weight", []int64{cfg.Vocab, cfg.Dim}); err != nil {
		return m, err
	}
	for i := int64(0); i < cfg.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		L := layer{attnSite: p + "self_attn", mlpSite: p + "mlp", attnNormSite: p + "input_layernorm", ffnNormSite: p + "post_attention_layernorm"}
		m.layers = append(m.layers, L)
		Lp := &m.layers[len(m.layers)-1]
		if Lp.attnNorm, err = get(p+"input_layernorm.weight", []int64{cfg.Dim}); err != nil {
			return m, err
		}
		for j, s := range linearShapes(cfg) {
			l, err := lin(p+s.name, s.out, s.in)
			if err != nil {
				return m, err
			}
			*[]*linear{&Lp.q, &Lp.k, &Lp.v, &Lp.o, &Lp.gate, &Lp.up, &Lp.down}[j] = l
		}
		if Lp.ffnNorm, err = get(p+"post_attention_layernorm.weight", []int64{cfg.Dim}); err != nil {
			return m, err
		}
	}
	if m.norm, err = get("model.norm.weight", []int64{cfg.Dim}); err != nil {
		return m, err
	}
	if cfg.Tied {
		m.head = linear{name: "lm_head", out: cfg.Vocab, in: cfg.Dim, w: m.embed}
	} else {
		// The LM head stays in full precision (as QLoRA leaves it).
		t, err := get("lm_head.weight", []int64{cfg.Vocab, cfg.Dim})
		if err != nil {
			return m, err
		}
		m.head = linear{name: "lm_head", out: cfg.Vocab, in: cfg.Dim, w: t}
	}
	return m, nil
}

// ---- Hugging Face directories ---------------------------------------------------------------

// HFConfig is the subset of LlamaConfig (config.json) the model needs.
type HFConfig struct {
	ModelType         string   `json:"model_type"`
	Architectures     []string `json:"architectures"`
	VocabSize         int64    `json:"vocab_size"`
	HiddenSize        int64    `json:"hidden_size"`
	IntermediateSize  int64    `json:"intermediate_size"`
	NumHiddenLayers   int64    `json:"num_hidden_layers"`
	NumAttentionHeads int64    `json:"num_attention_heads"`
	NumKeyValueHeads  int64    `json:"num_key_value_heads"`
	MaxPositions      int64    `json:"max_position_embeddings"`
	RMSNormEps        float64  `json:"rms_norm_eps"`
	RopeTheta         float64  `json:"rope_theta"`
	RopeScaling       any      `json:"rope_scaling"`
	HiddenAct         string   `json:"hidden_act"`
	TieWordEmbeddings bool     `json:"tie_word_embeddings"`
	BOS               *int64   `json:"bos_token_id"`
	EOS               any      `json:"eos_token_id"`
	Pad               *int64   `json:"pad_token_id"`
}

// LoadHFConfig reads dir/config.json of a LlamaForCausalLM.
func LoadHFConfig(dir string) (Config, error) {
	p := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return Config{}, err
	}
	var h HFConfig
	if err := json.Unmarshal(raw, &h); err != nil {
		return Config{}, fmt.Errorf("%s: %w", p, err)
	}
	if h.ModelType != "llama" {
		return Config{}, fmt.Errorf("%s: model_type %q is not llama", p, h.ModelType)
	}
	if h.HiddenAct != "" && h.HiddenAct != "silu" {
		return Config{}, fmt.Errorf("%s: hidden_act %q is not implemented (silu)", p, h.HiddenAct)
	}
	if h.RopeScaling != nil {
		return Config{}, fmt.Errorf("%s: rope_scaling is not implemented", p)
	}
	c := Config{Vocab: h.VocabSize, Dim: h.HiddenSize, Hidden: h.IntermediateSize, Layers: h.NumHiddenLayers,
		Heads: h.NumAttentionHeads, KVHeads: h.NumKeyValueHeads, MaxSeq: h.MaxPositions, Eps: h.RMSNormEps,
		Theta: h.RopeTheta, Tied: h.TieWordEmbeddings, BOS: 1, EOS: 2, Pad: 0}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.Eps == 0 {
		c.Eps = 1e-6
	}
	if c.Theta == 0 {
		c.Theta = 10000
	}
	if h.BOS != nil {
		c.BOS = *h.BOS
	}
	if e, ok := h.EOS.(float64); ok {
		c.EOS = int64(e)
	}
	if h.Pad != nil && *h.Pad >= 0 {
		c.Pad = *h.Pad
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", p, err)
	}
	if _, err := checkedNumParams(c); err != nil {
		return c, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// OpenDir loads an HF LlamaForCausalLM directory (model.safetensors, a sharded index, or
// pytorch_model.bin). Safetensors are read tensor by tensor from their headers' offsets, so
// each tensor is converted or quantised as soon as the builder asks for it and nothing else
// of its shard is in memory (a 7B model is never in full precision); a pickled .bin is
// loaded one file at a time.
func OpenDir(dir string, o LoadOptions) (*Model, error) {
	cfg, err := LoadHFConfig(dir)
	if err != nil {
		return nil, err
	}
	weights, err := hf.OpenLazyWeights(dir, func(n string) bool { return strings.HasSuffix(n, "rotary_emb.inv_freq") })
	if err != nil {
		return nil, err
	}
	defer weights.Close()
	return build(cfg, func(name string, _ []int64) (*ts.Tensor, error) { return weights.Take(name) }, o)
}

// ---- random init ----------------------------------------------------------------------------

// RandomSource draws every tensor when the builder asks for it (so an NF4 preset never holds
// more than one full-precision matrix): linear weights N(0, 1/in) (≈ HF's 0.02 at d 4096, and
// a model small presets can actually train through: at d 64 HF's 0.02 leaves logits almost
// constant), embeddings N(0, 1), norms 1. Seeded per tensor name.
func RandomSource(seed int64) source {
	return func(name string, shape []int64) (*ts.Tensor, error) {
		if strings.HasSuffix(name, "norm.weight") {
			return ts.MustOnes(shape, gotch.Float, gotch.CPU), nil
		}
		h := uint64(1469598103934665603)
		for _, b := range []byte(name) {
			h = (h ^ uint64(b)) * 1099511628211
		}
		ts.ManualSeed(int64((h ^ uint64(seed)) & math.MaxInt64))
		var t *ts.Tensor
		std := 1.0
		if !strings.HasSuffix(name, "embed_tokens.weight") && len(shape) == 2 {
			std = 1 / math.Sqrt(float64(shape[1]))
		}
		ts.NoGrad(func() { t = ts.MustRandn(shape, gotch.Float, gotch.CPU).MustMulScalar(scalar(std), true) })
		return t, nil
	}
}

// NewRandom builds a random-init model of cfg.
func NewRandom(cfg Config, seed int64, o LoadOptions) (*Model, error) {
	return build(cfg, RandomSource(seed), o)
}

// WriteHFDir writes m's weights (full precision only) and config.json as an HF
// LlamaForCausalLM directory (a single model.safetensors), q/k already in HF order.
func WriteHFDir(m *Model, dir string) error {
	if m.Quantized() {
		return fmt.Errorf("llama: cannot write a quantised model")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := m.Cfg
	cfg := map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"vocab_size": c.Vocab, "hidden_size": c.Dim, "intermediate_size": c.Hidden,
		"num_hidden_layers": c.Layers, "num_attention_heads": c.Heads, "num_key_value_heads": c.KVHeads,
		"max_position_embeddings": c.MaxSeq, "rms_norm_eps": c.Eps, "rope_theta": c.Theta,
		"hidden_act": "silu", "tie_word_embeddings": c.Tied, "bos_token_id": c.BOS, "eos_token_id": c.EOS,
		"torch_dtype": "float32",
	}
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		return err
	}
	return core.SaveTorchFile(filepath.Join(dir, hf.SafetensorsWeights), m.Weights(), map[string]string{safetensors.FormatKey: safetensors.FormatPyTorch})
}

// Weights lists the full-precision parameters by HF name (NF4 linears are left out: they are
// not float tensors). The tensors are the model's own.
func (m *Model) Weights() []core.NamedTensor {
	out := []core.NamedTensor{{Name: "model.embed_tokens.weight", Tensor: m.embed}}
	for i := range m.layers {
		L := &m.layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		out = append(out, core.NamedTensor{Name: p + "input_layernorm.weight", Tensor: L.attnNorm})
		for _, l := range []*linear{&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down} {
			if l.w != nil {
				out = append(out, core.NamedTensor{Name: l.name + ".weight", Tensor: l.w})
			}
		}
		out = append(out, core.NamedTensor{Name: p + "post_attention_layernorm.weight", Tensor: L.ffnNorm})
	}
	out = append(out, core.NamedTensor{Name: "model.norm.weight", Tensor: m.norm})
	if !m.Cfg.Tied && m.head.w != nil {
		out = append(out, core.NamedTensor{Name: "lm_head.weight", Tensor: m.head.w})
	}
	return out
}
