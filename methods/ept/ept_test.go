package ept_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/dept"
	"github.com/ptbench/ptbench/methods/ept"
	_ "github.com/ptbench/ptbench/methods/pt"
)

// t5-base width with a 5,000-row table: enough for every method's parameters.
func t5BaseWidth(t *testing.T) core.Backbone {
	bb := coretest.NewEmbeddingOnly(5000, 768)
	t.Cleanup(bb.Close)
	return bb
}

func TestParameterCountsOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := t5BaseWidth(t)
	cases := []struct {
		method string
		cfg    map[string]any
		want   int64
	}{
		// init vocab: this embedding-only backbone has no tokenizer for DePT's text init.
		{"pt", nil, 76800},
		{"dept", map[string]any{"init": "vocab"}, 76800},
		{"dept", map[string]any{"length": 40, "rank": 45, "init": "vocab"}, 76800},
		{"dept", map[string]any{"prompt_length": 80, "rank": 15, "init": "vocab"}, 76800}, // the deprecated spelling
		// 76,800 + N·2·d·k (4·2·768·8 = 49,152) + gate N·d + N (3,076)
		{"ept", map[string]any{"init": "vocab"}, 129028},
		{"ept", map[string]any{"spaces": 2, "init": "vocab"}, 76800 + 2*2*768*8 + 2*768 + 2},
		// The ablations count what they train: without the projection its weights and the gate
		// are not trained (DePT's budget); fusion has no parameters of its own.
		{"ept", map[string]any{"projection": false, "init": "vocab"}, 76800},
		{"ept", map[string]any{"projection": false, "fusion": false, "init": "vocab"}, 76800},
		{"ept", map[string]any{"fusion": false, "init": "vocab"}, 129028},
	}
	for _, c := range cases {
		m, err := core.NewMethod(c.method, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 256}); err != nil {
			t.Fatal(err)
		}
		if got := core.TrainableParams(m); got != c.want {
			t.Errorf("%s %v: %d trainable parameters, want %d", c.method, c.cfg, got, c.want)
		}
		m.Close()
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		method string
		cfg    map[string]any
		want   string
	}{
		{"dept", map[string]any{"length": 0}, "length must be > 0, got 0"},
		{"dept", map[string]any{"prompt_lr": -1}, "lr must be > 0, got -1"},
		{"dept", map[string]any{"lowrank_lr": 0}, "lowrank_lr must be > 0, got 0"},
		{"dept", map[string]any{"init": "vocab", "vocab_limit": 0}, "vocab_limit must be > 0, got 0"},
		{"dept", map[string]any{"lr": 0.3, "prompt_lr": 0.5}, "settings lr and prompt_lr are the same setting lr"},
		{"dept", map[string]any{"rank": 300, "max_len": 256}, "rank r = 300 exceeds max_len s = 256"},
		{"dept", map[string]any{"promptlength": 3}, `unknown setting "promptlength"; valid settings: alpha, init, init_text, length, lowrank_lr, lr, max_len, rank, vocab_limit`},
		{"ept", map[string]any{"spaces": 0}, "spaces must be > 0, got 0"},
		{"ept", map[string]any{"proj_lr": -0.5}, "proj_lr must be ≥ 0, got -0.5"},
		{"ept", map[string]any{"fusion_kv": "a"}, `fusion_kv must be "ab", "b" or "prompt_ab", got "a"`},
		{"ept", map[string]any{"sources": []any{"mnli", ""}}, "sources[1] must not be empty"},
		{"ept", map[string]any{"rank": 300, "max_len": 256}, "rank r = 300 exceeds max_len s = 256"},
		{"ept", map[string]any{"gate": "max"}, `gate must be "pooled" or "token"`},
		{"ept", map[string]any{"prompt_length": -1}, "length must be > 0, got -1"},
		{"pt", map[string]any{"length": 0}, "length must be > 0"},
	}
	for _, c := range cases {
		_, err := core.NewMethod(c.method, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.method, c.cfg, err, c.want)
		}
	}
}

