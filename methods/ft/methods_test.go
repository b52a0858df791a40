package ft_test

// Table-driven tests shared by the five backbone-family methods (ft, lora, adapter,
// adapterdrop, bitfit): exact identity at initialisation, what one step changes, parameter
// counts on t5-base, config validation. Method-specific tests live in each package.

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/adapter"
	_ "github.com/ptbench/ptbench/methods/adapterdrop"
	_ "github.com/ptbench/ptbench/methods/bitfit"
	_ "github.com/ptbench/ptbench/methods/ft"
	_ "github.com/ptbench/ptbench/methods/lora"
)

// zoo is every method with the settings the tiny tests use (AdapterDrop's k = 1: t5-tiny has
// two blocks per stack; the adapters' W_up starts at zero so that step 0 is exactly the
// frozen backbone).
var zoo = []struct {
	label, name string
	raw         map[string]any
}{
	{"ft", "ft", nil},
	{"lora", "lora", nil},
	{"lora-merge", "lora", map[string]any{"merge": true}},
	{"lora-all-linear-dropout", "lora", map[string]any{"targets": []string{"q", "k", "v", "o", "ffn_in", "ffn_out"}, "dropout": 0.1}},
	// up_std 0: the reference's W_up ~ N(0, 10⁻²) is near, not exactly, the identity (its
	// initialisation is tested in methods/adapter).
	{"adapter", "adapter", map[string]any{"up_std": 0}},
	{"adapterdrop-k1", "adapterdrop", map[string]any{"k": 1, "up_std": 0}},
	{"bitfit", "bitfit", nil},
}

func openTiny(t *testing.T) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return bb
}

