package lora

// PacksRows declares (core.RowPacker) that LoRA's hooks treat every row on their own — each
// row's x gets (α/r)·B A x with the run's own A and B — so its runs can share backbone passes
// with other runs' rows (engine.RunPacked, `ptbench run --pack`). Not with dropout (its masks
// would follow the pack's order, not the run's) nor when merging B A into the shared weights.
func (m *Method) PacksRows() bool { return m.cfg.Dropout == 0 && !m.cfg.Merge }