// At step 0, EPT's input must equal PT's with the short prompt P_s (same seed, same init).
func TestEPTStartsAsPTWithShortPrompt(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	for _, gate := range []string{"pooled", "token"} {
		e, _ := core.NewMethod("ept", map[string]any{"gate": gate, "init": "vocab"}) // PT's init, to compare
		p, _ := core.NewMethod("pt", map[string]any{"length": 60})
		env := core.SetupEnv{Backbone: bb, Seed: 7, MaxSourceLen: 256}
		core.SeedAll(7)
		if err := e.Setup(env); err != nil {
			t.Fatal(err)
		}
		if err := p.Setup(env); err != nil {
			t.Fatal(err)
		}
		in := embedBatch(bb, []string{"one sentence", "a second, longer sentence"}, 0)
		xe, err := e.(core.InputMethod).Transform(in, true)
		if err != nil {
			t.Fatal(err)
		}
		xp, _ := p.(core.InputMethod).Transform(in, true)
		if d := maxAbs(xe.Embeds, xp.Embeds); d != 0 {
			t.Errorf("gate %s: EPT input differs from PT(60) by %g at step 0", gate, d)
		}
		if d := maxAbs(xe.Mask, xp.Mask); d != 0 {
			t.Errorf("gate %s: masks differ", gate)
		}
		for _, x := range []core.Input{in, xe, xp} {
			x.Drop()
		}
		e.Close()
		p.Close()
	}
}

// DePT and EPT: a batch padded to its own length gives the same loss and gradients as the
// same batch padded to s = 256 (DePT's reference code), so dynamic padding is exact.
func TestDynamicPaddingIsExact(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	for _, name := range []string{"dept", "ept"} {
		m, _ := core.NewMethod(name, map[string]any{"length": 8, "rank": 4})
		core.SeedAll(3)
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 3, MaxSourceLen: 256}); err != nil {
			t.Fatal(err)
		}
		randomiseZeroParams(m) // B, W_up, W_g start at zero: make the offset and fusion matter
		texts := []string{"short", "a somewhat longer input sentence", "mid length text"}
		lossDyn, gradsDyn := lossAndGrads(t, bb, m, texts, 0)
		lossFix, gradsFix := lossAndGrads(t, bb, m, texts, 256)
		if math.Abs(lossDyn-lossFix) > 1e-5 {
			t.Errorf("%s: loss %v (dynamic) vs %v (padded to 256)", name, lossDyn, lossFix)
		}
		for n, g := range gradsDyn {
			if d := maxAbsF(g, gradsFix[n]); d > 1e-5 {
				t.Errorf("%s: gradient of %s differs by %g", name, n, d)
			}
		}
		if len(gradsDyn) < 3 {
			t.Errorf("%s: only %d gradients compared", name, len(gradsDyn))
		}
		m.Close()
	}
}

// After a training step only the method's tensors change; the backbone is bit-identical.
func TestOnlyMethodTensorsChange(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	before := map[string][]float32{}
	for _, w := range bb.Weights() {
		before[w.Name] = core.Float32s(w.Tensor)
	}
	for _, name := range []string{"pt", "dept", "ept"} {
		m, _ := core.NewMethod(name, map[string]any{})
		core.SeedAll(1)
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 256}); err != nil {
			t.Fatal(err)
		}
		groups := m.ParamGroups()
		start := map[string][]float32{}
		for _, g := range groups {
			for _, p := range g.Params {
				start[p.Name] = core.Float32s(p.Tensor)
			}
		}
		opt := core.NewAdamW(groups)
		srcs := [][]int64{bb.EncodeSource("abc def", 32), bb.EncodeSource("xyz", 32)}
		tgts := [][]int64{bb.EncodeTarget("0", 4), bb.EncodeTarget("1", 4)}
		if _, err := core.TrainStep(bb, m, opt, srcs, tgts, 0, 1, 1); err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, g := range groups {
			for _, p := range g.Params {
				if maxAbsF(core.Float32s(p.Tensor), start[p.Name]) > 0 {
					changed++
				}
			}
		}
		// EPT's W_down gets no gradient while W_up is zero; B moves (its gradient is not zero).
		if changed == 0 {
			t.Errorf("%s: no trainable tensor changed", name)
		}
		opt.Close()
		m.Close()
	}
	for _, w := range bb.Weights() {
		if d := maxAbsF(core.Float32s(w.Tensor), before[w.Name]); d != 0 {
			t.Errorf("backbone weight %s changed by %g", w.Name, d)
		}
	}
}

func TestEPTLabel(t *testing.T) {
	m, _ := core.NewMethod("ept", nil)
	if got := core.MethodLabel("ept", m); got != "EPT (reimpl.)" {
		t.Errorf("label %q", got)
	}
	var _ = ept.DefaultConfig
}

