package tokenizers

import (
	"slices"
	"testing"
)

// Small tokenizer.json files exercising the options the genuine T5 and Llama-2 files do not use.
// The expected ids and decodings (skip_special_tokens=true) were produced by Hugging Face's
// `tokenizers` 0.23.2 (npm) from these exact files, like testdata/hf/gen_hf_cases.js does.
var hfComponentFiles = map[string]string{
	"added_token_options":       `{"added_tokens":[{"id":0,"content":"<unk>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false},{"id":7,"content":"[L]","special":true,"lstrip":true,"single_word":false,"rstrip":false,"normalized":false},{"id":8,"content":"[R]","special":false,"rstrip":true,"single_word":false,"lstrip":false,"normalized":false},{"id":9,"content":"[W]","special":true,"single_word":true,"lstrip":false,"rstrip":false,"normalized":false},{"id":10,"content":"[LONG]","special":false,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false},{"id":11,"content":"[LO","special":false,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false}],"normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"},"model":{"type":"Unigram","unk_id":0,"byte_fallback":true,"vocab":[["<unk>",0.0],["▁",-2.0],["a",-3.0],["▁a",-1.5],["b",-3.0],["<0xC3>",-5.0],["<0xA9>",-5.0],["[L]",0.0],["[R]",0.0],["[W]",0.0],["[LONG]",0.0],["[LO",0.0],["[",-4.0],["]",-4.0],["W",-4.0]]},"version":"1.0","truncation":null,"padding":null,"post_processor":null}`,
	"bpe_affixes":               `{"added_tokens":[{"id":0,"content":"<unk>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false}],"normalizer":{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"Lowercase"}]},"pre_tokenizer":{"type":"Whitespace"},"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},"model":{"type":"BPE","unk_token":"<unk>","fuse_unk":false,"continuing_subword_prefix":"##","end_of_word_suffix":"</w>","vocab":{"<unk>":0,"l":1,"##o":2,"##w":3,"##w</w>":4,"lo":5,"low</w>":6,"##e":7,"##r</w>":8,"##er</w>":9,"lower</w>":10,"a":11,"a</w>":12,".</w>":13,"##r":14,"low":15,"e":16,"́</w>":17},"merges":["l ##o","lo ##w</w>","##e ##r</w>","lo ##w","low ##er</w>"]},"version":"1.0","truncation":null,"padding":null,"post_processor":null}`,
	"bpe_ignore_merges_no_fuse": `{"added_tokens":[],"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"_"},"pre_tokenizer":null,"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"_"},"content":" "},{"type":"Strip","content":"x","start":2,"stop":0}]},"model":{"type":"BPE","unk_token":"?","fuse_unk":false,"ignore_merges":true,"vocab":{"?":0,"a":1,"b":2,"ab":3,"abb":4,"_":5,"x":6,"é":7,"xé":8},"merges":["a b","ab b","x é"]},"version":"1.0","truncation":null,"padding":null,"post_processor":null}`,
}

func TestHuggingFaceComponentsMatchReference(t *testing.T) {
	for _, tc := range []struct {
		file, text string
		ids        []int
		decoded    string
	}{
		{"added_token_options", "a [L] b", []int{3, 7, 1, 4}, "a b"},
		{"added_token_options", "a   [L]", []int{3, 7}, "a"},
		{"added_token_options", "[L]a", []int{7, 2}, "a"},
		{"added_token_options", "a [R]   b", []int{3, 1, 8, 4}, "a [R]b"},
		{"added_token_options", "[R]", []int{8}, "[R]"},
		{"added_token_options", "a[W]b", []int{3, 9, 4}, "ab"},
		{"added_token_options", "a [W] b", []int{3, 1, 9, 1, 4}, "a  b"},
		{"added_token_options", "[W]", []int{9}, ""},
		{"added_token_options", "[LONG] [LO x", []int{10, 1, 11, 1, 0}, "[LONG] [LO "},
		{"added_token_options", "a [LO", []int{3, 1, 11}, "a [LO"},
		{"added_token_options", "é é", []int{1, 5, 6, 1, 5, 6}, "<0xC3><0xA9> <0xC3><0xA9>"},
		{"added_token_options", "ab", []int{3, 4}, "ab"},
		{"added_token_options", "  a", []int{1, 3}, " a"},
		{"added_token_options", "a  ", []int{3, 1, 1}, "a  "},
		{"added_token_options", "", []int{}, ""},
		{"bpe_affixes", "low lower", []int{6, 10}, "low</w> lower</w>"},
		{"bpe_affixes", "Lower LOW.", []int{10, 6, 13}, "lower</w> low</w>.</w>"},
		{"bpe_affixes", "lowe", []int{15, 0}, "low"},
		{"bpe_affixes", "a a.", []int{12, 12, 13}, "a</w> a</w>.</w>"},
		{"bpe_affixes", "é", []int{16, 0}, "e"},
		{"bpe_affixes", "xyz lowr", []int{0, 0, 0, 15, 8}, "lowr</w>"},
		{"bpe_affixes", "LO W", []int{1, 0, 0}, "l"},
		{"bpe_ignore_merges_no_fuse", "abb ab", []int{4, 5, 3}, "abb ab"},
		{"bpe_ignore_merges_no_fuse", "xxéxxx", []int{6, 8, 6, 6, 6}, "é"},
		{"bpe_ignore_merges_no_fuse", "a b cc", []int{1, 5, 2, 5, 0, 0}, "a b ??"},
		{"bpe_ignore_merges_no_fuse", "ab?", []int{3, 0}, "ab?"},
		{"bpe_ignore_merges_no_fuse", "xé_x", []int{8, 5, 6}, "é "},
		{"bpe_ignore_merges_no_fuse", "xxxé", []int{6, 6, 8}, "é"},
	} {
		tok, err := LoadHuggingFace(writeTokenizerJSON(t, hfComponentFiles[tc.file]))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if got, err := tok.EncodeChecked(tc.text); err != nil || !slices.Equal(got, tc.ids) && len(got)+len(tc.ids) > 0 {
			t.Errorf("%s: Encode(%q) = %v, %v; want %v", tc.file, tc.text, got, err, tc.ids)
		}
		if got := tok.Decode(tc.ids); got != tc.decoded {
			t.Errorf("%s: Decode(%v) = %q, want %q", tc.file, tc.ids, got, tc.decoded)
		}
	}
}
