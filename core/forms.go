package core

import (
	"fmt"
	"os"
	"strings"
)

// FormsEnv names the environment variable that chooses a backbone's forms of computation.
// By default a backbone may compute in fast forms that are exact in algebra and differ from
// the reference implementation's only by float rounding (T5: stacked q/k/v projections and
// absorbed cross-attention, in fp32 and bf16 alike; README: T5 numerics). PTBENCH_FORMS=plain
// computes every projection on its own, as the reference writes it: rows computed before the
// fast forms were the default reproduce bit for bit. Numerics.Forms records it, so plain
// runs never share a run key (resume, seed averaging) with the default ones.
const FormsEnv = "PTBENCH_FORMS"

// PlainForms reads FormsEnv: unset, "" or "fast" is the fast forms (false), "plain" the plain
// ones (true); any other value is an error naming both.
func PlainForms() (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv(FormsEnv))); v {
	case "", "fast":
		return false, nil
	case "plain":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: want fast (the default) or plain", FormsEnv, v)
	}
}
