package llama

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/quant"
	"github.com/ptbench/ptbench/core"
)

// QLoRA's NF4 table as printed in bitsandbytes (csrc/kernels.cu, functional.py).
var qloraNF4 = []float64{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

func TestNF4CodeValuesAreQLoRAs(t *testing.T) {
	for i, v := range qloraNF4 {
		if NF4Code[i] != float32(v) {
			t.Errorf("code %d: %v, QLoRA %v", i, NF4Code[i], float32(v))
		}
	}
}

// Round trip on Gaussian weights: every element within the nearest-code bound (half the
// widest gap between codes, times its block's absmax, plus the absmax's own double-
// quantisation error); the mean absolute error; the double-quantised absmax within half the
// dynamic map's widest gap (times its 256-block's scale) of the true one; and a quantised
// linear's output error equal to what the weight error predicts.
func TestNF4RoundTripDoubleQuantAndLinear(t *testing.T) {
	lockThread(t)
	ts.ManualSeed(7)
	const out, in = 384, 512
	w := ts.MustRandn([]int64{out, in}, gotch.Float, gotch.CPU).MustMulScalar(scalar(0.02), true)
	defer w.MustDrop()
	q, err := QuantizeNF4(w)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Drop()
	deq := q.Dequantize()
	defer deq.MustDrop()
	wv, dv := float32s(w), float32s(deq)
	nb := len(wv) / NF4Block
	// True absmaxes, and the double-quantised ones.
	trueAbs := make([]float64, nb)
	for b := 0; b < nb; b++ {
		for _, v := range wv[b*NF4Block : (b+1)*NF4Block] {
			trueAbs[b] = math.Max(trueAbs[b], math.Abs(float64(v)))
		}
	}
	aq := q.Absmax()
	av := float32s(aq)
	aq.MustDrop()
	scales := float32s(q.Scale)
	code, err := quant.DynamicMap()
	if err != nil {
		t.Fatal(err)
	}
	dynHalfGap := 0.0 // the widest half-gap of the dynamic map (≈ 0.007, near ±1)
	for i := 0; i < 255; i++ {
		dynHalfGap = math.Max(dynHalfGap, float64(code[i+1]-code[i])/2)
	}
	worstA := 0.0
	for b := 0; b < nb; b++ {
		e := math.Abs(float64(av[b]) - trueAbs[b])
		bound := float64(scales[b/NF4Block2])*dynHalfGap*(1+1e-5) + 1e-7
		worstA = math.Max(worstA, e/bound)
		if e > bound {
			t.Fatalf("block %d: double-quantised absmax off by %g > bound %g", b, e, bound)
		}
	}
	maxHalfGap := 0.0
	for i := 0; i < 15; i++ {
		maxHalfGap = math.Max(maxHalfGap, float64(NF4Code[i+1]-NF4Code[i])/2)
	}
	var sumErr, sumAbs, sumSq float64
	for i := range wv {
		b := i / NF4Block
		e := math.Abs(float64(wv[i] - dv[i]))
		bound := trueAbs[b]*maxHalfGap + math.Abs(float64(av[b])-trueAbs[b]) + 1e-7
		if e > bound {
			t.Fatalf("element %d: error %g > bound %g", i, e, bound)
		}
		sumErr += e
		sumSq += e * e
		sumAbs += math.Abs(float64(wv[i]))
	}
	mae := sumErr / float64(len(wv))
	rel := sumErr / sumAbs
	t.Logf("NF4 round trip on N(0, 0.02²) %dx%d: mean |Δw| %.3g (%.2f%% of mean |w|); absmax dq worst %.2f of its bound; storage %d bytes (%.3f bits/weight)",
		out, in, mae, 100*rel, worstA, q.Bytes(), 8*float64(q.Bytes())/float64(len(wv)))
	// For Gaussian weights in blocks of 64, NF4's mean absolute error is ≈ 10% of mean |w|
	// (QLoRA-sized); a broken code book or packing gives far more.
	if rel > 0.12 || rel < 0.05 {
		t.Fatalf("mean relative error %.3f outside [0.05, 0.12]", rel)
	}

	// Linear: y = x Wᵀ; with x ~ N(0, 1) the output error has RMS √in · rms(Δw).
	x := ts.MustRandn([]int64{64, in}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	m := &Model{DType: gotch.Float}
	l := &linear{name: "t", out: out, in: in, q: q}
	yq := m.linear(l, x)
	defer yq.MustDrop()
	wt := w.MustTranspose(0, 1, false)
	y := x.MustMatmul(wt, false)
	wt.MustDrop()
	defer y.MustDrop()
	diff := yq.MustSub(y, false)
	rmsOut := math.Sqrt(diff.MustPowTensorScalar(scalar(2), true).MustMean(gotch.Float, true).Float64Values(true)[0])
	predicted := math.Sqrt(float64(in)) * math.Sqrt(sumSq/float64(len(wv)))
	t.Logf("quantised linear: output RMS error %.4g, predicted %.4g", rmsOut, predicted)
	if math.Abs(rmsOut-predicted) > 0.1*predicted {
		t.Fatalf("output RMS error %g, round trip predicts %g", rmsOut, predicted)
	}
}

// An NF4 model keeps embeddings and norms full precision, lists no quantised weight, and its
// loss stays close to the float32 model's.
func TestNF4ModelLoss(t *testing.T) {
	f32 := tinyBackbone(t, core.BackboneOptions{Seed: 4})
	q := tinyBackbone(t, core.BackboneOptions{Seed: 4, Quant: core.QuantNF4})
	if !q.Model().Quantized() || f32.Model().Quantized() {
		t.Fatal("Quantized() wrong")
	}
	for _, w := range q.Weights() {
		if w.Tensor.DType() != gotch.Float {
			t.Fatalf("%s: dtype %v", w.Name, w.Tensor.DType())
		}
	}
	if n := len(q.Weights()); n != 2+2*int(q.Model().Cfg.Layers)+1 {
		t.Fatalf("nf4 model lists %d full-precision weights", n)
	}
	rows := []core.Encoded{{Source: f32.EncodeSource("some source", 32), Target: f32.EncodeTarget("label", 8)}}
	a, b := lossOf(t, f32, rows), lossOf(t, q, rows)
	t.Logf("loss float32 %.5f, nf4 %.5f", a, b)
	if math.Abs(a-b) > 0.05*a { // ≈9% weight error per linear moves the loss of a random model by a few %
		t.Fatalf("nf4 loss %v vs float32 %v", b, a)
	}
}

// The NF4 model's recomputed (layer-by-layer) backward gives the loss and the prompt
// gradient that plain autograd gives.
func TestNF4RecomputedBackwardMatchesAutograd(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 6, Quant: core.QuantNF4})
	rows := []core.Encoded{{Source: bb.EncodeSource("a source", 32), Target: bb.EncodeTarget("label", 8)},
		{Source: bb.EncodeSource("another, longer source", 32), Target: bb.EncodeTarget("x", 8)}}
	batch, _ := bb.Collate(rows, core.CollateOptions{Train: true})
	defer batch.Close()
	ts.ManualSeed(1)
	prompt := ts.MustRandn([]int64{3, bb.Info().DModel}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer prompt.MustDrop()
	run := func(plain bool) (float64, []float32) {
		bb.Model().plainBackward = plain
		in := core.EmbedBatch(bb, batch)
		defer in.Drop()
		x, err := core.PrependPrompt(in, prompt)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Drop()
		loss, err := bb.Loss(x, batch.Labels)
		if err != nil {
			t.Fatal(err)
		}
		v := loss.Float64Values()[0]
		loss.MustBackward()
		loss.MustDrop()
		g := prompt.MustGrad(false)
		out := float32s(g)
		g.MustZero_()
		g.MustDrop()
		return v, out
	}
	va, ga := run(true)
	before := recomputed
	vb, gb := run(false)
	if recomputed != before+1 {
		t.Fatal("the NF4 training loss did not take the recomputed path")
	}
	nz := 0
	for _, v := range ga {
		if v != 0 {
			nz++
		}
	}
	if nz == 0 {
		t.Fatal("zero prompt gradient")
	}
	worst := 0.0
	for i := range ga {
		worst = math.Max(worst, math.Abs(float64(ga[i]-gb[i])))
	}
	t.Logf("loss %.6f vs %.6f; prompt gradient max |Δ| %.3g", va, vb, worst)
	if math.Abs(va-vb) > 1e-5 || worst > 1e-5 {
		t.Fatalf("recomputed backward differs: loss %v vs %v, gradient %g", vb, va, worst)
	}
}
