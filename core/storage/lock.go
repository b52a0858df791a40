package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ptbench/ptbench/core/atomicfile"
)

// ResultsFile is the name of the results file in a results folder.
const ResultsFile = "results.jsonl"

// LockFile is the name of a results folder's writer lock. Only its flock matters: the file
// itself stays (it names the last holder), and the kernel drops the lock when the holding
// process exits however it dies, so a stale lock never blocks.
const LockFile = ".lock"

// ownedFiles are the files of a results folder written only under its lock: the temp files
// a killed writer left for them are removed when the lock is taken. Everything in the
// ownedDirs subfolders is owned too. (bench.jsonl is not: `ptbench bench` takes no lock.)
var (
	ownedFiles = map[string]bool{ResultsFile: true, "leaderboard.md": true}
	ownedDirs  = []string{"checkpoints", "artefacts", PredictionsDir}
)

// processStart is when this process started, as far as a lock holder's note goes.
var processStart = time.Now()

// ResultsOptions says how OpenResults behaves when another process holds the folder.
type ResultsOptions struct {
	// Wait blocks until the other writer is done (after saying so on Log); false fails at
	// once with a *LockedError.
	Wait bool
	// Log receives the waiting message and recovery warnings (nil: discarded).
	Log io.Writer
}

// LockedError is OpenResults' answer when another process writes the folder and
// ResultsOptions.Wait is false.
type LockedError struct {
	Path    string // the results file
	PID     int    // the holder's pid (0: unknown)
	Started string // when the holder started (RFC 3339, "" if unknown)
}

func (e *LockedError) holder() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is locked by another process", e.Path)
	}
	s := fmt.Sprintf("%s is locked by pid %d", e.Path, e.PID)
	if e.Started != "" {
		s += fmt.Sprintf(" (started %s)", e.Started)
	}
	return s
}

func (e *LockedError) Error() string {
	return e.holder() + ": another run is writing to this folder; wait for it or use another output folder"
}

// OpenResults opens dir's results file for writing with the folder's exclusive lock (flock on
// dir/.lock), creating dir if needed. One writer per folder: a second OpenResults, in this
// process or another, waits or fails (opts.Wait) until the first store is closed or its
// process is gone. With the lock held it repairs what a killed writer can leave behind:
// temp files of owned files in dir, dir/checkpoints and dir/artefacts are removed, and a torn last line
// of the results file is moved to results.jsonl.corrupt (appended) with a warning. Damage
// in the middle of the file is an error naming file:line. Close the store to release the
// lock.
func OpenResults(dir string, opts ResultsOptions) (*ResultStore, error) {
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, ResultsFile)
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: opening the lock: %w", path, err)
	}
	if err := acquire(f, path, opts.Wait, logw); err != nil {
		f.Close()
		return nil, err
	}
	// Name the holder for whoever waits next. Best effort: only the flock is the lock.
	note := fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), processStart.Format(time.RFC3339))
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(note), 0)
	}
	s := &ResultStore{Path: path, lock: f}
	if err := s.recoverAfterKill(dir, logw); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// acquire takes the flock on f, waiting (after saying so) or failing with a *LockedError.
func acquire(f *os.File, path string, wait bool, logw io.Writer) error {
	err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
		// A file system without flock (some network mounts): go on, but say what is lost.
		fmt.Fprintf(logw, "warning: %s: this file system cannot lock %s (%v); nothing stops a second run from writing this folder at the same time\n", path, f.Name(), err)
		return nil
	case !errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%s: locking %s: %w", path, f.Name(), err)
	}
	le := lockHolder(f, path)
	if !wait {
		return le
	}
	fmt.Fprintf(logw, "%s; waiting — pass --no-wait to fail instead\n", le.holder())
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%s: locking %s: %w", path, f.Name(), err)
	}
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockHolder reads the holder's note from the lock file.
func lockHolder(f *os.File, path string) *LockedError {
	le := &LockedError{Path: path}
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			le.PID, _ = strconv.Atoi(v)
		case "started":
			le.Started = v
		}
	}
	return le
}

// recoverAfterKill removes orphan temp files and moves a torn last line aside.
func (s *ResultStore) recoverAfterKill(dir string, logw io.Writer) error {
	removed, err := atomicfile.RemoveOrphans(dir, func(target string) bool { return ownedFiles[target] })
	if err != nil {
		return err
	}
	for _, sub := range ownedDirs {
		more, err := atomicfile.RemoveOrphans(filepath.Join(dir, sub), nil)
		if err != nil {
			return err
		}
		removed = append(removed, more...)
		// Merges before atomicfile's naming left ".NAME.merge-tmp".
		legacy, _ := filepath.Glob(filepath.Join(dir, sub, ".*.merge-tmp"))
		for _, p := range legacy {
			if err := os.Remove(p); err == nil {
				removed = append(removed, p)
			}
		}
	}
	if len(removed) > 0 {
		fmt.Fprintf(logw, "%s: removed %d temp files an interrupted run left: %s\n", dir, len(removed), strings.Join(removed, ", "))
	}
	raw, err := os.ReadFile(s.Path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	keep, torn := splitTorn(raw)
	rows, err := parseResults(s.Path, keep) // damage in the middle stops here with file:line
	if err != nil || torn == nil {
		return err
	}
	corrupt := s.Path + ".corrupt"
	if err := appendSynced(corrupt, append(bytes.Clone(torn), '\n')); err != nil {
		return fmt.Errorf("%s: moving a torn last line aside: %w", s.Path, err)
	}
	if err := WriteFileAtomic(s.Path, keep); err != nil {
		return err
	}
	fmt.Fprintf(logw, "warning: %s: the last line was cut short (%d bytes, an interrupted write); moved it to %s and kept the %d rows before it\n",
		s.Path, len(torn), corrupt, len(rows))
	return nil
}

// appendSynced appends data to path and fsyncs it.
func appendSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
