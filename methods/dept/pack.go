package dept

// PacksRows declares (core.RowPacker) that Transform treats every row on its own —
// [P ; E + A B[pos]]: the prompt and each token's position-indexed offset, row by row — so runs of this method can share one backbone pass with other runs (--pack).
func (m *Method) PacksRows() bool { return true }
