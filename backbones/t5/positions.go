package t5

import (
	"math"

	"github.com/sugarme/gotch/ts"
)

// T5's relative position biases: bucketing as Hugging Face's _relative_position_bucket, a
// cached bucket grid per shape, and the per-head bias looked up from a stack's table.

// encoderBias is the encoder self-attention's additive bias for a [B, L] mask: the position
// bias plus the padding bias, [B, H, L, L], or [1, H, L, L] (broadcast) without padding.
func (m *Model) encoderBias(mask *ts.Tensor) *ts.Tensor {
	L := mask.MustSize()[1]
	pos := m.positionBias(m.encBias, 0, L, L, true)
	if mb := maskBias(mask); mb != nil {
		bias := pos.MustAdd(mb, true)
		mb.MustDrop()
		return bias
	}
	return pos.MustContiguous(true)
}

// decoderBiases are a T-token teacher-forced decoder's self-attention bias (position bias
// plus causal mask, [1, H, T, T]) and its cross-attention bias (encMask's padding bias; nil
// without padding).
func (m *Model) decoderBiases(T int64, encMask *ts.Tensor) (self, cross *ts.Tensor) {
	pos := m.positionBias(m.decBias, 0, T, T, false)
	causal := causalBias(T, m.dev)
	self = pos.MustAdd(causal, true)
	causal.MustDrop()
	return self, maskBias(encMask)
}

// positionBias is the learned relative bias [1, H, Tq, Tk] for queries at positions
// qStart..qStart+Tq-1 against keys 0..Tk-1.
func (m *Model) positionBias(table *ts.Tensor, qStart, tq, tk int64, bidirectional bool) *ts.Tensor {
	buckets := m.bucketIndex(qStart, tq, tk, bidirectional)
	vals := table.MustIndexSelect(0, buckets, false) // [Tq·Tk, H]
	return vals.MustView([]int64{tq, tk, m.Cfg.Heads}, true).MustPermute([]int64{2, 0, 1}, true).MustUnsqueeze(0, true)
}

// bucketIndex returns (and caches) the flat bucket ids of a [Tq, Tk] grid.
func (m *Model) bucketIndex(qStart, tq, tk int64, bidirectional bool) *ts.Tensor {
	dir := int64(0)
	if bidirectional {
		dir = 1
	}
	key := [3]int64{qStart<<32 | tq, tk, dir}
	if t, ok := m.bucketCache[key]; ok {
		return t
	}
	ids := make([]int64, 0, tq*tk)
	for i := int64(0); i < tq; i++ {
		for j := int64(0); j < tk; j++ {
			ids = append(ids, RelativePositionBucket(j-(qStart+i), bidirectional, m.Cfg.Buckets, m.Cfg.MaxDistance))
		}
	}
	t := m.idsOnDevice(ids, -1)
	if len(m.bucketCache) > 256 { // bounded: generation makes one entry per step
		m.dropBucketCache()
	}
	m.bucketCache[key] = t
	return t
}

func (m *Model) dropBucketCache() {
	for k, t := range m.bucketCache {
		t.MustDrop()
		delete(m.bucketCache, k)
	}
}

// RelativePositionBucket maps a relative position (key − query) to a bucket like HF's
// _relative_position_bucket: exact buckets for small distances, log-spaced up to
// maxDistance, half the buckets for each direction when bidirectional. The log is taken in
// float32, as torch does, so boundary cases land in the same bucket.
func RelativePositionBucket(rel int64, bidirectional bool, numBuckets, maxDistance int64) int64 {
	bucket := int64(0)
	n := numBuckets
	if bidirectional {
		n /= 2
		if rel > 0 {
			bucket += n
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		if rel > 0 {
			rel = 0
		}
		rel = -rel
	}
	maxExact := n / 2
	if rel < maxExact {
		return bucket + rel
	}
	ratio := float32(rel) / float32(maxExact)
	logRatio := float32(math.Log(float64(ratio)))
	scale := float32(math.Log(float64(maxDistance) / float64(maxExact)))
	large := maxExact + int64(logRatio/scale*float32(n-maxExact))
	if large > n-1 {
		large = n - 1
	}
	return bucket + large
}
