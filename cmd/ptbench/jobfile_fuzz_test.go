package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzJobFiles: whatever values reach `ptbench k8s` and `ptbench slurm` (folders, names,
// image, claim, partition, memory, extra #SBATCH options, a setting in the sharded command),
// either they are refused or the files written have exactly the structure the commands
// write: two Job documents and the four header comment lines in the manifest, and in
// array.sbatch exactly the #SBATCH lines and script lines the options ask for. A value can
// never add a document, a directive or a command (a newline in --out once added a Pod).
func FuzzJobFiles(f *testing.F) {
	f.Add("/runs/x", "reg/ptbench:v1", "ptbench-runs", "ptbench", "", "gpu", "16G", "--account=lab", "it's", uint16(3))
	f.Add("/runs/x\n---\napiVersion: v1\nkind: Pod", "i", "claim", "grid", "nlp", "p", "", "", "x", uint16(2))
	f.Add("/r", "i\rkind: Pod", "c.d", "n", "ns", "p\n#SBATCH --evil", "1G", "--x=\u2028y", "a\nb", uint16(1))
	f.Add("/r", "i", "", "n", "", "", "", "", "", uint16(0))
	f.Fuzz(func(t *testing.T, out, image, pvc, name, namespace, partition, mem, extra, setting string, shards uint16) {
		command := []string{"run", "--methods", "pt", "--tasks", "rte", "--set", "pt.init_text=" + setting}

		k := k8sOptions{shards: int(shards), image: image, out: out, pvc: pvc, name: name, namespace: namespace,
			backoff: 3, exe: "ptbench", command: command, noCheck: true}
		if k.validate(newRoot()) == nil {
			manifest, err := k.manifest()
			if err != nil {
				t.Fatal(err)
			}
			docs := strings.Split(string(manifest), "\n---\n")
			if len(docs) != 2 {
				t.Fatalf("%d documents:\n%s", len(docs), manifest)
			}
			for _, d := range docs {
				var head struct{ Kind, APIVersion string }
				if err := yaml.Unmarshal([]byte(d), &head); err != nil || head.Kind != "Job" || head.APIVersion != "batch/v1" {
					t.Fatalf("document %+v (%v):\n%s", head, err, d)
				}
			}
			comments := 0
			for _, line := range strings.Split(string(manifest), "\n") {
				if strings.HasPrefix(line, "#") {
					comments++
				}
			}
			if comments != 4 {
				t.Fatalf("%d comment lines, want the 4 of the header:\n%s", comments, manifest)
			}
		}

		dir := t.TempDir()
		s := slurmOptions{shards: int(shards), out: dir, partition: partition, mem: mem, jobName: "ptbench",
			output: "text", command: command, noCheck: true}
		if extra != "" {
			s.extra = []string{extra}
		}
		if s.validate(newRoot()) != nil {
			return
		}
		if _, err := s.write(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "slurm", "array.sbatch"))
		if err != nil {
			t.Fatal(err)
		}
		opt := 0
		for _, v := range []string{partition, mem, extra} {
			if v != "" {
				opt++
			}
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		sbatch := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "#SBATCH") {
				sbatch++
			}
		}
		if sbatch != 5+opt || len(lines) != 11+opt {
			t.Fatalf("%d #SBATCH lines and %d lines, want %d and %d:\n%s", sbatch, len(lines), 5+opt, 11+opt, raw)
		}
	})
}
