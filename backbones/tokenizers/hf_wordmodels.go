package tokenizers

import (
	"fmt"
	"unicode/utf8"
)

// hfWordLevel maps each word to its id, or to the unknown token.
type hfWordLevel struct {
	*hfVocab
	unkToken string
}

func newHFWordLevel(cfg *hfModelConfig) (*hfWordLevel, error) {
	vocab, err := readVocabMap(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	m := &hfWordLevel{hfVocab: vocab, unkToken: "<unk>"}
	if cfg.UnkToken != nil {
		m.unkToken = *cfg.UnkToken
	}
	return m, nil
}

func (m *hfWordLevel) tokenize(word string) ([]int, error) {
	if id, ok := m.ids[word]; ok {
		return []int{id}, nil
	}
	if id, ok := m.ids[m.unkToken]; ok {
		return []int{id}, nil
	}
	return nil, fmt.Errorf("WordLevel: %q is not in the vocabulary, nor is the unk_token %q", word, m.unkToken)
}

// hfWordPiece splits a word greedily into the longest vocabulary prefixes,
// pieces after the first spelled with the continuing-subword prefix; a word
// that cannot be covered, or is too long, is the unknown token.
type hfWordPiece struct {
	*hfVocab
	unkToken string
	prefix   string
	maxChars int
}

func newHFWordPiece(cfg *hfModelConfig) (*hfWordPiece, error) {
	vocab, err := readVocabMap(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	m := &hfWordPiece{hfVocab: vocab, unkToken: "[UNK]", prefix: "##", maxChars: 100}
	if cfg.UnkToken != nil {
		m.unkToken = *cfg.UnkToken
	}
	if cfg.ContinuingSubwordPrefix != nil {
		m.prefix = *cfg.ContinuingSubwordPrefix
	}
	if cfg.MaxInputCharsPerWord != nil {
		m.maxChars = *cfg.MaxInputCharsPerWord
	}
	return m, nil
}

func (m *hfWordPiece) unk(word string) ([]int, error) {
	if id, ok := m.ids[m.unkToken]; ok {
		return []int{id}, nil
	}
	return nil, fmt.Errorf("WordPiece: %q cannot be split into vocabulary pieces and the unk_token %q is not in the vocabulary", word, m.unkToken)
}

func (m *hfWordPiece) tokenize(word string) ([]int, error) {
	if utf8.RuneCountInString(word) > m.maxChars {
		return m.unk(word)
	}
	var ids []int
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		for start < end {
			candidate := word[start:end]
			if start > 0 {
				candidate = m.prefix + candidate
			}
			if id, ok := m.ids[candidate]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return m.unk(word)
		}
		ids = append(ids, found)
		start = end
	}
	return ids, nil
}
