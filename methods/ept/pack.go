package ept

// PacksRows declares (core.RowPacker) that Transform treats every row on its own —
// [P* ; E + A B[pos]]: P* is built from the parameters alone, then applied row by row as DePT's — so runs of this method can share one backbone pass with other runs (--pack).
func (m *Method) PacksRows() bool { return true }
