package t5

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/quant"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// openTiny opens the t5-tiny preset (closed at the end of the test).
func openTiny(t *testing.T, opts core.BackboneOptions) *Backbone {
	t.Helper()
	bb, err := core.OpenBackbone("t5-tiny", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb.(*Backbone)
}

// dequantizedTwin is a float32 copy of a 4-bit model whose linears are its dequantised
// weights: the same function, computed the plain way.
func dequantizedTwin(t *testing.T, m *Model) *Backbone {
	t.Helper()
	tensors := map[string]*ts.Tensor{}
	for n, w := range m.weights {
		tensors[n] = w.MustMulScalar(scalar(1), false)
	}
	for site, q := range m.nf4 {
		tensors[site+".weight"] = q.Dequantize()
	}
	twin, _, err := NewModel(m.Cfg, tensors, "twin")
	if err != nil {
		t.Fatal(err)
	}
	bb, err := newBackbone("twin", twin, "t5-v1.0", "float32", "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

func tinyBatch(t *testing.T, bb *Backbone, train bool) *core.Batch {
	t.Helper()
	rows := []core.Encoded{{Source: bb.EncodeSource("a source sentence", 32), Target: bb.EncodeTarget("label", 8)},
		{Source: bb.EncodeSource("another, longer source sentence here", 32), Target: bb.EncodeTarget("no", 8)}}
	b, err := bb.Collate(rows, core.CollateOptions{Train: train})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// promptLoss is PT's training loss for a prompt prepended to the batch, and the prompt's
// gradient.
func promptLoss(t *testing.T, bb *Backbone, b *core.Batch, prompt *ts.Tensor) (float64, []float64) {
	t.Helper()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	x, err := core.PrependPrompt(in, prompt)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	loss, err := bb.Loss(x, b.Labels)
	if err != nil {
		t.Fatal(err)
	}
	v := loss.Float64Values()[0]
	loss.MustBackward()
	loss.MustDrop()
	g := prompt.MustGrad(false)
	out := float64s(g)
	g.MustZero_()
	g.MustDrop()
	return v, out
}

// float64s reads a float32 tensor's values.
func float64s(x *ts.Tensor) []float64 {
	c := x.MustDetach(false).MustTotype(gotch.Double, true).MustContiguous(true)
	return c.Float64Values(true)
}

func newPrompt(d int64, seed int64) *ts.Tensor {
	ts.ManualSeed(seed)
	return ts.MustRandn([]int64{3, d}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
}

// PT's loss and prompt gradient on a 4-bit model (the recomputed backward) equal those of
// its dequantised float32 twin (plain autograd): quantisation changes the weights, nothing
// else. In bf16 the reference is the same 4-bit model under plain autograd (the twin would
// take the bf16 fast forms, which round differently).
func TestNF4LossAndPromptGradientEqualTheDequantisedModels(t *testing.T) {
	lockThread(t)
	for _, dtype := range []core.DType{core.Float32, core.BFloat16} {
		q := openTiny(t, core.BackboneOptions{Seed: 6, Quant: core.QuantNF4, DType: dtype})
		ref := q
		if dtype == core.Float32 {
			ref = dequantizedTwin(t, q.Model())
		}
		b := tinyBatch(t, q, true)
		prompt := newPrompt(q.Info().DModel, 1)
		defer prompt.MustDrop()
		before := recomputedForwards
		lq, gq := promptLoss(t, q, b, prompt)
		if recomputedForwards != before+1 {
			t.Fatalf("%s: the 4-bit training loss did not take the recomputed backward", dtype)
		}
		plainBackward = true
		lt, gt := promptLoss(t, ref, b, prompt)
		plainBackward = false
		if recomputedForwards != before+1 {
			t.Fatalf("%s: the reference took the recomputed backward", dtype)
		}
		worst, scale := 0.0, 0.0
		for i := range gq {
			worst = math.Max(worst, math.Abs(gq[i]-gt[i]))
			scale = math.Max(scale, math.Abs(gt[i]))
		}
		t.Logf("%s: loss nf4 %.6f, reference %.6f; prompt gradient max |Δ| %.3g of max |g| %.3g", dtype, lq, lt, worst, scale)
		if scale == 0 || math.Abs(lq-lt) > 1e-5*lt || worst > 1e-5*scale {
			t.Fatalf("%s: 4-bit loss %v vs twin %v, gradient max |Δ| %g (max |g| %g)", dtype, lq, lt, worst, scale)
		}
	}
}

// With dropout on (a checkpoint's training steps), the recomputed backward runs every segment
// (input dropout, each block, the encoder's final norm) again with the masks of its forward
// run: each second run's output equals the first's exactly. (Without dropout the previous
// test shows the gradient is autograd's; with the same masks, the same segments compute it.)
func TestNF4RecomputedBackwardRedrawsTheDropoutMasks(t *testing.T) {
	lockThread(t)
	rate := 0.2
	q := openTiny(t, core.BackboneOptions{Seed: 8, Quant: core.QuantNF4, Dropout: &rate})
	b := tinyBatch(t, q, true)
	prompt := newPrompt(q.Info().DModel, 2)
	defer prompt.MustDrop()
	seen := map[int]float64{}
	recomputeCheck = func(segment int, forward, again *ts.Tensor) {
		d := forward.MustSub(again, false).MustAbs(true).MustMax(true)
		seen[segment] = math.Max(seen[segment], d.Float64Values(true)[0])
	}
	defer func() { recomputeCheck = nil }()
	ts.ManualSeed(11)
	l0, g := promptLoss(t, q, b, prompt)
	ts.ManualSeed(12)
	if l1, _ := promptLoss(t, q, b, prompt); l1 == l0 {
		t.Fatal("dropout is off: the loss does not depend on the masks")
	}
	c := q.Model().Cfg
	if want := int(c.EncoderLayers+c.DecoderLayers) + 2; len(seen) != want {
		t.Fatalf("%d segments checked, want %d", len(seen), want)
	}
	for seg, d := range seen {
		if d != 0 {
			t.Errorf("segment %d: its second run differs from its forward run by %g", seg, d)
		}
	}
	if norm := math.Sqrt(dot(g, g)); norm == 0 || math.IsNaN(norm) {
		t.Fatalf("prompt gradient norm %v", norm)
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// The 4-bit model: every block linear is 4-bit (no float tensor, nothing a method could
// train), embeddings, norms and position biases stay float32; the parameter count and hook
// sites are the float32 model's; its loss is close to the float32 model's; it generates what
// its dequantised twin generates; a linear hook (LoRA on a 4-bit base, QLoRA) sees every
// projection and trains through the plain backward.
func TestNF4ModelStorageLossGenerationAndHooks(t *testing.T) {
	lockThread(t)
	fp := openTiny(t, core.BackboneOptions{Seed: 4})
	q := openTiny(t, core.BackboneOptions{Seed: 4, Quant: core.QuantNF4})
	m := q.Model()
	if !m.Quantized() || fp.Model().Quantized() || !strings.Contains(q.Info().DType, "nf4") {
		t.Fatalf("Quantized() %v / %v, dtype %q", m.Quantized(), fp.Model().Quantized(), q.Info().DType)
	}
	c := m.Cfg
	if want := 6*int(c.EncoderLayers) + 10*int(c.DecoderLayers); len(m.nf4) != want {
		t.Fatalf("%d 4-bit linears, want %d", len(m.nf4), want)
	}
	for site := range m.nf4 {
		if m.Weight(site+".weight") != nil {
			t.Errorf("%s is 4-bit and also a float tensor", site)
		}
	}
	for _, w := range q.Weights() {
		if quantisable(w.Name, w.Tensor.MustSize()) || w.Tensor.DType() != gotch.Float {
			t.Errorf("listed weight %s (%v) should be 4-bit", w.Name, w.Tensor.DType())
		}
	}
	if n := len(q.Weights()); n != 1+2*int(c.EncoderLayers)+3*int(c.DecoderLayers)+2+2 {
		t.Errorf("%d full-precision weights", n)
	}
	if q.Info().NumParams != fp.Info().NumParams || len(q.HookSites()) != len(fp.HookSites()) {
		t.Errorf("params %d vs %d, hook sites %d vs %d", q.Info().NumParams, fp.Info().NumParams, len(q.HookSites()), len(fp.HookSites()))
	}
	packed := m.nf4.numel()
	// 4 bits of code, plus the double-quantised scales (8 bits per 64 weights, one fp32 per
	// 256 blocks; a tiny matrix pads its last 256-block).
	if bits := 8 * float64(m.QuantizedBytes()) / float64(packed); bits < 4 || bits > 4.5 {
		t.Errorf("4-bit storage is %.3f bits per weight", bits)
	}

	b := tinyBatch(t, q, false)
	loss := func(bb *Backbone) float64 {
		in := core.EmbedBatch(bb, b)
		defer in.Drop()
		l, err := bb.Loss(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		defer l.MustDrop()
		return l.Float64Values()[0]
	}
	lf, lq := loss(fp), loss(q)
	t.Logf("loss float32 %.5f, nf4 %.5f", lf, lq)
	if math.Abs(lf-lq) > 0.05*lf || lf == lq {
		t.Errorf("nf4 loss %v vs float32 %v", lq, lf)
	}

	twin := dequantizedTwin(t, m)
	gen := func(bb *Backbone) [][]int64 {
		in := core.EmbedBatch(bb, b)
		defer in.Drop()
		out, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 5})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if a, w := gen(q), gen(twin); len(a) != 2 || len(a[0]) != 5 || !equalRows(a, w) {
		t.Errorf("nf4 generated %v, its dequantised twin %v", a, w)
	}

	// A linear hook on one 4-bit projection: y + x·A, A trainable.
	site := "decoder.block.1.layer.1.EncDecAttention.v"
	inner := c.Heads * c.DKV
	ts.ManualSeed(5)
	A := ts.MustRandn([]int64{c.DModel, inner}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer A.MustDrop()
	seen := 0
	q.SetHooks(&core.Hooks{Linear: func(hc core.HookCall, x, y *ts.Tensor) *ts.Tensor {
		if hc.Site != site {
			return y
		}
		seen++
		d := x.MustMatmul(A, false)
		return y.MustAdd(d, false)
	}})
	defer q.SetHooks(nil)
	before := recomputedForwards
	bt := tinyBatch(t, q, true)
	in := core.EmbedBatch(q, bt)
	defer in.Drop()
	l, err := q.Loss(in, bt.Labels)
	if err != nil {
		t.Fatal(err)
	}
	l.MustBackward()
	l.MustDrop()
	g := A.MustGrad(false)
	defer g.MustDrop()
	norm := g.MustNorm(false).Float64Values(true)[0]
	if seen != 1 || norm == 0 || recomputedForwards != before {
		t.Fatalf("hook saw the site %d times, |∂A| %v, recomputed %d", seen, norm, recomputedForwards-before)
	}
}

func equalRows(a, b [][]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// A checkpoint directory loads 4-bit tensor by tensor and holds exactly what the random preset
// quantised from the same weights; the backbone refuses quantisations it does not have.
func TestNF4LoadsACheckpointDirectory(t *testing.T) {
	lockThread(t)
	fp := openTiny(t, core.BackboneOptions{Seed: 9})
	q := openTiny(t, core.BackboneOptions{Seed: 9, Quant: core.QuantNF4})
	dir := t.TempDir()
	raw, err := fp.HFConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := core.SaveTorchFile(filepath.Join(dir, "model.safetensors"), fp.Weights(), map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	loaded, err := core.OpenBackbone(dir, core.BackboneOptions{Quant: core.QuantNF4, Tokenizer: "byte"})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	lm := loaded.(*Backbone).Model()
	if len(lm.nf4) != len(q.Model().nf4) {
		t.Fatalf("loaded %d 4-bit linears, the preset has %d", len(lm.nf4), len(q.Model().nf4))
	}
	for site, want := range q.Model().nf4 {
		got := lm.nf4[site]
		if got == nil {
			t.Fatalf("%s was not loaded 4-bit", site)
		}
		a, b := got.Dequantize(), want.Dequantize()
		same := a.MustEqual(b, false)
		a.MustDrop()
		b.MustDrop()
		if !same {
			t.Fatalf("%s: loaded 4-bit weight differs from the preset's", site)
		}
	}
}

// With bf16 compute the 4-bit codes are those of the bf16-rounded weights, as QLoRA quantises
// the model it loaded in bf16; in fp32 those of the fp32 weights.
func TestNF4QuantisesTheComputeDTypesWeights(t *testing.T) {
	coretest.LockThread(t)
	cfg := Presets["t5-tiny"]
	name := "encoder.block.0.layer.1.DenseReluDense.wi.weight"
	w := randomTensor(cfg, name, WeightShapes(cfg)[name], 1)
	defer w.MustDrop()
	bf := w.MustTotype(gotch.BFloat16, false)
	defer bf.MustDrop()
	codes := func(x *ts.Tensor) []byte {
		q, err := quant.QuantizeNF4(x)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Drop()
		return q.Codes.Vals().([]byte)
	}
	wantFP32, wantBF16 := codes(w), codes(bf)
	if slices.Equal(wantFP32, wantBF16) {
		t.Fatal("rounding to bf16 changed no code: the test proves nothing")
	}
	for _, c := range []struct {
		bf16 bool
		want []byte
	}{{false, wantFP32}, {true, wantBF16}} {
		m, err := NewRandomNF4(cfg, 1, c.bf16)
		if err != nil {
			t.Fatal(err)
		}
		got := m.nf4[strings.TrimSuffix(name, ".weight")].Codes.Vals().([]byte)
		m.Close()
		if !slices.Equal(got, c.want) {
			t.Errorf("bf16 %v: the model's codes are not those of the %s weights", c.bf16, map[bool]string{false: "fp32", true: "bf16-rounded"}[c.bf16])
		}
	}
}
