package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Check is one compared output of a reference case.
type Check struct {
	Case   string  `json:"case"`
	Output string  `json:"output"`
	Error  float64 `json:"error"` // max absolute error (count of mismatches for ids/argmax)
	Tol    float64 `json:"tolerance"`
	Pass   bool    `json:"pass"`
}

// Tolerances of the llama2.c reference (fixture README): logits, final hidden state, and
// the top-1 margin above which the argmax must agree.
type Tolerances struct {
	Logit, Hidden, Margin float64
}

// DefaultTolerances are the fixture README's bounds for another float32 implementation.
var DefaultTolerances = Tolerances{Logit: 2e-4, Hidden: 1e-4, Margin: 1e-3}

// Reference is the llama2.c reference file (stories260K-reference.json).
type Reference struct {
	Header struct {
		Dim, HiddenDim, NLayers, NHeads, NKVHeads, VocabSize, SeqLen int
	} `json:"-"`
	Greedy struct {
		StartIDs []int64 `json:"start_ids"`
		Steps    int     `json:"steps"`
		IDs      []int64 `json:"ids"`
	} `json:"greedy"`
	Forced []struct {
		Name      string      `json:"name"`
		IDs       []int64     `json:"ids"`
		Argmax    []int64     `json:"argmax"`
		Margin    []float64   `json:"top1_minus_top2"`
		FinalNorm []float32   `json:"final_norm_hidden_last"`
		Logits    [][]float32 `json:"logits"`
	} `json:"forced"`
}

// IsReference reports whether path is a llama2.c reference file (it has "forced" cases and
// a "greedy" run), so the verify command can dispatch on the file.
func IsReference(path string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var probe struct {
		Forced json.RawMessage `json:"forced"`
		Greedy json.RawMessage `json:"greedy"`
	}
	return json.Unmarshal(raw, &probe) == nil && len(probe.Forced) > 0 && len(probe.Greedy) > 0
}

// Open loads a model from a llama2.c .bin file or an HF directory.
func Open(path string, o LoadOptions) (*Model, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return OpenBin(path, o) // a file: a llama2.c .bin, or LoadBin says why not (bincheck.go)
	}
	return OpenDir(path, o)
}

// VerifyCases runs every forced case (all logits, final RMSNorm'd hidden state of the last
// position, argmax where the reference margin exceeds tol.Margin) and the greedy run of a
// reference file on the model at modelPath (.bin or HF directory).
func VerifyCases(modelPath, casesPath string, tol Tolerances) ([]Check, error) {
	raw, err := os.ReadFile(casesPath)
	if err != nil {
		return nil, err
	}
	var ref Reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, fmt.Errorf("%s: %w", casesPath, err)
	}
	m, err := Open(modelPath, LoadOptions{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return VerifyModel(m, &ref, tol)
}

// VerifyModel checks a loaded model against a parsed reference.
func VerifyModel(m *Model, ref *Reference, tol Tolerances) ([]Check, error) {
	var checks []Check
	add := func(c, out string, e, t float64) {
		checks = append(checks, Check{Case: c, Output: out, Error: e, Tol: t, Pass: e <= t && !math.IsNaN(e)})
	}
	V := m.Cfg.Vocab
	var err error
	ts.NoGrad(func() {
		for _, fc := range ref.Forced {
			T := int64(len(fc.IDs))
			ids := m.idsOnDevice(fc.IDs, 1, T)
			emb := m.EmbedIDs(ids)
			ids.MustDrop()
			mask := ts.MustOnes([]int64{1, T}, gotch.Float, m.dev.Torch())
			logits, hidden := m.Forward(emb, mask)
			emb.MustDrop()
			mask.MustDrop()
			lv := float32s(logits)
			hv := float32s(hidden)
			logits.MustDrop()
			hidden.MustDrop()
			if int64(len(fc.Logits)) != T {
				err = fmt.Errorf("case %s: %d logit rows for %d ids", fc.Name, len(fc.Logits), T)
				return
			}
			worst, mism := 0.0, 0
			for t := int64(0); t < T; t++ {
				row := lv[t*V : (t+1)*V]
				best := 0
				for j, want := range fc.Logits[t] {
					worst = math.Max(worst, math.Abs(float64(row[j]-want)))
					if row[j] > row[best] {
						best = j
					}
				}
				if t < int64(len(fc.Margin)) && fc.Margin[t] > tol.Margin && int64(best) != fc.Argmax[t] {
					mism++
				}
			}
			add(fc.Name, "logits (every position)", worst, tol.Logit)
			add(fc.Name, "argmax (margin > tol)", float64(mism), 0)
			D := m.Cfg.Dim
			last := hv[(T-1)*D:]
			hw := 0.0
			for j, want := range fc.FinalNorm {
				hw = math.Max(hw, math.Abs(float64(last[j]-want)))
			}
			add(fc.Name, "final_norm_hidden_last", hw, tol.Hidden)
		}
		if len(ref.Greedy.IDs) > 0 {
			start := ref.Greedy.StartIDs
			if len(start) == 0 {
				start = []int64{m.Cfg.BOS}
			}
			ids := m.idsOnDevice(start, 1, int64(len(start)))
			emb := m.EmbedIDs(ids)
			ids.MustDrop()
			mask := ts.MustOnes([]int64{1, int64(len(start))}, gotch.Float, m.dev.Torch())
			got := m.Greedy(emb, mask, len(ref.Greedy.IDs), false, nil)
			emb.MustDrop()
			mask.MustDrop()
			mism := 0
			for i, want := range ref.Greedy.IDs {
				if i >= len(got[0]) || got[0][i] != want {
					mism++
				}
			}
			add("greedy", fmt.Sprintf("%d ids (KV cache)", len(ref.Greedy.IDs)), float64(mism), 0)
		}
	})
	return checks, err
}

func float32s(t *ts.Tensor) []float32 {
	c := t.MustTotype(gotch.Float, false).MustContiguous(true)
	defer c.MustDrop()
	out := make([]float32, c.Numel())
	c.MustCopyData(out, uint(len(out)))
	return out
}
