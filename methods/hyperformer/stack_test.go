package hyperformer

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// The projected embedding is layer-normed (unique_hyper_net_layer_norm, ε 1e-6): at
// initialisation (weight 1, bias 0) every row has mean 0 and variance ≈ 1; with the setting
// off it is the projector's raw output, far from unit variance (weights N(0, 10⁻⁴)).
func TestProjectedEmbeddingIsLayerNormed(t *testing.T) {
	coretest.LockThread(t)
	for _, norm := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.ProjectedNorm = norm
		core.SeedAll(2)
		net, err := newStackNet(core.CPU, "encoder", 2, 64, cfg)
		if err != nil {
			t.Fatal(err)
		}
		z := ts.MustRandn([]int64{3, int64(cfg.TaskDim)}, gotch.Float, gotch.CPU)
		s, err := net.source(z, 1, blockFFN)
		z.MustDrop()
		if err != nil {
			t.Fatal(err)
		}
		v := core.Float32s(s)
		s.MustDrop()
		net.close()
		p := cfg.ProjectedDim
		for r := 0; r < 3; r++ {
			var mean, vr float64
			for _, x := range v[r*p : (r+1)*p] {
				mean += float64(x) / float64(p)
			}
			for _, x := range v[r*p : (r+1)*p] {
				vr += (float64(x) - mean) * (float64(x) - mean) / float64(p)
			}
			// The raw output's variance is ≈ 10⁻⁴, so ε = 10⁻⁶ leaves the normed one ≈ 0.99.
			normed := math.Abs(mean) < 1e-4 && math.Abs(vr-1) < 0.05
			if normed != norm {
				t.Errorf("norm %v, row %d: mean %v, variance %v", norm, r, mean, vr)
			}
		}
	}
}
