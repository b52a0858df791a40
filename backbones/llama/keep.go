package llama

import (
	"fmt"
	"os"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// KeepEnv names the memory budget (GiB, default 0) for dequantised NF4 weights kept from a
// training step's forward pass for its recomputed backward. The recomputation walks the
// layers last first, so the last layers that fit the budget keep the weights their forward
// dequantised, and are dequantised once per step instead of twice; each layer's are freed as
// soon as its backward is done. 0 keeps nothing (the least memory).
const KeepEnv = "PTBENCH_NF4_KEEP_GIB"

// keepBudget is KeepEnv in bytes (0 when unset; an unreadable value is an error).
func keepBudget() (int64, error) {
	v := os.Getenv(KeepEnv)
	if v == "" {
		return 0, nil
	}
	g, err := strconv.ParseFloat(v, 64)
	if err != nil || g < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative number of GiB", KeepEnv, v)
	}
	return int64(g * (1 << 30)), nil
}

// linears are a layer's seven linear weights.
func (L *layer) linears() []*linear {
	return []*linear{&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}
}

// keptLayers is how many of the last layers' dequantised weights fit budget bytes.
func (m *Model) keptLayers(budget int64) int {
	if budget <= 0 || len(m.layers) == 0 {
		return 0
	}
	size := int64(gotch.BFloat16.Size())
	if m.DType == gotch.Float {
		size = 4
	}
	var per int64
	for _, l := range m.layers[0].linears() {
		if l.q != nil {
			per += l.out * l.in * size
		}
	}
	if per == 0 {
		return 0
	}
	return int(min(int64(len(m.layers)), budget/per))
}

// keepWeight stores w, l's weight just dequantised, when the forward is keeping (the caller
// then must not drop it) and reports whether it did.
func (m *Model) keepWeight(l *linear, w *ts.Tensor) bool {
	if !m.keeping {
		return false
	}
	if m.kept == nil {
		m.kept = map[*linear]*ts.Tensor{}
	}
	m.kept[l] = w
	return true
}

// dropKept frees the kept weights of L (all layers' when L is nil).
func (m *Model) dropKept(L *layer) {
	if L == nil {
		for l, w := range m.kept {
			w.MustDrop()
			delete(m.kept, l)
		}
		return
	}
	for _, l := range L.linears() {
		if w, ok := m.kept[l]; ok {
			w.MustDrop()
			delete(m.kept, l)
		}
	}
}
