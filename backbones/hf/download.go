package hf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/ptbench/ptbench/core/atomicfile"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DownloadOptions configures Download. The zero value downloads public repos from the hub into
// the default cache.
type DownloadOptions struct {
	// Endpoint is the hub's base URL; empty means $HF_ENDPOINT, else DefaultEndpoint. Files are
	// fetched from {Endpoint}/{repo}/resolve/{revision}/{file}.
	Endpoint string
	// Token authenticates gated and private repos ("Authorization: Bearer"); empty for public
	// ones. TokenFromEnv finds the one huggingface-cli stored. It is never sent to another host
	// the hub redirects to (the CDN holding large files).
	Token string
	// CacheDir is the hub cache root; empty means HubCacheDir().
	CacheDir string
	// HTTPClient makes the requests; nil means a client without a global timeout (weights take
	// minutes; cancel with ctx instead).
	HTTPClient *http.Client
	// Progress, when set, is called as bytes of a file arrive: done counts bytes already on
	// disk (including a resumed prefix), total is -1 when the server does not say.
	Progress func(file string, done, total int64)
}

// ErrNotFound is wrapped by Download's error when the hub answers 404: the repo, revision or
// file does not exist (private and gated repos answer 401 instead, see HTTPError).
var ErrNotFound = errors.New("not found on the hub")

// HTTPError is an unexpected answer from the hub, with the hub's own explanation when it sent
// one (X-Error-Code / X-Error-Message), because "401" alone does not say "accept the licence".
type HTTPError struct {
	URL        string
	StatusCode int
	Code       string // X-Error-Code, e.g. "GatedRepo", "RepoNotFound", "EntryNotFound"
	Message    string // X-Error-Message
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("hf: GET %s: HTTP %d", e.URL, e.StatusCode)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		msg += " (the repo is private, gated or does not exist: pass a token with access)"
	case http.StatusForbidden:
		msg += " (the token lacks access: accept the model's licence on the hub, or check the token's permissions)"
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrNotFound) spot a 404.
func (e *HTTPError) Unwrap() error {
	if e.StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	return nil
}

// TokenFromEnv returns the token huggingface_hub would use: $HF_TOKEN, the older
// $HUGGING_FACE_HUB_TOKEN, then the file huggingface-cli login writes ($HF_TOKEN_PATH, default
// $HF_HOME/token). Empty when there is none.
func TokenFromEnv() string {
	for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if token := strings.TrimSpace(os.Getenv(name)); token != "" {
			return token
		}
	}
	tokenPath := os.Getenv("HF_TOKEN_PATH")
	if tokenPath == "" {
		tokenPath = filepath.Join(hfHome(), "token")
	}
	data, err := os.ReadFile(expandHome(tokenPath))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// Download fetches files of a model repo into the hub cache and returns the snapshot directory
// holding them, in huggingface_hub's layout:
//
//	models--org--name/blobs/<etag>                  file contents, named by content hash
//	models--org--name/snapshots/<commit>/<file>     symlinks to the blobs (copies where links fail)
//	models--org--name/refs/<revision>               the commit a branch or tag named
//
// revision is a branch, tag or commit ("" means "main"). The first file pins the commit, and
// the rest are fetched at that commit, so a push during the download cannot mix versions.
// Blobs already cached are not fetched again, and with a commit hash as revision, files already
// in its snapshot cost no request at all. Each blob is written to <blob>.incomplete and renamed
// when complete and verified (size; sha256 where the hub gives one), so an interrupted download
// never looks finished, and the next call resumes it with an HTTP Range request.
//
// Concurrent downloads of the same file by two processes are not coordinated.
func Download(ctx context.Context, repoID, revision string, files []string, opts DownloadOptions) (string, error) {
	if err := ValidateRepoID(repoID); err != nil {
		return "", err
	}
	if revision == "" {
		revision = "main"
	}
	if err := validateRevision(revision); err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("hf: Download(%s): no files requested", repoID)
	}
	for _, file := range files {
		if err := validateRepoFile(file); err != nil {
			return "", fmt.Errorf("hf: Download(%s): %w", repoID, err)
		}
	}
	d := newDownloader(repoID, opts)

	if commitPattern.MatchString(revision) && d.snapshotHas(revision, files) {
		return d.snapshotDir(revision), nil
	}
	commit := ""
	for _, file := range files {
		at := revision
		if commit != "" {
			at = commit
		}
		fileCommit, err := d.fetch(ctx, at, file)
		if err != nil {
			return "", err
		}
		if commit == "" {
			commit = fileCommit
		}
	}
	if revision != commit {
		if err := atomicfile.WriteBytes(filepath.Join(d.repoDir, "refs", filepath.FromSlash(revision)), []byte(commit)); err != nil {
			return "", fmt.Errorf("hf: recording %s of %s: %w", revision, repoID, err)
		}
	}
	return d.snapshotDir(commit), nil
}

