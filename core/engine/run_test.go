package engine

import (
	"testing"
)

func TestMeanMedian(t *testing.T) {
	m, med := MeanMedian([]float64{3, 1, 2, 10})
	if m != 4 || med != 2.5 {
		t.Fatalf("mean %v median %v", m, med)
	}
}
