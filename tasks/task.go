package tasks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ptbench/ptbench/core/data"
)

// info is what every task of this package declares: its identity, format limits and how
// its generations are scored. It implements every data.Task method except Load.
type info struct {
	name, about, benchmark string
	maxSourceLen           int
	metrics                []string
	// labels is the closed set of valid targets of a classification task; nil for tasks
	// whose target is free text or a number (SQuAD, ReCoRD, STS-B, syn-copy).
	labels  []string
	scoring scoring
	// selectBy is the metric the reference code chooses checkpoints by when it is not the
	// table score (metrics[0]); empty means metrics[0].
	selectBy string
}

func (t *info) Name() string      { return t.name }
func (t *info) Benchmark() string { return t.benchmark }
func (t *info) MaxSourceLen() int { return t.maxSourceLen }

// Metrics returns a copy so that callers cannot reorder the table score away.
func (t *info) Metrics() []string { return append([]string(nil), t.metrics...) }

// SelectionMetric is the metric dev checkpoints are chosen by (data.SelectionScore): DePT's
// first TASK_TO_METRICS entry, which differs from the reported metric only for CB.
func (t *info) SelectionMetric() string {
	if t.selectBy != "" {
		return t.selectBy
	}
	return t.metrics[0]
}

// Labels lists the valid targets of a classification task, nil for open-ended targets.
func (t *info) Labels() []string { return append([]string(nil), t.labels...) }

// kshotClass is the class an example counts for in k-shot sampling: its label, STS-B's
// score binarised at 2.5, and a single class for free-text targets.
func (t *info) kshotClass(ex data.Example) string {
	switch {
	case t.scoring == scoreRegression:
		return stsbBinaryClass(ex.Target)
	case t.labels != nil:
		return ex.Target
	default:
		return ""
	}
}

// splitLayout is how the protocol derives train / dev / test from the official files.
type splitLayout int

const (
	// halveValidation: shuffled official validation, first floor(n/2) dev, rest test.
	halveValidation splitLayout = iota
	// holdOutTrain: 1,000 shuffled train examples dev, the rest train, validation test.
	holdOutTrain
	// mnliLayout: dev = validation_mismatched, test = validation_matched.
	mnliLayout
)

// Official file roles, also the <file> part of example IDs.
const (
	fileTrain         = "train"
	fileVal           = "val"
	fileValMatched    = "val_matched"
	fileValMismatched = "val_mismatched"
)

// HoldOutSize is how many shuffled training examples large tasks set aside as dev.
const HoldOutSize = 1000

// fileTask is a task read from official files: a GLUE, SuperGLUE or QA task.
type fileTask struct {
	info
	layout splitLayout
	// files maps a file role (fileTrain, fileVal, …) to its path under the data root.
	files map[string]string
	// parse reads one official file into formatted examples; skipped counts rows dropped
	// because the official file itself is known to be bad (QQP only).
	parse func(path, idPrefix string) (examples []data.Example, skipped int, err error)
	// remote lists the official downloads that produce files.
	remote []remoteFile
	// prepare turns downloaded files into the layout above (MRPC only); may be nil.
	prepare func(root string) error
}

// Load reads all three splits; it fails when any official file is missing.
func (t *fileTask) Load(opts data.DataOptions) (*data.Dataset, error) {
	return t.load(opts, true)
}

// CheckFiles is Load's file checks without the reading (data.FileChecker): every official
// file it needs is in DataDir, or in a complete cache, or (online) may be downloaded there.
func (t *fileTask) CheckFiles(opts data.DataOptions) error {
	switch {
	case opts.DataDir != "":
		for _, role := range t.requiredFiles(true) {
			if !fileExists(filepath.Join(opts.DataDir, t.files[role])) {
				return t.missing(opts.DataDir, role, true)
			}
		}
		return nil
	case opts.CacheDir == "" || opts.Offline:
		_, err := t.dataRoot(opts, true) // no location, or a complete cache, or the offline error
		return err
	}
	return nil // online with a cache folder: Load downloads what is missing
}

// evalFiles are the roles dev and test are built from.
func (t *fileTask) evalFiles() []string {
	if t.layout == mnliLayout {
		return []string{fileValMismatched, fileValMatched}
	}
	return []string{fileVal}
}

func (t *fileTask) requiredFiles(needTrain bool) []string {
	roles := t.evalFiles()
	if needTrain {
		roles = append([]string{fileTrain}, roles...)
	}
	return roles
}

