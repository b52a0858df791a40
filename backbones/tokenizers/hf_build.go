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
	if hf.normalizer, err = newHFNormalizer(file.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if hf.preTokenizer, err = newHFPreTokenizer(file.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if hf.decoder, err = newHFDecoder(file.Decoder, "decoder"); err != nil {
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

// newHFNormalizer builds the normalizer section; nil when the file has none.
func newHFNormalizer(raw json.RawMessage, section string) (hfNormalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := decodeComponent(raw, section)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		seq, err := buildSequence(c.Normalizers, section, newHFNormalizer)
		if err != nil {
			return nil, err
		}
		return hfNormalizerSequence(seq), nil
	case "Precompiled":
		p, err := newHFPrecompiled(c.PrecompiledCharsmap)
		if err != nil {
			return nil, fmt.Errorf("%s Precompiled: %w", section, err)
		}
		return p, nil
	case "Prepend":
		return hfPrepend(c.Prepend), nil
	case "Replace":
		pattern, err := c.patternString(section)
		if err != nil {
			return nil, err
		}
		content := ""
		if c.Content != nil {
			content = *c.Content
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

// newHFPreTokenizer builds the pre_tokenizer section; nil when the file has none.
func newHFPreTokenizer(raw json.RawMessage, section string) (hfPreTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := decodeComponent(raw, section)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		seq, err := buildSequence(c.PreTokenizers, section, newHFPreTokenizer)
		if err != nil {
			return nil, err
		}
		return hfPreTokenizerSequence(seq), nil
	case "WhitespaceSplit":
		return hfWhitespaceSplit{}, nil
	case "Whitespace":
		return hfWhitespace{}, nil
	case "Metaspace":
		replacement, err := c.metaspaceReplacement(section)
		if err != nil {
			return nil, err
		}
		prepend, err := c.metaspacePrependScheme(section)
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

// buildSequence builds the items of a Sequence component (section[i] names each in errors),
// leaving out the absent (null) ones.
func buildSequence[T comparable](items []json.RawMessage, section string, build func(json.RawMessage, string) (T, error)) ([]T, error) {
	var zero T
	var out []T
	for i, item := range items {
		x, err := build(item, fmt.Sprintf("%s[%d]", section, i))
		if err != nil {
			return nil, err
		}
		if x != zero {
			out = append(out, x)
		}
	}
	return out, nil
}
