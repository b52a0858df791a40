#!/usr/bin/python3
"""PyTorch peer for `ptbench bench`: one PT training step on a random-init T5 of the t5-small
shape, written with plain torch ops (no transformers), fp32 or CPU autocast(bfloat16).

Run where Debian's python3-torch (PyTorch 1.13 on the same libtorch as ptbench) is installed:

    /usr/bin/python3 benchmarks/peer/t5_pt_step.py --dtype float32  --batch 16 --seq 128 --steps 5
    /usr/bin/python3 benchmarks/peer/t5_pt_step.py --dtype bfloat16 --batch 16 --seq 128 --steps 5
    bin/ptbench bench --methods pt --backbone t5-small --seq 128 --batch-size 16 --steps 5 [--dtype bfloat16]

Same shapes as ptbench's bench: a 100-token prompt, sources of --seq tokens, 2-token targets,
a frozen backbone, AdamW on the prompt only, 2 warm-up steps. Prints mean and median step time.
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
p.add_argument("--batch", type=int, default=16)
p.add_argument("--seq", type=int, default=128)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

V, D, DKV, FF, L, H, BUCKETS = 32128, 512, 64, 2048, 6, 8, 32


def w(*shape):
    return (torch.randn(*shape) / math.sqrt(shape[-1])).requires_grad_(False)


shared = w(V, D)
def block(cross):
    b = {k: w(H * DKV, D) for k in ("q", "k", "v")} | {"o": w(D, H * DKV), "wi": w(FF, D), "wo": w(D, FF),
                                                     "n1": torch.ones(D), "n2": torch.ones(D), "n3": torch.ones(D)}
    if cross:
        b |= {"cq": w(H * DKV, D), "ck": w(H * DKV, D), "cv": w(H * DKV, D), "co": w(D, H * DKV)}
    return b
enc = [block(False) for _ in range(L)]
dec = [block(True) for _ in range(L)]
enc_bias, dec_bias = w(BUCKETS, H), w(BUCKETS, H)


def rms(x, g):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6) * g).to(x.dtype)


def bucket(rel, bidirectional):
    n, ret = BUCKETS, torch.zeros_like(rel)
    if bidirectional:
        n //= 2
        ret += (rel > 0).long() * n
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    exact = n // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(128 / exact) * (n - exact)).long()
    return ret + torch.where(rel < exact, rel, large.clamp(max=n - 1))


def pos_bias(table, q, k, bidirectional):
    rel = torch.arange(k)[None, :] - torch.arange(q)[:, None]
    return table[bucket(rel, bidirectional)].permute(2, 0, 1)[None]


def attn(x, kv, wq, wk, wv, wo, bias):
    B, T, _ = x.shape
    q = (x @ wq.t()).view(B, T, H, DKV).transpose(1, 2)
    k = (kv @ wk.t()).view(B, kv.shape[1], H, DKV).transpose(1, 2)
    v = (kv @ wv.t()).view(B, kv.shape[1], H, DKV).transpose(1, 2)
    s = (q @ k.transpose(-1, -2)).float() + bias
    ctx = (s.softmax(-1).to(v.dtype) @ v).transpose(1, 2).reshape(B, T, H * DKV)
    return ctx @ wo.t()


def forward(embeds, mask, labels):
    B, Ls, _ = embeds.shape
    mbias = (1 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    eb = pos_bias(enc_bias, Ls, Ls, True) + mbias
    h = embeds
    for b in enc:
        n = rms(h, b["n1"])
        h = h + attn(n, n, b["q"], b["k"], b["v"], b["o"], eb)
        n = rms(h, b["n2"])
        h = h + F.relu(n @ b["wi"].t()) @ b["wo"].t()
    e = rms(h, torch.ones(D))
    dec_in = torch.cat([torch.zeros(B, 1, dtype=torch.long), labels[:, :-1]], 1)
    T = dec_in.shape[1]
    g = F.embedding(dec_in, shared)
    db = pos_bias(dec_bias, T, T, False) + torch.triu(torch.full((T, T), torch.finfo(torch.float32).min), 1)
    for b in dec:
        n = rms(g, b["n1"])
        g = g + attn(n, n, b["q"], b["k"], b["v"], b["o"], db)
        g = g + attn(rms(g, b["n2"]), e, b["cq"], b["ck"], b["cv"], b["co"], mbias)
        n = rms(g, b["n3"])
        g = g + F.relu(n @ b["wi"].t()) @ b["wo"].t()
    logits = (rms(g, torch.ones(D)) * D ** -0.5) @ shared.t()
    return F.cross_entropy(logits.float().view(-1, V), labels.view(-1))


prompt = shared[torch.randint(0, 5000, (100,))].clone().requires_grad_(True)
opt = torch.optim.AdamW([prompt], lr=1e-3, eps=1e-6, weight_decay=0)
times = []
for step in range(a.warmup + a.steps):
    ids = torch.randint(3, 5000, (a.batch, a.seq))
    labels = torch.randint(3, 5000, (a.batch, 2))
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bfloat16"):
        x = torch.cat([prompt[None].expand(a.batch, -1, -1), F.embedding(ids, shared)], 1)
        mask = torch.ones(a.batch, x.shape[1])
        loss = forward(x, mask, labels)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([prompt], 1.0)
    opt.step()
    if step >= a.warmup:
        times.append(time.perf_counter() - t0)
print(f"torch {torch.__version__} {a.dtype} batch {a.batch} seq {a.seq}: mean {statistics.mean(times):.4f}s median {statistics.median(times):.4f}s ({a.steps} steps)")
