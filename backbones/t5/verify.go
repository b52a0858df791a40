package t5

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Check is one compared output of a reference case.
type Check struct {
	Case   string  `json:"case"`
	Output string  `json:"output"`
	Error  float64 `json:"error"` // max absolute error (relative for the loss)
	Tol    float64 `json:"tolerance"`
	Pass   bool    `json:"pass"`
}

// Tolerances for VerifyCases: absolute on hidden states/logits, relative on losses.
type Tolerances struct {
	Abs, LossRel float64
}

// DefaultTolerances are the fixture README's bounds for a correct float32 implementation.
var DefaultTolerances = Tolerances{Abs: 1e-4, LossRel: 1e-5}

type referenceFile struct {
	Model string          `json:"model"`
	Cases []referenceCase `json:"cases"`
	// Prompt cases prepend prompt.weight to the input embeddings.
	PromptCases []struct {
		referenceCase
		PromptTensor string `json:"prompt_tensor"`
		Expected     struct {
			Adam struct {
				LR    json.Number `json:"lr"`
				Eps   json.Number `json:"eps"`
				Steps json.Number `json:"steps"`
			} `json:"adam"`
		} `json:"expected"`
	} `json:"prompt_cases"`
	BF16 *struct {
		Name string `json:"name"`
	} `json:"bf16_weights_case"`
}

type referenceCase struct {
	Name          string    `json:"name"`
	InputIDs      [][]int64 `json:"input_ids"`
	AttentionMask [][]int64 `json:"attention_mask"`
	Labels        [][]int64 `json:"labels"`
}

// VerifyCases runs every case of a reference file (a cases.json of reference inputs with an
// expected.safetensors of reference outputs beside it, made with HF transformers) on the model in dir and compares encoder states,
// logits, loss, greedy ids and step logits; prompt cases also compare the prompt gradient and
// 20 Adam steps; the bf16 case reloads model.bf16.safetensors. The models compute in the
// forms core.FormsEnv selects (forms.go), as opened backbones do.
func VerifyCases(dir, casesPath string, tol Tolerances) ([]Check, error) {
	raw, err := os.ReadFile(casesPath)
	if err != nil {
		return nil, err
	}
	var ref referenceFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, fmt.Errorf("%s: %w", casesPath, err)
	}
	expPath := filepath.Join(filepath.Dir(casesPath), "expected.safetensors")
	expected, err := core.LoadTorchFile(expPath)
	if err != nil {
		return nil, err
	}
	defer dropAll(expected)
	get := func(key string) (*ts.Tensor, error) {
		t, ok := expected[key]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %q", expPath, key)
		}
		return t, nil
	}

	plain, err := formsFromEnv() // the forms every model computes in (forms.go)
	if err != nil {
		return nil, err
	}
	model, extra, err := LoadModelDir(dir, "")
	if err != nil {
		return nil, err
	}
	defer model.Close()
	defer dropAll(extra)
	model.UseForms(plain)

	var checks []Check
	add := func(c, out string, e, t float64) {
		checks = append(checks, Check{Case: c, Output: out, Error: e, Tol: t, Pass: e <= t && !math.IsNaN(e)})
	}
	for _, c := range ref.Cases {
		if err := verifyCase(model, c, c.Name, nil, get, tol, add, true); err != nil {
			return checks, err
		}
	}
	for _, pc := range ref.PromptCases {
		prompt, ok := extra[pc.PromptTensor]
		if !ok {
			return checks, fmt.Errorf("%s: prompt case needs tensor %q in the model file", dir, pc.PromptTensor)
		}
		if err := verifyCase(model, pc.referenceCase, "prompt", prompt, get, tol, add, true); err != nil {
			return checks, err
		}
		lr, _ := pc.Expected.Adam.LR.Float64()
		eps, _ := pc.Expected.Adam.Eps.Float64()
		steps, _ := pc.Expected.Adam.Steps.Int64()
		if err := verifyAdam(model, pc.referenceCase, prompt, lr, eps, int(steps), get, tol, add); err != nil {
			return checks, err
		}
	}
	if ref.BF16 != nil {
		bf, bfExtra, err := LoadModelDir(dir, "model.bf16.safetensors")
		if err != nil {
			return checks, err
		}
		defer bf.Close()
		defer dropAll(bfExtra)
		bf.UseForms(plain)
		var base referenceCase
		for _, c := range ref.Cases {
			if c.Name == "batch3_padded" {
				base = c
			}
		}
		if err := verifyCase(bf, base, "bf16_weights", nil, get, tol, add, false); err != nil {
			return checks, err
		}
	}
	return checks, nil
}

// caseInput builds embeddings (optionally with a prompt prefix) and the mask of a case.
func caseInput(m *Model, c referenceCase, prompt *ts.Tensor) (embeds, mask *ts.Tensor) {
	B, L := int64(len(c.InputIDs)), int64(len(c.InputIDs[0]))
	ids := m.idsOnDevice(flatten(c.InputIDs), B, L)
	embeds = ts.MustEmbedding(m.shared, ids, -1, false, false)
	ids.MustDrop()
	mask = m.idsOnDevice(flatten(c.AttentionMask), B, L).MustTotype(gotch.Float, true)
	if prompt == nil {
		return embeds, mask
	}
	p := prompt.MustSize()
	prefix := prompt.MustUnsqueeze(0, false).MustExpand([]int64{B, p[0], p[1]}, false, true)
	withPrompt := ts.MustCat([]*ts.Tensor{prefix, embeds}, 1)
	ones := ts.MustOnes([]int64{B, p[0]}, gotch.Float, m.dev.Torch())
	withMask := ts.MustCat([]*ts.Tensor{ones, mask}, 1)
	for _, t := range []*ts.Tensor{prefix, embeds, ones, mask} {
		t.MustDrop()
	}
	return withPrompt, withMask
}

