package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// k8sOptions are `ptbench k8s`'s flags.
type k8sOptions struct {
	shards, parallelism, gpus, backoff int
	image, out, pvc, name, namespace   string
	cpu, memory, exe, file, pullPolicy string
	command                            []string
	noCheck                            bool // --no-check: skip running the command's own checks here
}

// newK8sCmd: `ptbench k8s --shards N --image IMG --out /mnt/runs -- run ...` writes a Kubernetes
// Indexed Job running a grid as N shards, and a suspended merge Job.
func newK8sCmd() *cobra.Command {
	var o k8sOptions
	cmd := &cobra.Command{
		Use:   "k8s --shards N --image IMAGE --out /mnt/DIR [flags] -- run --methods ... (a command that takes --shard)",
		Short: "Write a Kubernetes Indexed Job running a grid as N shards, plus the merge Job",
		Long: `K8s writes a YAML manifest (stdout, or --file) with two batch/v1 Jobs:

  NAME        completionMode: Indexed, completions N: pod k runs the command after -- with
              --shard $((JOB_COMPLETION_INDEX+1))/N --out OUT/shards/$((JOB_COMPLETION_INDEX+1)) --no-wait
  NAME-merge  ptbench merge --out OUT OUT/shards/1 ... OUT/shards/N, created suspended

Both mount the PersistentVolumeClaim --pvc (it must exist, ReadWriteMany when shards land on
different nodes) at --out. The image must have ptbench on its PATH (or give --ptbench).
Apply the manifest, wait for the shards, then let the merge run:

  ptbench k8s --shards 8 --image registry/ptbench:v1 --out /runs/glue -- run ... > grid.yaml
  kubectl apply -f grid.yaml
  kubectl wait --for=condition=complete --timeout=24h job/ptbench
  kubectl patch job/ptbench-merge --type=merge -p '{"spec":{"suspend":false}}'
  kubectl logs job/ptbench-merge      # the leaderboard; OUT/leaderboard.md on the volume

(The merge Job is suspended so that applying the whole file at once cannot merge before the
shards end.)`,
		Example: `  ptbench k8s --shards 8 --image registry/ptbench:v1 --out /runs/glue --file grid.yaml -- \
    run --methods ept,dept,pt --tasks rte,mrpc --backbone t5-base --seeds 42,43,44`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.command = args
			if err := o.validate(cmd.Root()); err != nil {
				return err
			}
			manifest, err := o.manifest()
			if err != nil {
				return err
			}
			if o.file == "" {
				_, err = cmd.OutOrStdout().Write(manifest)
				return err
			}
			if err := os.WriteFile(o.file, manifest, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: job/%s (%d shards) and job/%s-merge (suspended)\n", o.file, o.name, o.shards, o.name)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.shards, "shards", 0, "number of shards = completions (required)")
	f.IntVar(&o.parallelism, "parallelism", 0, "shards running at once (default: all)")
	f.StringVar(&o.image, "image", "", "container image with ptbench (required)")
	f.StringVar(&o.out, "out", "", "absolute results folder inside the pods, where the volume is mounted (required)")
	f.StringVar(&o.pvc, "pvc", "ptbench-runs", "PersistentVolumeClaim mounted at --out")
	f.StringVar(&o.name, "name", "ptbench", "Job name (the merge Job is NAME-merge)")
	f.StringVar(&o.namespace, "namespace", "", "namespace (default: kubectl's)")
	f.IntVar(&o.gpus, "gpus", 0, "GPUs per shard (nvidia.com/gpu limit)")
	f.StringVar(&o.cpu, "cpu", "", "CPU per shard, e.g. 4 (request and limit; also the command's --threads unless it sets one)")
	f.StringVar(&o.memory, "memory", "", "memory per shard, e.g. 16Gi (request and limit)")
	f.IntVar(&o.backoff, "backoff-limit", 3, "pod retries of the shard Job, all shards together")
	f.StringVar(&o.exe, "ptbench", "ptbench", "ptbench binary inside the image")
	f.StringVar(&o.pullPolicy, "pull-policy", "", "imagePullPolicy: Always, IfNotPresent or Never (default: Kubernetes')")
	f.StringVar(&o.file, "file", "", "write the manifest to this file instead of stdout")
	f.BoolVar(&o.noCheck, "no-check", false, "do not run the command's own checks here first (for a command naming files that exist only in the image)")
	return cmd
}

var k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (o *k8sOptions) validate(root *cobra.Command) error {
	if err := checkShards(o.shards); err != nil {
		return err
	}
	// Every value written into the manifest (its header comment included) is one line.
	for flag, v := range map[string]string{"--out": o.out, "--image": o.image, "--pvc": o.pvc, "--name": o.name,
		"--namespace": o.namespace, "--cpu": o.cpu, "--memory": o.memory, "--ptbench": o.exe, "--pull-policy": o.pullPolicy} {
		if err := checkNoControl(flag, v); err != nil {
			return err
		}
	}
	if err := checkCommandText(o.command); err != nil {
		return err
	}
	switch {
	case o.image == "" || strings.ContainsAny(o.image, " \t"):
		return usageError{fmt.Errorf("--image is required and holds no spaces, got %q", o.image)}
	case o.pvc != "" && (!dnsSubdomain.MatchString(o.pvc) || len(o.pvc) > 253):
		return usageError{fmt.Errorf("--pvc %q: a PersistentVolumeClaim name is a DNS subdomain (lower-case letters, digits, '-', '.') of at most 253 characters", o.pvc)}
	case o.namespace != "" && (!dnsLabel.MatchString(o.namespace) || len(o.namespace) > 63):
		return usageError{fmt.Errorf("--namespace %q: want a DNS label (lower-case letters, digits, '-') of at most 63 characters", o.namespace)}
	case o.out == "" || !filepath.IsAbs(o.out):
		return usageError{fmt.Errorf("--out must be an absolute path inside the pods (where --pvc is mounted), got %q", o.out)}
	case !k8sName.MatchString(o.name) || len(o.name) > 57:
		return usageError{fmt.Errorf("--name %q: want a DNS label (lower-case letters, digits, '-') of at most 57 characters", o.name)}
	case o.pvc == "":
		return usageError{fmt.Errorf("--pvc is required: the shards and the merge share the volume")}
	case o.gpus < 0 || o.parallelism < 0 || o.backoff < 0:
		return usageError{fmt.Errorf("--gpus, --parallelism and --backoff-limit must be ≥ 0")}
	}
	switch o.pullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		return usageError{fmt.Errorf("--pull-policy %q: want Always, IfNotPresent or Never", o.pullPolicy)}
	}
	for flag, q := range map[string]string{"--cpu": o.cpu, "--memory": o.memory} {
		if q != "" {
			if _, err := resource.ParseQuantity(q); err != nil {
				return usageError{fmt.Errorf("%s %q: %v", flag, q, err)}
			}
		}
	}
	if o.parallelism == 0 {
		o.parallelism = o.shards
	}
	o.out = filepath.Clean(o.out)
	if err := checkShardCommand(root, o.command); err != nil {
		return err
	}
	if o.noCheck {
		return nil
	}
	return checkCommandStarts(o.command, o.shards) // jobcheck.go
}

// manifest is the shard Job and the suspended merge Job as one YAML stream.
func (o *k8sOptions) manifest() ([]byte, error) {
	command := append([]string(nil), o.command...)
	if q, err := resource.ParseQuantity(o.cpu); o.cpu != "" && err == nil && !hasFlag(command, "--threads") {
		if n := q.Value(); n >= 1 { // whole cores (a fraction such as 500m leaves libtorch's default)
			command = append(command, "--threads", fmt.Sprint(n))
		}
	}
	shardDir := shellQuote(filepath.Join(o.out, "shards") + "/")
	script := strings.Join([]string{
		"set -eu",
		"i=$((JOB_COMPLETION_INDEX+1))",
		fmt.Sprintf("exec %s %s --shard \"$i/%d\" --out %s\"$i\" --no-wait", shellQuote(o.exe), shellJoin(command), o.shards, shardDir),
	}, "\n")
	res := corev1.ResourceRequirements{}
	if o.cpu != "" || o.memory != "" || o.gpus > 0 {
		res.Requests, res.Limits = corev1.ResourceList{}, corev1.ResourceList{}
	}
	if o.cpu != "" {
		res.Requests[corev1.ResourceCPU] = resource.MustParse(o.cpu)
		res.Limits[corev1.ResourceCPU] = resource.MustParse(o.cpu)
	}
	if o.memory != "" {
		res.Requests[corev1.ResourceMemory] = resource.MustParse(o.memory)
		res.Limits[corev1.ResourceMemory] = resource.MustParse(o.memory)
	}
	if o.gpus > 0 {
		res.Limits["nvidia.com/gpu"] = *resource.NewQuantity(int64(o.gpus), resource.DecimalSI)
	}
	labels := map[string]string{"app.kubernetes.io/name": "ptbench", "app.kubernetes.io/instance": o.name}
	shards := o.job(o.name, labels, script, res)
	shards.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	shards.Spec.Completions = ptr(int32(o.shards))
	shards.Spec.Parallelism = ptr(int32(o.parallelism))
	shards.Spec.BackoffLimit = ptr(int32(o.backoff))
	shards.Annotations = map[string]string{"ptbench/command": shellJoin(o.command),
		"ptbench/shards": fmt.Sprint(o.shards)}

	mergeArgs := append([]string{o.exe, "--threads", "1", "merge", "--out", o.out}, shardDirs(o.out, o.shards)...)
	merge := o.job(o.name+"-merge", labels, "exec "+shellJoin(mergeArgs), corev1.ResourceRequirements{})
	merge.Spec.Suspend = ptr(true)
	merge.Spec.BackoffLimit = ptr(int32(1))
	merge.Annotations = map[string]string{"ptbench/after": "job/" + o.name,
		"ptbench/run": fmt.Sprintf("kubectl wait --for=condition=complete job/%s && kubectl patch job/%s-merge --type=merge -p '{\"spec\":{\"suspend\":false}}'", o.name, o.name)}

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Written by `ptbench k8s`: job/%s runs the grid as %d shards (Indexed: shard = JOB_COMPLETION_INDEX+1),\n", o.name, o.shards)
	fmt.Fprintf(&buf, "# job/%s-merge (suspended) merges them into %s. After `kubectl apply -f` of this file:\n", o.name, o.out)
	fmt.Fprintf(&buf, "#   kubectl wait --for=condition=complete --timeout=24h job/%s\n", o.name)
	fmt.Fprintf(&buf, "#   kubectl patch job/%s-merge --type=merge -p '{\"spec\":{\"suspend\":false}}'\n", o.name)
	for i, j := range []*batchv1.Job{shards, merge} {
		b, err := yaml.Marshal(j)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// job is a Job whose one container runs script with sh -c, the volume mounted at --out.
func (o *k8sOptions) job(name string, labels map[string]string, script string, res corev1.ResourceRequirements) *batchv1.Job {
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "ptbench", Image: o.image, ImagePullPolicy: corev1.PullPolicy(o.pullPolicy),
						Command:      []string{"sh", "-c", script},
						Resources:    res,
						VolumeMounts: []corev1.VolumeMount{{Name: "runs", MountPath: o.out}},
					}},
					Volumes: []corev1.Volume{{Name: "runs", VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.pvc}}}},
				},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }
