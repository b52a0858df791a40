package main

import (
	"strings"
	"testing"
)

// The list subcommands of `artefacts` and `sources` are one command: on an empty results
// folder both print nothing to stdout in markdown, say so on stderr in their own words, and
// agree on the JSON listing.
func TestArtefactListingsOfAnEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	var jsons []string
	for _, c := range []struct{ parent, empty string }{
		{"artefacts", "no artefacts in " + dir},
		{"sources", "no source artefacts in " + dir},
	} {
		stdout, stderr, err := executeSplit(c.parent, "list", "--results", dir)
		if err != nil || stdout != "" || strings.TrimSpace(stderr) != c.empty {
			t.Errorf("%s list: stdout %q, stderr %q, err %v; want only %q on stderr", c.parent, stdout, stderr, err, c.empty)
		}
		stdout, _, err = executeSplit(c.parent, "list", "--results", dir, "-o", "json")
		if err != nil {
			t.Errorf("%s list -o json: %v", c.parent, err)
		}
		jsons = append(jsons, stdout)
		if ex := findCommand(t, c.parent, "list").Example; !strings.Contains(ex, "ptbench "+c.parent+" list --results") {
			t.Errorf("%s list example %q names another command", c.parent, ex)
		}
	}
	if jsons[0] != jsons[1] || jsons[0] == "" {
		t.Errorf("JSON listings differ or are empty: %q vs %q", jsons[0], jsons[1])
	}
}
