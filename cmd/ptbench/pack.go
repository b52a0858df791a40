package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/benchmarks"
)

// packFlagDoc is --pack's help (run and reproduce share it).
const packFlagDoc = "train up to N runs together, one backbone pass per step for all of them (input and hook methods that declare row-independent rows pack, see the README's --pack; the others run alone); keys, rows and predictions as unpacked, losses within float rounding. auto (the default): the backbone chooses — over 4-bit (--quant nf4) weights, where a pack dequantises once for all its runs (on Llama at about one run's memory), up to 4 runs, as many as half the memory left after loading holds (see --memory-limit); every run alone over full-precision weights, where a pack holds every run's activations and on a CPU gains little. 1: every run alone"

// packFlag is --pack: "auto" (benchmarks.PackAuto, the backbone's choice) or a count ≥ 1
// (0 is taken as 1, as it always was), parsed with the other flags, before anything loads.
type packFlag struct{ n *int }

func (p packFlag) String() string {
	if p.n == nil || *p.n == benchmarks.PackAuto {
		return "auto"
	}
	return strconv.Itoa(*p.n)
}

func (p packFlag) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "auto") {
		*p.n = benchmarks.PackAuto
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return fmt.Errorf("want auto or a number of runs ≥ 1, got %q", s)
	}
	*p.n = max(n, 1)
	return nil
}

func (p packFlag) Type() string { return "N|auto" }
