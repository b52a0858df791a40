package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/atomicfile"
)

// ResultRow is one finished (or failed) run: everything needed to reproduce and compare it.
type ResultRow struct {
	RunKey       string            `json:"run_key"` // identity used for resume
	Method       string            `json:"method"`
	Label        string            `json:"label"`
	MethodConfig any               `json:"method_config"`
	Task         string            `json:"task"`
	Benchmark    string            `json:"benchmark,omitempty"`
	Seed         int64             `json:"seed"`
	Backbone     core.BackboneInfo `json:"backbone"`
	// Numerics are the backbone options that changed the numbers (bf16, NF4, dropout, a
	// tokenizer override), part of the run key; nil: the defaults (float32, full precision).
	Numerics *Numerics         `json:"numerics,omitempty"`
	Train    core.TrainOptions `json:"train"`
	// TrainingRevision is the TrainingRevision the run trained under (0: before the first), so
	// that a board can tell rows of one seed trained before and after such a change apart.
	TrainingRevision int         `json:"training_revision,omitempty"`
	KShot            int         `json:"k_shot,omitempty"`
	Status           string      `json:"status"` // ok, diverged, failed
	Error            string      `json:"error,omitempty"`
	Dev              core.Scores `json:"dev,omitempty"`
	Test             core.Scores `json:"test,omitempty"`
	DevScore         float64     `json:"dev_score"`
	TestScore        float64     `json:"test_score"`
	TrainableParams  int64       `json:"trainable_params"`
	MeanStepSec      float64     `json:"mean_step_seconds"`
	MedianStepSec    float64     `json:"median_step_seconds"`
	PeakRSSBytes     int64       `json:"peak_rss_bytes"`
	EvalSeconds      float64     `json:"eval_seconds,omitempty"` // evaluation's share of the run's wall time
	Steps            int         `json:"steps"`
	BestStep         int         `json:"best_step"`
	FinalLoss        float64     `json:"final_loss"`       // NaN/Inf are stored as null (see MarshalJSON)
	Curves           *Curves     `json:"curves,omitempty"` // training loss and dev score over steps (rows before curves: nil)
	Checkpoint       string      `json:"checkpoint,omitempty"`
	// Predictions are the row's predictions files by split ("dev", "test"), relative to the
	// results folder (PredictionsFile); Invalid counts the ill-formed predictions in them.
	Predictions map[string]string   `json:"predictions,omitempty"`
	Invalid     *core.InvalidCounts `json:"invalid,omitempty"`
	Extra       map[string]any      `json:"extra,omitempty"`
	CodeVersion string              `json:"code_version,omitempty"`
	FinishedAt  string              `json:"finished_at"`
}

// Curves are a run's training curves as data, for plots (`ptbench plot`).
type Curves struct {
	// Loss is the mean training loss over consecutive windows of steps (at most
	// MaxLossPoints points), each at its window's last step.
	Loss []CurvePoint `json:"loss,omitempty"`
	// Dev is the row's task's primary dev score at every dev evaluation, in step order.
	Dev []CurvePoint `json:"dev,omitempty"`
}

// CurvePoint is one point of a curve. A non-finite value (a diverged run's loss) is stored
// as null and read back as NaN.
type CurvePoint struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// MarshalJSON writes a non-finite value as null.
func (p CurvePoint) MarshalJSON() ([]byte, error) {
	out := struct {
		Step  int      `json:"step"`
		Value *float64 `json:"value"`
	}{Step: p.Step}
	if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
		out.Value = &p.Value
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a null or missing value as NaN.
func (p *CurvePoint) UnmarshalJSON(b []byte) error {
	var in struct {
		Step  int      `json:"step"`
		Value *float64 `json:"value"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	p.Step, p.Value = in.Step, math.NaN()
	if in.Value != nil {
		p.Value = *in.Value
	}
	return nil
}

// MaxLossPoints bounds a stored loss curve's length (see LossCurve).
const MaxLossPoints = 200

// LossCurve compacts every step's loss (losses[i] is step i+1's) into at most maxPoints
// means over equal windows of consecutive steps, each at its window's last step. A window
// holding a non-finite loss has a non-finite mean.
func LossCurve(losses []float64, maxPoints int) []CurvePoint {
	if len(losses) == 0 || maxPoints <= 0 {
		return nil
	}
	w := (len(losses) + maxPoints - 1) / maxPoints
	out := make([]CurvePoint, 0, (len(losses)+w-1)/w)
	for start := 0; start < len(losses); start += w {
		end := min(start+w, len(losses))
		sum := 0.0
		for _, l := range losses[start:end] {
			sum += l
		}
		out = append(out, CurvePoint{Step: end, Value: sum / float64(end-start)})
	}
	return out
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
func (s *ResultStore) Append(row ResultRow) error { return s.AppendAll([]ResultRow{row}) }

// AppendAll adds rows in one atomic write (one rewrite and its fsyncs for all of them, as
// merge needs: a row at a time rewrote the file and synced twice per row).
func (s *ResultStore) AppendAll(rows []ResultRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%s: append after the results store was closed (its lock is released)", s.Path)
	}
	var lines []byte
	for _, row := range rows {
		line, err := json.Marshal(row)
		if err != nil {
			return fmt.Errorf("%s: encoding result: %w", s.Path, err)
		}
		lines = append(append(lines, line...), '\n')
	}
	if len(lines) == 0 {
		return nil
	}
	old, err := os.ReadFile(s.Path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	return WriteFileAtomic(s.Path, append(old, lines...))
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
		if err := CheckRow(r); err != nil { // rowcheck.go
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// WriteFileAtomic writes data through a temp file, fsync and rename (see core/atomicfile).
func WriteFileAtomic(path string, data []byte) error { return atomicfile.WriteBytes(path, data) }
