package llama

// llama2.c's .bin checkpoints: the header, its checked size arithmetic, and the reader.

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/sugarme/gotch/ts"
)

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
