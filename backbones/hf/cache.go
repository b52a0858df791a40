// Package hf is the model-agnostic Hugging Face plumbing a backbone needs before it touches a
// tensor: finding a model directory (a path, or a hub id in the local HF cache), downloading
// into that cache in the layout huggingface_hub itself uses (so Python tools and ptbench share
// one copy), listing weight files, and reading config.json.
//
// It is pure Go on purpose: none of it needs libtorch, and it is tested without a network.
package hf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultEndpoint is the hub that Download talks to when neither DownloadOptions.Endpoint nor
// $HF_ENDPOINT says otherwise.
const DefaultEndpoint = "https://huggingface.co"

// HubCacheDir returns the hub cache root huggingface_hub would use, honouring the same
// variables in the same order: $HF_HUB_CACHE, the older $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
// $XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub.
func HubCacheDir() string {
	if dir := os.Getenv("HF_HUB_CACHE"); dir != "" {
		return expandHome(dir)
	}
	if dir := os.Getenv("HUGGINGFACE_HUB_CACHE"); dir != "" {
		return expandHome(dir)
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is $HF_HOME, defaulting like huggingface_hub to $XDG_CACHE_HOME/huggingface or
// ~/.cache/huggingface.
func hfHome() string {
	if dir := os.Getenv("HF_HOME"); dir != "" {
		return expandHome(dir)
	}
	if xdg := os.Getenv("XDG_CACHE_HOME"); xdg != "" {
		return filepath.Join(expandHome(xdg), "huggingface")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "huggingface")
}

// expandHome turns a leading "~/" into the home directory: paths in config files and
// environment variables are not expanded by a shell.
func expandHome(path string) string {
	if path == "~" || strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, path[1:])
		}
	}
	return path
}

// repoIDPattern is huggingface_hub's rule: an optional "namespace/" and a name, each made of
// letters, digits, '_', '-' and '.', starting and ending with a letter, digit or '_'.
var repoIDPattern = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// ValidateRepoID rejects ids the hub would reject, and in particular anything that could
// escape the cache directory when turned into a folder name.
func ValidateRepoID(repoID string) error {
	switch {
	case repoID == "":
		return errors.New("hf: empty repo id")
	case len(repoID) > 96:
		return fmt.Errorf("hf: repo id %q is longer than 96 characters", repoID)
	case !repoIDPattern.MatchString(repoID):
		return fmt.Errorf("hf: %q is not a hub repo id (want \"name\" or \"org/name\" of letters, digits, '-', '_', '.')", repoID)
	case strings.Contains(repoID, "--") || strings.Contains(repoID, ".."):
		return fmt.Errorf("hf: repo id %q may not contain \"--\" or \"..\"", repoID)
	case strings.HasSuffix(repoID, ".git"):
		return fmt.Errorf("hf: repo id %q may not end in .git", repoID)
	}
	return nil
}

// repoCacheDir is where the cache keeps one model repo: "org/name" → models--org--name.
func repoCacheDir(cacheDir, repoID string) string {
	return filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repoID, "/", "--"))
}

// commitPattern matches a full git commit hash, the only revision that can never move, so a
// file cached under it can be used without asking the hub.
var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ResolveModelDir turns what a user typed into a model directory. spec is either an existing
// directory, or a hub id ("org/name", "name", optionally "@revision") already in the local HF
// cache, where it resolves to snapshots/<commit>/ for the commit refs/main (or refs/<revision>)
// names; when the ref is missing or dangling, the only (else the newest) snapshot is used.
// It never touches the network: use Download (or huggingface-cli) to fill the cache.
func ResolveModelDir(spec string) (string, error) {
	return resolveModelDir(HubCacheDir(), spec)
}

