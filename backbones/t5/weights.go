package t5

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// WeightShapes lists every parameter a T5 of this config has, by Hugging Face name.
func WeightShapes(c Config) map[string][]int64 {
	inner := c.Heads * c.DKV
	out := map[string][]int64{"shared.weight": {c.Vocab, c.DModel}}
	attn := func(p string, withBias bool) {
		out[p+".q.weight"] = []int64{inner, c.DModel}
		out[p+".k.weight"] = []int64{inner, c.DModel}
		out[p+".v.weight"] = []int64{inner, c.DModel}
		out[p+".o.weight"] = []int64{c.DModel, inner}
		if withBias {
			out[p+".relative_attention_bias.weight"] = []int64{c.Buckets, c.Heads}
		}
	}
	ff := func(p string) {
		if c.GatedGELU {
			out[p+".wi_0.weight"] = []int64{c.DFF, c.DModel}
			out[p+".wi_1.weight"] = []int64{c.DFF, c.DModel}
		} else {
			out[p+".wi.weight"] = []int64{c.DFF, c.DModel}
		}
		out[p+".wo.weight"] = []int64{c.DModel, c.DFF}
	}
	for i := int64(0); i < c.EncoderLayers; i++ {
		p := fmt.Sprintf("encoder.block.%d.layer.", i)
		attn(p+"0.SelfAttention", i == 0)
		out[p+"0.layer_norm.weight"] = []int64{c.DModel}
		ff(p + "1.DenseReluDense")
		out[p+"1.layer_norm.weight"] = []int64{c.DModel}
	}
	out["encoder.final_layer_norm.weight"] = []int64{c.DModel}
	for i := int64(0); i < c.DecoderLayers; i++ {
		p := fmt.Sprintf("decoder.block.%d.layer.", i)
		attn(p+"0.SelfAttention", i == 0)
		out[p+"0.layer_norm.weight"] = []int64{c.DModel}
		attn(p+"1.EncDecAttention", false)
		out[p+"1.layer_norm.weight"] = []int64{c.DModel}
		ff(p + "2.DenseReluDense")
		out[p+"2.layer_norm.weight"] = []int64{c.DModel}
	}
	out["decoder.final_layer_norm.weight"] = []int64{c.DModel}
	if !c.TiedHead {
		out["lm_head.weight"] = []int64{c.Vocab, c.DModel}
	}
	return out
}

// aliases are extra copies of shared.weight some hub checkpoints carry.
var aliases = map[string]bool{"encoder.embed_tokens.weight": true, "decoder.embed_tokens.weight": true}

// NewModel builds a model from named tensors (HF names). Every expected tensor must be
// present with the right shape and a float dtype; bfloat16/float16 weights are upcast
// exactly to float32. The model takes ownership of the tensors it uses; names it does not
// know are returned as unused (the caller decides whether that is an error) and left to the
// caller. Every weight is frozen (no requires-grad).
func NewModel(cfg Config, tensors map[string]*ts.Tensor, source string) (*Model, []string, error) {
	return buildModel(cfg, tensors, nil, source)
}

