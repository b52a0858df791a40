package tasks

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"github.com/ptbench/ptbench/core/atomicfile"
	"github.com/ptbench/ptbench/internal/filehash"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Downloader fetches official archives into a cache folder and unpacks them into the layout
// Load reads (glue/<Task>/…, superglue/<Task>/…, squad/…). Every file is written to
// "<dest>.part" and renamed into place only once complete and, when its digest is known,
// verified, so an interrupted run never leaves a truncated file under the final name; the
// next run resumes the .part file with an HTTP Range request.
type Downloader struct {
	// Client does the requests; nil means http.DefaultClient.
	Client *http.Client
	// BaseURLs overrides OfficialBaseURLs per mirror ("glue", "superglue", "senteval",
	// "squad"), e.g. for a local mirror or an httptest server.
	BaseURLs map[string]string
	// Checksums replaces OfficialChecksums when non-nil (file name → SHA-256 hex); a file
	// without an entry is not verified.
	Checksums map[string]string
	// Log receives one line per download when non-nil.
	Log io.Writer
}

// DefaultDownloader is what Task.Load uses when DataDir is empty. Commands may set its Log
// or BaseURLs (a mirror); tests replace it.
var DefaultDownloader = &Downloader{}

func (d *Downloader) url(r remoteFile) string {
	base := OfficialBaseURLs[r.mirror]
	if b, ok := d.BaseURLs[r.mirror]; ok {
		base = b
	}
	return joinURL(base, r.name)
}

func (d *Downloader) checksum(name string) string {
	if d.Checksums != nil {
		return d.Checksums[name]
	}
	return OfficialChecksums[name]
}

func (d *Downloader) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return http.DefaultClient
}

func (d *Downloader) logf(format string, args ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format+"\n", args...)
	}
}

// Download fetches and unpacks the official files of one registered task into cacheDir.
func (d *Downloader) Download(ctx context.Context, task, cacheDir string) error {
	t, err := lookupFileTask(task)
	if err != nil {
		return err
	}
	return d.fetchTaskContext(ctx, t, cacheDir)
}

func (d *Downloader) fetchTask(t *fileTask, root string) error {
	return d.fetchTaskContext(context.Background(), t, root)
}

func (d *Downloader) fetchTaskContext(ctx context.Context, t *fileTask, root string) error {
	for _, r := range t.remote {
		if r.saveAs != "" {
			if err := d.Fetch(ctx, d.url(r), filepath.Join(root, filepath.FromSlash(r.saveAs)), d.checksum(r.name)); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			continue
		}
		archive := filepath.Join(root, "downloads", r.name)
		if err := d.Fetch(ctx, d.url(r), archive, d.checksum(r.name)); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if err := unzip(archive, filepath.Join(root, filepath.FromSlash(r.unpackTo))); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if t.prepare != nil {
		if err := t.prepare(root); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	for _, role := range []string{fileTrain, fileVal, fileValMatched, fileValMismatched} {
		rel, ok := t.files[role]
		if ok && !fileExists(filepath.Join(root, filepath.FromSlash(rel))) {
			return fmt.Errorf("%s: the official download did not contain %s (looked in %s)", t.name, rel, root)
		}
	}
	return nil
}

// Download fetches one task's official files into cacheDir with DefaultDownloader.
func Download(ctx context.Context, task, cacheDir string) error {
	return DefaultDownloader.Download(ctx, task, cacheDir)
}

// Fetch downloads url to dest unless dest already exists (and matches wantSHA256 when
// that is not empty). Data goes to dest+".part" first; an existing .part is resumed with a
// Range request (a server that ignores Range restarts it). On a digest mismatch the .part
// file is removed, so the next attempt starts clean.
func (d *Downloader) Fetch(ctx context.Context, url, dest, wantSHA256 string) error {
	if fileExists(dest) {
		if wantSHA256 == "" {
			return nil
		}
		got, err := filehash.SHA256(dest)
		if err != nil {
			return err
		}
		if got == wantSHA256 {
			return nil
		}
		d.logf("%s: checksum mismatch, downloading again", dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	part := dest + ".part"
	if err := d.fetchPart(ctx, url, part); err != nil {
		return err
	}
	if wantSHA256 != "" {
		got, err := filehash.SHA256(part)
		if err != nil {
			return err
		}
		if got != wantSHA256 {
			os.Remove(part)
			return fmt.Errorf("checksum mismatch for %s: got sha256 %s, want %s (the partial file was removed; try again, or check the mirror)", url, got, wantSHA256)
		}
	}
	return os.Rename(part, dest)
}

// fetchPart completes the .part file, resuming from its current size.
func (d *Downloader) fetchPart(ctx context.Context, url, part string) error {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, err := contentRangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != have {
			return fmt.Errorf("download %s: server resumed at %q, expected byte %d", url, resp.Header.Get("Content-Range"), have)
		}
		flags |= os.O_APPEND
		d.logf("resuming %s at byte %d", url, have)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // the .part file is already complete; the checksum decides
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		d.logf("downloading %s", url)
	default:
		return fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("download %s: %w (kept %s to resume)", url, err, part)
	}
	return f.Close()
}

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, error) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, errors.New("not a byte range")
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, errors.New("not a byte range")
	}
	return strconv.ParseInt(start, 10, 64)
}

// unzip extracts an archive's files under dir, each atomically (temp file + rename).
// Entries that would land outside dir are refused, macOS resource forks skipped.
func unzip(archive, dir string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("open %s: %w (delete it to download again)", archive, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := path.Clean(strings.ReplaceAll(f.Name, "\\", "/"))
		if f.FileInfo().IsDir() || strings.HasPrefix(name, "__MACOSX/") {
			continue
		}
		if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return fmt.Errorf("%s: entry %q points outside the archive folder", archive, f.Name)
		}
		if err := extractFile(f, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return fmt.Errorf("%s: %s: %w", archive, f.Name, err)
		}
	}
	return nil
}

func extractFile(f *zip.File, dest string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return atomicfile.WriteFrom(dest, rc)
}
