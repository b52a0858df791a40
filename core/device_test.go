package core

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// On the device a tensor is already on, Move, Param and OnDeviceOf hand back the tensor
// itself — the same handle, no copy — which is why threading the device through every
// creation leaves CPU runs bit-identical.
func TestMoveOnItsOwnDeviceIsTheTensorItself(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cases := []struct {
		name string
		move func(x *ts.Tensor) (*ts.Tensor, error)
	}{
		{"Move", CPU.Move},
		{"Param", CPU.Param},
		{"OnDeviceOf", func(x *ts.Tensor) (*ts.Tensor, error) {
			like := ts.MustOnes([]int64{1}, gotch.Int64, gotch.CPU)
			defer like.MustDrop()
			return OnDeviceOf(x, like)
		}},
		{"MustMove", func(x *ts.Tensor) (*ts.Tensor, error) { return CPU.MustMove(x), nil }},
	}
	for _, c := range cases {
		x := ts.MustOfSlice([]float32{1, 2, 3})
		y, err := c.move(x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if y != x {
			t.Errorf("%s on the CPU returned a new tensor", c.name)
		}
		if got := Float32s(y); !slices.Equal(got, []float32{1, 2, 3}) {
			t.Errorf("%s changed the values: %v", c.name, got)
		}
		if d, err := DeviceOf(y); err != nil || d != CPU {
			t.Errorf("%s: DeviceOf = %v, %v; want cpu", c.name, d, err)
		}
		y.MustDrop()
	}
}

// Param makes a trainable leaf: it requires grad, and a gradient reaches it.
func TestParamIsATrainableLeaf(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := CPU.Param(ts.MustOfSlice([]float32{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.MustDrop()
	if !p.MustRequiresGrad() {
		t.Fatal("Param does not require grad")
	}
	loss := p.MustSum(gotch.Float, false)
	loss.MustBackward()
	loss.MustDrop()
	g := p.MustGrad(false)
	defer g.MustDrop()
	if got := Float32s(g); !slices.Equal(got, []float32{1, 1}) {
		t.Errorf("gradient %v, want [1 1]", got)
	}
}

// AdamW's moments are made like their parameter (ZerosLike): on its device.
func TestAdamWStateFollowsItsParameter(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := CPU.Param(ts.MustOfSlice([]float32{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.MustDrop()
	opt := NewAdamW([]ParamGroup{{Name: "p", LR: 0.1, Params: []NamedTensor{{Name: "p", Tensor: p}}}})
	defer opt.Close()
	loss := p.MustSum(gotch.Float, false)
	loss.MustBackward()
	loss.MustDrop()
	opt.Step(1)
	st := opt.state[p]
	if st == nil {
		t.Fatal("no optimiser state after a step")
	}
	for _, m := range []*ts.Tensor{st.expAvg, st.expAvgSq} {
		if d, err := DeviceOf(m); err != nil || d != mustDeviceOf(t, p) {
			t.Errorf("moment on %v (%v), parameter on %v", d, err, mustDeviceOf(t, p))
		}
	}
}

// mustDeviceOf is DeviceOf that fails the test on an error.
func mustDeviceOf(t *testing.T, x *ts.Tensor) Device {
	t.Helper()
	d, err := DeviceOf(x)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cpuSites are the places outside core's device helpers that name the CPU when they make a
// tensor, each for a reason that holds on every device (counted per file). A new site fails
// TestTensorsAreMadeOnTheRunsDevice: make the tensor on the run's device (the backbone's
// Device(), a batch tensor's device, core.Device.Move/Param), or add it here with its reason.
var cpuSites = map[string]struct {
	n   int
	why string
}{
	"backbones/llama/load.go":               {2, "random presets are drawn on the CPU generator (the same weights on every device), then moved by build"},
	"backbones/llama/recompute.go":          {2, "a 1-element probe of grad mode; dropout seeds drawn on the CPU generator and read back to Go"},
	"backbones/t5/recompute.go":             {1, "dropout seeds drawn on the CPU generator and read back to Go"},
	"backbones/quant/dynamic.go":            {1, "torch.linspace's float32 values, read back to Go to build the dynamic map"},
	"backbones/quant/fast.go":               {1, "the Go dequantiser writes CPU memory; weights elsewhere take the libtorch path"},
	"methods/lora/lora.go":                  {1, "A drawn on the CPU generator, then moved (Device.Param)"},
	"methods/mpt/mpt.go":                    {2, "the ones init of u and v, moved with the artefact's prompt (Device.Param)"},
	"methods/attempt/attempt.go":            {2, "the attention's weights drawn on the CPU generator, then moved (Device.Param)"},
	"methods/dept/dept.go":                  {1, "KaimingUniform draws on the CPU generator; callers move it (Device.Param)"},
	"methods/internal/hypernet/hypernet.go": {1, "parameters filled on the CPU generator, then moved (Device.Param)"},
	"methods/internal/adapters/adapters.go": {1, "adapter weights drawn on the CPU generator, then moved (Device.Param)"},
	"core/coretest/coretest.go":             {2, "test doubles: a CPU embedding table and CPU artefacts (as read from disk)"},
	"core/numerics.go":                      {1, "Device.Torch's answer for the CPU"},
}

var cpuArg = regexp.MustCompile(`gotch\.CPU\b`)

// Every tensor a run makes is made on the run's device: no source file of the backbones,
// methods, plugins or core names the CPU for a tensor except the sites listed in cpuSites.
func TestTensorsAreMadeOnTheRunsDevice(t *testing.T) {
	root := ".."
	got := map[string]int{}
	for _, dir := range []string{"backbones", "methods", "plugins", "core"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue
				}
				// A comparison with the CPU (deviceOf/CInt) makes no tensor.
				if cpuArg.MatchString(line) && !strings.Contains(line, "CInt()") && !strings.Contains(line, "return gotch.CPU, ") {
					got[rel] += len(cpuArg.FindAllString(line, -1))
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for file, n := range got {
		if want := cpuSites[file]; n != want.n {
			t.Errorf("%s names gotch.CPU %d time(s), %d expected: make the tensor on the run's device (README: GPUs) or list the site in cpuSites with its reason", file, n, want.n)
		}
	}
	for file, want := range cpuSites {
		if want.n > 0 && got[file] == 0 {
			t.Errorf("cpuSites lists %s (%d), which no longer names gotch.CPU: remove it", file, want.n)
		}
	}
}
