package tokenizers

import (
	"encoding/binary"
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

// llamaStyleJSON is a small Llama-2-style tokenizer.json: BPE with merges, byte fallback, fused
// unknowns, the Prepend/Replace normalizer, normalized added tokens and the byte-fallback decoder.
const llamaStyleJSON = `{
  "added_tokens": [
    {"id": 0, "content": "<unk>", "normalized": true, "special": true},
    {"id": 1, "content": "<s>", "normalized": true, "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
  "pre_tokenizer": null,
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "<0x61>": 2, "<0xC3>": 3, "<0xA9>": 4, "\u2581": 5, "b": 6, "\u2581b": 7, "bb": 8},
    "merges": ["\u2581 b", ["b", "b"]]}
}`

// t5StyleJSON is a small T5-style tokenizer.json: Unigram without a model type, WhitespaceSplit and
// Metaspace, non-normalized added tokens, the Metaspace decoder.
const t5StyleJSON = `{
  "added_tokens": [{"id": 0, "content": "<pad>", "special": true}, {"id": 3, "content": "<extra_id_0>", "special": true, "lstrip": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Strip"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": true}]},
  "decoder": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": true},
  "model": {"unk_id": 1, "vocab": [["<pad>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], ["<extra_id_0>", 0.0], ["a", -3.0], ["\u2581a", -1.5], ["ab", -2.5]]}
}`

// FuzzTokenizerJSON: any bytes given as a tokenizer.json either fail to load with an error or give a
// tokenizer whose ids for any text are within its vocabulary and decode to valid UTF-8, without
// panicking.
func FuzzTokenizerJSON(f *testing.F) {
	f.Add([]byte(wordLevelJSON), "Prompt tuning works!")
	f.Add([]byte(bpeJSON), "lower")
	f.Add([]byte(llamaStyleJSON), "a <s> bb\u00e9 \u00e9x")
	f.Add([]byte(t5StyleJSON), "ab <extra_id_0>\t a\u0301 \uff41")
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}}`), "ab")
	f.Add([]byte(`{"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["a", -1.0]], "unk_id": 0}}`), "aa")
	f.Add([]byte(`{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "CAAAAAEAAAACAAAAYQA="}, "model": {"vocab": [["<unk>", 0.0], ["a", -1.0]], "unk_id": 0}}`), "a")
	f.Add([]byte(`{}`), "")
	f.Fuzz(func(t *testing.T, content []byte, text string) {
		tok, err := parseHuggingFace(content)
		if err != nil {
			return
		}
		for _, s := range append(fuzzTexts, text) {
			ids, err := tok.EncodeChecked(s)
			if err != nil {
				continue
			}
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("EncodeChecked(%q) gave id %d outside the vocabulary of %d", s, id, tok.VocabSize())
				}
			}
			if d := tok.Decode(ids); !utf8.ValidString(d) {
				t.Fatalf("Decode of EncodeChecked(%q) is not valid UTF-8: %q", s, d)
			}
		}
	})
}

// FuzzGenuineTokenizerJSON: the released t5-small and the Llama-2 tokenizer.json encode any text
// without panicking, into ids within the vocabulary, that decode to valid UTF-8.
func FuzzGenuineTokenizerJSON(f *testing.F) {
	t5, err := LoadHuggingFace(t5TokenizerJSON)
	if err != nil {
		f.Fatal(err)
	}
	llama, err := LoadHuggingFace(llama2TokenizerJSON(f))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", "Hello\r\nworld", "e\u0301 \uff21\u0301", "\u200d\ufeff\u0000", "\U0001f469\u200d\U0001f4bb", "a <extra_id_0> <s>b", "\xff\xfe"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range []*HuggingFace{t5, llama} {
			ids := tok.Encode(text)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("%s: Encode(%q) gave id %d outside the vocabulary of %d", tok.Path(), text, id, tok.VocabSize())
				}
			}
			if d := tok.Decode(ids); !utf8.ValidString(d) {
				t.Fatalf("%s: Decode of Encode(%q) is not valid UTF-8: %q", tok.Path(), text, d)
			}
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
