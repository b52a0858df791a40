package tasks

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WSC marks the candidate noun phrase with * and the pronoun with # inside the text, the way
// T5's WSC preprocessor (and the ATTEMPT / DePT code built on it) does: the marks are
// separate words, "# He # told * Pete * …", and a span that ends inside a word ends its
// mark there too: "him," becomes "# him #,".
//
// The official span indices count words of text.split(" "). They are sometimes off: the
// span's case differs from the text ("The table" for "the table"), the index is one word
// early (val idx 42), the span text has a newline where the text has a space. T5's regex
// then silently leaves the example unmarked. Here the span is matched case-insensitively,
// white space normalised, at its index first and otherwise at the nearest word position;
// a span found nowhere is an error.

type wscSpan struct {
	index int
	text  string
	mark  string
}

// located is a span found in the word list: words [start, end), where the last word's
// first head bytes belong to the span and the rest (punctuation) follows the mark.
type located struct {
	start, end, head int
}

func markWSCSpans(text string, spans ...wscSpan) (string, error) {
	words := strings.Split(text, " ")
	locs := make([]located, len(spans))
	for i, s := range spans {
		l, ok := locateSpan(words, s.index, s.text)
		if !ok {
			return "", fmt.Errorf("span %q (word %d) not found in the text", s.text, s.index)
		}
		locs[i] = l
	}
	// Spans may nest (val idx 95: pronoun "their" inside "their mothers"); marks then
	// nest too, "* # their # mothers *". Partly overlapping spans have no such reading.
	for i := range locs {
		for j := i + 1; j < len(locs); j++ {
			a, b := locs[i], locs[j]
			overlap := a.start < b.end && b.start < a.end
			nested := (a.start <= b.start && b.end <= a.end) || (b.start <= a.start && a.end <= b.end)
			if overlap && (!nested || (a.end == b.end && a.head != b.head)) {
				return "", fmt.Errorf("spans %q and %q overlap", spans[i].text, spans[j].text)
			}
		}
	}
	// Visit spans outer first for opening marks, inner first for closing ones.
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		return locs[order[x]].end-locs[order[x]].start > locs[order[y]].end-locs[order[y]].start
	})
	out := make([]string, 0, len(words)+2*len(spans))
	for w, orig := range words {
		word := orig
		for _, i := range order {
			if locs[i].start == w {
				out = append(out, spans[i].mark)
			}
		}
		var closing []string
		tail := ""
		for k := len(order) - 1; k >= 0; k-- {
			if i := order[k]; locs[i].end-1 == w {
				closing = append(closing, spans[i].mark)
				word, tail = orig[:locs[i].head], orig[locs[i].head:]
			}
		}
		out = append(out, word)
		if len(closing) > 0 {
			closing[len(closing)-1] += tail
			out = append(out, closing...)
		}
	}
	return strings.Join(out, " "), nil
}

// locateSpan looks for the span at index, then at index±1, ±2, … .
func locateSpan(words []string, index int, span string) (located, bool) {
	want := strings.Fields(span)
	if len(want) == 0 {
		return located{}, false
	}
	for d := 0; d < len(words); d++ {
		for _, at := range []int{index - d, index + d} {
			if l, ok := spanAt(words, at, want); ok {
				return l, true
			}
			if d == 0 {
				break
			}
		}
	}
	return located{}, false
}

// spanAt reports whether the words from at on spell want, case-insensitively; the last word
// may continue with characters that are not letters or digits ("him," for "him").
func spanAt(words []string, at int, want []string) (located, bool) {
	n := len(want)
	if at < 0 || at+n > len(words) {
		return located{}, false
	}
	for k := 0; k < n-1; k++ {
		if !strings.EqualFold(words[at+k], want[k]) {
			return located{}, false
		}
	}
	last, wantLast := words[at+n-1], want[n-1]
	if len(last) < len(wantLast) || !strings.EqualFold(last[:len(wantLast)], wantLast) {
		return located{}, false
	}
	if rest := last[len(wantLast):]; rest != "" {
		r, _ := utf8.DecodeRuneInString(rest)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return located{}, false
		}
	}
	return located{start: at, end: at + n, head: len(wantLast)}, true
}
