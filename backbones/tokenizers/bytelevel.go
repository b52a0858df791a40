package tokenizers

import (
	"strings"
	"unicode/utf8"
)

// ByteLevel is ByT5's tokenizer: every UTF-8 byte is a token. It needs no
// vocabulary file, so it is the fallback for smoke tests and for backbones
// trained on raw bytes. Ids 0-2 are <pad>, </s> and <unk>; byte b is b+3.
type ByteLevel struct{}

// Byte-level special ids and layout, as in ByT5.
const (
	bytePadID     = 0
	byteEOSID     = 1
	byteUNKID     = 2
	byteIDOffset  = 3
	byteVocabSize = byteIDOffset + 256
)

var byteSpecialPieces = [byteIDOffset]string{"<pad>", "</s>", "<unk>"}

// NewByteLevel returns the byte-level tokenizer.
func NewByteLevel() *ByteLevel { return &ByteLevel{} }

// VocabSize is 259: three specials and 256 bytes.
func (ByteLevel) VocabSize() int { return byteVocabSize }

// Pad is 0.
func (ByteLevel) Pad() int { return bytePadID }

// EOS is 1.
func (ByteLevel) EOS() int { return byteEOSID }

// UNK is 2; Encode never produces it, every byte has an id.
func (ByteLevel) UNK() int { return byteUNKID }

// BOS is -1: ByT5 has no beginning-of-sequence token.
func (ByteLevel) BOS() int { return -1 }

// Encode maps each byte of text to byte+3, without adding </s>.
func (ByteLevel) Encode(text string) []int {
	ids := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int(text[i]) + byteIDOffset
	}
	return ids
}

// Decode drops special and out-of-range ids and reads the remaining bytes as
// UTF-8. Bytes that do not form a valid character are dropped, as ByT5's
// reference decoder does (errors="ignore"), so a model that emits a broken
// sequence loses only those bytes.
func (ByteLevel) Decode(ids []int) string {
	raw := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= byteIDOffset && id < byteVocabSize {
			raw = append(raw, byte(id-byteIDOffset))
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	var out strings.Builder
	for len(raw) > 0 {
		r, size := utf8.DecodeRune(raw)
		if r != utf8.RuneError || size > 1 {
			out.Write(raw[:size])
		}
		raw = raw[size:]
	}
	return out.String()
}

// PieceID returns the id of "<pad>", "</s>", "<unk>" or a one-byte string,
// and -1 for anything else.
func (ByteLevel) PieceID(piece string) int {
	for id, special := range byteSpecialPieces {
		if piece == special {
			return id
		}
	}
	if len(piece) == 1 {
		return int(piece[0]) + byteIDOffset
	}
	return -1
}

// IDToPiece returns the special token name or the one-byte string for id,
// and "" when id is out of range.
func (ByteLevel) IDToPiece(id int) string {
	switch {
	case id >= 0 && id < byteIDOffset:
		return byteSpecialPieces[id]
	case id >= byteIDOffset && id < byteVocabSize:
		return string([]byte{byte(id - byteIDOffset)})
	}
	return ""
}

// ExpectedDecode is text itself: for valid UTF-8, byte-level encoding
// loses nothing.
func (ByteLevel) ExpectedDecode(text string) string { return text }
