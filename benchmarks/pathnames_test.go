package benchmarks

import (
	"strings"
	"testing"
)

// An experiment's name becomes runs/<name>: a name with "/" or ".." is refused when the file
// is read (the issue's `name: ../../../tmp/x` wrote the whole results folder there).
func TestExperimentNameMustBeAPlainFolderName(t *testing.T) {
	body := "\nbackbone: t5-tiny\ngroups:\n  - name: g\n    methods: [pt]\n    tasks: [rte]\n    steps: 10\n"
	for _, name := range []string{"../../../tmp/x", "a/b", "..", `a\b`} {
		_, err := ParseExperiment("x.yaml", []byte("name: '"+name+"'"+body))
		if err == nil || !strings.Contains(err.Error(), "name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := ParseExperiment("x.yaml", []byte("name: fine"+body)); err != nil {
		t.Fatalf("a plain name: %v", err)
	}
}
