package tokenizers

import (
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HuggingFace is a Hugging Face `tokenizer.json` read natively: Unigram (T5)
// and BPE with byte fallback (Llama-2) models, plus WordLevel and WordPiece,
// with the SentencePiece-style normalizers, pre-tokenizers and decoders
// those files use. Ids equal those of Hugging Face's own `tokenizers`
// library, added tokens included (T5's <extra_id_N> and Llama-2's <s> are
// found in the input as Hugging Face finds them); a file with a component
// this package does not implement is refused at load time, naming the file
// and the component, rather than encoded differently. Encode adds no
// special tokens, matching the other tokenizers; the post-processor's
// BOS/EOS templates are not applied. It is safe for concurrent use.
type HuggingFace struct {
	path         string
	model        hfModel
	normalizer   hfNormalizer   // nil: none
	preTokenizer hfPreTokenizer // nil: none
	decoder      hfDecoder      // nil: tokens joined by spaces

	addedByID     map[int]string // id → token string, normalised for normalized tokens
	addedIDs      map[string]int // token content → id
	specialTokens map[string]bool
	rawTokens     *addedTokenMatcher // tokens found in the raw input
	normTokens    *addedTokenMatcher // tokens found in the normalised input
	vocabSize     int

	pad, eos, unk, bos int
}

// Candidate spellings of special tokens, in preference order. tokenizer.json
// has no field naming the pad or eos token (that lives in
// tokenizer_config.json), so the conventional names are looked up instead.
var (
	hfPadNames = []string{"<pad>", "[PAD]", "<|pad|>", "<|padding|>"}
	hfEOSNames = []string{"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "[SEP]"}
	hfUNKNames = []string{"<unk>", "[UNK]", "<|unk|>"}
	hfBOSNames = []string{"<s>", "<|begin_of_text|>", "<bos>", "[CLS]"}
)

// LoadHuggingFace reads a tokenizer.json. Errors name the file and, for a
// malformed or unsupported section, the section.
func LoadHuggingFace(path string) (*HuggingFace, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json %s: %w", path, err)
	}
	hf, err := parseHuggingFace(content)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json %s: %w", path, err)
	}
	hf.path = path
	return hf, nil
}

func (hf *HuggingFace) setAddedTokens(tokens []hfAddedToken) error {
	hf.addedByID = make(map[int]string, len(tokens))
	hf.addedIDs = make(map[string]int, len(tokens))
	hf.specialTokens = make(map[string]bool)
	var raw, normalized []hfAddedToken
	for _, token := range tokens {
		if token.ID < 0 || token.ID >= maxHFVocabID {
			return fmt.Errorf("added token %q has id %d (want 0 ≤ id < %d)", token.Content, token.ID, maxHFVocabID)
		}
		if token.Content == "" {
			continue
		}
		// Like Hugging Face, a normalized token's id maps back to its
		// normalised content (Llama-2's <s> decodes as "▁<s>", so it
		// survives skipping special tokens, whose set holds contents).
		hf.addedByID[token.ID] = token.Content
		if token.Normalized && hf.normalizer != nil {
			hf.addedByID[token.ID] = hf.normalizer.apply(token.Content)
		}
		hf.addedIDs[token.Content] = token.ID
		if token.Special {
			hf.specialTokens[token.Content] = true
		}
		if token.Normalized {
			normalized = append(normalized, token)
		} else {
			raw = append(raw, token)
		}
	}
	hf.rawTokens = newAddedTokenMatcher(raw, nil)
	hf.normTokens = newAddedTokenMatcher(normalized, hf.normalizer)
	hf.vocabSize = hf.model.vocabSize()
	for id := range hf.addedByID {
		hf.vocabSize = max(hf.vocabSize, id+1)
	}
	hf.pad = hf.firstKnown(hfPadNames)
	hf.eos = hf.firstKnown(hfEOSNames)
	hf.unk = hf.firstKnown(hfUNKNames)
	hf.bos = hf.firstKnown(hfBOSNames)
	return nil
}

func (hf *HuggingFace) firstKnown(names []string) int {
	for _, name := range names {
		if id := hf.PieceID(name); id >= 0 {
			return id
		}
	}
	return -1
}

// Path is the tokenizer.json this was loaded from.
func (hf *HuggingFace) Path() string { return hf.path }

// EncodeChecked returns the ids for text (no special tokens added), or an
// error when the file's model cannot encode it (a character outside a
// vocabulary that has no unknown token). Invalid UTF-8 is replaced by U+FFFD
// first: Hugging Face tokenizers only ever see valid strings.
func (hf *HuggingFace) EncodeChecked(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, replacementChar)
	var pieces []hfSplit
	for _, split := range hf.rawTokens.split(text, true) {
		if split.id >= 0 {
			pieces = append(pieces, split)
			continue
		}
		normalized := split.text
		if hf.normalizer != nil {
			normalized = hf.normalizer.apply(normalized)
		}
		pieces = append(pieces, hf.normTokens.split(normalized, split.atStart)...)
	}
	if hf.preTokenizer != nil {
		pieces = hf.preTokenizer.apply(pieces)
	}
	ids := make([]int, 0, len(text)/2)
	for _, piece := range pieces {
		if piece.id >= 0 {
			ids = append(ids, piece.id)
			continue
		}
		wordIDs, err := hf.model.tokenize(piece.text)
		if err != nil {
			return nil, fmt.Errorf("tokenizer.json %s: encoding %q: %w", hf.path, text, err)
		}
		ids = append(ids, wordIDs...)
	}
	return ids, nil
}

