package seq

import (
	"reflect"
	"testing"
)

// A source keeps room for EOS; a target is read up to its first EOS, skipping what the
// backbone names.
func TestEOS(t *testing.T) {
	cases := []struct {
		ids    []int
		maxLen int
		want   []int64
	}{
		{[]int{5, 6, 7}, 0, []int64{5, 6, 7, 1}},
		{[]int{5, 6, 7}, 3, []int64{5, 6, 1}},
		{[]int{5, 6, 7}, 1, []int64{1}},
		{nil, 4, []int64{1}},
	}
	for _, c := range cases {
		if got := EndWithEOS(c.ids, c.maxLen, 1); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EndWithEOS(%v, %d) = %v, want %v", c.ids, c.maxLen, got, c.want)
		}
	}
	pad := func(id int64) bool { return id == 0 || id < 0 }
	if got, want := UntilEOS([]int64{0, 7, -3, 8, 1, 9}, 1, pad), []int{7, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("UntilEOS = %v, want %v", got, want)
	}
}
