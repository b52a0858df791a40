package benchmarks

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/data"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/core/storage"
)

// artefactDir is where a results folder keeps trained method states that other runs reuse.
const artefactDir = "artefacts"

// Artefacts is the grid's core.ArtefactStore: artefacts live in <out>/artefacts/<name>.safetensors
// under their stable name (storage.ArtefactName); a missing one is trained first, as its own run
// recorded in results.jsonl (Extra["artefact"] = name), and never twice.
type Artefacts struct {
	grid     *Grid
	backbone core.Backbone
	store    *storage.ResultStore
	training map[string]bool // names being trained now (a cycle is an error)
	frames   [][]string      // per run being set up: the artefacts it used (innermost last)
	// Trained counts the artefacts this store trained (not found on disk).
	Trained int
}

// NewArtefacts makes the store of a grid over an open backbone.
func (g *Grid) NewArtefacts(bb core.Backbone, store *storage.ResultStore) *Artefacts {
	return &Artefacts{grid: g, backbone: bb, store: store, training: map[string]bool{}}
}

// Artefact returns the stored artefact for spec, training it first when missing.
func (a *Artefacts) Artefact(spec core.ArtefactSpec) (*core.Artefact, error) {
	g := a.grid
	if len(spec.Tasks) == 0 {
		return nil, fmt.Errorf("artefact %s: no tasks given", spec.Method)
	}
	m, err := core.NewMethod(spec.Method, spec.Config)
	if err != nil {
		return nil, fmt.Errorf("artefact: %w", err)
	}
	defer m.Close()
	dopts := g.Data
	dopts.KShot = 0 // source artefacts train on the full training sets
	var tasks []engine.TaskData
	var splits [][]core.Example
	for _, name := range spec.Tasks {
		task, err := core.NewTask(name)
		if err != nil {
			return nil, fmt.Errorf("artefact %s: %w", spec.Method, err)
		}
		ds, err := task.Load(dopts)
		if err != nil && g.SourcesFromDev {
			ds, err = sourceFromValidation(task, dopts, err)
		}
		if err != nil {
			return nil, fmt.Errorf("artefact %s on %s: task data missing or unreadable (%w); obtain it with `ptbench data --task %s` or pass --data-dir", spec.Method, name, err, name)
		}
		tasks = append(tasks, engine.TaskData{Task: task, Data: ds})
		splits = append(splits, ds.Train)
	}
	train := g.Train.ForMethod(spec.Method)
	train.Progress = nil
	train.Seed = spec.Seed
	if spec.Steps > 0 {
		train.Steps = spec.Steps
	}
	id := storage.ArtefactIdentity{Method: spec.Method, Config: m.Config(), Backbone: g.Backbone, Tasks: spec.Tasks,
		DataHash: storage.DataHash(splits...), Seed: spec.Seed, Train: train}
	if n := storage.NumericsOf(g.BackboneOpts); !n.IsDefault() {
		id.Numerics = &n
	}
	name, err := storage.ArtefactName(id)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(g.OutDir, artefactDir)
	if g.ArtefactDir != "" {
		dir = g.ArtefactDir
	}
	path := filepath.Join(dir, storage.SafeFileName(name)+".safetensors")
	if n := len(a.frames); n > 0 && !slices.Contains(a.frames[n-1], name) {
		a.frames[n-1] = append(a.frames[n-1], name)
	}
	if _, err := os.Stat(path); err == nil {
		art, lerr := loadArtefact(name, path)
		if lerr == nil {
			return art, nil
		}
		// An unreadable artefact (a torn copy, a damaged disk) would fail every run that needs
		// it, forever: it is moved aside and trained again under its name.
		if err := os.Rename(path, path+".corrupt"); err != nil {
			return nil, fmt.Errorf("artefact %s is unreadable (%v) and could not be moved aside: %w", path, lerr, err)
		}
		if g.Log != nil {
			fmt.Fprintf(g.Log, "warning: artefact %s is unreadable (%v): moved it to %s.corrupt and training it again\n", path, lerr, path)
		}
	}
	if a.training[name] {
		return nil, fmt.Errorf("artefact %s depends on itself", name)
	}
	a.training[name] = true
	defer delete(a.training, name)

	log := g.Log
	if log == nil {
		log = io.Discard
	}
	prefix := fmt.Sprintf("[artefact %s]", name)
	fmt.Fprintf(log, "%s missing: training %s on %s (seed %d, %d steps)\n", prefix, spec.Method, strings.Join(spec.Tasks, "+"), spec.Seed, train.Steps)
	train.Progress = engine.NewProgress(log, g.Terminal, prefix, 50)
	tr := &engine.Trainer{Backbone: a.backbone, Method: m, Tasks: tasks, Opts: train, Temperature: g.Temperature, Artefacts: a}
	a.begin()
	res, err := safeRun(tr)
	used := a.end()
	row := storage.ResultRow{RunKey: "artefact." + name, Method: spec.Method, Label: core.MethodLabel(spec.Method, m),
		MethodConfig: m.Config(), Task: strings.Join(spec.Tasks, "+"), Seed: spec.Seed, Backbone: a.backbone.Info(),
		Train: train, CodeVersion: g.CodeVersion, TrainingRevision: storage.TrainingRevision,
		Extra: map[string]any{"artefact": name, "source": true, "data_hash": id.DataHash}}
	if len(used) > 0 {
		row.Extra["artefacts"] = used
	}
	row.Backbone.Name = g.Backbone
	row.Backbone.RandomInit = core.IsBackbonePreset(g.Backbone)
	if err != nil {
		row.Status, row.Error = "failed", err.Error()
		row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
		_ = a.appendRow(row)
		return nil, fmt.Errorf("%s: training failed: %w", prefix, err)
	}
	defer core.DropNamed(res.Best)
	fillRow(&row, res, tasks[0].Task)
	if res.Status != "ok" {
		row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
		_ = a.appendRow(row)
		return nil, fmt.Errorf("%s: %s (%s)", prefix, res.Status, res.Error)
	}
	meta := map[string]string{"name": name}
	idJSON, _ := json.Marshal(id)
	meta["identity"] = string(idJSON)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	tensors := res.Best
	if s, ok := m.(core.StateSaver); ok {
		st, err := s.SaveState()
		if err != nil {
			return nil, fmt.Errorf("%s: saving method state: %w", prefix, err)
		}
		defer core.DropNamed(st)
		tensors = st
	}
	if err := core.SaveTorchFile(path, tensors, meta); err != nil {
		return nil, err
	}
	row.Checkpoint, _ = filepath.Rel(g.OutDir, path)
	row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
	if err := a.appendRow(row); err != nil {
		return nil, err
	}
	a.Trained++
	fmt.Fprintf(log, "%s stored (dev %.2f)\n", prefix, row.DevScore)
	return loadArtefact(name, path)
}

