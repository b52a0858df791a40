package t5

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// While the q/k/v weights train (full fine-tuning), the stacked projection stands aside and
// each of them — views of the stacked weight — receives its gradient, in fp32 and bf16.
func TestTrainableQKVGetGradientsThroughTheFastForms(t *testing.T) {
	lockThread(t)
	cfg := Presets["t5-tiny"]
	for _, bf16 := range []bool{false, true} {
		m, _, err := NewModel(cfg, RandomWeights(cfg, 5), "t5-tiny")
		if err != nil {
			t.Fatal(err)
		}
		m.UseForms(false)
		if bf16 {
			m.ToBF16()
		}
		self := m.encoder[0].self
		if self.qkv == nil || self.qkv.DType() != self.q.DType() {
			t.Fatalf("bf16=%v: q, k, v not stacked (%v)", bf16, self.qkv)
		}
		for _, w := range []*ts.Tensor{self.q, self.v} {
			w.MustRequiresGrad_(true)
		}
		embeds := ts.MustRandn([]int64{2, 12, cfg.DModel}, gotch.Float, gotch.CPU)
		mask := ts.MustOnes([]int64{2, 12}, gotch.Float, gotch.CPU)
		out, err := m.Forward(embeds, mask, [][]int64{{5, 1}, {7, 1}}, false, false)
		if err != nil {
			t.Fatal(err)
		}
		out.Loss.MustBackward()
		out.Drop()
		embeds.MustDrop()
		mask.MustDrop()
		for name, w := range map[string]*ts.Tensor{"q": self.q, "v": self.v} {
			g := w.MustGrad(false)
			if !g.MustDefined() {
				t.Errorf("bf16=%v: trainable %s got no gradient", bf16, name)
			} else if sum := g.MustAbs(false).MustSum(gotch.Float, true); sum.Float64Values(true)[0] == 0 {
				t.Errorf("bf16=%v: trainable %s got a zero gradient", bf16, name)
			}
			g.MustDrop()
		}
		m.Close()
	}
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
	if k, v := m.crossForms(m.decoder[0].cross, short.MustSize()[1], embeds); !k || !v {
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