// validateRevision keeps a revision usable as a path under refs/ without escaping it.
func validateRevision(revision string) error {
	for _, part := range strings.Split(revision, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("hf: invalid revision %q", revision)
		}
	}
	return nil
}

// validateRepoFile accepts relative slash-separated paths inside the repo and nothing that
// could write outside the snapshot directory.
func validateRepoFile(file string) error {
	if file == "" || strings.Contains(file, `\`) || path.IsAbs(file) || path.Clean(file) != file ||
		file == ".." || strings.HasPrefix(file, "../") {
		return fmt.Errorf("invalid file name %q (want a relative path inside the repo)", file)
	}
	return nil
}

type downloader struct {
	repoID   string
	repoDir  string
	endpoint string
	token    string
	client   *http.Client
	progress func(file string, done, total int64)
}

func newDownloader(repoID string, opts DownloadOptions) *downloader {
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("HF_ENDPOINT")
	}
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		cacheDir = HubCacheDir()
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return &downloader{
		repoID:   repoID,
		repoDir:  repoCacheDir(cacheDir, repoID),
		endpoint: strings.TrimRight(endpoint, "/"),
		token:    opts.Token,
		client:   client,
		progress: opts.Progress,
	}
}

func (d *downloader) snapshotDir(commit string) string {
	return filepath.Join(d.repoDir, "snapshots", commit)
}

func (d *downloader) snapshotHas(commit string, files []string) bool {
	for _, file := range files {
		if _, err := os.Stat(filepath.Join(d.snapshotDir(commit), filepath.FromSlash(file))); err != nil {
			return false
		}
	}
	return true
}

// resolveURL is {endpoint}/{repo}/resolve/{revision}/{file}; the revision is escaped whole
// ("refs/pr/1" is one path segment to the hub), the file segment by segment.
func (d *downloader) resolveURL(revision, file string) string {
	segments := strings.Split(file, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return d.endpoint + "/" + d.repoID + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segments, "/")
}

// fileMetadata is what a HEAD on the resolve URL tells before any content is fetched.
type fileMetadata struct {
	commit      string // X-Repo-Commit
	etag        string // X-Linked-Etag (large files: their sha256) or ETag; names the blob
	size        int64  // X-Linked-Size or Content-Length; -1 if unknown
	downloadURL string // where the content is: the CDN for large files
}

// safeNamePattern is what we accept from the server as a blob or snapshot folder name: the hub
// sends hex hashes, and anything with a slash or ".." could write outside the cache.
var safeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fetch makes sure one file of the given revision is in the cache and linked from its
// snapshot, and returns the commit it belongs to.
func (d *downloader) fetch(ctx context.Context, revision, file string) (string, error) {
	meta, err := d.head(ctx, d.resolveURL(revision, file))
	if err != nil {
		return "", err
	}
	blob := filepath.Join(d.repoDir, "blobs", meta.etag)
	if stat, err := os.Stat(blob); err != nil || (meta.size >= 0 && stat.Size() != meta.size) {
		if err := d.fetchBlob(ctx, file, meta, blob); err != nil {
			return "", err
		}
	}
	pointer := filepath.Join(d.snapshotDir(meta.commit), filepath.FromSlash(file))
	if err := linkOrCopy(blob, pointer); err != nil {
		return "", fmt.Errorf("hf: placing %s of %s in the cache: %w", file, d.repoID, err)
	}
	return meta.commit, nil
}

func (d *downloader) newRequest(ctx context.Context, method, target string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	req.Header.Set("User-Agent", "ptbench-hf/1")
	// identity: sizes and Range offsets must be about the stored bytes, not a gzip stream.
	req.Header.Set("Accept-Encoding", "identity")
	if d.token != "" && sameHost(req.URL, d.endpoint) {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	return req, nil
}

func sameHost(u *url.URL, endpoint string) bool {
	e, err := url.Parse(endpoint)
	return err == nil && strings.EqualFold(u.Host, e.Host)
}

// head asks for a file's metadata. Redirects within the hub (a renamed repo) are followed,
// but not the one to the CDN: that response carries the commit and the content hash, which
// the CDN's does not.
func (d *downloader) head(ctx context.Context, target string) (*fileMetadata, error) {
	req, err := d.newRequest(ctx, http.MethodHead, target)
	if err != nil {
		return nil, err
	}
	client := *d.client
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if next.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hf: HEAD %s: %w", target, err)
	}
	resp.Body.Close()
	meta := &fileMetadata{size: -1, downloadURL: resp.Request.URL.String()}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		location, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("hf: HEAD %s: redirect without a usable Location: %w", target, err)
		}
		meta.downloadURL = location.String()
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	default:
		return nil, &HTTPError{URL: target, StatusCode: resp.StatusCode,
			Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message")}
	}
	meta.commit = resp.Header.Get("X-Repo-Commit")
	meta.etag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
	if meta.etag == "" {
		meta.etag = normalizeETag(resp.Header.Get("ETag"))
	}
	// A redirect's own Content-Length is the size of its body, not of the file.
	redirected := resp.StatusCode >= 300
	if size, err := strconv.ParseInt(resp.Header.Get("X-Linked-Size"), 10, 64); err == nil && size >= 0 {
		meta.size = size
	} else if !redirected && resp.ContentLength >= 0 {
		meta.size = resp.ContentLength
	}
	switch {
	case meta.commit == "":
		return nil, fmt.Errorf("hf: HEAD %s: no X-Repo-Commit header; is %s a Hugging Face hub endpoint?", target, d.endpoint)
	case !safeNamePattern.MatchString(meta.commit):
		return nil, fmt.Errorf("hf: HEAD %s: unusable commit %q", target, meta.commit)
	case meta.etag == "":
		return nil, fmt.Errorf("hf: HEAD %s: no ETag header, so the file cannot be named in the cache", target)
	case !safeNamePattern.MatchString(meta.etag):
		return nil, fmt.Errorf("hf: HEAD %s: unusable ETag %q", target, meta.etag)
	}
	return meta, nil
}

// normalizeETag strips the weak marker and quotes: `W/"abc"` → abc.
func normalizeETag(etag string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
}

// fetchBlob downloads content into blob via blob.incomplete, resuming a partial file from an
// earlier attempt, and renames it only after the size and (when known) sha256 check out.
func (d *downloader) fetchBlob(ctx context.Context, file string, meta *fileMetadata, blob string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	partial := blob + ".incomplete"
	// Two attempts: if a resumed (or already complete) partial file fails verification, its
	// prefix was bad, so throw it away and fetch everything once more.
	for attempt := 1; ; attempt++ {
		have := int64(0)
		if stat, err := os.Stat(partial); err == nil {
			have = stat.Size()
		}
		if meta.size >= 0 && have > meta.size {
			have = 0 // longer than the file: not a prefix of it
		}
		if meta.size < 0 || have < meta.size {
			if err := d.get(ctx, file, meta, partial, have); err != nil {
				return err
			}
		}
		err := verifyBlob(partial, meta)
		if err == nil {
			break
		}
		os.Remove(partial) // a corrupt prefix must not be resumed
		if have == 0 || attempt == 2 {
			return fmt.Errorf("hf: %s of %s from %s: %w", file, d.repoID, meta.downloadURL, err)
		}
	}
	if err := os.Rename(partial, blob); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

// get streams the content into partial, asking only for the bytes after the first have.
func (d *downloader) get(ctx context.Context, file string, meta *fileMetadata, partial string, have int64) error {
	req, err := d.newRequest(ctx, http.MethodGet, meta.downloadURL)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	client := *d.client
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if next.URL.Host != via[0].URL.Host {
			next.Header.Del("Authorization") // the CDN gets a signed URL, not our token
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("hf: GET %s: %w", meta.downloadURL, err)
	}
	defer resp.Body.Close()

	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return fmt.Errorf("hf: GET %s: asked for bytes from %d, got Content-Range %q", meta.downloadURL, have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC // the server ignored Range: start over
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		os.Remove(partial) // our prefix does not fit the file; the next call starts afresh
		return fmt.Errorf("hf: GET %s: server refused to resume at byte %d; partial download discarded, try again", meta.downloadURL, have)
	default:
		return &HTTPError{URL: meta.downloadURL, StatusCode: resp.StatusCode,
			Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message")}
	}
	out, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var dst io.Writer = out
	if d.progress != nil {
		dst = &progressWriter{w: out, file: file, done: have, total: meta.size, report: d.progress}
		d.progress(file, have, meta.size)
	}
	if _, err := io.Copy(dst, resp.Body); err != nil {
		out.Close()
		return fmt.Errorf("hf: downloading %s of %s (%s; rerun to resume): %w", file, d.repoID, partial, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("hf: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

// contentRangeStart parses the first byte of "bytes 100-199/200".
func contentRangeStart(header string) (int64, bool) {
	rest, ok := strings.CutPrefix(header, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	return start, err == nil
}

// verifyBlob checks the downloaded size, and the sha256 when the ETag is one (the hub's
// X-Linked-Etag for large files is the content's sha256), catching truncated transfers and
// a resumed prefix that belonged to different content.
func verifyBlob(partial string, meta *fileMetadata) error {
	f, err := os.Open(partial)
	if err != nil {
		return err
	}
	defer f.Close()
	stat, err := f.Stat()
	if err != nil {
		return err
	}
	if meta.size >= 0 && stat.Size() != meta.size {
		return fmt.Errorf("got %d bytes, want %d", stat.Size(), meta.size)
	}
	if !sha256Pattern.MatchString(meta.etag) {
		return nil
	}
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return err
	}
	if sum := hex.EncodeToString(hash.Sum(nil)); sum != meta.etag {
		return fmt.Errorf("content sha256 %s does not match the hub's %s", sum, meta.etag)
	}
	return nil
}

type progressWriter struct {
	w           io.Writer
	file        string
	done, total int64
	report      func(file string, done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(p.file, p.done, p.total)
	return n, err
}

// symlink is os.Symlink, replaceable so tests can exercise the copy fallback used on file
// systems without symlinks.
var symlink = os.Symlink

// linkOrCopy points pointer at blob with a relative symlink, as huggingface_hub does, so the
// cache stays relocatable; where symlinks are not allowed it copies. Both are done under a
// temporary name and renamed into place, so pointer is never half-written.
func linkOrCopy(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	target, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	if existing, err := os.Readlink(pointer); err == nil && existing == target {
		return nil
	}
	tmp := pointer + ".linking"
	os.Remove(tmp)
	if err := symlink(target, tmp); err != nil {
		if err := copyFile(blob, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
