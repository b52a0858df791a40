"""Writes reference_metrics.json: task scores with invalid generations, computed the way
DePT's src/metrics.py computes them (scikit-learn and numpy underneath).

TestScoresMatchReferenceMetrics scores the same generations with the Go tasks and compares.
Each case has generations that are not labels, so that the rules for invalid outputs are
exercised:
  - accuracy: numpy equality of the stripped strings, an invalid output is wrong;
  - f1 (MRPC, QQP, MultiRC): an invalid output is replaced by the label opposite to its gold
    label, then sklearn.metrics.f1_score on the integers (DePT's f1_score_with_invalid);
  - f1_macro (CB): sklearn.metrics.fbeta_score(beta=1, labels=range(3), average="macro") on
    the strings;
  - matthews (CoLA): sklearn.metrics.matthews_corrcoef on the strings, so each distinct
    invalid string is a class of its own.
"pooled" holds what the metric would be with every invalid output mapped to one
placeholder class, to show the case tells the two rules apart.

How it was run (Debian 12: python3-sklearn 1.2.1, python3-numpy 1.24):
    apt-get install -y python3-sklearn
    /usr/bin/python3 tasks/testdata/reference_metrics.py > tasks/testdata/reference_metrics.json
"""
import json
import warnings

import numpy as np
import sklearn
import sklearn.metrics as skm

warnings.simplefilter("ignore")


def accuracy(pred, gold):
    return 100 * float((np.array(pred) == np.array(gold)).mean())


def f1_invalid_as_wrong(pred, gold):
    fixed = [p if p in ("0", "1") else ("0" if g == "1" else "1") for p, g in zip(pred, gold)]
    return 100 * float(skm.f1_score([int(g) for g in gold], [int(p) for p in fixed]))


def f1_invalid_pooled(pred, gold):
    # An invalid output is simply not the positive class (what ptbench counted before).
    fixed = [p if p in ("0", "1") else "0" for p in pred]
    return 100 * float(skm.f1_score([int(g) for g in gold], [int(p) for p in fixed]))


def macro_f1(pred, gold):
    return 100 * float(skm.fbeta_score(gold, pred, beta=1, labels=range(3), average="macro"))


def matthews(pred, gold):
    return 100 * float(skm.matthews_corrcoef(gold, pred))


def pooled(pred, labels):
    return [p if p in labels else "<invalid>" for p in pred]


CASES = [
    {"task": "mrpc",
     "gold": ["1", "0", "0", "1", "1", "0", "1", "0", "1", "0"],
     "pred": ["1", "yes", "0", "", "1", "1", "no", "2", "1", "0"]},
    {"task": "qqp",
     "gold": ["0", "0", "0", "1", "1", "0"],
     "pred": ["1", "duplicate", "0", "1", "0", "0 "]},
    {"task": "cola",
     "gold": ["1", "0", "1", "1", "0", "0", "1", "0", "1", "1"],
     "pred": ["1", "foo", "1", "bar", "0", "foo", "1", "baz", "0", "1"]},
    {"task": "cb",
     "gold": ["0", "1", "2", "0", "1", "2", "0", "2"],
     "pred": ["0", "1", "maybe", "0", "2", "x", "1", "2"]},
    {"task": "multirc",
     "gold": ["1", "0", "1", "0", "0", "1", "0"],
     "pred": ["1", "true", "1", "1", "false", "?", "0"]},
]


def main():
    out = {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__, "cases": []}
    for c in CASES:
        gold, pred = c["gold"], [p.strip() for p in c["pred"]]
        task = c["task"]
        want, alt = {}, {}
        if task in ("mrpc", "qqp"):
            want = {"accuracy": accuracy(pred, gold), "f1": f1_invalid_as_wrong(pred, gold)}
            alt = {"f1": f1_invalid_pooled(pred, gold)}
        elif task == "multirc":
            want = {"f1a": f1_invalid_as_wrong(pred, gold)}
            alt = {"f1a": f1_invalid_pooled(pred, gold)}
        elif task == "cola":
            want = {"matthews": matthews(pred, gold)}
            alt = {"matthews": matthews(pooled(pred, ["0", "1"]), gold)}
        elif task == "cb":
            want = {"accuracy": accuracy(pred, gold), "f1_macro": macro_f1(pred, gold)}
        out["cases"].append({"task": task, "gold": gold, "pred": c["pred"], "want": want, "pooled": alt})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
