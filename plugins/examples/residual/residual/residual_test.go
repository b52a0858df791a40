package residual

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptbench/ptbench/plugins/sdk"
)

func small(t *testing.T) *Method {
	t.Helper()
	m, err := New([]byte(`{"length": 3, "hidden": 5, "vocab_limit": 10}`))
	if err != nil {
		t.Fatal(err)
	}
	env := sdk.Env{DModel: 8, Vocab: 10, Seed: 3, Rows: map[int64][]float32{}}
	rng := rand.New(rand.NewPCG(1, 1))
	for id := int64(0); id < 10; id++ {
		row := make([]float32, 8)
		for k := range row {
			row[k] = float32(rng.NormFloat64())
		}
		env.Rows[id] = row
	}
	if err := m.Setup(env); err != nil {
		t.Fatal(err)
	}
	// Non-trivial LayerNorm parameters, so their gradients are checked too.
	for k := range m.gain.Data {
		m.gain.Data[k] = float32(0.5 + rng.Float64())
		m.bias.Data[k] = float32(rng.NormFloat64() * 0.1)
	}
	return m
}

// TestBackwardMatchesFiniteDifferences checks every parameter's gradient of
// L = Σ c ⊙ P' against central differences (computed in float64 from the float32 forward).
func TestBackwardMatchesFiniteDifferences(t *testing.T) {
	m := small(t)
	rng := rand.New(rand.NewPCG(2, 2))
	c := make([]float32, 3*8)
	for i := range c {
		c[i] = float32(rng.NormFloat64())
	}
	loss := func() float64 {
		out, _ := m.Forward(sdk.Batch{})
		var s float64
		for i, v := range out.Prefix.Data {
			s += float64(c[i]) * float64(v)
		}
		return s
	}
	loss()
	sdk.ZeroGrad(m.Params())
	if err := m.Backward(sdk.Outputs{Prefix: &sdk.Tensor{Shape: []int{3, 8}, Data: c}}); err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	for _, p := range m.Params() {
		for i := range p.Data {
			x := p.Data[i]
			p.Data[i] = x + h
			up := loss()
			p.Data[i] = x - h
			down := loss()
			p.Data[i] = x
			fd := (up - down) / (2 * h)
			if got := float64(p.Grad[i]); math.Abs(got-fd) > 2e-2*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s[%d]: backward %.5f, finite differences %.5f", p.Name, i, got, fd)
			}
		}
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	if _, err := New([]byte(`{"lenght": 3}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
	if _, err := New([]byte(`{"hidden": 0}`)); err == nil {
		t.Fatal("hidden 0 accepted")
	}
}

func TestStateRoundTrip(t *testing.T) {
	a, b := small(t), small(t)
	for i := range a.w1.Data {
		a.w1.Data[i] += 0.25
	}
	st, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	if st[len(st)-1].Name != "reparameterized_prompt" {
		t.Fatalf("last state tensor %q", st[len(st)-1].Name)
	}
	if err := b.LoadState(st); err != nil {
		t.Fatal(err)
	}
	oa, _ := a.Forward(sdk.Batch{})
	ob, _ := b.Forward(sdk.Batch{})
	for i := range oa.Prefix.Data {
		if oa.Prefix.Data[i] != ob.Prefix.Data[i] {
			t.Fatalf("P' differs after LoadState at %d", i)
		}
	}
}
