package tokenizers

import (
	"fmt"
	"strings"

	hftokenizer "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// HuggingFace wraps a Hugging Face `tokenizer.json` (loaded by
// github.com/sugarme/tokenizer) behind the same interface as the
// SentencePiece and byte-level tokenizers, for backbones that ship only
// that format. Encode adds no special tokens, matching the other
// tokenizers; the post-processor's BOS/EOS templates are not applied.
type HuggingFace struct {
	path               string
	tok                *hftokenizer.Tokenizer
	pad, eos, unk, bos int
}

// Candidate spellings of special tokens, in preference order. tokenizer.json
// has no field naming the pad or eos token (that lives in
// tokenizer_config.json), so the conventional names are looked up instead.
var (
	hfPadNames = []string{"<pad>", "[PAD]", "<|pad|>", "<|padding|>"}
	hfEOSNames = []string{"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "[SEP]"}
	hfUNKNames = []string{"<unk>", "[UNK]", "<|unk|>"}
	hfBOSNames = []string{"<s>", "<|begin_of_text|>", "<bos>", "[CLS]"}
)

// LoadHuggingFace reads a tokenizer.json. The library panics on some
// malformed configurations (it type-asserts JSON values); those panics are
// turned into errors naming the file.
func LoadHuggingFace(path string) (hf *HuggingFace, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			hf, err = nil, fmt.Errorf("tokenizer.json %s: unsupported or malformed content: %v", path, recovered)
		}
	}()
	tok, err := pretrained.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json %s: %w", path, err)
	}
	if tok.GetModel() == nil {
		return nil, fmt.Errorf("tokenizer.json %s: no model section", path)
	}
	hf = &HuggingFace{path: path, tok: tok}
	hf.pad = hf.firstKnown(hfPadNames)
	hf.eos = hf.firstKnown(hfEOSNames)
	hf.unk = hf.firstKnown(hfUNKNames)
	hf.bos = hf.firstKnown(hfBOSNames)
	return hf, nil
}

func (hf *HuggingFace) firstKnown(names []string) int {
	for _, name := range names {
		if id := hf.PieceID(name); id >= 0 {
			return id
		}
	}
	return -1
}

// Path is the tokenizer.json this was loaded from.
func (hf *HuggingFace) Path() string { return hf.path }

// Library exposes the wrapped tokenizer for features not covered here.
func (hf *HuggingFace) Library() *hftokenizer.Tokenizer { return hf.tok }

// EncodeChecked returns the ids for text (no special tokens added), or the
// library's error. Invalid UTF-8 is replaced by U+FFFD first (Hugging Face
// tokenizers only ever see valid strings; this library panics on the rest),
// and a panic of the library on a malformed tokenizer.json is an error.
func (hf *HuggingFace) EncodeChecked(text string) (ids []int, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			ids, err = nil, fmt.Errorf("tokenizer.json %s: encoding %q: unsupported or malformed content: %v", hf.path, text, recovered)
		}
	}()
	encoding, err := hf.tok.EncodeSingle(strings.ToValidUTF8(text, "\uFFFD"), false)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json %s: encoding %q: %w", hf.path, text, err)
	}
	return append([]int(nil), encoding.Ids...), nil
}

// Encode returns the ids for text. The Tokenizer interface has no error
// result, and silently returning no ids would corrupt training data, so a
// library failure (a tokenizer.json that loaded but cannot encode) panics;
// use EncodeChecked to handle it.
func (hf *HuggingFace) Encode(text string) []int {
	ids, err := hf.EncodeChecked(text)
	if err != nil {
		panic(err)
	}
	return ids
}

// Decode turns ids into text with the file's decoder, dropping special tokens.
func (hf *HuggingFace) Decode(ids []int) string { return hf.tok.Decode(ids, true) }

// VocabSize counts the model vocabulary plus added tokens.
func (hf *HuggingFace) VocabSize() int { return hf.tok.GetVocabSize(true) }

// PieceID returns the id of a token, or -1 when it is unknown.
func (hf *HuggingFace) PieceID(piece string) int {
	if id, ok := hf.tok.TokenToId(piece); ok {
		return id
	}
	return -1
}

// IDToPiece returns the token for id, or "" when there is none.
func (hf *HuggingFace) IDToPiece(id int) string {
	if token, ok := hf.tok.IdToToken(id); ok {
		return token
	}
	return ""
}

// Pad is the id of the first conventional pad token found, or -1.
func (hf *HuggingFace) Pad() int { return hf.pad }

// EOS is the id of the first conventional end-of-sequence token found, or -1.
func (hf *HuggingFace) EOS() int { return hf.eos }

// UNK is the id of the first conventional unknown token found, or -1.
func (hf *HuggingFace) UNK() int { return hf.unk }

// BOS is the id of the first conventional beginning-of-sequence token found, or -1.
func (hf *HuggingFace) BOS() int { return hf.bos }