func resolveModelDir(cacheDir, spec string) (string, error) {
	if spec == "" {
		return "", errors.New("hf: empty model spec (want a directory or a hub id like google/t5-v1_1-small)")
	}
	path := expandHome(spec)
	if stat, err := os.Stat(path); err == nil {
		if !stat.IsDir() {
			return "", fmt.Errorf("hf: model %s is a file; want the directory holding config.json and the weights", spec)
		}
		return filepath.Clean(path), nil
	}
	repoID, revision, _ := strings.Cut(spec, "@")
	if looksLikePath(spec) || ValidateRepoID(repoID) != nil || revision != "" && validateRevision(revision) != nil {
		return "", fmt.Errorf("hf: model directory %s does not exist", spec)
	}
	repoDir := repoCacheDir(cacheDir, repoID)
	if _, err := os.Stat(repoDir); err != nil {
		return "", fmt.Errorf("hf: %q is neither a directory nor a model in the Hugging Face cache (no %s); download it first or pass a directory", spec, repoDir)
	}
	snapshots := filepath.Join(repoDir, "snapshots")
	if revision != "" {
		commit := revision
		if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(revision))); err == nil {
			commit = strings.TrimSpace(string(ref))
		}
		dir := filepath.Join(snapshots, commit)
		if !isDir(dir) {
			return "", fmt.Errorf("hf: revision %q of %s is not in the cache (no refs/%s, no %s)", revision, repoID, revision, dir)
		}
		return dir, nil
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err == nil {
		if dir := filepath.Join(snapshots, strings.TrimSpace(string(ref))); isDir(dir) {
			return dir, nil
		}
	}
	return newestSnapshot(repoID, snapshots)
}

// looksLikePath tells a mistyped path ("./models/t5", "/data/t5") from a hub id, so the
// error talks about a missing directory rather than the cache.
func looksLikePath(spec string) bool {
	return filepath.IsAbs(spec) || strings.HasPrefix(spec, ".") || strings.HasPrefix(spec, "~") ||
		strings.Count(spec, "/") > 1 || strings.HasSuffix(spec, "/") || strings.Contains(spec, `\`)
}

func isDir(path string) bool {
	stat, err := os.Stat(path)
	return err == nil && stat.IsDir()
}

// newestSnapshot picks the most recently modified snapshot when no ref says which one: a
// cache filled by hand or by an older tool may have no refs/main.
func newestSnapshot(repoID, snapshots string) (string, error) {
	entries, err := os.ReadDir(snapshots)
	if err != nil {
		return "", fmt.Errorf("hf: %s is in the cache but has no snapshots (%v); download it again", repoID, err)
	}
	best := ""
	var bestTime int64
	for _, entry := range entries {
		info, err := entry.Info()
		if err != nil || !info.IsDir() {
			continue
		}
		if t := info.ModTime().UnixNano(); best == "" || t > bestTime || t == bestTime && entry.Name() > filepath.Base(best) {
			best, bestTime = filepath.Join(snapshots, entry.Name()), t
		}
	}
	if best == "" {
		return "", fmt.Errorf("hf: %s is in the cache but %s holds no snapshot; download it again", repoID, snapshots)
	}
	return best, nil
}

// ErrOffline is wrapped by CheckOffline's error.
var ErrOffline = errors.New("offline")

// CheckOffline is what --offline promises before anything loads: spec (a --backbone value that
// is not a preset) must be a local directory or file, or a hub id already in the local cache.
// An uncached hub id is an error that says so and how to fill the cache; nothing is dialled.
func CheckOffline(spec string) error {
	if _, err := os.Stat(expandHome(spec)); err == nil {
		return nil // a local path: the loaders read it
	}
	repoID, _, _ := strings.Cut(spec, "@")
	if looksLikePath(spec) || ValidateRepoID(repoID) != nil {
		return nil // not a hub id: the loaders' own "no such path" error is the right one
	}
	if _, err := ResolveModelDir(spec); err == nil {
		return nil
	}
	return fmt.Errorf("%w: backbone %s is a hub id that is not in the local Hugging Face cache (%s), and --offline never downloads; "+
		"fill the cache on a machine with network (run the same command there without --offline, or `huggingface-cli download %s`, and copy %s), "+
		"or pass the model's local directory as --backbone", ErrOffline, spec, HubCacheDir(), repoID, HubCacheDir())
}
