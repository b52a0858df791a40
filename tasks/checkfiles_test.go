package tasks

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// CheckFiles says what Load would say for want of files, without reading or downloading:
// each case's error must name the file or the location problem, and a good location none.
func TestCheckFilesNamesTheMissingFileWithoutLoading(t *testing.T) {
	onlyDev := writeFiles(t, map[string]string{"glue/RTE/dev.tsv": "index\tsentence1\tsentence2\tlabel\n"})
	cache := t.TempDir() // empty: a download would fill it
	cases := []struct {
		name string
		opts data.DataOptions
		want string // "" = no error
	}{
		{"the repository's files", data.DataOptions{DataDir: dataDir}, ""},
		{"train missing from DataDir", data.DataOptions{DataDir: onlyDev}, "glue/RTE/train.tsv not found"},
		{"nowhere to look", data.DataOptions{}, "no data location"},
		{"empty cache, offline", data.DataOptions{CacheDir: cache, Offline: true}, "data not in cache"},
		{"empty cache, online: Load will download", data.DataOptions{CacheDir: cache}, ""},
	}
	task := taskByName(t, "rte")
	fc, ok := task.(data.FileChecker)
	if !ok {
		t.Fatal("rte is not a data.FileChecker")
	}
	for _, c := range cases {
		err := fc.CheckFiles(c.opts)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		// Where CheckFiles passes over a DataDir, Load must succeed too (and fail where it fails).
		if c.opts.DataDir != "" {
			if _, lerr := task.Load(c.opts); (lerr == nil) != (err == nil) {
				t.Errorf("%s: CheckFiles %v but Load %v", c.name, err, lerr)
			}
		}
	}
}
