package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The k8s injection: a newline in --out (or any value written into the manifest) is
// refused; before, the header comment ended at the newline and the file held a Pod.
func TestK8sRefusesControlCharactersAndBadNames(t *testing.T) {
	base := func(extra ...string) []string {
		return append(append([]string{"k8s", "--shards", "2", "--image", "reg/ptbench:v1", "--out", "/runs/x"}, extra...),
			"--", "run", "--methods", "pt", "--tasks", "rte")
	}
	pod := "/runs/x\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: evil\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"newline in --out", []string{"k8s", "--shards", "2", "--image", "i", "--out", pod, "--", "run", "--methods", "pt", "--tasks", "rte"}, "control character"},
		{"carriage return in --image", base("--image", "reg/x\rkind: Pod"), "control character"},
		{"line separator in --namespace", base("--namespace", "a\u2028b"), "control character"},
		{"newline in the command", base()[:0], ""}, // filled below
		{"PVC name with a slash", base("--pvc", "../claim"), "DNS subdomain"},
		{"PVC name upper case", base("--pvc", "Runs"), "DNS subdomain"},
		{"namespace with a dot", base("--namespace", "a.b"), "DNS label"},
		{"shards 1e9", []string{"k8s", "--shards", "1000000000", "--image", "i", "--out", "/runs/x", "--", "run", "--methods", "pt", "--tasks", "rte"}, "--shards"},
		{"unknown method", []string{"k8s", "--shards", "2", "--image", "i", "--out", "/runs/x", "--", "run", "--methods", "nosuchmethod", "--tasks", "rte"}, "would fail"},
		{"negative steps", []string{"k8s", "--shards", "2", "--image", "i", "--out", "/runs/x", "--", "run", "--methods", "pt", "--tasks", "rte", "--steps", "-5"}, "would fail"},
		{"bytes that are not UTF-8 in --out", []string{"k8s", "--shards", "2", "--image", "i", "--out", "/\xef", "--", "run", "--methods", "pt", "--tasks", "rte"}, "not valid UTF-8"},
	}
	cases[3].args = []string{"k8s", "--shards", "2", "--image", "i", "--out", "/runs/x", "--", "run", "--methods", "pt", "--tasks", "rte", "--set", "pt.init_text=a\nkind: Pod"}
	cases[3].want = "control character"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(c.args...)
			if err == nil {
				t.Fatalf("accepted; manifest:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to mention %q", err, c.want)
			}
			if strings.Contains(out, "kind: Pod") {
				t.Fatalf("a Pod was written:\n%s", out)
			}
		})
	}
	// A good command still gives exactly the two Jobs, and --no-check skips only the command's
	// own checks (an unknown method name may be a plugin that exists only in the image).
	for _, args := range [][]string{base(), {"k8s", "--shards", "2", "--image", "i", "--out", "/runs/x", "--no-check", "--", "run", "--methods", "in-image-plugin", "--tasks", "rte"}} {
		out, err := execute(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		var kinds []string
		for _, doc := range strings.Split(out, "\n---\n") {
			var head struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, head.Kind)
		}
		if strings.Join(kinds, ",") != "Job,Job" {
			t.Fatalf("documents %v, want Job,Job", kinds)
		}
	}
}

// slurm checks the command after -- as run and reproduce would, bounds --shards and refuses
// control characters in the command (they would reach the script).
func TestSlurmChecksTheCommandItShards(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		name string
		cmd  []string
		want string
	}{
		{"unknown method", []string{"run", "--methods", "nosuchmethod", "--tasks", "rte"}, "would fail"},
		{"negative steps", []string{"run", "--methods", "pt", "--tasks", "rte", "--steps", "-5"}, "would fail"},
		{"unknown task", []string{"run", "--methods", "pt", "--tasks", "nosuchtask"}, "would fail"},
		{"bad method setting", []string{"run", "--methods", "pt", "--tasks", "rte", "--set", "pt.length=-3"}, "would fail"},
		{"reproduce: unknown experiment", []string{"reproduce", "no-such-experiment"}, "would fail"},
		{"reproduce: steps-scale 0", []string{"reproduce", "glue", "--steps-scale", "0"}, "would fail"},
		{"newline in an argument", []string{"run", "--methods", "pt", "--tasks", "rte", "--set", "pt.init_text=a\nb"}, "control character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"slurm", "--shards", "2", "--out", out, "--"}, c.cmd...)
			if o, err := execute(args...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q\n%s", err, c.want, o)
			}
			if _, err := os.Stat(filepath.Join(out, "slurm", "array.sbatch")); err == nil {
				t.Fatal("array.sbatch was written for a command that would fail")
			}
		})
	}
	if _, err := execute("slurm", "--shards", "20000", "--out", out, "--", "run", "--methods", "pt", "--tasks", "rte"); err == nil || !strings.Contains(err.Error(), "--shards") {
		t.Fatalf("--shards 20000: %v", err)
	}
	if o, err := execute("slurm", "--shards", "2", "--out", out, "--", "reproduce", "glue"); err != nil {
		t.Fatalf("a good reproduce command: %v\n%s", err, o)
	}
}

// A plugin's host settings are checked before anything loads (the plugin is not started):
// plugin_timeout 1e9 used to pass until the run opened the plugin.
func TestPluginHostSettingsCheckedInPreflight(t *testing.T) {
	for _, set := range []string{"plugin:/bin/true.plugin_timeout=1e9", "plugin:/bin/true.plugin_timeout=-5", "plugin:/bin/true.plugin_wire_dtype=int8"} {
		_, err := execute("run", "--methods", "plugin:/bin/true", "--tasks", "syn-keyword", "--offline", "--backbone", "/nonexistent",
			"--out", t.TempDir(), "--set", set)
		if err == nil || strings.Contains(err.Error(), "/nonexistent") || !strings.Contains(err.Error(), "plugin_") {
			t.Errorf("--set %s: %v, want the setting refused before the backbone", set, err)
		}
	}
}

// --adam-eps sets the ε of built-in methods' optimisers only; a plugin runs its own AdamW, and
// the run says so before anything loads instead of letting the setting pass silently.
func TestAdamEpsWarnsThatPluginsKeepTheirOwn(t *testing.T) {
	log, err := execute("run", "--methods", "pt,plugin:/bin/true", "--tasks", "syn-keyword", "--offline",
		"--backbone", "/nonexistent", "--out", t.TempDir(), "--adam-eps", "1e-7")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("want the run to reach the (missing) backbone, got %v", err)
	}
	want := "warning: --adam-eps does not reach method plugin:/bin/true"
	if !strings.Contains(log, want) || strings.Contains(log, "does not reach method pt:") {
		t.Errorf("log %q, want one warning: %q", log, want)
	}
}