func (t *fileTask) load(opts data.DataOptions, needTrain bool) (*data.Dataset, error) {
	root, err := t.dataRoot(opts, needTrain)
	if err != nil {
		return nil, err
	}
	ds := &data.Dataset{Skipped: map[string]int{}}
	read := func(role string) ([]data.Example, error) {
		path := filepath.Join(root, t.files[role])
		exs, skipped, err := t.parse(path, t.name+"/"+role)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			ds.Skipped[filepath.ToSlash(t.files[role])] += skipped
		}
		return exs, nil
	}
	for _, role := range t.evalFiles() {
		if !fileExists(filepath.Join(root, t.files[role])) {
			return nil, t.missing(root, role, opts.DataDir != "")
		}
	}
	var train []data.Example
	haveTrain := fileExists(filepath.Join(root, t.files[fileTrain]))
	if haveTrain {
		if train, err = read(fileTrain); err != nil {
			return nil, err
		}
	} else if needTrain {
		return nil, t.missing(root, fileTrain, opts.DataDir != "")
	}
	switch t.layout {
	case halveValidation:
		val, err := read(fileVal)
		if err != nil {
			return nil, err
		}
		ds.Train = train
		ds.Dev, ds.Test = HalveValidation(val, SplitSeed)
	case holdOutTrain:
		val, err := read(fileVal)
		if err != nil {
			return nil, err
		}
		ds.Test = val
		if haveTrain {
			if ds.Dev, ds.Train, err = HoldOut(train, HoldOutSize, SplitSeed); err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
		}
	case mnliLayout:
		ds.Train = train
		if ds.Dev, err = read(fileValMismatched); err != nil {
			return nil, err
		}
		if ds.Test, err = read(fileValMatched); err != nil {
			return nil, err
		}
	}
	if opts.KShot != 0 && len(ds.Train) > 0 {
		if ds.Train, err = kshotTrain(t.name, ds.Train, opts.KShot, opts.Seed, t.kshotClass); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// dataRoot is DataDir when set; otherwise CacheDir, after downloading what is missing.
func (t *fileTask) dataRoot(opts data.DataOptions, needTrain bool) (string, error) {
	if opts.DataDir != "" {
		return opts.DataDir, nil
	}
	if opts.CacheDir == "" {
		return "", fmt.Errorf("%s: no data location: pass --data-dir, a folder holding the official files (glue/…, superglue/…, squad/…), or --cache-dir, a folder to download them into", t.name)
	}
	complete := true
	for _, role := range t.requiredFiles(needTrain) {
		if !fileExists(filepath.Join(opts.CacheDir, t.files[role])) {
			complete = false
		}
	}
	if complete {
		return opts.CacheDir, nil
	}
	if opts.Offline {
		return "", fmt.Errorf("%s: data not in cache %s and downloads are disabled (offline); run once online, or fetch %v and unpack under %s so that %s exists, or pass --data-dir with a copy laid out the same way",
			t.name, opts.CacheDir, t.urls(), opts.CacheDir, filepath.ToSlash(t.files[t.requiredFiles(needTrain)[0]]))
	}
	if err := DefaultDownloader.fetchTask(t, opts.CacheDir); err != nil {
		return "", err
	}
	return opts.CacheDir, nil
}

// MissingDataError says which official file a task needs and how to get it.
type MissingDataError struct {
	Task string
	Path string // the file that was looked for
	Hint string // how to get it
}

func (e *MissingDataError) Error() string {
	return fmt.Sprintf("%s: data file %s not found; %s", e.Task, e.Path, e.Hint)
}

// Unwrap lets errors.Is(err, fs.ErrNotExist) recognise a missing data file.
func (e *MissingDataError) Unwrap() error { return os.ErrNotExist }

// urls lists where the task's official files are downloaded from.
func (t *fileTask) urls() []string {
	var urls []string
	for _, r := range t.remote {
		urls = append(urls, DefaultDownloader.url(r))
	}
	return urls
}

func (t *fileTask) missing(root, role string, fromDataDir bool) error {
	urls := t.urls()
	hint := fmt.Sprintf("get the official files from %v and unpack them under %s so that %s exists, or leave out --data-dir and let ptbench download them into its cache (any command that reads the task does, e.g. ptbench data --task %s)",
		urls, root, filepath.ToSlash(t.files[role]), t.name)
	if !fromDataDir {
		hint = fmt.Sprintf("the download into %s did not produce it; delete that folder's downloads/ and try again, or fetch %v by hand", root, urls)
	}
	if role == fileTrain {
		hint += "; evaluation alone (ptbench data, ptbench score) needs only the validation files"
	}
	return &MissingDataError{Task: t.name, Path: filepath.Join(root, t.files[role]), Hint: hint}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// LoadEval loads a task for evaluation only: it needs just the official files that dev and
// test come from, and returns an empty Train when the train file is absent. Tasks from
// other packages fall back to their own Load.
func LoadEval(t data.Task, opts data.DataOptions) (*data.Dataset, error) {
	if ft, ok := t.(*fileTask); ok {
		return ft.load(opts, false)
	}
	return t.Load(opts)
}

// LoadEvalOnly is LoadEval as a method (data.EvalOnlyLoader), for packages that cannot import
// this one: just the official files dev and test come from, Train empty when absent.
func (t *fileTask) LoadEvalOnly(opts data.DataOptions) (*data.Dataset, error) {
	return t.load(opts, false)
}

// registered holds this package's tasks by name, for the downloader and LoadEval.
var registered = map[string]data.Task{}

func register(t data.Task, about string) {
	registered[t.Name()] = t
	// Each NewTask call gets the same immutable value: tasks hold no per-run state.
	data.RegisterTask(t.Name(), about, func() data.Task { return t })
}

// TaskNames lists the tasks this package registers, sorted.
func TaskNames() []string {
	names := make([]string, 0, len(registered))
	for n := range registered {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupFileTask finds a registered task that is read from official files.
func lookupFileTask(name string) (*fileTask, error) {
	t, ok := registered[name]
	if !ok {
		return nil, fmt.Errorf("unknown task %q (known: %v)", name, TaskNames())
	}
	ft, ok := t.(*fileTask)
	if !ok {
		return nil, errors.New("task " + name + " is generated, it has no files to download")
	}
	return ft, nil
}
