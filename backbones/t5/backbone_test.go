package t5

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/backbones/tokenizers"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/safetensors"
)

// Both forms (forms.go: the fast ones by default, PTBENCH_FORMS=plain) match the fixtures
// within the fixture README's float32 tolerances, unchanged.
func TestVerifyPassesEveryFixture(t *testing.T) {
	lockThread(t)
	for _, forms := range []string{"", "plain"} {
		t.Setenv(core.FormsEnv, forms)
		for _, name := range []string{"t5-tiny-v10", "t5-tiny-v11"} {
			dir := filepath.Join(fixtures, name)
			checks, err := VerifyCases(dir, filepath.Join(dir, "cases.json"), DefaultTolerances)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(checks) < 15 {
				t.Fatalf("%s: only %d checks ran", name, len(checks))
			}
			for _, c := range checks {
				if !c.Pass {
					t.Errorf("forms %q, %s: %s/%s error %g > %g", forms, name, c.Case, c.Output, c.Error, c.Tol)
				}
			}
		}
	}
}

func TestVerifyFailsOnWrongWeights(t *testing.T) {
	lockThread(t)
	// Copy the v10 fixture with one layer norm perturbed: verification must notice.
	src := filepath.Join(fixtures, "t5-tiny-v10")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "cases.json", "expected.safetensors", "model.bf16.safetensors"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, f))
	}
	file, err := safetensors.Read(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*safetensors.Tensor
	for _, tn := range file.Tensors() {
		c := *tn
		if tn.Name == "encoder.final_layer_norm.weight" {
			vals, _ := tn.Float32s()
			vals[0] += 0.01
			c = *safetensors.FromFloat32(tn.Name, tn.Shape, vals)
		}
		out = append(out, &c)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), out, nil); err != nil {
		t.Fatal(err)
	}
	checks, err := VerifyCases(dir, filepath.Join(dir, "cases.json"), DefaultTolerances)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range checks {
		if !c.Pass {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("a perturbed encoder norm passed verification")
	}
}