// buildModel is NewModel for a model whose linears named in packed (by site) are 4-bit:
// those names are not expected among tensors, and the model takes packed too.
func buildModel(cfg Config, tensors map[string]*ts.Tensor, packed packedLinears, source string) (*Model, []string, error) {
	want := WeightShapes(cfg)
	names := make([]string, 0, len(want))
	for n := range want {
		if packed[strings.TrimSuffix(n, ".weight")] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	w := map[string]*ts.Tensor{}
	for _, n := range names {
		t, ok := tensors[n]
		if !ok {
			return nil, nil, fmt.Errorf("%s: missing tensor %q (shape %v)", source, n, want[n])
		}
		if got := t.MustSize(); !slices.Equal(got, want[n]) {
			return nil, nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", source, n, got, want[n])
		}
		switch t.DType() {
		case gotch.Float:
			w[n] = t
		case gotch.BFloat16, gotch.Half, gotch.Double:
			w[n] = t.MustTotype(gotch.Float, false)
		default:
			return nil, nil, fmt.Errorf("%s: tensor %q has dtype %v, want a float type", source, n, t.DType())
		}
	}
	var unused []string
	for n, t := range tensors {
		if _, ok := want[n]; ok && packed[strings.TrimSuffix(n, ".weight")] == nil {
			continue
		}
		if aliases[n] {
			if got := t.MustSize(); !slices.Equal(got, want["shared.weight"]) {
				return nil, nil, fmt.Errorf("%s: tensor %q has shape %v, want %v like shared.weight", source, n, got, want["shared.weight"])
			}
			continue
		}
		unused = append(unused, n)
	}
	sort.Strings(unused)
	// Release the originals we converted; the caller owns the rest.
	for n, t := range w {
		if tensors[n] != t {
			tensors[n].MustDrop()
			tensors[n] = t
		}
	}

	m := &Model{Cfg: cfg, shared: w["shared.weight"], bucketCache: map[[3]int64]*ts.Tensor{}}
	attn := func(p string) attention {
		return attention{prefix: p, q: w[p+".q.weight"], k: w[p+".k.weight"], v: w[p+".v.weight"], o: w[p+".o.weight"]}
	}
	ff := func(p string) feedForward {
		return feedForward{prefix: p, wi: w[p+".wi.weight"], wi0: w[p+".wi_0.weight"], wi1: w[p+".wi_1.weight"], wo: w[p+".wo.weight"]}
	}
	for i := int64(0); i < cfg.EncoderLayers; i++ {
		p := fmt.Sprintf("encoder.block.%d.layer.", i)
		m.encoder = append(m.encoder, block{
			self: attn(p + "0.SelfAttention"), selfNorm: w[p+"0.layer_norm.weight"],
			ff: ff(p + "1.DenseReluDense"), ffNorm: w[p+"1.layer_norm.weight"],
		})
	}
	for i := int64(0); i < cfg.DecoderLayers; i++ {
		p := fmt.Sprintf("decoder.block.%d.layer.", i)
		m.decoder = append(m.decoder, block{
			self: attn(p + "0.SelfAttention"), selfNorm: w[p+"0.layer_norm.weight"],
			cross: attn(p + "1.EncDecAttention"), crossNorm: w[p+"1.layer_norm.weight"],
			ff: ff(p + "2.DenseReluDense"), ffNorm: w[p+"2.layer_norm.weight"],
		})
	}
	m.encBias = w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
	m.decBias = w["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
	m.encFinal = w["encoder.final_layer_norm.weight"]
	m.decFinal = w["decoder.final_layer_norm.weight"]
	m.lmHead = w["lm_head.weight"]
	m.weights = w
	m.nf4 = packed
	return m, unused, nil
}

// Weights returns the model's parameters by HF name, sorted.
func (m *Model) Weights() []string {
	names := make([]string, 0, len(m.weights))
	for n := range m.weights {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Weight returns one parameter by HF name (nil if absent).
func (m *Model) Weight(name string) *ts.Tensor { return m.weights[name] }

// NumParams counts the model's parameters (tied head counted once).
func (m *Model) NumParams() int64 {
	var n int64
	for _, t := range m.weights {
		n += int64(t.Numel())
	}
	return n + m.nf4.numel()
}

// Close frees every weight and cached index.
func (m *Model) Close() {
	for _, t := range m.weights {
		t.MustDrop()
	}
	m.weights = nil
	for _, t := range m.stacked {
		t.MustDrop()
	}
	m.stacked = nil
	m.nf4.drop()
	m.nf4 = nil
	m.dropBucketCache()
	m.dropHeadCache()
}

// ---- seeded random initialisation (no torch RNG, reproducible everywhere) --------------------

// InitStd is HF's _init_weights scale for a T5 parameter (factor 1): shared and lm_head 1;
// q (d·dkv)^-½; k, v d^-½; o (H·dkv)^-½; wi* d^-½; wo d_ff^-½; relative bias d^-½;
// layer norms are constant 1 (std 0).
func InitStd(c Config, name string) float64 {
	d := float64(c.DModel)
	switch {
	case strings.HasSuffix(name, "layer_norm.weight"):
		return 0
	case name == "shared.weight" || name == "lm_head.weight":
		return 1
	case strings.HasSuffix(name, ".q.weight"):
		return math.Pow(d*float64(c.DKV), -0.5)
	case strings.HasSuffix(name, ".k.weight"), strings.HasSuffix(name, ".v.weight"),
		strings.Contains(name, ".wi"), strings.HasSuffix(name, "relative_attention_bias.weight"):
		return math.Pow(d, -0.5)
	case strings.HasSuffix(name, ".o.weight"):
		return math.Pow(float64(c.Heads*c.DKV), -0.5)
	case strings.HasSuffix(name, ".wo.weight"):
		return math.Pow(float64(c.DFF), -0.5)
	}
	return 0.02
}

// UniformTensor fills shape with float32(offset + (2u−1)·halfWidth), u from splitmix64 seeded
// by fnv1a64(name) XOR seed·golden — the generator the reference fixtures were made with, so
// random presets are identical on every machine and independent of libtorch's RNG.
func UniformTensor(name string, shape []int64, seed uint64, offset, halfWidth float64) []float32 {
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	const golden = 0x9E3779B97F4A7C15
	h := uint64(0xCBF29CE484222325)
	for _, b := range []byte(name) {
		h ^= uint64(b)
		h *= 0x100000001B3
	}
	state := h ^ (seed * golden)
	out := make([]float32, n)
	for i := int64(0); i < n; i++ {
		z := state + uint64(i+1)*golden
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		z ^= z >> 31
		u := (float64(z>>40) + 0.5) / (1 << 24)
		out[i] = float32(offset + (2*u-1)*halfWidth)
	}
	return out
}

// RandomWeights makes every tensor of cfg with HF-like scales from seed (layer norms 1).
func RandomWeights(cfg Config, seed int64) map[string]*ts.Tensor {
	out := map[string]*ts.Tensor{}
	for name, shape := range WeightShapes(cfg) {
		out[name] = randomTensor(cfg, name, shape, seed)
	}
	return out
}

// randomTensor is one tensor of RandomWeights (NewRandomNF4 draws them one at a time).
func randomTensor(cfg Config, name string, shape []int64, seed int64) *ts.Tensor {
	offset, halfWidth := 1.0, 0.0 // layer norms: 1
	if std := InitStd(cfg, name); std != 0 {
		offset, halfWidth = 0, std*math.Sqrt(3)
	}
	return ts.MustOfSlice(UniformTensor(name, shape, uint64(seed), offset, halfWidth)).MustView(shape, true)
}
