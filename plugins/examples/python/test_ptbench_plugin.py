"""Unit tests of the Python example plugin (run by cmd/ptbench TestPythonPluginUnitTests:
python3 -B -m unittest test_ptbench_plugin, in this folder). Expected values come from Go:
plugins/wire (bfloat16), math/rand/v2 (the vocab-init ids) and math.Pow."""

import math
import struct
import unittest

import numpy as np

import method_pb2 as pb
from ptbench_plugin import (AdamW, MethodError, Param, clip_grad_norm, decode, encode, go_pow,
                            vocab_init_ids)
from pypt import PromptTuning


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


class TensorTest(unittest.TestCase):
    def test_bfloat16_rounds_as_wire_F32ToBF16(self):
        cases = [  # float32 bits -> bfloat16 bits
            (0x3F800000, 0x3F80),  # 1.0
            (0x3F808000, 0x3F80),  # a tie: to even (down)
            (0x3F818000, 0x3F82),  # a tie: to even (up)
            (0x3F808001, 0x3F81),  # above the tie: up
            (0xBF80FFFF, 0xBF81),  # negative: magnitude rounds the same way
            (0x7F7FFFFF, 0x7F80),  # the largest float32 rounds to +Inf, as torch does
            (0x7F800001, 0x7FC0),  # a signalling NaN stays a NaN (bit 0x40 set)
        ]
        for bits, want in cases:
            t = encode(np.array([f32(bits)], dtype=np.float32), pb.DTYPE_BF16)
            got = struct.unpack("<H", t.data)[0]
            self.assertEqual(got, want, f"float32 {bits:#010x}: bfloat16 {got:#06x}, want {want:#06x}")

    def test_round_trips(self):
        a = np.arange(-6, 6, dtype=np.float32).reshape(3, 4) / 8
        for dtype in (pb.DTYPE_F32, pb.DTYPE_BF16):  # eighths are exact in bfloat16
            back = decode(encode(a, dtype), "t")
            self.assertEqual(back.shape, (3, 4))
            self.assertTrue(np.array_equal(back, a))

    def test_decode_rejects_malformed_tensors(self):
        cases = {
            "short data": pb.Tensor(shape=[2, 2], dtype=pb.DTYPE_F32, data=b"\0" * 12),
            "negative dimension": pb.Tensor(shape=[-1], dtype=pb.DTYPE_F32, data=b""),
            "unknown dtype": pb.Tensor(shape=[1], dtype=7, data=b"\0" * 4),
            "17 dimensions": pb.Tensor(shape=[1] * 17, dtype=pb.DTYPE_F32, data=b"\0" * 4),
        }
        for name, t in cases.items():
            with self.assertRaises(MethodError, msg=name):
                decode(t, name)


class GoParityTest(unittest.TestCase):
    def test_vocab_init_ids_match_go(self):
        cases = [  # (seed, vocab, ids from Go: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)).Int64N)
            (42, 32128, [1679, 4389, 432, 380, 3506, 4872, 812, 4435]),
            (1, 32128, [4653, 3646, 4509, 4435, 3516, 1776, 4755, 3368]),
            (-7, 32128, [4216, 3933, 2126, 1908, 128, 3360, 3508, 2132]),
            (3, 256, [26, 179, 32, 28, 111, 71, 228, 167]),  # limit 256: the power-of-two path
        ]
        for seed, vocab, want in cases:
            self.assertEqual(vocab_init_ids(seed, 8, vocab, 5000), want, f"seed {seed}")

    def test_go_pow_matches_go_math_pow(self):
        cases = [  # (x, n, Go's math.Pow(x, n) bits); libm's pow differs at 10, 1000, 12345
            (0.9, 2, 0x3FE9EB851EB851EC), (0.9, 10, 0x3FD650BF60432FDA), (0.9, 1000, 0x366FEE7413DAC412),
            (0.9, 12345, 0), (0.999, 3, 0x3FEFE772D5570166), (0.999, 10, 0x3FEFAE7299C256E4),
            (0.999, 1000, 0x3FD788526411EDAC), (0.999, 12345, 0x3ED22391FB9458B0),
        ]
        for x, n, want in cases:
            got = struct.unpack("<Q", struct.pack("<d", go_pow(x, n)))[0]
            self.assertEqual(got, want, f"go_pow({x}, {n}) = {got:#x}, Go gives {want:#x}")


class OptimiserTest(unittest.TestCase):
    def test_clip_grad_norm(self):
        cases = [  # (max_norm, norm before, scale applied)
            (0.0, 5.0, 1.0),  # 0: only measure
            (10.0, 5.0, 1.0),  # under the bound
            (1.0, 5.0, np.float32(1.0 / (5.0 + 1e-6))),
        ]
        for max_norm, want_norm, scale in cases:
            a, b = Param("a", np.zeros(1), 1.0), Param("b", np.zeros(1), 1.0)
            a.grad[:], b.grad[:] = 3, 4
            self.assertEqual(clip_grad_norm([a, b], max_norm), want_norm)
            self.assertEqual((a.grad[0], b.grad[0]), (np.float32(3) * scale, np.float32(4) * scale))

    def test_adamw_first_step_moves_each_value_by_lr(self):
        # Step 1: m = (1−β1) g, v = (1−β2) g², so transformers.AdamW's update
        # lr·√bc2/bc1 · m/(√v + eps) is lr · g / (|g| + eps/√(1−β2)): about ±lr; then weight
        # decay scales θ by 1 − lr·wd.
        p = Param("p", np.array([1.0, 1.0, 1.0]), lr=0.5, weight_decay=0.1)
        p.grad[:] = [2.0, -0.5, 1e-3]
        AdamW().step([p], lr_factor=0.2)
        lr = 0.5 * 0.2
        eps_eff = 1e-6 / np.sqrt(1 - 0.999)
        want = (1 - lr * np.sign(p.grad) * np.abs(p.grad) / (np.abs(p.grad) + eps_eff)) * (1 - lr * 0.1)
        self.assertTrue(np.allclose(p.data, want, rtol=1e-6), f"{p.data} vs {want}")


class ConfigTest(unittest.TestCase):
    def test_configure(self):
        ok = PromptTuning({"length": 8.0, "lr": 1})
        self.assertEqual((ok.config()["length"], ok.config()["lr"], ok.config()["init"]), (8, 1.0, "vocab"))
        bad = {
            "unknown key": ({"bogus": 1}, "unknown setting(s) bogus; valid: init, init_text, length, lr, vocab_limit"),
            "fractional length": ({"length": 2.5}, "length must be an integer"),
            "zero length": ({"length": 0}, "length must be > 0"),
            "negative lr": ({"lr": -1}, "lr must be > 0"),
            "infinite lr": ({"lr": math.inf}, "lr must be a finite number"),
            "unknown init": ({"init": "zeros"}, 'init must be "vocab" or "text"'),
            "empty text": ({"init": "text", "init_text": " "}, "init_text is empty"),
        }
        for name, (raw, want) in bad.items():
            with self.assertRaises(ValueError, msg=name) as cm:
                PromptTuning(raw)
            self.assertIn(want, str(cm.exception), name)


if __name__ == "__main__":
    unittest.main()
