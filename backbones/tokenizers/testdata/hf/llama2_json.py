#!/usr/bin/python3
"""Prepares and rebuilds the Llama-2 tokenizer.json used by the tests (Debian's python3 and
python3-sentencepiece 0.1.97; run with /usr/bin/python3).

Source: github.com/microsoft/onnxruntime-extensions, test/data/llama2/tokenizer.json (commit
319f8d2c02c4e2f013129bea52e70e75ba79bbcf; added in 44320a27), a Hugging Face Llama-2 tokenizer.json
(BPE, byte_fallback, fuse_unk, 61,249 merges) re-indented by that project. The copy has the four
vocabulary pieces made of U+00A0 (ids 8655, 17891, 20246, 30081) turned into U+0020, which breaks
three merges ("   " at line 18918 and two more), so Hugging Face's `tokenizers` refuses the file
("Merges text file invalid at line 18918"). `prepare` restores U+00A0 there; afterwards every
piece equals tokenizer.model's piece with the same id.

To keep the committed file under 300 KB, the vocabulary (32,000 pieces, identical to
testdata/models/llama2-tokenizer/tokenizer.model, id for id) is left out of
llama2-tokenizer-novocab.json.gz; `rebuild` (and the Go tests) put it back from tokenizer.model.

  /usr/bin/python3 llama2_json.py prepare /path/to/onnxruntime-extensions/tokenizer.json
  /usr/bin/python3 llama2_json.py rebuild /tmp/llama2-tokenizer.json
"""
import gzip
import json
import os
import sys

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "../../../../testdata/models/llama2-tokenizer/tokenizer.model")
NOVOCAB = os.path.join(HERE, "../llama2-tokenizer-novocab.json.gz")


def model_pieces():
    sp = sentencepiece.SentencePieceProcessor(model_file=MODEL)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def prepare(source):
    with open(source, encoding="utf-8") as f:
        doc = json.load(f)
    nbsp = {"  ": "\u00a0\u00a0", "    ": "\u00a0" * 4, "\u2581 ": "\u2581\u00a0", " ": "\u00a0"}
    vocab = {nbsp.get(k, k): i for k, i in doc["model"]["vocab"].items()}
    merges = doc["model"]["merges"]
    repaired = {18917: "\u00a0 \u00a0", 38142: "\u00a0\u00a0 \u00a0\u00a0", 42805: "\u2581 \u00a0"}
    for index, merge in repaired.items():
        merges[index] = merge
    for index, merge in enumerate(merges):
        left, right = merge.split(" ")
        assert left in vocab and right in vocab and left + right in vocab, (index, merge)
    pieces = model_pieces()
    assert sorted(vocab.items(), key=lambda kv: kv[1]) == [(p, i) for i, p in enumerate(pieces)]
    doc["model"]["vocab"] = {}
    with gzip.open(NOVOCAB, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))


def rebuild(target):
    with gzip.open(NOVOCAB, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    doc["model"]["vocab"] = {p: i for i, p in enumerate(model_pieces())}
    with open(target, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    {"prepare": prepare, "rebuild": rebuild}[sys.argv[1]](sys.argv[2])
