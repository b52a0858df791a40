package tokenizers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// This file reads the sections of a Hugging Face tokenizer.json into typed
// values. Every component is a JSON object whose "type" field picks the
// kind; only the kinds this package implements are accepted, and anything
// else is an error that names the section and the kind, so a file this
// package cannot reproduce exactly is refused at load time rather than
// encoded differently from Hugging Face's `tokenizers`.

// hfFile is the top level of a tokenizer.json. Components stay raw until
// their "type" is known.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// hfAddedToken is one entry of added_tokens. Hugging Face finds these in the
// input before the model runs: normalized ones in the normalised text,
// the others in the raw text.
type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfPattern is the pattern of a Replace normalizer or decoder: exactly one
// of String and Regex is set. Only String is supported (Hugging Face's
// regular expressions are Oniguruma's, which Go's RE2 cannot reproduce).
type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// hfComponent is the union of the fields of the supported normalizers,
// pre-tokenizers and decoders; each kind reads the fields it has.
type hfComponent struct {
	Type string `json:"type"`

	// Sequence (normalizers, pretokenizers and decoders name their lists differently).
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`

	PrecompiledCharsmap []byte `json:"precompiled_charsmap"` // Precompiled (base64 in the file)

	Prepend string     `json:"prepend"` // Prepend
	Pattern *hfPattern `json:"pattern"` // Replace
	Content *string    `json:"content"` // Replace (replacement), Strip decoder (the stripped character)

	StripLeft  *bool `json:"strip_left"` // Strip normalizer
	StripRight *bool `json:"strip_right"`
	Start      int   `json:"start"` // Strip decoder
	Stop       int   `json:"stop"`

	Replacement    *string `json:"replacement"`      // Metaspace
	AddPrefixSpace *bool   `json:"add_prefix_space"` // Metaspace, older files
	PrependScheme  *string `json:"prepend_scheme"`   // Metaspace, newer files
	Split          *bool   `json:"split"`            // Metaspace

	Prefix  *string `json:"prefix"`  // WordPiece decoder
	Cleanup *bool   `json:"cleanup"` // WordPiece decoder
}

// hfModelConfig is the union of the fields of the supported models.
type hfModelConfig struct {
	Type string `json:"type"`

	Vocab json.RawMessage `json:"vocab"` // object for BPE/WordPiece/WordLevel, [[piece, score]...] for Unigram

	UnkID        *int `json:"unk_id"`        // Unigram
	ByteFallback bool `json:"byte_fallback"` // Unigram, BPE

	Merges                  json.RawMessage `json:"merges"` // BPE: "a b" strings or [a, b] pairs
	UnkToken                *string         `json:"unk_token"`
	FuseUnk                 bool            `json:"fuse_unk"`
	Dropout                 *float64        `json:"dropout"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	IgnoreMerges            bool            `json:"ignore_merges"`

	MaxInputCharsPerWord *int `json:"max_input_chars_per_word"` // WordPiece
}

// isNull reports whether a raw component is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null"))
}

// decodeComponent reads one component object; section names it in errors.
func decodeComponent(raw json.RawMessage, section string) (*hfComponent, error) {
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", section, err)
	}
	return &c, nil
}

// errUnsupported marks a well-formed file that uses a component kind this
// package does not implement.
var errUnsupported = errors.New("not supported")

func unsupported(section, kind string) error {
	if kind == "" {
		return fmt.Errorf("%s without a \"type\": %w", section, errUnsupported)
	}
	return fmt.Errorf("%s type %q: %w (supported: Unigram and BPE models with SentencePiece-style components)", section, kind, errUnsupported)
}

// replaceArgs returns a Replace normalizer's or decoder's literal pattern and its content
// ("" when the file has none).
func (c *hfComponent) replaceArgs(section string) (pattern, content string, err error) {
	switch {
	case c.Pattern == nil:
		return "", "", fmt.Errorf("%s Replace: no pattern", section)
	case c.Pattern.Regex != nil:
		return "", "", fmt.Errorf("%s Replace with a Regex pattern: %w (only String patterns)", section, errUnsupported)
	case c.Pattern.String == nil:
		return "", "", fmt.Errorf("%s Replace: pattern has neither String nor Regex", section)
	case *c.Pattern.String == "":
		return "", "", fmt.Errorf("%s Replace: empty pattern", section)
	}
	if c.Content != nil {
		content = *c.Content
	}
	return *c.Pattern.String, content, nil
}

// metaspaceArgs returns a Metaspace pre-tokenizer's or decoder's replacement character
// (U+2581 unless the file says otherwise; it must be a single character) and prepend scheme.
func (c *hfComponent) metaspaceArgs(section string) (rune, metaspacePrepend, error) {
	replacement := '\u2581'
	if c.Replacement != nil {
		runes := []rune(*c.Replacement)
		if len(runes) != 1 {
			return 0, 0, fmt.Errorf("%s Metaspace: replacement %q is not one character", section, *c.Replacement)
		}
		replacement = runes[0]
	}
	prepend, err := c.metaspacePrependScheme(section)
	return replacement, prepend, err
}

// metaspacePrepend is Metaspace's prepend scheme. Older files say
// add_prefix_space instead, which Hugging Face reads as "always" (true) or
// "never" (false).
type metaspacePrepend int

const (
	prependAlways metaspacePrepend = iota
	prependFirst
	prependNever
)

func (c *hfComponent) metaspacePrependScheme(section string) (metaspacePrepend, error) {
	if c.PrependScheme != nil {
		switch *c.PrependScheme {
		case "always":
			return prependAlways, nil
		case "first":
			return prependFirst, nil
		case "never":
			return prependNever, nil
		}
		return 0, fmt.Errorf("%s Metaspace: unknown prepend_scheme %q", section, *c.PrependScheme)
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		return prependNever, nil
	}
	return prependAlways, nil
}

// modelKind names the model of a tokenizer.json. Files written by older
// `tokenizers` releases (the released t5-small one among them) have no
// "type"; Hugging Face then tries the model kinds in turn, which amounts to
// telling them apart by their fields.
func (m *hfModelConfig) modelKind() string {
	if m.Type != "" {
		return m.Type
	}
	vocab := bytes.TrimSpace(m.Vocab)
	switch {
	case len(vocab) > 0 && vocab[0] == '[':
		return "Unigram"
	case !isNull(m.Merges):
		return "BPE"
	case m.MaxInputCharsPerWord != nil || m.ContinuingSubwordPrefix != nil:
		return "WordPiece"
	case len(vocab) > 0 && vocab[0] == '{':
		return "WordLevel"
	}
	return ""
}
