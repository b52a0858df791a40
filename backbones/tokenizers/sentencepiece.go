package tokenizers

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// spEncoder is a segmentation algorithm over a normalised string.
type spEncoder interface {
	encode(normalized string) []segment
}

// SentencePiece is a pure-Go SentencePiece processor for unigram (T5) and
// BPE (Llama-2) models. Encode returns exactly the ids of the reference
// implementation's `encode(text)` without BOS/EOS, so that prompts line up
// with what the backbone was trained on. It is safe for concurrent use.
type SentencePiece struct {
	path        string
	proto       *ModelProto
	normalizer  *Normalizer
	denormalize *Normalizer // nil unless the model ships a denormalizer
	encoder     spEncoder

	pieceIDs    map[string]int // normal, user-defined and unused pieces
	reservedIDs map[string]int // control, unknown and byte pieces
	byteIDs     [256]int       // id of <0xNN>, or the unk id when absent
	byteValue   map[int]byte   // byte piece id → its byte

	unk, bos, eos, pad int
}

// LoadSentencePiece reads a `.model` file. Errors name the file.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	proto, err := ReadModelProto(path)
	if err != nil {
		return nil, err
	}
	sp, err := NewSentencePiece(proto)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece model %s: %w", path, err)
	}
	sp.path = path
	return sp, nil
}

// NewSentencePiece builds a processor from a decoded model, validating it the
// way SentencePiece does (exactly one <unk>, no duplicate pieces, byte
// pieces only with byte fallback).
func NewSentencePiece(proto *ModelProto) (*SentencePiece, error) {
	sp := &SentencePiece{
		proto:       proto,
		pieceIDs:    make(map[string]int, len(proto.Pieces)),
		reservedIDs: make(map[string]int),
		byteValue:   make(map[int]byte),
		unk:         -1,
	}
	trie := newPieceTrieBuilder()
	userDefined := newPieceTrieBuilder()
	hasUserDefined, hasUnused := false, false
	for id, piece := range proto.Pieces {
		if piece.Piece == "" {
			return nil, fmt.Errorf("piece %d is empty", id)
		}
		target := sp.reservedIDs
		switch piece.Type {
		case PieceNormal, PieceUserDefined, PieceUnused:
			target = sp.pieceIDs
		}
		if _, dup := target[piece.Piece]; dup {
			return nil, fmt.Errorf("piece %q (id %d) is defined twice", piece.Piece, id)
		}
		target[piece.Piece] = id
		switch piece.Type {
		case PieceNormal:
			trie.insert(piece.Piece, id)
		case PieceUserDefined:
			trie.insert(piece.Piece, id)
			userDefined.insert(piece.Piece, id)
			hasUserDefined = true
		case PieceUnused:
			trie.insert(piece.Piece, id)
			hasUnused = true
		case PieceUnknown:
			if sp.unk >= 0 {
				return nil, fmt.Errorf("<unk> defined twice (ids %d and %d)", sp.unk, id)
			}
			sp.unk = id
		case PieceByte:
			if !proto.Trainer.ByteFallback {
				return nil, fmt.Errorf("byte piece %q (id %d) in a model without byte_fallback", piece.Piece, id)
			}
			b, ok := parseBytePiece(piece.Piece)
			if !ok {
				return nil, fmt.Errorf("byte piece %q (id %d) is not of the form <0xNN>", piece.Piece, id)
			}
			sp.byteValue[id] = b
		}
	}
	if sp.unk < 0 {
		return nil, fmt.Errorf("model defines no <unk> piece")
	}
	for b := range sp.byteIDs {
		id := sp.PieceID(bytePiece(byte(b)))
		if id < 0 { // as SentencePiece's PieceToId: a missing byte piece is <unk>
			id = sp.unk
		}
		sp.byteIDs[b] = id
	}

	var userDefinedTrie *pieceTrie
	if hasUserDefined {
		userDefinedTrie = userDefined.freeze()
	}
	switch proto.Trainer.ModelType {
	case ModelUnigram:
		sp.encoder = newUnigramModel(proto.Pieces, trie.freeze(), sp.unk)
	case ModelBPE:
		sp.encoder = &bpeModel{
			pieces:      proto.Pieces,
			pieceIDs:    sp.pieceIDs,
			reservedIDs: sp.reservedIDs,
			userDefined: userDefinedTrie,
			unkID:       sp.unk,
			hasUnused:   hasUnused,
		}
	default:
		return nil, fmt.Errorf("model_type %v is not supported (only UNIGRAM and BPE)", proto.Trainer.ModelType)
	}

	normalizer, err := NewNormalizer(proto.Normalizer, proto.Trainer.TreatWhitespaceAsSuffix)
	if err != nil {
		return nil, fmt.Errorf("normalizer_spec: %w", err)
	}
	if userDefinedTrie != nil {
		normalizer.setUserDefinedSymbols(userDefinedTrie)
	}
	sp.normalizer = normalizer
	if d := proto.Denormalizer; d != nil && len(d.PrecompiledCharsmap) > 0 {
		if sp.denormalize, err = NewNormalizer(*d, false); err != nil {
			return nil, fmt.Errorf("denormalizer_spec: %w", err)
		}
	}

	// Like the reference, special ids are found by piece name and kept
	// only when the piece has the right type; the trainer ids are a hint.
	sp.bos = sp.specialID(proto.Trainer.BOSPiece, PieceControl)
	sp.eos = sp.specialID(proto.Trainer.EOSPiece, PieceControl)
	sp.pad = sp.specialID(proto.Trainer.PadPiece, PieceControl)
	return sp, nil
}

