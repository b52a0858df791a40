package llama

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ptbench/ptbench/core"
)

// A second loader, after "llama" in the registry's order, for a file named *.bin that the llama
// loader refuses: without it `--backbone x.bin` with a lying header would only say that no loader
// recognises the path; with it the error says what is wrong with the header (which size is
// impossible, that the byte count overflows, or how many bytes it announces against the
// file's). PyTorch's pickled or zipped .bin files are not llama2.c files and are left alone.
func init() {
	core.RegisterBackboneLoader("llama2c-header", "explains why a .bin file is not a loadable llama2.c checkpoint (impossible or overflowing header sizes, wrong file size)",
		core.BackboneLoader{Probe: probeBadBin, Open: openBadBin})
}

func probeBadBin(spec string) bool {
	st, err := os.Stat(spec)
	if err != nil || !st.Mode().IsRegular() || !strings.HasSuffix(strings.ToLower(spec), ".bin") {
		return false
	}
	if isTorchBin(spec) {
		return false
	}
	return checkBin(spec) != nil
}

// isTorchBin reports whether path starts like a PyTorch checkpoint (a zip archive or a pickle).
func isTorchBin(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	if n, _ := f.Read(head); n < 2 {
		return false
	}
	return bytes.Equal(head, []byte("PK")) || head[0] == 0x80
}

func openBadBin(spec string, opts core.BackboneOptions) (core.Backbone, error) {
	if err := checkBin(spec); err != nil {
		return nil, fmt.Errorf("backbone %q is not a loadable llama2.c checkpoint: %w", spec, err)
	}
	return openSpec(spec, opts) // the file was fixed since the probe
}
