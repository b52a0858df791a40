package hf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// HubEndpoint is where FetchModel (and a backbone's extra files) download from ("" = $HF_ENDPOINT or the public hub).
// Tests point it at an httptest server.
var HubEndpoint = ""

// HubOffline reports whether downloads are switched off (HF_HUB_OFFLINE=1 or PTBENCH_OFFLINE=1).
func HubOffline() bool {
	for _, v := range []string{"HF_HUB_OFFLINE", "PTBENCH_OFFLINE"} {
		if s := os.Getenv(v); s == "1" || strings.EqualFold(s, "true") {
			return true
		}
	}
	return false
}

// FetchModel downloads a model repository's config, weights (single safetensors file, else
// the shards its index names, else pytorch_model.bin) and the first of tokenizers it has
// (T5 and Llama: spiece.model, tokenizer.json) into the HF cache and returns the snapshot
// directory. repoID may end in @revision.
func FetchModel(ctx context.Context, repoID string, tokenizers ...string) (string, error) {
	if HubOffline() {
		return "", fmt.Errorf("%s is not in the Hugging Face cache (%s) and downloads are off (HF_HUB_OFFLINE/PTBENCH_OFFLINE)", repoID, HubCacheDir())
	}
	rev := "main"
	if i := strings.IndexByte(repoID, '@'); i > 0 {
		repoID, rev = repoID[:i], repoID[i+1:]
	}
	opts := DownloadOptions{Endpoint: HubEndpoint, Token: TokenFromEnv()}
	dir, err := Download(ctx, repoID, rev, []string{ConfigFile}, opts)
	if err != nil {
		return "", err
	}
	fetched := false
	for _, f := range []string{SafetensorsWeights, SafetensorsWeightsIndex, PytorchWeights} {
		_, err := Download(ctx, repoID, rev, []string{f}, opts)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if f == SafetensorsWeightsIndex {
			ix, err := LoadWeightIndex(filepath.Join(dir, f))
			if err != nil {
				return "", err
			}
			if _, err := Download(ctx, repoID, rev, ix.Shards(), opts); err != nil {
				return "", err
			}
		}
		fetched = true
		break
	}
	if !fetched {
		return "", fmt.Errorf("%s: no model.safetensors, model.safetensors.index.json or pytorch_model.bin on the hub", repoID)
	}
	for _, f := range tokenizers {
		if _, err := Download(ctx, repoID, rev, []string{f}, opts); err == nil {
			break
		} else if !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	return dir, nil
}

// LooksLikeHubID is "org/name" or "name" with hub-legal characters and no path on disk.
func LooksLikeHubID(spec string) bool {
	if _, err := os.Stat(spec); err == nil {
		return false
	}
	base := spec
	if i := strings.IndexByte(base, '@'); i > 0 {
		base = base[:i]
	}
	return ValidateRepoID(base) == nil && strings.Count(base, "/") == 1
}
