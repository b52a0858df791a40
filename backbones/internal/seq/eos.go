package seq

// EndWithEOS is ids, truncated to maxLen−1 tokens when maxLen > 0 so that EOS always fits,
// followed by eos (how both backbones end a source or target).
func EndWithEOS(ids []int, maxLen int, eos int64) []int64 {
	if maxLen > 0 && len(ids) > maxLen-1 {
		ids = ids[:maxLen-1]
	}
	out := make([]int64, 0, len(ids)+1)
	for _, id := range ids {
		out = append(out, int64(id))
	}
	return append(out, eos)
}

// UntilEOS is the tokens of a generated target before its first eos, less those skip names
// (pad, BOS), as the tokenizer's ints.
func UntilEOS(ids []int64, eos int64, skip func(id int64) bool) []int {
	var keep []int
	for _, id := range ids {
		if id == eos {
			break
		}
		if skip(id) {
			continue
		}
		keep = append(keep, int(id))
	}
	return keep
}
