package main

// packFlagDoc is --pack's help (run and reproduce share it).
const packFlagDoc = "train up to N runs together over one backbone pass per step (prompt methods that pack: pt, dept, ept; others run alone); rows, keys and results as unpacked within float rounding. Default 1: on CPU a pack saves per-run overhead only (measured in the README)"
