package hyperdecoder_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/hyperdecoder"
	"github.com/ptbench/ptbench/methods/internal/adapters"
)

// ffnCall is what one FFN site saw in a real T5 pass: f = FFN(x) before dropout, d = the
// post-dropout hook's input, out = its output, a = A(x) recomputed from the kept x.
type ffnCall struct {
	site      string
	f, d, out []float32
	a         []float32
}

// recordFFNs runs one teacher-forced pass of b under m with hooks around m's that keep, at
// every FFN site, FFN(x), dropout(FFN(x)), the post-dropout hook's answer and A(x).
func recordFFNs(t *testing.T, bb core.Backbone, m *hyperdecoder.Method, b *core.Batch) []ffnCall {
	t.Helper()
	inner := m.Hooks()
	if inner.Sublayer != nil {
		t.Fatal("HyperDecoder hooks a sublayer output: its adapters belong after the FFN's dropout")
	}
	norms := map[string]*ts.Tensor{} // FFN's norm site's output, by norm site
	var enc, mask *ts.Tensor
	pre := map[string][]float32{}
	var calls []ffnCall
	encoder := map[string]bool{}
	for _, s := range m.EncoderSites() {
		encoder[s] = true
	}
	lastNorm := map[string]string{} // FFN site → the norm site in front of it
	for _, s := range append(m.EncoderSites(), m.DecoderSites()...) {
		lastNorm[s] = normBefore(bb, s)
	}
	bb.SetHooks(&core.Hooks{
		Norm: func(c core.HookCall, x *ts.Tensor) *ts.Tensor {
			norms[c.Site] = x.MustShallowClone()
			return inner.Norm(c, x)
		},
		Sublayer: func(c core.HookCall, f *ts.Tensor) *ts.Tensor {
			pre[c.Site] = core.Float32s(f)
			return f
		},
		EncoderOutput: func(c core.HookCall, e, k *ts.Tensor) *ts.Tensor {
			enc, mask = e.MustShallowClone(), k.MustShallowClone()
			return inner.EncoderOutput(c, e, k)
		},
		PostDropout: func(c core.HookCall, d *ts.Tensor) *ts.Tensor {
			x := norms[lastNorm[c.Site]]
			var a *ts.Tensor
			var err error
			if encoder[c.Site] {
				a, err = m.EncoderAdapter(c.Site).Delta(x)
			} else {
				g, gerr := m.GenerateFor(c.Site, enc, mask)
				if gerr != nil {
					panic(gerr)
				}
				a, err = g.Delta(x, adapters.ReLU)
				g.Drop()
			}
			if err != nil {
				panic(err)
			}
			call := ffnCall{site: c.Site, f: pre[c.Site], d: core.Float32s(d), a: core.Float32s(a)}
			a.MustDrop()
			out := inner.PostDropout(c, d)
			call.out = core.Float32s(out)
			calls = append(calls, call)
			return out
		},
	})
	defer func() {
		bb.SetHooks(m.Hooks())
		for _, x := range norms {
			x.MustDrop()
		}
		for _, x := range []*ts.Tensor{enc, mask} {
			if x != nil {
				x.MustDrop()
			}
		}
	}()
	lossOf(t, bb, m, b)
	return calls
}

// The reference's FFN layer is h + dropout(FFN(x)) + A(x) (allenai/hyperdecoders
// modeling/adapter_t5.py:74-78): the adapter's output escapes the FFN's dropout. In a real T5
// pass at every FFN site of both stacks, the post-dropout hook gets dropout(FFN(x)) (in a
// training step with dropout 0.5: zeros and 2·FFN(x); otherwise FFN(x) itself) and returns it
// plus A(x) exactly; where the dropout zeroed the FFN, the adapter's A(x) is all there is.
func TestAdapterOutputIsNotDropped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dropout float64
		train   bool
		dropped bool // the FFN's output is dropped somewhere
	}{
		{"training step, dropout 0.5", 0.5, true, true},
		{"evaluation, dropout 0.5", 0.5, false, false},
		{"training step, dropout 0 (the presets')", 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coretest.LockThread(t)
			p := tc.dropout
			bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1, Dropout: &p})
			if err != nil {
				t.Fatal(err)
			}
			defer bb.Close()
			m, _ := setup(t, bb)
			rows := []core.Encoded{{Source: bb.EncodeSource("first input", 32), Target: bb.EncodeTarget("yes", 4)},
				{Source: bb.EncodeSource("second, longer input", 32), Target: bb.EncodeTarget("no", 4)}}
			b, err := bb.Collate(rows, core.CollateOptions{Train: tc.train})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ts.ManualSeed(3)
			calls := recordFFNs(t, bb, m, b)
			if want := len(m.EncoderSites()) + len(m.DecoderSites()); len(calls) != want {
				t.Fatalf("%d post-dropout calls, want one per FFN site (%d)", len(calls), want)
			}
			for _, c := range calls {
				var zeroed, adapterWhereZeroed int
				for i := range c.d {
					if err := checkElement(c, i, tc.dropped); err != nil {
						t.Fatalf("%s: %v", c.site, err)
					}
					if c.d[i] == 0 && c.f[i] != 0 {
						zeroed++
						if c.out[i] != 0 {
							adapterWhereZeroed++
						}
					}
				}
				if tc.dropped && (zeroed == 0 || adapterWhereZeroed == 0) {
					t.Errorf("%s: %d FFN outputs dropped, %d of them with the adapter's output in their place", c.site, zeroed, adapterWhereZeroed)
				}
				if !tc.dropped && zeroed != 0 {
					t.Errorf("%s: %d FFN outputs dropped without dropout", c.site, zeroed)
				}
			}
		})
	}
}

// checkElement: d[i] is f[i] (no dropout) or 0 or 2·f[i] (dropout 0.5), and out[i] is
// d[i] + A(x)[i] to the bit.
func checkElement(c ffnCall, i int, dropped bool) error {
	switch {
	case !dropped && c.d[i] != c.f[i]:
		return fmt.Errorf("element %d: hook got %g, FFN gave %g with no dropout", i, c.d[i], c.f[i])
	case dropped && c.d[i] != 0 && c.d[i] != 2*c.f[i]:
		return fmt.Errorf("element %d: hook got %g from FFN %g, neither dropped nor scaled by 2", i, c.d[i], c.f[i])
	case c.out[i] != c.d[i]+c.a[i]:
		return fmt.Errorf("element %d: hook returned %g, want dropout(FFN) %g + A(x) %g", i, c.out[i], c.d[i], c.a[i])
	}
	return nil
}

// A backbone that runs its FFNs without calling the post-dropout hook would leave every
// adapter out unnoticed; the encoder-output hook stops the pass instead.
func TestRefusesABackboneWithoutThePostDropoutHook(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	m, _ := setup(t, bb)
	h := m.Hooks()
	h.PostDropout = nil // what a backbone that never calls it amounts to
	bb.SetHooks(h)
	defer bb.SetHooks(m.Hooks())
	rows := []core.Encoded{{Source: bb.EncodeSource("an input", 32), Target: bb.EncodeTarget("yes", 4)}}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := func() (p any) {
		defer func() { p = recover() }()
		lossOf(t, bb, m, b)
		return nil
	}()
	if err, ok := got.(error); !ok || !strings.Contains(err.Error(), "post-dropout hook") {
		t.Fatalf("a pass without post-dropout calls: %v, want the hyperdecoder's error naming the hook", got)
	}
}
