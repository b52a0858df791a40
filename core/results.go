package core

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ptbench/ptbench/core/atomicfile"
	"math"
	"os"
	"sync"
)

// ResultRow is one finished (or failed) run: everything needed to reproduce and compare it.
type ResultRow struct {
	RunKey          string         `json:"run_key"` // identity used for resume
	Method          string         `json:"method"`
	Label           string         `json:"label"`
	MethodConfig    any            `json:"method_config"`
	Task            string         `json:"task"`
	Benchmark       string         `json:"benchmark,omitempty"`
	Seed            int64          `json:"seed"`
	Backbone        BackboneInfo   `json:"backbone"`
	Train           TrainOptions   `json:"train"`
	KShot           int            `json:"k_shot,omitempty"`
	Status          string         `json:"status"` // ok, diverged, failed
	Error           string         `json:"error,omitempty"`
	Dev             Scores         `json:"dev,omitempty"`
	Test            Scores         `json:"test,omitempty"`
	DevScore        float64        `json:"dev_score"`
	TestScore       float64        `json:"test_score"`
	TrainableParams int64          `json:"trainable_params"`
	MeanStepSec     float64        `json:"mean_step_seconds"`
	MedianStepSec   float64        `json:"median_step_seconds"`
	PeakRSSBytes    int64          `json:"peak_rss_bytes"`
	EvalSeconds     float64        `json:"eval_seconds,omitempty"` // evaluation's share of the run's wall time
	Steps           int            `json:"steps"`
	BestStep        int            `json:"best_step"`
	FinalLoss       float64        `json:"final_loss"` // NaN/Inf are stored as null (see MarshalJSON)
	Checkpoint      string         `json:"checkpoint,omitempty"`
	Extra           map[string]any `json:"extra,omitempty"`
	CodeVersion     string         `json:"code_version,omitempty"`
	FinishedAt      string         `json:"finished_at"`
}

// MarshalJSON stores a non-finite final loss (a diverged run) as null: JSON has no NaN, and
// a diverged run must still be recorded.
func (r ResultRow) MarshalJSON() ([]byte, error) {
	type plain ResultRow
	out := struct {
		plain
		FinalLoss *float64 `json:"final_loss"`
	}{plain: plain(r)}
	if !math.IsNaN(r.FinalLoss) && !math.IsInf(r.FinalLoss, 0) {
		out.FinalLoss = &r.FinalLoss
	}
	return json.Marshal(out)
}

// ResultStore is an append-only JSONL file. Each append rewrites the file through a temp
// file and an atomic rename, so a run killed at any moment leaves either the old or the new
// file, never a torn line. A store from OpenResults also holds the folder's writer lock
// until Close; a bare &ResultStore{Path: p} takes no lock (tests, one-off tools).
type ResultStore struct {
	Path   string
	mu     sync.Mutex
	lock   *os.File // the flocked <dir>/.lock (OpenResults), nil for a bare store
	closed bool
}

// Append adds one row.
func (s *ResultStore) Append(row ResultRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%s: append after the results store was closed (its lock is released)", s.Path)
	}
	line, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("%s: encoding result: %w", s.Path, err)
	}
	old, err := os.ReadFile(s.Path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	return WriteFileAtomic(s.Path, append(append(old, line...), '\n'))
}

// Read returns every row; a malformed line is an error naming file:line.
func (s *ResultStore) Read() ([]ResultRow, error) {
	return ReadResults(s.Path)
}

// Close releases the folder's lock (if the store holds one); later Appends fail. Closing
// twice is harmless.
func (s *ResultStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor drops the flock
	s.lock, s.closed = nil, true
	return err
}

// ReadResults reads a results.jsonl file (missing file = no rows).
func ReadResults(path string) ([]ResultRow, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseResults(path, raw)
}

// ReadResultsLenient is ReadResults for readers that must not stop at a write cut short:
// a torn last line (not newline-terminated and not valid JSON) is returned apart as torn
// instead of failing; damage anywhere else is still an error naming file:line.
func ReadResultsLenient(path string) (rows []ResultRow, torn []byte, err error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	keep, torn := splitTorn(raw)
	rows, err = parseResults(path, keep)
	return rows, torn, err
}

// splitTorn separates a torn last line from the complete lines before it.
func splitTorn(raw []byte) (keep, torn []byte) {
	if len(raw) == 0 || raw[len(raw)-1] == '\n' {
		return raw, nil
	}
	cut := bytes.LastIndexByte(raw, '\n') + 1
	tail := bytes.TrimSpace(raw[cut:])
	if len(tail) == 0 || json.Valid(tail) {
		return raw, nil
	}
	return raw[:cut], raw[cut:]
}

func parseResults(path string, raw []byte) ([]ResultRow, error) {
	var rows []ResultRow
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r ResultRow
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s:%d: not a result row: %w", path, n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// WriteFileAtomic writes data through a temp file, fsync and rename (see core/atomicfile).
func WriteFileAtomic(path string, data []byte) error { return atomicfile.WriteBytes(path, data) }
