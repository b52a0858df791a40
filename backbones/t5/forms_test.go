package t5

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	_ "github.com/ptbench/ptbench/methods/bitfit"
	_ "github.com/ptbench/ptbench/methods/lora"
)

// formsResult is what one forward and backward pass gives: the loss, the logits, the input
// embeddings' gradient and each method parameter's gradient (by name).
type formsResult struct {
	loss          float64
	logits, grads []float64
	paramGrads    map[string][]float64
}

// formsRun opens t5-tiny in the given forms and dtype, sets method up on it (none: "") with
// every parameter drawn at random (LoRA's B and BitFit's biases start at zero, which would
// hide them), and runs one padded teacher-forced pass with gradients. The counters of the
// fast forms it took come back too.
func formsRun(t *testing.T, plain bool, dtype core.DType, method string, cfg map[string]any) (formsResult, fastFormCounts) {
	t.Helper()
	if plain {
		t.Setenv(core.FormsEnv, "plain")
	} else {
		t.Setenv(core.FormsEnv, "")
	}
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5, DType: dtype})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := bb.(*Backbone).Model()
	var params []core.NamedTensor
	if method != "" {
		meth, err := core.NewMethod(method, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := meth.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 32}); err != nil {
			t.Fatal(err)
		}
		defer meth.Close()
		ts.ManualSeed(3)
		for _, g := range meth.ParamGroups() {
			for _, p := range g.Params {
				ts.NoGrad(func() { p.Tensor.MustUniform_(-0.2, 0.2) })
				params = append(params, p)
			}
		}
		bb.SetHooks(meth.(core.BackboneMethod).Hooks())
	}
	const B, L = 3, 24
	ts.ManualSeed(11)
	embeds := ts.MustRandn([]int64{B, L, m.Cfg.DModel}, gotch.Float, gotch.CPU).MustMulScalar(scalar(3), true)
	embeds.MustRequiresGrad_(true)
	defer embeds.MustDrop()
	ones := make([]float32, B*L)
	for i := range ones {
		if i/L != 1 || i%L < L-7 { // row 1 has 7 padded positions
			ones[i] = 1
		}
	}
	mask := ts.MustOfSlice(ones).MustView([]int64{B, L}, true)
	defer mask.MustDrop()
	fastForms = fastFormCounts{}
	out, err := m.Forward(embeds, mask, [][]int64{{5, 9, 1}, {7, 1, -100}, {4, 4, 1}}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Drop()
	counts := fastForms
	out.Loss.MustBackward()
	r := formsResult{loss: out.Loss.Float64Values()[0], logits: out.Logits.Float64Values(), paramGrads: map[string][]float64{}}
	g := embeds.MustGrad(false)
	r.grads = g.Float64Values(true)
	for _, p := range params {
		g := p.Tensor.MustGrad(false)
		r.paramGrads[p.Name] = g.Float64Values(true)
	}
	return r, counts
}

// maxRelDiff is max |a−b| over max |b|.
func maxRelDiff(a, b []float64) float64 {
	var d, scale float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return d / scale
}

