package tokenizers

import (
	"errors"
	"fmt"
	"math"
	"os"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file reads SentencePiece's `.model` files: a serialised ModelProto
// (sentencepiece_model.proto, proto2). Rather than ship generated code for a
// schema with ~60 fields of which a tokenizer needs a dozen, the message is
// walked field by field with protowire and unknown fields are skipped, so
// models written by newer trainers (extra fields) still load.

// PieceType is SentencePiece's ModelProto.SentencePiece.Type.
type PieceType int32

// Piece types, numbered as in sentencepiece_model.proto.
const (
	PieceNormal      PieceType = 1 // ordinary vocabulary piece, found by the encoder
	PieceUnknown     PieceType = 2 // the single <unk> piece
	PieceControl     PieceType = 3 // <s>, </s>, <pad>: never produced from text
	PieceUserDefined PieceType = 4 // always matched verbatim, never normalised
	PieceUnused      PieceType = 5 // kept in the vocabulary but never emitted
	PieceByte        PieceType = 6 // <0xNN> byte-fallback pieces
)

// ModelType is TrainerSpec.ModelType: which segmentation algorithm the
// pieces were trained for, and so which encoder must be used.
type ModelType int32

// Model types, numbered as in sentencepiece_model.proto.
const (
	ModelUnigram ModelType = 1
	ModelBPE     ModelType = 2
	ModelWord    ModelType = 3
	ModelChar    ModelType = 4
)

func (m ModelType) String() string {
	switch m {
	case ModelUnigram:
		return "UNIGRAM"
	case ModelBPE:
		return "BPE"
	case ModelWord:
		return "WORD"
	case ModelChar:
		return "CHAR"
	}
	return fmt.Sprintf("ModelType(%d)", int32(m))
}

// ModelPiece is one vocabulary entry; its id is its index in ModelProto.Pieces.
type ModelPiece struct {
	Piece string
	Score float32
	Type  PieceType
}

// TrainerSpec holds the training options that still matter at encode time.
// Defaults are the proto2 defaults, which apply when a field is absent.
type TrainerSpec struct {
	ModelType               ModelType
	VocabSize               int
	TreatWhitespaceAsSuffix bool
	ByteFallback            bool
	UnkID, BOSID, EOSID     int
	PadID                   int
	UnkPiece, BOSPiece      string
	EOSPiece, PadPiece      string
	UnkSurface              string // what Decode prints for <unk>
	UserDefinedSymbols      []string
	ControlSymbols          []string
}

// NormalizerSpec describes how raw text is normalised before segmentation.
type NormalizerSpec struct {
	Name                   string
	PrecompiledCharsmap    []byte
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
}

// ModelProto is the decoded content of a SentencePiece `.model` file.
type ModelProto struct {
	Pieces       []ModelPiece
	Trainer      TrainerSpec
	Normalizer   NormalizerSpec
	Denormalizer *NormalizerSpec // nil when the file has none
}

// Field numbers from sentencepiece_model.proto.
const (
	fieldModelPieces       = 1
	fieldModelTrainerSpec  = 2
	fieldModelNormalizer   = 3
	fieldModelDenormalizer = 5

	fieldPiecePiece = 1
	fieldPieceScore = 2
	fieldPieceType  = 3

	fieldTrainerModelType          = 3
	fieldTrainerVocabSize          = 4
	fieldTrainerTreatWSAsSuffix    = 24
	fieldTrainerControlSymbols     = 30
	fieldTrainerUserDefinedSymbols = 31
	fieldTrainerByteFallback       = 35
	fieldTrainerUnkID              = 40
	fieldTrainerBOSID              = 41
	fieldTrainerEOSID              = 42
	fieldTrainerPadID              = 43
	fieldTrainerUnkSurface         = 44
	fieldTrainerUnkPiece           = 45
	fieldTrainerBOSPiece           = 46
	fieldTrainerEOSPiece           = 47
	fieldTrainerPadPiece           = 48

	fieldNormName                   = 1
	fieldNormPrecompiledCharsmap    = 2
	fieldNormAddDummyPrefix         = 3
	fieldNormRemoveExtraWhitespaces = 4
	fieldNormEscapeWhitespaces      = 5
)

// defaultUnkSurface is U+2047 (DOUBLE QUESTION MARK) padded with spaces,
// SentencePiece's default rendering of <unk> when decoding.
const defaultUnkSurface = " \u2047 "

// ReadModelProto reads and decodes a SentencePiece `.model` file. Errors name
// the file so a CLI user knows which of several paths was bad.
func ReadModelProto(path string) (*ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece model %s: %w", path, err)
	}
	proto, err := ParseModelProto(data)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece model %s: %w", path, err)
	}
	return proto, nil
}