func (sp *SentencePiece) specialID(piece string, want PieceType) int {
	id := sp.PieceID(piece)
	if id < 0 || sp.proto.Pieces[id].Type != want {
		return -1
	}
	return id
}

func bytePiece(b byte) string { return fmt.Sprintf("<0x%02X>", b) }

func parseBytePiece(piece string) (byte, bool) {
	if len(piece) != 6 || !strings.HasPrefix(piece, "<0x") || piece[5] != '>' {
		return 0, false
	}
	var value byte
	for _, c := range []byte(piece[3:5]) {
		var digit byte
		switch {
		case c >= '0' && c <= '9':
			digit = c - '0'
		case c >= 'A' && c <= 'F':
			digit = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			digit = c - 'a' + 10
		default:
			return 0, false
		}
		value = value<<4 | digit
	}
	return value, true
}

// Path is the file the model was loaded from ("" when built from a proto).
func (sp *SentencePiece) Path() string { return sp.path }

// Model exposes the decoded model file, e.g. for inspecting trainer options.
func (sp *SentencePiece) Model() *ModelProto { return sp.proto }

// ModelType is UNIGRAM or BPE.
func (sp *SentencePiece) ModelType() ModelType { return sp.proto.Trainer.ModelType }

// VocabSize is the number of pieces, including control and byte pieces.
func (sp *SentencePiece) VocabSize() int { return len(sp.proto.Pieces) }

// UNK is the <unk> id; every SentencePiece model has one.
func (sp *SentencePiece) UNK() int { return sp.unk }

// BOS is the <s> id, or -1 when the model has none (T5).
func (sp *SentencePiece) BOS() int { return sp.bos }

// EOS is the </s> id, or -1 when the model has none.
func (sp *SentencePiece) EOS() int { return sp.eos }

// Pad is the <pad> id, or -1 when the model has none (Llama-2).
func (sp *SentencePiece) Pad() int { return sp.pad }

// PieceID returns the id of a piece, or -1 when it is not in the vocabulary.
// (SentencePiece itself answers <unk> there; -1 lets callers tell apart.)
func (sp *SentencePiece) PieceID(piece string) int {
	if id, ok := sp.reservedIDs[piece]; ok {
		return id
	}
	if id, ok := sp.pieceIDs[piece]; ok {
		return id
	}
	return -1
}

// IDToPiece returns the piece string for id, or "" when out of range.
func (sp *SentencePiece) IDToPiece(id int) string {
	if id < 0 || id >= len(sp.proto.Pieces) {
		return ""
	}
	return sp.proto.Pieces[id].Piece
}

// Normalize returns text as the segmenter sees it, with U+2581 for spaces.
func (sp *SentencePiece) Normalize(text string) string { return sp.normalizer.Normalize(text) }

