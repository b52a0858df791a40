package tasks

import (
	"bufio"
	"fmt"
	"github.com/ptbench/ptbench/core/atomicfile"
	"os"
	"path/filepath"
	"strings"
)

// MRPC is not distributed as one GLUE archive: GLUE's download_glue_data.py fetches the
// original Microsoft files and the list of dev pairs, then writes train.tsv / dev.tsv /
// test.tsv. mrpcTask reads those three files; convertMRPC reproduces the script's output
// byte for byte (checked against the shared copy in the tests).

const (
	msrTrainFile = "msr_paraphrase_train.txt"
	msrTestFile  = "msr_paraphrase_test.txt"
	mrpcDevIDs   = "dev_ids.tsv"
)

func mrpcTask(i info) *fileTask {
	t := glueTask(i, "MRPC", halveValidation, standardGLUEFiles,
		glueFormat{fields: []piece{{"sentence1", "#1 String"}, {"sentence2", "#2 String"}}, labelColumn: "Quality", labels: binaryLabels},
		[]remoteFile{
			{mirror: mirrorSentEval, name: msrTrainFile, saveAs: "glue/MRPC/" + msrTrainFile},
			{mirror: mirrorSentEval, name: msrTestFile, saveAs: "glue/MRPC/" + msrTestFile},
			{mirror: mirrorGLUE, name: "mrpc_dev_ids.tsv", saveAs: "glue/MRPC/" + mrpcDevIDs},
		})
	t.prepare = func(root string) error { return convertMRPC(filepath.Join(root, "glue", "MRPC")) }
	return t
}

// convertMRPC writes train.tsv, dev.tsv and test.tsv in dir from the MSR files and the dev
// id list there, as GLUE's download script does: a training pair whose (#1 ID, #2 ID) is in
// dev_ids.tsv goes to dev.tsv, the others to train.tsv (both keep the MSR header); test.tsv
// gets an index column in place of the label.
func convertMRPC(dir string) error {
	devPairs := map[string]bool{}
	idLines, err := readLines(filepath.Join(dir, mrpcDevIDs))
	if err != nil {
		return err
	}
	for n, l := range idLines {
		ids := strings.Split(strings.TrimSpace(l), "\t")
		if len(ids) != 2 {
			return fmt.Errorf("%s:%d: expected 2 tab-separated ids, got %d fields", filepath.Join(dir, mrpcDevIDs), n+1, len(ids))
		}
		devPairs[ids[0]+"\t"+ids[1]] = true
	}

	trainPath := filepath.Join(dir, msrTrainFile)
	lines, err := readLines(trainPath)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s:1: empty file, expected the MSR header", trainPath)
	}
	var train, dev strings.Builder
	train.WriteString(lines[0] + "\n")
	dev.WriteString(lines[0] + "\n")
	for n, l := range lines[1:] {
		f := strings.Split(strings.TrimSpace(l), "\t")
		if len(f) != 5 {
			return fmt.Errorf("%s:%d: expected 5 tab-separated fields (Quality, #1 ID, #2 ID, #1 String, #2 String), got %d", trainPath, n+2, len(f))
		}
		row := strings.Join(f, "\t") + "\n"
		if devPairs[f[1]+"\t"+f[2]] {
			dev.WriteString(row)
		} else {
			train.WriteString(row)
		}
	}

	testPath := filepath.Join(dir, msrTestFile)
	lines, err = readLines(testPath)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s:1: empty file, expected the MSR header", testPath)
	}
	var test strings.Builder
	test.WriteString("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n")
	for n, l := range lines[1:] {
		f := strings.Split(strings.TrimSpace(l), "\t")
		if len(f) != 5 {
			return fmt.Errorf("%s:%d: expected 5 tab-separated fields, got %d", testPath, n+2, len(f))
		}
		fmt.Fprintf(&test, "%d\t%s\t%s\t%s\t%s\n", n, f[1], f[2], f[3], f[4])
	}
	for name, body := range map[string]string{"train.tsv": train.String(), "dev.tsv": dev.String(), "test.tsv": test.String()} {
		if err := atomicfile.WriteFrom(filepath.Join(dir, name), strings.NewReader(body)); err != nil {
			return err
		}
	}
	return nil
}

// readLines returns a file's lines without their line ends (CRLF tolerated).
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 16<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	return lines, sc.Err()
}
