package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// Synthetic smoke tasks exercise the whole pipeline offline, on a random-initialised tiny
// model with a byte-level tokenizer: no files, sources under 60 bytes, a vocabulary of a
// dozen words, and rules a small model learns in a few hundred steps. They are generated
// from DataOptions.Seed, each split from its own PCG stream so that dev and test do not
// change with the training-set size.

// Synthetic split sizes.
const (
	SyntheticTrainSize = 2000
	SyntheticDevSize   = 200
	SyntheticTestSize  = 200
)

// syntheticWords is the shared small vocabulary.
var syntheticWords = []string{"red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "star", "box", "cup"}

const syntheticKeyword = "apple"

type syntheticTask struct {
	info
	// generate makes one example's source and target.
	generate func(rng *rand.Rand) (source, target string)
}

// Load generates the three splits; DataDir, CacheDir and Offline are irrelevant.
func (t *syntheticTask) Load(opts data.DataOptions) (*data.Dataset, error) {
	split := func(name string, stream uint64, n int) []data.Example {
		rng := rand.New(newRNG(opts.Seed, stream))
		out := make([]data.Example, n)
		for i := range out {
			src, tgt := t.generate(rng)
			out[i] = data.Example{ID: fmt.Sprintf("%s/%s/%d", t.name, name, i), Source: src, Target: tgt}
		}
		return out
	}
	ds := &data.Dataset{
		Train: split("train", 1, SyntheticTrainSize),
		Dev:   split("dev", 2, SyntheticDevSize),
		Test:  split("test", 3, SyntheticTestSize),
	}
	if opts.KShot != 0 {
		var err error
		if ds.Train, err = kshotTrain(t.name, ds.Train, opts.KShot, opts.Seed, t.kshotClass); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func randomWords(rng *rand.Rand, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = syntheticWords[rng.IntN(len(syntheticWords))]
	}
	return w
}

// keywordExample: "text: cat sun apple box" → "1" when "apple" is one of the words.
func keywordExample(rng *rand.Rand) (string, string) {
	words := randomWords(rng, 3+rng.IntN(4))
	label := rng.IntN(2)
	if label == 1 {
		words[rng.IntN(len(words))] = syntheticKeyword
	}
	return "text: " + strings.Join(words, " "), fmt.Sprint(label)
}

// parityExample: "number: 48213" → "1" when the last digit is odd.
func parityExample(rng *rand.Rand) (string, string) {
	digits := make([]byte, 3+rng.IntN(4))
	for i := range digits {
		digits[i] = byte('0' + rng.IntN(10))
	}
	return "number: " + string(digits), fmt.Sprint(int(digits[len(digits)-1]-'0') % 2)
}

// copyExample: "copy: moon cat tree" → "moon".
func copyExample(rng *rand.Rand) (string, string) {
	words := randomWords(rng, 3+rng.IntN(3))
	return "copy: " + strings.Join(words, " "), words[0]
}

func syntheticTasks() []*syntheticTask {
	two := []string{"0", "1"}
	mk := func(name, about string, labels []string, s scoring, gen func(*rand.Rand) (string, string)) *syntheticTask {
		return &syntheticTask{
			info:     info{name: name, about: about, maxSourceLen: 64, metrics: []string{"accuracy"}, labels: labels, scoring: s},
			generate: gen,
		}
	}
	return []*syntheticTask{
		mk("syn-keyword", "synthetic smoke task: does the text contain the word \"apple\"? (0/1)", two, scoreClassification, keywordExample),
		mk("syn-parity", "synthetic smoke task: is the number's last digit odd? (0/1)", two, scoreClassification, parityExample),
		mk("syn-copy", "synthetic smoke task: copy the first word", nil, scoreExact, copyExample),
	}
}
