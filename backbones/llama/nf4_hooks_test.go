package llama

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// testMethod is a hook method of every kind at once, for the recomputed backward: LoRA-like
// linear hooks (y + B A dropout(x), B nonzero) at every linear site, adapter-like sublayer
// hooks (h + tanh(h D) U), bias norm hooks, and a prompt; its parameters are made on first
// use from a Go generator seeded by the site (libtorch's generator is reseeded by the
// recomputation, so it must not decide them).
type testMethod struct {
	dropout float64
	params  map[string]*ts.Tensor
}

func (m *testMethod) param(name string, shape ...int64) *ts.Tensor {
	if p, ok := m.params[name]; ok {
		return p
	}
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	r := rand.New(rand.NewSource(int64(len(m.params)) + 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 0.1)
	}
	p := ts.MustOfSlice(v).MustView(shape, true).MustSetRequiresGrad(true, true)
	m.params[name] = p
	return p
}

func lastDim(t *ts.Tensor) int64 { s := t.MustSize(); return s[len(s)-1] }

func (m *testMethod) hooks() *core.Hooks {
	return &core.Hooks{
		Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
			a := m.param(c.Site+".A", 2, lastDim(x))
			b := m.param(c.Site+".B", lastDim(y), 2)
			in := ts.MustDropout(x, m.dropout, c.Train())
			h := in.MustMatmul(a.MustT(false), true).MustMatmul(b.MustT(false), true)
			out := y.MustAdd(h, false)
			h.MustDrop()
			return out
		},
		Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
			d := m.param(c.Site+".D", lastDim(h), 3)
			u := m.param(c.Site+".U", 3, lastDim(h))
			z := h.MustMatmul(d, false).MustTanh(true).MustMatmul(u, true)
			out := h.MustAdd(z, false)
			z.MustDrop()
			return out
		},
		Norm: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
			return h.MustAdd(m.param(c.Site+".bias", lastDim(h)), false)
		},
	}
}

// gradStep is one training step of the trainer's shape (forward, zero every gradient, then
// backward) on a prompted batch; zero false leaves the gradients to accumulate. It returns
// the loss.
func gradStep(t *testing.T, bb *Backbone, batch *core.Batch, prompt *ts.Tensor, params []*ts.Tensor, zero bool) float64 {
	t.Helper()
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
	if zero {
		for _, p := range params {
			if g := p.MustGrad(false); g.MustDefined() {
				g.MustZero_()
			}
		}
	}
	v := loss.Float64Values()[0]
	loss.MustBackward()
	loss.MustDrop()
	return v
}

// Hooks, unfrozen norms and a prompt on an NF4 model: the recomputed backward gives every
// trainable tensor the gradient plain autograd gives (within 1e-5 of the largest), over two
// steps whose gradients accumulate, while the trainer zeroes gradients between forward and
// backward (so they must come through the returned loss); also when the forward keeps its
// dequantised weights for the backward (KeepEnv: a budget for every layer, freed layer by
// layer as the backward goes).
func TestNF4RecomputedBackwardWithHooksMatchesAutograd(t *testing.T) {
	for _, keep := range []string{"", "1"} {
		t.Run("keep="+keep, func(t *testing.T) {
			t.Setenv(KeepEnv, keep)
			hooksMatchAutograd(t, keep != "")
		})
	}
}