// Encode returns the ids for text. The Tokenizer interface has no error
// result, and silently dropping text would corrupt training data, so a text
// the model cannot encode (only possible with a vocabulary that has neither
// an unknown token nor byte fallback, unlike T5's and Llama-2's) panics
// with the error; use EncodeChecked to handle it.
func (hf *HuggingFace) Encode(text string) []int {
	ids, err := hf.EncodeChecked(text)
	if err != nil {
		panic(err)
	}
	return ids
}

// Decode turns ids into text with the file's decoder, dropping special
// tokens and ids that name no token.
func (hf *HuggingFace) Decode(ids []int) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		token, ok := hf.idToToken(id)
		if !ok || hf.specialTokens[token] {
			continue
		}
		tokens = append(tokens, token)
	}
	if hf.decoder == nil {
		return strings.Join(tokens, " ")
	}
	return strings.Join(hf.decoder.apply(tokens), "")
}

func (hf *HuggingFace) idToToken(id int) (string, bool) {
	if token, ok := hf.addedByID[id]; ok {
		return token, true
	}
	return hf.model.idToToken(id)
}

// VocabSize is one more than the largest id of the model or the added tokens.
func (hf *HuggingFace) VocabSize() int { return hf.vocabSize }

// PieceID returns the id of a token, or -1 when it is unknown.
func (hf *HuggingFace) PieceID(piece string) int {
	if id, ok := hf.addedIDs[piece]; ok {
		return id
	}
	if id, ok := hf.model.tokenToID(piece); ok {
		return id
	}
	return -1
}

// IDToPiece returns the token for id, or "" when there is none.
func (hf *HuggingFace) IDToPiece(id int) string {
	token, _ := hf.idToToken(id)
	return token
}

// Pad is the id of the first conventional pad token found, or -1.
func (hf *HuggingFace) Pad() int { return hf.pad }

// EOS is the id of the first conventional end-of-sequence token found, or -1.
func (hf *HuggingFace) EOS() int { return hf.eos }

// UNK is the id of the first conventional unknown token found, or -1.
func (hf *HuggingFace) UNK() int { return hf.unk }

// BOS is the id of the first conventional beginning-of-sequence token found, or -1.
func (hf *HuggingFace) BOS() int { return hf.bos }

// addedTokenMatcher finds added tokens in text the way Hugging Face does:
// leftmost-longest matches of the tokens' contents (normalised contents for
// normalized tokens), honouring single_word, lstrip and rstrip.
type addedTokenMatcher struct {
	trie   *pieceTrie
	tokens []hfAddedToken // by trie value
}

func newAddedTokenMatcher(tokens []hfAddedToken, normalizer hfNormalizer) *addedTokenMatcher {
	m := &addedTokenMatcher{}
	builder := newPieceTrieBuilder()
	for _, token := range tokens {
		pattern := token.Content
		if normalizer != nil {
			pattern = normalizer.apply(pattern)
		}
		builder.insert(pattern, len(m.tokens))
		m.tokens = append(m.tokens, token)
	}
	if len(m.tokens) > 0 {
		m.trie = builder.freeze()
	}
	return m
}

// split cuts text into added tokens (id set) and the text between them
// (id -1), leaving out empty pieces.
func (m *addedTokenMatcher) split(text string, atStart bool) []hfSplit {
	if m.trie == nil {
		if text == "" {
			return nil
		}
		return []hfSplit{{text: text, id: -1, atStart: atStart}}
	}
	var out []hfSplit
	emitted := 0 // text[:emitted] is already in out
	for pos := 0; pos < len(text); {
		length, index := m.trie.longestPrefix(text[pos:])
		if index < 0 {
			pos++
			continue
		}
		token := m.tokens[index]
		start, stop := pos, pos+length
		pos = stop // the search goes on after the match even when it is not used
		if token.SingleWord && (endsWithWordChar(text[:start]) || startsWithWordChar(text[stop:])) {
			continue
		}
		if token.LStrip {
			start = max(emitted, len(strings.TrimRightFunc(text[:start], unicode.IsSpace)))
		}
		if token.RStrip {
			stop = len(text) - len(strings.TrimLeftFunc(text[stop:], unicode.IsSpace))
			pos = stop
		}
		if emitted < start {
			out = append(out, hfSplit{text: text[emitted:start], id: -1, atStart: atStart && emitted == 0})
		}
		out = append(out, hfSplit{text: text[start:stop], id: token.ID})
		emitted = stop
	}
	if emitted < len(text) {
		out = append(out, hfSplit{text: text[emitted:], id: -1, atStart: atStart && emitted == 0})
	}
	return out
}

func endsWithWordChar(s string) bool {
	r, size := utf8.DecodeLastRuneInString(s)
	return size > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

func startsWithWordChar(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return size > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}
