package tasks

import (
	"fmt"
	"math"
	"sort"
	"strconv"
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

// stsbTarget is an STS-B score, given as the file's decimal text, as both references print
// it (DePT src/tasks.py:926-939, ATTEMPT attempt/data/utils.py:4-17):
// str(np.round((label*5)/5, decimals=1)) of the label Hugging Face's datasets gives, a float32
// widened to a double. The ×5/5 cancels (their docstring's "nearest 0.2" is T5's rule, not what
// the code computes), so it rounds to 0.1, ties to even on the binary value: "4.750" → "4.8",
// "0.25" → "0.2", "2.45" → "2.5" (float32's 2.45 lies above it).
func stsbTarget(score string) (string, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(score), 64)
	if err != nil || !(v >= 0 && v <= 5) {
		return "", false
	}
	label := float64(float32(v)) // datasets' Value("float32"), read back as a Python float
	tenths := math.RoundToEven(label * 5 / 5 * 10)
	return strconv.FormatFloat(tenths/10, 'f', 1, 64), true
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
