// Package dept is decomposed prompt tuning (Shi & Lipani, ICLR 2024).
//
// A short prompt P_s ∈ R^{m×d} is prepended, and a low-rank pair A ∈ R^{s×r}, B ∈ R^{r×d}
// updates the frozen input embeddings position by position:
//
//	E'_t = E_t + (α/√r)·(A B)[pos(t)]   (pos(t): token t's position in its source, α = 8)
//	H0 = [P_s ; E']
//
// Init as DePT's scripts run it (ZhengxiangShi/DePT train.py: text_init defaults to True,
// prompt_tuning_init_text to "Classify this text is postive or not:"; PEFT's
// PromptTuningInit.TEXT in peft/tuners/prompt_tuning_lora.py): P_s is the embedding of that
// text's tokens — tokenised with the model's special tokens (T5: its trailing </s>), as
// tokenizer(init_text)["input_ids"] returns them — repeated and cut to m rows; init "vocab"
// samples vocabulary rows as PT does. A Kaiming-uniform (a = √5), B zeros, so training
// starts from PT with the short prompt. Two learning-rate groups: P_s (3e-1) and {A, B} (1e-4). With
// m·d + s·r + r·d = l·d the budget equals PT's: (m, r) = (60, 30), (40, 45), (80, 15) at
// s = 256, d = 768 all give 76,800.
//
// Positions come from the backbone's batch (core.Input.Positions), so the offset row of a
// token does not depend on the padding side: a right-padded T5 batch gets rows 0..L-1, a
// left-padded decoder-only batch the same rows for its real tokens. Dynamic padding is exact:
// a batch padded to L < s gets the first L rows of A B, which is what every real token gets
// when padded to s (pad keys are masked, so pad rows never reach
// the loss) — see the padding tests in methods/ept.
package dept

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/params"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
	"github.com/ptbench/ptbench/methods/pt"
)

// Config is DePT's hyperparameters; each field's doc tag is its line in `ptbench methods dept`.
// The prompt's length and rate have PT's names (length, lr); prompt_length and prompt_lr, their
// names before, are accepted as deprecated spellings.
type Config struct {
	PromptLength int     `json:"length" check:">0" alias:"prompt_length" doc:"m, the number of soft prompt tokens"`
	Rank         int     `json:"rank" check:">0" doc:"r, the rank of the offset A B"`
	MaxLen       int     `json:"max_len" check:">=0" doc:"s, rows of A: the longest source the offset covers (0: the run's max source length, as the reference's max_seq_length: 256 on GLUE/SuperGLUE, 348 on MultiRC)"`
	Alpha        float64 `json:"alpha" doc:"α in the offset's scale α/√r"`
	PromptLR     float64 `json:"lr" check:">0" alias:"prompt_lr" doc:"learning rate of the prompt P_s"`
	LowRankLR    float64 `json:"lowrank_lr" check:">0" doc:"learning rate of A and B"`
	Init         string  `json:"init" check:"oneof=vocab|text" doc:"P_s initialisation: vocab (sampled vocabulary rows) or text (the embeddings of init_text), as PT"`
	InitText     string  `json:"init_text" doc:"instruction text tiled/truncated to m tokens (init text)"`
	VocabLimit   int     `json:"vocab_limit" doc:"init vocab samples ids in [0, vocab_limit)"`
}

// KeyConfig is Config under the names DePT's settings had before they took PT's (length was
// prompt_length, lr was prompt_lr), in Config's field order: what run keys hash (the
// harness asks a method for KeyConfig), so the rename kept the key of every DePT and EPT run
// and older results folders resume. Config converts to it (the tags differ, nothing else).
type KeyConfig struct {
	PromptLength int     `json:"prompt_length"`
	Rank         int     `json:"rank"`
	MaxLen       int     `json:"max_len"`
	Alpha        float64 `json:"alpha"`
	PromptLR     float64 `json:"prompt_lr"`
	LowRankLR    float64 `json:"lowrank_lr"`
	Init         string  `json:"init"`
	InitText     string  `json:"init_text"`
	VocabLimit   int     `json:"vocab_limit"`
}

// DefaultInitText is DePT's train.py default prompt_tuning_init_text, typo included.
const DefaultInitText = "Classify this text is postive or not:"