func verifyCase(m *Model, c referenceCase, name string, prompt *ts.Tensor, get func(string) (*ts.Tensor, error),
	tol Tolerances, add func(string, string, float64, float64), withGreedy bool) error {
	embeds, mask := caseInput(m, c, prompt)
	defer embeds.MustDrop()
	defer mask.MustDrop()
	var grad *ts.Tensor
	if prompt != nil {
		prompt.MustRequiresGrad_(true)
		defer prompt.MustRequiresGrad_(false)
		embeds.MustDrop()
		mask.MustDrop()
		embeds, mask = caseInput(m, c, prompt)
	}
	out, err := m.Forward(embeds, mask, c.Labels, true, true)
	if err != nil {
		return err
	}
	defer out.Drop()
	if prompt != nil {
		out.Loss.MustBackward()
		grad = prompt.MustGrad(false)
		defer grad.MustDrop()
	}
	for _, o := range []struct {
		key string
		got *ts.Tensor
	}{{"encoder_last_hidden_state", out.EncoderHidden}, {"logits", out.Logits}} {
		want, err := get(name + "/" + o.key)
		if err != nil {
			return err
		}
		add(name, o.key, maxAbsDiff(o.got, want), tol.Abs)
	}
	wantLoss, err := get(name + "/loss")
	if err != nil {
		return err
	}
	gl, wl := out.Loss.Float64Values()[0], wantLoss.Float64Values()[0]
	add(name, "loss (relative)", math.Abs(gl-wl)/math.Max(math.Abs(wl), 1e-12), tol.LossRel)
	if grad != nil {
		want, err := get(name + "/prompt_grad")
		if err != nil {
			return err
		}
		add(name, "prompt_grad", maxAbsDiff(grad, want), tol.Abs)
	}
	if !withGreedy {
		return nil
	}
	wantIDs, err := get(name + "/greedy_ids")
	if err != nil {
		return err
	}
	wantStep, err := get(name + "/greedy_step_logits")
	if err != nil {
		return err
	}
	var stepLogits []*ts.Tensor
	var ids [][]int64
	ts.NoGrad(func() {
		ids = m.Greedy(embeds, mask, int(wantIDs.MustSize()[1])-1, false, &stepLogits)
	})
	stacked := ts.MustStack(stepLogits, 1)
	for _, t := range stepLogits {
		t.MustDrop()
	}
	add(name, "greedy_step_logits", maxAbsDiff(stacked, wantStep), tol.Abs)
	stacked.MustDrop()
	wid := wantIDs.Int64Values()
	width := int(wantIDs.MustSize()[1])
	mismatch := 0.0
	for b, row := range ids {
		for j, tok := range row {
			if wid[b*width+j+1] != tok {
				mismatch++
			}
		}
	}
	add(name, "greedy_ids (mismatches)", mismatch, 0)
	return nil
}

// verifyAdam trains the prompt alone for steps Adam updates and compares the loss before
// every update, the final loss, and the final prompt.
func verifyAdam(m *Model, c referenceCase, prompt0 *ts.Tensor, lr, eps float64, steps int,
	get func(string) (*ts.Tensor, error), tol Tolerances, add func(string, string, float64, float64)) error {
	prompt := prompt0.MustDetachCopy(false)
	prompt.MustRequiresGrad_(true)
	defer prompt.MustDrop()
	opt := NewPromptAdam(prompt, lr, eps)
	defer opt.Close()
	var losses []float64
	for step := 0; step <= steps; step++ {
		embeds, mask := caseInput(m, c, prompt)
		out, err := m.Forward(embeds, mask, c.Labels, false, false)
		embeds.MustDrop()
		mask.MustDrop()
		if err != nil {
			return err
		}
		losses = append(losses, out.Loss.Float64Values()[0])
		if step < steps {
			opt.ZeroGrad()
			out.Loss.MustBackward()
			if err := opt.Step(1); err != nil {
				out.Drop()
				return err
			}
		}
		out.Drop()
	}
	want, err := get("prompt/adam_losses")
	if err != nil {
		return err
	}
	wl := want.Float64Values()
	worst := 0.0
	for i := range wl {
		if i < len(losses) {
			worst = math.Max(worst, math.Abs(losses[i]-wl[i])/math.Abs(wl[i]))
		}
	}
	if len(wl) != len(losses) {
		worst = math.Inf(1)
	}
	add("prompt", "adam_losses (relative)", worst, tol.LossRel)
	wantP, err := get("prompt/adam_final_prompt")
	if err != nil {
		return err
	}
	add("prompt", "adam_final_prompt", maxAbsDiff(prompt, wantP), tol.Abs)
	return nil
}

// NewPromptAdam is torch.optim.Adam (AdamW with no weight decay, in torch's formula: the
// fixture's trajectory was made by PyTorch) over one tensor.
func NewPromptAdam(p *ts.Tensor, lr, eps float64) *core.AdamW {
	o := core.NewAdamW([]core.ParamGroup{{Name: "prompt", LR: lr, Params: []core.NamedTensor{{Name: "prompt", Tensor: p}}}})
	o.Eps, o.TorchForm = eps, true
	return o
}

func maxAbsDiff(a, b *ts.Tensor) float64 {
	if !slices.Equal(a.MustSize(), b.MustSize()) {
		return math.Inf(1)
	}
	d := a.MustDetach(false).MustTotype(gotch.Double, true)
	e := b.MustTotype(gotch.Double, false)
	diff := d.MustSub(e, true).MustAbs(true).MustMax(true)
	e.MustDrop()
	return diff.Float64Values(true)[0]
}

func dropAll(m map[string]*ts.Tensor) {
	for _, t := range m {
		t.MustDrop()
	}
}
