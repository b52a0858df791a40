"""pypt: prompt tuning (Lester et al. 2021) as a ptbench method plugin written in Python.

The method is ptbench's built-in `pt` (methods/pt), re-implemented in numpy: a soft prompt P of
`length` tokens ([length, d_model] float32) prepended to every input. Its settings, defaults,
initialisation and optimiser are PT's, so a run of pypt is comparable to a run of pt (the CI test
checks that both train the same number of parameters and reach the same loss).

- init "vocab": P starts from the frozen embedding rows of `length` token ids sampled uniformly
  from [0, min(vocab_limit, vocab)) with the run's seed, the ids the built-in PT samples; the rows
  come from the host in Setup's second round (Needs.embedding_rows).
- init "text": the rows of init_text's tokens (the backbone's tokenizer, no special tokens),
  repeated until there are `length` of them (Needs.texts).
- Forward returns P itself, shared by the batch ([length, d_model]); d loss/d P is the gradient of
  the prefix, so Backward copies it. Clipping and AdamW are ptbench_plugin's (the run's
  --max-grad-norm and learning-rate schedule).
"""

import math

import numpy as np

import method_pb2 as pb
from ptbench_plugin import MethodError, Param, vocab_init_ids


class PromptTuning:
    NAME = "pypt"
    VERSION = "0.1.0"
    ABOUT = "Prompt tuning in Python (numpy): soft prompt P (l×d) prepended to the input"
    LABEL = "PT (Python)"
    INPUT = pb.INPUT_NONE  # the mask is enough: P does not depend on the input
    PREFIX, OFFSET = True, False
    ADAM_EPS = 1e-8  # AdamW's ε as built-in PT trains (its reference's, docs/fidelity.md)
    DEFAULTS = {"length": 100, "lr": 0.3, "init": "vocab",
                "init_text": "Classify the input and answer with the label.", "vocab_limit": 5000,
                "weight_decay": 1e-5}
    DOCS = {
        "length": "l, the number of soft tokens",
        "lr": "learning rate of the prompt (AdamW; the run's schedule multiplies it)",
        "init": '"vocab" (rows of sampled token ids) or "text" (rows of init_text\'s tokens)',
        "init_text": 'the text whose token rows start P when init is "text"',
        "vocab_limit": '"vocab" samples ids in [0, vocab_limit)',
        "weight_decay": "AdamW weight decay of the prompt (built-in PT's reference: 1e-5)",
    }

    def __init__(self, raw):
        unknown = sorted(set(raw) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(self.DEFAULTS))}")
        cfg = dict(self.DEFAULTS, **raw)
        for key in ("length", "vocab_limit"):
            v = cfg[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
                raise ValueError(f"{key} must be an integer, got {v!r}")
            cfg[key] = int(v)
        lr = cfg["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
            raise ValueError(f"lr must be a finite number, got {lr!r}")
        cfg["lr"] = float(lr)
        wd = cfg["weight_decay"]
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not math.isfinite(wd) or wd < 0:
            raise ValueError(f"weight_decay must be a finite number >= 0, got {wd!r}")
        cfg["weight_decay"] = float(wd)
        if cfg["length"] <= 0:
            raise ValueError(f"length must be > 0, got {cfg['length']}")
        if cfg["lr"] <= 0:
            raise ValueError(f"lr must be > 0, got {cfg['lr']:g}")
        if cfg["init"] not in ("vocab", "text"):
            raise ValueError(f'init must be "vocab" or "text", got {cfg["init"]!r}')
        if cfg["init"] == "vocab" and cfg["vocab_limit"] <= 0:
            raise ValueError(f"vocab_limit must be > 0, got {cfg['vocab_limit']}")
        if cfg["init"] == "text" and (not isinstance(cfg["init_text"], str) or not cfg["init_text"].strip()):
            raise ValueError("init_text is empty")
        self.cfg = cfg
        self.prompt = None

    def config(self):
        return self.cfg

    def prefix_len(self):
        return self.cfg["length"]

    def params(self):
        return [self.prompt]

    def _ids(self, env):
        n = self.cfg["length"]
        if self.cfg["init"] == "vocab":
            return vocab_init_ids(env.seed, n, env.vocab, self.cfg["vocab_limit"])
        toks = env.tokens.get(self.cfg["init_text"], [])
        if not toks:
            raise MethodError(f"init_text {self.cfg['init_text']!r} has no tokens")
        return [toks[i % len(toks)] for i in range(n)]

    def needs(self, env):
        """Setup's first round: the embedding rows (token ids) and texts to tokenise."""
        if self.cfg["init"] == "vocab":
            return vocab_init_ids(env.seed, self.cfg["length"], env.vocab, self.cfg["vocab_limit"]), []
        return [], [self.cfg["init_text"]]

    def setup(self, env):
        ids = self._ids(env)
        missing = [i for i in ids if i not in env.rows]
        if missing:
            raise MethodError(f"the host did not send embedding row {missing[0]}")
        self.prompt = Param("prompt", np.stack([env.rows[i] for i in ids]), lr=self.cfg["lr"],
                            weight_decay=self.cfg["weight_decay"])

    def forward(self, batch):
        return {"prefix": self.prompt.data}

    def backward(self, grads):
        self.prompt.grad += grads["prefix"]