// DefaultConfig is the reference setting (m, r) = (60, 30), s = 256, text init.
func DefaultConfig() Config {
	p := pt.DefaultConfig()
	return Config{PromptLength: 60, Rank: 30, Alpha: 8, PromptLR: 0.3, LowRankLR: 1e-4,
		Init: "text", InitText: DefaultInitText, VocabLimit: p.VocabLimit}
}

// Validate is the rules between settings that the check tags cannot state (EPT's config
// inherits them).
func (c Config) Validate() error {
	if c.MaxLen > 0 && c.Rank > c.MaxLen {
		return fmt.Errorf("rank r = %d exceeds max_len s = %d", c.Rank, c.MaxLen)
	}
	return promptbank.CheckVocabLimit(c.Init, c.VocabLimit)
}

// releasedRunSettings are the settings of DePT's released runs (the DePT repository's
// checkpoints/<task>/output.log): not this harness's batch 16 and 30,000/300,000 steps.
const releasedRunSettings = "Run with batch 32, every input padded to max_seq_length (256; MultiRC 348), group_by_length False, " +
	"no weight decay (the logged Trainer weight_decay 1e-5 is not read by DePT's own AdamW), " +
	"per-task steps (MRPC 10k; WiC, WSC 20k; CoLA 40k; QNLI, QQP 100k; MNLI 250k; others 30k) and per-task rates " +
	"(prompt 0.3 or 0.4, low-rank 1e-4 to 5e-3)"

func init() {
	core.RegisterConfigured(core.Description{
		Name: "dept", Label: "DePT", Family: core.FamilyInput,
		About: "DePT (Shi & Lipani 2024): short prompt P_s + low-rank offset (α/√r)·A B on input embeddings",
		// Measured: a prompt of 60 tokens instead of PT's 100 shortens every sequence.
		StepCost: 0.85,
		Published: &core.Published{
			// From DePT's released checkpoints ((m, r) = (60, 30) unless noted), each the
			// task's table score (checkpoints/<task>/test_results.json: MRPC, QQP, CB
			// accuracy; STS-B Pearson; MultiRC F1 over answers; CoLA Matthews).
			Label: "DePT (paper, T5-Base)",
			Scores: map[string]float64{
				"mnli": 85.0, "qqp": 90.4, "qnli": 93.2, "sst2": 94.2, "stsb": 90.8, "mrpc": 90.7,
				"rte": 79.1, "cola": 63.8, "multirc": 74.3, "boolq": 79.3, "wic": 68.7, "wsc": 67.3, "cb": 92.9,
			},
			Note: "CoLA with (m, r) = (80, 15), BoolQ (40, 45); GLUE avg 85.9, SuperGLUE avg 76.5. " + releasedRunSettings,
			// DePT's abstract: over 20% less training time and memory than PT (shorter prompt).
			StepTime: ">20% less than PT (DePT paper)",
		},
		Tensors: &core.TensorDoc{
			Equation: "E'_t = E_t + (α/√r)·(A B)[pos(t)];  H0 = [P_s ; E']   (DePT, Shi & Lipani 2024)",
			Tensors: []core.TensorRole{
				{Pattern: "prompt", Role: "P_s ∈ R^{m×d}: the short soft prompt prepended to the input embeddings"},
				{Pattern: "lora_A", Role: "A ∈ R^{s×r}: row p scales the offset added to the token at source position p"},
				{Pattern: "lora_B", Role: "B ∈ R^{r×d}: the offset's basis; (α/√r)·A B ∈ R^{s×d} is added position by position"},
			},
		},
	}, DefaultConfig, func(c Config) core.Method { return &Method{Cfg: c} })
}

// Method is DePT. Its fields are exported so EPT can build on the same decomposition.
type Method struct {
	Cfg    Config
	Prompt *ts.Tensor // P_s [m, d]
	A, B   *ts.Tensor // [s, r], [r, d]
}

func (m *Method) Config() any       { return m.Cfg }
func (m *Method) KeyConfig() any    { return KeyConfig(m.Cfg) }
func (m *Method) PromptLength() int { return m.Cfg.PromptLength }

