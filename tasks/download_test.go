package tasks

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ptbench/ptbench/core/data"
)

// The downloader is tested against httptest servers only; no test touches the network.

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fileServer serves files by URL path with http.ServeContent (which honours Range) and
// records the requests it saw.
type fileServer struct {
	mu          sync.Mutex
	files       map[string][]byte
	requests    []string // "path range"
	ignoreRange bool
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.Path+" "+r.Header.Get("Range"))
	body, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.ignoreRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, filepath.Base(r.URL.Path), time.Time{}, bytes.NewReader(body))
}

func (s *fileServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func startServer(t *testing.T, files map[string][]byte) (*fileServer, *httptest.Server) {
	t.Helper()
	fs := &fileServer{files: files}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

func TestFetchChecksumMismatchRemovesThePartialFile(t *testing.T) {
	_, srv := startServer(t, map[string][]byte{"/f.zip": []byte("tampered bytes")})
	dest := filepath.Join(t.TempDir(), "f.zip")
	err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/f.zip", dest, sha([]byte("the real bytes")))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), sha([]byte("tampered bytes"))) {
		t.Fatalf("err = %v, want a checksum mismatch naming the digest received", err)
	}
	for _, p := range []string{dest, dest + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed checksum", p)
		}
	}
}

func TestFetchResumesPartialDownload(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	for _, ignoreRange := range []bool{false, true} {
		fsrv, srv := startServer(t, map[string][]byte{"/big.bin": content})
		fsrv.ignoreRange = ignoreRange
		dest := filepath.Join(t.TempDir(), "big.bin")
		if err := os.WriteFile(dest+".part", content[:4000], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/big.bin", dest, sha(content)); err != nil {
			t.Fatalf("ignoreRange=%v: %v", ignoreRange, err)
		}
		got, err := os.ReadFile(dest)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("ignoreRange=%v: resumed file differs from the original (%d bytes, err %v)", ignoreRange, len(got), err)
		}
		if req := fsrv.seen(); len(req) != 1 || req[0] != "/big.bin bytes=4000-" {
			t.Errorf("requests = %q, want one Range request from byte 4000", req)
		}
		if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
			t.Error(".part file left behind")
		}
	}
}

func TestFetchSkipsAVerifiedFile(t *testing.T) {
	fsrv, srv := startServer(t, map[string][]byte{"/a.txt": []byte("new")})
	dest := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(dest, []byte("old"), 0o644)
	if err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/a.txt", dest, sha([]byte("old"))); err != nil {
		t.Fatal(err)
	}
	if len(fsrv.seen()) != 0 {
		t.Errorf("a file with the right checksum was downloaded again: %v", fsrv.seen())
	}
	// A corrupted file is replaced.
	if err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/a.txt", dest, sha([]byte("new"))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "new" {
		t.Errorf("corrupted file not replaced: %q", b)
	}
}

