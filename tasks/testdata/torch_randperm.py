"""Writes torch_randperm.json: the permutations the reference code splits with.

DePT (src/tasks.py) and ATTEMPT (attempt/data/tasks.py) shuffle with
    g = torch.Generator(); g.manual_seed(42); torch.randperm(n, generator=g)
on the CPU. TestTorchRandpermMatchesPyTorch compares tasks.TorchRandperm with this file, so
the Go tests never need Python.

How it was run (Debian 12, python3-torch 1.13.1+dfsg-4, which reports 1.13.0a0):
    apt-get install -y python3-torch
    /usr/bin/python3 tasks/testdata/torch_randperm.py > tasks/testdata/torch_randperm.json

Sizes: the official validation sets the small tasks halve (MultiRC counted in answer rows, as
the Hugging Face dataset yields it), the training sets the large tasks hold 1,000 out of, and
a few edge cases. Small sizes are stored whole; for a large n the file keeps the first 1,000
entries (dev), the last 10, and the SHA-256 of the whole permutation written as decimal
numbers joined by ",".
"""
import hashlib
import json

import torch

SEED = 42
WHOLE = {
    "edge": [0, 1, 2, 3, 10],
    "cb": [56], "wsc": [104], "rte": [277], "mrpc": [408], "wic": [638],
    "cola": [1043], "stsb": [1500], "boolq": [3270], "multirc": [4848],
}
LARGE = {"sst2": 67349, "squad": 87599, "record": 100730, "qnli": 104743, "qqp": 363846}


def randperm(n, seed=SEED):
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


def main():
    out = {"torch_version": torch.__version__, "seed": SEED, "whole": [], "large": []}
    for name, sizes in WHOLE.items():
        for n in sizes:
            out["whole"].append({"use": name, "n": n, "perm": randperm(n)})
    # Another seed, so that the seeding itself is checked and not only seed 42.
    out["whole"].append({"use": "seed 7", "n": 20, "seed": 7, "perm": randperm(20, 7)})
    for name, n in LARGE.items():
        p = randperm(n)
        digest = hashlib.sha256(",".join(map(str, p)).encode()).hexdigest()
        out["large"].append({"use": name, "n": n, "head": p[:1000], "tail": p[-10:], "sha256": digest})
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
