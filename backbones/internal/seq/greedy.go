// Package seq holds the token-sequence code the T5 and Llama backbones share: ending a source
// with EOS, reading a target up to its EOS, and, for their greedy decoders, choosing each
// row's next token from a step's logits and ending rows at EOS. The models keep their own
// forward passes (encoder–decoder with a cross cache, decoder-only with a growing mask).
package seq

import "github.com/sugarme/gotch/ts"

// Greedy is a batch's greedy decoding state: the tokens emitted so far per row, and which
// rows have emitted EOS.
type Greedy struct {
	Out       [][]int64 // tokens per row, one per step
	done      []bool
	eos, pad  int64
	stopAtEOS bool
	logits    *[]*ts.Tensor
}

// NewGreedy starts decoding rows rows. With stopAtEOS, tokens after a row's EOS become pad
// and decoding ends once every row has emitted EOS. If stepLogits is non-nil it receives each
// step's logits (owned by the caller).
func NewGreedy(rows int, eos, pad int64, stopAtEOS bool, stepLogits *[]*ts.Tensor) *Greedy {
	return &Greedy{Out: make([][]int64, rows), done: make([]bool, rows), eos: eos, pad: pad, stopAtEOS: stopAtEOS, logits: stepLogits}
}

// Step takes a step's logits [B, V] (consumed, or handed to stepLogits), appends each row's
// argmax and returns the tokens to feed next and whether decoding is over (stopAtEOS and
// every row has emitted EOS).
func (g *Greedy) Step(logits *ts.Tensor) (next []int64, finished bool) {
	best := logits.MustArgmax([]int64{-1}, false, false).Int64Values(true)
	if g.logits != nil {
		*g.logits = append(*g.logits, logits)
	} else {
		logits.MustDrop()
	}
	allDone := true
	next = make([]int64, len(best))
	for i, tok := range best {
		if g.stopAtEOS && g.done[i] {
			tok = g.pad
		}
		g.Out[i] = append(g.Out[i], tok)
		if tok == g.eos {
			g.done[i] = true
		}
		next[i] = tok
		allDone = allDone && g.done[i]
	}
	return next, g.stopAtEOS && allDone
}
