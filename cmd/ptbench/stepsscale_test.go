package main

import (
	"strings"
	"testing"
)

// reproduce --steps-scale is a fraction in (0, 1]: 0 used to run the full budget (0 read as
// the default), 1e300 overflowed to 1 step and 1e9 gave 3e13 steps.
func TestReproduceRefusesStepsScaleOutsideZeroOne(t *testing.T) {
	for _, s := range []string{"0", "-0.5", "1e300", "1e9", "1.5", "NaN", "Inf"} {
		out, err := execute("reproduce", "glue", "--steps-scale", s, "--dry-run")
		if err == nil || !strings.Contains(err.Error(), "--steps-scale") {
			t.Errorf("--steps-scale %s: %v\n%s", s, err, out)
		}
	}
	for _, s := range []string{"1", "0.001"} {
		if out, err := execute("reproduce", "glue", "--steps-scale", s, "--dry-run"); err != nil {
			t.Errorf("--steps-scale %s: %v\n%s", s, err, out)
		}
	}
}
