package hypernet

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/internal/adapters"
)

// Delta is the generated adapter of each row, checked against the formula written out in
// float64 from the heads' weights: both head layouts (F.linear's [out, in] and x @ W's
// [in, out]), with and without the generated layer norm.
func TestDeltaMatchesTheFormula(t *testing.T) {
	coretest.LockThread(t)
	geluNew := func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) }
	relu := func(x float64) float64 { return math.Max(x, 0) }
	for _, c := range []struct {
		name      string
		inOut, ln bool
		act       adapters.Activation
		f         func(float64) float64
	}{
		{"hyperformer", false, true, adapters.GeLUNew, geluNew},
		{"hyperdecoder", true, false, adapters.ReLU, relu},
	} {
		t.Run(c.name, func(t *testing.T) {
			core.SeedAll(3)
			const d, b, p, R, T = 4, 2, 3, 2, 3
			h := &Heads{D: d, B: b, InOut: c.inOut}
			var err error
			mk := func(out int64) Linear {
				l, e := NewLinear(core.CPU, p, out, Normal(0.5), Normal(0.5))
				if e != nil {
					err = e
				}
				return l
			}
			h.Down, h.DownB, h.Up, h.UpB = mk(b*d), mk(b), mk(d*b), mk(d)
			if c.ln {
				g, be := mk(d), mk(d)
				h.Gamma, h.Beta = &g, &be
			}
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			src := ts.MustRandn([]int64{R, p}, gotch.Float, gotch.CPU)
			x := ts.MustRandn([]int64{R, T, d}, gotch.Float, gotch.CPU)
			defer src.MustDrop()
			defer x.MustDrop()
			g, err := h.Generate(src)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Drop()
			out, err := g.Delta(x, c.act)
			if err != nil {
				t.Fatal(err)
			}
			defer out.MustDrop()
			got := core.Float32s(out)

			sv, xv := core.Float32s(src), core.Float32s(x)
			headOut := func(l Linear, r int) []float64 { // W s_r + c
				w, cv := core.Float32s(l.W), core.Float32s(l.C)
				n := len(cv)
				y := make([]float64, n)
				for i := 0; i < n; i++ {
					y[i] = float64(cv[i])
					for k := 0; k < p; k++ {
						y[i] += float64(w[i*p+k]) * float64(sv[r*p+k])
					}
				}
				return y
			}
			for r := 0; r < R; r++ {
				wd, bd, wu, bu := headOut(h.Down, r), headOut(h.DownB, r), headOut(h.Up, r), headOut(h.UpB, r)
				// down(j, i): the weight from input i to bottleneck unit j.
				down := func(j, i int) float64 {
					if c.inOut {
						return wd[i*b+j] // [d, b]
					}
					return wd[j*d+i] // [b, d]
				}
				up := func(i, j int) float64 { // from bottleneck j to output i
					if c.inOut {
						return wu[j*d+i] // [b, d]
					}
					return wu[i*b+j] // [d, b]
				}
				for tok := 0; tok < T; tok++ {
					xr := xv[(r*T+tok)*d : (r*T+tok+1)*d]
					u := make([]float64, d)
					for i := 0; i < d; i++ {
						u[i] = bu[i]
						for j := 0; j < b; j++ {
							z := bd[j]
							for k := 0; k < d; k++ {
								z += down(j, k) * float64(xr[k])
							}
							u[i] += up(i, j) * c.f(z)
						}
					}
					if c.ln {
						gm, bt := headOut(*h.Gamma, r), headOut(*h.Beta, r)
						var mean, vr float64
						for _, v := range u {
							mean += v / d
						}
						for _, v := range u {
							vr += (v - mean) * (v - mean) / d
						}
						for i := range u {
							u[i] = (u[i]-mean)/math.Sqrt(vr+LayerNormEps)*gm[i] + bt[i]
						}
					}
					for i := 0; i < d; i++ {
						if g := float64(got[(r*T+tok)*d+i]); math.Abs(g-u[i]) > 1e-4*(1+math.Abs(u[i])) {
							t.Fatalf("row %d token %d unit %d: %v, formula %v", r, tok, i, g, u[i])
						}
					}
				}
			}
		})
	}
}

// NewTorchLinear draws weight and bias from U(±1/√in), as nn.Linear does; NewEmbedding is
// N(0, 1) (its sample variance near 1).
func TestInitialisers(t *testing.T) {
	coretest.LockThread(t)
	core.SeedAll(1)
	l, err := NewTorchLinear(core.CPU, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, x := range map[string]*ts.Tensor{"weight": l.W, "bias": l.C} {
		var big float64
		for _, v := range core.Float32s(x) {
			big = math.Max(big, math.Abs(float64(v)))
		}
		if big > 0.1 || big < 0.09 {
			t.Errorf("%s: max |v| %v, want just under 1/√100 = 0.1", name, big)
		}
		if !x.MustRequiresGrad() {
			t.Errorf("%s does not require grad", name)
		}
	}
	e, err := NewEmbedding(core.CPU, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer e.MustDrop()
	var sq float64
	for _, v := range core.Float32s(e) {
		sq += float64(v) * float64(v)
	}
	if v := sq / 10000; v < 0.9 || v > 1.1 {
		t.Errorf("embedding variance %v, want ≈ 1", v)
	}
}
