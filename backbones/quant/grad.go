package quant

import (
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// Grads is torch.autograd.grad(root, inputs): the gradients of the scalar root with respect
// to each input (leaves or intermediate tensors of root's graph, each requiring grad), without
// accumulating into any tensor's .grad; the graph is freed. An input root does not depend on
// gets an undefined tensor (MustDefined false). The caller drops the results.
//
// Why: a 4-bit backbone's recomputed backward walks its layers one at a time and must hand
// the gradients of a layer's trainable tensors (hook outputs, unfrozen norms) to the step's
// own backward, which the trainer runs after zeroing every gradient. gotch's ts.RunBackward
// passes only its first tensor's pointer to libtorch (reading past it for more than one
// input), so this calls the same entry point with proper arrays.
func Grads(root *ts.Tensor, inputs []*ts.Tensor) ([]*ts.Tensor, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	roots := []lib.Ctensor{ctensorOf(root)}
	ins := make([]lib.Ctensor, len(inputs))
	for i, t := range inputs {
		ins[i] = ctensorOf(t)
	}
	outs := make([]lib.Ctensor, len(inputs))
	lib.AtRunBackward(&roots[0], 1, &ins[0], len(ins), &outs[0], 0, 0)
	runtime.KeepAlive(root)
	runtime.KeepAlive(inputs)
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("autograd: %w", err)
	}
	res := make([]*ts.Tensor, len(outs))
	for i, c := range outs {
		res[i] = ts.New(c)
	}
	return res, nil
}

// ctensorOffset is where ts.Tensor keeps its libtorch handle (unexported in gotch; found by
// name once, so a gotch that renames it fails loudly here instead of reading garbage).
var ctensorOffset = func() uintptr {
	f, ok := reflect.TypeOf(ts.Tensor{}).FieldByName("ctensor")
	if !ok || f.Type != reflect.TypeOf(lib.Ctensor(nil)) {
		panic("quant: gotch's ts.Tensor has no ctensor handle field")
	}
	return f.Offset
}()

func ctensorOf(t *ts.Tensor) lib.Ctensor {
	return *(*lib.Ctensor)(unsafe.Add(unsafe.Pointer(t), ctensorOffset))
}
