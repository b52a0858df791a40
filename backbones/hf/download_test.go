package hf

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const hubCommit = "0123456789abcdef0123456789abcdef01234567"

type fakeFile struct {
	content []byte
	lfs     bool // large file: the hub redirects to the CDN and sends X-Linked-Etag = sha256
}

// fakeHub imitates the two servers huggingface_hub talks to: the hub, answering resolve URLs
// with metadata headers (and redirecting large files), and a CDN serving large files' bytes.
type fakeHub struct {
	hub, cdn *httptest.Server
	repo     string
	files    map[string]fakeFile
	branches map[string]string // revision name → commit
	token    string            // when set, the hub answers 401 without it

	mu       sync.Mutex
	requests []string // "HUB HEAD /path" and "CDN GET /path range=..." in arrival order
	hubAuth  []string // Authorization headers the hub saw
	cdnAuth  []string // Authorization headers the CDN saw

	// Fault injection.
	truncateNextCDN int    // >0: the next CDN GET sends this many bytes, then drops the connection
	ignoreRange     bool   // the CDN answers 200 with the whole file even when asked for a range
	corruptCDN      bool   // the CDN serves bytes that do not match the advertised sha256
	etagOverride    string // replaces the ETag of regular files
	omitCommit      bool   // leave out X-Repo-Commit
	cdnStatus       int    // when set, the CDN answers every request with this status
}

func newFakeHub(t *testing.T, repo string, files map[string]fakeFile) *fakeHub {
	h := &fakeHub{repo: repo, files: files, branches: map[string]string{"main": hubCommit, "refs/pr/1": hubCommit}}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(h.hub.Close)
	t.Cleanup(h.cdn.Close)
	return h
}

func (h *fakeHub) log(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, fmt.Sprintf(format, args...))
}

func (h *fakeHub) requestLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

func (h *fakeHub) count(prefix string) int {
	n := 0
	for _, r := range h.requestLog() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func gitBlobSHA1(content []byte) string {
	sum := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(content))), content...))
	return hex.EncodeToString(sum[:])
}

func sha256Hex(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.log("HUB %s %s", r.Method, r.URL.EscapedPath())
	h.mu.Lock()
	h.hubAuth = append(h.hubAuth, r.Header.Get("Authorization"))
	h.mu.Unlock()
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/old-org/model/resolve/"); ok {
		// A renamed repo: the hub answers with a relative redirect to the new name.
		http.Redirect(w, r, "/"+h.repo+"/resolve/"+rest, http.StatusTemporaryRedirect)
		return
	}
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.Header().Set("X-Error-Message", "Access to model "+h.repo+" is restricted.")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/"+h.repo+"/resolve/")
	if !ok {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	escapedRevision, escapedFile, _ := strings.Cut(rest, "/")
	revision, _ := url.PathUnescape(escapedRevision)
	file, _ := url.PathUnescape(escapedFile)
	commit, ok := h.branches[revision]
	if !ok && revision == hubCommit {
		commit, ok = hubCommit, true
	}
	if !ok {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+revision)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f, ok := h.files[file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !h.omitCommit {
		w.Header().Set("X-Repo-Commit", commit)
	}
	if f.lfs {
		sum := sha256Hex(f.content)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.content)))
		w.Header().Set("ETag", `"not-the-content-hash"`)
		http.Redirect(w, r, h.cdn.URL+"/repos/"+sum+"?X-Amz-Signature=abc", http.StatusFound)
		return
	}
	etag := gitBlobSHA1(f.content)
	if h.etagOverride != "" {
		etag = h.etagOverride
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.content))
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.log("CDN %s %s range=%s", r.Method, r.URL.Path, r.Header.Get("Range"))
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	truncate := h.truncateNextCDN
	h.truncateNextCDN = 0
	h.mu.Unlock()
	var content []byte
	for _, f := range h.files {
		if f.lfs && "/repos/"+sha256Hex(f.content) == r.URL.Path {
			content = f.content
		}
	}
	if content == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if h.cdnStatus != 0 {
		w.WriteHeader(h.cdnStatus)
		return
	}
	if h.corruptCDN {
		content = bytes.ToUpper(content)
	}
	switch {
	case truncate > 0:
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.WriteHeader(http.StatusOK)
		w.Write(content[:truncate])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	case h.ignoreRange:
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content)
	default:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
	}
}