// ParseModelProto decodes a serialised ModelProto. It rejects input that is
// not well-formed protobuf, has no pieces, or lacks trainer_spec or
// normalizer_spec: that is what truncated or non-SentencePiece files look
// like, and loading one would silently give wrong ids.
func ParseModelProto(data []byte) (*ModelProto, error) {
	proto := &ModelProto{
		Trainer:    defaultTrainerSpec(),
		Normalizer: defaultNormalizerSpec(),
	}
	hasTrainer, hasNormalizer := false, false
	err := walkFields(data, func(num protowire.Number, typ protowire.Type, value []byte, scalar uint64) error {
		switch num {
		case fieldModelPieces:
			if typ != protowire.BytesType {
				return wrongWireType("ModelProto.pieces", typ)
			}
			piece, err := parsePiece(value)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(proto.Pieces), err)
			}
			proto.Pieces = append(proto.Pieces, piece)
		case fieldModelTrainerSpec:
			if typ != protowire.BytesType {
				return wrongWireType("ModelProto.trainer_spec", typ)
			}
			if err := parseTrainerSpec(value, &proto.Trainer); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
			hasTrainer = true
		case fieldModelNormalizer:
			if typ != protowire.BytesType {
				return wrongWireType("ModelProto.normalizer_spec", typ)
			}
			if err := parseNormalizerSpec(value, &proto.Normalizer); err != nil {
				return fmt.Errorf("normalizer_spec: %w", err)
			}
			hasNormalizer = true
		case fieldModelDenormalizer:
			if typ != protowire.BytesType {
				return wrongWireType("ModelProto.denormalizer_spec", typ)
			}
			spec := defaultNormalizerSpec()
			if err := parseNormalizerSpec(value, &spec); err != nil {
				return fmt.Errorf("denormalizer_spec: %w", err)
			}
			proto.Denormalizer = &spec
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("malformed ModelProto: %w", err)
	}
	if len(proto.Pieces) == 0 {
		return nil, errors.New("malformed ModelProto: no pieces (not a SentencePiece model?)")
	}
	// Both specs are written by every trainer and follow the pieces, so a
	// file cut at a message boundary shows up as one of them missing.
	if !hasTrainer || !hasNormalizer {
		return nil, errors.New("malformed ModelProto: trainer_spec or normalizer_spec missing (truncated file?)")
	}
	return proto, nil
}

func defaultTrainerSpec() TrainerSpec {
	return TrainerSpec{
		ModelType:  ModelUnigram,
		VocabSize:  8000,
		UnkID:      0,
		BOSID:      1,
		EOSID:      2,
		PadID:      -1,
		UnkPiece:   "<unk>",
		BOSPiece:   "<s>",
		EOSPiece:   "</s>",
		PadPiece:   "<pad>",
		UnkSurface: defaultUnkSurface,
	}
}

func defaultNormalizerSpec() NormalizerSpec {
	return NormalizerSpec{
		AddDummyPrefix:         true,
		RemoveExtraWhitespaces: true,
		EscapeWhitespaces:      true,
	}
}

func parsePiece(data []byte) (ModelPiece, error) {
	piece := ModelPiece{Type: PieceNormal}
	err := walkFields(data, func(num protowire.Number, typ protowire.Type, value []byte, scalar uint64) error {
		switch num {
		case fieldPiecePiece:
			if typ != protowire.BytesType {
				return wrongWireType("SentencePiece.piece", typ)
			}
			if !utf8.Valid(value) { // a proto string; decoding would emit it verbatim
				return fmt.Errorf("piece %q is not valid UTF-8", value)
			}
			piece.Piece = string(value)
		case fieldPieceScore:
			if typ != protowire.Fixed32Type {
				return wrongWireType("SentencePiece.score", typ)
			}
			piece.Score = math.Float32frombits(uint32(scalar))
		case fieldPieceType:
			if typ != protowire.VarintType {
				return wrongWireType("SentencePiece.type", typ)
			}
			piece.Type = PieceType(int32(scalar))
			if piece.Type < PieceNormal || piece.Type > PieceByte {
				return fmt.Errorf("unknown piece type %d", piece.Type)
			}
		}
		return nil
	})
	return piece, err
}

