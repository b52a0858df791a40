package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/internal/filehash"
)

// TestDiscoveryAndListing: ptbench-method-<name> binaries in $PTBENCH_PLUGIN_DIR (then $PATH)
// are found by name, listed with their source (a plugin named like a built-in is shown as
// shadowed), registered for core.NewMethod, pinnable by SHA-256; an unknown name says where
// ptbench looked.
func TestDiscoveryAndListing(t *testing.T) {
	dir, pathDir := t.TempDir(), t.TempDir()
	for _, l := range []struct{ dir, name string }{
		{dir, "ptbench-method-disc"}, {dir, "ptbench-method-pt"}, {pathDir, "ptbench-method-disc"}, {pathDir, "ptbench-method-onpath"},
	} {
		if err := os.Symlink(testPlugin, filepath.Join(l.dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ptbench-method-notexec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PTBENCH_PLUGIN_DIR", dir)
	t.Setenv("PATH", pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	found := map[string]Found{}
	for _, f := range Discover() {
		found[f.Name] = f
	}
	if f := found["disc"]; f.Path != filepath.Join(dir, "ptbench-method-disc") || f.Dir != "$PTBENCH_PLUGIN_DIR" {
		t.Errorf("disc found as %+v; want the $PTBENCH_PLUGIN_DIR copy to win over $PATH", f)
	}
	if f := found["onpath"]; f.Dir != "$PATH" {
		t.Errorf("onpath found as %+v", f)
	}
	if _, ok := found["notexec"]; ok {
		t.Error("a non-executable file was discovered")
	}

	listed := map[string]Listing{}
	for _, l := range List(true) {
		listed[l.Name+" "+l.Source] = l
	}
	if l, ok := listed["disc "+filepath.Join(dir, "ptbench-method-disc")]; !ok || !strings.Contains(l.About, "Prompt tuning through the plugin SDK") || l.Version != "1.0.0" {
		t.Errorf("listing of disc: %+v (all: %v)", l, listed)
	}
	if l, ok := listed["pt built-in"]; !ok || l.About == "" {
		t.Errorf("built-in pt not listed as built-in: %v", listed)
	}
	if l := listed["pt "+filepath.Join(dir, "ptbench-method-pt")]; !strings.Contains(l.About, "shadowed") {
		t.Errorf("a plugin named pt should be listed as shadowed: %+v", l)
	}

	if err := RegisterPlugins([]string{"pt", "disc"}); err != nil {
		t.Fatal(err)
	}
	m, err := core.NewMethod("disc", map[string]any{"length": 3})
	if err != nil {
		t.Fatal(err)
	}
	if hm := m.(*Method); hm.Source() != filepath.Join(dir, "ptbench-method-disc") || hm.Config().(map[string]any)["length"] != 3.0 {
		t.Errorf("disc: source %s config %v", hm.Source(), hm.Config())
	}
	m.Close()
	for _, l := range List(false) {
		if l.Name == "disc" && l.Source == "built-in" {
			t.Error("a registered plugin is listed as built-in")
		}
	}

	sum, _ := filehash.SHA256(testPlugin)
	if err := RegisterPlugins([]string{"onpath@sha256:" + sum}); err != nil {
		t.Errorf("pinned with the right digest: %v", err)
	}
	err = RegisterPlugins([]string{"onpath@sha256:" + strings.Repeat("ab", 32)})
	wantErr(t, err, "SHA-256 mismatch")
	err = RegisterPlugins([]string{"nosuch"})
	wantErr(t, err, `unknown method "nosuch"`, "ptbench-method-nosuch", "$PTBENCH_PLUGIN_DIR", "plugin:PATH")
	err = RegisterPlugins([]string{"plugin:" + filepath.Join(dir, "missing")})
	wantErr(t, err, "no such file")
	err = RegisterPlugins([]string{"plugin:" + filepath.Join(dir, "ptbench-method-notexec")})
	wantErr(t, err, "not an executable")
	assertNoChildren(t)
}
