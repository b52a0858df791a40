package llama

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// BenchmarkNF4StepLayers times an input method's bf16 training step on a two-layer model of
// Llama-2-7B's shapes (vocabulary cut to 512 so the head does not count) with DePT's 126
// rows, and its forward without gradients: per layer, what the floor (BenchmarkFloorGEMM,
// BenchmarkFloorCopy) is compared with.
func BenchmarkNF4StepLayers(b *testing.B) {
	lockThreadB(b)
	cfg := Presets["llama2-7b"]
	cfg.Layers, cfg.Vocab = 2, 512
	m, err := NewRandom(cfg, 1, LoadOptions{DType: core.BFloat16, Quant: core.QuantNF4})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	x := ts.MustRandn([]int64{1, 124, cfg.Dim}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
	defer x.MustDrop()
	mask := ts.MustOnes([]int64{1, 124}, gotch.Float, gotch.CPU)
	defer mask.MustDrop()
	labels := [][]int64{{5, 7}}
	b.Run("forward-nograd", func(b *testing.B) {
		lockThreadB(b) // a sub-benchmark is its own goroutine; NoGrad must not migrate threads
		for b.Loop() {
			ts.NoGrad(func() {
				l, err := m.Loss(x, mask, labels)
				if err != nil {
					b.Fatal(err)
				}
				l.MustDrop()
			})
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(cfg.Layers), "s/layer")
	})
	b.Run("step", func(b *testing.B) {
		lockThreadB(b)
		for b.Loop() {
			l, err := m.Loss(x, mask, labels)
			if err != nil {
				b.Fatal(err)
			}
			l.MustBackward()
			l.MustDrop()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(cfg.Layers), "s/layer")
	})
}
