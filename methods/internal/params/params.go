// Package params holds the trainable-state bookkeeping every method shares: freeing the
// tensors a method owns when it closes, and the settings whose 0 means "another setting's
// rate" (ATTEMPT's attn_lr, EPT's proj_lr).
package params

import "github.com/sugarme/gotch/ts"

// Drop frees every owned tensor that is set and clears its field, so that Close may run after
// a Setup that failed half way and may run twice.
func Drop(owned ...**ts.Tensor) {
	for _, t := range owned {
		if *t != nil {
			(*t).MustDrop()
			*t = nil
		}
	}
}

// Rate is own, or base where own is 0: the learning rate of a group whose setting defaults
// to another group's.
func Rate(own, base float64) float64 {
	if own == 0 {
		return base
	}
	return own
}