func parseTrainerSpec(data []byte, spec *TrainerSpec) error {
	return walkFields(data, func(num protowire.Number, typ protowire.Type, value []byte, scalar uint64) error {
		// Scalars are varints; strings are length-delimited. Checking the
		// wire type keeps a garbled file from being read as plausible ids.
		wantVarint := func(name string) error {
			if typ != protowire.VarintType {
				return wrongWireType(name, typ)
			}
			return nil
		}
		wantBytes := func(name string) error { // every length-delimited field read here is a string
			if typ != protowire.BytesType {
				return wrongWireType(name, typ)
			}
			if !utf8.Valid(value) {
				return fmt.Errorf("%s %q is not valid UTF-8", name, value)
			}
			return nil
		}
		var err error
		switch num {
		case fieldTrainerModelType:
			if err = wantVarint("model_type"); err == nil {
				spec.ModelType = ModelType(int32(scalar))
			}
		case fieldTrainerVocabSize:
			if err = wantVarint("vocab_size"); err == nil {
				spec.VocabSize = int(int32(scalar))
			}
		case fieldTrainerTreatWSAsSuffix:
			if err = wantVarint("treat_whitespace_as_suffix"); err == nil {
				spec.TreatWhitespaceAsSuffix = scalar != 0
			}
		case fieldTrainerByteFallback:
			if err = wantVarint("byte_fallback"); err == nil {
				spec.ByteFallback = scalar != 0
			}
		case fieldTrainerUnkID:
			if err = wantVarint("unk_id"); err == nil {
				spec.UnkID = int(int32(scalar))
			}
		case fieldTrainerBOSID:
			if err = wantVarint("bos_id"); err == nil {
				spec.BOSID = int(int32(scalar))
			}
		case fieldTrainerEOSID:
			if err = wantVarint("eos_id"); err == nil {
				spec.EOSID = int(int32(scalar))
			}
		case fieldTrainerPadID:
			if err = wantVarint("pad_id"); err == nil {
				spec.PadID = int(int32(scalar))
			}
		case fieldTrainerUnkSurface:
			if err = wantBytes("unk_surface"); err == nil {
				spec.UnkSurface = string(value)
			}
		case fieldTrainerUnkPiece:
			if err = wantBytes("unk_piece"); err == nil {
				spec.UnkPiece = string(value)
			}
		case fieldTrainerBOSPiece:
			if err = wantBytes("bos_piece"); err == nil {
				spec.BOSPiece = string(value)
			}
		case fieldTrainerEOSPiece:
			if err = wantBytes("eos_piece"); err == nil {
				spec.EOSPiece = string(value)
			}
		case fieldTrainerPadPiece:
			if err = wantBytes("pad_piece"); err == nil {
				spec.PadPiece = string(value)
			}
		case fieldTrainerUserDefinedSymbols:
			if err = wantBytes("user_defined_symbols"); err == nil {
				spec.UserDefinedSymbols = append(spec.UserDefinedSymbols, string(value))
			}
		case fieldTrainerControlSymbols:
			if err = wantBytes("control_symbols"); err == nil {
				spec.ControlSymbols = append(spec.ControlSymbols, string(value))
			}
		}
		return err
	})
}

func parseNormalizerSpec(data []byte, spec *NormalizerSpec) error {
	return walkFields(data, func(num protowire.Number, typ protowire.Type, value []byte, scalar uint64) error {
		switch num {
		case fieldNormName, fieldNormPrecompiledCharsmap:
			if typ != protowire.BytesType {
				return wrongWireType("normalizer string field", typ)
			}
			if num == fieldNormName {
				spec.Name = string(value)
			} else {
				spec.PrecompiledCharsmap = append([]byte(nil), value...)
			}
		case fieldNormAddDummyPrefix, fieldNormRemoveExtraWhitespaces, fieldNormEscapeWhitespaces:
			if typ != protowire.VarintType {
				return wrongWireType("normalizer flag", typ)
			}
			flag := scalar != 0
			switch num {
			case fieldNormAddDummyPrefix:
				spec.AddDummyPrefix = flag
			case fieldNormRemoveExtraWhitespaces:
				spec.RemoveExtraWhitespaces = flag
			default:
				spec.EscapeWhitespaces = flag
			}
		}
		return nil
	})
}

// walkFields calls visit for every field of one protobuf message. For
// length-delimited fields value holds the payload; for varint and fixed
// fields scalar holds the number. Groups (unused by SentencePiece) are
// skipped. Any truncation or malformed tag is an error.
func walkFields(data []byte, visit func(num protowire.Number, typ protowire.Type, value []byte, scalar uint64) error) error {
	for offset := 0; offset < len(data); {
		num, typ, tagLen := protowire.ConsumeTag(data[offset:])
		if tagLen < 0 {
			return fmt.Errorf("bad field tag at byte %d: %w", offset, protowire.ParseError(tagLen))
		}
		offset += tagLen
		var (
			value    []byte
			scalar   uint64
			fieldLen int
		)
		switch typ {
		case protowire.VarintType:
			scalar, fieldLen = protowire.ConsumeVarint(data[offset:])
		case protowire.Fixed32Type:
			var v uint32
			v, fieldLen = protowire.ConsumeFixed32(data[offset:])
			scalar = uint64(v)
		case protowire.Fixed64Type:
			scalar, fieldLen = protowire.ConsumeFixed64(data[offset:])
		case protowire.BytesType:
			value, fieldLen = protowire.ConsumeBytes(data[offset:])
		default:
			fieldLen = protowire.ConsumeFieldValue(num, typ, data[offset:])
		}
		if fieldLen < 0 {
			return fmt.Errorf("field %d at byte %d: %w", num, offset, protowire.ParseError(fieldLen))
		}
		offset += fieldLen
		if typ == protowire.StartGroupType {
			continue
		}
		if err := visit(num, typ, value, scalar); err != nil {
			return err
		}
	}
	return nil
}

func wrongWireType(field string, typ protowire.Type) error {
	return fmt.Errorf("%s has unexpected wire type %d", field, typ)
}
