package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/backbones/llama"
	"github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
)

// Resource checks of `ptbench run` and `reproduce`, before anything loads: size-like method
// settings are bounded, and each method's run is estimated (frozen weights, its parameters
// with their gradients and AdamW moments, and the activations a training step keeps for
// batch × sequence length) and refused when the estimate exceeds the memory the process can
// have (--memory-limit, else the least of the machine's RAM, the cgroup's limit and ulimit -v).
// Before, --set pt.length=1e9 passed validation and the process grew until the kernel killed
// it, taking the grid's remaining runs with it.

// maxSettingSize bounds every size-like method setting (a prompt length, a rank, a bottleneck,
// a dimension): 65,536 is 16 times the longest context of the backbones here (Llama-2's 4,096)
// and far above any published setting, while 1e9 is a typo that would allocate gigabytes.
const maxSettingSize = 1 << 16

// sizeKey matches the method settings that are sizes (JSON names).
var sizeKey = regexp.MustCompile(`^(length|prompt_length|max_len|rank|r|k|spaces|proj_rank|bottleneck|max_tasks)$|_(dim|bottleneck|length|rank)$`)

// checkSettingSizes refuses a size-like setting above maxSettingSize in a resolved config.
func checkSettingSizes(method string, cfg map[string]any) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !sizeKey.MatchString(k) {
			continue
		}
		if f, ok := number(cfg[k]); ok && f > maxSettingSize {
			return usageError{fmt.Errorf("method %s: %s %v is above the bound for sizes (%d): a setting this large cannot train in any memory (check for a typo)", method, k, cfg[k], maxSettingSize)}
		}
	}
	return nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// memoryLimit is --memory-limit in bytes (0: the machine's).
type memoryLimit struct{ bytes *int64 }

func (m memoryLimit) String() string {
	if m.bytes == nil || *m.bytes == 0 {
		return ""
	}
	return strconv.FormatInt(*m.bytes, 10)
}

func (m memoryLimit) Set(s string) error {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("want a positive size such as 16Gi, 12G or 8000000000 (bytes), got %q", s)
	}
	*m.bytes = q.Value()
	return nil
}

func (m memoryLimit) Type() string { return "bytes" }

// runMemoryLimit is the --memory-limit of the command being run (0: the machine's).
var runMemoryLimit int64

// registerMemoryFlag adds --memory-limit to run and reproduce (into runMemoryLimit, reset to
// 0 for each command built, so that one command's limit never carries over to the next).
func registerMemoryFlag(f *pflag.FlagSet) {
	limit := &runMemoryLimit
	*limit = 0
	f.Var(memoryLimit{limit}, "memory-limit", "refuse a run whose estimated memory (weights, method parameters and optimiser state, activations for batch × length) exceeds this, e.g. 16Gi, and size --pack auto's packs within half of what it leaves once the backbone is loaded (default: the machine's RAM, cgroup limit or ulimit -v, whichever is least)")
}

