// Package residual is residual prompt tuning (Razdaibiedina et al., 2023) written against the
// ptbench plugin SDK: every soft token is reparameterised through a shallow MLP with a
// residual connection,
//
//	P' = P + LN(W2 ReLU(W1 P + b1) + b2)        (row-wise; LN with gain γ and bias β)
//
// and P' is prepended to the input embeddings. P, W1, b1, W2, b2, γ, β are trained; after
// training the MLP can be dropped and P' kept (the state holds it as "reparameterized_prompt").
package residual

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ptbench/ptbench/plugins/sdk"
)

// Config is the method's settings.
type Config struct {
	Length     int     `json:"length"`      // m, soft tokens
	Hidden     int     `json:"hidden"`      // bottleneck width of the MLP
	LR         float64 `json:"lr"`          // learning rate of P
	MLPLR      float64 `json:"mlp_lr"`      // learning rate of W1, b1, W2, b2, γ, β
	VocabLimit int     `json:"vocab_limit"` // P starts as embedding rows of ids below this
	Eps        float64 `json:"ln_eps"`      // LayerNorm epsilon
}

// Defaults: 100 soft tokens, a 400-wide bottleneck (the paper's), PT's prompt learning rate.
func Defaults() Config {
	return Config{Length: 100, Hidden: 400, LR: 0.3, MLPLR: 1e-4, VocabLimit: 5000, Eps: 1e-5}
}

// Plugin is the method's SDK entry point (served by main, or compiled into ptbench with
// plugins/host.RegisterInProcess).
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{
			Name: "residual", Version: "0.1.0", Label: "Residual PT",
			About: "Residual prompt tuning (Razdaibiedina et al. 2023): P' = P + LN(W2 ReLU(W1 P)), prepended",
			Input: sdk.InputNone, Prefix: true, Defaults: Defaults(),
			ConfigDoc: map[string]string{
				"length": "m, number of soft tokens", "hidden": "MLP bottleneck width",
				"lr": "learning rate of the prompt P", "mlp_lr": "learning rate of the MLP and its LayerNorm",
				"vocab_limit": "P starts as embedding rows of random ids below this", "ln_eps": "LayerNorm epsilon",
			},
		},
		New: func(config []byte) (sdk.Method, error) { return New(config) },
	}
}

// New builds the method from a JSON configuration (nil = defaults).
func New(config []byte) (*Method, error) {
	cfg := Defaults()
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.Length <= 0:
		return nil, fmt.Errorf("length must be > 0, got %d", cfg.Length)
	case cfg.Hidden <= 0:
		return nil, fmt.Errorf("hidden must be > 0, got %d", cfg.Hidden)
	case cfg.LR <= 0 || cfg.MLPLR <= 0:
		return nil, fmt.Errorf("lr and mlp_lr must be > 0, got %g and %g", cfg.LR, cfg.MLPLR)
	case cfg.VocabLimit <= 0:
		return nil, fmt.Errorf("vocab_limit must be > 0, got %d", cfg.VocabLimit)
	case cfg.Eps <= 0:
		return nil, fmt.Errorf("ln_eps must be > 0, got %g", cfg.Eps)
	}
	return &Method{cfg: cfg}, nil
}

// Method is residual prompt tuning.
type Method struct {
	cfg                           Config
	d                             int
	p, w1, b1, w2, b2, gain, bias *sdk.Param

	// Forward's intermediates, kept for Backward (one row per soft token).
	a, zhat []float32 // [m, h] pre-activations, [m, d] normalised MLP outputs
	invStd  []float32 // [m]
	out     []float32 // [m, d] P'
}

func (m *Method) Config() any    { return m.cfg }
func (m *Method) PrefixLen() int { return m.cfg.Length }

func (m *Method) Params() []*sdk.Param {
	return []*sdk.Param{m.p, m.w1, m.b1, m.w2, m.b2, m.gain, m.bias}
}

// Needs asks for the embedding rows P starts from (seeded, like PT's vocab init).
func (m *Method) Needs(env sdk.Env) (sdk.Needs, error) {
	return sdk.Needs{EmbeddingRows: m.initIDs(env)}, nil
}

func (m *Method) initIDs(env sdk.Env) []int64 {
	return sdk.VocabInitIDs(env.Seed, m.cfg.Length, env.Vocab, m.cfg.VocabLimit)
}

// Setup: P from the embedding rows; W1, b1, W2, b2 as torch.nn.Linear initialises them
// (uniform ±1/√fan_in), seeded; γ = 1, β = 0.
func (m *Method) Setup(env sdk.Env) error {
	d, h, l := env.DModel, m.cfg.Hidden, m.cfg.Length
	m.d = d
	m.p = sdk.NewParam("prompt", m.cfg.LR, l, d)
	if err := sdk.CopyRows(m.p.Data, env, m.initIDs(env)); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(env.Seed), 0x7265736964756c)) // "residul"
	uniform := func(p *sdk.Param, bound float64) {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	lr := m.cfg.MLPLR
	m.w1, m.b1 = sdk.NewParam("mlp.w1", lr, h, d), sdk.NewParam("mlp.b1", lr, h)
	m.w2, m.b2 = sdk.NewParam("mlp.w2", lr, d, h), sdk.NewParam("mlp.b2", lr, d)
	uniform(m.w1, 1/math.Sqrt(float64(d)))
	uniform(m.b1, 1/math.Sqrt(float64(d)))
	uniform(m.w2, 1/math.Sqrt(float64(h)))
	uniform(m.b2, 1/math.Sqrt(float64(h)))
	m.gain, m.bias = sdk.NewParam("ln.weight", lr, d), sdk.NewParam("ln.bias", lr, d)
	for i := range m.gain.Data {
		m.gain.Data[i] = 1
	}
	m.a, m.zhat = make([]float32, l*h), make([]float32, l*d)
	m.invStd, m.out = make([]float32, l), make([]float32, l*d)
	return nil
}

