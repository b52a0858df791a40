package llama

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
)

// LoadOptions say how weights are stored once loaded (typed: parsed once, in core).
type LoadOptions struct {
	DType core.DType // compute dtype: core.Float32 (default) or core.BFloat16
	Quant core.Quant // core.QuantNone: full precision; core.QuantNF4: linear weights as NF4
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
	m = &Model{Cfg: cfg, DType: o.DType.Torch()}
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
		return t, nil
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
			l.q, err = QuantizeNF4(t)
			t.MustDrop()
			return l, err
		}
		if t.DType() != m.DType {
			t = t.MustTotype(m.DType, true)
		}
		l.w = t
		return l, nil
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

// ---- llama2.c .bin --------------------------------------------------------------------------

// BinHeader is llama2.c's checkpoint header (7 × int32).
type BinHeader struct {
	Dim, Hidden, Layers, Heads, KVHeads, Vocab, SeqLen int32
}

// ReadBinHeader reads the header of a llama2.c checkpoint.
func ReadBinHeader(path string) (BinHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return BinHeader{}, err
	}
	defer f.Close()
	var h BinHeader
	if err := binary.Read(f, binary.LittleEndian, &h); err != nil {
		return h, fmt.Errorf("%s: llama2.c header (7 × int32, 28 bytes): %w", path, err)
	}
	return h, nil
}

// binConfig derives the model config; a negative vocab means an untied classifier.
func (h BinHeader) config() Config {
	v := int64(h.Vocab)
	tied := v > 0
	if v < 0 {
		v = -v
	}
	return Config{Vocab: v, Dim: int64(h.Dim), Hidden: int64(h.Hidden), Layers: int64(h.Layers), Heads: int64(h.Heads),
		KVHeads: int64(h.KVHeads), MaxSeq: int64(h.SeqLen), Eps: 1e-5, Theta: 10000, Tied: tied, BOS: 1, EOS: 2, Pad: 0}
}

// probeBin accepts a file whose 28-byte header is a plausible llama2.c header and whose size
// matches the weights it announces.
func probeBin(path string) bool { return checkBin(path) == nil }

// checkBin says why path is not a loadable llama2.c checkpoint (nil when it is): unreadable,
// shorter than its header, a header with impossible sizes, sizes whose byte count overflows,
// or a file size that differs from what the header announces. Every size derived from the
// header goes through checked arithmetic, so a lying header can never reach an allocation.
func checkBin(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a llama2.c .bin", path)
	}
	h, err := ReadBinHeader(path)
	if err != nil {
		return err
	}
	c := h.config()
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: llama2.c header %+v: %w", path, h, err)
	}
	if c.MaxSeq <= 0 {
		return fmt.Errorf("%s: llama2.c header: seq_len %d must be positive", path, h.SeqLen)
	}
	want, err := binSize(c)
	if err != nil {
		return fmt.Errorf("%s: llama2.c header %+v: %w", path, h, err)
	}
	if st.Size() != want {
		return fmt.Errorf("%s: llama2.c header %+v announces %d bytes of weights, the file has %d", path, h, want, st.Size())
	}
	return nil
}

// binSize is the byte size of a llama2.c checkpoint of c, or an error when a count overflows
// int64 (a header can announce sizes whose product wraps around to a small number).
func binSize(c Config) (int64, error) {
	params, err := checkedNumParams(c)
	if err != nil {
		return 0, err
	}
	freqs, ok := mulInt64(c.MaxSeq, c.HeadSize())
	n, ok2 := addInt64(params, freqs)
	bytes, ok3 := mulInt64(n, 4)
	total, ok4 := addInt64(bytes, 28)
	if !ok || !ok2 || !ok3 || !ok4 {
		return 0, fmt.Errorf("llama2.c header: the checkpoint size overflows int64")
	}
	return total, nil
}

// checkedNumParams is NumParams with every product and sum checked for int64 overflow.
func checkedNumParams(c Config) (int64, error) {
	ok := true
	mul := func(a, b int64) int64 {
		p, good := mulInt64(a, b)
		ok = ok && good
		return p
	}
	add := func(xs ...int64) int64 {
		var s int64
		for _, x := range xs {
			var good bool
			s, good = addInt64(s, x)
			ok = ok && good
		}
		return s
	}
	kv := mul(c.KVHeads, c.HeadSize())
	perLayer := add(mul(2, c.Dim), mul(mul(c.Dim, c.Dim), 2), mul(mul(2, c.Dim), kv), mul(mul(3, c.Dim), c.Hidden))
	embed := mul(c.Vocab, c.Dim)
	n := add(embed, mul(c.Layers, perLayer), c.Dim)
	if !c.Tied {
		n = add(n, embed)
	}
	if !ok {
		return 0, fmt.Errorf("llama config: the parameter count overflows int64 (vocab %d, dim %d, hidden %d, layers %d)", c.Vocab, c.Dim, c.Hidden, c.Layers)
	}
	return n, nil
}

// mulInt64 multiplies non-negative a and b, reporting false on overflow.
func mulInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

// addInt64 adds non-negative a and b, reporting false on overflow.
func addInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// NumParamsShape counts the parameters of a config (a tied head counted once).
func (c Config) NumParamsShape() int64 { return (&Model{Cfg: c}).NumParams() }

// PermuteRoPE turns llama2.c's (interleaved-pair) q/k rows into HF's rotate-half order:
// hf[h·hs + p·hs/2 + i] = l2c[h·hs + 2i + p]. w is [nHeads·hs, in] row-major.
func PermuteRoPE(w []float32, nHeads, hs, in int) []float32 {
	out := make([]float32, len(w))
	for h := 0; h < nHeads; h++ {
		for p := 0; p < 2; p++ {
			for i := 0; i < hs/2; i++ {
				dst := (h*hs + p*(hs/2) + i) * in
				src := (h*hs + 2*i + p) * in
				copy(out[dst:dst+in], w[src:src+in])
			}
		}
	}
	return out
}

