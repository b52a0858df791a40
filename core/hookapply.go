package core

import "github.com/sugarme/gotch/ts"

// Every backbone applies hooks the same way: a hook returns its input to leave it alone, or
// a new tensor that replaces it (the backbone then frees the one it replaced). These helpers
// are that idiom once, for T5 and Llama alike.

// Replace returns next, freeing prev when next is another tensor (a hook's answer to prev).
func Replace(prev, next *ts.Tensor) *ts.Tensor {
	if next != prev {
		prev.MustDrop()
	}
	return next
}

// HasLinear reports whether h has a linear hook (h may be nil: no method hooks).
func (h *Hooks) HasLinear() bool { return h != nil && h.Linear != nil }

// HasSublayer reports whether h has a sublayer hook.
func (h *Hooks) HasSublayer() bool { return h != nil && h.Sublayer != nil }

// HasPostDropout reports whether h has a post-dropout hook.
func (h *Hooks) HasPostDropout() bool { return h != nil && h.PostDropout != nil }

// HasNorm reports whether h has a norm hook.
func (h *Hooks) HasNorm() bool { return h != nil && h.Norm != nil }

// HasEncoderOutput reports whether h has an encoder-output hook.
func (h *Hooks) HasEncoderOutput() bool { return h != nil && h.EncoderOutput != nil }

// Any reports whether h has any hook at all.
func (h *Hooks) Any() bool {
	return h.HasLinear() || h.HasSublayer() || h.HasPostDropout() || h.HasNorm() || h.HasEncoderOutput()
}
