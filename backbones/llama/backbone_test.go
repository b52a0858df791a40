package llama

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/internal/testfix"
)

func tinyBackbone(t *testing.T, opts core.BackboneOptions) *Backbone {
	t.Helper()
	lockThread(t)
	bb, err := core.OpenBackbone("llama-tiny", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb.(*Backbone)
}

// lockThread pins the test's goroutine to one OS thread: libtorch's grad mode is per thread.
func lockThread(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

func lossOf(t *testing.T, bb *Backbone, rows []core.Encoded) float64 {
	t.Helper()
	b, err := bb.Collate(rows, core.CollateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	var v float64
	ts.NoGrad(func() {
		l, err := bb.Loss(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		v = l.Float64Values()[0]
		l.MustDrop()
	})
	return v
}

// The loss is the cross-entropy of the target tokens only, each predicted from the token
// before it, and left padding changes nothing: a padded row scores as it does alone.
func TestLossTargetsOnlyAndLeftPadding(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 3})
	src := bb.EncodeSource("a premise and a hypothesis", 64)
	short := bb.EncodeSource("no", 64)
	tgt := bb.EncodeTarget("entailment", 8)
	tgt2 := bb.EncodeTarget("no", 8)
	a := lossOf(t, bb, []core.Encoded{{Source: src, Target: tgt}})
	bAlone := lossOf(t, bb, []core.Encoded{{Source: short, Target: tgt2}})

	// Manual: run [src; tgt] unpadded and average -log p(tgt_j | prefix).
	full := append(append([]int64{}, src...), tgt...)
	ids := ts.MustOfSlice(full).MustView([]int64{1, int64(len(full))}, true)
	emb := bb.Model().EmbedIDs(ids)
	mask := ts.MustOnes([]int64{1, int64(len(full))}, gotch.Float, gotch.CPU)
	var manual float64
	ts.NoGrad(func() {
		logits, hidden := bb.Model().Forward(emb, mask)
		lp := logits.MustLogSoftmax(-1, gotch.Float, true)
		V := bb.Model().Cfg.Vocab
		vals := float32s(lp)
		lp.MustDrop()
		hidden.MustDrop()
		for j, tok := range tgt {
			pos := int64(len(src) - 1 + j)
			manual -= float64(vals[pos*V+tok])
		}
		manual /= float64(len(tgt))
	})
	ids.MustDrop()
	emb.MustDrop()
	mask.MustDrop()
	if math.Abs(a-manual) > 1e-5 {
		t.Fatalf("loss %v, manual target-only cross-entropy %v", a, manual)
	}
	// ForwardOutputs: the same loss, target logits [B, T, V], source states [B, L, D].
	b, _ := bb.Collate([]core.Encoded{{Source: src, Target: tgt}}, core.CollateOptions{})
	in := core.EmbedBatch(bb, b)
	var o core.Outputs
	ts.NoGrad(func() { o, _ = bb.ForwardOutputs(in, b.Labels) })
	if v := o.Loss.Float64Values()[0]; math.Abs(v-a) > 1e-6 || fmt.Sprint(o.Logits.MustSize()) != fmt.Sprint([]int64{1, int64(len(tgt)), bb.Info().Vocab}) ||
		fmt.Sprint(o.Encoder.MustSize()) != fmt.Sprint([]int64{1, int64(len(src)), bb.Info().DModel}) {
		t.Fatalf("ForwardOutputs loss %v (Loss %v), logits %v, states %v", v, a, o.Logits.MustSize(), o.Encoder.MustSize())
	}
	o.Drop()
	in.Drop()
	b.Close()
	// Batch: the short row is left-padded, and its targets padded with -100.
	both := lossOf(t, bb, []core.Encoded{{Source: src, Target: tgt}, {Source: short, Target: tgt2}})
	want := (a*float64(len(tgt)) + bAlone*float64(len(tgt2))) / float64(len(tgt)+len(tgt2))
	if math.Abs(both-want) > 1e-5 {
		t.Fatalf("batched loss %v, token-weighted mean of the rows alone %v", both, want)
	}
}

// Cached greedy generation of a left-padded batch equals each row alone, and equals the
// argmax of a full (uncached) forward over the growing sequence.
func TestGenerateLeftPaddedMatchesAloneAndUncached(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 5})
	srcs := [][]int64{bb.EncodeSource("the first source text", 64), bb.EncodeSource("hi", 64)}
	gen := func(rows [][]int64) [][]int64 {
		enc := make([]core.Encoded, len(rows))
		for i, r := range rows {
			enc[i] = core.Encoded{Source: r}
		}
		b, err := bb.Collate(enc, core.CollateOptions{NoLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		in := core.EmbedBatch(bb, b)
		defer in.Drop()
		out, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 6})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	both := gen(srcs)
	for i, s := range srcs {
		alone := gen([][]int64{s})[0]
		for j := range alone {
			if alone[j] != both[i][j] {
				t.Fatalf("row %d: batched %v, alone %v", i, both[i], alone)
			}
		}
		// Uncached: append argmax and rerun everything.
		seq := append([]int64{}, s...)
		for j := 0; j < 6; j++ {
			ids := ts.MustOfSlice(seq).MustView([]int64{1, int64(len(seq))}, true)
			emb := bb.Model().EmbedIDs(ids)
			mask := ts.MustOnes([]int64{1, int64(len(seq))}, gotch.Float, gotch.CPU)
			var next int64
			ts.NoGrad(func() {
				logits, hidden := bb.Model().Forward(emb, mask)
				last := logits.MustSelect(1, int64(len(seq)-1), true)
				next = last.MustArgmax([]int64{-1}, false, true).Int64Values(true)[0]
				hidden.MustDrop()
			})
			ids.MustDrop()
			emb.MustDrop()
			mask.MustDrop()
			if next != alone[j] {
				t.Fatalf("row %d step %d: cached %d, uncached %d", i, j, alone[j], next)
			}
			seq = append(seq, next)
		}
	}
}

func TestHookSitesRolesAndLinearHook(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 1})
	sites := bb.HookSites()
	roles := map[core.HookRole]int{}
	for _, s := range sites {
		roles[s.Role]++
		if s.Stack != "decoder" {
			t.Fatalf("site %s stack %q", s.Name, s.Stack)
		}
	}
	L := int(bb.Model().Cfg.Layers)
	for r, n := range map[core.HookRole]int{core.RoleQ: L, core.RoleK: L, core.RoleV: L, core.RoleO: L, core.RoleFFNIn: 2 * L,
		core.RoleFFNOut: L, core.RoleSelfAttn: L, core.RoleFFN: L, core.RoleLMHead: 1, core.RoleNorm: 2*L + 1} {
		if roles[r] != n {
			t.Errorf("role %s: %d sites, want %d", r, roles[r], n)
		}
	}
	seen := map[string]bool{}
	bb.SetHooks(&core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor { seen[c.Site] = true; return y },
		Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor { seen[c.Site] = true; return h },
		Norm:     func(c core.HookCall, h *ts.Tensor) *ts.Tensor { seen[c.Site] = true; return h }})
	defer bb.SetHooks(nil)
	lossOf(t, bb, []core.Encoded{{Source: bb.EncodeSource("x", 16), Target: bb.EncodeTarget("y", 4)}})
	for _, s := range sites {
		if !seen[s.Name] {
			t.Errorf("site %s never called", s.Name)
		}
	}
	// A method that needs an encoder is refused.
	bb.SetHooks(&core.Hooks{EncoderOutput: func(c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor { return enc }})
	b, _ := bb.Collate([]core.Encoded{{Source: bb.EncodeSource("x", 16), Target: bb.EncodeTarget("y", 4)}}, core.CollateOptions{})
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	if _, err := bb.Loss(in, b.Labels); err == nil {
		t.Fatal("encoder-output hook accepted on a decoder-only backbone")
	}
	if err := core.RequireEncoderDecoder(bb, "hyperdecoder"); err == nil {
		t.Fatal("RequireEncoderDecoder accepted llama")
	}
}

