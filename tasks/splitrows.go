package tasks

import (
	"fmt"

	"github.com/ptbench/ptbench/core/data"
)

// SplitRows says which examples a split holds, as 0-based positions in the Hugging Face
// dataset split the reference code loads (DePT and ATTEMPT call datasets.load_dataset
// ("glue", …) / ("super_glue", …) and shuffle its rows). For every task here that order is
// the official file's row order; docs/protocol.md records how that was checked, task by
// task. Positions are row numbers, not the datasets' "idx" column: MRPC's idx is the row
// of the original MSR training file, not its position in the validation set.
type SplitRows struct {
	Task      string `json:"task"`
	Split     string `json:"split"`      // train, dev or test
	HFDataset string `json:"hf_dataset"` // "glue/rte", "super_glue/multirc", "squad"
	HFSplit   string `json:"hf_split"`   // the Hugging Face split the rows index: train, validation, …
	Of        int    `json:"of"`         // rows in that Hugging Face split
	Rule      string `json:"rule"`       // how the rows were chosen
	Rows      []int  `json:"rows"`       // in the split's order
}

// hfDatasets names the Hugging Face dataset and configuration of each file task.
var hfDatasets = map[string]string{
	"cola": "glue/cola", "mrpc": "glue/mrpc", "qqp": "glue/qqp", "qnli": "glue/qnli", "rte": "glue/rte",
	"sst2": "glue/sst2", "stsb": "glue/stsb", "mnli": "glue/mnli",
	"boolq": "super_glue/boolq", "cb": "super_glue/cb", "multirc": "super_glue/multirc", "wic": "super_glue/wic",
	"wsc": "super_glue/wsc.fixed", "record": "super_glue/record", "squad": "squad",
}

// RowsOfSplit returns the rows of split ("train", "dev" or "test") of a dataset loaded by
// Load or LoadEval without k-shot sampling (k-shot draws its own subset of train). The
// rows are recomputed from the split sizes with the same HalveIndices / HoldOutIndices the
// loader cut the examples with.
func RowsOfSplit(t data.Task, ds *data.Dataset, split string) (SplitRows, error) {
	ft, ok := t.(*fileTask)
	if !ok {
		return SplitRows{}, fmt.Errorf("task %s is not read from official files; it has no Hugging Face rows", t.Name())
	}
	for file, n := range ds.Skipped {
		if n > 0 {
			// The Hugging Face builder keeps every row; positions after a dropped one would
			// name other examples.
			return SplitRows{}, fmt.Errorf("%s: %d malformed rows of %s were dropped, so row positions no longer match the Hugging Face dataset's", t.Name(), n, file)
		}
	}
	r := SplitRows{Task: t.Name(), Split: split, HFDataset: hfDatasets[t.Name()]}
	identity := func(hfSplit string, n int, rule string) (SplitRows, error) {
		r.HFSplit, r.Of, r.Rule = hfSplit, n, rule
		r.Rows = make([]int, n)
		for i := range r.Rows {
			r.Rows[i] = i
		}
		return r, nil
	}
	switch ft.layout {
	case halveValidation:
		n := len(ds.Dev) + len(ds.Test)
		switch split {
		case "train":
			return identity("train", len(ds.Train), "the official training set in file order")
		case "dev", "test":
			dev, test := HalveIndices(n, SplitSeed)
			r.HFSplit, r.Of = "validation", n
			r.Rows = dev
			r.Rule = fmt.Sprintf("torch.randperm(%d, seed %d)[:%d]", n, SplitSeed, n/2)
			if split == "test" {
				r.Rows = test
				r.Rule = fmt.Sprintf("torch.randperm(%d, seed %d)[%d:]", n, SplitSeed, n/2)
			}
			return r, nil
		}
	case holdOutTrain:
		switch split {
		case "test":
			return identity("validation", len(ds.Test), "the official validation set in file order")
		case "dev", "train":
			n := len(ds.Dev) + len(ds.Train)
			if len(ds.Train) == 0 {
				return SplitRows{}, fmt.Errorf("%s: the %s split is cut from the training file, which is not loaded", t.Name(), split)
			}
			dev, rest, err := HoldOutIndices(n, HoldOutSize, SplitSeed)
			if err != nil {
				return SplitRows{}, fmt.Errorf("%s: %w", t.Name(), err)
			}
			r.HFSplit, r.Of = "train", n
			r.Rows = dev
			r.Rule = fmt.Sprintf("torch.randperm(%d, seed %d)[:%d]", n, SplitSeed, HoldOutSize)
			if split == "train" {
				r.Rows = rest
				r.Rule = fmt.Sprintf("torch.randperm(%d, seed %d)[%d:]", n, SplitSeed, HoldOutSize)
			}
			return r, nil
		}
	case mnliLayout:
		switch split {
		case "train":
			return identity("train", len(ds.Train), "the official training set in file order")
		case "dev":
			return identity("validation_mismatched", len(ds.Dev), "the official mismatched validation set in file order")
		case "test":
			return identity("validation_matched", len(ds.Test), "the official matched validation set in file order")
		}
	}
	return SplitRows{}, fmt.Errorf("split %q: want train, dev or test", split)
}
