package host

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/sdk"
)

// probe is an SDK method that records what the host sends: its outputs are a per-example
// prefix [B, 2, d] and an offset [s, d] with fixed values; Forward keeps the batch and Backward
// the gradients.
type probe struct {
	s, d  int
	batch sdk.Batch
	out   sdk.Outputs
	grads sdk.Outputs
	p     *sdk.Param
}

func (p *probe) Config() any          { return map[string]any{} }
func (p *probe) PrefixLen() int       { return 2 }
func (p *probe) Params() []*sdk.Param { return []*sdk.Param{p.p} }
func (p *probe) Setup(env sdk.Env) error {
	p.s, p.d = env.MaxSourceLen, env.DModel
	p.p = sdk.NewParam("unused", 1, 1)
	return nil
}

func (p *probe) Forward(b sdk.Batch) (sdk.Outputs, error) {
	p.batch = b
	pre, off := sdk.NewTensor(b.B, 2, p.d), sdk.NewTensor(p.s, p.d)
	for i := range pre.Data {
		pre.Data[i] = float32(i%7) - 3
	}
	for i := range off.Data {
		off.Data[i] = float32(i%5) * 0.25
	}
	p.out = sdk.Outputs{Prefix: pre, Offset: off}
	return p.out, nil
}

func (p *probe) Backward(g sdk.Outputs) error { p.grads = g; return nil }

// TestInputAndOutputKinds: for each input kind the plugin receives the right tensor (masked
// mean, masked max, the full embeddings); a per-example prefix and a position-indexed offset
// are applied as H0 = [P_b ; E + O[0:L]] with the mask extended; and Backward receives exactly
// the gradients of the loss with respect to both outputs.
func TestInputAndOutputKinds(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const B, L, d, s = 3, 5, 64, 9
	rng := rand.New(rand.NewPCG(3, 4))
	emb := make([]float32, B*L*d)
	for i := range emb {
		emb[i] = float32(rng.NormFloat64())
	}
	lens := []int{5, 2, 4}
	mask := make([]float32, B*L)
	for b, n := range lens {
		for j := 0; j < n; j++ {
			mask[b*L+j] = 1
		}
	}
	embT := ts.MustOfSlice(emb).MustView([]int64{B, L, d}, true)
	maskT := ts.MustOfSlice(mask).MustView([]int64{B, L}, true)
	defer embT.MustDrop()
	defer maskT.MustDrop()
	in := core.Input{Embeds: embT, Mask: maskT}

	for _, kind := range []sdk.Input{sdk.InputNone, sdk.InputPooledMean, sdk.InputPooledMax, sdk.InputFull} {
		pr := &probe{}
		plug := sdk.Plugin{Info: sdk.Info{Name: "probe", Version: "0", Input: kind, Prefix: true, Offset: true},
			New: func([]byte) (sdk.Method, error) { return pr, nil }}
		m, err := NewInProcess("probe", plug, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: fakeBackbone{d: d, vocab: 10}, Seed: 1, MaxSourceLen: s}); err != nil {
			t.Fatal(err)
		}
		x, err := m.Transform(in, true)
		if err != nil {
			t.Fatal(err)
		}

		// What the plugin saw.
		var want []float32
		switch kind {
		case sdk.InputPooledMean, sdk.InputPooledMax:
			want = make([]float32, B*d)
			for b := 0; b < B; b++ {
				for k := 0; k < d; k++ {
					var sum float64
					best := float32(math.Inf(-1))
					for j := 0; j < lens[b]; j++ {
						v := emb[(b*L+j)*d+k]
						sum += float64(v)
						best = max(best, v)
					}
					if kind == sdk.InputPooledMax {
						want[b*d+k] = best
					} else {
						want[b*d+k] = float32(sum / float64(lens[b]))
					}
				}
			}
		case sdk.InputFull:
			want = emb
		}
		if got := pr.batch.Embeds; (got == nil) != (want == nil) {
			t.Fatalf("%v: embeds sent %v, want %d values", kind, got, len(want))
		} else if got != nil {
			for i := range want {
				if math.Abs(float64(got.Data[i]-want[i])) > 1e-6 {
					t.Fatalf("%v: embeds[%d] = %v, want %v", kind, i, got.Data[i], want[i])
				}
			}
		}
		if pr.batch.B != B || pr.batch.L != L || !pr.batch.Train || pr.batch.Mask[B*L-1] != 0 {
			t.Fatalf("%v: batch %d×%d train %v", kind, pr.batch.B, pr.batch.L, pr.batch.Train)
		}

		// H0 = [P_b ; E + O[0:L]], mask [1 1 ; mask].
		if sz := x.Embeds.MustSize(); sz[0] != B || sz[1] != L+2 || sz[2] != d {
			t.Fatalf("%v: H0 shape %v", kind, sz)
		}
		h0, m0 := core.Float32s(x.Embeds), core.Float32s(x.Mask)
		for b := 0; b < B; b++ {
			for j := 0; j < L+2; j++ {
				wantMask := float32(1)
				if j >= 2 {
					wantMask = mask[b*L+j-2]
				}
				if m0[b*(L+2)+j] != wantMask {
					t.Fatalf("%v: mask[%d,%d] = %v", kind, b, j, m0[b*(L+2)+j])
				}
				for k := 0; k < d; k++ {
					var w float32
					if j < 2 {
						w = pr.out.Prefix.Data[(b*2+j)*d+k]
					} else {
						w = emb[(b*L+j-2)*d+k] + pr.out.Offset.Data[(j-2)*d+k]
					}
					if h0[(b*(L+2)+j)*d+k] != w {
						t.Fatalf("%v: H0[%d,%d,%d] = %v, want %v", kind, b, j, k, h0[(b*(L+2)+j)*d+k], w)
					}
				}
			}
		}

		// loss = Σ G ⊙ H0: d loss/d P_b = G[b, :2], d loss/d O[r] = Σ_b G[b, 2+r] for r < L, 0 beyond.
		g := make([]float32, B*(L+2)*d)
		for i := range g {
			g[i] = float32(rng.NormFloat64())
		}
		gT := ts.MustOfSlice(g).MustView([]int64{B, L + 2, d}, true)
		loss := x.Embeds.MustMul(gT, false).MustSum(gotch.Float, true)
		loss.MustBackward()
		loss.MustDrop()
		gT.MustDrop()
		x.Drop()
		if err := m.AfterBackward(1, 0); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < B; b++ {
			for i := 0; i < 2*d; i++ {
				if got, w := pr.grads.Prefix.Data[b*2*d+i], g[b*(L+2)*d+i]; got != w {
					t.Fatalf("%v: prefix grad [%d,%d] = %v, want %v", kind, b, i, got, w)
				}
			}
		}
		for r := 0; r < s; r++ {
			for k := 0; k < d; k++ {
				var w float64
				if r < L {
					for b := 0; b < B; b++ {
						w += float64(g[(b*(L+2)+2+r)*d+k])
					}
				}
				if got := pr.grads.Offset.Data[r*d+k]; math.Abs(float64(got)-w) > 1e-5 {
					t.Fatalf("%v: offset grad [%d,%d] = %v, want %v", kind, r, k, got, w)
				}
			}
		}
		m.Close()
	}
}
