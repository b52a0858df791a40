// Package tokenizers turns text into backbone token ids and back, in pure
// Go: SentencePiece unigram models (T5) and BPE models (Llama-2) read from
// their `.model` files and reproducing the reference ids exactly, ByT5's
// byte-level scheme, and Hugging Face tokenizer.json files. Every tokenizer
// here satisfies core.Tokenizer without this package importing core, so it
// stays free of the libtorch dependency.
package tokenizers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Tokenizer is core.Tokenizer plus vocabulary lookups and special ids,
// which prompt-tuning methods need to build verbalizers and pad batches.
// Special-id methods return -1 when the vocabulary has no such token.
type Tokenizer interface {
	Encode(text string) []int
	Decode(ids []int) string
	VocabSize() int
	PieceID(piece string) int
	IDToPiece(id int) string
	Pad() int
	EOS() int
	UNK() int
	BOS() int
}

// ByteLevelName is the Load argument that selects the byte-level tokenizer.
const ByteLevelName = "byte"

// Load picks a tokenizer by its argument: "byte" for byte-level, a `*.model`
// file for SentencePiece (unigram or BPE as the file's trainer_spec says),
// a `*.json` file (tokenizer.json) for Hugging Face, or a directory holding
// one of tokenizer.json, spiece.model or tokenizer.model.
func Load(path string) (Tokenizer, error) {
	if path == ByteLevelName {
		return NewByteLevel(), nil
	}
	if path == "" {
		return nil, errors.New(`tokenizer: empty path (want a .model file, a tokenizer.json, or "byte")`)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	if info.IsDir() {
		for _, name := range []string{"tokenizer.json", "spiece.model", "tokenizer.model"} {
			candidate := filepath.Join(path, name)
			if _, err := os.Stat(candidate); err == nil {
				return Load(candidate)
			}
		}
		return nil, fmt.Errorf("tokenizer %s: directory has no tokenizer.json, spiece.model or tokenizer.model", path)
	}
	// Results are returned through explicit nil checks so that a failed
	// load yields a nil interface, not one holding a nil pointer.
	switch strings.ToLower(filepath.Ext(path)) {
	case ".model":
		sp, err := LoadSentencePiece(path)
		if err != nil {
			return nil, err
		}
		return sp, nil
	case ".json":
		hf, err := LoadHuggingFace(path)
		if err != nil {
			return nil, err
		}
		return hf, nil
	}
	return nil, fmt.Errorf(`tokenizer %s: unrecognised file type (want a .model file, a tokenizer.json, or "byte")`, path)
}

// Compile-time checks that every tokenizer offers the full interface.
var (
	_ Tokenizer = (*SentencePiece)(nil)
	_ Tokenizer = (*ByteLevel)(nil)
	_ Tokenizer = (*HuggingFace)(nil)
)

// UnknownID is tok's <unk> id, or -1 where it has none. Generations are decoded as the
// references decode them, with Hugging Face's skip_special_tokens, which drops <unk>; a
// SentencePiece model's own decoder writes it out (" ⁇ "), so the backbones drop it first.
func UnknownID(tok any) int64 {
	if u, ok := tok.(interface{ UNK() int }); ok {
		return int64(u.UNK())
	}
	return -1
}
