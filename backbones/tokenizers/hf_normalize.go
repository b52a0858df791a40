package tokenizers

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// The normalizers and pre-tokenizers of a tokenizer.json, each written to
// give the same strings as Hugging Face's `tokenizers` (Rust). Offsets are
// not tracked: Encode returns ids only.

// hfNormalizer rewrites one piece of input text.
type hfNormalizer = hfStep[string]

// hfPrepend adds a prefix to non-empty text (Llama-2 prepends "▁").
type hfPrepend string

func (p hfPrepend) apply(text string) string {
	if text == "" {
		return ""
	}
	return string(p) + text
}

// hfReplace replaces every occurrence of a literal string.
type hfReplace struct{ pattern, content string }

func (r hfReplace) apply(text string) string {
	return strings.ReplaceAll(text, r.pattern, r.content)
}

// hfLowercase is Rust's str::to_lowercase for the cases Go's differs on
// (İ lowercases to "i̇"; Go's ToLower gives "i").
type hfLowercase struct{}

func (hfLowercase) apply(text string) string {
	return strings.ToLower(strings.ReplaceAll(text, "\u0130", "i\u0307"))
}

// hfUnicodeForm is one of the NFC, NFD, NFKC, NFKD normalizers.
type hfUnicodeForm struct{ form norm.Form }

func (u hfUnicodeForm) apply(text string) string { return u.form.String(text) }

// hfStrip removes White_Space characters at either end.
type hfStrip struct{ left, right bool }

func (s hfStrip) apply(text string) string {
	if s.left {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
	}
	if s.right {
		text = strings.TrimRightFunc(text, unicode.IsSpace)
	}
	return text
}

// hfPrecompiled is the Precompiled normalizer: SentencePiece's charsmap rules
// applied the way Hugging Face applies them, which is not SentencePiece's
// way. Text is walked by extended grapheme cluster; a cluster shorter than
// 6 bytes whose beginning matches a rule is replaced as a whole by that rule's
// output (so "Ａ\u0301" becomes "A", the accent dropped), and otherwise each
// character is replaced by its own rule or kept. Where several rules match
// the beginning, the shortest wins. Both quirks change T5 ids, so they are
// reproduced on purpose.
type hfPrecompiled struct {
	trie    []uint32 // darts-clone double array, as in Normalizer
	targets string   // NUL-terminated replacement strings
}

