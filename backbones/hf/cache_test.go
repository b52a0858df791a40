package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHubCacheDirHonoursEnvironmentInOrder(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"HF_HUB_CACHE wins", map[string]string{"HF_HUB_CACHE": "/a", "HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c", "XDG_CACHE_HOME": "/d"}, "/a"},
		{"legacy HUGGINGFACE_HUB_CACHE", map[string]string{"HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}, "/b"},
		{"HF_HOME/hub", map[string]string{"HF_HOME": "/c", "XDG_CACHE_HOME": "/d"}, "/c/hub"},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/d"}, "/d/huggingface/hub"},
		{"default", nil, filepath.Join(home, ".cache", "huggingface", "hub")},
		{"tilde expanded", map[string]string{"HF_HOME": "~/hf"}, filepath.Join(home, "hf", "hub")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
				t.Setenv(name, tc.env[name])
			}
			if got := HubCacheDir(); got != tc.want {
				t.Errorf("HubCacheDir() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateRepoID(t *testing.T) {
	valid := []string{"t5-small", "google/t5-v1_1-small", "org_1/model.v2", "a/b"}
	invalid := []string{"", "a/b/c", "../x", "org/../x", "org--x/y", "-org/x", "org/x-", "org/x.git", "org/ x", "/abs", strings.Repeat("a", 97)}
	for _, id := range valid {
		if err := ValidateRepoID(id); err != nil {
			t.Errorf("ValidateRepoID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range invalid {
		if err := ValidateRepoID(id); err == nil {
			t.Errorf("ValidateRepoID(%q) accepted it", id)
		}
	}
}

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// cacheLayout describes a repo in a fake hub cache.
type cacheLayout struct {
	repo      string            // "org/name"
	snapshots map[string]int    // commit → age in hours (older snapshots have larger ages)
	refs      map[string]string // ref name → commit
}

func makeCache(t *testing.T, cacheDir string, layout cacheLayout) {
	t.Helper()
	repoDir := repoCacheDir(cacheDir, layout.repo)
	for commit, ageHours := range layout.snapshots {
		dir := filepath.Join(repoDir, "snapshots", commit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(commit), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-time.Duration(ageHours) * time.Hour)
		if err := os.Chtimes(dir, when, when); err != nil {
			t.Fatal(err)
		}
	}
	if len(layout.snapshots) == 0 {
		if err := os.MkdirAll(repoDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for ref, commit := range layout.refs {
		path := filepath.Join(repoDir, "refs", filepath.FromSlash(ref))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(commit+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveModelDirFromCache(t *testing.T) {
	cases := []struct {
		name       string
		layout     cacheLayout
		spec       string
		wantCommit string // snapshot expected; "" means an error is expected
		wantErr    string
	}{
		{"refs/main beats a newer snapshot",
			cacheLayout{"org/model", map[string]int{commitA: 5, commitB: 1}, map[string]string{"main": commitA}},
			"org/model", commitA, ""},
		{"only snapshot without refs",
			cacheLayout{"org/model", map[string]int{commitB: 3}, nil},
			"org/model", commitB, ""},
		{"newest snapshot without refs",
			cacheLayout{"org/model", map[string]int{commitA: 1, commitB: 9}, nil},
			"org/model", commitA, ""},
		{"dangling refs/main falls back to newest",
			cacheLayout{"org/model", map[string]int{commitA: 9, commitB: 1}, map[string]string{"main": "cccccccccccccccccccccccccccccccccccccccc"}},
			"org/model", commitB, ""},
		{"name without org",
			cacheLayout{"t5-small", map[string]int{commitA: 1}, map[string]string{"main": commitA}},
			"t5-small", commitA, ""},
		{"@branch uses refs/<branch>",
			cacheLayout{"org/model", map[string]int{commitA: 1, commitB: 2}, map[string]string{"main": commitA, "v1": commitB}},
			"org/model@v1", commitB, ""},
		{"@commit uses the snapshot directly",
			cacheLayout{"org/model", map[string]int{commitA: 1, commitB: 2}, map[string]string{"main": commitA}},
			"org/model@" + commitB, commitB, ""},
		{"unknown revision",
			cacheLayout{"org/model", map[string]int{commitA: 1}, map[string]string{"main": commitA}},
			"org/model@v9", "", `revision "v9"`},
		{"not in cache",
			cacheLayout{"org/other", map[string]int{commitA: 1}, nil},
			"org/model", "", "models--org--model"},
		{"no snapshots",
			cacheLayout{"org/model", nil, nil},
			"org/model", "", "no snapshots"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			t.Setenv("HF_HUB_CACHE", cacheDir)
			makeCache(t, cacheDir, tc.layout)
			got, err := ResolveModelDir(tc.spec)
			if tc.wantCommit == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ResolveModelDir(%q) = %q, %v; want an error mentioning %q", tc.spec, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveModelDir(%q): %v", tc.spec, err)
			}
			want := filepath.Join(repoCacheDir(cacheDir, tc.layout.repo), "snapshots", tc.wantCommit)
			if got != want {
				t.Errorf("ResolveModelDir(%q) = %q, want %q", tc.spec, got, want)
			}
		})
	}
}

func TestResolveModelDirLocalPaths(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "my-model")
	if err := os.Mkdir(modelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "weights.bin")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ResolveModelDir(modelDir + "/"); err != nil || got != modelDir {
		t.Errorf("ResolveModelDir(existing dir) = %q, %v; want %q", got, err, modelDir)
	}
	cases := []struct{ spec, want string }{
		{file, "is a file"},
		{filepath.Join(dir, "missing"), "does not exist"},
		{"./models/t5", "does not exist"},
		{"", "empty model spec"},
		{"Org/Model Name", "does not exist"},
	}
	for _, tc := range cases {
		if got, err := ResolveModelDir(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ResolveModelDir(%q) = %q, %v; want an error mentioning %q", tc.spec, got, err, tc.want)
		}
	}
}
