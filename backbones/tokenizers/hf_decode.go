package tokenizers

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The decoders of a tokenizer.json: each rewrites the list of token strings,
// and the result is concatenated. Without a decoder Hugging Face joins the
// tokens with spaces.

type hfDecoder = hfStep[[]string]

// hfMetaspaceDecoder turns the replacement character back into spaces and
// drops the one that Metaspace prepended to the first token.
type hfMetaspaceDecoder struct {
	replacement rune
	prepend     metaspacePrepend
}

func (d hfMetaspaceDecoder) apply(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, token := range tokens {
		decoded := strings.ReplaceAll(token, string(d.replacement), " ")
		if i == 0 && d.prepend != prependNever && strings.HasPrefix(token, string(d.replacement)) {
			decoded = decoded[1:] // the space that replaced it is one byte
		}
		out[i] = decoded
	}
	return out
}

// hfReplaceDecoder replaces a literal string in every token.
type hfReplaceDecoder struct{ pattern, content string }

func (d hfReplaceDecoder) apply(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, token := range tokens {
		out[i] = strings.ReplaceAll(token, d.pattern, d.content)
	}
	return out
}

// hfByteFallbackDecoder joins runs of <0xNN> tokens into the text their bytes
// spell; a run that is not valid UTF-8 becomes one U+FFFD per byte.
type hfByteFallbackDecoder struct{}

func (hfByteFallbackDecoder) apply(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, replacementChar)
			}
		}
		pending = pending[:0]
	}
	for _, token := range tokens {
		if b, ok := parseBytePiece(token); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, token)
	}
	flush()
	return out
}

// hfFuseDecoder concatenates all tokens into one.
type hfFuseDecoder struct{}

func (hfFuseDecoder) apply(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

// hfStripDecoder removes up to start copies of a character from the start of
// every token and up to stop from its end. Like Hugging Face, it keeps
// (byte length − cuts) characters after the start cut, which for tokens with
// multi-byte characters can keep some of the end.
type hfStripDecoder struct {
	content     rune
	start, stop int
}

func (d hfStripDecoder) apply(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, token := range tokens {
		runes := []rune(token)
		startCut := 0
		for startCut < len(runes) && startCut < d.start && runes[startCut] == d.content {
			startCut++
		}
		stopCut := 0
		for stopCut < len(runes) && stopCut < d.stop && runes[len(runes)-1-stopCut] == d.content {
			stopCut++
		}
		keep := max(0, min(len(token)-startCut-stopCut, len(runes)-startCut))
		out[i] = string(runes[startCut : startCut+keep])
	}
	return out
}

// hfWordPieceDecoder glues continuation pieces to the previous one and puts
// spaces before the others, optionally cleaning up spaces before
// punctuation and contractions.
type hfWordPieceDecoder struct {
	prefix  string
	cleanup bool
}

func (d hfWordPieceDecoder) apply(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, token := range tokens {
		if i > 0 {
			if trimmed, ok := strings.CutPrefix(token, d.prefix); ok {
				token = trimmed
			} else {
				token = " " + token
			}
		}
		if d.cleanup {
			token = cleanupTokenization(token)
		}
		out[i] = token
	}
	return out
}

// cleanupTokenization is Hugging Face's clean_up_tokenization.
func cleanupTokenization(s string) string {
	return strings.NewReplacer(
		" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't",
		" 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re",
	).Replace(s)
}

// newHFDecoder builds one decoder other than a Sequence (buildStep builds those).
func newHFDecoder(c *hfComponent, section string) (hfDecoder, error) {
	switch c.Type {
	case "Metaspace":
		replacement, prepend, err := c.metaspaceArgs(section)
		if err != nil {
			return nil, err
		}
		return hfMetaspaceDecoder{replacement: replacement, prepend: prepend}, nil
	case "Replace":
		pattern, content, err := c.replaceArgs(section)
		if err != nil {
			return nil, err
		}
		return hfReplaceDecoder{pattern: pattern, content: content}, nil
	case "ByteFallback":
		return hfByteFallbackDecoder{}, nil
	case "Fuse":
		return hfFuseDecoder{}, nil
	case "Strip":
		content := []rune(" ")
		if c.Content != nil {
			content = []rune(*c.Content)
		}
		if len(content) != 1 || c.Start < 0 || c.Stop < 0 {
			return nil, fmt.Errorf("%s Strip: want one character and non-negative start/stop", section)
		}
		return hfStripDecoder{content: content[0], start: c.Start, stop: c.Stop}, nil
	case "WordPiece":
		d := hfWordPieceDecoder{prefix: "##", cleanup: true}
		if c.Prefix != nil {
			d.prefix = *c.Prefix
		}
		if c.Cleanup != nil {
			d.cleanup = *c.Cleanup
		}
		return d, nil
	}
	return nil, unsupported(section, c.Type)
}
