package tokenizers

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, which SentencePiece uses in
// place of ' ' so that whitespace is an ordinary, visible piece character.
const spaceSymbol = "\u2581"

// replacementChar is what a malformed UTF-8 byte normalises to.
const replacementChar = "\uFFFD"

// Normalizer reproduces SentencePiece's normalizer.cc: rule-based
// replacement from the precompiled charsmap (longest match wins), user
// defined symbols passed through untouched, optional collapsing of runs of
// spaces, a dummy-prefix space, and escaping ' ' to U+2581. Exact agreement
// with the reference matters because the ids a backbone was trained on
// depend on every one of these steps.
type Normalizer struct {
	spec                    NormalizerSpec
	treatWhitespaceAsSuffix bool

	// charsmapTrie is a darts-clone double array; a leaf value is an offset
	// into charsmapTargets, where the replacement is stored NUL-terminated.
	charsmapTrie    []uint32
	charsmapTargets string

	// userDefined, when set, matches user-defined symbols, which must reach
	// the encoder verbatim so they can be found as whole pieces.
	userDefined *pieceTrie
}

// NewNormalizer builds a normalizer from a spec. It fails on a charsmap
// whose header does not fit the blob, which is how truncation shows up.
func NewNormalizer(spec NormalizerSpec, treatWhitespaceAsSuffix bool) (*Normalizer, error) {
	n := &Normalizer{spec: spec, treatWhitespaceAsSuffix: treatWhitespaceAsSuffix}
	if len(spec.PrecompiledCharsmap) == 0 {
		return n, nil // identity normalisation, e.g. Llama-2
	}
	blob := spec.PrecompiledCharsmap
	if len(blob) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap is %d bytes, too short for its header", len(blob))
	}
	trieSize := binary.LittleEndian.Uint32(blob)
	if uint64(trieSize) > uint64(len(blob)-4) || trieSize%4 != 0 || trieSize == 0 {
		return nil, fmt.Errorf("precompiled_charsmap declares a %d-byte trie in a %d-byte blob", trieSize, len(blob))
	}
	units := make([]uint32, trieSize/4)
	for i := range units {
		units[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	n.charsmapTrie = units
	n.charsmapTargets = string(blob[4+trieSize:])
	return n, nil
}

// setUserDefinedSymbols makes user-defined pieces bypass normalisation.
func (n *Normalizer) setUserDefinedSymbols(matcher *pieceTrie) { n.userDefined = matcher }

// Darts-clone unit layout (one uint32 per unit): bits 0-7 label, bit 8
// "has leaf", bit 9 selects an offset shift of 8, bits 10-31 the offset;
// a leaf unit's low 31 bits are its value.
func dartsHasLeaf(unit uint32) bool  { return (unit>>8)&1 == 1 }
func dartsValue(unit uint32) uint32  { return unit & (1<<31 - 1) }
func dartsLabel(unit uint32) uint32  { return unit & (1<<31 | 0xFF) }
func dartsOffset(unit uint32) uint32 { return (unit >> 10) << ((unit & (1 << 9)) >> 6) }

// longestCharsmapMatch walks the double array along input and returns the
// longest rule that matches a prefix of it. Out-of-range positions, which
// only a corrupt charsmap produces, end the walk instead of panicking.
func (n *Normalizer) longestCharsmapMatch(input string) (length int, value uint32) {
	units := n.charsmapTrie
	pos := dartsOffset(units[0])
	for i := 0; i < len(input); i++ {
		c := uint32(input[i])
		pos ^= c
		if int(pos) >= len(units) {
			break
		}
		unit := units[pos]
		if dartsLabel(unit) != c {
			break
		}
		pos ^= dartsOffset(unit)
		if dartsHasLeaf(unit) {
			if int(pos) >= len(units) {
				break
			}
			length, value = i+1, dartsValue(units[pos])
		}
	}
	return length, value
}

// normalizePrefix returns the replacement for the first unit of input and
// how many input bytes it consumed: a user-defined symbol verbatim, the
// longest charsmap rule, U+FFFD for one malformed byte, or one character
// unchanged.
func (n *Normalizer) normalizePrefix(input string) (replacement string, consumed int) {
	if input == "" {
		return "", 0
	}
	if n.userDefined != nil {
		if length, id := n.userDefined.longestPrefix(input); id >= 0 {
			return input[:length], length
		}
	}
	if n.charsmapTrie != nil {
		if length, value := n.longestCharsmapMatch(input); length > 0 {
			target := ""
			if int(value) < len(n.charsmapTargets) {
				target = n.charsmapTargets[value:]
				if end := strings.IndexByte(target, 0); end >= 0 {
					target = target[:end]
				}
			}
			return target, length
		}
	}
	r, size := utf8.DecodeRuneInString(input)
	if r == utf8.RuneError && size <= 1 {
		return replacementChar, 1
	}
	return input[:size], size
}

// Normalize returns text as the encoder sees it (spaces escaped to U+2581
// when the spec asks for it).
func (n *Normalizer) Normalize(input string) string {
	if input == "" {
		return ""
	}
	removeExtra := n.spec.RemoveExtraWhitespaces
	if removeExtra {
		for input != "" {
			replacement, consumed := n.normalizePrefix(input)
			if replacement != " " {
				break
			}
			input = input[consumed:]
		}
	}
	if input == "" {
		return ""
	}

	var out strings.Builder
	out.Grow(len(input) * 3 / 2)
	whitespace := " "
	if n.spec.EscapeWhitespaces {
		whitespace = spaceSymbol
	}
	if !n.treatWhitespaceAsSuffix && n.spec.AddDummyPrefix {
		out.WriteString(whitespace)
	}

	prevWasSpace := removeExtra
	for input != "" {
		replacement, consumed := n.normalizePrefix(input)
		if prevWasSpace {
			replacement = strings.TrimLeft(replacement, " ")
		}
		if replacement != "" {
			if n.spec.EscapeWhitespaces {
				writeEscapingSpaces(&out, replacement)
			} else {
				out.WriteString(replacement)
			}
			prevWasSpace = replacement[len(replacement)-1] == ' '
		}
		input = input[consumed:]
		if !removeExtra {
			prevWasSpace = false
		}
	}

	normalized := out.String()
	if removeExtra {
		for strings.HasSuffix(normalized, whitespace) {
			normalized = normalized[:len(normalized)-len(whitespace)]
		}
	}
	if n.treatWhitespaceAsSuffix && n.spec.AddDummyPrefix {
		normalized += whitespace
	}
	return normalized
}

func writeEscapingSpaces(out *strings.Builder, s string) {
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out.WriteString(s)
			return
		}
		out.WriteString(s[:i])
		out.WriteString(spaceSymbol)
		s = s[i+1:]
	}
}
