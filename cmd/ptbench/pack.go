package main

// packFlagDoc is --pack's help (run and reproduce share it).
const packFlagDoc = "train up to N runs together, one backbone pass per step for all of them (input and hook methods that declare row-independent rows pack, see the README's --pack; the others run alone); keys, rows and predictions as unpacked, losses within float rounding. ≤ 1: every run alone (the default: a pack holds N runs' activations, and on a CPU it gains little; see the README)"
