package tokenizers

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

const (
	fixturesDir     = "../../testdata/fixtures/tokenizers"
	unigramPath     = fixturesDir + "/t5style-unigram8k.model"
	llamaPath       = "../../testdata/models/llama2-tokenizer/tokenizer.model"
	casesPath       = fixturesDir + "/cases.jsonl"
	unigramField    = "unigram8k"
	llamaField      = "llama2"
	unigramUnkPiece = "<unk>"
)

// requireFile fails the test when a fixture is missing from the repository's testdata.
func requireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fixture missing from the repository's testdata: %v", err)
	}
}

func loadSP(t testing.TB, path string) *SentencePiece {
	t.Helper()
	requireFile(t, path)
	sp, err := LoadSentencePiece(path)
	if err != nil {
		t.Fatalf("LoadSentencePiece(%s): %v", path, err)
	}
	return sp
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	for scanner.Scan() {
		if strings.TrimSpace(scanner.Text()) != "" {
			n++
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReferenceCases checks every line of cases.jsonl against both models:
// exact ids, and decoding the reference ids back to the normalised text.
func TestReferenceCases(t *testing.T) {
	requireFile(t, casesPath)
	wantCases := countLines(t, casesPath)
	for _, tc := range []struct {
		name, model, field string
		wantType           ModelType
	}{
		{"unigram", unigramPath, unigramField, ModelUnigram},
		{"llama2-bpe", llamaPath, llamaField, ModelBPE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := loadSP(t, tc.model)
			if sp.ModelType() != tc.wantType {
				t.Fatalf("model type %v, want %v", sp.ModelType(), tc.wantType)
			}
			report, err := VerifyCases(sp, casesPath, tc.field)
			if err != nil {
				t.Fatal(err)
			}
			if report.Cases != wantCases {
				t.Errorf("checked %d cases, file has %d", report.Cases, wantCases)
			}
			if !report.Passed() {
				t.Fatalf("reference mismatch:\n%s", report)
			}
			// Only lines with <unk> may skip the round trip, and most
			// lines must have been round-tripped.
			if report.DecodeChecked < wantCases*9/10 {
				t.Errorf("round trip checked on only %d of %d lines", report.DecodeChecked, wantCases)
			}
			t.Logf("%s", strings.TrimSpace(report.String()))
		})
	}
}

func TestSpecialIDsAndVocab(t *testing.T) {
	t5 := loadSP(t, unigramPath)
	if got := [5]int{t5.VocabSize(), t5.Pad(), t5.EOS(), t5.UNK(), t5.BOS()}; got != [5]int{8000, 0, 1, 2, -1} {
		t.Errorf("unigram vocab/pad/eos/unk/bos = %v, want [8000 0 1 2 -1]", got)
	}
	if t5.IDToPiece(t5.UNK()) != unigramUnkPiece || t5.PieceID("</s>") != 1 {
		t.Errorf("unigram piece lookups wrong: %q %d", t5.IDToPiece(2), t5.PieceID("</s>"))
	}
	llama := loadSP(t, llamaPath)
	if got := [5]int{llama.VocabSize(), llama.Pad(), llama.EOS(), llama.UNK(), llama.BOS()}; got != [5]int{32000, -1, 2, 0, 1} {
		t.Errorf("llama vocab/pad/eos/unk/bos = %v, want [32000 -1 2 0 1]", got)
	}
	if llama.PieceID("<0x41>") != 68 || llama.IDToPiece(15043) != "▁Hello" {
		t.Errorf("llama piece lookups wrong: %d %q", llama.PieceID("<0x41>"), llama.IDToPiece(15043))
	}
	if llama.PieceID("no-such-piece") != -1 || llama.IDToPiece(-1) != "" || llama.IDToPiece(32000) != "" {
		t.Error("out-of-vocabulary lookups should give -1 / empty")
	}
}

func TestDecodeDetails(t *testing.T) {
	llama := loadSP(t, llamaPath)
	cases := []struct {
		ids  []int
		want string
	}{
		{[]int{15043, 3186}, "Hello world"},
		{[]int{1, 15043, 3186, 2}, "Hello world"},      // BOS/EOS are invisible
		{[]int{29871, 243, 162, 155, 131}, "😀"},        // byte pieces reassembled
		{[]int{243, 162}, "\uFFFD\uFFFD"},              // incomplete sequence
		{[]int{259, 15043}, "  Hello"},                 // only one dummy space is dropped
		{[]int{15043, -5, 99999, 3186}, "Hello world"}, // out-of-range ids skipped
	}
	for _, c := range cases {
		if got := llama.Decode(c.ids); got != c.want {
			t.Errorf("llama Decode(%v) = %q, want %q", c.ids, got, c.want)
		}
	}
	t5 := loadSP(t, unigramPath)
	ids := t5.Encode("emoji 😀 ok")
	if !containsID(ids, t5.UNK()) {
		t.Fatalf("expected <unk> in %v", ids)
	}
	if got := t5.Decode(ids); got != "emoji  \u2047  ok" {
		t.Errorf("unk should decode to U+2047, got %q", got)
	}
	if got := t5.Encode(""); len(got) != 0 {
		t.Errorf("Encode(\"\") = %v", got)
	}
	if got := t5.Normalize("  Ｆｕｌｌ\twidth  "); got != "▁Full▁width" {
		t.Errorf("nmt_nfkc normalisation gave %q", got)
	}
}

// encodeModelProto serialises a ModelProto so that the reader can be tested
// on files with features the fixtures lack.
func encodeModelProto(p *ModelProto) []byte {
	var out []byte
	for _, piece := range p.Pieces {
		var msg []byte
		msg = protowire.AppendTag(msg, fieldPiecePiece, protowire.BytesType)
		msg = protowire.AppendString(msg, piece.Piece)
		msg = protowire.AppendTag(msg, fieldPieceScore, protowire.Fixed32Type)
		msg = protowire.AppendFixed32(msg, mathFloat32bits(piece.Score))
		msg = protowire.AppendTag(msg, fieldPieceType, protowire.VarintType)
		msg = protowire.AppendVarint(msg, uint64(piece.Type))
		out = protowire.AppendTag(out, fieldModelPieces, protowire.BytesType)
		out = protowire.AppendBytes(out, msg)
	}
	var trainer []byte
	appendInt := func(num protowire.Number, v int) {
		trainer = protowire.AppendTag(trainer, num, protowire.VarintType)
		trainer = protowire.AppendVarint(trainer, uint64(int64(v)))
	}
	appendBool := func(msg []byte, num protowire.Number, v bool) []byte {
		msg = protowire.AppendTag(msg, num, protowire.VarintType)
		return protowire.AppendVarint(msg, protowire.EncodeBool(v))
	}
	appendInt(fieldTrainerModelType, int(p.Trainer.ModelType))
	appendInt(fieldTrainerUnkID, p.Trainer.UnkID)
	appendInt(fieldTrainerBOSID, p.Trainer.BOSID)
	appendInt(fieldTrainerEOSID, p.Trainer.EOSID)
	appendInt(fieldTrainerPadID, p.Trainer.PadID)
	trainer = appendBool(trainer, fieldTrainerByteFallback, p.Trainer.ByteFallback)
	for _, s := range p.Trainer.UserDefinedSymbols {
		trainer = protowire.AppendTag(trainer, fieldTrainerUserDefinedSymbols, protowire.BytesType)
		trainer = protowire.AppendString(trainer, s)
	}
	// An unknown field, as newer trainers write, must be skipped.
	trainer = protowire.AppendTag(trainer, 999, protowire.BytesType)
	trainer = protowire.AppendString(trainer, "future option")
	out = protowire.AppendTag(out, fieldModelTrainerSpec, protowire.BytesType)
	out = protowire.AppendBytes(out, trainer)

	var norm []byte
	norm = protowire.AppendTag(norm, fieldNormName, protowire.BytesType)
	norm = protowire.AppendString(norm, p.Normalizer.Name)
	if len(p.Normalizer.PrecompiledCharsmap) > 0 {
		norm = protowire.AppendTag(norm, fieldNormPrecompiledCharsmap, protowire.BytesType)
		norm = protowire.AppendBytes(norm, p.Normalizer.PrecompiledCharsmap)
	}
	norm = appendBool(norm, fieldNormAddDummyPrefix, p.Normalizer.AddDummyPrefix)
	norm = appendBool(norm, fieldNormRemoveExtraWhitespaces, p.Normalizer.RemoveExtraWhitespaces)
	norm = appendBool(norm, fieldNormEscapeWhitespaces, p.Normalizer.EscapeWhitespaces)
	out = protowire.AppendTag(out, fieldModelNormalizer, protowire.BytesType)
	out = protowire.AppendBytes(out, norm)
	return out
}

func syntheticModel(modelType ModelType, pieces []ModelPiece) *ModelProto {
	p := &ModelProto{Pieces: pieces, Trainer: defaultTrainerSpec(), Normalizer: defaultNormalizerSpec()}
	p.Trainer.ModelType = modelType
	p.Trainer.UnkID, p.Trainer.BOSID, p.Trainer.EOSID, p.Trainer.PadID = 0, -1, 1, -1
	p.Normalizer.Name = "identity"
	for _, piece := range pieces {
		if piece.Type == PieceUserDefined {
			p.Trainer.UserDefinedSymbols = append(p.Trainer.UserDefinedSymbols, piece.Piece)
		}
	}
	return p
}

func TestModelProtoRoundTrip(t *testing.T) {
	want := syntheticModel(ModelBPE, []ModelPiece{
		{"<unk>", 0, PieceUnknown}, {"</s>", 0, PieceControl}, {"▁", -1.5, PieceNormal}, {"<sep>", 0, PieceUserDefined},
	})
	want.Normalizer.RemoveExtraWhitespaces = false
	got, err := ParseModelProto(encodeModelProto(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Pieces, want.Pieces) {
		t.Errorf("pieces %v, want %v", got.Pieces, want.Pieces)
	}
	if got.Trainer.ModelType != ModelBPE || got.Trainer.PadID != -1 || got.Trainer.BOSID != -1 || got.Trainer.EOSID != 1 {
		t.Errorf("trainer ids wrong: %+v", got.Trainer)
	}
	if !reflect.DeepEqual(got.Trainer.UserDefinedSymbols, []string{"<sep>"}) {
		t.Errorf("user-defined symbols %v", got.Trainer.UserDefinedSymbols)
	}
	if got.Normalizer.RemoveExtraWhitespaces || !got.Normalizer.AddDummyPrefix || got.Normalizer.Name != "identity" {
		t.Errorf("normalizer spec wrong: %+v", got.Normalizer)
	}
}

func mustSP(t *testing.T, p *ModelProto) *SentencePiece {
	t.Helper()
	sp, err := NewSentencePiece(p)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestUnigramUserDefinedAndUnused(t *testing.T) {
	sp := mustSP(t, syntheticModel(ModelUnigram, []ModelPiece{
		{"<unk>", 0, PieceUnknown},     // 0
		{"</s>", 0, PieceControl},      // 1
		{"▁", -1, PieceNormal},         // 2
		{"a", -2, PieceNormal},         // 3
		{"b", -2, PieceNormal},         // 4
		{"▁ab", -3, PieceNormal},       // 5: beats ▁+a+b (-5)
		{"<sep>", 0, PieceUserDefined}, // 6
		{"ab", -0.5, PieceUnused},      // 7: would win, but unused pieces are never emitted
	}))
	if got, want := sp.Encode("ab<sep>ab"), []int{5, 6, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	// Consecutive unknown characters become a single <unk>.
	if got, want := sp.Encode("xyz a"), []int{2, 0, 2, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode(xyz a) = %v, want %v", got, want)
	}
	if got := sp.Decode([]int{5, 6, 3, 4}); got != "ab<sep>ab" {
		t.Errorf("Decode = %q", got)
	}
}

func TestBPEMergeOrderAndUnused(t *testing.T) {
	sp := mustSP(t, syntheticModel(ModelBPE, []ModelPiece{
		{"<unk>", 0, PieceUnknown},     // 0
		{"</s>", 0, PieceControl},      // 1
		{"▁", -10, PieceNormal},        // 2
		{"a", -10, PieceNormal},        // 3
		{"b", -10, PieceNormal},        // 4
		{"c", -10, PieceNormal},        // 5
		{"ab", -1, PieceNormal},        // 6
		{"bc", -0.5, PieceNormal},      // 7: best score, merged first
		{"▁a", -2, PieceUnused},        // 8: merged, then split back on output
		{"<sep>", 0, PieceUserDefined}, // 9
		{"cc", -1, PieceNormal},        // 10: ties with itself, leftmost wins
	}))
	cases := []struct {
		text string
		want []int
	}{
		// bc (-0.5) merges before ab (-1); then ▁a (-2) merges, but
		// it is unused, so the output splits it back into ▁ and a.
		{"abc", []int{2, 3, 7}},
		// ab (-1) beats ▁a (-2), after which ▁ab is not a piece.
		{"ab", []int{2, 6}},
		// Both cc pairs score the same: the leftmost merges first.
		{"ccc", []int{2, 10, 5}},
		// User-defined symbols never merge with their neighbours.
		{"c<sep>c", []int{2, 5, 9, 5}},
		// x and q are unknown: one <unk> for the run (no byte fallback).
		{"xq", []int{2, 0}},
	}
	for _, c := range cases {
		if got := sp.Encode(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestNormalizerUserDefinedBypassesCharsmap(t *testing.T) {
	base := loadSP(t, unigramPath).Model()
	p := *base
	p.Pieces = append(append([]ModelPiece(nil), base.Pieces...), ModelPiece{"ＡＢ", 0, PieceUserDefined})
	sp := mustSP(t, &p)
	if got := sp.Normalize("ＡＢ ＡＣ"); got != "▁ＡＢ▁AC" {
		t.Errorf("Normalize = %q, want user-defined ＡＢ kept and ＡＣ → AC", got)
	}
	ids := sp.Encode("ＡＢ")
	if len(ids) != 2 || ids[1] != len(base.Pieces) {
		t.Errorf("Encode(ＡＢ) = %v, want [▁ %d]", ids, len(base.Pieces))
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	requireFile(t, unigramPath)
	data, err := os.ReadFile(unigramPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Cut exactly where normalizer_spec starts: every message before it is
	// whole, so only the missing-spec check can notice.
	boundary := 0
	for offset := 0; offset < len(data); {
		num, typ, n := protowire.ConsumeTag(data[offset:])
		if num == fieldModelNormalizer {
			boundary = offset
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, data[offset+n:])
		offset += n + m
	}
	if boundary == 0 {
		t.Fatal("normalizer_spec not found in fixture")
	}
	files := map[string][]byte{
		"truncated-half.model":     data[:len(data)/2],
		"truncated-boundary.model": data[:boundary],
		"garbled.model":            []byte("this is not a sentencepiece model\n"),
		"empty.model":              nil,
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(path)
		if err == nil || tok != nil {
			t.Errorf("%s: loaded a broken model: %v, %v", name, tok, err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	// A piece of an unknown type is rejected, not misread.
	bad := syntheticModel(ModelUnigram, []ModelPiece{{"<unk>", 0, PieceUnknown}, {"a", 0, PieceType(9)}})
	if _, err := ParseModelProto(encodeModelProto(bad)); err == nil {
		t.Error("piece type 9 accepted")
	}
	// Models without <unk> are invalid in SentencePiece too.
	if _, err := NewSentencePiece(syntheticModel(ModelUnigram, []ModelPiece{{"a", 0, PieceNormal}})); err == nil {
		t.Error("model without <unk> accepted")
	}
}

func TestLoadPicksByFile(t *testing.T) {
	requireFile(t, llamaPath)
	tok, err := Load(llamaPath)
	if err != nil {
		t.Fatal(err)
	}
	if sp, ok := tok.(*SentencePiece); !ok || sp.ModelType() != ModelBPE {
		t.Errorf("Load(llama) gave %T", tok)
	}
	tok, err = Load(unigramPath)
	if err != nil {
		t.Fatal(err)
	}
	if sp, ok := tok.(*SentencePiece); !ok || sp.ModelType() != ModelUnigram {
		t.Errorf("Load(unigram) gave %T", tok)
	}
	if tok, err := Load("byte"); err != nil || tok.VocabSize() != 259 {
		t.Errorf("Load(byte) = %T, %v", tok, err)
	}
	missing := filepath.Join(t.TempDir(), "absent.model")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file error should name it: %v", err)
	}
	other := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(other, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("unknown file type error should name it: %v", err)
	}
}

// TestEncodeSpeed guards against accidental quadratic behaviour: a ~256-token
// sentence must encode well under a millisecond on average. The bound is
// loose (5 ms) so slow CI machines do not flake.
// TestEncodeLongText: a 1,100-character text encodes to hundreds of pieces and decodes back
// (its speed is BenchmarkEncode's business: `go test -bench Encode ./backbones/tokenizers`).
func TestEncodeLongText(t *testing.T) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, naïve café! ", 20)
	for _, path := range []string{unigramPath, llamaPath} {
		sp := loadSP(t, path)
		ids := sp.Encode(text)
		if len(ids) < 200 {
			t.Fatalf("%s: only %d tokens", path, len(ids))
		}
		if got := sp.Decode(ids); strings.TrimSpace(got) != strings.TrimSpace(text) {
			t.Errorf("%s: decode(encode(text)) = %q…", path, got[:min(len(got), 60)])
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, naïve café! ", 20)
	for _, tc := range []struct{ name, path string }{{"unigram", unigramPath}, {"llama2", llamaPath}} {
		sp, err := LoadSentencePiece(tc.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportMetric(float64(len(sp.Encode(text))), "tokens")
			for i := 0; i < b.N; i++ {
				sp.Encode(text)
			}
		})
	}
}

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }

// TestConcurrentEncode backs the doc claim that a SentencePiece may be shared
// between goroutines (run with -race to check for data races).
func TestConcurrentEncode(t *testing.T) {
	sp := loadSP(t, llamaPath)
	text := "Concurrent encoding must give the same ids 😀"
	want := sp.Encode(text)
	results := make(chan []int, 4)
	for i := 0; i < 4; i++ {
		go func() { results <- sp.Encode(text) }()
	}
	for i := 0; i < 4; i++ {
		if got := <-results; !reflect.DeepEqual(got, want) {
			t.Errorf("goroutine got %v, want %v", got, want)
		}
	}
}
