package engine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/ts"
)

// PeakRSS is the process's high-water resident set (VmHWM) in bytes, 0 if unknown.
func PeakRSS() int64 { return procStatusKB("VmHWM:") * 1024 }

// CurrentRSS is the process's resident set (VmRSS) in bytes, 0 if unknown.
func CurrentRSS() int64 { return procStatusKB("VmRSS:") * 1024 }

func procStatusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key) {
			fields := strings.Fields(line[len(key):])
			if len(fields) > 0 {
				v, _ := strconv.ParseInt(fields[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// InitTorch pins this goroutine to its OS thread (libtorch's grad mode and OpenMP thread
// count are per thread) and sets the intra-op thread count (0 = number of cores). Call it
// first thing on the goroutine that will do all tensor work.
func InitTorch(threads int) {
	runtime.LockOSThread()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	ts.SetNumThreads(threads)
}

// BLASLibrary reports which shared library provides BLAS in this process (from
// /proc/self/maps), so that a slow reference BLAS is noticed rather than suffered.
func BLASLibrary() string {
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		p := fields[len(fields)-1]
		base := filepath.Base(p)
		if strings.Contains(base, "openblas") || strings.HasPrefix(base, "libblas") || strings.Contains(base, "libmkl") {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return real
			}
			return p
		}
	}
	return ""
}

// BLASWarning returns a loud warning when libtorch runs on the reference BLAS (about 25x
// slower than OpenBLAS here), or "" when all is well.
func BLASWarning() string {
	lib := BLASLibrary()
	switch {
	case lib == "":
		return ""
	case strings.Contains(lib, "openblas-pthread"):
		return fmt.Sprintf("WARNING: BLAS is %s; the pthread variant ignores the thread setting and oversubscribes cores. Install libopenblas0-openmp (scripts/setup.sh).", lib)
	case strings.Contains(lib, "openblas"), strings.Contains(lib, "mkl"):
		return ""
	}
	return fmt.Sprintf("WARNING: libtorch is running on the reference BLAS (%s), ~25x slower than OpenBLAS. Run scripts/setup.sh (apt-get install libopenblas0-openmp).", lib)
}

// Threads is libtorch's current intra-op thread count.
func Threads() int { return ts.GetNumThreads() }

// ResetPeakRSS restarts the kernel's high-water mark (VmHWM) so PeakRSS measures from now —
// each run of a grid reports its own peak, not the process's. Linux only; best effort.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BF16Support reports whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16,
// which libtorch's oneDNN uses) and says so in words; elsewhere bf16 is emulated and slower.
func BF16Support() (bool, string) {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false, "unknown (no /proc/cpuinfo)"
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "flags") {
			for _, f := range strings.Fields(line) {
				flags[f] = true
			}
			break
		}
	}
	switch {
	case flags["amx_bf16"]:
		return true, "native (AMX-BF16)"
	case flags["avx512_bf16"]:
		return true, "native (AVX512-BF16)"
	}
	return false, "emulated (no AVX512-BF16 or AMX-BF16)"
}
