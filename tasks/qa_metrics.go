package tasks

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SQuAD v1.1's official evaluation (evaluate-v1.1.py), also used by ReCoRD: answers are
// normalised (lower case, ASCII punctuation removed, the articles a / an / the removed as
// whole words, white space collapsed), then compared exactly (EM) or by bag-of-tokens F1,
// taking the best over the gold answers.

// asciiPunctuation is Python's string.punctuation.
const asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// NormalizeAnswer applies the official SQuAD normalisation.
func NormalizeAnswer(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && strings.ContainsRune(asciiPunctuation, r) {
			return -1
		}
		return r
	}, s)
	s = removeArticles(s)
	return strings.Join(strings.Fields(s), " ")
}

// removeArticles replaces whole-word a / an / the with a space, as the official
// re.sub(r'\b(a|an|the)\b', ' ', text) with Python's Unicode word characters.
func removeArticles(s string) string {
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := 0
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		if i == 0 || !isWord(prev) {
			for _, art := range []string{"the", "an", "a"} {
				if strings.HasPrefix(s[i:], art) {
					next, _ := utf8.DecodeRuneInString(s[i+len(art):])
					if i+len(art) == len(s) || !isWord(next) {
						matched = len(art)
						break
					}
				}
			}
		}
		if matched > 0 {
			b.WriteByte(' ')
			i += matched
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

// AnswerExactMatch is 1 when the normalised prediction equals a normalised gold answer.
func AnswerExactMatch(pred string, golds []string) float64 {
	p := NormalizeAnswer(pred)
	for _, g := range golds {
		if p == NormalizeAnswer(g) {
			return 1
		}
	}
	return 0
}

// AnswerF1 is the best token-overlap F1 of the prediction against the gold answers.
func AnswerF1(pred string, golds []string) float64 {
	best := 0.0
	pt := strings.Fields(NormalizeAnswer(pred))
	for _, g := range golds {
		if f := tokenF1(pt, strings.Fields(NormalizeAnswer(g))); f > best {
			best = f
		}
	}
	return best
}

func tokenF1(pred, gold []string) float64 {
	counts := map[string]int{}
	for _, t := range gold {
		counts[t]++
	}
	same := 0
	for _, t := range pred {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	precision := float64(same) / float64(len(pred))
	recall := float64(same) / float64(len(gold))
	return 2 * precision * recall / (precision + recall)
}
