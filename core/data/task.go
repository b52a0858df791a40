// Package data holds the pure data types that tasks and core share — examples, datasets,
// scores, the Task interface and its registry — with no libtorch dependency, so the task
// readers and metrics build and test without cgo.
package data

import (
	"fmt"

	"github.com/ptbench/ptbench/core/registry"
)

// Example is one item of a task in text-to-text form.
type Example struct {
	ID     string `json:"id"`
	Source string `json:"source"` // the filled input template
	Target string `json:"target"` // the training target (label id as a string, or answer text)
	// Answers are all acceptable references (SQuAD, ReCoRD); empty means {Target}.
	Answers []string `json:"answers,omitempty"`
	// Group ties examples scored together (MultiRC: the question, for exact match).
	Group string `json:"group,omitempty"`
}

// Dataset is a task's three splits, already formatted.
type Dataset struct {
	Train, Dev, Test []Example
	// Skipped counts rows dropped because the official file itself is known to be bad
	// (e.g. QQP's malformed rows), per file; reported at the end of a run.
	Skipped map[string]int
}

// DataOptions tells a task where to find (or put) its files and how to sample.
type DataOptions struct {
	DataDir  string // a folder laid out like glue/RTE/train.tsv, superglue/CB/val.jsonl
	CacheDir string // where downloads go when DataDir is empty
	Seed     int64  // split shuffles use 42 by protocol; k-shot sampling uses this
	KShot    int    // 0 = full training set; else k examples in all, balanced over classes
	Offline  bool   // never download
}

// Scores maps metric names ("accuracy", "f1", …) to values ×100.
type Scores map[string]float64

// Task is data + format + metric.
type Task interface {
	Name() string
	Benchmark() string // "GLUE", "SuperGLUE" or "" (source / few-shot / synthetic tasks)
	// MaxSourceLen is s, the longest source in tokens (256; MultiRC 348).
	MaxSourceLen() int
	// Metrics lists the metric names; the first is the task's table score (PrimaryScore).
	Metrics() []string
	Load(opts DataOptions) (*Dataset, error)
	// Score compares predictions (decoded generations) with gold examples, index by index.
	Score(predictions []string, gold []Example) (Scores, error)
}

// KShotSampler is a task that draws its k-shot training set from its full one (what Load
// does with DataOptions.KShot), so that a grid loads the files once and draws per run seed,
// as the reference draws with the run's seed.
type KShotSampler interface {
	SampleKShot(train []Example, k int, seed int64) ([]Example, error)
}

// EvalOnlyLoader is a task that can load just its evaluation files (the official validation
// set) when its training file is absent.
type EvalOnlyLoader interface {
	LoadEvalOnly(opts DataOptions) (*Dataset, error)
}

// FileChecker is a task that can say, without reading or downloading anything, that Load
// would fail for want of its files: a file missing from DataDir, no data location, or an
// incomplete cache that downloads may not fill (Offline). A run's preflight asks it before
// any backbone loads; a nil error promises only that the files are there or may be fetched.
type FileChecker interface {
	CheckFiles(opts DataOptions) error
}

// TaskFactory builds a task.
type TaskFactory func() Task

var taskRegistry = registry.New[TaskFactory]("Task")

// RegisterTask makes a task available by name.
func RegisterTask(name, about string, f TaskFactory) { taskRegistry.Register(name, about, f) }

// Tasks lists registered tasks.
func Tasks() []registry.Registered { return taskRegistry.List() }

// NewTask builds a registered task.
func NewTask(name string) (Task, error) {
	f, err := taskRegistry.Lookup(name)
	if err != nil {
		return nil, err
	}
	return f(), nil
}

// PrimaryScore is the table score: the task's first metric, which is the metric the
// published tables report for it (accuracy for MRPC, QQP and CB, whose second metric is F1
// or macro-F1; Pearson for STS-B; F1a for MultiRC). Leaderboards rank by it, compare it with
// published numbers and show the task's other metrics beside it.
func PrimaryScore(t Task, s Scores) (float64, error) {
	ms := t.Metrics()
	if len(ms) == 0 {
		return 0, fmt.Errorf("task %s declares no metrics", t.Name())
	}
	return metricScore(t, s, ms[0])
}

// SelectionMetricTask is a task whose reference code chooses checkpoints by another metric
// than the one its tables report (CB: DePT selects by macro-F1, the first entry of its
// TASK_TO_METRICS, and reports accuracy).
type SelectionMetricTask interface {
	SelectionMetric() string
}

// SelectionScore is the dev score checkpoints are chosen by: the task's SelectionMetric
// when it has one, else its PrimaryScore.
func SelectionScore(t Task, s Scores) (float64, error) {
	if st, ok := t.(SelectionMetricTask); ok && st.SelectionMetric() != "" {
		return metricScore(t, s, st.SelectionMetric())
	}
	return PrimaryScore(t, s)
}

func metricScore(t Task, s Scores, metric string) (float64, error) {
	v, ok := s[metric]
	if !ok {
		return 0, fmt.Errorf("task %s: score has no %q", t.Name(), metric)
	}
	return v, nil
}
