package tokenizers

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Reference cases for genuine tokenizer files, written by the scripts in
// testdata/hf (see gen_hf_cases.js and gen_spm_cases.py there): each line
// is a text, the ids the reference library gives for it without special
// tokens, and what the reference decodes those ids to.
const (
	hfCasesDir        = "testdata/hf"
	t5TokenizerJSON   = "../../testdata/models/t5-small-tokenizer/tokenizer.json"
	llamaNoVocabJSON  = "testdata/llama2-tokenizer-novocab.json.gz"
	minReferenceCases = 300
)

type referenceCase struct {
	Text    string `json:"text"`
	IDs     []int  `json:"ids"`
	Decoded string `json:"decoded"`
}

func readReferenceCases(t *testing.T, name string) []referenceCase {
	t.Helper()
	f, err := os.Open(filepath.Join(hfCasesDir, name))
	if err != nil {
		t.Fatalf("reference cases missing from the repository's testdata: %v", err)
	}
	defer f.Close()
	var cases []referenceCase
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; scanner.Scan(); line++ {
		var c referenceCase
		if err := json.Unmarshal(scanner.Bytes(), &c); err != nil {
			t.Fatalf("%s:%d: %v", name, line, err)
		}
		cases = append(cases, c)
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) < minReferenceCases {
		t.Fatalf("%s has %d cases, want at least %d", name, len(cases), minReferenceCases)
	}
	return cases
}

// checkReferenceCases encodes and decodes every case and reports the pass
// counts; any mismatch fails the test.
func checkReferenceCases(t *testing.T, tok Tokenizer, cases []referenceCase) {
	t.Helper()
	encodeOK, decodeOK := 0, 0
	for i, c := range cases {
		got := tok.Encode(c.Text)
		if slices.Equal(got, c.IDs) || (len(got) == 0 && len(c.IDs) == 0) {
			encodeOK++
		} else {
			t.Errorf("case %d: Encode(%q)\n  got  %v\n  want %v", i+1, c.Text, got, c.IDs)
		}
		if decoded := tok.Decode(c.IDs); decoded == c.Decoded {
			decodeOK++
		} else {
			t.Errorf("case %d: Decode(%v) of %q\n  got  %q\n  want %q", i+1, c.IDs, c.Text, decoded, c.Decoded)
		}
	}
	t.Logf("encode %d/%d match, decode %d/%d match", encodeOK, len(cases), decodeOK, len(cases))
}

// TestT5TokenizerJSONMatchesHuggingFace: the released t5-small tokenizer.json
// (Unigram without a model "type", Precompiled normalizer, Metaspace) gives
// Hugging Face's ids on every reference text, <extra_id_N> included.
func TestT5TokenizerJSONMatchesHuggingFace(t *testing.T) {
	requireFile(t, t5TokenizerJSON)
	tok, err := Load(t5TokenizerJSON)
	if err != nil {
		t.Fatal(err)
	}
	hf, ok := tok.(*HuggingFace)
	if !ok {
		t.Fatalf("Load gave %T, want *HuggingFace", tok)
	}
	if hf.VocabSize() != 32100 || hf.Pad() != 0 || hf.EOS() != 1 || hf.UNK() != 2 || hf.BOS() != -1 {
		t.Errorf("vocab %d pad %d eos %d unk %d bos %d, want 32100 0 1 2 -1", hf.VocabSize(), hf.Pad(), hf.EOS(), hf.UNK(), hf.BOS())
	}
	if hf.PieceID("<extra_id_0>") != 32099 || hf.IDToPiece(32099) != "<extra_id_0>" {
		t.Errorf("<extra_id_0> is %d, id 32099 is %q", hf.PieceID("<extra_id_0>"), hf.IDToPiece(32099))
	}
	checkReferenceCases(t, tok, readReferenceCases(t, "t5_cases.jsonl"))
}

// llama2TokenizerJSON writes the Llama-2 tokenizer.json into a temporary
// directory: the committed file minus its vocabulary, which is put back
// from tokenizer.model (the two are identical id for id; see
// testdata/hf/llama2_json.py).
func llama2TokenizerJSON(t testing.TB) string {
	t.Helper()
	requireFile(t, llamaPath)
	requireFile(t, llamaNoVocabJSON)
	sp := loadSP(t, llamaPath)
	f, err := os.Open(llamaNoVocabJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(gz).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(doc["model"], &model); err != nil {
		t.Fatal(err)
	}
	vocab := make(map[string]int, sp.VocabSize())
	for id := range sp.VocabSize() {
		vocab[sp.IDToPiece(id)] = id
	}
	var err2 error
	if model["vocab"], err2 = json.Marshal(vocab); err2 != nil {
		t.Fatal(err2)
	}
	if doc["model"], err2 = json.Marshal(model); err2 != nil {
		t.Fatal(err2)
	}
	content, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLlama2TokenizerJSONMatchesHuggingFace: the Llama-2 tokenizer.json (BPE
// with merges, byte fallback, fused unknowns, Prepend/Replace normalizer)
// gives Hugging Face's ids, <s> and </s> in the text included.
func TestLlama2TokenizerJSONMatchesHuggingFace(t *testing.T) {
	tok, err := Load(llama2TokenizerJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 32000 || tok.Pad() != -1 || tok.EOS() != 2 || tok.UNK() != 0 || tok.BOS() != 1 {
		t.Errorf("vocab %d pad %d eos %d unk %d bos %d, want 32000 -1 2 0 1", tok.VocabSize(), tok.Pad(), tok.EOS(), tok.UNK(), tok.BOS())
	}
	checkReferenceCases(t, tok, readReferenceCases(t, "llama2_json_cases.jsonl"))
}

// TestLlama2ModelMatchesSentencePiece: the Llama-2 tokenizer.model gives the
// reference SentencePiece ids and decodings on the same texts.
func TestLlama2ModelMatchesSentencePiece(t *testing.T) {
	checkReferenceCases(t, loadSP(t, llamaPath), readReferenceCases(t, "llama2_spm_cases.jsonl"))
}