func TestEncodeSourceKeepsSeparatorAndTargetEndsWithEOS(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{})
	src := bb.EncodeSource("a long source text that will be truncated", 12)
	if len(src) != 12 {
		t.Fatalf("source %v", src)
	}
	if got := bb.Tokenizer().Decode(toInts(src)); got[len(got)-len(Separator):] != Separator {
		t.Fatalf("truncated source %q lost the separator", got)
	}
	tgt := bb.EncodeTarget("yes", 8)
	if len(tgt) != 5 || tgt[len(tgt)-1] != bb.Model().Cfg.EOS || bb.DecodeTarget(append(tgt, 50, 60)) != "yes" {
		t.Fatalf("target %v decodes to %q", tgt, bb.DecodeTarget(tgt))
	}
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// bf16 compute: weights bf16, loss float32 and close to the float32 loss; prompts (float32
// method parameters) get float32 gradients.
func TestBF16LossAndGradients(t *testing.T) {
	f32 := tinyBackbone(t, core.BackboneOptions{Seed: 2})
	bf := tinyBackbone(t, core.BackboneOptions{Seed: 2, DType: core.BFloat16})
	rows := []core.Encoded{{Source: f32.EncodeSource("some source", 32), Target: f32.EncodeTarget("label", 8)}}
	a, b := lossOf(t, f32, rows), lossOf(t, bf, rows)
	if math.Abs(a-b) > 0.05*math.Abs(a) {
		t.Fatalf("bf16 loss %v vs float32 %v", b, a)
	}
	batch, _ := bf.Collate(rows, core.CollateOptions{Train: true})
	defer batch.Close()
	in := core.EmbedBatch(bf, batch)
	defer in.Drop()
	prompt := ts.MustRandn([]int64{4, bf.Info().DModel}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer prompt.MustDrop()
	x, err := core.PrependPrompt(in, prompt)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	loss, err := bf.Loss(x, batch.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if loss.DType() != gotch.Float {
		t.Fatalf("loss dtype %v", loss.DType())
	}
	loss.MustBackward()
	loss.MustDrop()
	g := prompt.MustGrad(false)
	defer g.MustDrop()
	if g.DType() != gotch.Float || g.MustAbs(false).MustSum(gotch.Float, true).Float64Values(true)[0] == 0 {
		t.Fatalf("prompt gradient dtype %v or zero", g.DType())
	}
}

// With the Llama-2 SentencePiece tokenizer the preset takes its specials: BOS 1 first, EOS 2
// last, pad 0 (<unk>, as HF pads a tokenizer without pad), vocab 32000.
func TestLlama2TokenizerSpecials(t *testing.T) {
	tokPath := testfix.Path(t, "models/llama2-tokenizer/tokenizer.model")
	if tokPath == "" {
		return
	}
	bb := tinyBackbone(t, core.BackboneOptions{Tokenizer: tokPath})
	c := bb.Model().Cfg
	if c.BOS != 1 || c.EOS != 2 || c.Pad != 0 || c.Vocab != 32000 {
		t.Fatalf("specials BOS %d EOS %d pad %d vocab %d", c.BOS, c.EOS, c.Pad, c.Vocab)
	}
	src := bb.EncodeSource("Is the sky blue?", 64)
	tgt := bb.EncodeTarget("yes", 8)
	if len(tgt) != 2 || src[0] != 1 || tgt[len(tgt)-1] != 2 || bb.DecodeTarget(tgt) != "yes" {
		t.Fatalf("source %v target %v (%q)", src, tgt, bb.DecodeTarget(tgt))
	}
	if got := bb.Tokenizer().Decode(toInts(src[1:])); got != "Is the sky blue?"+Separator {
		t.Fatalf("source decodes to %q", got)
	}
}

// Teacher forcing and generation agree on where the target starts and on positions behind a
// prompt and left padding: with the greedy continuation as labels, the argmax of Loss's
// teacher-forced logits (ForwardOutputs) at every target position is the generated token.
func TestTeacherForcedArgmaxIsGenerated(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 11})
	rows := []core.Encoded{{Source: bb.EncodeSource("first question, a longer one", 64)}, {Source: bb.EncodeSource("second", 64)}}
	ts.ManualSeed(3)
	prompt := ts.MustRandn([]int64{5, bb.Info().DModel}, gotch.Float, gotch.CPU)
	defer prompt.MustDrop()
	b, _ := bb.Collate(rows, core.CollateOptions{NoLabels: true})
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	x, err := core.PrependPrompt(in, prompt)
	in.Drop()
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	const n = 6
	gen, err := bb.Generate(x, core.GenerateOptions{MaxNewTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	flat := append(append([]int64{}, gen[0]...), gen[1]...)
	labels := ts.MustOfSlice(flat).MustView([]int64{2, n}, true)
	defer labels.MustDrop()
	var o core.Outputs
	ts.NoGrad(func() { o, err = bb.ForwardOutputs(x, labels) })
	if err != nil {
		t.Fatal(err)
	}
	defer o.Drop()
	am := o.Logits.MustArgmax([]int64{-1}, false, false).Int64Values(true)
	for i := range flat {
		if am[i] != flat[i] {
			t.Fatalf("row %d target %d: teacher-forced argmax %d, generated %d (generated %v)", i/n, i%n, am[i], flat[i], gen)
		}
	}
}