func batch(t *testing.T, bb core.Backbone, train bool) *core.Batch {
	t.Helper()
	var rows []core.Encoded
	for _, p := range [][2]string{{"the cat sat on the mat", "yes"}, {"a b", "no"}, {"keyword here", "maybe so"}} {
		rows = append(rows, core.Encoded{Source: bb.EncodeSource(p[0], 32), Target: bb.EncodeTarget(p[1], 8)})
	}
	b, err := bb.Collate(rows, core.CollateOptions{Train: train})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evalLoss is the loss of b under the installed method (Begin, Transform, Loss), no grad.
func evalLoss(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) float64 {
	t.Helper()
	var v float64
	ts.NoGrad(func() {
		var in core.Input
		var err error
		if m != nil {
			in, err = core.MethodInput(bb, m, b)
		} else {
			in = core.EmbedBatch(bb, b)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer in.Drop()
		l, err := bb.Loss(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		v = l.Float64Values()[0]
		l.MustDrop()
	})
	return v
}

func generate(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) [][]int64 {
	t.Helper()
	var out [][]int64
	ts.NoGrad(func() {
		in, err := core.MethodInput(bb, m, b)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Drop()
		if out, err = bb.Generate(in, core.GenerateOptions{MaxNewTokens: 6}); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

func equal(a, b *ts.Tensor) bool {
	return a.MustEqual(b, false)
}

func anyNonZero(t *ts.Tensor) bool {
	if !t.MustDefined() {
		return false
	}
	return t.MustAbs(false).MustSum(t.DType(), true).Float64Values(true)[0] != 0
}

// At initialisation the model under each method computes exactly what the frozen backbone
// computes: the same loss (train and eval batches) and the same greedy outputs. Exactly, bit
// for bit, in T5's plain forms: in the default fast forms a hook on a cross-attention's keys or
// values keeps that half plain where the frozen backbone absorbs it, which changes results by
// float rounding (backbones/t5/forms.go; its tests bound fast against plain with each hook).
func TestInitialisationIsTheFrozenBackbone(t *testing.T) {
	coretest.LockThread(t)
	t.Setenv(core.FormsEnv, "plain")
	bb := openTiny(t)
	defer bb.Close()
	train, eval := batch(t, bb, true), batch(t, bb, false)
	defer train.Close()
	defer eval.Close()
	wantTrain, wantEval := evalLoss(t, bb, nil, train), evalLoss(t, bb, nil, eval)
	in := core.EmbedBatch(bb, eval)
	wantGen, _ := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 6})
	in.Drop()
	for _, c := range zoo {
		t.Run(c.label, func(t *testing.T) {
			coretest.LockThread(t)
			m, err := core.NewMethod(c.name, c.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			core.SeedAll(3)
			sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 3, MaxSourceLen: 32, Task: "t", Tasks: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if core.TrainableParams(m) == 0 {
				t.Fatal("no trainable parameters")
			}
			// Dropout is off in the preset, so a training batch must give the same loss too.
			if got := evalLoss(t, bb, m, train); got != wantTrain {
				t.Errorf("train-batch loss %v, frozen %v", got, wantTrain)
			}
			if got := evalLoss(t, bb, m, eval); got != wantEval {
				t.Errorf("eval-batch loss %v, frozen %v", got, wantEval)
			}
			got := generate(t, bb, m, eval)
			for i := range got {
				if len(got[i]) != len(wantGen[i]) {
					t.Fatalf("row %d generated %v, frozen %v", i, got[i], wantGen[i])
				}
				for j := range got[i] {
					if got[i][j] != wantGen[i][j] {
						t.Fatalf("row %d generated %v, frozen %v", i, got[i], wantGen[i])
					}
				}
			}
		})
	}
}

// After one step only the method's tensors changed: every trainable tensor that received a
// non-zero gradient changed (for FT: every backbone weight with a gradient), one with a zero
// gradient did not, and every other backbone weight is untouched. Closing the session
// restores and refreezes the backbone.
func TestOneStepChangesOnlyTheMethodsTensors(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t)
	defer bb.Close()
	b := batch(t, bb, true)
	defer b.Close()
	orig := core.SnapshotWeights(bb)
	defer core.DropNamed(orig)
	for _, c := range zoo {
		t.Run(c.label, func(t *testing.T) {
			coretest.LockThread(t)
			m, err := core.NewMethod(c.name, c.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			core.SeedAll(3)
			sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 3, MaxSourceLen: 32, Task: "t", Tasks: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			own := map[*ts.Tensor]string{}
			var before []core.NamedTensor
			for _, g := range m.ParamGroups() {
				for _, p := range g.Params {
					own[p.Tensor] = p.Name
					before = append(before, core.NamedTensor{Name: p.Name, Tensor: p.Tensor.MustDetachCopy(false)})
				}
			}
			defer core.DropNamed(before)
			loss, err := sess.Step(b, 1, 0)
			if err != nil || math.IsNaN(loss) {
				t.Fatalf("step: %v, %v", loss, err)
			}
			changed, withGrad := 0, 0
			i := 0
			for _, g := range m.ParamGroups() {
				for _, p := range g.Params {
					grad := p.Tensor.MustGrad(false)
					hasGrad := anyNonZero(grad)
					grad.MustDrop()
					diff := !equal(p.Tensor, before[i].Tensor)
					i++
					if hasGrad {
						withGrad++
					}
					if hasGrad != diff {
						t.Errorf("%s: gradient %v but changed %v", p.Name, hasGrad, diff)
					}
					if diff {
						changed++
					}
				}
			}
			if changed == 0 || withGrad == 0 {
				t.Fatalf("nothing changed (%d tensors with a gradient)", withGrad)
			}
			for j, w := range bb.Weights() {
				if _, mine := own[w.Tensor]; mine {
					continue
				}
				if !equal(w.Tensor, orig[j].Tensor) {
					t.Errorf("backbone weight %s changed but is not the method's", w.Name)
				}
			}
			t.Logf("%d of %d tensors changed", changed, len(before))
			sess.Close()
			for j, w := range bb.Weights() {
				if w.Tensor.MustRequiresGrad() || !equal(w.Tensor, orig[j].Tensor) {
					t.Fatalf("after Close, backbone weight %s is not the original (requires grad %v)", w.Name, w.Tensor.MustRequiresGrad())
				}
			}
		})
	}
}

// The trainable counts on t5-base are the table (random init is enough: counts
// depend only on the shapes).
func TestParamCountsOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	if testing.Short() {
		t.Skip("opens t5-base (220M parameters)")
	}
	bb, err := core.OpenBackbone("t5-base", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	want := map[string]int64{"ft": 222_903_552, "lora": 884_736, "adapter": 1_855_104, "adapterdrop": 1_101_984, "bitfit": 280_960}
	for name, n := range want {
		m, err := core.NewMethod(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 256}); err != nil {
			t.Fatal(err)
		}
		if got := core.TrainableParams(m); got != n {
			t.Errorf("%s: %d trainable parameters, want %d", name, got, n)
		}
		m.Close()
	}
	if n := bb.Info().NumParams; n != want["ft"] {
		t.Errorf("t5-base has %d parameters", n)
	}
}

// Every setting is validated (the check tags of each config, then its Validate): non-finite
// and non-positive rates, bad ranks and unknown keys are errors naming the setting.
func TestConfigValidation(t *testing.T) {
	bad := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"ft", map[string]any{"lr": 0}, "lr must be a finite number > 0, got 0"},
		{"ft", map[string]any{"lr": -1e-4}, "lr must be a finite number > 0, got -0.0001"},
		{"ft", map[string]any{"lr": math.Inf(1)}, "unsupported value: +Inf"}, // JSON cannot carry it
		{"ft", map[string]any{"max_shard_bytes": 0}, "max_shard_bytes must be > 0, got 0"},
		{"ft", map[string]any{"rank": 8}, `unknown setting "rank"`},
		{"lora", map[string]any{"rank": 0}, "rank must be > 0, got 0"},
		{"lora", map[string]any{"alpha": math.NaN()}, "unsupported value: NaN"},
		{"lora", map[string]any{"alpha": -1}, "alpha must be a finite number > 0, got -1"},
		{"lora", map[string]any{"lr": 0}, "lr must be a finite number > 0, got 0"},
		{"lora", map[string]any{"dropout": 1}, "dropout must be in [0, 1), got 1"},
		{"lora", map[string]any{"targets": []string{}}, "targets must not be empty"},
		{"lora", map[string]any{"targets": []string{"q", "attention"}}, `targets: "attention" is not a linear role`},
		{"lora", map[string]any{"targets": []string{"q", "q"}}, `targets: "q" listed twice`},
		{"lora", map[string]any{"bottleneck": 3}, `unknown setting "bottleneck"`},
		{"adapter", map[string]any{"bottleneck": 0}, "bottleneck must be > 0, got 0"},
		{"adapter", map[string]any{"lr": -1}, "lr must be a finite number > 0, got -1"},
		{"adapter", map[string]any{"norm_lr": 0}, "norm_lr must be a finite number > 0, got 0"},
		{"adapter", map[string]any{"weight_decay": -0.1}, "weight_decay must be a finite number ≥ 0, got -0.1"},
		{"adapter", map[string]any{"activation": "tanh"}, `activation "tanh": want one of relu, gelu_new, gelu, silu`},
		{"adapter", map[string]any{"k": 2}, `unknown setting "k"`},
		{"adapterdrop", map[string]any{"k": -1}, "k must be ≥ 0, got -1"},
		{"adapterdrop", map[string]any{"lr": 0}, "lr must be a finite number > 0, got 0"},
		{"adapterdrop", map[string]any{"bottleneck": -3}, "bottleneck must be > 0, got -3"},
		{"adapterdrop", map[string]any{"activation": "tanh"}, `activation "tanh"`}, // the adapter's Validate, inherited
		{"bitfit", map[string]any{"lr": 0}, "lr must be a finite number > 0, got 0"},
		{"bitfit", map[string]any{"weight_decay": -1}, "weight_decay must be a finite number ≥ 0, got -1"},
		{"bitfit", map[string]any{"bias": true}, `unknown setting "bias"`},
	}
	for _, c := range bad {
		m, err := core.NewMethod(c.name, c.raw)
		if err == nil {
			m.Close()
			t.Errorf("%s %v: accepted", c.name, c.raw)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %q, want it to contain %q", c.name, c.raw, err, c.want)
		}
	}
	for _, c := range zoo {
		m, err := core.NewMethod(c.name, c.raw)
		if err != nil {
			t.Errorf("%s %v: %v", c.name, c.raw, err)
			continue
		}
		m.Close()
	}
}

// The hooks hold memory flat: every intermediate they make is dropped. With the Go GC off
// (so gotch's finalizers cannot tidy up after a missing MustDrop), the number of live tensors
// is the same before and after ten forward passes on training and evaluation batches (LoRA
// with merge: unmerging and merging in turn). Training steps run before and between them to
// show the loop keeps working; the optimiser's own tensors are core's business.
func TestHooksHoldMemoryFlat(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t)
	defer bb.Close()
	var rows []core.Encoded
	for i := 0; i < 8; i++ {
		rows = append(rows, core.Encoded{Source: bb.EncodeSource(fmt.Sprintf("source sentence %d of the batch", i), 64),
			Target: bb.EncodeTarget("target", 8)})
	}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	eval, err := bb.Collate(rows, core.CollateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	for _, c := range zoo {
		t.Run(c.label, func(t *testing.T) {
			coretest.LockThread(t)
			m, err := core.NewMethod(c.name, c.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			for i := 0; i < 3; i++ {
				if _, err := sess.Step(b, 0.01, 1); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.GC()
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			// The frozen backbone's own count over the same passes (hooks off) is the baseline.
			passes := func(m core.Method) int {
				before := len(ts.ExistingTensors)
				for i := 0; i < 10; i++ {
					evalLoss(t, bb, m, b)
					evalLoss(t, bb, m, eval)
				}
				return len(ts.ExistingTensors) - before
			}
			bb.SetHooks(nil)
			base := passes(nil)
			bb.SetHooks(m.(core.BackboneMethod).Hooks())
			if grew := passes(m); grew != base {
				t.Errorf("ten forward passes left %d more live tensors (the frozen backbone's baseline: %d)", grew, base)
			}
			if _, err := sess.Step(b, 0.01, 1); err != nil {
				t.Fatal(err)
			}
		})
	}
}
