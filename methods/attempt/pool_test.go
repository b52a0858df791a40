package attempt

import (
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// x̂ includes padding as the reference's torch.max over a source padded to the max source
// length: a row shorter than the max gets max(real tokens, E[pad]) even when the batch has no
// padding; a row at the max length gets its real tokens' maximum; "real" pooling never sees
// the pad embedding.
func TestPoolIncludesPaddingAsTheReference(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(50, 8)
	defer bb.Close()
	ids := ts.MustOfSlice([]int64{0, 3, 4, 5}).MustView([]int64{1, 4}, true)
	emb := bb.Embed(ids)
	ids.MustDrop()
	table := core.Float32s(emb)
	emb.MustDrop()
	row := func(id int) []float32 { return table[8*id : 8*id+8] }
	pad, a, b, c := row(0), row(1), row(2), row(3) // ids 0 (pad), 3, 4, 5
	maxOf := func(rows ...[]float32) []float32 {
		out := append([]float32(nil), rows[0]...)
		for _, r := range rows[1:] {
			for i := range out {
				out[i] = max(out[i], r[i])
			}
		}
		return out
	}
	for _, c0 := range []struct {
		pool   string
		maxLen int
		src    []int64
		want   []float32
	}{
		{"padded", 8, []int64{3, 4, 5}, maxOf(a, b, c, pad)}, // shorter than 8: padded in the reference
		{"padded", 3, []int64{3, 4, 5}, maxOf(a, b, c)},      // at the max length: no padding
		{"real", 8, []int64{3, 4, 5}, maxOf(a, b, c)},
	} {
		m := &Method{cfg: DefaultConfig(), d: 8, maxLen: c0.maxLen}
		m.cfg.Pool = c0.pool
		if c0.pool == "padded" {
			var err error
			if m.padEmb, err = padEmbedding(bb); err != nil {
				t.Fatal(err)
			}
		}
		bt, err := core.CollateWith([]core.Encoded{{Source: c0.src}}, core.CollateOptions{NoLabels: true}, core.PadRight, 0)
		if err != nil {
			t.Fatal(err)
		}
		in := core.EmbedBatch(bb, bt)
		x, err := m.pool(in)
		if err != nil {
			t.Fatal(err)
		}
		got := core.Float32s(x)
		for i := range got {
			if got[i] != c0.want[i] {
				t.Errorf("%s maxLen %d: x̂ = %v, want %v", c0.pool, c0.maxLen, got, c0.want)
				break
			}
		}
		x.MustDrop()
		in.Drop()
		bt.Close()
		m.Close()
	}
}
