package tokenizers

import (
	"encoding/json"
	"fmt"

	"golang.org/x/text/unicode/norm"
)

// parseHuggingFace builds a tokenizer from the content of a tokenizer.json.
// Errors say which section is wrong; LoadHuggingFace adds the file name.
func parseHuggingFace(content []byte) (*HuggingFace, error) {
	var file hfFile
	if err := json.Unmarshal(content, &file); err != nil {
		return nil, err
	}
	if isNull(file.Model) {
		return nil, fmt.Errorf("no model section")
	}
	var modelCfg hfModelConfig
	if err := json.Unmarshal(file.Model, &modelCfg); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	hf := &HuggingFace{}
	var err error
	if hf.model, err = newHFModel(&modelCfg); err != nil {
		return nil, err
	}
	normalizers := func(c *hfComponent) []json.RawMessage { return c.Normalizers }
	if hf.normalizer, err = buildStep(file.Normalizer, "normalizer", normalizers, newHFNormalizer); err != nil {
		return nil, err
	}
	preTokenizers := func(c *hfComponent) []json.RawMessage { return c.PreTokenizers }
	if hf.preTokenizer, err = buildStep(file.PreTokenizer, "pre_tokenizer", preTokenizers, newHFPreTokenizer); err != nil {
		return nil, err
	}
	decoders := func(c *hfComponent) []json.RawMessage { return c.Decoders }
	if hf.decoder, err = buildStep(file.Decoder, "decoder", decoders, newHFDecoder); err != nil {
		return nil, err
	}
	if err := hf.setAddedTokens(file.AddedTokens); err != nil {
		return nil, err
	}
	return hf, nil
}

func newHFModel(cfg *hfModelConfig) (hfModel, error) {
	switch kind := cfg.modelKind(); kind {
	case "Unigram":
		return newHFUnigram(cfg)
	case "BPE":
		return newHFBPE(cfg)
	case "WordLevel":
		return newHFWordLevel(cfg)
	case "WordPiece":
		return newHFWordPiece(cfg)
	default:
		return nil, unsupported("model", kind)
	}
}

// newHFNormalizer builds one normalizer other than a Sequence (buildStep builds those).
func newHFNormalizer(c *hfComponent, section string) (hfNormalizer, error) {
	switch c.Type {
	case "Precompiled":
		p, err := newHFPrecompiled(c.PrecompiledCharsmap)
		if err != nil {
			return nil, fmt.Errorf("%s Precompiled: %w", section, err)
		}
		return p, nil
	case "Prepend":
		return hfPrepend(c.Prepend), nil
	case "Replace":
		pattern, content, err := c.replaceArgs(section)
		if err != nil {
			return nil, err
		}
		return hfReplace{pattern: pattern, content: content}, nil
	case "Lowercase":
		return hfLowercase{}, nil
	case "NFC":
		return hfUnicodeForm{norm.NFC}, nil
	case "NFD":
		return hfUnicodeForm{norm.NFD}, nil
	case "NFKC":
		return hfUnicodeForm{norm.NFKC}, nil
	case "NFKD":
		return hfUnicodeForm{norm.NFKD}, nil
	case "Strip":
		s := hfStrip{left: true, right: true}
		if c.StripLeft != nil {
			s.left = *c.StripLeft
		}
		if c.StripRight != nil {
			s.right = *c.StripRight
		}
		return s, nil
	}
	return nil, unsupported(section, c.Type)
}

// newHFPreTokenizer builds one pre-tokenizer other than a Sequence (buildStep builds those).
func newHFPreTokenizer(c *hfComponent, section string) (hfPreTokenizer, error) {
	switch c.Type {
	case "WhitespaceSplit":
		return hfWhitespaceSplit{}, nil
	case "Whitespace":
		return hfWhitespace{}, nil
	case "Metaspace":
		replacement, prepend, err := c.metaspaceArgs(section)
		if err != nil {
			return nil, err
		}
		split := true
		if c.Split != nil {
			split = *c.Split
		}
		return hfMetaspace{replacement: string(replacement), prepend: prepend, split: split}, nil
	}
	return nil, unsupported(section, c.Type)
}

// hfStep is one normalizer (X string), pre-tokenizer (X []hfSplit) or decoder (X []string):
// each rewrites what the one before it made, so a Sequence of any of them is one type.
type hfStep[X any] interface {
	apply(x X) X
}

// hfSequence is a Sequence component: its steps, in order.
type hfSequence[X any] []hfStep[X]

func (s hfSequence[X]) apply(x X) X {
	for _, step := range s {
		x = step.apply(x)
	}
	return x
}

// buildStep builds a normalizer, pre_tokenizer or decoder section: nil when the file has
// none; for a Sequence, the list items picks from it (the three kinds name it differently),
// each item named section[i] in errors and the absent (null) ones left out; any other kind
// by build.
func buildStep[X any](raw json.RawMessage, section string, items func(*hfComponent) []json.RawMessage,
	build func(c *hfComponent, section string) (hfStep[X], error)) (hfStep[X], error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := decodeComponent(raw, section)
	if err != nil {
		return nil, err
	}
	if c.Type != "Sequence" {
		return build(c, section)
	}
	var seq hfSequence[X]
	for i, item := range items(c) {
		step, err := buildStep(item, fmt.Sprintf("%s[%d]", section, i), items, build)
		if err != nil {
			return nil, err
		}
		if step != nil {
			seq = append(seq, step)
		}
	}
	return seq, nil
}
