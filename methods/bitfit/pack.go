package bitfit

// PacksRows declares (core.RowPacker) that BitFit's hooks treat every row on their own — the
// run's own biases added to each row — so its runs can share backbone passes with other runs'
// rows (engine.RunPacked, `ptbench run --pack`).
func (m *Method) PacksRows() bool { return true }