// Encode returns the ids for text, without BOS or EOS.
func (sp *SentencePiece) Encode(text string) []int {
	normalized := sp.normalizer.Normalize(text)
	segments := sp.encoder.encode(normalized)
	ids := make([]int, 0, len(segments))
	byteFallback := sp.proto.Trainer.ByteFallback
	prevWasUnk := false
	for _, seg := range segments {
		isUnk := seg.id == sp.unk
		switch {
		case isUnk && byteFallback:
			// An unknown character is spelled out as its UTF-8 bytes.
			for i := seg.start; i < seg.end; i++ {
				ids = append(ids, sp.byteIDs[normalized[i]])
			}
		case isUnk && prevWasUnk:
			// A run of unknown characters is a single <unk>, so the
			// decoder can reproduce (or mark) the run as a whole.
		default:
			ids = append(ids, seg.id)
		}
		prevWasUnk = isUnk
	}
	return ids
}

// EncodePieces returns the piece strings Encode's ids stand for.
func (sp *SentencePiece) EncodePieces(text string) []string {
	ids := sp.Encode(text)
	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = sp.IDToPiece(id)
	}
	return pieces
}

// Decode turns ids back into text: U+2581 becomes a space, the dummy-prefix
// space at the start is dropped, control pieces vanish, <unk> prints as the
// model's unk surface (" ⁇ " by default), and runs of byte pieces are
// reassembled into UTF-8 with U+FFFD for bytes that do not form a
// character. Ids outside the vocabulary are skipped: models often pad their
// embedding matrix past the vocabulary and may generate such ids.
func (sp *SentencePiece) Decode(ids []int) string {
	var text strings.Builder
	var pendingBytes []byte
	flushBytes := func() {
		appendBytesAsUTF8(&text, pendingBytes)
		pendingBytes = pendingBytes[:0]
	}
	atStart := true         // whether a leading dummy-prefix space may still be dropped
	startSpaceSeen := false // whether it already was
	for _, id := range ids {
		if id < 0 || id >= len(sp.proto.Pieces) {
			continue
		}
		piece := sp.proto.Pieces[id]
		if piece.Type == PieceByte {
			pendingBytes = append(pendingBytes, sp.byteValue[id])
			continue
		}
		flushBytes()
		if startSpaceSeen || text.Len() > 0 {
			atStart = false
		}
		var decoded string
		decoded, startSpaceSeen = sp.decodePiece(piece, atStart)
		text.WriteString(decoded)
	}
	flushBytes()
	if sp.denormalize != nil {
		return sp.denormalize.Normalize(text.String())
	}
	return text.String()
}

// decodePiece renders one non-byte piece and reports whether it consumed the
// dummy-prefix space (only possible at the start of the text).
func (sp *SentencePiece) decodePiece(piece ModelPiece, atStart bool) (string, bool) {
	switch piece.Type {
	case PieceControl:
		return "", false
	case PieceUnknown:
		return sp.proto.Trainer.UnkSurface, false
	}
	text := piece.Piece
	consumedStartSpace := false
	spec := sp.proto.Normalizer
	if atStart && (spec.AddDummyPrefix || spec.RemoveExtraWhitespaces) {
		if trimmed, ok := strings.CutPrefix(text, spaceSymbol); ok {
			text = trimmed
			// With extra whitespace removed at encode time every
			// leading space is a dummy, so keep stripping.
			consumedStartSpace = !spec.RemoveExtraWhitespaces
		}
	}
	return strings.ReplaceAll(text, spaceSymbol, " "), consumedStartSpace
}

// appendBytesAsUTF8 writes bytes decoded as UTF-8, one U+FFFD per byte that
// does not start a valid sequence.
func appendBytesAsUTF8(out *strings.Builder, bytes []byte) {
	for len(bytes) > 0 {
		r, size := utf8.DecodeRune(bytes)
		if r == utf8.RuneError && size <= 1 {
			out.WriteString(replacementChar)
			bytes = bytes[1:]
			continue
		}
		out.Write(bytes[:size])
		bytes = bytes[size:]
	}
}

// ExpectedDecode is what Decode(Encode(text)) gives when text has no
// characters outside the vocabulary: the normalised text with spaces
// restored and the dummy-prefix space removed. Verification uses it.
func (sp *SentencePiece) ExpectedDecode(text string) string {
	normalized := sp.normalizer.Normalize(text)
	spec := sp.proto.Normalizer
	if spec.AddDummyPrefix || spec.RemoveExtraWhitespaces {
		normalized = strings.TrimPrefix(normalized, spaceSymbol)
	}
	decoded := strings.ReplaceAll(normalized, spaceSymbol, " ")
	if sp.denormalize != nil {
		decoded = sp.denormalize.Normalize(decoded)
	}
	return decoded
}