func (h *fakeHub) options(cacheDir string) DownloadOptions {
	return DownloadOptions{Endpoint: h.hub.URL, CacheDir: cacheDir}
}

// standardFiles is a small model repo: a regular config, a large weights file, a nested file.
func standardFiles() map[string]fakeFile {
	weights := bytes.Repeat([]byte("0123456789abcdef"), 320) // 5120 bytes
	return map[string]fakeFile{
		"config.json":          {content: []byte(`{"model_type":"t5"}`)},
		"model.safetensors":    {content: weights, lfs: true},
		"tokenizer/vocab.json": {content: []byte(`{"a":1}`)},
	}
}

var standardNames = []string{"config.json", "model.safetensors", "tokenizer/vocab.json"}

func assertNoPartialFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(path, ".incomplete") || strings.Contains(d.Name(), ".tmp-") || strings.HasSuffix(path, ".linking")) {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}

func TestDownloadPlacesFilesInCacheLayout(t *testing.T) {
	files := standardFiles()
	hub := newFakeHub(t, "org/model", files)
	cacheDir := t.TempDir()
	dir, err := Download(context.Background(), "org/model", "", standardNames, hub.options(cacheDir))
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	repoDir := filepath.Join(cacheDir, "models--org--model")
	if want := filepath.Join(repoDir, "snapshots", hubCommit); dir != want {
		t.Errorf("Download returned %q, want %q", dir, want)
	}
	for _, name := range standardNames {
		pointer := filepath.Join(dir, filepath.FromSlash(name))
		got, err := os.ReadFile(pointer)
		if err != nil || !bytes.Equal(got, files[name].content) {
			t.Errorf("%s: read %d bytes (%v), want the served %d bytes", name, len(got), err, len(files[name].content))
		}
		target, err := os.Readlink(pointer)
		if err != nil || filepath.IsAbs(target) || !strings.Contains(target, "blobs") {
			t.Errorf("%s: snapshot entry should be a relative symlink into blobs/, got %q, %v", name, target, err)
		}
	}
	if _, err := os.Stat(filepath.Join(repoDir, "blobs", sha256Hex(files["model.safetensors"].content))); err != nil {
		t.Errorf("large file's blob is not named by its sha256: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "blobs", gitBlobSHA1(files["config.json"].content))); err != nil {
		t.Errorf("regular file's blob is not named by its ETag: %v", err)
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(ref) != hubCommit {
		t.Errorf("refs/main = %q, %v; want %s", ref, err, hubCommit)
	}
	// The first file pins the commit; later files are asked for at that commit.
	if hub.count("HUB HEAD /org/model/resolve/main/") != 1 || hub.count("HUB HEAD /org/model/resolve/"+hubCommit+"/") != 2 {
		t.Errorf("want 1 HEAD at main then 2 at the pinned commit, got %q", hub.requestLog())
	}
	assertNoPartialFiles(t, cacheDir)

	t.Setenv("HF_HUB_CACHE", cacheDir)
	if resolved, err := ResolveModelDir("org/model"); err != nil || resolved != dir {
		t.Errorf("ResolveModelDir after Download = %q, %v; want %q", resolved, err, dir)
	}
}

func TestDownloadReusesTheCache(t *testing.T) {
	hub := newFakeHub(t, "org/model", standardFiles())
	cacheDir := t.TempDir()
	ctx := context.Background()
	if _, err := Download(ctx, "org/model", "main", standardNames, hub.options(cacheDir)); err != nil {
		t.Fatal(err)
	}
	gets := hub.count("CDN GET") + hub.count("HUB GET")
	if gets != 3 {
		t.Fatalf("first download made %d GETs, want 3: %q", gets, hub.requestLog())
	}

	// A branch must be re-resolved (it may have moved), but cached blobs are not fetched again.
	if _, err := Download(ctx, "org/model", "main", standardNames, hub.options(cacheDir)); err != nil {
		t.Fatal(err)
	}
	if again := hub.count("CDN GET") + hub.count("HUB GET"); again != gets {
		t.Errorf("second download fetched content again: %q", hub.requestLog())
	}

	// A commit cannot move: a complete snapshot costs no request at all.
	before := len(hub.requestLog())
	dir, err := Download(ctx, "org/model", hubCommit, standardNames, hub.options(cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	if after := len(hub.requestLog()); after != before {
		t.Errorf("download at a cached commit made %d requests", after-before)
	}
	if !strings.HasSuffix(dir, hubCommit) {
		t.Errorf("dir = %q", dir)
	}
}

func TestDownloadResumesInterruptedTransfer(t *testing.T) {
	files := standardFiles()
	hub := newFakeHub(t, "org/model", files)
	cacheDir := t.TempDir()
	hub.truncateNextCDN = 1000
	_, err := Download(context.Background(), "org/model", "main", []string{"model.safetensors"}, hub.options(cacheDir))
	if err == nil || !strings.Contains(err.Error(), "rerun to resume") {
		t.Fatalf("interrupted download: err = %v, want one saying it can resume", err)
	}
	weights := files["model.safetensors"].content
	blob := filepath.Join(cacheDir, "models--org--model", "blobs", sha256Hex(weights))
	if stat, err := os.Stat(blob + ".incomplete"); err != nil || stat.Size() != 1000 {
		t.Fatalf("partial file after interruption: %v, %v; want 1000 bytes", stat, err)
	}
	if _, err := os.Stat(blob); err == nil {
		t.Fatal("an interrupted download produced the final blob")
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "models--org--model", "snapshots", hubCommit, "model.safetensors")); err == nil {
		t.Fatal("an interrupted download is visible in the snapshot")
	}

	dir, err := Download(context.Background(), "org/model", "main", []string{"model.safetensors"}, hub.options(cacheDir))
	if err != nil {
		t.Fatalf("resumed download: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
		t.Errorf("resumed file has %d bytes, differs from the served %d", len(got), len(weights))
	}
	if hub.count("CDN GET /repos/"+sha256Hex(weights)+" range=bytes=1000-") != 1 {
		t.Errorf("resume did not ask for bytes=1000-: %q", hub.requestLog())
	}
	assertNoPartialFiles(t, cacheDir)
}

func TestDownloadRecoversFromBadPartialFiles(t *testing.T) {
	cases := []struct {
		name        string
		prefix      func(content []byte) []byte
		ignoreRange bool
		wantGETs    int
	}{
		{"server ignores Range: start over", func(c []byte) []byte { return c[:700] }, true, 1},
		{"corrupt prefix fails sha256: refetch whole", func(c []byte) []byte { return bytes.Repeat([]byte{'x'}, 700) }, false, 2},
		{"complete but corrupt partial: refetch whole", func(c []byte) []byte { return bytes.Repeat([]byte{'x'}, len(c)) }, false, 1},
		{"longer than the file: start over", func(c []byte) []byte { return append(append([]byte{}, c...), 'x') }, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := standardFiles()
			weights := files["model.safetensors"].content
			hub := newFakeHub(t, "org/model", files)
			hub.ignoreRange = tc.ignoreRange
			cacheDir := t.TempDir()
			blobs := filepath.Join(cacheDir, "models--org--model", "blobs")
			os.MkdirAll(blobs, 0o755)
			if err := os.WriteFile(filepath.Join(blobs, sha256Hex(weights)+".incomplete"), tc.prefix(weights), 0o644); err != nil {
				t.Fatal(err)
			}
			dir, err := Download(context.Background(), "org/model", "main", []string{"model.safetensors"}, hub.options(cacheDir))
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, weights) {
				t.Errorf("file has %d bytes and differs from the served %d", len(got), len(weights))
			}
			if gets := hub.count("CDN GET"); gets != tc.wantGETs {
				t.Errorf("%d CDN GETs, want %d: %q", gets, tc.wantGETs, hub.requestLog())
			}
			assertNoPartialFiles(t, cacheDir)
		})
	}
}

func TestDownloadRejectsContentNotMatchingItsHash(t *testing.T) {
	hub := newFakeHub(t, "org/model", standardFiles())
	hub.corruptCDN = true
	cacheDir := t.TempDir()
	_, err := Download(context.Background(), "org/model", "main", []string{"model.safetensors"}, hub.options(cacheDir))
	if err == nil || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("err = %v, want a sha256 mismatch naming the file", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "models--org--model", "blobs"))
	if len(entries) != 0 {
		t.Errorf("a corrupt download left %d entries in blobs/", len(entries))
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "models--org--model", "snapshots", hubCommit, "model.safetensors")); err == nil {
		t.Error("a corrupt download is visible in the snapshot")
	}
}

