package hyperdecoder_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/hyperdecoder"
	"github.com/ptbench/ptbench/methods/internal/adapters"
)

func tiny(t *testing.T, preset string) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone(preset, core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

func setup(t *testing.T, bb core.Backbone) (*hyperdecoder.Method, *core.Session) {
	t.Helper()
	m, err := core.NewMethod("hyperdecoder", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return m.(*hyperdecoder.Method), sess
}

// Generated decoder adapters differ between two inputs and are identical for the same input;
// they have no layer norm.
func TestGeneratedWeightsPerInput(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	m, _ := setup(t, bb)
	ts.ManualSeed(5)
	x := ts.MustRandn([]int64{1, 4, 64}, gotch.Float, gotch.CPU)
	y := ts.MustRandn([]int64{1, 4, 64}, gotch.Float, gotch.CPU)
	enc := ts.MustCat([]*ts.Tensor{x, y, x}, 0)
	mask := ts.MustOnes([]int64{3, 4}, gotch.Float, gotch.CPU)
	defer func() {
		for _, t := range []*ts.Tensor{x, y, enc, mask} {
			t.MustDrop()
		}
	}()
	g, err := m.GenerateFor(m.DecoderSites()[0], enc, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Drop()
	down := core.Float32s(g.DownT)
	n := len(down) / 3
	if !slices.Equal(down[:n], down[2*n:]) {
		t.Error("the same input got different decoder adapters")
	}
	if slices.Equal(down[:n], down[n:2*n]) {
		t.Error("two inputs got the same decoder adapter")
	}
	if g.Gamma != nil || g.Beta != nil {
		t.Error("generated decoder adapters carry a layer norm; the reference's have none")
	}
}

func lossOf(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) float64 {
	t.Helper()
	x, err := core.MethodInput(bb, m, b)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	l, err := bb.Loss(x, b.Labels)
	if err != nil {
		t.Fatal(err)
	}
	defer l.MustDrop()
	return l.Float64Values()[0]
}

// normBefore is the norm site in front of a sublayer site (its input's layer norm).
func normBefore(bb core.Backbone, site string) string {
	last := ""
	for _, s := range bb.HookSites() {
		if s.Kind == core.HookNorm {
			last = s.Name
		}
		if s.Name == site {
			return last
		}
	}
	return ""
}

// The adapters are parallel to the FFN and absent elsewhere: at an FFN site the post-dropout
// hook returns dropout(FFN(x)) + A(x) with x the FFN's normed input (kept by the norm hook in
// front of it), A the encoder's learned adapter or the decoder's generated one (ReLU, no layer
// norm); at self- and cross-attention sites it returns its argument unchanged.
func TestAdaptersAreParallelToTheFFNOnly(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	m, _ := setup(t, bb)
	hooks := m.Hooks()
	ts.ManualSeed(9)
	enc := ts.MustRandn([]int64{2, 5, 64}, gotch.Float, gotch.CPU)
	mask := ts.MustOnes([]int64{2, 5}, gotch.Float, gotch.CPU)
	defer enc.MustDrop()
	defer mask.MustDrop()
	hooks.EncoderOutput(core.HookCall{Site: "encoder"}, enc, mask)

	for _, s := range bb.HookSites() {
		if s.Kind != core.HookSublayer {
			continue
		}
		f := ts.MustRandn([]int64{2, 3, 64}, gotch.Float, gotch.CPU)
		if s.Role != core.RoleFFN {
			if out := hooks.PostDropout(core.HookCall{Site: s.Name}, f); out != f {
				t.Errorf("%s (%s) got an adapter", s.Name, s.Role)
				out.MustDrop()
			}
			f.MustDrop()
			continue
		}
		x := ts.MustRandn([]int64{2, 3, 64}, gotch.Float, gotch.CPU)
		if kept := hooks.Norm(core.HookCall{Site: normBefore(bb, s.Name)}, x); kept != x {
			t.Fatalf("the norm hook in front of %s changed the FFN's input", s.Name)
		}
		out := hooks.PostDropout(core.HookCall{Site: s.Name}, f)
		var delta *ts.Tensor
		if s.Stack == "encoder" {
			a := m.EncoderAdapter(s.Name)
			if a == nil {
				t.Fatalf("no encoder adapter at %s", s.Name)
			}
			var err error
			if delta, err = a.Delta(x); err != nil {
				t.Fatal(err)
			}
		} else {
			g, err := m.GenerateFor(s.Name, enc, mask)
			if err != nil {
				t.Fatal(err)
			}
			if delta, err = g.Delta(x, adapters.ReLU); err != nil {
				t.Fatal(err)
			}
			g.Drop()
		}
		want := f.MustAdd(delta, false)
		if d := maxAbsDiff(out, want); d > 1e-6 {
			t.Errorf("%s: hook output differs from FFN + A(normed input) by %g", s.Name, d)
		}
		if d := maxAbsDiff(out, f); d == 0 {
			t.Errorf("%s: the adapter added nothing", s.Name)
		}
		for _, t := range []*ts.Tensor{f, x, out, delta, want} {
			t.MustDrop()
		}
	}
}

func maxAbsDiff(a, b *ts.Tensor) float64 {
	av, bv := core.Float32s(a), core.Float32s(b)
	worst := 0.0
	for i := range av {
		worst = max(worst, math.Abs(float64(av[i]-bv[i])))
	}
	return worst
}

// The reference's initialisation: encoder adapters xavier_uniform(gain 10⁻⁴) with zero
// biases; the generator's heads hyper-fan-in uniform (bound 10⁻³·√(3/(128·fan-in))) with
// zero biases; the model therefore starts within a hair of the frozen backbone.
func TestInitialisationIsTheReferences(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	m, _ := setup(t, bb)
	d, b, hb := 64.0, 64.0, 128.0
	bounds := map[string]float64{
		"adapter_down_manual.weight": 1e-4 * math.Sqrt(6/(d+b)),
		"adapter_up_manual.weight":   1e-4 * math.Sqrt(6/(d+b)),
		"weight_up.weight":           1e-3 * math.Sqrt(3/(hb*b)),
		"weight_down.weight":         1e-3 * math.Sqrt(3/(hb*d)),
		"bias_up.weight":             1e-3 * math.Sqrt(3/hb),
		"bias_down.weight":           1e-3 * math.Sqrt(3/hb),
	}
	seen := 0
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			for suffix, bound := range bounds {
				if !strings.HasSuffix(p.Name, suffix) {
					continue
				}
				seen++
				var big float64
				for _, v := range core.Float32s(p.Tensor) {
					big = max(big, math.Abs(float64(v)))
				}
				if big > bound || big < 0.9*bound {
					t.Errorf("%s: max |w| %g, want just under %g", p.Name, big, bound)
				}
			}
			zeroBias := strings.Contains(p.Name, "adapter_") || strings.Contains(p.Name, "_up.") || strings.Contains(p.Name, "_down.")
			if zeroBias && strings.HasSuffix(p.Name, ".bias") && slices.ContainsFunc(core.Float32s(p.Tensor), func(v float32) bool { return v != 0 }) {
				t.Errorf("%s: bias not zero", p.Name)
			}
		}
	}
	if seen != 2*len(m.EncoderSites())+4 {
		t.Errorf("checked %d initialised tensors", seen)
	}
}

// A step trains every tensor of the method and nothing of the backbone; generation runs
// through the generated decoder.
func TestTrainsOnlyItself(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	rows := []core.Encoded{{Source: bb.EncodeSource("first input", 32), Target: bb.EncodeTarget("yes", 4)},
		{Source: bb.EncodeSource("second, longer input", 32), Target: bb.EncodeTarget("no", 4)}}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plain := lossOf(t, bb, noop{}, b)
	m, sess := setup(t, bb)
	if got := lossOf(t, bb, m, b); math.Abs(got-plain) > 1e-3*plain {
		t.Errorf("step-0 loss %v, frozen backbone %v: the adapters should start tiny", got, plain)
	}
	before := map[string][]float32{}
	for _, w := range bb.Weights() {
		before[w.Name] = core.Float32s(w.Tensor)
	}
	if _, err := sess.Step(b, 1, 1); err != nil {
		t.Fatal(err)
	}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if gr := p.Tensor.MustGrad(false); !gr.MustDefined() {
				t.Errorf("%s got no gradient", p.Name)
			}
		}
	}
	for _, w := range bb.Weights() {
		if !slices.Equal(before[w.Name], core.Float32s(w.Tensor)) {
			t.Errorf("backbone weight %s changed", w.Name)
		}
	}
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	if ids, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 3}); err != nil || len(ids) != 2 {
		t.Fatalf("generate: %v %v", ids, err)
	}
}

// TestParameterCountOnT5Base: the package doc's count.
func TestParameterCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-base")
	m, _ := core.NewMethod("hyperdecoder", nil)
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"rte"}}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 15259192 {
		t.Errorf("HyperDecoder on t5-base: %d trainable, want 15,259,192", n)
	}
}

// A decoder-only backbone is refused with a clear error.
func TestRefusesDecoderOnly(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 64) // Info().EncoderDecoder is false
	defer bb.Close()
	m, _ := core.NewMethod("hyperdecoder", nil)
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb}); !errors.Is(err, core.ErrEncoderDecoderOnly) {
		t.Fatalf("Setup on a decoder-only backbone: %v", err)
	}
}

type noop struct{}

func (noop) Setup(core.SetupEnv) error      { return nil }
func (noop) ParamGroups() []core.ParamGroup { return nil }
func (noop) Config() any                    { return nil }
func (noop) Close()                         {}
func (noop) Hooks() *core.Hooks             { return nil }
