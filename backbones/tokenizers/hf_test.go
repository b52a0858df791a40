package tokenizers

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// wordLevelJSON is a minimal tokenizer.json: lowercase, split on whitespace
// and punctuation, look words up in a fixed vocabulary.
const wordLevelJSON = `{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "Lowercase"},
  "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": null,
  "decoder": null,
  "model": {
    "type": "WordLevel",
    "vocab": {"<pad>": 0, "</s>": 1, "<unk>": 2, "prompt": 3, "tuning": 4, "works": 5, "!": 6},
    "unk_token": "<unk>"
  }
}`

// bpeJSON is a tiny byte-pair-encoding tokenizer.json with merges.
const bpeJSON = `{
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": null,
  "decoder": null,
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": "<unk>",
    "continuing_subword_prefix": null,
    "end_of_word_suffix": null,
    "fuse_unk": false,
    "vocab": {"<unk>": 0, "l": 1, "o": 2, "w": 3, "e": 4, "r": 5, "lo": 6, "low": 7, "er": 8},
    "merges": ["l o", "lo w", "e r"]
  }
}`

func writeTokenizerJSON(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHuggingFaceWordLevel(t *testing.T) {
	path := writeTokenizerJSON(t, wordLevelJSON)
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := loaded.(*HuggingFace)
	if !ok {
		t.Fatalf("Load(tokenizer.json) gave %T", loaded)
	}
	if got, want := tok.Encode("Prompt tuning works!"), []int{3, 4, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if got, want := tok.Encode("prompt magic"), []int{3, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode with unknown word = %v, want %v", got, want)
	}
	if got := tok.Decode([]int{3, 4, 1}); got != "prompt tuning" {
		t.Errorf("Decode = %q (special </s> should be dropped)", got)
	}
	if tok.VocabSize() != 7 || tok.Pad() != 0 || tok.EOS() != 1 || tok.UNK() != 2 || tok.BOS() != -1 {
		t.Errorf("vocab %d pad %d eos %d unk %d bos %d", tok.VocabSize(), tok.Pad(), tok.EOS(), tok.UNK(), tok.BOS())
	}
	if tok.PieceID("works") != 5 || tok.IDToPiece(4) != "tuning" || tok.PieceID("nope") != -1 {
		t.Error("piece lookups wrong")
	}
}

func TestHuggingFaceBPE(t *testing.T) {
	tok, err := LoadHuggingFace(writeTokenizerJSON(t, bpeJSON))
	if err != nil {
		t.Fatal(err)
	}
	// low → l o w → lo w → low; lower → low e r → low er.
	if got, want := tok.Encode("low lower"), []int{7, 7, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestHuggingFaceErrorsNameTheFile(t *testing.T) {
	unigram := `"model": {"vocab": [["<unk>", 0.0], ["a", -1.0]], "unk_id": 0}`
	for _, tc := range []struct {
		name, content string
		mentions      string // a word the error must contain besides the path
		unsupported   bool   // well-formed, but a component kind this package lacks
	}{
		{"truncated", wordLevelJSON[:len(wordLevelJSON)/2], "unexpected end", false},
		{"bad model", `{"model": {"type": "NoSuchModel", "vocab": {}}}`, "NoSuchModel", true},
		{"no model", `{"normalizer": null}`, "model", false},
		{"byte-level pre-tokenizer", `{"pre_tokenizer": {"type": "ByteLevel"}, ` + unigram + `}`, "ByteLevel", true},
		{"regex replace", `{"normalizer": {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, ` + unigram + `}`, "Regex", true},
		{"byte-level decoder", `{"decoder": {"type": "ByteLevel"}, ` + unigram + `}`, "ByteLevel", true},
		{"nested unsupported", `{"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "BertNormalizer"}]}, ` + unigram + `}`, "normalizer[1]", true},
		{"merge of three parts", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b c"]}}`, "merges", false},
		{"merge out of vocab", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}`, "merge 1", false},
		{"unk_id out of range", `{"model": {"vocab": [["a", 0.0]], "unk_id": 5}}`, "unk_id", false},
		{"negative id", `{"model": {"type": "WordLevel", "vocab": {"a": -1}}}`, "id -1", false},
		{"dropout", `{"model": {"type": "BPE", "dropout": 0.1, "vocab": {}, "merges": []}}`, "dropout", true},
		{"bad charsmap", `{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "AQID"}, ` + unigram + `}`, "precompiled_charsmap", false},
	} {
		path := writeTokenizerJSON(t, tc.content)
		_, err := Load(path)
		switch {
		case err == nil:
			t.Errorf("%s: loaded, want an error", tc.name)
		case !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.mentions):
			t.Errorf("%s: error %q should name %s and mention %q", tc.name, err, path, tc.mentions)
		case errors.Is(err, errUnsupported) != tc.unsupported:
			t.Errorf("%s: errors.Is(err, errUnsupported) = %v, want %v (%v)", tc.name, !tc.unsupported, tc.unsupported, err)
		}
	}
}
