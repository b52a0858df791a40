package tokenizers

import (
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
	for name, content := range map[string]string{
		"truncated": wordLevelJSON[:len(wordLevelJSON)/2],
		"bad model": `{"model": {"type": "NoSuchModel", "vocab": {}}}`,
	} {
		path := writeTokenizerJSON(t, content)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: want an error naming %s, got %v", name, path, err)
		}
	}
}