// Setup initialises P_s (text or vocabulary rows), A Kaiming-uniform(a=√5) — U(±1/√r) for an [s, r] tensor —
// and B zeros.
func (m *Method) Setup(env core.SetupEnv) error {
	d := env.Backbone.Info().DModel
	if m.Cfg.MaxLen == 0 { // the run's max source length, as the reference sizes A by max_seq_length
		if err := m.CheckMaxSourceLen(env.MaxSourceLen); err != nil {
			return err
		}
		m.Cfg.MaxLen = env.MaxSourceLen
	}
	p, err := promptbank.Init(env.Backbone, promptbank.Spec{Length: m.Cfg.PromptLength, How: m.Cfg.Init, Text: m.Cfg.InitText,
		VocabLimit: m.Cfg.VocabLimit, SpecialTokens: true}, env.Seed)
	if err != nil {
		return err
	}
	m.Prompt = p
	dev := env.Backbone.Device()
	if m.A, err = dev.Param(KaimingUniform([]int64{int64(m.Cfg.MaxLen), int64(m.Cfg.Rank)}, int64(m.Cfg.Rank))); err != nil {
		return err
	}
	if m.B, err = ts.Zeros([]int64{int64(m.Cfg.Rank), d}, gotch.Float, dev.Torch()); err != nil {
		return err
	}
	return m.B.RequiresGrad_(true)
}

// CheckMaxSourceLen reports whether a run whose sources reach n tokens can size A (max_len 0:
// s = n, which must be ≥ 1 and ≥ r); a run's preflight asks it for every task before loading.
func (m *Method) CheckMaxSourceLen(n int) error {
	if m.Cfg.MaxLen > 0 {
		return nil
	}
	if n <= 0 {
		return fmt.Errorf("dept: max_len 0 takes the run's max source length, and the run gives none")
	}
	if m.Cfg.Rank > n {
		return fmt.Errorf("rank r = %d exceeds the run's max source length s = %d (max_len 0 takes it)", m.Cfg.Rank, n)
	}
	return nil
}

// KaimingUniform is torch.nn.init.kaiming_uniform_(a=√5) for a weight whose fan-in is fanIn:
// U(−1/√fanIn, 1/√fanIn), drawn from libtorch's seeded CPU generator (the same values for a
// seed on every device: core.Device.Param moves it); requires grad.
func KaimingUniform(shape []int64, fanIn int64) *ts.Tensor {
	bound := 1 / math.Sqrt(float64(fanIn))
	t := ts.MustZeros(shape, gotch.Float, gotch.CPU)
	t.MustUniform_(-bound, bound)
	t.MustRequiresGrad_(true)
	return t
}

func (m *Method) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{
		{Name: "prompt", LR: m.Cfg.PromptLR, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.Prompt}}},
		{Name: "lowrank", LR: m.Cfg.LowRankLR, Params: []core.NamedTensor{{Name: "lora_A", Tensor: m.A}, {Name: "lora_B", Tensor: m.B}}},
	}
}

// Offset is (α/√r)·(A B)[0:rows] ∈ R^{rows×d}; only the rows a batch needs are computed.
func (m *Method) Offset(rows int64) (*ts.Tensor, error) {
	if rows > int64(m.Cfg.MaxLen) {
		return nil, fmt.Errorf("dept: batch length %d exceeds max_len s = %d (raise max_len or truncate sources)", rows, m.Cfg.MaxLen)
	}
	a := m.A.MustNarrow(0, 0, rows, false)
	ab := a.MustMatmul(m.B, true)
	return ab.MustMulScalar(ts.FloatScalar(m.Cfg.Alpha/math.Sqrt(float64(m.Cfg.Rank))), true), nil
}

// Transform adds the offset to the embeddings and prepends P_s.
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	return ApplyDecomposition(m, in, m.Prompt)
}

// ApplyDecomposition is E' = E + offset[pos], H0 = [prompt ; E'] — shared with EPT, whose
// prompt is the reconstructed P*.
func ApplyDecomposition(m *Method, in core.Input, prompt *ts.Tensor) (core.Input, error) {
	off, err := m.Offset(in.Embeds.MustSize()[1])
	if err != nil {
		return core.Input{}, err
	}
	shifted, err := core.AddOffset(in, off)
	off.MustDrop()
	if err != nil {
		return core.Input{}, err
	}
	out, err := core.PrependPrompt(shifted, prompt)
	shifted.Drop()
	return out, err
}

func (m *Method) Close() {
	params.Drop(&m.Prompt, &m.A, &m.B)
}
