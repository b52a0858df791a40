package seq

import "github.com/sugarme/gotch/ts"

// AppendKV is a decoder layer's self-attention cache after one generation step: the cached
// keys and values [B, H, T, d] with this step's k and v appended along the position axis.
// The old cache and the step's tensors are freed; an empty cache (nil) becomes k and v.
func AppendKV(cacheK, cacheV, k, v *ts.Tensor) (*ts.Tensor, *ts.Tensor) {
	if cacheK == nil {
		return k, v
	}
	nk := ts.MustCat([]*ts.Tensor{cacheK, k}, 2)
	nv := ts.MustCat([]*ts.Tensor{cacheV, v}, 2)
	for _, t := range []*ts.Tensor{cacheK, cacheV, k, v} {
		t.MustDrop()
	}
	return nk, nv
}
