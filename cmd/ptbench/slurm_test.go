package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// TestMain lets this test binary act as the ptbench binary: the Slurm test's jobs run it
// (the slurm command's default --ptbench is os.Executable()) with PTBENCH_TEST_AS_MAIN=1, so
// no separate build is needed.
func TestMain(m *testing.M) {
	if os.Getenv("PTBENCH_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyGridArgs is a 4-run grid (2 methods × 2 synthetic tasks) that trains in seconds.
func tinyGridArgs() []string {
	return []string{"run", "--methods", "pt,lora", "--tasks", "syn-keyword,syn-parity", "--seeds", "7",
		"--backbone", "t5-tiny", "--tokenizer", "byte", "--offline", "--steps", "20", "--batch-size", "4",
		"--eval-limit", "8", "--test-limit", "8", "--set", "pt.length=4", "--threads", "1"}
}

func resultKeys(t *testing.T, dir string) []string {
	t.Helper()
	rows, err := storage.ReadResults(filepath.Join(dir, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.RunKey)
	}
	slices.Sort(keys)
	return keys
}

// `ptbench run --shard 1/2` and `--shard 2/2` then `ptbench merge` give the unsharded grid's
// run keys; the merge renders the leaderboard and reports in -o json.
func TestShardFlagAndMergeCommand(t *testing.T) {
	coretest.LockThread(t)
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	if out, err := execute(append(tinyGridArgs(), "--out", whole)...); err != nil {
		t.Fatalf("unsharded run: %v\n%s", err, out)
	}
	var dirs []string
	for i := 1; i <= 2; i++ {
		dir := filepath.Join(root, fmt.Sprint(i))
		out, err := execute(append(tinyGridArgs(), "--shard", fmt.Sprintf("%d/2", i), "--out", dir)...)
		if err != nil || !strings.Contains(out, "grid: 2 ran") {
			t.Fatalf("shard %d/2 (%v):\n%s", i, err, out)
		}
		dirs = append(dirs, dir)
	}
	merged := filepath.Join(root, "merged")
	out, err := execute(append([]string{"merge", "--out", merged, "-o", "json"}, dirs...)...)
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	var rep struct {
		Appended  int   `json:"rows_appended"`
		Conflicts []any `json:"conflicts"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil || rep.Appended != 4 || len(rep.Conflicts) != 0 {
		t.Errorf("merge -o json (%v): %+v\n%s", err, rep, out)
	}
	if want, got := resultKeys(t, whole), resultKeys(t, merged); len(want) != 4 || !slices.Equal(want, got) {
		t.Fatalf("merged run keys %v, unsharded %v", got, want)
	}
	if md, err := os.ReadFile(filepath.Join(merged, "leaderboard.md")); err != nil || !strings.Contains(string(md), "syn-parity") {
		t.Errorf("leaderboard.md (%v):\n%s", err, md)
	}
	for _, bad := range []string{"0/2", "3/2", "x"} {
		if _, err := execute(append(tinyGridArgs(), "--shard", bad, "--out", root)...); err == nil || !strings.Contains(err.Error(), "1 ≤ i ≤ n") {
			t.Errorf("--shard %s: %v", bad, err)
		}
	}
}

func TestSlurmScripts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "grid out") // a space: #SBATCH lines cannot hold it
	if _, err := execute(append([]string{"slurm", "--shards", "3", "--out", out, "--"}, tinyGridArgs()...)...); err == nil {
		t.Error("an --out with a space was accepted")
	}
	out = t.TempDir()
	args := []string{"slurm", "--shards", "3", "--out", out, "--partition", "gpu", "--time", "12:00:00", "--gpus", "2",
		"--cpus", "4", "--mem", "16G", "--parallel", "2", "--sbatch=--account=lab", "--ptbench", "/opt/pt bench/ptbench", "--",
		"run", "--methods", "pt", "--tasks", "rte", "--set", "pt.init_text=it's"}
	if o, err := execute(args...); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, "slurm", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	array, merge, submit := read("array.sbatch"), read("merge.sbatch"), read("submit.sh")
	for _, want := range []string{"#SBATCH --array=1-3%2", "#SBATCH --partition=gpu", "#SBATCH --time=12:00:00",
		"#SBATCH --gres=gpu:2", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G", "#SBATCH --account=lab",
		"#SBATCH --output=" + out + "/slurm/logs/shard-%a.out",
		`exec '/opt/pt bench/ptbench' run --methods pt --tasks rte --set 'pt.init_text=it'\''s' --threads 4 --shard "$i/3" --out ` + out + `/shards/"$i" --no-wait`} {
		if !strings.Contains(array, want) {
			t.Errorf("array.sbatch lacks %q:\n%s", want, array)
		}
	}
	if want := fmt.Sprintf("merge --out %s %s/shards/1 %s/shards/2 %s/shards/3", out, out, out, out); !strings.Contains(merge, want) {
		t.Errorf("merge.sbatch lacks %q:\n%s", want, merge)
	}
	if !strings.Contains(submit, "--dependency=afterok:\"$array\"") || !strings.Contains(submit, "sbatch --parsable "+out+"/slurm/array.sbatch") {
		t.Errorf("submit.sh:\n%s", submit)
	}
	// The quoting survives a real shell: sh -n parses every script.
	for _, f := range []string{"array.sbatch", "merge.sbatch", "submit.sh"} {
		if b, err := exec.Command("sh", "-n", filepath.Join(out, "slurm", f)).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v %s", f, err, b)
		}
	}
	for _, bad := range [][]string{
		{"slurm", "--shards", "0", "--out", out, "--", "run"},
		{"slurm", "--shards", "2", "--out", out},
		{"slurm", "--shards", "2", "--out", out, "--", "run", "--out", "x"},
		{"slurm", "--shards", "2", "--out", out, "--", "run", "--shard=1/2"},
		{"slurm", "--shards", "2", "--out", out, "--time", "soon", "--", "run"},
		{"slurm", "--shards", "2", "--out", out, "--", "leaderboard", "x"}, // takes no --shard
		{"slurm", "--shards", "2", "--out", out, "--", "rnu", "--methods", "pt"},
	} {
		if _, err := execute(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// The Slurm path for real: a 2-shard array of the tiny grid and its merge job, submitted to
// the cluster scripts/slurm-local.sh starts (scripts/test.sh does, where sbatch exists and it
// runs as root), give the unsharded grid's run keys.
func TestSlurmArrayOnLocalCluster(t *testing.T) {
	if _, err := exec.LookPath("sbatch"); err != nil {
		msg := "Slurm is not installed (no sbatch): apt-get install slurm-wlm munge, then scripts/slurm-local.sh start"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " — CI must run this test")
		}
		t.Skip(msg)
	}
	if b, err := exec.Command("sinfo", "-h", "-o", "%T").CombinedOutput(); err != nil || !strings.Contains(string(b), "idle") && !strings.Contains(string(b), "mix") {
		msg := fmt.Sprintf("no idle Slurm node (sinfo: %v %s): start a local cluster with scripts/slurm-local.sh start", err, strings.TrimSpace(string(b)))
		if os.Getenv("CI") == "true" || os.Getenv("PTBENCH_SLURM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	coretest.LockThread(t)
	root := t.TempDir()
	os.Chmod(root, 0o755) // slurmd's job runs as this user, but be explicit about the path's access
	whole := filepath.Join(root, "whole")
	if out, err := execute(append(tinyGridArgs(), "--out", whole)...); err != nil {
		t.Fatalf("unsharded run: %v\n%s", err, out)
	}
	cluster := filepath.Join(root, "cluster")
	t.Setenv("PTBENCH_TEST_AS_MAIN", "1") // the jobs run this test binary as ptbench (TestMain)
	start := time.Now()
	out, err := execute(append([]string{"slurm", "--shards", "2", "--out", cluster, "--cpus", "1", "--time", "00:10:00",
		"--job-name", "ptbench-test", "--submit", "-o", "json", "--"}, tinyGridArgs()...)...)
	if err != nil {
		t.Fatalf("ptbench slurm --submit: %v\n%s", err, out)
	}
	var sub struct {
		ArrayJob string `json:"array_job"`
		MergeJob string `json:"merge_job"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &sub); err != nil || sub.ArrayJob == "" || sub.MergeJob == "" {
		t.Fatalf("job ids (%v):\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("scancel", sub.ArrayJob, sub.MergeJob).Run() })
	logs := func() string {
		var b strings.Builder
		files, _ := filepath.Glob(filepath.Join(cluster, "slurm", "logs", "*"))
		dir := os.Getenv("SLURM_LOCAL_DIR")
		if dir == "" {
			dir = "/tmp/ptbench-slurm"
		}
		files = append(files, filepath.Join(dir, "log", "slurmd.log"), filepath.Join(dir, "log", "slurmctld.log"))
		for _, f := range files {
			raw, _ := os.ReadFile(f)
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			fmt.Fprintf(&b, "==> %s (last lines) <==\n%s\n", f, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
		q, _ := exec.Command("squeue", "-a").CombinedOutput()
		return b.String() + "squeue:\n" + string(q)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, _ := exec.Command("scontrol", "show", "job", "-o", sub.MergeJob).CombinedOutput()
		state, reason := field(string(info), "JobState"), field(string(info), "Reason")
		if state == "COMPLETED" {
			break
		}
		switch {
		case state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT" || state == "NODE_FAIL" || state == "OUT_OF_MEMORY":
			t.Fatalf("merge job %s: %s\n%s", sub.MergeJob, state, logs())
		case reason == "DependencyNeverSatisfied":
			t.Fatalf("a shard of array job %s failed, so merge job %s never runs\n%s", sub.ArrayJob, sub.MergeJob, logs())
		case time.Now().After(deadline):
			t.Fatalf("merge job %s still %s (%s) after 5 minutes\n%s", sub.MergeJob, state, reason, logs())
		}
		time.Sleep(time.Second)
	}
	t.Logf("array job %s (2 shards) and merge job %s completed in %.1fs", sub.ArrayJob, sub.MergeJob, time.Since(start).Seconds())
	want, got := resultKeys(t, whole), resultKeys(t, cluster)
	if len(want) != 4 || !slices.Equal(want, got) {
		t.Fatalf("merged run keys %v, unsharded %v\n%s", got, want, logs())
	}
	for i := 1; i <= 2; i++ {
		if keys := resultKeys(t, filepath.Join(cluster, "shards", fmt.Sprint(i))); len(keys) != 2 {
			t.Errorf("shard %d ran %v, want 2 of the 4 runs", i, keys)
		}
	}
	if _, err := os.Stat(filepath.Join(cluster, "leaderboard.md")); err != nil {
		t.Errorf("the merge job wrote no leaderboard: %v\n%s", err, logs())
	}
	t.Logf("merged run keys = unsharded: %v", got)
}

// field is KEY's value in scontrol's one-line "KEY=value KEY=value" output.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
