package benchmarks

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// RunParallel runs the grid as `jobs` worker processes — libtorch's thread pool is per
// process, and small models scale poorly across threads, so two single-threaded workers beat
// one two-threaded process. The parent holds the results folder's lock throughout; it first
// trains (or finds) every source artefact the methods need, so no two workers train the same
// one; start(i, dir) must launch worker i of jobs writing its own results folder dir (see
// Grid.Worker, ArtefactDir, ResumeFrom); when all have ended, their rows are appended to the
// folder's results.jsonl and their checkpoints moved beside it. A worker that fails loses
// nothing its siblings finished.
func (g *Grid) RunParallel(jobs int, start func(worker int, dir string) (*exec.Cmd, error)) (Summary, error) {
	var sum Summary
	if g.Log == nil {
		g.Log = io.Discard
	}
	store, err := g.openStore()
	if err != nil {
		return sum, err
	}
	defer store.Close()
	if err := g.prepareArtefacts(store); err != nil {
		fmt.Fprintf(g.Log, "source artefacts: %v (the runs that need them will fail and be recorded)\n", err)
	}
	root := filepath.Join(g.OutDir, ".workers")
	if err := os.RemoveAll(root); err != nil { // a killed parallel grid's leftovers: its rows were never merged
		return sum, err
	}
	var wg sync.WaitGroup
	errs := make([]error, jobs)
	dirs := make([]string, jobs)
	for i := 0; i < jobs; i++ {
		dirs[i] = filepath.Join(root, fmt.Sprintf("w%d", i))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			return sum, err
		}
		cmd, err := start(i, dirs[i])
		if err != nil {
			return sum, fmt.Errorf("worker %d: %w", i, err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	runs := map[string]string{}
	for i, dir := range dirs {
		rows, _, err := storage.ReadResultsLenient(filepath.Join(dir, storage.ResultsFile))
		if err != nil {
			return sum, fmt.Errorf("worker %d: %w", i, err)
		}
		for _, r := range rows {
			if rel := r.Checkpoint; len(rel) > 2 && rel[:3] == "../" {
				// An artefact a worker trained lives in the parent's artefacts folder already.
				r.Checkpoint = filepath.Join(artefactDir, filepath.Base(rel))
			} else if r.Checkpoint != "" {
				if err := moveInto(filepath.Join(dir, r.Checkpoint), filepath.Join(g.OutDir, r.Checkpoint)); err != nil {
					return sum, fmt.Errorf("worker %d: checkpoint %s: %w", i, r.Checkpoint, err)
				}
			}
			for _, rel := range r.Predictions {
				if err := moveInto(filepath.Join(dir, rel), filepath.Join(g.OutDir, rel)); err != nil {
					return sum, fmt.Errorf("worker %d: predictions %s: %w", i, rel, err)
				}
			}
			if err := store.Append(r); err != nil {
				return sum, err
			}
			run, _ := r.Extra["run"].(string)
			if run == "" {
				run = r.RunKey
			}
			runs[run] = r.Status
		}
		fmt.Fprintf(g.Log, "worker %d: %d rows merged\n", i, len(rows))
	}
	for _, status := range runs {
		switch status {
		case "failed":
			sum.Failed++
		case "diverged":
			sum.Diverged++
		default:
			sum.Ran++
		}
	}
	for _, err := range errs {
		if err != nil {
			return sum, err // rows already merged stay merged
		}
	}
	return sum, os.RemoveAll(root)
}

// moveInto renames src to dst, replacing what dst held (a checkpoint file or FT's directory).
func moveInto(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return nil // a row whose checkpoint was never written (failed save) keeps its path as data
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(src, dst)
}

// prepareArtefacts trains every artefact the grid's methods declare (core.ArtefactUser), for
// the methods with a run in this grid's shard. The workers inherit the parent's --shard, so
// they split the shard's runs (Grid.Run), not the whole grid's.
func (g *Grid) prepareArtefacts(store *storage.ResultStore) error {
	var users []core.Method
	defer func() {
		for _, m := range users {
			m.Close()
		}
	}()
	inShard := g.shardMethods() // a shard prepares only what its own runs use (shard.go)
	for _, name := range g.Methods {
		if !inShard[name] {
			continue
		}
		for _, v := range g.Variants(name) { // a swept setting may change the artefacts
			m, err := core.NewMethod(name, g.VariantConfig(name, v))
			if err != nil {
				return err
			}
			if _, ok := m.(core.ArtefactUser); ok {
				users = append(users, m)
			} else {
				m.Close()
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	bb, err := core.OpenBackbone(g.Backbone, g.BackboneOpts)
	if err != nil {
		return err
	}
	defer bb.Close()
	arts := g.NewArtefacts(bb, store)
	for _, m := range users {
		if _, err := arts.Prepare(m); err != nil {
			return err
		}
	}
	return nil
}

// PrefixWriter writes each line with a prefix (workers' logs in the parent's).
type PrefixWriter struct {
	W      io.Writer
	Prefix string
	mu     sync.Mutex
	buf    []byte
}

func (p *PrefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.W, "%s%s\n", p.Prefix, p.buf[:i]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
