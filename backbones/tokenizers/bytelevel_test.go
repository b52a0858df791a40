package tokenizers

import (
	"reflect"
	"testing"
)

func TestByteLevelRoundTrip(t *testing.T) {
	tok := NewByteLevel()
	if tok.VocabSize() != 259 || tok.Pad() != 0 || tok.EOS() != 1 || tok.UNK() != 2 || tok.BOS() != -1 {
		t.Fatalf("layout wrong: vocab %d pad %d eos %d unk %d bos %d", tok.VocabSize(), tok.Pad(), tok.EOS(), tok.UNK(), tok.BOS())
	}
	if got, want := tok.Encode("Hi é"), []int{'H' + 3, 'i' + 3, ' ' + 3, 0xC3 + 3, 0xA9 + 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	for _, text := range []string{"", "plain ascii", "naïve café — “quotes”", "日本語 😀 🇫🇷", "\x00\t\n"} {
		ids := tok.Encode(text)
		if len(ids) != len(text) {
			t.Errorf("%q: %d ids for %d bytes", text, len(ids), len(text))
		}
		for _, id := range ids {
			if id < 3 || id >= 259 {
				t.Errorf("%q: id %d outside the byte range", text, id)
			}
		}
		if got := tok.Decode(ids); got != text {
			t.Errorf("round trip of %q gave %q", text, got)
		}
	}
	// Specials and out-of-range ids vanish; a broken sequence is dropped.
	ids := append([]int{0, 1, 2, 999, -1}, tok.Encode("ok")...)
	ids = append(ids, 0xE2+3) // lone lead byte of a 3-byte character
	if got := tok.Decode(ids); got != "ok" {
		t.Errorf("Decode with specials and a broken byte = %q, want %q", got, "ok")
	}
	if tok.PieceID("</s>") != 1 || tok.PieceID("A") != 'A'+3 || tok.PieceID("AB") != -1 {
		t.Error("PieceID wrong")
	}
	if tok.IDToPiece(0) != "<pad>" || tok.IDToPiece('A'+3) != "A" || tok.IDToPiece(259) != "" {
		t.Error("IDToPiece wrong")
	}
}
