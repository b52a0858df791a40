package tokenizers

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ptbench/ptbench/internal/testfix"
)

// fuzzTexts are encoded by every tokenizer a fuzz input loads.
var fuzzTexts = []string{"Prompt tuning works!", "  héllo\twörld  ", "日本語 🙂 \u2581x", "\xff\xfe broken utf-8"}

// shrinkModel keeps a SentencePiece model small enough to fuzz (the fuzzer minimises every
// new interesting input, which takes minutes for a 400 KB file): the first keep pieces, the
// trainer spec, and the normalizer spec with its precompiled charsmap cut to a 256-byte trie and
// 64 bytes of targets (a corrupt but well-framed charsmap, which must not crash the walk).
func shrinkModel(tb testing.TB, model []byte, keep int) []byte {
	tb.Helper()
	var out []byte
	pieces := 0
	for len(model) > 0 {
		num, typ, n := protowire.ConsumeField(model)
		if n < 0 {
			tb.Fatalf("fixture model: %v", protowire.ParseError(n))
		}
		field := model[:n]
		model = model[n:]
		switch num {
		case fieldModelPieces:
			if pieces++; pieces > keep {
				continue
			}
		case fieldModelNormalizer:
			_, _, vn := protowire.ConsumeTag(field)
			spec, _ := protowire.ConsumeBytes(field[vn:])
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, shrinkNormalizer(spec))
			continue
		}
		out = append(out, field...)
	}
	return out
}

func shrinkNormalizer(spec []byte) []byte {
	var out []byte
	for len(spec) > 0 {
		num, typ, n := protowire.ConsumeField(spec)
		if n < 0 {
			return out
		}
		field := spec[:n]
		spec = spec[n:]
		if num == fieldNormPrecompiledCharsmap {
			_, _, vn := protowire.ConsumeTag(field)
			blob, _ := protowire.ConsumeBytes(field[vn:])
			if len(blob) >= 4 {
				trie := min(int(binary.LittleEndian.Uint32(blob)), 256, len(blob)-4)
				trie -= trie % 4
				small := binary.LittleEndian.AppendUint32(nil, uint32(trie))
				small = append(small, blob[4:4+trie]...)
				rest := blob[4+int(binary.LittleEndian.Uint32(blob)):]
				small = append(small, rest[:min(64, len(rest))]...)
				out = protowire.AppendTag(out, num, typ)
				out = protowire.AppendBytes(out, small)
			}
			continue
		}
		out = append(out, field...)
	}
	return out
}

// FuzzSentencePieceModel: any bytes given as a SentencePiece .model either fail to load with
// an error, or give a tokenizer whose ids for any text are within its vocabulary and decode
// to valid UTF-8 without panicking.
func FuzzSentencePieceModel(f *testing.F) {
	for _, rel := range []string{"fixtures/tokenizers/t5style-unigram8k.model", "models/llama2-tokenizer/tokenizer.model"} {
		if b := testfix.Read(f, rel); b != nil {
			f.Add(shrinkModel(f, b, 48), "Prompt tuning")
			f.Add(shrinkModel(f, b, 8), "a")
		}
	}
	f.Add(byteFallbackModel(), "ab\u00e9") // byte fallback, but only <0x61> among the byte pieces
	f.Add([]byte{}, "")
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'}, "abc") // one piece, no specs
	f.Fuzz(func(t *testing.T, model []byte, text string) {
		proto, err := ParseModelProto(model)
		if err != nil {
			return
		}
		sp, err := NewSentencePiece(proto)
		if err != nil {
			return
		}
		for _, s := range append(fuzzTexts, text) {
			ids := sp.Encode(s)
			for _, id := range ids {
				if id < 0 || id >= sp.VocabSize() {
					t.Fatalf("Encode(%q) gave id %d outside the %d-piece vocabulary", s, id, sp.VocabSize())
				}
			}
			if d := sp.Decode(ids); !utf8.ValidString(d) {
				t.Fatalf("Decode of Encode(%q) is not valid UTF-8: %q", s, d)
			}
		}
	})
}

// FuzzTokenizerJSON: any bytes given as a tokenizer.json either fail to load with an error
// (the library's panics included) or give a tokenizer that encodes and decodes without
// panicking.
func FuzzTokenizerJSON(f *testing.F) {
	f.Add([]byte(wordLevelJSON), "Prompt tuning works!")
	f.Add([]byte(bpeJSON), "lower")
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}}`), "ab")
	f.Add([]byte(`{"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["a", -1.0]], "unk_id": 0}}`), "aa")
	f.Add([]byte(`{}`), "")
	f.Fuzz(func(t *testing.T, content []byte, text string) {
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := LoadHuggingFace(path)
		if err != nil {
			return
		}
		for _, s := range append(fuzzTexts, text) {
			ids, err := tok.EncodeChecked(s)
			if err != nil {
				continue
			}
			tok.Decode(ids)
		}
	})
}

// byteFallbackModel is a BPE model with byte_fallback whose only byte piece is <0x61>: bytes
// without a piece must encode as <unk>, as SentencePiece does, never as an invalid id.
func byteFallbackModel() []byte {
	piece := func(text string, typ uint64) []byte {
		var p []byte
		p = protowire.AppendTag(p, fieldPiecePiece, protowire.BytesType)
		p = protowire.AppendString(p, text)
		p = protowire.AppendTag(p, fieldPieceType, protowire.VarintType)
		return protowire.AppendVarint(p, typ)
	}
	var m []byte
	for _, p := range [][]byte{piece("<unk>", uint64(PieceUnknown)), piece("<0x61>", uint64(PieceByte)), piece("b", uint64(PieceNormal))} {
		m = protowire.AppendTag(m, fieldModelPieces, protowire.BytesType)
		m = protowire.AppendBytes(m, p)
	}
	var trainer []byte
	trainer = protowire.AppendTag(trainer, fieldTrainerModelType, protowire.VarintType)
	trainer = protowire.AppendVarint(trainer, uint64(ModelBPE))
	trainer = protowire.AppendTag(trainer, fieldTrainerByteFallback, protowire.VarintType)
	trainer = protowire.AppendVarint(trainer, 1)
	m = protowire.AppendTag(m, fieldModelTrainerSpec, protowire.BytesType)
	m = protowire.AppendBytes(m, trainer)
	var norm []byte
	norm = protowire.AppendTag(norm, fieldNormName, protowire.BytesType)
	norm = protowire.AppendString(norm, "identity")
	m = protowire.AppendTag(m, fieldModelNormalizer, protowire.BytesType)
	return protowire.AppendBytes(m, norm)
}