func TestFetchHTTPErrorIsReported(t *testing.T) {
	_, srv := startServer(t, nil)
	err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/missing.zip", filepath.Join(t.TempDir(), "m.zip"), "")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "/missing.zip") {
		t.Errorf("err = %v, want the URL and HTTP 404", err)
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// useDownloader swaps DefaultDownloader for the test (tests using it are not parallel).
func useDownloader(t *testing.T, d *Downloader) {
	old := DefaultDownloader
	DefaultDownloader = d
	t.Cleanup(func() { DefaultDownloader = old })
}

func TestLoadDownloadsIntoCacheThenWorksOffline(t *testing.T) {
	archive := zipOf(t, map[string]string{
		"CoLA/train.tsv":          lines("gj04\t1\t\tThe cat sat.", "gj04\t0\t*\tCat the sat.", "gj04\t1\t\tDogs bark."),
		"CoLA/dev.tsv":            lines("gj04\t1\t\tBirds fly.", "gj04\t0\t*\tFly birds the."),
		"__MACOSX/CoLA/._dev.tsv": "resource fork",
	})
	fsrv, srv := startServer(t, map[string][]byte{"/glue/CoLA.zip": archive})
	useDownloader(t, &Downloader{BaseURLs: map[string]string{"glue": srv.URL + "/glue/"}, Checksums: map[string]string{"CoLA.zip": sha(archive)}})
	cache := t.TempDir()
	cola := taskByName(t, "cola")

	if _, err := cola.Load(data.DataOptions{CacheDir: cache, Offline: true}); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("offline load with an empty cache: err = %v, want an offline error", err)
	}
	if len(fsrv.seen()) != 0 {
		t.Fatal("Offline still downloaded")
	}
	ds, err := cola.Load(data.DataOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != 3 || len(ds.Dev)+len(ds.Test) != 2 || ds.Train[0].Source != "sentence: The cat sat." {
		t.Errorf("loaded %d/%d/%d, train[0] %+v", len(ds.Train), len(ds.Dev), len(ds.Test), ds.Train[0])
	}
	if _, err := os.Stat(filepath.Join(cache, "__MACOSX")); !os.IsNotExist(err) {
		t.Error("macOS resource forks were unpacked")
	}
	srv.Close()
	if _, err := cola.Load(data.DataOptions{CacheDir: cache, Offline: true}); err != nil {
		t.Errorf("offline load from a filled cache: %v", err)
	}
	if n := len(fsrv.seen()); n != 1 {
		t.Errorf("%d requests, want exactly one download", n)
	}
}

func TestDownloadMRPCConvertsLikeGLUEScript(t *testing.T) {
	files := map[string][]byte{}
	for _, name := range []string{msrTrainFile, msrTestFile} {
		files["/senteval/"+name] = readGzip(t, requireData(t, "glue/MRPC/official-"+name+".gz"))
	}
	// The repository's dev id list is byte-identical to the official one, so the official
	// checksum must verify it.
	files["/glue/mrpc_dev_ids.tsv"] = mustRead(t, filepath.Join(dataDir, "glue", "MRPC", "dev_ids.tsv"))
	_, srv := startServer(t, files)
	cache := t.TempDir()
	d := &Downloader{
		BaseURLs:  map[string]string{"glue": srv.URL + "/glue", "senteval": srv.URL + "/senteval/"},
		Checksums: map[string]string{"mrpc_dev_ids.tsv": OfficialChecksums["mrpc_dev_ids.tsv"]},
	}
	if err := d.Download(context.Background(), "mrpc", cache); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train.tsv", "dev.tsv", "test.tsv"} {
		got := mustRead(t, filepath.Join(cache, "glue", "MRPC", name))
		wantFile := filepath.Join(dataDir, "glue", "MRPC", name) // dev.tsv is kept whole
		if name != "dev.tsv" {
			wantFile = filepath.Join(dataDir, "glue", "MRPC", "official-"+name+".gz")
		}
		want := readGzip(t, wantFile)
		if !bytes.Equal(got, want) {
			t.Errorf("converted %s (%d bytes) differs from GLUE's (%d bytes)", name, len(got), len(want))
		}
	}
}

func TestOfficialSQuADDevChecksum(t *testing.T) {
	body := readGzip(t, requireData(t, "squad/official-dev-v1.1.json.gz"))
	_, srv := startServer(t, map[string][]byte{"/dev-v1.1.json": body})
	dest := filepath.Join(t.TempDir(), "squad", "dev-v1.1.json")
	if err := (&Downloader{}).Fetch(context.Background(), srv.URL+"/dev-v1.1.json", dest, OfficialChecksums["dev-v1.1.json"]); err != nil {
		t.Fatalf("the official SQuAD dev file fails the official checksum: %v", err)
	}
}

func TestUnzipRefusesPathsOutsideTheFolder(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "evil.zip")
	os.WriteFile(archive, zipOf(t, map[string]string{"../escaped.txt": "x"}), 0o644)
	if err := unzip(archive, filepath.Join(dir, "out")); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("err = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.txt")); !os.IsNotExist(err) {
		t.Error("an entry escaped the target folder")
	}
}

func TestDownloadUnknownOrGeneratedTask(t *testing.T) {
	d := &Downloader{}
	if err := d.Download(context.Background(), "nope", t.TempDir()); err == nil {
		t.Error("unknown task downloaded")
	}
	if err := d.Download(context.Background(), "syn-copy", t.TempDir()); err == nil {
		t.Error("a generated task has nothing to download")
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readGzip reads a file, gunzipping it when its name ends in .gz (the repository keeps the
// larger official files compressed).
func readGzip(t testing.TB, path string) []byte {
	t.Helper()
	b := mustRead(t, path)
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}
