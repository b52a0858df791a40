package host

import "github.com/ptbench/ptbench/internal/filehash"

// Run keys of plugin runs. A run key hashes its method's config; a plugin's resolved config
// is only known once the plugin answered, so a plugin that failed to start used to be keyed
// by its settings plus "(not started)", and its retry, once the plugin started, by the
// resolved config: two keys, and the failed row counted as a failure of that run forever.
// A plugin run is keyed instead by what is known before it starts and fixes what it
// computes: the settings as given (less the host's deadline, which changes no number) and
// the SHA-256 of the binary (which fixes the plugin's defaults and code). A failed start
// and its successful retry share the key, so the retry supersedes the failure.

// runKeyConfig is what a plugin run's key hashes.
func runKeyConfig(path string, raw map[string]any) any {
	settings := map[string]any{}
	for k, v := range raw {
		if k != keyTimeout {
			settings[k] = v
		}
	}
	sum, err := filehash.SHA256(path)
	if err != nil {
		sum = "unreadable: " + path
	}
	return map[string]any{"settings": settings, "plugin_sha256": sum}
}

// KeyConfig is what the run key hashes for this method (benchmarks' runs use it in place
// of Config when a method has it): see runKeyConfig. Methods made by Open directly (not for
// a grid's run) have none and fall back to Config.
func (m *Method) KeyConfig() any {
	if m.runKey == nil {
		return m.config
	}
	return m.runKey
}