func newHFPrecompiled(blob []byte) (*hfPrecompiled, error) {
	if len(blob) == 0 {
		return &hfPrecompiled{}, nil
	}
	if len(blob) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap is %d bytes, too short for its header", len(blob))
	}
	trieSize := binary.LittleEndian.Uint32(blob)
	if uint64(trieSize) > uint64(len(blob)-4) || trieSize%4 != 0 || trieSize == 0 {
		return nil, fmt.Errorf("precompiled_charsmap declares a %d-byte trie in a %d-byte blob", trieSize, len(blob))
	}
	p := &hfPrecompiled{trie: make([]uint32, trieSize/4), targets: string(blob[4+trieSize:])}
	if !utf8.ValidString(p.targets) { // Hugging Face refuses such a charsmap too
		return nil, fmt.Errorf("precompiled_charsmap replacements are not valid UTF-8")
	}
	for i := range p.trie {
		p.trie[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	return p, nil
}

// transform returns the output of the shortest rule matching a prefix of
// chunk. A NUL byte ends the search, as in Hugging Face's trie.
func (p *hfPrecompiled) transform(chunk string) (string, bool) {
	units := p.trie
	if len(units) == 0 {
		return "", false
	}
	pos := dartsOffset(units[0])
	for i := 0; i < len(chunk); i++ {
		c := uint32(chunk[i])
		if c == 0 {
			return "", false
		}
		pos ^= c
		if int(pos) >= len(units) {
			return "", false
		}
		unit := units[pos]
		if dartsLabel(unit) != c {
			return "", false
		}
		pos ^= dartsOffset(unit)
		if dartsHasLeaf(unit) {
			if int(pos) >= len(units) {
				return "", false
			}
			value := int(dartsValue(units[pos]))
			if value >= len(p.targets) {
				return "", true
			}
			target := p.targets[value:]
			if end := strings.IndexByte(target, 0); end >= 0 {
				target = target[:end]
			}
			return target, true
		}
	}
	return "", false
}

func (p *hfPrecompiled) apply(text string) string {
	if len(p.trie) == 0 {
		return text
	}
	var out strings.Builder
	out.Grow(len(text))
	state := -1
	for rest := text; rest != ""; {
		var cluster string
		cluster, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if len(cluster) < 6 {
			if replacement, ok := p.transform(cluster); ok {
				out.WriteString(replacement)
				continue
			}
		}
		for i, r := range cluster {
			char := cluster[i : i+utf8.RuneLen(r)]
			if replacement, ok := p.transform(char); ok {
				out.WriteString(replacement)
			} else {
				out.WriteString(char)
			}
		}
	}
	return out.String()
}

// hfSplit is one piece of the input on its way to the model: text still to
// be tokenised, or an added token already found (id >= 0). atStart records
// whether the piece begins at the start of the input, which Metaspace's
// "first" prepend scheme asks.
type hfSplit struct {
	text    string
	id      int
	atStart bool
}

// hfPreTokenizer cuts the pieces still to be tokenised into words; added
// tokens pass through untouched (and still count as pieces, as in Hugging
// Face, where the "first" scheme looks at the input offset).
type hfPreTokenizer = hfStep[[]hfSplit]

// eachText applies cut to every piece still to be tokenised, dropping the
// empty pieces it returns, as Hugging Face does.
func eachText(splits []hfSplit, cut func(hfSplit) []hfSplit) []hfSplit {
	out := make([]hfSplit, 0, len(splits))
	for _, s := range splits {
		if s.id >= 0 {
			out = append(out, s)
			continue
		}
		for _, piece := range cut(s) {
			if piece.text != "" {
				out = append(out, piece)
			}
		}
	}
	return out
}

// hfWhitespaceSplit splits on White_Space characters (Rust's
// char::is_whitespace, Go's unicode.IsSpace) and drops them.
type hfWhitespaceSplit struct{}

func (hfWhitespaceSplit) apply(splits []hfSplit) []hfSplit {
	return eachText(splits, func(s hfSplit) []hfSplit {
		var words []hfSplit
		start := -1
		for i, r := range s.text {
			if unicode.IsSpace(r) {
				if start >= 0 {
					words = append(words, hfSplit{text: s.text[start:i], id: -1, atStart: s.atStart && start == 0})
					start = -1
				}
			} else if start < 0 {
				start = i
			}
		}
		if start >= 0 {
			words = append(words, hfSplit{text: s.text[start:], id: -1, atStart: s.atStart && start == 0})
		}
		return words
	})
}

// hfWhitespace is the Whitespace pre-tokenizer, the regular expression
// \w+|[^\w\s]+ with Unicode classes: runs of word characters and runs of
// other non-space characters.
type hfWhitespace struct{}

// isWordChar is the Unicode \w of Rust's regex crate: Alphabetic, marks,
// decimal digits, connector punctuation and the joiners.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == '\u200c' || r == '\u200d'
}

func (hfWhitespace) apply(splits []hfSplit) []hfSplit {
	return eachText(splits, func(s hfSplit) []hfSplit {
		const (
			space = iota
			word
			other
		)
		class := func(r rune) int {
			switch {
			case isWordChar(r):
				return word
			case unicode.IsSpace(r):
				return space
			}
			return other
		}
		var words []hfSplit
		start, current := 0, space
		for i, r := range s.text {
			c := class(r)
			if c == current {
				continue
			}
			if current != space {
				words = append(words, hfSplit{text: s.text[start:i], id: -1, atStart: s.atStart && start == 0})
			}
			start, current = i, c
		}
		if current != space {
			words = append(words, hfSplit{text: s.text[start:], id: -1, atStart: s.atStart && start == 0})
		}
		return words
	})
}

// hfMetaspace replaces spaces with the replacement character (U+2581),
// prepends one to a piece that lacks it (always, or only at the start of the
// input), and, when split is set, cuts before every replacement character.
type hfMetaspace struct {
	replacement string
	prepend     metaspacePrepend
	split       bool
}

func (m hfMetaspace) apply(splits []hfSplit) []hfSplit {
	return eachText(splits, func(s hfSplit) []hfSplit {
		text := strings.ReplaceAll(s.text, " ", m.replacement)
		if text != "" && !strings.HasPrefix(text, m.replacement) &&
			(m.prepend == prependAlways || (m.prepend == prependFirst && s.atStart)) {
			text = m.replacement + text
		}
		if !m.split {
			return []hfSplit{{text: text, id: -1, atStart: s.atStart}}
		}
		var pieces []hfSplit
		start := 0
		for offset := 0; ; {
			found := strings.Index(text[offset:], m.replacement)
			if found < 0 {
				break
			}
			cut := offset + found
			if cut > start {
				pieces = append(pieces, hfSplit{text: text[start:cut], id: -1, atStart: s.atStart && start == 0})
				start = cut
			}
			offset = cut + len(m.replacement)
		}
		pieces = append(pieces, hfSplit{text: text[start:], id: -1, atStart: s.atStart && start == 0})
		return pieces
	})
}
