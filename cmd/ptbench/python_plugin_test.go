package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/safetensors"
)

// pythonPluginDir is the Python example plugin (plugins/examples/python/ptbench-method-pypt),
// which needs python3 with grpcio, protobuf and numpy (scripts/test.sh installs Debian's).
func pythonPluginDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "plugins", "examples", "python"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// The Python example plugin, found by name through $PTBENCH_PLUGIN_DIR, trains in a `ptbench
// run` grid next to the built-in PT: both rows are ok, pypt reports its label and plugin
// version, trains as many parameters as PT of the same length, and its loss goes down. It is
// PT re-implemented in numpy with PT's initialisation (Go's PCG re-implemented), clipping and
// float32 AdamW (Go's math.Pow re-implemented), so it reaches PT's loss and scores and the same
// prompt, bit for bit. A plugin run exports with --format native only, and an unknown setting
// fails listing the valid ones.
func TestPythonPluginRunsBesidePT(t *testing.T) {
	coretest.LockThread(t)
	t.Setenv("PTBENCH_PLUGIN_DIR", pythonPluginDir(t))
	tmp := t.TempDir()
	out := filepath.Join(tmp, "runs")
	log, err := execute("run", "--methods", "pt,pypt", "--preset", "smoke", "--tasks", "syn-keyword", "--steps", "20",
		"--eval-limit", "16", "--test-limit", "16", "--set", "pt.length=20", "--set", "pypt.length=20", "--out", out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	rows := rowsOf(t, out)
	pt, py := rows["pt"], rows["pypt"]
	if pt.Status != "ok" || py.Status != "ok" {
		t.Fatalf("statuses pt %q (%s), pypt %q (%s); want two ok rows\n%s", pt.Status, pt.Error, py.Status, py.Error, log)
	}
	if py.Label != "PT (Python)" {
		t.Errorf("pypt's label is %q, want the plugin's DescribeResponse.label %q", py.Label, "PT (Python)")
	}
	if cfg, _ := py.MethodConfig.(map[string]any); cfg["_plugin"] != "pypt@0.1.0" || cfg["length"] != float64(20) {
		t.Errorf("pypt's recorded config %v, want length 20 and _plugin pypt@0.1.0", py.MethodConfig)
	}
	if want := int64(20 * 64); pt.TrainableParams != want || py.TrainableParams != want {
		t.Errorf("trainable parameters: pt %d, pypt %d; want %d (20 soft tokens × d 64)", pt.TrainableParams, py.TrainableParams, want)
	}
	if c := py.Curves; c == nil || len(c.Loss) < 2 || !(c.Loss[len(c.Loss)-1].Value < c.Loss[0].Value) {
		t.Errorf("pypt's loss curve does not go down: %+v", py.Curves)
	}
	if py.FinalLoss != pt.FinalLoss || py.DevScore != pt.DevScore || py.TestScore != pt.TestScore {
		t.Errorf("pypt vs pt: final loss %v / %v, dev %v / %v, test %v / %v; want equal", py.FinalLoss, pt.FinalLoss,
			py.DevScore, pt.DevScore, py.TestScore, pt.TestScore)
	}
	prompt := func(ckpt string) []byte {
		f, err := safetensors.Read(filepath.Join(out, ckpt))
		if err != nil {
			t.Fatal(err)
		}
		p, ok := f.Get("prompt")
		if !ok || p.DType != "F32" || p.Numel() != 20*64 {
			t.Fatalf("%s: no [20 64] F32 tensor \"prompt\": %+v", ckpt, f.Tensors())
		}
		return p.Data
	}
	if !bytes.Equal(prompt(py.Checkpoint), prompt(pt.Checkpoint)) {
		t.Errorf("the trained prompts of pypt and pt differ")
	}

	// export: PEFT has no equivalent of a plugin; the native format takes any run.
	if msg, err := execute("export", py.RunKey, "--format", "peft", "--results", out, "--out", filepath.Join(tmp, "peft")); err == nil ||
		!strings.Contains(err.Error(), "use --format native") {
		t.Errorf("export --format peft of a plugin run: %v (%s); want an error pointing to --format native", err, msg)
	}
	native := filepath.Join(tmp, "native")
	if msg, err := execute("export", py.RunKey, "--format", "native", "--results", out, "--out", native); err != nil {
		t.Fatalf("export --format native: %v\n%s", err, msg)
	}
	for _, f := range []string{"pypt.safetensors", "pypt.json"} {
		if _, err := os.Stat(filepath.Join(native, f)); err != nil {
			t.Errorf("native export: %v", err)
		}
	}

	// Configure rejects an unknown setting and names the valid ones.
	_, err = execute("run", "--methods", "pypt", "--preset", "smoke", "--tasks", "syn-keyword", "--steps", "2",
		"--set", "pypt.bogus=1", "--out", filepath.Join(tmp, "bogus"))
	if err == nil || !strings.Contains(err.Error(), "unknown setting(s) bogus; valid: init, init_text, length, lr, vocab_limit, weight_decay") {
		t.Errorf("--set pypt.bogus=1: %v; want the plugin's error listing the valid settings", err)
	}
}

// `ptbench methods` lists the Python plugin with its description (it is started briefly to
// ask), and `--describe` works without ptbench.
func TestPythonPluginIsListed(t *testing.T) {
	dir := pythonPluginDir(t)
	t.Setenv("PTBENCH_PLUGIN_DIR", dir)
	list, err := execute("methods")
	if err != nil {
		t.Fatalf("methods: %v\n%s", err, list)
	}
	var line string
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "pypt ") {
			line = l
		}
	}
	if !strings.Contains(line, "Prompt tuning in Python") || !strings.Contains(line, filepath.Join(dir, "ptbench-method-pypt")) {
		t.Errorf("`ptbench methods` line for pypt: %q; want its about text and path\n%s", line, list)
	}
	js, err := exec.Command(filepath.Join(dir, "ptbench-method-pypt"), "--describe").Output()
	if err != nil || !strings.Contains(string(js), `"protocol_version": 2`) || !strings.Contains(string(js), `"name": "pypt"`) {
		t.Errorf("ptbench-method-pypt --describe: %v\n%s", err, js)
	}
}

// The Python example's own unit tests (plugins/examples/python/test_ptbench_plugin.py: the
// bfloat16 codec, parity with Go's PCG and math.Pow, clipping, AdamW, Configure's checks) pass
// under Debian's python3, which has the packages scripts/test.sh installs.
func TestPythonPluginUnitTests(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	cmd := exec.Command(python, "-B", "-m", "unittest", "-v", "test_ptbench_plugin")
	cmd.Dir = pythonPluginDir(t)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nOK") {
		t.Fatalf("%s -m unittest test_ptbench_plugin: %v\n%s", python, err, out)
	}
}
