package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// BinaryPrefix starts the file name of every discoverable plugin: ptbench-method-<name>.
const BinaryPrefix = "ptbench-method-"

// SpecPrefix marks a method given by path: plugin:PATH (optionally @sha256:HEX).
const SpecPrefix = "plugin:"

// Found is a plugin binary found by Discover.
type Found struct {
	Name string `json:"name"` // <name> of ptbench-method-<name>
	Path string `json:"path"` // absolute path
	Dir  string `json:"dir"`  // "$PTBENCH_PLUGIN_DIR", "beside ptbench" or "$PATH"
}

// Discover lists the executables named ptbench-method-<name> in $PTBENCH_PLUGIN_DIR (a list
// of folders, like PATH), then in the folder of the running ptbench binary (where
// scripts/setup.sh puts the example plugins), then on $PATH. The first one of a name wins.
func Discover() []Found {
	seen := map[string]bool{}
	var out []Found
	scan := func(list, label string) {
		for _, dir := range filepath.SplitList(list) {
			if dir == "" {
				continue
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				name, ok := strings.CutPrefix(e.Name(), BinaryPrefix)
				if !ok || name == "" || seen[name] {
					continue
				}
				path, err := filepath.Abs(filepath.Join(dir, e.Name()))
				if err != nil {
					continue
				}
				if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
					continue
				}
				seen[name] = true
				out = append(out, Found{Name: name, Path: path, Dir: label})
			}
		}
	}
	scan(os.Getenv("PTBENCH_PLUGIN_DIR"), "$PTBENCH_PLUGIN_DIR")
	if exe, err := os.Executable(); err == nil {
		scan(filepath.Dir(exe), "beside ptbench")
	}
	scan(os.Getenv("PATH"), "$PATH")
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParseSpec splits a method name that refers to a plugin: "plugin:PATH" (ok) or a bare name,
// each optionally pinned with "@sha256:HEX".
func ParseSpec(spec string) (name, path, sha string, isPath bool, err error) {
	base := spec
	if i := strings.LastIndex(spec, "@sha256:"); i >= 0 {
		base, sha = spec[:i], strings.ToLower(spec[i+len("@sha256:"):])
		if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
			return "", "", "", false, fmt.Errorf("method %q: @sha256: wants 64 hex digits", spec)
		}
	}
	if p, ok := strings.CutPrefix(base, SpecPrefix); ok {
		if p == "" {
			return "", "", "", false, fmt.Errorf("method %q: plugin: wants a path", spec)
		}
		return base, p, sha, true, nil
	}
	return base, "", sha, false, nil
}

var (
	regMu      sync.Mutex
	registered = map[string]string{} // method name → binary path, for listings
)

// RegisterPlugins makes every plugin among methods (as given to --methods) known to core's
// registry, so that core.NewMethod builds it: "plugin:PATH[@sha256:HEX]" launches PATH; a name
// that is not built in launches ptbench-method-<name> found by Discover (also pinnable:
// name@sha256:HEX). Built-in names always mean the built-in method. Names
// found nowhere are an error that says where ptbench looked.
func RegisterPlugins(methods []string) error {
	regMu.Lock()
	defer regMu.Unlock()
	builtin := map[string]bool{}
	for _, r := range core.Methods() {
		if _, plugin := registered[r.Name]; !plugin {
			builtin[r.Name] = true
		}
	}
	var found map[string]Found
	for _, spec := range methods {
		if _, done := registered[spec]; done || builtin[spec] {
			continue
		}
		if err := CheckTimeoutEnv(); err != nil { // a plugin will run: its deadline must be valid
			return err
		}
		name, path, sha, isPath, err := ParseSpec(spec)
		if err != nil {
			return err
		}
		if !isPath {
			if builtin[name] {
				return fmt.Errorf("method %q: %s is a built-in method; pin plugins only", spec, name)
			}
			if found == nil {
				found = map[string]Found{}
				for _, f := range Discover() {
					found[f.Name] = f
				}
			}
			f, ok := found[name]
			if !ok {
				var known []string
				for n := range builtin {
					known = append(known, n)
				}
				sort.Strings(known)
				return fmt.Errorf("unknown method %q: not built in (%s) and no %s%s in $PTBENCH_PLUGIN_DIR, beside ptbench or on $PATH (or give plugin:PATH)",
					spec, strings.Join(known, ", "), BinaryPrefix, name)
			}
			path = f.Path
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if err := checkBinary(abs, sha); err != nil {
			return err
		}
		registered[spec] = abs
		core.RegisterMethod(spec, "plugin "+abs, func(raw map[string]any) (core.Method, error) {
			return openForRun(spec, abs, raw, Options{SHA256: sha})
		})
	}
	return nil
}

// Listing is one line of `ptbench methods`.
type Listing struct {
	Name    string `json:"name"`
	Source  string `json:"source"` // "built-in", or the plugin binary's path
	About   string `json:"about"`
	Version string `json:"version,omitempty"`
}

// List returns the built-in methods and the discovered plugins with their source. With
// describe, each plugin is started briefly to ask for its description.
func List(describe bool) []Listing {
	regMu.Lock()
	reg := map[string]string{}
	for k, v := range registered {
		reg[k] = v
	}
	regMu.Unlock()
	var out []Listing
	builtin := map[string]bool{}
	for _, r := range core.Methods() {
		if p, ok := reg[r.Name]; ok {
			out = append(out, describeListing(Listing{Name: r.Name, Source: p}, describe))
			continue
		}
		builtin[r.Name] = true
		out = append(out, Listing{Name: r.Name, Source: "built-in", About: r.About})
	}
	for _, f := range Discover() {
		if _, ok := reg[f.Name]; ok {
			continue
		}
		l := Listing{Name: f.Name, Source: f.Path}
		if builtin[f.Name] {
			l.About = "(shadowed by the built-in method of the same name)"
			out = append(out, l)
			continue
		}
		out = append(out, describeListing(l, describe))
	}
	return out
}

func describeListing(l Listing, describe bool) Listing {
	if !describe {
		return l
	}
	d, err := Describe(l.Source, 10*time.Second)
	if err != nil {
		l.About = "(cannot describe: " + firstLine(err.Error()) + ")"
		return l
	}
	l.About, l.Version = d.About, d.Version
	return l
}

// Describe starts the plugin at path, asks for its description and stops it.
func Describe(path string, timeout time.Duration) (*methodpb.DescribeResponse, error) {
	opts := Options{CallTimeout: timeout}
	proc, rpc, err := launch(path, opts)
	if err != nil {
		return nil, err
	}
	defer proc.kill()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := rpc.Describe(ctx, &methodpb.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("plugin %s: Describe: %w", path, err)
	}
	return d, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
