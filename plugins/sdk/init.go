package sdk

import (
	"fmt"
	"math/rand/v2"
)

// VocabInitIDs returns the n token ids that ptbench's PT (methods/pt) samples for its "vocab"
// initialisation: uniform over [0, min(vocabLimit, vocab)) from a PCG generator seeded with the
// run's seed. Ask for their rows in Needs and copy them with CopyRows to start a prompt exactly
// as the built-in PT does.
func VocabInitIDs(seed int64, n, vocab, vocabLimit int) []int64 {
	limit := int64(min(vocabLimit, vocab))
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = rng.Int64N(limit)
	}
	return ids
}

// CopyRows fills dst ([len(ids), d], row-major) with the embedding rows of ids from env.Rows.
func CopyRows(dst []float32, env Env, ids []int64) error {
	d := env.DModel
	if len(dst) != len(ids)*d {
		return fmt.Errorf("CopyRows: %d values for %d rows of %d", len(dst), len(ids), d)
	}
	for i, id := range ids {
		row, ok := env.Rows[id]
		if !ok || len(row) != d {
			return fmt.Errorf("the host did not send embedding row %d", id)
		}
		copy(dst[i*d:(i+1)*d], row)
	}
	return nil
}
