package t5

// --quant nf4: T5's frozen linear weights stored 4-bit, as QLoRA stores a base model's.
//
// Every block's linear weights (attention q, k, v, o; the FFN's wi or wi_0/wi_1, wo) are
// NF4 with double-quantised block scales (backbones/quant, the code Llama's --quant nf4
// uses); the shared embedding table, the layer norms, the relative position biases and an
// untied LM head stay float32, as QLoRA leaves embeddings, norms and the LM head. A 4-bit
// weight's field in the model is nil: linearTo dequantises it for one matmul and drops it,
// so at most one layer's weights are ever in full precision. The bf16 fast forms give way:
// q, k and v are not stacked (stackQKV) and cross-attention runs in its plain form (block).
//
// A model is built tensor by tensor (buildNF4): each full-precision weight is made (random
// init) or read (a checkpoint's safetensors, by header offsets) only when its turn comes and
// is quantised at once, so loading a 3B or 11B model never holds more than one of its
// full-precision matrices. Training steps of input-family methods run the layer-by-layer
// recomputed backward (recompute.go), so the backward pass never holds them either.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/backbones/quant"
)

// packedLinears are the 4-bit linear weights by site (HF module name, e.g.
// "encoder.block.0.layer.0.SelfAttention.q"; the weight's name is site + ".weight").
type packedLinears map[string]*quant.NF4

// numel counts the weights the packed matrices stand for.
func (p packedLinears) numel() int64 {
	var n int64
	for _, q := range p {
		k := int64(1)
		for _, s := range q.Shape {
			k *= s
		}
		n += k
	}
	return n
}

// bytes is the storage the 4-bit weights take (codes, double-quantised scales).
func (p packedLinears) bytes() int64 {
	var n int64
	for _, q := range p {
		n += q.Bytes()
	}
	return n
}

func (p packedLinears) drop() {
	for _, q := range p {
		q.Drop()
	}
}

// linearSuffixes are the weights --quant nf4 stores 4-bit: every linear map inside a block.
var linearSuffixes = []string{".q.weight", ".k.weight", ".v.weight", ".o.weight",
	".wi.weight", ".wi_0.weight", ".wi_1.weight", ".wo.weight"}

// quantisable reports whether the weight called name is stored 4-bit: a block's linear whose
// size is a whole number of NF4 blocks (every released T5's are; a matrix that is not stays
// float32, as Llama's loader does).
func quantisable(name string, shape []int64) bool {
	if !strings.Contains(name, ".block.") || len(shape) != 2 || (shape[0]*shape[1])%quant.NF4Block != 0 {
		return false
	}
	for _, s := range linearSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// dequantized is the float32 (bf16 in bf16 mode) weight of the 4-bit linear at site; the
// caller drops it. A site with neither a weight nor a 4-bit one is a programming error.
func (m *Model) dequantized(site string) *ts.Tensor {
	q := m.nf4[site]
	if q == nil {
		panic(fmt.Errorf("t5: linear %s has no weight", site))
	}
	dtype := gotch.Float
	if m.bf16 {
		dtype = gotch.BFloat16
	}
	// DequantizeAs: the same values as Dequantize (then the bf16 cast), written by Go code in
	// one pass (backbones/quant: about 5× faster per weight on these CPUs).
	w, err := q.DequantizeAs(dtype)
	if err != nil {
		panic(fmt.Errorf("t5: dequantising %s: %w", site, err)) // recovered into the run's error
	}
	return w
}

// Quantized reports whether the model's linear weights are 4-bit (--quant nf4).
func (m *Model) Quantized() bool { return len(m.nf4) > 0 }

// QuantizedBytes is the storage of the 4-bit weights; FullPrecisionBytes that of the rest.
func (m *Model) QuantizedBytes() int64 { return m.nf4.bytes() }

// FullPrecisionBytes is the storage of the weights kept in float32 or bf16.
func (m *Model) FullPrecisionBytes() int64 {
	var n int64
	for _, t := range m.weights {
		n += int64(t.Numel()) * int64(t.DType().Size())
	}
	return n
}

// tensorSource hands out a model's tensors by HF name, one at a time (the caller owns each).
type tensorSource func(name string, shape []int64) (*ts.Tensor, error)

// buildNF4 assembles a model with 4-bit linears from src, asking for one tensor at a time
// (in name order) and quantising each linear weight as it arrives.
//
// With bf16 compute each matrix is rounded to bfloat16 before it is quantised, as QLoRA loads
// the model in bf16 (its --bf16 runs' torch_dtype) and bitsandbytes then quantises those
// weights.
func buildNF4(cfg Config, src tensorSource, source string, roundToBF16 bool) (m *Model, err error) {
	want := WeightShapes(cfg)
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	packed := packedLinears{}
	full := map[string]*ts.Tensor{}
	defer func() {
		if err != nil {
			packed.drop()
			dropAll(full)
		}
	}()
	for _, n := range names {
		t, err := src(n, want[n])
		if err != nil {
			return nil, err
		}
		if !quantisable(n, want[n]) {
			full[n] = t // buildModel checks its shape and dtype
			continue
		}
		if got := t.MustSize(); !slices.Equal(got, want[n]) || !isFloat(t.DType()) {
			t.MustDrop()
			return nil, fmt.Errorf("%s: tensor %q is %v %v, config.json implies float %v", source, n, t.DType(), got, want[n])
		}
		if roundToBF16 && t.DType() != gotch.BFloat16 {
			bf, convErr := t.Totype(gotch.BFloat16, true)
			if convErr != nil {
				return nil, fmt.Errorf("%s: %s: %w", source, n, convErr)
			}
			t = bf
		}
		q, err := quant.QuantizeNF4(t)
		t.MustDrop()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", source, n, err)
		}
		packed[strings.TrimSuffix(n, ".weight")] = q
	}
	m, _, err = buildModel(cfg, full, packed, source)
	return m, err
}

func isFloat(d gotch.DType) bool {
	return d == gotch.Float || d == gotch.BFloat16 || d == gotch.Half || d == gotch.Double
}

// NewRandomNF4 is the random-init model of cfg (RandomWeights' values, seed for seed) with
// 4-bit linears, drawn one matrix at a time: a t5-11b preset never exists in float32.
func NewRandomNF4(cfg Config, seed int64, roundToBF16 bool) (*Model, error) {
	return buildNF4(cfg, func(name string, shape []int64) (*ts.Tensor, error) {
		return randomTensor(cfg, name, shape, seed), nil
	}, "random init", roundToBF16)
}

// LoadModelDirNF4 is LoadModelDir with 4-bit linears. Safetensors are read tensor by tensor
// at their headers' offsets, so each matrix is quantised as it is read and nothing else of
// its shard is in memory; a pickled .bin can only be read whole, one file at a time (its
// tensors wait until asked for). Tensors the model does not use are not kept.
func LoadModelDirNF4(dir string, roundToBF16 bool) (*Model, error) {
	hc, err := hf.LoadT5Config(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromHF(hc)
	if err != nil {
		return nil, err
	}
	weights, err := hf.OpenLazyWeights(dir, nil)
	if err != nil {
		return nil, err
	}
	defer weights.Close()
	return buildNF4(cfg, func(name string, _ []int64) (*ts.Tensor, error) { return weights.Take(name) }, dir, roundToBF16)
}
