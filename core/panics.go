package core

import (
	"fmt"
	"strings"
)

// PanicError is a recovered panic as an error. gotch's Must* functions panic on a libtorch
// error with libtorch's message, its C++ frames and a Go stack; the first line says what failed
// ("can't allocate memory", a shape mismatch), so that is what the error keeps.
func PanicError(p any) error {
	if err, ok := p.(error); ok && !strings.Contains(err.Error(), "\n") {
		return fmt.Errorf("panic: %w", err)
	}
	msg := fmt.Sprint(p)
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("panic: %s", msg)
}
