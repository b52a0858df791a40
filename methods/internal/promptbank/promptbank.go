// Package promptbank holds the soft-prompt parts that several methods share: the
// initialisers of a fresh prompt (vocabulary rows, an instruction text) and the source
// prompts trained on other tasks and kept as artefacts (SPoT's start, ATTEMPT's frozen
// sources and its target's start, MPT's teachers).
//
// The initialisers follow the reference code bases:
//
//   - "vocab": rows of the frozen embedding table at ids drawn from [0, vocab_limit) — the
//     ATTEMPT/Compacter init_prefix_from_vocab (np.random.permutation(range(5000))[:l]) with a
//     seeded generator of this project (ids may repeat; the reference's permutation does not).
//   - "text": the embeddings of an instruction's tokens, tiled and then truncated to l, as PEFT's
//     PromptTuningInit.TEXT does. With SpecialTokens the text is tokenised as a model source
//     (T5: with its trailing </s>), which is what PEFT's tokenizer(init_text)["input_ids"]
//     returns and therefore what DePT's scripts run.
package promptbank

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Spec says how to initialise a fresh [Length, d] prompt.
type Spec struct {
	Length        int
	How           string // "vocab" or "text"
	Text          string // "text": the instruction
	VocabLimit    int    // "vocab": ids in [0, VocabLimit)
	SpecialTokens bool   // "text": tokenise as a model source (T5: trailing </s>), as PEFT does
}

// Validate rejects a spec that cannot make a prompt.
func (s Spec) Validate() error {
	switch {
	case s.Length <= 0:
		return fmt.Errorf("length must be > 0, got %d", s.Length)
	case s.How != "vocab" && s.How != "text":
		return fmt.Errorf(`init must be "vocab" or "text", got %q`, s.How)
	case s.How == "text" && strings.TrimSpace(s.Text) == "":
		return fmt.Errorf("init text is empty")
	}
	return CheckVocabLimit(s.How, s.VocabLimit)
}

// VocabIDs are the ids "vocab" draws: length ids uniform in [0, min(limit, vocab)) from a
// PCG generator seeded by seed (the same ids for the same seed on every machine).
func VocabIDs(seed int64, length int, vocab int64, limit int) []int64 {
	lim := min(int64(limit), vocab)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	ids := make([]int64, length)
	for i := range ids {
		ids[i] = rng.Int64N(lim)
	}
	return ids
}

// TextIDs are the ids "text" uses: the text's tokens repeated until there are length of
// them, then cut to length.
func TextIDs(bb core.Backbone, text string, length int, specialTokens bool) ([]int64, error) {
	var toks []int64
	if specialTokens {
		toks = bb.EncodeSource(text, len(text)+16)
	} else {
		for _, t := range bb.Tokenizer().Encode(text) {
			toks = append(toks, int64(t))
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("init_text %q has no tokens", text)
	}
	ids := make([]int64, length)
	for i := range ids {
		ids[i] = toks[i%len(toks)]
	}
	return ids, nil
}

// IDs are the embedding rows spec starts from.
func IDs(bb core.Backbone, spec Spec, seed int64) ([]int64, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.How == "text" {
		return TextIDs(bb, spec.Text, spec.Length, spec.SpecialTokens)
	}
	return VocabIDs(seed, spec.Length, bb.Info().Vocab, spec.VocabLimit), nil
}

// Init makes a trainable [Length, d] prompt from the backbone's frozen embeddings (caller
// owns it).
func Init(bb core.Backbone, spec Spec, seed int64) (*ts.Tensor, error) {
	ids, err := IDs(bb, spec, seed)
	if err != nil {
		return nil, err
	}
	return Rows(bb, ids)
}

// Rows is a trainable detached copy of the embedding rows ids, [len(ids), d].
func Rows(bb core.Backbone, ids []int64) (*ts.Tensor, error) {
	raw, err := ts.OfSlice(ids)
	if err != nil {
		return nil, err
	}
	if raw, err = bb.Device().Move(raw); err != nil { // looked up where the table lives
		return nil, err
	}
	t, err := raw.View([]int64{1, int64(len(ids))}, true)
	if err != nil {
		return nil, err
	}
	emb := bb.Embed(t)
	t.MustDrop()
	p, err := emb.View([]int64{int64(len(ids)), bb.Info().DModel}, true)
	if err != nil {
		return nil, err
	}
	c, err := p.DetachCopy(true)
	if err != nil {
		return nil, err
	}
	if err := c.RequiresGrad_(true); err != nil {
		c.MustDrop()
		return nil, err
	}
	return c, nil
}