// The fast forms (stacked q/k/v, absorbed cross-attention) compute what the plain forms do:
// in fp32 within float rounding (1e-5 relative on the loss, logits and gradients), in bf16
// within bf16's — without hooks and with LoRA's and BitFit's, whose parameters get the same
// gradients. They run where the algebra allows: with a hook on a cross-attention's values
// (LoRA's default q, v) the keys alone are absorbed; with hooks on both (BitFit) neither.
func TestFastFormsMatchThePlainForms(t *testing.T) {
	lockThread(t)
	attn := map[string]any{"targets": []any{"q", "k", "v", "o"}}
	for _, c := range []struct {
		name    string
		dtype   core.DType
		method  string
		cfg     map[string]any
		absK    int // decoder layers whose cross-attention keys run absorbed (t5-tiny: 2)
		absV    int
		tol     float64 // loss, logits, input gradients: max |Δ| relative to the plain form's scale
		gradTol float64 // method parameters' gradients: relative to the largest of them
	}{
		{"fp32", core.Float32, "", nil, 2, 2, 1e-5, 0},
		{"fp32 lora", core.Float32, "lora", nil, 2, 0, 1e-5, 1e-5},
		{"fp32 lora q,k,v,o", core.Float32, "lora", attn, 0, 0, 1e-5, 1e-5},
		{"fp32 bitfit", core.Float32, "bitfit", nil, 0, 0, 1e-5, 1e-5},
		// bf16 rounds to 8 significant bits at every matmul's inputs, in a different order in
		// each form: a few percent of the largest value (TestBF16FastFormsAreNoWorseThanPlain
		// bounds the fast forms' distance to fp32 by the plain forms').
		{"bf16", core.BFloat16, "", nil, 2, 2, 0.06, 0},
		// LoRA at α 16, the setting this bound was measured with (the default α 8 puts the
		// input gradients 0.078 apart, bf16 rounding as well, in a smaller LoRA term).
		{"bf16 lora", core.BFloat16, "lora", map[string]any{"alpha": 16}, 2, 0, 0.06, 0.1},
		{"bf16 bitfit", core.BFloat16, "bitfit", nil, 0, 0, 0.06, 0.1},
	} {
		t.Run(c.name, func(t *testing.T) {
			lockThread(t) // a subtest is a goroutine of its own: NoGrad's grad mode is per OS thread
			plain, plainCounts := formsRun(t, true, c.dtype, c.method, c.cfg)
			fast, counts := formsRun(t, false, c.dtype, c.method, c.cfg)
			if plainCounts != (fastFormCounts{}) {
				t.Errorf("plain forms took fast ones: %+v", plainCounts)
			}
			// t5-tiny: 2 encoder and 2 decoder self-attentions, 2 cross-attentions.
			if want := (fastFormCounts{stacked: 4, absorbedK: c.absK, absorbedV: c.absV}); counts != want {
				t.Errorf("fast forms taken %+v, want %+v", counts, want)
			}
			if rel := math.Abs(fast.loss-plain.loss) / plain.loss; rel > c.tol {
				t.Errorf("loss fast %v, plain %v (relative %.3g > %g)", fast.loss, plain.loss, rel, c.tol)
			}
			for what, pair := range map[string][2][]float64{"logits": {fast.logits, plain.logits}, "input gradients": {fast.grads, plain.grads}} {
				d := maxRelDiff(pair[0], pair[1])
				if d > c.tol {
					t.Errorf("%s: max |Δ| %.3g of scale > %g", what, d, c.tol)
				}
				t.Logf("%s: max |Δ| %.3g of scale", what, d)
			}
			if len(fast.paramGrads) != len(plain.paramGrads) {
				t.Fatalf("%d parameters, plain %d", len(fast.paramGrads), len(plain.paramGrads))
			}
			// Relative to the largest gradient of any parameter: a bias on keys shifts every
			// score of a row alike, which softmax ignores, so its true gradient is 0 and what
			// both forms compute for it is rounding.
			scale := 0.0
			for _, g := range plain.paramGrads {
				for _, x := range g {
					scale = math.Max(scale, math.Abs(x))
				}
			}
			worst := 0.0
			for name, g := range plain.paramGrads {
				d := 0.0
				for i := range g {
					d = math.Max(d, math.Abs(fast.paramGrads[name][i]-g[i]))
				}
				if d /= scale; d > c.gradTol || math.IsNaN(d) {
					t.Errorf("%s: gradient max |Δ| %.3g of scale > %g", name, d, c.gradTol)
				}
				worst = math.Max(worst, d)
			}
			t.Logf("loss %.7g vs %.7g; worst parameter gradient Δ %.3g of scale", fast.loss, plain.loss, worst)
		})
	}
}

// In bf16 the fast forms are no further from the fp32 model than the plain bf16 forms are.
func TestBF16FastFormsAreNoWorseThanPlain(t *testing.T) {
	lockThread(t)
	ref, _ := formsRun(t, true, core.Float32, "", nil)
	plain, _ := formsRun(t, true, core.BFloat16, "", nil)
	fast, _ := formsRun(t, false, core.BFloat16, "", nil)
	for what, v := range map[string][3][]float64{"logits": {fast.logits, plain.logits, ref.logits}, "input gradients": {fast.grads, plain.grads, ref.grads}} {
		dFast, dPlain := maxRelDiff(v[0], v[2]), maxRelDiff(v[1], v[2])
		if dFast > 2*dPlain+1e-6 {
			t.Errorf("%s: fast bf16 is %.3g from fp32, plain bf16 %.3g", what, dFast, dPlain)
		}
		t.Logf("%s: relative max |Δ| to fp32: fast %.3g, plain %.3g", what, dFast, dPlain)
	}
}

// Greedy decoding absorbs the cross-attention within a short step budget and decodes the
// same tokens, with step logits within float rounding of the plain forms'.
func TestGreedyFastFormsMatchThePlainForms(t *testing.T) {
	lockThread(t)
	greedy := func(plain bool, steps int) ([][]int64, []float64, fastFormCounts) {
		cfg := Presets["t5-tiny"]
		m, _, err := NewModel(cfg, RandomWeights(cfg, 5), "t5-tiny")
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.UseForms(plain)
		ts.ManualSeed(4)
		embeds := ts.MustRandn([]int64{2, 20, cfg.DModel}, gotch.Float, gotch.CPU)
		mask := MaskFromLengths([]int{20, 13}, 20)
		defer embeds.MustDrop()
		defer mask.MustDrop()
		var logits []*ts.Tensor
		fastForms = fastFormCounts{}
		var ids [][]int64
		ts.NoGrad(func() { ids = m.Greedy(embeds, mask, steps, false, &logits) })
		counts := fastForms
		all := ts.MustStack(logits, 1)
		for _, l := range logits {
			l.MustDrop()
		}
		return ids, all.Float64Values(true), counts
	}
	for _, c := range []struct {
		steps  int
		absorb bool
	}{{4, true}, {200, false}} { // 200 steps: projecting the encoder states once is cheaper
		plainIDs, plainLogits, _ := greedy(true, c.steps)
		ids, logits, counts := greedy(false, c.steps)
		if got := counts.absorbedK > 0 && counts.absorbedV > 0; got != c.absorb {
			t.Errorf("%d steps: absorbed %+v, want absorbed %v", c.steps, counts, c.absorb)
		}
		for i := range ids {
			for j := range ids[i] {
				if ids[i][j] != plainIDs[i][j] {
					t.Fatalf("%d steps: ids %v, plain %v", c.steps, ids, plainIDs)
				}
			}
		}
		if d := maxRelDiff(logits, plainLogits); d > 1e-5 {
			t.Errorf("%d steps: step logits max |Δ| %.3g of scale", c.steps, d)
		}
	}
}