// ---- helpers -----------------------------------------------------------------------------

func embedBatch(bb core.Backbone, texts []string, padTo int) core.Input {
	var rows [][]int64
	for _, s := range texts {
		rows = append(rows, bb.EncodeSource(s, 256))
	}
	ids, mask := core.PadBatch(rows, padTo)
	defer ids.MustDrop()
	return core.Input{Embeds: bb.Embed(ids), Mask: mask}
}

func lossAndGrads(t *testing.T, bb core.Backbone, m core.Method, texts []string, padTo int) (float64, map[string][]float32) {
	in := embedBatch(bb, texts, padTo)
	defer in.Drop()
	x, err := m.(core.InputMethod).Transform(in, true)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	var tg [][]int64
	for i := range texts {
		tg = append(tg, bb.EncodeTarget([]string{"0", "1", "2"}[i%3], 4))
	}
	labels := core.PadLabels(tg)
	defer labels.MustDrop()
	loss, err := bb.Loss(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			gr := p.Tensor.MustGrad(false)
			if gr.MustDefined() {
				gr.MustZero_()
			}
			gr.MustDrop()
		}
	}
	loss.MustBackward()
	grads := map[string][]float32{}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			gr := p.Tensor.MustGrad(false)
			if gr.MustDefined() {
				grads[p.Name] = core.Float32s(gr)
			}
			gr.MustDrop()
		}
	}
	v := loss.Float64Values()[0]
	loss.MustDrop()
	return v, grads
}

func randomiseZeroParams(m core.Method) {
	ts.NoGrad(func() {
		for _, g := range m.ParamGroups() {
			for _, p := range g.Params {
				r := ts.MustRandn(p.Tensor.MustSize(), gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.1), true)
				p.Tensor.MustAdd_(r)
				r.MustDrop()
			}
		}
	})
}

func maxAbs(a, b *ts.Tensor) float64 { return maxAbsF(core.Float32s(a), core.Float32s(b)) }

func maxAbsF(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// Run keys hash a method's KeyConfig: DePT's and EPT's keep the encoding they had before
// prompt_length and prompt_lr took PT's names (length, lr). The strings are json.Marshal of
// the configs before the rename, with max_len 0 since it defaults to the run's max source
// length (keys changed then anyway: storage.TrainingRevision 1).
func TestRunKeyConfigKeepsThePreRenameEncoding(t *testing.T) {
	const deptBefore = `{"prompt_length":60,"rank":30,"max_len":0,"alpha":8,"prompt_lr":0.3,"lowrank_lr":0.0001,` +
		`"init":"text","init_text":"Classify this text is postive or not:","vocab_limit":5000`
	cases := []struct {
		method string
		raw    map[string]any
		want   string
	}{
		{"dept", nil, deptBefore + `}`},
		{"ept", nil, deptBefore + `,"spaces":4,"proj_rank":8,"gate":"pooled","fusion_kv":"ab","fusion":true,"projection":true,"proj_lr":0.01}`},
		{"dept", map[string]any{"length": 40, "lr": 0.5}, strings.Replace(strings.Replace(deptBefore, `"prompt_length":60`, `"prompt_length":40`, 1), `"prompt_lr":0.3`, `"prompt_lr":0.5`, 1) + `}`},
		{"dept", map[string]any{"prompt_length": 40, "prompt_lr": 0.5}, strings.Replace(strings.Replace(deptBefore, `"prompt_length":60`, `"prompt_length":40`, 1), `"prompt_lr":0.3`, `"prompt_lr":0.5`, 1) + `}`},
	}
	for _, c := range cases {
		m, err := core.NewMethod(c.method, c.raw)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := m.(interface{ KeyConfig() any })
		if !ok {
			t.Fatalf("%s has no KeyConfig", c.method)
		}
		got, _ := json.Marshal(k.KeyConfig())
		if string(got) != c.want {
			t.Errorf("%s %v: key config\n got %s\nwant %s", c.method, c.raw, got, c.want)
		}
		rec, _ := json.Marshal(m.Config())
		if !strings.Contains(string(rec), `"length":`) || strings.Contains(string(rec), "prompt_length") {
			t.Errorf("%s: the recorded config %s should use the current names", c.method, rec)
		}
		m.Close()
	}
}