// sourceFromValidation trains a source on its task's official validation set when the training
// file is absent (--sources-from-dev, opt-in: the validation set is the target-side test split
// of that task, so its scores must not be reported as that task's). The last 10% (at most 500)
// are held out for the source's own best-checkpoint choice.
func sourceFromValidation(task core.Task, opts core.DataOptions, loadErr error) (*core.Dataset, error) {
	el, ok := task.(data.EvalOnlyLoader)
	if !ok {
		return nil, loadErr
	}
	ds, err := el.LoadEvalOnly(opts)
	if err != nil {
		return nil, loadErr
	}
	all := ds.Test
	if len(all) < 20 {
		return nil, fmt.Errorf("%w (and its validation set has only %d examples)", loadErr, len(all))
	}
	hold := min(500, len(all)/10)
	return &core.Dataset{Train: all[:len(all)-hold], Dev: all[len(all)-hold:], Test: all[len(all)-hold:]}, nil
}

// begin opens a frame that records the artefacts the next run's Setup asks for; end closes it.
func (a *Artefacts) begin() { a.frames = append(a.frames, nil) }

func (a *Artefacts) end() []string {
	n := len(a.frames)
	used := a.frames[n-1]
	a.frames = a.frames[:n-1]
	return used
}

// Prepare trains (or finds) every artefact a configured method declares it needs
// (core.ArtefactUser) before its run: `ptbench sources train`.
func (a *Artefacts) Prepare(m core.Method) ([]string, error) {
	u, ok := m.(core.ArtefactUser)
	if !ok {
		return nil, nil
	}
	a.begin()
	defer a.end()
	for _, spec := range u.NeededArtefacts() {
		art, err := a.Artefact(spec)
		if err != nil {
			return nil, err
		}
		art.Close()
	}
	return append([]string(nil), a.frames[len(a.frames)-1]...), nil
}

