package t5

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptbench/ptbench/backbones/hf"
)

// HubEndpoint is where FetchFromHub downloads from ("" = $HF_ENDPOINT or the public hub).
// Tests point it at an httptest server.
var HubEndpoint = ""

// hubOffline reports whether downloads are switched off (HF_HUB_OFFLINE=1 or PTBENCH_OFFLINE=1).
func hubOffline() bool {
	for _, v := range []string{"HF_HUB_OFFLINE", "PTBENCH_OFFLINE"} {
		if s := os.Getenv(v); s == "1" || strings.EqualFold(s, "true") {
			return true
		}
	}
	return false
}

// FetchFromHub downloads a T5 repository's config, weights (single safetensors file, else
// the shards its index names, else pytorch_model.bin) and tokenizer into the HF cache and
// returns the snapshot directory.
func FetchFromHub(ctx context.Context, repoID string) (string, error) {
	if hubOffline() {
		return "", fmt.Errorf("%s is not in the Hugging Face cache (%s) and downloads are off (HF_HUB_OFFLINE/PTBENCH_OFFLINE)", repoID, hf.HubCacheDir())
	}
	rev := "main"
	if i := strings.IndexByte(repoID, '@'); i > 0 {
		repoID, rev = repoID[:i], repoID[i+1:]
	}
	opts := hf.DownloadOptions{Endpoint: HubEndpoint, Token: hf.TokenFromEnv()}
	dir, err := hf.Download(ctx, repoID, rev, []string{hf.ConfigFile}, opts)
	if err != nil {
		return "", err
	}
	fetched := false
	for _, f := range []string{hf.SafetensorsWeights, hf.SafetensorsWeightsIndex, hf.PytorchWeights} {
		_, err := hf.Download(ctx, repoID, rev, []string{f}, opts)
		if errors.Is(err, hf.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if f == hf.SafetensorsWeightsIndex {
			ix, err := hf.LoadWeightIndex(filepath.Join(dir, f))
			if err != nil {
				return "", err
			}
			if _, err := hf.Download(ctx, repoID, rev, ix.Shards(), opts); err != nil {
				return "", err
			}
		}
		fetched = true
		break
	}
	if !fetched {
		return "", fmt.Errorf("%s: no model.safetensors, model.safetensors.index.json or pytorch_model.bin on the hub", repoID)
	}
	for _, f := range []string{"spiece.model", "tokenizer.json"} {
		if _, err := hf.Download(ctx, repoID, rev, []string{f}, opts); err == nil {
			break
		} else if !errors.Is(err, hf.ErrNotFound) {
			return "", err
		}
	}
	return dir, nil
}

// looksLikeHubID is "org/name" or "name" with hub-legal characters and no path on disk.
func looksLikeHubID(spec string) bool {
	if _, err := os.Stat(spec); err == nil {
		return false
	}
	base := spec
	if i := strings.IndexByte(base, '@'); i > 0 {
		base = base[:i]
	}
	return hf.ValidateRepoID(base) == nil && strings.Count(base, "/") == 1
}
