package tasks

import "strings"

// Where the official files come from. The base URLs are those of GLUE's
// download_glue_data.py, the SuperGLUE v2 archives, SentEval's MRPC copy and the SQuAD
// explorer; the SHA-256 digests are those recorded by Hugging Face datasets' glue,
// super_glue and squad builders for the same URLs.

// Mirror names: the keys of OfficialBaseURLs and Downloader.BaseURLs.
const (
	mirrorGLUE      = "glue"
	mirrorSuperGLUE = "superglue"
	mirrorSentEval  = "senteval"
	mirrorSQuAD     = "squad"
)

// OfficialBaseURLs maps a mirror name to the base URL its files are fetched from. A
// Downloader's BaseURLs override entries of this map (tests point them at httptest).
var OfficialBaseURLs = map[string]string{
	mirrorGLUE:      "https://dl.fbaipublicfiles.com/glue/data/",
	mirrorSuperGLUE: "https://dl.fbaipublicfiles.com/glue/superglue/data/v2/",
	mirrorSentEval:  "https://dl.fbaipublicfiles.com/senteval/senteval_data/",
	mirrorSQuAD:     "https://rajpurkar.github.io/SQuAD-explorer/dataset/",
}

// OfficialChecksums holds the SHA-256 of each official file, by file name. A file without
// an entry is downloaded unverified.
var OfficialChecksums = map[string]string{
	"CoLA.zip":                 "f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff",
	"SST-2.zip":                "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
	"QQP-clean.zip":            "40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0",
	"STS-B.zip":                "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85",
	"MNLI.zip":                 "e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633",
	"QNLIv2.zip":               "e634e78627a29adaecd4f955359b22bf5e70f2cbd93b493f2d624138a0c0e5f5",
	"RTE.zip":                  "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee",
	"mrpc_dev_ids.tsv":         "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7",
	"msr_paraphrase_train.txt": "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",
	"msr_paraphrase_test.txt":  "a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784",
	"BoolQ.zip":                "853fbe7922f70c59629f06a39e8d9ca440c3d740e760fd3b87a5ddf3dcba2436",
	"CB.zip":                   "8d641383298d54554066ba1c93f56ae7410af75df621b90c63028806bbbbb535",
	"MultiRC.zip":              "b3cd440856e72eb166b2edcd37b798455f1ebd51f2c3de64c0c2a4e1971d2737",
	"ReCoRD.zip":               "30c7b651ab21b8bf8fab986495cd1084333010e040548f861b839eec0044ac18",
	"WiC.zip":                  "ee7e67f4ae9eafbf533780faa198e62167f3cda54256cdf261877be3c0e90900",
	"WSC.zip":                  "2ed6dfa94556b4a128ff0441efe365b2e883124e7e6aa00fb8d3a6cb1fd520a9",
	"train-v1.1.json":          "3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955",
	"dev-v1.1.json":            "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
}

// remoteFile is one official download.
type remoteFile struct {
	mirror string // key of OfficialBaseURLs
	name   string // file name under the mirror's base URL, and checksum key
	// unpackTo is, for a zip archive, the folder under the data root it is unpacked into
	// (the archives hold one top folder, e.g. CoLA/, so "glue" yields glue/CoLA/…).
	unpackTo string
	// saveAs is, for a plain file, its path under the data root.
	saveAs string
}

func glueZip(name string) remoteFile {
	return remoteFile{mirror: mirrorGLUE, name: name, unpackTo: "glue"}
}

func superGLUEZip(name string) remoteFile {
	return remoteFile{mirror: mirrorSuperGLUE, name: name, unpackTo: "superglue"}
}

// joinURL puts a file name under a base URL whether or not the base ends in a slash.
func joinURL(base, name string) string {
	return strings.TrimSuffix(base, "/") + "/" + name
}
