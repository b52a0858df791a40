package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/atomicfile"
)

// PredictionsDir is the folder under a results folder that holds predictions files.
const PredictionsDir = "predictions"

// PredictionsFile is the path, relative to the results folder, of a row's predictions for a
// split ("dev" or "test"): predictions/<row key>.<split>.jsonl, the key made a safe file name
// (a multi-task row's "/" and anything outside [A-Za-z0-9._+-] become "_").
func PredictionsFile(rowKey, split string) string {
	var b strings.Builder
	for _, r := range rowKey {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	return filepath.Join(PredictionsDir, name+"."+split+".jsonl")
}

// WritePredictions writes preds as JSON lines to path, atomically (a reader never sees half a
// file; a file of the same name is replaced).
func WritePredictions(path string, preds []core.Prediction) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, p := range preds {
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, buf.Bytes())
}

// ReadPredictions reads a predictions file; a malformed line, a line without an id or an id
// given twice is an error naming file and line.
func ReadPredictions(path string) ([]core.Prediction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []core.Prediction
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var p core.Prediction
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if p.ID == "" {
			return nil, fmt.Errorf("%s:%d: prediction without an \"id\"", path, line)
		}
		if first, dup := seen[p.ID]; dup {
			return nil, fmt.Errorf("%s:%d: id %q was already given on line %d", path, line, p.ID, first)
		}
		seen[p.ID] = line
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