// machineMemory is the memory this process can use: the least of MemTotal, the cgroup v2
// limit and RLIMIT_AS (ulimit -v), with the name of the one that binds. 0 when none is known.
func machineMemory() (int64, string) {
	best, what := int64(0), ""
	take := func(v int64, name string) {
		if v > 0 && (best == 0 || v < best) {
			best, what = v, name
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(fs[1], 10, 64); err == nil {
					take(kb*1024, "the machine's RAM")
				}
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			take(v, "the cgroup's memory.max")
		}
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil && rl.Cur != math.MaxUint64 && rl.Cur < math.MaxInt64 {
		take(int64(rl.Cur), "ulimit -v")
	}
	return best, what
}

// effectiveLimit is the memory a run may use: limit (--memory-limit) when set, else the
// machine's (machineMemory), with the name of what sets it; 0 when none is known.
func effectiveLimit(limit int64) (int64, string) {
	if limit != 0 {
		return limit, "--memory-limit"
	}
	return machineMemory()
}

// backboneShape is what the estimate needs of a backbone, read from its preset or its
// config.json without loading weights.
type backboneShape struct {
	params                int64 // frozen weights
	d, ff, heads, headDim int64
	encLayers, decLayers  int64 // a decoder-only model has encLayers 0
	vocab                 int64
}

func shapeOf(spec string) (backboneShape, bool) {
	if c, ok := t5.Presets[spec]; ok {
		return t5Shape(c.Vocab, c.DModel, c.DKV, c.DFF, c.Heads, c.EncoderLayers, c.DecoderLayers, c.GatedGELU, c.TiedHead), true
	}
	if c, ok := llama.Presets[spec]; ok {
		return llamaShape(c), true
	}
	if dir, err := hf.ResolveModelDir(spec); err == nil {
		if c, err := hf.LoadT5Config(dir); err == nil {
			return t5Shape(c.VocabSize, c.DModel, c.DKV, c.DFF, c.NumHeads, c.NumLayers, c.NumDecoderLayers, c.IsGated, c.TieWordEmbeddings), true
		}
		if c, err := llama.LoadHFConfig(dir); err == nil {
			return llamaShape(c), true
		}
	}
	return backboneShape{}, false
}

func t5Shape(vocab, d, dkv, ff, heads, enc, dec int64, gated, tied bool) backboneShape {
	inner := heads * dkv
	ffMats := int64(2)
	if gated {
		ffMats = 3
	}
	if dec == 0 {
		dec = enc
	}
	p := vocab*d + enc*(4*d*inner+ffMats*d*ff+2*d) + dec*(8*d*inner+ffMats*d*ff+3*d) + 2*d
	if !tied {
		p += vocab * d
	}
	return backboneShape{params: p, d: d, ff: ff, heads: heads, headDim: dkv, encLayers: enc, decLayers: dec, vocab: vocab}
}

func llamaShape(c llama.Config) backboneShape {
	return backboneShape{params: c.NumParamsShape(), d: c.Dim, ff: c.Hidden, heads: c.Heads, headDim: c.HeadSize(),
		decLayers: c.Layers, vocab: c.Vocab}
}

// memoryEstimate is a lower bound of what one training step of a run holds, by part.
type memoryEstimate struct {
	weights, method, activations int64
	batch, tokens                int64
}

func (e memoryEstimate) total() int64 { return e.weights + e.method + e.activations }

// estimateRun estimates a run of a method whose resolved config is cfg. It is meant as a
// lower bound, so that it refuses only runs that cannot fit: only the prompt (a "length"
// setting, d floats per token) is counted among the method's parameters, and each layer keeps
// its input, q/k/v and context, the FFN's inner activations and one copy of the attention
// probabilities.
func estimateRun(s backboneShape, cfg map[string]any, train core.TrainOptions, dtype core.DType, quant core.Quant) memoryEstimate {
	actBytes, weightBytes := 4.0, 4.0
	if dtype == core.BFloat16 {
		actBytes, weightBytes = 2, 2
	}
	if quant == core.QuantNF4 {
		weightBytes = 0.5
	}
	prompt := int64(0)
	for _, k := range []string{"length", "prompt_length"} {
		if f, ok := number(cfg[k]); ok && f > 0 {
			prompt = int64(f)
			break
		}
	}
	batch := int64(max(train.BatchSize, 1))
	src := int64(train.MaxSourceLen)
	if src == 0 {
		src = 256 // the tasks' default
	}
	tgt := int64(train.MaxTargetLen)
	if tgt == 0 {
		tgt = 32
	}
	inner := s.heads * s.headDim
	perToken := 2*s.d + 4*inner + s.ff
	var floats float64
	layer := func(tokens, keys int64) float64 {
		return float64(batch) * (float64(tokens)*float64(perToken) + float64(s.heads)*float64(tokens)*float64(keys))
	}
	tokens := src + prompt
	if s.encLayers > 0 { // T5: encoder over source + prompt, decoder over the target
		floats = float64(s.encLayers)*layer(tokens, tokens) + float64(s.decLayers)*(layer(tgt, tgt)+float64(batch*s.heads*tgt*tokens))
		floats += float64(batch * tgt * s.vocab)
	} else { // decoder-only: source, target and prompt in one sequence
		tokens += tgt
		floats = float64(s.decLayers)*layer(tokens, tokens) + float64(batch*tgt*s.vocab)
	}
	methodParams := float64(prompt * s.d)
	clamp := func(f float64) int64 {
		if f > math.MaxInt64/4 {
			return math.MaxInt64 / 4
		}
		return int64(f)
	}
	return memoryEstimate{weights: clamp(float64(s.params) * weightBytes), method: clamp(methodParams * 16), // fp32 value, grad, two AdamW moments
		activations: clamp(floats * actBytes), batch: batch, tokens: tokens}
}

// checkMemory refuses a method whose estimated run exceeds the limit.
func checkMemory(g *benchmarks.Grid, method string, cfg map[string]any, limit int64) error {
	s, ok := shapeOf(g.Backbone)
	if !ok {
		return nil // a backbone whose shape is not known without loading it: no estimate
	}
	limit, what := effectiveLimit(limit)
	if limit == 0 {
		return nil
	}
	train := g.Train
	e := estimateRun(s, cfg, train, g.BackboneOpts.DType, g.BackboneOpts.Quant)
	if e.total() <= limit {
		return nil
	}
	return usageError{fmt.Errorf("method %s on %s needs at least %s (frozen weights %s, method parameters with gradients and AdamW state %s, activations for batch %d × %d tokens %s), more than %s allows (%s): lower --batch-size, --max-source-len or the method's length, or use --dtype bfloat16 / --quant nf4",
		method, g.Backbone, human(e.total()), human(e.weights), human(e.method), e.batch, e.tokens, human(e.activations), what, human(limit))}
}

// warnPackMemory warns when --pack N (N > 1, explicit) could hold more than the limit: a pack
// keeps every run's activations in one pass (a 4-bit model's recomputed backward keeps less,
// so there the estimate is high), which the per-run check above does not see. The largest
// per-method estimate stands for every run of the pack. A warning, not a refusal: the
// estimate is a lower bound of one run, not of a pack's mix.
func warnPackMemory(g *benchmarks.Grid, cfgs map[string]map[string]any, limit int64) {
	s, ok := shapeOf(g.Backbone)
	if !ok || g.Pack <= 1 || g.Log == nil {
		return
	}
	limit, what := effectiveLimit(limit)
	if limit == 0 {
		return
	}
	var worst memoryEstimate
	var method string
	for _, name := range g.Methods {
		cfg, ok := cfgs[name]
		if !ok {
			continue
		}
		if e := estimateRun(s, cfg, g.Train, g.BackboneOpts.DType, g.BackboneOpts.Quant); e.method+e.activations > worst.method+worst.activations {
			worst, method = e, name
		}
	}
	if need := worst.weights + int64(g.Pack)*(worst.method+worst.activations); need > limit {
		fmt.Fprintf(g.Log, "warning: --pack %d: %d runs like %s's in one pass need at least %s (weights %s, each run's activations and parameters %s), more than %s allows (%s); a pack holds every run's activations at once — lower --pack if the process runs out of memory\n",
			g.Pack, g.Pack, method, human(need), human(worst.weights), human(worst.method+worst.activations), what, human(limit))
	}
}

// human prints bytes in binary units.
func human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	v, exp := float64(b), 0
	for v >= unit && exp < 6 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp-1])
}
