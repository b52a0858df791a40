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
// file, never a torn line.
type ResultStore struct {
	Path string
	mu   sync.Mutex
}

// Append adds one row.
func (s *ResultStore) Append(row ResultRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// ReadResults reads a results.jsonl file (missing file = no rows).
func ReadResults(path string) ([]ResultRow, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
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