func hooksMatchAutograd(t *testing.T, keep bool) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 8, Quant: core.QuantNF4})
	m := bb.Model()
	rows := []core.Encoded{{Source: bb.EncodeSource("a source", 32), Target: bb.EncodeTarget("label", 8)},
		{Source: bb.EncodeSource("another, longer source", 32), Target: bb.EncodeTarget("x", 8)}}
	batch, _ := bb.Collate(rows, core.CollateOptions{Train: true})
	defer batch.Close()
	ts.ManualSeed(2)
	prompt := ts.MustRandn([]int64{3, bb.Info().DModel}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer prompt.MustDrop()
	method := &testMethod{params: map[string]*ts.Tensor{}}
	bb.SetHooks(method.hooks())
	defer bb.SetHooks(nil)
	norms := []*ts.Tensor{m.layers[0].attnNorm, m.norm}
	for _, w := range norms {
		w.MustRequiresGrad_(true)
		defer w.MustRequiresGrad_(false)
	}
	gradsOf := func(plain bool) map[string][]float32 {
		m.plainBackward = plain
		all := append([]*ts.Tensor{prompt}, norms...)
		for _, p := range method.params {
			all = append(all, p)
		}
		before := recomputed
		gradStep(t, bb, batch, prompt, all, true)
		for _, p := range method.params { // made during the first step
			all = append(all, p)
		}
		gradStep(t, bb, batch, prompt, all, false)
		if took := recomputed != before; took == plain {
			t.Fatalf("plain %v: recomputed path taken %v", plain, took)
		}
		out := map[string][]float32{}
		named := map[string]*ts.Tensor{"prompt": prompt, "norm0": norms[0], "norm": norms[1]}
		for k, p := range method.params {
			named[k] = p
		}
		for k, p := range named {
			g := p.MustGrad(false)
			out[k] = float32s(g)
			g.MustZero_()
			g.MustDrop()
		}
		return out
	}
	want := gradsOf(true)
	keptAt := map[int]int{}
	recomputeCheck = func(layer int, _, _ *ts.Tensor) { keptAt[layer] = len(m.kept) }
	got := gradsOf(false)
	recomputeCheck = nil
	for i := range m.layers {
		if want := 7 * (i + 1); keep && keptAt[i] != want || !keep && keptAt[i] != 0 {
			t.Fatalf("keep %v: %d weights kept when layer %d is recomputed", keep, keptAt[i], i)
		}
	}
	if len(m.kept) != 0 {
		t.Fatalf("%d kept weights left after the step", len(m.kept))
	}
	if len(want) < 20 {
		t.Fatalf("only %d trainable tensors", len(want))
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	worst, worstName := 0.0, ""
	for _, k := range names {
		var big, diff float64
		for i := range want[k] {
			big = math.Max(big, math.Abs(float64(want[k][i])))
			diff = math.Max(diff, math.Abs(float64(want[k][i]-got[k][i])))
		}
		if big == 0 {
			t.Fatalf("%s: zero gradient", k)
		}
		if diff/big > worst {
			worst, worstName = diff/big, k
		}
	}
	t.Logf("%d tensors; worst relative gradient difference %.3g (%s)", len(names), worst, worstName)
	if worst > 1e-5 {
		t.Fatalf("gradients differ: %s by %g of its largest", worstName, worst)
	}
}

// With dropout in the hooks, each layer's recomputation draws the masks of its forward pass:
// equal outputs, layer by layer; and dropout does change the loss.
func TestNF4RecomputedHooksRedrawTheSameDropout(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 9, Quant: core.QuantNF4})
	rows := []core.Encoded{{Source: bb.EncodeSource("some source text", 32), Target: bb.EncodeTarget("label", 8)}}
	batch, _ := bb.Collate(rows, core.CollateOptions{Train: true})
	defer batch.Close()
	prompt := ts.MustZeros([]int64{2, bb.Info().DModel}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer prompt.MustDrop()
	loss := map[float64]float64{}
	for _, p := range []float64{0, 0.5} {
		method := &testMethod{dropout: p, params: map[string]*ts.Tensor{}}
		bb.SetHooks(method.hooks())
		checked, worst := 0, 0.0
		recomputeCheck = func(layer int, forward, again *ts.Tensor) {
			d := forward.MustSub(again, false).MustAbs(true).MustMax(true)
			worst = math.Max(worst, d.Float64Values(true)[0])
			checked++
		}
		loss[p] = gradStep(t, bb, batch, prompt, nil, false)
		recomputeCheck = nil
		bb.SetHooks(nil)
		if checked != int(bb.Model().Cfg.Layers) || worst != 0 {
			t.Fatalf("dropout %v: %d layers checked, recomputation differs by %g", p, checked, worst)
		}
	}
	t.Logf("loss without dropout %.5f, with %.5f", loss[0], loss[0.5])
	if loss[0] == loss[0.5] || fmt.Sprint(loss[0.5]) == "NaN" {
		t.Fatalf("dropout did not change the loss: %v", loss)
	}
}
