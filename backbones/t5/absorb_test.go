package t5

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// In bf16 mode self-attention projects q, k, v with one stacked matmul and a short decoder's
// cross-attention runs absorbed (scores against the encoder states instead of projected keys
// and values). Together they must compute what the plain form computes, up to bf16 rounding:
// the same loss, logits and input gradients as the plain bf16 path (forced here by an
// identity linear hook, which must see every projection), and no further from the fp32 model
// than that path is — with and without padding, whose bias the absorbed form adds as the
// plain one does. While the q/k/v weights train (full fine-tuning), gradients reach them.
func TestBF16FastFormsMatchThePlainForm(t *testing.T) {
	lockThread(t)
	cfg := Presets["t5-tiny"]
	open := func(bf16 bool) *Model {
		m, _, err := NewModel(cfg, RandomWeights(cfg, 5), "t5-tiny")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		if bf16 {
			m.ToBF16()
		}
		return m
	}
	fp32, bf16 := open(false), open(true)
	identity := &core.Hooks{Linear: func(_ core.HookCall, _, y *ts.Tensor) *ts.Tensor { return y }}

	const B, L = 3, 24
	labels := [][]int64{{5, 9, 1}, {7, 1, -100}, {4, 4, 1}}
	type result struct {
		loss          float64
		logits, grads []float64
	}
	run := func(m *Model, hooks *core.Hooks, padded bool) result {
		m.SetHooks(hooks)
		defer m.SetHooks(nil)
		embeds := ts.MustRandn([]int64{B, L, cfg.DModel}, gotch.Float, gotch.CPU).MustMulScalar(scalar(3), true)
		embeds.MustRequiresGrad_(true)
		defer embeds.MustDrop()
		ones := make([]float32, B*L)
		for i := range ones {
			ones[i] = 1
			if padded && i/L == 1 && i%L >= L-7 { // row 1 has 7 padded positions
				ones[i] = 0
			}
		}
		mask := ts.MustOfSlice(ones).MustView([]int64{B, L}, true)
		defer mask.MustDrop()
		out, err := m.Forward(embeds, mask, labels, true, false)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Drop()
		out.Loss.MustBackward()
		g := embeds.MustGrad(false)
		defer g.MustDrop()
		return result{out.Loss.Float64Values()[0], out.Logits.Float64Values(), g.Float64Values()}
	}
	maxDiff := func(a, b []float64) (d, scale float64) {
		for i := range a {
			d = math.Max(d, math.Abs(a[i]-b[i]))
			scale = math.Max(scale, math.Abs(b[i]))
		}
		return d, scale
	}
	var unpaddedLoss float64
	for _, padded := range []bool{false, true} {
		ts.ManualSeed(11)
		ref := run(fp32, nil, padded)
		ts.ManualSeed(11)
		absorbed := run(bf16, nil, padded)
		ts.ManualSeed(11)
		plain := run(bf16, identity, padded)
		if !padded {
			unpaddedLoss = absorbed.loss
		} else if absorbed.loss == unpaddedLoss {
			t.Errorf("padding changed no loss (%v): the mask bias was not applied", unpaddedLoss)
		}
		if absorbed.loss == plain.loss {
			t.Errorf("padded=%v: absorbed and plain bf16 losses are identical (%v): the absorbed form did not run", padded, plain.loss)
		}
		if rel := math.Abs(absorbed.loss-plain.loss) / plain.loss; rel > 0.01 {
			t.Errorf("padded=%v: loss absorbed %v vs plain %v (relative %.3g)", padded, absorbed.loss, plain.loss, rel)
		}
		for _, c := range []struct {
			what                string
			absorbed, plain, fp []float64
		}{{"logits", absorbed.logits, plain.logits, ref.logits}, {"input gradients", absorbed.grads, plain.grads, ref.grads}} {
			d, scale := maxDiff(c.absorbed, c.plain)
			if d > 0.03*scale {
				t.Errorf("padded=%v %s: absorbed vs plain bf16 max |Δ| %.3g (scale %.3g)", padded, c.what, d, scale)
			}
			dAbs, _ := maxDiff(c.absorbed, c.fp)
			dPlain, _ := maxDiff(c.plain, c.fp)
			if dAbs > 2*dPlain+1e-6*scale {
				t.Errorf("padded=%v %s: absorbed is %.3g from fp32, the plain bf16 form %.3g", padded, c.what, dAbs, dPlain)
			}
			t.Logf("padded=%v %s: max |Δ| to fp32: absorbed %.3g, plain %.3g (scale %.3g)", padded, c.what, dAbs, dPlain, scale)
		}
	}

	// Full fine-tuning: q, k, v (views of the stacked weight) train, so the stacked projection
	// stands aside and each receives its gradient.
	if bf16.encoder[0].self.qkv == nil {
		t.Fatal("ToBF16 did not stack the self-attention's q, k, v")
	}
	for _, w := range []*ts.Tensor{bf16.encoder[0].self.q, bf16.encoder[0].self.v} {
		w.MustRequiresGrad_(true)
	}
	run(bf16, nil, false)
	for name, w := range map[string]*ts.Tensor{"q": bf16.encoder[0].self.q, "v": bf16.encoder[0].self.v} {
		g := w.MustGrad(false)
		if !g.MustDefined() {
			t.Errorf("trainable %s got no gradient", name)
		} else if sum := g.MustAbs(false).MustSum(gotch.Float, true); sum.Float64Values(true)[0] == 0 {
			t.Errorf("trainable %s got a zero gradient", name)
		}
		g.MustDrop()
		w.MustRequiresGrad_(false)
	}

	// When absorption applies: bf16 only, no linear hook, a decoder short against d_kv.
	n := ts.MustZeros([]int64{1, 2, cfg.DModel}, gotch.Float, gotch.CPU)
	long := ts.MustZeros([]int64{1, 200, cfg.DModel}, gotch.Float, gotch.CPU)
	enc := ts.MustZeros([]int64{1, 40, cfg.DModel}, gotch.Float, gotch.CPU)
	defer func() { n.MustDrop(); long.MustDrop(); enc.MustDrop() }()
	if !bf16.absorbCross(n, enc) || fp32.absorbCross(n, enc) || bf16.absorbCross(long, enc) {
		t.Errorf("absorbCross: bf16 short %v, fp32 %v, bf16 long %v; want true, false, false",
			bf16.absorbCross(n, enc), fp32.absorbCross(n, enc), bf16.absorbCross(long, enc))
	}
	bf16.SetHooks(identity)
	if bf16.absorbCross(n, enc) {
		t.Error("absorbCross with a linear hook")
	}
	bf16.SetHooks(nil)
}