func (a *Artefacts) appendRow(row storage.ResultRow) error {
	if a.store == nil {
		return nil
	}
	return a.store.Append(row)
}

func loadArtefact(name, path string) (*core.Artefact, error) {
	h, err := safetensors.ReadHeader(path)
	if err != nil {
		return nil, err
	}
	tensors, err := core.LoadTorchFile(path)
	if err != nil {
		return nil, err
	}
	art := &core.Artefact{Name: name, Meta: h.Metadata}
	for _, n := range h.Names() {
		art.Tensors = append(art.Tensors, core.NamedTensor{Name: n, Tensor: tensors[n]})
	}
	return art, nil
}

// ArtefactInfo describes one stored artefact for `ptbench artefacts list`.
type ArtefactInfo struct {
	Name     string                   `json:"name"`
	Path     string                   `json:"path"`
	Identity storage.ArtefactIdentity `json:"identity"`
	Tensors  map[string][]int64       `json:"tensors"`
}

// ListArtefacts reads the artefacts of a results folder (headers only).
func ListArtefacts(outDir string) ([]ArtefactInfo, error) {
	paths, err := filepath.Glob(filepath.Join(outDir, artefactDir, "*.safetensors"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []ArtefactInfo
	for _, p := range paths {
		h, err := safetensors.ReadHeader(p)
		if err != nil {
			return nil, err
		}
		info := ArtefactInfo{Name: strings.TrimSuffix(filepath.Base(p), ".safetensors"), Path: p, Tensors: map[string][]int64{}}
		if raw := h.Metadata["identity"]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &info.Identity); err != nil {
				return nil, fmt.Errorf("%s: identity metadata: %w", p, err)
			}
		}
		for _, n := range h.Names() {
			ti, _ := h.Info(n)
			info.Tensors[n] = ti.Shape
		}
		out = append(out, info)
	}
	return out, nil
}

// RenderArtefacts writes the artefact list as a markdown table.
func RenderArtefacts(w io.Writer, arts []ArtefactInfo) error {
	return table(w, []any{"Name", "Method", "Tasks", "Backbone", "Seed", "Steps", "Data", "Tensors"}, func(add func(...any)) {
		for _, a := range arts {
			var ts []string
			for n, s := range a.Tensors {
				ts = append(ts, fmt.Sprintf("%s %v", n, s))
			}
			sort.Strings(ts)
			add(a.Name, a.Identity.Method, strings.Join(a.Identity.Tasks, "+"), a.Identity.Backbone, fmt.Sprint(a.Identity.Seed),
				fmt.Sprint(a.Identity.Train.Steps), a.Identity.DataHash, strings.Join(ts, ", "))
		}
	})
}

// MethodSpec is a method by registered name with its raw settings.
type MethodSpec struct {
	Name   string
	Config map[string]any
}

// TrainSources trains (or finds) the artefacts each method declares it needs, without
// training the methods themselves: `ptbench sources train`. It returns the artefact names.
func (g *Grid) TrainSources(methods []MethodSpec) ([]string, error) {
	if g.Log == nil {
		g.Log = io.Discard
	}
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	bb, err := core.OpenBackbone(g.Backbone, g.BackboneOpts)
	if err != nil {
		return nil, err
	}
	defer bb.Close()
	arts := g.NewArtefacts(bb, store)
	var names []string
	for _, spec := range methods {
		m, err := core.NewMethod(spec.Name, spec.Config)
		if err != nil {
			return names, err
		}
		if _, ok := m.(core.ArtefactUser); !ok {
			m.Close()
			return names, fmt.Errorf("method %s uses no source artefacts", spec.Name)
		}
		got, err := arts.Prepare(m)
		m.Close()
		if err != nil {
			return names, err
		}
		names = append(names, got...)
	}
	return names, nil
}
