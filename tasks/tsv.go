package tasks

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// tsvRow is one data row of a tab-separated file and its 1-based line number.
type tsvRow struct {
	line   int
	fields []string
}

// tsvTable is a GLUE TSV file split on tabs only. Quotes are ordinary characters: MRPC and
// STS-B sentences contain unbalanced quotes that a CSV reader would merge across lines.
type tsvTable struct {
	path    string
	header  []string
	rows    []tsvRow
	skipped int // malformed rows dropped (only with skipMalformed)
}

type tsvOptions struct {
	// header names the columns of a file that has no header line (CoLA); nil means the
	// first line is the header.
	header []string
	// skipMalformed drops rows whose field count differs from the header's and counts them,
	// for files known to contain such rows (QQP). Otherwise such a row is an error.
	skipMalformed bool
}

// readTSV reads a whole tab-separated file. A UTF-8 byte-order mark (MRPC) and CR line
// ends are removed. A row with the wrong number of fields is an error naming file:line.
func readTSV(path string, opt tsvOptions) (*tsvTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &tsvTable{path: path, header: opt.header}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		fields := strings.Split(text, "\t")
		if t.header == nil {
			t.header = fields
			continue
		}
		if len(fields) != len(t.header) {
			if opt.skipMalformed {
				t.skipped++
				continue
			}
			return nil, fmt.Errorf("%s:%d: expected %d tab-separated fields (%s), got %d",
				path, line, len(t.header), strings.Join(t.header, ", "), len(fields))
		}
		t.rows = append(t.rows, tsvRow{line: line, fields: fields})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if t.header == nil {
		return nil, fmt.Errorf("%s:1: empty file, expected a header line", path)
	}
	return t, nil
}

// column finds a named column, or says which columns the header has.
func (t *tsvTable) column(name string) (int, error) {
	for i, h := range t.header {
		if h == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s:1: header has no column %q (columns: %s)", t.path, name, strings.Join(t.header, ", "))
}