// A libtorch error inside the absorbed cross-attention (here an encoder-output hook returning
// states of the wrong width) panics with the torch error, which the grid turns into that run's
// error (benchmarks' safeRun); it never exits the process, and the model computes normally after.
func TestAbsorbedCrossAttentionTorchErrorIsRecoverable(t *testing.T) {
	lockThread(t)
	cfg := Presets["t5-tiny"]
	m, _, err := NewModel(cfg, RandomWeights(cfg, 5), "t5-tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.ToBF16()
	embeds := ts.MustRandn([]int64{2, 12, cfg.DModel}, gotch.Float, gotch.CPU)
	mask := ts.MustOnes([]int64{2, 12}, gotch.Float, gotch.CPU)
	defer func() { embeds.MustDrop(); mask.MustDrop() }()
	labels := [][]int64{{5, 1}, {7, 1}}
	forward := func() (msg string) {
		defer func() {
			if p := recover(); p != nil {
				msg = strings.SplitN(fmt.Sprint(p), "\n", 2)[0]
			}
		}()
		out, err := m.Forward(embeds, mask, labels, false, false)
		if err != nil {
			return err.Error()
		}
		out.Drop()
		return ""
	}
	m.SetHooks(&core.Hooks{EncoderOutput: func(_ core.HookCall, enc, _ *ts.Tensor) *ts.Tensor {
		return enc.MustNarrow(2, 0, cfg.DModel/2, false) // half the model width
	}})
	short := ts.MustZeros([]int64{2, 2, cfg.DModel}, gotch.Float, gotch.CPU)
	defer short.MustDrop()
	if !m.absorbCross(short, embeds) {
		t.Fatal("the absorbed form would not run")
	}
	msg := forward()
	if msg == "" || !strings.Contains(msg, "size") && !strings.Contains(msg, "shape") {
		t.Fatalf("wrong-width encoder states: %q, want libtorch's shape error", msg)
	}
	t.Logf("recovered: %.200s", msg)
	m.SetHooks(nil)
	if msg := forward(); msg != "" {
		t.Fatalf("after the error: %s", msg)
	}
}