// LoadBin reads a llama2.c checkpoint (legacy export: header, then every tensor with all
// layers back to back) into HF-named tensors, q/k rows permuted to HF's order.
func LoadBin(path string) (Config, map[string][]float32, error) {
	h, err := ReadBinHeader(path)
	if err != nil {
		return Config{}, nil, err
	}
	c := h.config()
	// The sizes are checked against the file before anything is allocated: a header may lie.
	if err := checkBin(path); err != nil {
		return c, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return c, nil, err
	}
	defer f.Close()
	if _, err := f.Seek(28, io.SeekStart); err != nil {
		return c, nil, err
	}
	read := func(n int64) ([]float32, error) {
		out := make([]float32, n)
		if err := binary.Read(f, binary.LittleEndian, out); err != nil {
			return nil, fmt.Errorf("%s: truncated checkpoint: %w", path, err)
		}
		return out, nil
	}
	hs := c.HeadSize()
	kv := c.KVHeads * hs
	out := map[string][]float32{}
	perLayer := func(name string, rows, cols int64, permHeads int64) error {
		all, err := read(c.Layers * rows * cols)
		if err != nil {
			return err
		}
		for l := int64(0); l < c.Layers; l++ {
			w := all[l*rows*cols : (l+1)*rows*cols]
			if permHeads > 0 {
				w = PermuteRoPE(w, int(permHeads), int(hs), int(cols))
			}
			out[fmt.Sprintf("model.layers.%d.%s.weight", l, name)] = w
		}
		return nil
	}
	if out["model.embed_tokens.weight"], err = read(c.Vocab * c.Dim); err != nil {
		return c, nil, err
	}
	steps := []struct {
		name       string
		rows, cols int64
		perm       int64
	}{
		{"input_layernorm", 1, c.Dim, 0},
		{"self_attn.q_proj", c.Dim, c.Dim, c.Heads},
		{"self_attn.k_proj", kv, c.Dim, c.KVHeads},
		{"self_attn.v_proj", kv, c.Dim, 0},
		{"self_attn.o_proj", c.Dim, c.Dim, 0},
		{"post_attention_layernorm", 1, c.Dim, 0},
		{"mlp.gate_proj", c.Hidden, c.Dim, 0},
		{"mlp.down_proj", c.Dim, c.Hidden, 0},
		{"mlp.up_proj", c.Hidden, c.Dim, 0},
	}
	for _, s := range steps {
		if err := perLayer(s.name, s.rows, s.cols, s.perm); err != nil {
			return c, nil, err
		}
	}
	if out["model.norm.weight"], err = read(c.Dim); err != nil {
		return c, nil, err
	}
	if _, err := read(c.MaxSeq * hs); err != nil { // freq_cis_real, freq_cis_imag (unused)
		return c, nil, err
	}
	if !c.Tied {
		if out["lm_head.weight"], err = read(c.Vocab * c.Dim); err != nil {
			return c, nil, err
		}
	}
	return c, out, nil
}

// OpenBin loads a llama2.c checkpoint as a Model.
func OpenBin(path string, o LoadOptions) (*Model, error) {
	cfg, w, err := LoadBin(path)
	if err != nil {
		return nil, err
	}
	return build(cfg, func(name string, shape []int64) (*ts.Tensor, error) {
		v, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %s", path, name)
		}
		delete(w, name)
		return ts.MustOfSlice(v).MustView(shape, true), nil
	}, o)
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
	files, err := hf.WeightFiles(dir)
	if err != nil {
		return nil, err
	}
	where := map[string]*safetensors.Header{}
	var pickled []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".safetensors") {
			pickled = append(pickled, f)
			continue
		}
		h, err := safetensors.ReadHeader(f)
		if err != nil {
			return nil, err
		}
		for _, n := range h.Names() {
			where[n] = h
		}
	}
	pending := map[string]*ts.Tensor{}
	next := 0
	defer func() {
		for _, t := range pending {
			t.MustDrop()
		}
	}()
	src := func(name string, _ []int64) (*ts.Tensor, error) {
		if h, ok := where[name]; ok {
			return readTensor(h, name)
		}
		for {
			if t, ok := pending[name]; ok {
				delete(pending, name)
				return t, nil
			}
			if next >= len(pickled) {
				return nil, fmt.Errorf("%s: no tensor %s in the weight files", dir, name)
			}
			part, err := loadWeightFile(pickled[next])
			next++
			if err != nil {
				return nil, err
			}
			for n, t := range part {
				if strings.HasSuffix(n, "rotary_emb.inv_freq") {
					t.MustDrop()
					continue
				}
				pending[n] = t
			}
		}
	}
	return build(cfg, src, o)
}

// readTensor reads one tensor's bytes from a safetensors file at its header offsets.
func readTensor(h *safetensors.Header, name string) (*ts.Tensor, error) {
	info, _ := h.Info(name)
	f, err := os.Open(h.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, info.End-info.Begin)
	if _, err := f.ReadAt(data, h.DataStart()+info.Begin); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %w", h.Path, name, err)
	}
	return core.ToTorch(&safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: data})
}

func loadWeightFile(path string) (map[string]*ts.Tensor, error) {
	if strings.HasSuffix(path, ".safetensors") {
		return core.LoadTorchFile(path)
	}
	out, err := pickle.Decode(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
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
