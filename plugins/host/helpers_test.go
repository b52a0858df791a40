package host

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"

	_ "github.com/ptbench/ptbench/backbones/t5"
	_ "github.com/ptbench/ptbench/methods/pt"
)

// testPlugin is the test plugin binary (plugins/internal/testplugin: PT through the SDK, with
// faults on request), built once for the whole package.
var testPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ptbench-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "ptbench-method-testpt")
	if out, err := exec.Command("go", "build", "-o", testPlugin, "github.com/ptbench/ptbench/plugins/internal/testplugin").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func openTiny(t testing.TB) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

// fixedBatches makes steps batches of random sources (varying lengths) and targets.
func fixedBatches(steps, batch int, vocab int64) (srcs, tgts [][][]int64) {
	rng := rand.New(rand.NewPCG(7, 11))
	row := func(n int) []int64 {
		r := make([]int64, n)
		for i := range r {
			r[i] = 3 + rng.Int64N(vocab-3)
		}
		r[n-1] = 1 // EOS
		return r
	}
	for s := 0; s < steps; s++ {
		var ss, tt [][]int64
		for b := 0; b < batch; b++ {
			ss = append(ss, row(5+rng.IntN(20)))
			tt = append(tt, row(2+rng.IntN(4)))
		}
		srcs, tgts = append(srcs, ss), append(tgts, tt)
	}
	return srcs, tgts
}

// children lists the live child processes of this test process (zombies included).
func children(t *testing.T) []string {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(raw)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1]+" state "+f[0])
		}
	}
	return out
}

// assertNoChildren fails if a plugin process (running or zombie) is left.
func assertNoChildren(t *testing.T) {
	t.Helper()
	if c := children(t); len(c) > 0 {
		t.Fatalf("child processes left after Close: %v", c)
	}
}
