package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/core/storage"
)

// --offline with a hub id that is not in the local cache: a non-zero exit before anything
// loads, a message that says offline and how to fill the cache, not one request to the hub,
// and no row.
func TestOfflineNeverDials(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	old := hf.HubEndpoint
	hf.HubEndpoint = srv.URL
	defer func() { hf.HubEndpoint = old }()
	t.Setenv("HF_HUB_CACHE", t.TempDir()) // an empty cache
	t.Setenv("PTBENCH_OFFLINE", "")       // the flag alone must do it
	out := t.TempDir()
	log, err := execute("run", "--methods", "pt", "--tasks", "syn-keyword", "--backbone", "google/t5-v1_1-nonexistent",
		"--offline", "--steps", "2", "--out", out)
	if err == nil {
		t.Fatalf("an uncached hub id ran offline:\n%s", log)
	}
	msg := err.Error()
	for _, want := range []string{"offline", "google/t5-v1_1-nonexistent", "not in the local Hugging Face cache", "huggingface-cli download"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests to the hub with --offline", n)
	}
	if _, err := os.Stat(filepath.Join(out, storage.ResultsFile)); err == nil {
		t.Error("a results file was written for a refused grid")
	}
	os.Unsetenv("PTBENCH_OFFLINE") // checkOffline sets it for the process
}