// Forward computes P' row by row and returns it as the prefix shared by the batch.
func (m *Method) Forward(sdk.Batch) (sdk.Outputs, error) {
	d, h := m.d, m.cfg.Hidden
	z := make([]float32, d)
	for i := 0; i < m.cfg.Length; i++ {
		p := m.p.Data[i*d : (i+1)*d]
		a := m.a[i*h : (i+1)*h]
		for j := range a { // a = W1 p + b1
			a[j] = m.b1.Data[j] + dot(m.w1.Data[j*d:(j+1)*d], p)
		}
		for k := range z { // z = W2 ReLU(a) + b2
			z[k] = m.b2.Data[k] + dotReLU(m.w2.Data[k*h:(k+1)*h], a)
		}
		var mean, v float64 // LayerNorm statistics in float64
		for _, x := range z {
			mean += float64(x)
		}
		mean /= float64(d)
		for _, x := range z {
			v += (float64(x) - mean) * (float64(x) - mean)
		}
		inv := 1 / math.Sqrt(v/float64(d)+m.cfg.Eps)
		m.invStd[i] = float32(inv)
		zh, out := m.zhat[i*d:(i+1)*d], m.out[i*d:(i+1)*d]
		for k, x := range z {
			zh[k] = float32((float64(x) - mean) * inv)
			out[k] = p[k] + m.gain.Data[k]*zh[k] + m.bias.Data[k]
		}
	}
	return sdk.Outputs{Prefix: &sdk.Tensor{Shape: []int{m.cfg.Length, d}, Data: m.out}}, nil
}

// Backward back-propagates d loss / d P' through the residual MLP into every parameter.
func (m *Method) Backward(g sdk.Outputs) error {
	d, h := m.d, m.cfg.Hidden
	gz, gr := make([]float32, d), make([]float32, h)
	for i := 0; i < m.cfg.Length; i++ {
		gy := g.Prefix.Data[i*d : (i+1)*d]
		p, a, zh := m.p.Data[i*d:(i+1)*d], m.a[i*h:(i+1)*h], m.zhat[i*d:(i+1)*d]
		gp := m.p.Grad[i*d : (i+1)*d]
		// P' = P + γ ẑ + β
		var mg, mgz float64
		for k := range gy {
			gp[k] += gy[k]
			m.gain.Grad[k] += gy[k] * zh[k]
			m.bias.Grad[k] += gy[k]
			gzh := gy[k] * m.gain.Data[k]
			gz[k] = gzh
			mg += float64(gzh)
			mgz += float64(gzh) * float64(zh[k])
		}
		// LayerNorm: dz = (dẑ − mean(dẑ) − ẑ·mean(dẑ ẑ)) / σ
		mg, mgz = mg/float64(d), mgz/float64(d)
		inv := float64(m.invStd[i])
		for k := range gz {
			gz[k] = float32((float64(gz[k]) - mg - float64(zh[k])*mgz) * inv)
		}
		// z = W2 r + b2, r = ReLU(a)
		clear(gr)
		for k, gzk := range gz {
			m.b2.Grad[k] += gzk
			w2, gw2 := m.w2.Data[k*h:(k+1)*h], m.w2.Grad[k*h:(k+1)*h]
			for j, aj := range a {
				if aj > 0 {
					gw2[j] += gzk * aj
					gr[j] += w2[j] * gzk
				}
			}
		}
		// a = W1 p + b1
		for j, grj := range gr {
			if grj == 0 {
				continue
			}
			m.b1.Grad[j] += grj
			w1, gw1 := m.w1.Data[j*d:(j+1)*d], m.w1.Grad[j*d:(j+1)*d]
			for k := range p {
				gw1[k] += grj * p[k]
				gp[k] += w1[k] * grj
			}
		}
	}
	return nil
}

// State is the parameters plus the reparameterised prompt P' (usable as a plain PT prompt).
func (m *Method) State() ([]sdk.Named, error) {
	var out []sdk.Named
	for _, p := range m.Params() {
		out = append(out, sdk.Named{Name: p.Name, Tensor: &sdk.Tensor{Shape: p.Shape, Data: p.Data}})
	}
	if _, err := m.Forward(sdk.Batch{}); err != nil {
		return nil, err
	}
	out = append(out, sdk.Named{Name: "reparameterized_prompt", Tensor: &sdk.Tensor{Shape: []int{m.cfg.Length, m.d}, Data: m.out}})
	return out, nil
}

// LoadState restores the parameters (the saved P' is derived, so it is ignored).
func (m *Method) LoadState(state []sdk.Named) error {
	byName := map[string]*sdk.Tensor{}
	for _, n := range state {
		byName[n.Name] = n.Tensor
	}
	for _, p := range m.Params() {
		t, ok := byName[p.Name]
		if !ok || len(t.Data) != len(p.Data) {
			return fmt.Errorf("state lacks %q or its size differs (%d values expected)", p.Name, len(p.Data))
		}
		copy(p.Data, t.Data)
	}
	return nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// dotReLU is Σ w[j]·max(a[j], 0).
func dotReLU(w, a []float32) float32 {
	var s float32
	for j, x := range a {
		if x > 0 {
			s += w[j] * x
		}
	}
	return s
}