func TestDownloadSendsTokenOnlyToTheHub(t *testing.T) {
	hub := newFakeHub(t, "org/private", standardFiles())
	hub.token = "hf_secret"
	opts := hub.options(t.TempDir())

	_, err := Download(context.Background(), "org/private", "", []string{"config.json"}, opts)
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != 401 || !strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "GatedRepo") {
		t.Fatalf("without a token: err = %v, want a 401 HTTPError suggesting a token", err)
	}

	opts.Token = "hf_secret"
	if _, err := Download(context.Background(), "org/private", "", standardNames, opts); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, auth := range hub.hubAuth[1:] {
		if auth != "Bearer hf_secret" {
			t.Errorf("hub saw Authorization %q, want the token", auth)
		}
	}
	if len(hub.cdnAuth) == 0 {
		t.Fatal("the CDN was never asked")
	}
	for _, auth := range hub.cdnAuth {
		if auth != "" {
			t.Errorf("the token leaked to the CDN: %q", auth)
		}
	}
}

func TestDownloadErrors(t *testing.T) {
	cases := []struct {
		name         string
		repo, rev    string
		files        []string
		setup        func(h *fakeHub)
		want         []string
		wantNotFound bool
		wantRequests bool
	}{
		{"missing file", "org/model", "", []string{"nope.bin"}, nil, []string{"404", "EntryNotFound", "/org/model/resolve/main/nope.bin"}, true, true},
		{"unknown revision", "org/model", "v9", []string{"config.json"}, nil, []string{"RevisionNotFound"}, true, true},
		{"unknown repo", "org/absent", "", []string{"config.json"}, nil, []string{"RepoNotFound"}, true, true},
		{"no commit header", "org/model", "", []string{"config.json"}, func(h *fakeHub) { h.omitCommit = true }, []string{"X-Repo-Commit"}, false, true},
		{"unsafe etag", "org/model", "", []string{"config.json"}, func(h *fakeHub) { h.etagOverride = "../../../evil" }, []string{"unusable ETag"}, false, true},
		{"bad repo id", "org/../x", "", []string{"config.json"}, nil, []string{"repo id"}, false, false},
		{"file escaping the snapshot", "org/model", "", []string{"../config.json"}, nil, []string{"invalid file name"}, false, false},
		{"absolute file", "org/model", "", []string{"/etc/passwd"}, nil, []string{"invalid file name"}, false, false},
		{"no files", "org/model", "", nil, nil, []string{"no files"}, false, false},
		{"revision escaping refs", "org/model", "../x", []string{"config.json"}, nil, []string{"invalid revision"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hub := newFakeHub(t, "org/model", standardFiles())
			if tc.setup != nil {
				tc.setup(hub)
			}
			cacheDir := t.TempDir()
			_, err := Download(context.Background(), tc.repo, tc.rev, tc.files, hub.options(cacheDir))
			if err == nil {
				t.Fatal("Download succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if got := errors.Is(err, ErrNotFound); got != tc.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tc.wantNotFound)
			}
			if made := len(hub.requestLog()) > 0; made != tc.wantRequests {
				t.Errorf("made requests: %v, want %v", made, tc.wantRequests)
			}
			if _, err := os.Stat(filepath.Join(cacheDir, "evil")); err == nil {
				t.Error("a hostile ETag wrote outside blobs/")
			}
		})
	}
}

func TestDownloadFollowsRenamedRepoAndEscapesRevisions(t *testing.T) {
	hub := newFakeHub(t, "org/model", standardFiles())
	cacheDir := t.TempDir()
	dir, err := Download(context.Background(), "old-org/model", "", []string{"config.json"}, hub.options(cacheDir))
	if err != nil {
		t.Fatalf("renamed repo: %v", err)
	}
	if want := filepath.Join(cacheDir, "models--old-org--model", "snapshots", hubCommit); dir != want {
		t.Errorf("renamed repo cached at %q, want under the requested id %q", dir, want)
	}

	if _, err := Download(context.Background(), "org/model", "refs/pr/1", []string{"config.json"}, hub.options(cacheDir)); err != nil {
		t.Fatalf("revision with slashes: %v", err)
	}
	if hub.count("HUB HEAD /org/model/resolve/refs%2Fpr%2F1/config.json") != 1 {
		t.Errorf("revision refs/pr/1 was not sent as one escaped segment: %q", hub.requestLog())
	}
	if ref, err := os.ReadFile(filepath.Join(cacheDir, "models--org--model", "refs", "refs", "pr", "1")); err != nil || string(ref) != hubCommit {
		t.Errorf("refs/refs/pr/1 = %q, %v", ref, err)
	}
}

func TestDownloadReportsProgressAndHonoursCancellation(t *testing.T) {
	files := standardFiles()
	hub := newFakeHub(t, "org/model", files)
	opts := hub.options(t.TempDir())
	var lastDone, lastTotal int64 = -1, -1
	opts.Progress = func(file string, done, total int64) {
		if file == "model.safetensors" {
			lastDone, lastTotal = done, total
		}
	}
	if _, err := Download(context.Background(), "org/model", "", []string{"model.safetensors"}, opts); err != nil {
		t.Fatal(err)
	}
	size := int64(len(files["model.safetensors"].content))
	if lastDone != size || lastTotal != size {
		t.Errorf("last progress report %d/%d, want %d/%d", lastDone, lastTotal, size, size)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Download(ctx, "org/model", "", []string{"config.json"}, hub.options(t.TempDir()))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled download: err = %v, want context.Canceled", err)
	}
}

func TestTokenFromEnv(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"HF_TOKEN first", map[string]string{"HF_TOKEN": "a", "HUGGING_FACE_HUB_TOKEN": "b", "HF_HOME": home}, "a"},
		{"legacy variable", map[string]string{"HUGGING_FACE_HUB_TOKEN": "b", "HF_HOME": home}, "b"},
		{"token file under HF_HOME", map[string]string{"HF_HOME": home}, "hf_from_file"},
		{"HF_TOKEN_PATH", map[string]string{"HF_HOME": t.TempDir(), "HF_TOKEN_PATH": filepath.Join(home, "token")}, "hf_from_file"},
		{"none", map[string]string{"HF_HOME": t.TempDir()}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME", "HF_TOKEN_PATH"} {
				t.Setenv(name, tc.env[name])
			}
			if got := TokenFromEnv(); got != tc.want {
				t.Errorf("TokenFromEnv() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDownloadCopiesWhereSymlinksFail(t *testing.T) {
	saved := symlink
	symlink = func(string, string) error { return errors.New("symlinks not supported") }
	t.Cleanup(func() { symlink = saved })
	files := standardFiles()
	hub := newFakeHub(t, "org/model", files)
	cacheDir := t.TempDir()
	dir, err := Download(context.Background(), "org/model", "", standardNames, hub.options(cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range standardNames {
		pointer := filepath.Join(dir, filepath.FromSlash(name))
		stat, err := os.Lstat(pointer)
		if err != nil || !stat.Mode().IsRegular() {
			t.Errorf("%s: want a regular-file copy, got %v, %v", name, stat, err)
			continue
		}
		if got, _ := os.ReadFile(pointer); !bytes.Equal(got, files[name].content) {
			t.Errorf("%s: copy differs from the served content", name)
		}
	}
	assertNoPartialFiles(t, cacheDir)
}

func TestDownloadReportsCDNFailures(t *testing.T) {
	hub := newFakeHub(t, "org/model", standardFiles())
	hub.cdnStatus = http.StatusForbidden
	cacheDir := t.TempDir()
	_, err := Download(context.Background(), "org/model", "", []string{"model.safetensors"}, hub.options(cacheDir))
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusForbidden || !strings.HasPrefix(httpErr.URL, hub.cdn.URL) {
		t.Fatalf("err = %v, want a 403 HTTPError naming the CDN URL", err)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "models--org--model", "snapshots", hubCommit, "model.safetensors")); err == nil {
		t.Error("a failed download is visible in the snapshot")
	}
}
