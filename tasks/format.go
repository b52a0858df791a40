package tasks

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// piece is one "name: value" pair of a template.
type piece struct{ name, value string }

// fillTemplate joins "name: value" pieces with single spaces. Values are trimmed; an empty
// value drops its text but keeps the name, so the model still sees which field was empty.
func fillTemplate(pieces ...piece) string {
	parts := make([]string, 0, 2*len(pieces))
	for _, p := range pieces {
		parts = append(parts, p.name+":")
		if v := strings.TrimSpace(p.value); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// stsbTarget rounds an STS-B score, given as the file's decimal text, to the nearest 0.2
// and prints it with one decimal ("3.8", "5.0"). Rounding is exact (rational arithmetic on
// the decimal text) with ties to even, as T5's tf.round(label*5)/5: "2.5" gives "2.4".
func stsbTarget(score string) (string, bool) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(score))
	if !ok || r.Sign() < 0 || r.Cmp(big.NewRat(5, 1)) > 0 {
		return "", false
	}
	r.Mul(r, big.NewRat(5, 1))
	// floor(r) for r >= 0, then round half to even.
	q := new(big.Int).Quo(r.Num(), r.Denom())
	frac := new(big.Rat).Sub(r, new(big.Rat).SetInt(q))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	// q fifths of a point: q/5 with one decimal is q*2 tenths.
	tenths := q.Int64() * 2
	return big.NewRat(tenths, 10).FloatString(1), true
}

// sortedKeys lists a label map's raw values for error messages.
func sortedKeys(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