func TestLoadErrorsNameTheTensor(t *testing.T) {
	lockThread(t)
	cases := []struct {
		name, drop, reshape, want string
	}{
		{"missing", "decoder.block.1.layer.2.DenseReluDense.wo.weight", "", `missing tensor "decoder.block.1.layer.2.DenseReluDense.wo.weight"`},
		{"shape", "", "encoder.block.0.layer.0.SelfAttention.q.weight", `tensor "encoder.block.0.layer.0.SelfAttention.q.weight" has shape [16 32]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := RandomWeights(tinyV10, 1)
			defer dropAll(w)
			if tc.drop != "" {
				w[tc.drop].MustDrop()
				delete(w, tc.drop)
			}
			if tc.reshape != "" {
				w[tc.reshape].MustDrop()
				w[tc.reshape] = ts.MustZeros([]int64{16, 32}, gotch.Float, gotch.CPU)
			}
			_, _, err := NewModel(tinyV10, w, "ckpt")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %s", err, tc.want)
			}
		})
	}
}

func TestRandomWeightsReproduceTheFixtureGenerator(t *testing.T) {
	lockThread(t)
	raw, err := os.ReadFile(filepath.Join(fixtures, "t5-tiny-v10", "init.json"))
	if err != nil {
		t.Fatal(err)
	}
	var init struct {
		Seed    uint64 `json:"seed"`
		Tensors []struct {
			Name      string  `json:"name"`
			Shape     []int64 `json:"shape"`
			Offset    float64 `json:"offset"`
			HalfWidth float64 `json:"half_width"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(raw, &init); err != nil {
		t.Fatal(err)
	}
	file, err := safetensors.Read(filepath.Join(fixtures, "t5-tiny-v10", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range init.Tensors[:5] {
		got := UniformTensor(tn.Name, tn.Shape, init.Seed, tn.Offset, tn.HalfWidth)
		st, ok := file.Get(tn.Name)
		if !ok {
			t.Fatalf("fixture lacks %s", tn.Name)
		}
		want, _ := st.Float32s()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v, want %v", tn.Name, i, got[i], want[i])
			}
		}
	}
}

func TestOnlyMethodParametersReceiveGradients(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	prompt := ts.MustRandn([]int64{4, bb.Info().DModel}, gotch.Float, gotch.CPU)
	prompt.MustRequiresGrad_(true)
	defer prompt.MustDrop()
	ids, mask := core.PadBatch([][]int64{bb.EncodeSource("hello", 16), bb.EncodeSource("a longer input", 16)}, 0)
	in := core.Input{Embeds: bb.Embed(ids), Mask: mask}
	x, err := core.PrependPrompt(in, prompt)
	if err != nil {
		t.Fatal(err)
	}
	labels := core.PadLabels([][]int64{bb.EncodeTarget("0", 4), bb.EncodeTarget("1", 4)})
	loss, err := bb.Loss(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	loss.MustBackward()
	g := prompt.MustGrad(false)
	if !g.MustDefined() {
		t.Fatal("prompt received no gradient")
	}
	g.MustDrop()
	for _, w := range bb.Weights() {
		if w.Tensor.MustRequiresGrad() {
			t.Errorf("backbone weight %s requires grad", w.Name)
		}
		wg := w.Tensor.MustGrad(false)
		if wg.MustDefined() {
			t.Errorf("backbone weight %s received a gradient", w.Name)
		}
		wg.MustDrop()
	}
	for _, tt := range []*ts.Tensor{ids, loss, labels} {
		tt.MustDrop()
	}
	in.Drop()
	x.Drop()
}

func TestGenerateStopsAtEOSAndPads(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	ids, mask := core.PadBatch([][]int64{bb.EncodeSource("abc", 16), bb.EncodeSource("defgh", 16)}, 0)
	in := core.Input{Embeds: bb.Embed(ids), Mask: mask}
	defer in.Drop()
	defer ids.MustDrop()
	out, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 6, StopAtEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range out {
		if len(row) == 0 || len(row) > 6 {
			t.Fatalf("row length %d, want 1..6", len(row))
		}
		seen := false
		for _, tok := range row {
			if seen && tok != 0 {
				t.Fatalf("token %d after EOS in %v", tok, row)
			}
			seen = seen || tok == 1
		}
	}
}

// Evaluation decodes classification labels greedily: once every row has emitted EOS,
// decoding ends (rows are not padded out to MaxNewTokens). A hook makes the LM head emit EOS
// from row 0 at the first step and row 1 at the third: three decoder steps run, not 20.
func TestGenerateEndsOnceEveryRowEmittedEOS(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	steps := 0
	bb.SetHooks(&core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
		if c.Site != "lm_head" {
			return y
		}
		steps++
		// y is [B, 1, V]: +1000 on EOS (id 1) for the rows that should finish by now
		v := y.MustSize()[2]
		boost := make([]float32, 2*v)
		boost[1] = 1000
		if steps >= 3 {
			boost[v+1] = 1000
		}
		b := ts.MustOfSlice(boost).MustView([]int64{2, 1, v}, true)
		defer b.MustDrop()
		return y.MustAdd(b, false)
	}})
	defer bb.SetHooks(nil)
	ids, mask := core.PadBatch([][]int64{bb.EncodeSource("abc", 16), bb.EncodeSource("defgh", 16)}, 0)
	in := core.Input{Embeds: bb.Embed(ids), Mask: mask}
	defer in.Drop()
	defer ids.MustDrop()
	out, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 20, StopAtEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 3 || len(out) != 2 || len(out[0]) != 3 || len(out[1]) != 3 || out[0][0] != 1 || out[0][1] != 0 || out[1][2] != 1 {
		t.Fatalf("%d decoder steps, rows %v; want 3 steps, [[1 0 0] [x x 1]]", steps, out)
	}
}

func TestLinearHookChangesTheOutput(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	sites := bb.HookSites()
	// + lm_head; layer norms: 2 per encoder block, 3 per decoder block, a final one per stack.
	if len(sites) != 2*(4+1+2+1)+2*(4+1+4+1+2+1)+1+(2*2+2*3+2) {
		t.Fatalf("%d hook sites", len(sites))
	}
	roles := map[core.HookRole]int{}
	for _, s := range sites {
		roles[s.Role]++
	}
	// q and v on every attention (2 encoder self, 2 decoder self, 2 cross); one lm_head.
	if roles[core.RoleQ] != 6 || roles[core.RoleV] != 6 || roles[core.RoleCrossAttn] != 2 || roles[core.RoleLMHead] != 1 || roles[core.RoleNorm] != 12 || roles[""] != 0 {
		t.Errorf("roles %v", roles)
	}
	lossWith := func(h *core.Hooks) float64 {
		bb.SetHooks(h)
		defer bb.SetHooks(nil)
		ids, mask := core.PadBatch([][]int64{bb.EncodeSource("abc", 16)}, 0)
		in := core.Input{Embeds: bb.Embed(ids), Mask: mask}
		labels := core.PadLabels([][]int64{bb.EncodeTarget("1", 4)})
		loss, err := bb.Loss(in, labels)
		if err != nil {
			t.Fatal(err)
		}
		v := loss.Float64Values()[0]
		for _, x := range []*ts.Tensor{ids, labels, loss} {
			x.MustDrop()
		}
		in.Drop()
		return v
	}
	base := lossWith(nil)
	identity := lossWith(&core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor { return y }})
	scaled := lossWith(&core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
		if c.Site == "encoder.block.0.layer.0.SelfAttention.v" {
			return y.MustMulScalar(ts.FloatScalar(2), false)
		}
		return y
	}})
	if base != identity {
		t.Errorf("identity hook changed the loss: %v vs %v", base, identity)
	}
	if base == scaled {
		t.Errorf("scaling v in block 0 did not change the loss")
	}
}

