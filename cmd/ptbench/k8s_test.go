package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The manifest parses back into batch/v1 Jobs: an Indexed shard Job whose pods map
// JOB_COMPLETION_INDEX to --shard, and a suspended merge Job over every shard folder.
func TestK8sManifest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "grid.yaml")
	out, err := execute("k8s", "--shards", "3", "--parallelism", "2", "--image", "registry.example/ptbench:v1", "--out", "/runs/glue",
		"--pvc", "lab-runs", "--gpus", "1", "--cpu", "4", "--memory", "16Gi", "--namespace", "nlp", "--file", file, "--",
		"run", "--methods", "ept,pt", "--tasks", "rte", "--set", "pt.init_text=it's")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(raw), "\n---\n")
	if len(docs) != 2 || !strings.Contains(docs[0], "kubectl wait --for=condition=complete") {
		t.Fatalf("want 2 documents and the apply steps:\n%s", raw)
	}
	var shards, merge batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &shards); err != nil {
		t.Fatalf("shard job: %v\n%s", err, docs[0])
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &merge); err != nil {
		t.Fatalf("merge job: %v\n%s", err, docs[1])
	}
	s := shards.Spec
	if shards.Kind != "Job" || shards.APIVersion != "batch/v1" || shards.Name != "ptbench" || shards.Namespace != "nlp" ||
		s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion ||
		s.Completions == nil || *s.Completions != 3 || s.Parallelism == nil || *s.Parallelism != 2 {
		t.Fatalf("shard job %+v", shards)
	}
	pod := s.Template.Spec
	c := pod.Containers[0]
	script := strings.Join(c.Command, " ")
	for _, want := range []string{"sh -c", "i=$((JOB_COMPLETION_INDEX+1))",
		`exec ptbench run --methods ept,pt --tasks rte --set 'pt.init_text=it'\''s' --threads 4 --shard "$i/3" --out /runs/glue/shards/"$i" --no-wait`} {
		if !strings.Contains(script, want) {
			t.Errorf("command lacks %q: %s", want, script)
		}
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || c.Image != "registry.example/ptbench:v1" ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/runs/glue" ||
		len(pod.Volumes) != 1 || pod.Volumes[0].PersistentVolumeClaim == nil || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "lab-runs" {
		t.Errorf("pod %+v", pod)
	}
	if g := c.Resources.Limits["nvidia.com/gpu"]; g.Value() != 1 {
		t.Errorf("gpu limit %v", c.Resources.Limits)
	}
	if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.String() != "4" {
		t.Errorf("cpu request %v", c.Resources.Requests)
	}
	if mem := c.Resources.Limits[corev1.ResourceMemory]; mem.String() != "16Gi" {
		t.Errorf("memory limit %v", c.Resources.Limits)
	}
	m := merge.Spec
	mc := strings.Join(m.Template.Spec.Containers[0].Command, " ")
	if merge.Name != "ptbench-merge" || m.Suspend == nil || !*m.Suspend || m.CompletionMode != nil ||
		!strings.Contains(mc, "merge --out /runs/glue /runs/glue/shards/1 /runs/glue/shards/2 /runs/glue/shards/3") ||
		m.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "lab-runs" {
		t.Errorf("merge job %+v\n%s", merge, mc)
	}
	for _, bad := range [][]string{
		{"k8s", "--shards", "2", "--out", "/runs", "--", "run"},                                  // no image
		{"k8s", "--shards", "2", "--image", "i", "--out", "runs", "--", "run"},                   // relative out
		{"k8s", "--shards", "2", "--image", "i", "--out", "/runs", "--cpu", "four", "--", "run"}, // bad quantity
		{"k8s", "--shards", "2", "--image", "i", "--out", "/runs", "--name", "Grid_1", "--", "run"},
		{"k8s", "--shards", "2", "--image", "i", "--out", "/runs", "--", "run", "--shard", "1/2"},
	} {
		if _, err := execute(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
