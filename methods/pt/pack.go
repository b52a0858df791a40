package pt

// PacksRows declares (core.RowPacker) that Transform treats every row on its own —
// [P ; E]: the same prompt before every row — so runs of this method can share one backbone pass with other runs (--pack).
func (m *Method) PacksRows() bool { return true }
