package tasks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// readJSONL calls each for every non-blank line of a JSON-lines file with its 1-based line
// number. Lines may be long (ReCoRD passages), so there is no line-length limit. An error
// from each is returned prefixed with file:line unless it already names them.
func readJSONL(path string, each func(line int, raw []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			if line == 1 {
				raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
			}
			if e := each(line, raw); e != nil {
				var located *lineError
				if errors.As(e, &located) {
					return e
				}
				return &lineError{path: path, line: line, err: e}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
}

// lineError locates a problem in a data file as file:line.
type lineError struct {
	path string
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.path, e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// decodeLine decodes one JSON line; json.Unmarshal rejects truncated and concatenated
// records, which is what a damaged JSON-lines file usually holds.
func decodeLine(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	return nil
}

// missingField is the error for a required JSON field that is absent.
func missingField(name string) error {
	return fmt.Errorf("missing required field %q", name)
}
