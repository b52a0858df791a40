package host

import (
	"math"
	"runtime"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/internal/sdkpt"
)

// run trains m for len(srcs) steps with core.TrainStep and returns every loss and the final
// prompt. Odd steps clip the gradient norm hard (1e-3, so the clipping path runs), even steps
// do not clip.
func run(t *testing.T, bb core.Backbone, m core.Method, srcs, tgts [][][]int64) ([]float64, []float32) {
	t.Helper()
	core.SeedAll(42)
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 42, MaxSourceLen: 64, Task: "test"}); err != nil {
		t.Fatal(err)
	}
	opt := core.NewAdamW(m.ParamGroups())
	defer opt.Close()
	// Built-in PT's ε (its reference's), which the SDK's PT declares too (Info.AdamEps); a
	// plugin's own optimiser runs in the plugin, so this one matters for in-process PT only.
	opt.Eps = core.TrainOptions{}.ForMethod("pt").AdamEpsilon()
	var losses []float64
	for s := range srcs {
		clip := 0.0
		if s%2 == 0 {
			clip = 1e-3
		}
		loss, err := core.TrainStep(bb, m, opt, srcs[s], tgts[s], 0, core.LinearSchedule(s+1, 3, len(srcs)), clip)
		if err != nil {
			t.Fatalf("step %d: %v", s+1, err)
		}
		losses = append(losses, loss)
		if hm, ok := m.(*Method); ok && clip > 0 && hm.GradNorm() <= clip {
			t.Fatalf("step %d: gradient norm %g does not exceed %g: the clipping path did not run", s+1, hm.GradNorm(), clip)
		}
	}
	if ss, ok := m.(core.StateSaver); ok {
		st, err := ss.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		defer core.DropNamed(st)
		if len(st) != 1 || st[0].Name != "prompt" {
			t.Fatalf("state %v, want one tensor named prompt", st)
		}
		return losses, core.Float32s(st[0].Tensor)
	}
	return losses, core.Float32s(m.ParamGroups()[0].Params[0].Tensor)
}

// TestPluginPTBitIdenticalToInProcess: PT written against the SDK, run as a plugin process and
// compiled in, reproduces the in-process PT (methods/pt) bit for bit on t5-tiny: every step's
// loss and the final prompt, with the vocabulary and the text initialisations.
func TestPluginPTBitIdenticalToInProcess(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	bb := openTiny(t)
	srcs, tgts := fixedBatches(10, 4, bb.Info().Vocab)
	for _, init := range []string{"vocab", "text"} {
		cfg := map[string]any{"init": init, "lr": 0.3}
		ref, err := core.NewMethod("pt", cfg)
		if err != nil {
			t.Fatal(err)
		}
		wantLoss, wantPrompt := run(t, bb, ref, srcs, tgts)
		wantParams := core.TrainableParams(ref)
		ref.Close()

		plug, err := Open("testpt", testPlugin, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		inproc, err := NewInProcess("testpt", sdkpt.Plugin("testpt"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			m    *Method
		}{{"plugin", plug}, {"compiled-in", inproc}} {
			gotLoss, gotPrompt := run(t, bb, c.m, srcs, tgts)
			if got := core.TrainableParams(c.m); got != wantParams {
				t.Errorf("%s/%s: %d trainable parameters, in-process PT has %d", init, c.name, got, wantParams)
			}
			for i := range wantLoss {
				if gotLoss[i] != wantLoss[i] {
					t.Errorf("%s/%s: step %d loss %.17g, in-process PT %.17g", init, c.name, i+1, gotLoss[i], wantLoss[i])
				}
			}
			if len(gotPrompt) != len(wantPrompt) {
				t.Fatalf("%s/%s: prompt has %d values, want %d", init, c.name, len(gotPrompt), len(wantPrompt))
			}
			diff := 0
			for i := range wantPrompt {
				if math.Float32bits(gotPrompt[i]) != math.Float32bits(wantPrompt[i]) {
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%s/%s: %d of %d final prompt values differ from in-process PT", init, c.name, diff, len(wantPrompt))
			}
			if wantLoss[0] == wantLoss[len(wantLoss)-1] {
				t.Errorf("%s: loss did not move (%v): the comparison proves nothing", init, wantLoss)
			}
			c.m.Close()
		}
	}
	assertNoChildren(t)
}
