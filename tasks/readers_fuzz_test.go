package tasks

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/internal/testfix"
)

// headLines is the first n lines of b (seeds stay small: the fuzzer minimises every new
// input it finds interesting, which is slow for large ones).
func headLines(b []byte, n int) []byte {
	end := 0
	for i := 0; i < n && end < len(b); i++ {
		j := bytes.IndexByte(b[end:], '\n')
		if j < 0 {
			return b
		}
		end += j + 1
	}
	return b[:end]
}

// addTaskSeeds adds, for every task, the head of each of its official files found in the
// repository's test data (single files may be absent: not every task has its files there) and the
// inline seeds.
func addTaskSeeds(f *testing.F, ts []*fileTask, lines int, inline map[string][]string) {
	root := testfix.Path(f, "data")
	for i, t := range ts {
		var roles []string
		for role := range t.files {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		for _, role := range roles {
			if root == "" {
				break
			}
			if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(t.files[role]))); err == nil {
				f.Add(uint8(i), headLines(b, lines))
			}
		}
		for _, s := range inline[t.name] {
			f.Add(uint8(i), []byte(s))
		}
	}
}

// fuzzParse runs a task's parser on content: it must return examples or an error that names
// the file and a line, never panic; examples carry the ID prefix.
func fuzzParse(t *testing.T, ts []*fileTask, which uint8, content []byte) {
	task := ts[int(which)%len(ts)]
	p := filepath.Join(t.TempDir(), "data.file")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	exs, skipped, err := task.parse(p, "fz")
	if err != nil {
		if !strings.Contains(err.Error(), p+":") {
			t.Fatalf("%s: error does not name file:line: %v", task.name, err)
		}
		return
	}
	if skipped < 0 {
		t.Fatalf("%s: %d skipped", task.name, skipped)
	}
	for _, ex := range exs {
		if !strings.HasPrefix(ex.ID, "fz/") {
			t.Fatalf("%s: example ID %q lacks the prefix", task.name, ex.ID)
		}
	}
}

// FuzzGLUEFiles: the GLUE TSV readers (one task per input, chosen by which).
func FuzzGLUEFiles(f *testing.F) {
	ts := glueTasks()
	addTaskSeeds(f, ts, 6, map[string][]string{
		"rte":  {"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n", "\ufeffindex\tsentence1\tsentence2\tlabel\r\n0\ta\tb\tnot_entailment\r\n"},
		"cola": {"gj04\t1\t\tFine.\n"},
		"stsb": {"index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\tA.\tB.\t3.8\n"},
		"qqp":  {"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\ta?\tb?\t1\n1\tbroken\n"},
	})
	f.Fuzz(func(t *testing.T, which uint8, content []byte) { fuzzParse(t, ts, which, content) })
}

// FuzzJSONTaskFiles: the SuperGLUE and ReCoRD JSON-lines readers and the SQuAD JSON reader.
func FuzzJSONTaskFiles(f *testing.F) {
	ts := append(superGLUETasks(), qaTasks()...)
	addTaskSeeds(f, ts, 2, map[string][]string{
		"boolq":   {`{"question": "q", "passage": "p", "label": true}` + "\n"},
		"cb":      {`{"premise": "p", "hypothesis": "h", "label": "neutral"}` + "\n"},
		"wic":     {`{"word": "bank", "sentence1": "The bank.", "sentence2": "A river bank.", "start1": 4, "end1": 8, "start2": 8, "end2": 12, "label": false}` + "\n"},
		"wsc":     {`{"text": "A b c.", "target": {"span1_index": 0, "span1_text": "A", "span2_index": 1, "span2_text": "b"}, "label": true}` + "\n"},
		"multirc": {`{"idx": 0, "passage": {"text": "t", "questions": [{"question": "q", "idx": 0, "answers": [{"text": "a", "idx": 0, "label": 1}]}]}}` + "\n"},
		"record":  {`{"idx": 0, "passage": {"text": "@highlight A b", "entities": [{"start": 11, "end": 11}]}, "qas": [{"idx": 0, "query": "@placeholder b", "answers": [{"start": 11, "end": 11, "text": "A"}]}]}` + "\n"},
		"squad":   {`{"data": [{"paragraphs": [{"context": "c d", "qas": [{"id": "x", "question": "q", "answers": [{"text": "c"}]}]}]}]}`},
	})
	f.Fuzz(func(t *testing.T, which uint8, content []byte) { fuzzParse(t, ts, which, content) })
}

// FuzzMRPCConvert: the conversion of the original MSR paraphrase files (as GLUE's script does)
// either fails with an error or writes a dev.tsv and train.tsv the MRPC reader then parses
// without panicking.
func FuzzMRPCConvert(f *testing.F) {
	header := "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
	seed := func(train, test, ids []byte) { f.Add(train, test, ids) }
	read := func(name string) []byte { return headLines(readGzip(f, testfix.Path(f, "data/glue/MRPC/"+name)), 5) }
	seed(read("official-"+msrTrainFile+".gz"), read("official-"+msrTestFile+".gz"), read(mrpcDevIDs))
	seed([]byte(header+"1\t1\t2\tA.\tB.\n0\t3\t4\tC.\tD.\n"), []byte(header+"1\t5\t6\tE.\tF.\n"), []byte("1\t2\n"))
	seed([]byte(header), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, train, test, ids []byte) {
		dir := t.TempDir()
		for name, b := range map[string][]byte{msrTrainFile: train, msrTestFile: test, mrpcDevIDs: ids} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := convertMRPC(dir); err != nil {
			return
		}
		var mrpc *fileTask
		for _, task := range glueTasks() {
			if task.name == "mrpc" {
				mrpc = task
			}
		}
		for _, name := range []string{"train.tsv", "dev.tsv", "test.tsv"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("converted without writing %s: %v", name, err)
			}
		}
		for _, name := range []string{"train.tsv", "dev.tsv"} {
			mrpc.parse(filepath.Join(dir, name), "fz")
		}
	})
}
