package t5_test

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/adapter"
	_ "github.com/ptbench/ptbench/methods/lora"
	_ "github.com/ptbench/ptbench/methods/pt"
)

// --dtype bfloat16: the matmul weights are bf16, the loss stays within bf16's rounding of the
// fp32 model's, and a PT and a LoRA step train fp32 parameters through it.
func TestBF16Compute(t *testing.T) {
	coretest.LockThread(t)
	open := func(dtype core.DType) core.Backbone {
		bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 3, DType: dtype})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(bb.Close)
		return bb
	}
	fp32, bf16 := open(core.Float32), open(core.BFloat16)
	var bfWeights int
	for _, w := range bf16.Weights() {
		if w.Tensor.DType() == gotch.BFloat16 {
			bfWeights++
		}
	}
	if bfWeights == 0 || !strings.HasPrefix(bf16.Info().DType, "bfloat16") {
		t.Fatalf("%d bf16 weights, dtype %q", bfWeights, bf16.Info().DType)
	}
	loss := func(bb core.Backbone) float64 {
		rows := []core.Encoded{{Source: bb.EncodeSource("a short input", 32), Target: bb.EncodeTarget("yes", 4)},
			{Source: bb.EncodeSource("and a somewhat longer one", 32), Target: bb.EncodeTarget("no", 4)}}
		b, err := bb.Collate(rows, core.CollateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		in := core.EmbedBatch(bb, b)
		defer in.Drop()
		l, err := bb.Loss(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		defer l.MustDrop()
		return l.Float64Values()[0]
	}
	a, b := loss(fp32), loss(bf16)
	if rel := math.Abs(a-b) / a; rel > 0.02 || a == b {
		t.Errorf("loss fp32 %v, bf16 %v (relative %v)", a, b, rel)
	}
	// A linear hook on o or the FFN's output projection sees that projection's input, which
	// bf16 compute keeps in bf16 (attention context, FFN hidden): it must reach the hook in fp32.
	allLinears := map[string]any{"targets": []any{"q", "k", "v", "o", "ffn_in", "ffn_out"}}
	for _, c := range []struct {
		name string
		cfg  map[string]any
	}{{"pt", nil}, {"lora", nil}, {"lora", allLinears}, {"adapter", nil}} {
		name := c.name
		m, err := core.NewMethod(name, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := core.StartSession(bf16, m, core.SetupEnv{Backbone: bf16, Seed: 1, MaxSourceLen: 32})
		if err != nil {
			t.Fatal(err)
		}
		srcs := [][]int64{bf16.EncodeSource("train on this", 32)}
		tgts := [][]int64{bf16.EncodeTarget("yes", 4)}
		l, err := core.TrainStep(bf16, m, sess.Opt, srcs, tgts, 0, 1, 1)
		if err != nil || math.IsNaN(l) {
			t.Fatalf("%s step: %v %v", name, l, err)
		}
		for _, g := range m.ParamGroups() {
			for _, p := range g.Params {
				if p.Tensor.DType() != gotch.Float {
					t.Errorf("%s parameter %s is %v, want float32 master weights", name, p.Name, p.Tensor.DType())
				}
			}
		}
		sess.Close()
		m.Close()
	}
}
