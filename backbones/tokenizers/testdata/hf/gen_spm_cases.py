#!/usr/bin/python3
"""Writes llama2_spm_cases.jsonl: the ids that the reference SentencePiece library gives for the
Llama-2 tokenizer.model (testdata/models/llama2-tokenizer) on every text of texts.json (written by
gen_hf_cases.js), one JSON object a line: {"text", "ids", "decoded"} with ids from
SentencePieceProcessor.encode(text) (no BOS/EOS) and decoded = decode(ids).

Run with Debian's python3 and python3-sentencepiece 0.1.97 (apt-get install -y python3-sentencepiece):

  /usr/bin/python3 gen_spm_cases.py
"""
import json
import os

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "../../../../testdata/models/llama2-tokenizer/tokenizer.model")


def main():
    sp = sentencepiece.SentencePieceProcessor(model_file=MODEL)
    with open(os.path.join(HERE, "texts.json"), encoding="utf-8") as f:
        texts = json.load(f)
    with open(os.path.join(HERE, "llama2_spm_cases.jsonl"), "w", encoding="utf-8") as out:
        for text in texts:
            ids = sp.encode(text)
            out.write(json.dumps({"text": text, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")
    print("llama2_spm_cases.jsonl: %d cases (sentencepiece %s)" % (len(texts), sentencepiece.__version__))


if __name__ == "__main__":
    main()