// The norm hook is called at every listed norm site, once per teacher-forced pass, and an
// identity hook leaves the loss as it was.
func TestNormHookSites(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	want := map[string]bool{}
	for _, s := range bb.HookSites() {
		if s.Kind == core.HookNorm {
			want[s.Name] = true
		}
	}
	loss := func(h *core.Hooks) float64 {
		bb.SetHooks(h)
		defer bb.SetHooks(nil)
		ids, mask := core.PadBatch([][]int64{bb.EncodeSource("abc", 16)}, 0)
		in := core.Input{Embeds: bb.Embed(ids), Mask: mask}
		labels := core.PadLabels([][]int64{bb.EncodeTarget("1", 4)})
		l, err := bb.Loss(in, labels)
		if err != nil {
			t.Fatal(err)
		}
		v := l.Float64Values()[0]
		for _, x := range []*ts.Tensor{ids, labels, l} {
			x.MustDrop()
		}
		in.Drop()
		return v
	}
	calls := map[string]int{}
	base := loss(nil)
	got := loss(&core.Hooks{Norm: func(c core.HookCall, h *ts.Tensor) *ts.Tensor { calls[c.Site]++; return h }})
	if base != got {
		t.Errorf("identity norm hook changed the loss: %v vs %v", base, got)
	}
	if len(calls) != len(want) || !want["encoder.final_layer_norm"] || !want["decoder.block.1.layer.1.layer_norm"] {
		t.Fatalf("called %v, listed %v", calls, want)
	}
	for site, n := range calls {
		if !want[site] || n != 1 {
			t.Errorf("site %s called %d times (listed %v)", site, n, want[site])
		}
	}
}

