// Package tasks provides the evaluation protocol's tasks (templates, splits and metrics as
// documented on each task and in the README): the GLUE and
// SuperGLUE tasks of the main tables, SQuAD v1.1 and ReCoRD as source / few-shot tasks, and
// offline synthetic smoke tasks. Every task registers itself with data.RegisterTask from this
// package's init function, so a program enables all of them with one blank import.
//
// # Text-to-text format
//
// A source is the task's template pieces joined by single spaces, with no task prefix:
// "sentence1: {s1} sentence2: {s2}". Each field is trimmed of surrounding white space first
// (SST-2 sentences end in a space in the official files); an empty field leaves just its
// name, so a source never holds a double space. Targets
// are the GLUE/SuperGLUE label ids as strings; STS-B targets are the score as the references
// print it, rounded to 0.1 ("3.9"; see stsbTarget).
//
// # Example IDs
//
// IDs name the official file the example came from, so they stay the same whichever split
// the protocol later puts the example in: "<task>/<file>/<row>", where <file> is train, val
// (the official validation or dev file), val_matched or val_mismatched (MNLI), and <row> is
// the 0-based data row of that file (header not counted). MultiRC and ReCoRD use the
// official paragraph / question / answer indices instead, SQuAD its question ids.
//
// # Splits
//
// Every split shuffle is the reference code's: torch.randperm(n) under a generator seeded
// with SplitSeed (42), reproduced exactly in pure Go by TorchRandperm, so dev and test hold
// the same examples as in DePT's and ATTEMPT's published numbers. RowsOfSplit (and
// `ptbench data --ids`) lists them as rows of the Hugging Face dataset split.
//   - Small tasks (cola, rte, mrpc, stsb, cb, multirc, wic, wsc, boolq): the official
//     validation set is shuffled and cut: the first floor(n/2) = dev, the rest = test; train is
//     the official train set. MultiRC is cut by answer row (2,424 / 2,424), as the reference
//     code cuts the Hugging Face rows, so one question's options can fall in both halves.
//   - Large tasks (qqp, qnli, sst2) and the source tasks (squad, record): 1,000 shuffled
//     training examples = dev, the rest = train, the official validation set = test.
//   - MNLI: train = train, dev = validation_mismatched, test = validation_matched.
//
// Task.Load needs every official file of the task. LoadEval needs only the files that dev and
// test come from and leaves Train empty when the train file is absent (as for most SuperGLUE
// tasks in the workplace's shared data); large tasks then also have an empty Dev.
//
// # Data location
//
// With DataOptions.DataDir set, files are read from DataDir laid out as glue/RTE/train.tsv,
// superglue/CB/val.jsonl, squad/dev-v1.1.json. Without it, the official archives are
// downloaded into CacheDir (see Downloader) and unpacked into the same layout.
package tasks
