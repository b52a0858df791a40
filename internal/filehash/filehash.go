// Package filehash fingerprints files. Pure Go, so packages that must build without cgo
// (tasks' downloader) and the plugin host (pinned plugin binaries) share one implementation.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// SHA256 is the lower-case hex SHA-256 of the file at path, read in a stream (data sets and
// plugin binaries need not fit in memory). Errors name the path.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