// crossForms absorbs a half only where the algebra and the cost allow: never in the plain
// forms or for a long decoder, and not a half whose projection a linear hook changes (asked
// of the hook with zero rows); an identity hook changes nothing.
func TestCrossFormsFollowTheHooks(t *testing.T) {
	lockThread(t)
	cfg := Presets["t5-tiny"]
	m, _, err := NewModel(cfg, RandomWeights(cfg, 5), "t5-tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	enc := ts.MustZeros([]int64{1, 40, cfg.DModel}, gotch.Float, gotch.CPU)
	defer enc.MustDrop()
	a := m.decoder[0].cross
	hookOn := func(suffixes ...string) *core.Hooks {
		return &core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
			for _, s := range suffixes {
				if c.Site == a.prefix+s {
					return y.MustMulScalar(scalar(2), false)
				}
			}
			return y
		}}
	}
	for _, c := range []struct {
		name       string
		plain      bool
		tq         int64
		hooks      *core.Hooks
		absK, absV bool
	}{
		{"short", false, 2, nil, true, true},
		{"plain forms", true, 2, nil, false, false},
		{"long decoder", false, 200, nil, false, false},
		{"identity hook", false, 2, hookOn(), true, true},
		{"hook on q and o", false, 2, hookOn(".q", ".o"), true, true},
		{"hook on v", false, 2, hookOn(".v"), true, false},
		{"hook on k", false, 2, hookOn(".k"), false, true},
		{"hooks on k and v", false, 2, hookOn(".k", ".v"), false, false},
	} {
		m.plain = c.plain
		m.SetHooks(c.hooks)
		if k, v := m.crossForms(a, c.tq, enc); k != c.absK || v != c.absV {
			t.Errorf("%s: absorbed keys %v, values %v; want %v, %v", c.name, k, v, c.absK, c.absV)
		}
	}
	m.SetHooks(nil)
	m.plain = false
	if k, v := m.crossForms(a, 2, nil); k || v {
		t.Error("absorbed without encoder states")
	}
}

// A misspelt PTBENCH_FORMS refuses to open the backbone (rather than computing in forms the
// user did not ask for), naming the valid values.
func TestBadFormsAreRefused(t *testing.T) {
	lockThread(t)
	t.Setenv(core.FormsEnv, "plian")
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5})
	if err == nil {
		bb.Close()
		t.Fatal("opened with PTBENCH_FORMS=plian")
	}
	if !strings.Contains(err.Error(), core.FormsEnv) || !strings.Contains(err.Error(), "plain") {
		t.Errorf("error %q does not name %s and its values", err, core.FormsEnv)
	}
}

// hookLinear: the hook sees fp32 input and output whatever the computation keeps; an output
// it leaves alone comes back as it was (bf16 stays bf16, uncast), one it changes in fp32.
func TestHookLinearDTypes(t *testing.T) {
	lockThread(t)
	m := &Model{}
	var seen []gotch.DType
	m.SetHooks(&core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
		if x.MustSize()[0] > 0 { // not the zero-row question of linearHooked
			seen = append(seen, x.DType(), y.DType())
		}
		if c.Site == "changed" {
			return y.MustAddScalar(scalar(1), false)
		}
		return y
	}})
	for _, c := range []struct {
		site      string
		x, y, out gotch.DType
		asked     bool // the hook saw the real tensors
	}{
		{"changed", gotch.BFloat16, gotch.BFloat16, gotch.Float, true},
		{"alone", gotch.BFloat16, gotch.BFloat16, gotch.BFloat16, false},
		{"alone", gotch.Float, gotch.Float, gotch.Float, true},
		{"changed", gotch.Float, gotch.BFloat16, gotch.Float, true},
	} {
		seen = nil
		x := ts.MustOnes([]int64{2, 4}, c.x, gotch.CPU)
		y := ts.MustOnes([]int64{2, 3}, c.y, gotch.CPU)
		out := m.hookLinear(c.site, x, y)
		if out.DType() != c.out || (out == y) != (c.site == "alone") {
			t.Errorf("%+v: out %v (same tensor %v)", c, out.DType(), out == y)
		}
		if c.asked != (len(seen) == 2) || (c.asked && (seen[0] != gotch.Float || seen[1] != gotch.Float)) {
			t.Errorf("%+v: the hook saw %v", c, seen)
		}
		x.MustDrop()
		out.MustDrop()
	}
}