func TestOpenDownloadsFromHub(t *testing.T) {
	lockThread(t)
	src := filepath.Join(fixtures, "t5-tiny-v11")
	var served []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /{org}/{name}/resolve/{rev}/{file}
		parts := strings.Split(r.URL.Path, "/")
		file := parts[len(parts)-1]
		data, err := os.ReadFile(filepath.Join(src, file))
		if err != nil || file == "cases.json" {
			http.NotFound(w, r)
			return
		}
		if len(served) == 0 || served[len(served)-1] != file { // HEAD then GET count once
			served = append(served, file)
		}
		w.Header().Set("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
		w.Header().Set("ETag", `"`+file+`-etag"`)
		w.Write(data)
	}))
	defer srv.Close()
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "")
	hf.HubEndpoint = srv.URL
	defer func() { hf.HubEndpoint = "" }()
	// The fixture has only 128 embeddings, fewer than any tokenizer: opening must say so
	// after the download (so config and weights were fetched and parsed).
	_, err := core.OpenBackbone("test-org/tiny-v11", core.BackboneOptions{Tokenizer: "byte"})
	if err == nil || !strings.Contains(err.Error(), "tokenizer has 259 ids but the model only 128") {
		t.Fatalf("open: %v", err)
	}
	if strings.Join(served, ",") != "config.json,model.safetensors" {
		t.Fatalf("served %v", served)
	}
	// A second load resolves from the cache without the server.
	srv.Close()
	dir, err := hf.ResolveModelDir("test-org/tiny-v11")
	if err != nil {
		t.Fatalf("cached: %v", err)
	}
	m, extra, err := LoadModelDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dropAll(extra)
	if !m.Cfg.GatedGELU || m.NumParams() != 64736 {
		t.Fatalf("cached model: gated %v, %d params", m.Cfg.GatedGELU, m.NumParams())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadsShardedSafetensors(t *testing.T) {
	lockThread(t)
	src := filepath.Join(fixtures, "t5-tiny-v11")
	dir := t.TempDir()
	copyFile(t, filepath.Join(src, "config.json"), filepath.Join(dir, "config.json"))
	file, err := safetensors.Read(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	shards := map[string][]*safetensors.Tensor{}
	weightMap := map[string]string{}
	for _, tn := range file.Tensors() {
		shard := "model-00001-of-00002.safetensors"
		if strings.HasPrefix(tn.Name, "decoder.") {
			shard = "model-00002-of-00002.safetensors"
		}
		shards[shard] = append(shards[shard], tn)
		weightMap[tn.Name] = shard
	}
	for name, ts := range shards {
		if err := safetensors.Write(filepath.Join(dir, name), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	index, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), index, 0o644)

	checks, err := VerifyCases(dir, filepath.Join(src, "cases.json"), DefaultTolerances)
	if err == nil {
		t.Fatal("verification without model.bf16.safetensors should fail to find it")
	}
	m, extra, err := LoadModelDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dropAll(extra)
	if m.NumParams() != 64736 || len(checks) == 0 {
		t.Fatalf("sharded model has %d params; %d checks before the bf16 case", m.NumParams(), len(checks))
	}
	for _, c := range checks {
		if !c.Pass {
			t.Errorf("sharded %s/%s error %g", c.Case, c.Output, c.Error)
		}
	}
}

// testdata/pytorch_model.bin is torch.save() of the v10 fixture's weights (see
// testdata/make_pytorch_bin.py): loading it through gotch's pickle reader must give a model
// that passes the fixture's cases like the safetensors file does.
func TestLoadsPyTorchPickle(t *testing.T) {
	lockThread(t)
	src := filepath.Join(fixtures, "t5-tiny-v10")
	dir := t.TempDir()
	copyFile(t, filepath.Join(src, "config.json"), filepath.Join(dir, "config.json"))
	copyFile(t, filepath.Join("testdata", "pytorch_model.bin"), filepath.Join(dir, "pytorch_model.bin"))
	m, extra, err := LoadModelDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dropAll(extra)
	if m.NumParams() != 45696 {
		t.Fatalf("%d params", m.NumParams())
	}
	raw, _ := os.ReadFile(filepath.Join(src, "cases.json"))
	var ref referenceFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	expected, err := core.LoadTorchFile(filepath.Join(src, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer dropAll(expected)
	c := ref.Cases[0]
	embeds, mask := caseInput(m, c, nil)
	defer embeds.MustDrop()
	defer mask.MustDrop()
	out, err := m.Forward(embeds, mask, c.Labels, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Drop()
	if d := maxAbsDiff(out.Logits, expected[c.Name+"/logits"]); d > 1e-4 {
		t.Fatalf("logits from the pickle differ by %g", d)
	}
}

// A generation is decoded as the references decode it (skip_special_tokens): <unk>, which a
// SentencePiece model's own decoder writes as " ⁇ ", is dropped with the pads.
func TestDecodeTargetDropsUnknown(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-small", core.BackboneOptions{Seed: 1, Tokenizer: "../../testdata/fixtures/tokenizers/t5style-unigram8k.model"})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	tb := bb.(*Backbone)
	unk := tokenizers.UnknownID(tb.Tokenizer())
	one := tb.EncodeTarget("1", 8) // "1" then EOS
	if unk < 0 || len(one) < 2 {
		t.Fatalf("unk %d, target ids %v", unk, one)
	}
	if raw := tb.Tokenizer().Decode([]int{int(unk)}); !strings.Contains(raw, "⁇") {
		t.Fatalf("the SentencePiece decoder writes <unk> as %q; the test needs its ⁇", raw)
	}
	ids := append([]int64{unk}, one...)
	if got := strings.TrimSpace(tb.DecodeTarget(ids)); got != "1" {
		t.Errorf("DecodeTarget(<unk> 1 </s>) = %q, want \"1\"", got)
	}
}
