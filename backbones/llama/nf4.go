package llama

import (
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/quant"
)

// The NF4 code lives in backbones/quant (shared with every backbone that stores 4-bit
// weights); these names forward to it so that existing callers keep compiling. New code
// should import backbones/quant directly.

// NF4Code is QLoRA's 4-bit NormalFloat code book (see quant.NF4Code).
var NF4Code = quant.NF4Code

const (
	// NF4Block is the number of weights sharing one absmax (see quant.NF4Block).
	NF4Block = quant.NF4Block
	// NF4Block2 is the number of absmaxes sharing one scale (see quant.NF4Block2).
	NF4Block2 = quant.NF4Block2
)

// NF4 is a QLoRA-quantised weight matrix (see quant.NF4).
type NF4 = quant.NF4

// QuantizeNF4 quantises w as QLoRA does (see quant.QuantizeNF4).
func QuantizeNF4(w *ts.Tensor) (*NF4, error) { return quant.QuantizeNF4(w) }
