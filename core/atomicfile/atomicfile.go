// Package atomicfile writes files so that a crash at any moment leaves either the old file
// or the new one, never a torn one: results.jsonl, checkpoints, downloads and the HF cache's
// refs all go through it. Pure Go, so packages that must stay free of cgo can use it.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Write creates path's folder if needed, streams write's output into a temporary sibling,
// fsyncs it, renames it over path (atomic within one directory on POSIX file systems) and
// fsyncs the directory (best effort). An existing file's permissions are kept (else 0644).
func Write(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if stat, statErr := os.Stat(path); statErr == nil {
		mode = stat.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	buffered := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(buffered); err != nil {
		return err
	}
	if err := buffered.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, openErr := os.Open(dir); openErr == nil {
		_ = d.Sync() // not every platform can fsync a directory; the data is already safe
		d.Close()
	}
	return nil
}

// WriteBytes writes data to path atomically.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom streams r to path atomically.
func WriteFrom(path string, r io.Reader) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// tempInfix separates the target's name from the random suffix in a temp file's name:
// Write makes ".NAME.tmp-NNN" beside NAME.
const tempInfix = ".tmp-"

// TempTarget reports whether name (a base name) is one of Write's temporary files and, if
// so, the name of the file it was going to replace.
func TempTarget(name string) (target string, ok bool) {
	if len(name) < 2 || name[0] != '.' {
		return "", false
	}
	i := strings.LastIndex(name, tempInfix)
	if i <= 1 || i+len(tempInfix) == len(name) {
		return "", false
	}
	return name[1:i], true
}

// RemoveOrphans deletes the temporary files a killed writer left in dir (not recursive):
// regular files named like Write's temps whose target satisfies want (nil: every target).
// Only call it while no other process can be writing those targets (under a lock). A
// missing dir is not an error. It returns the paths removed.
func RemoveOrphans(dir string, want func(target string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		target, ok := TempTarget(e.Name())
		if !ok || !e.Type().IsRegular() || (want != nil && !want(target)) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}
