"""ptbench_plugin: the protocol half of a ptbench method plugin written in Python.

docs/plugin-protocol.md is the specification this module implements; plugins/sdk (Go) is the
reference implementation. A method (see pypt.py) only does its numpy maths; this module does the
rest:

- the go-plugin handshake: check the magic cookie, serve gRPC on 127.0.0.1, print the one line
  "1|<protocol version>|tcp|127.0.0.1:<port>|grpc" on stdout (stdout carries nothing else: log to
  stderr);
- the services the host may call: ptbench.method.v1.Method, grpc.health.v1.Health (go-plugin's
  health check, service "plugin") and plugin.GRPCController/Shutdown (a graceful stop). They are
  registered by hand with grpc's generic handlers, so grpcio-tools is not needed;
- the call order (Configure once, Setup in one or two rounds, each Backward after its training
  Forward), shape checks, and errors as gRPC status codes with a message the user reads;
- tensors on the wire (little-endian float32 or bfloat16, row-major);
- the optimiser contract: after the method's backward, clip the global gradient norm and apply
  AdamW with ptbench's settings, in float32 with the same rounding steps as core.AdamW.

Dependencies: grpcio, protobuf, numpy (Debian: python3-grpcio python3-protobuf python3-numpy).
"""

import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from concurrent import futures

import grpc
import numpy as np

import method_pb2 as pb

# The go-plugin handshake: ptbench (plugins/wire) sets the cookie in the plugin's environment
# and accepts only plugins that print its protocol version.
MAGIC_COOKIE_KEY = "PTBENCH_METHOD_PLUGIN"
MAGIC_COOKIE_VALUE = "7a1c5d0e-ptbench-method-plugin"
CORE_PROTOCOL_VERSION = 1  # go-plugin's own protocol
PROTOCOL_VERSION = 2  # plugins/proto/method.proto as plugins/wire.ProtocolVersion counts it

MAX_MESSAGE_BYTES = 1 << 30  # as plugins/wire: full input embeddings can be tens of MiB
MAX_DIMS = 16

F32, BF16 = pb.DTYPE_F32, pb.DTYPE_BF16


class MethodError(Exception):
    """An error the host shows to the user as "plugin <name>: <call>: <message>"."""

    def __init__(self, message, code=grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# Tensors


def decode(t, what):
    """A wire Tensor as a float32 numpy array of its shape (a fresh, writable copy)."""
    if t is None:
        raise MethodError(f"{what}: tensor missing")
    shape = [int(s) for s in t.shape]
    if len(shape) > MAX_DIMS or any(s < 0 for s in shape):
        raise MethodError(f"{what}: bad shape {shape}")
    n = math.prod(shape)
    size = {F32: 4, BF16: 2}.get(t.dtype)
    if size is None:
        raise MethodError(f"{what}: unknown dtype {t.dtype}")
    if len(t.data) != n * size:
        raise MethodError(f"{what}: shape {shape} needs {n * size} bytes, got {len(t.data)}")
    if t.dtype == F32:
        a = np.frombuffer(t.data, dtype="<f4").astype(np.float32)
    else:  # bfloat16 is the high half of a float32: widening is exact
        a = (np.frombuffer(t.data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    return a.reshape(shape)


def encode(a, dtype=F32):
    """A float32 array as a wire Tensor; bfloat16 rounds to nearest even as torch does."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == BF16:
        u = a.reshape(-1).view(np.uint32).astype(np.uint64)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
        nan = np.isnan(a.reshape(-1))
        half = np.where(nan, (u >> 16) | 0x40, rounded).astype("<u2")
        return pb.Tensor(shape=list(a.shape), dtype=BF16, data=half.tobytes())
    return pb.Tensor(shape=list(a.shape), dtype=F32, data=a.astype("<f4").tobytes())


# ---------------------------------------------------------------------------------------------
# Parameters and the optimiser


class Param:
    """One trainable float32 tensor with its base learning rate and weight decay."""

    def __init__(self, name, data, lr, weight_decay=0.0):
        self.name = name
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.grad = np.zeros_like(self.data)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)


def go_pow(x, n):
    """x**n for an integer n >= 0 computed as Go's math.Pow does (repeated squaring on
    frexp's mantissa). ptbench's AdamW takes its bias corrections from Go's math.Pow, which can
    differ from C's pow in the last bit; this keeps the update identical."""
    if n == 0 or x == 1:
        return 1.0
    if n == 1:
        return x
    a1, ae = 1.0, 0
    x1, xe = math.frexp(x)
    i = n
    while i:
        if xe < -(1 << 12) or (1 << 12) < xe:
            ae += xe
            break
        if i & 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    return math.ldexp(a1, ae)


def clip_grad_norm(params, max_norm):
    """Scale all gradients so that their global L2 norm is at most max_norm (0: only measure);
    return the norm before clipping. As torch.nn.utils.clip_grad_norm_: the scale
    max_norm / (norm + 1e-6), applied in float32."""
    total = math.sqrt(sum(float(np.dot(p.grad.reshape(-1).astype(np.float64), p.grad.reshape(-1).astype(np.float64)))
                          for p in params))
    coef = max_norm / (total + 1e-6)
    if max_norm > 0 and coef < 1:
        c = np.float32(coef)
        for p in params:
            p.grad *= c
    return total


class AdamW:
    """transformers.AdamW (betas 0.9/0.999; eps 1e-6, the protocol's default, or the method
    class's ADAM_EPS; eps added to sqrt(v) before the bias correction, weight decay after the
    update), every operation rounded to float32 in the order of ptbench's core.AdamW and
    plugins/sdk.AdamW."""

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-6):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.steps = 0
        self.moments = {}

    def step(self, params, lr_factor):
        self.steps += 1
        bc1 = 1 - go_pow(self.beta1, self.steps)
        bc2_sqrt = math.sqrt(1 - go_pow(self.beta2, self.steps))
        f32 = np.float32
        b1, c1 = f32(self.beta1), f32(1 - self.beta1)
        b2, c2 = f32(self.beta2), f32(1 - self.beta2)
        eps = f32(self.eps)
        for p in params:
            m, v = self.moments.setdefault(p.name, (np.zeros_like(p.data), np.zeros_like(p.data)))
            lr = p.lr * lr_factor
            g = p.grad
            m[...] = m * b1 + g * c1  # m <- b1 m + (1-b1) g
            v[...] = v * b2 + (g * c2) * g  # v <- b2 v + ((1-b2) g) g
            denom = np.sqrt(v) + eps
            p.data += (m / denom) * f32(-lr * bc2_sqrt / bc1)
            if p.weight_decay:
                p.data *= f32(1 - lr * p.weight_decay)


# ---------------------------------------------------------------------------------------------
# Setup helpers


def vocab_init_ids(seed, n, vocab, vocab_limit):
    """The n token ids ptbench's PT samples for its "vocab" initialisation: uniform over
    [0, min(vocab_limit, vocab)) from Go's math/rand/v2 PCG (DXSM) seeded with (seed,
    0x9e3779b97f4a7c15), drawn with Rand.Int64N (plugins/sdk.VocabInitIDs)."""
    mask = (1 << 64) - 1
    hi, lo = seed & mask, 0x9E3779B97F4A7C15
    mul = (2549297995355413924 << 64) | 4865540595714422341
    inc = (6364136223846793005 << 64) | 1442695040888963407

    def uint64():
        nonlocal hi, lo
        state = (((hi << 64) | lo) * mul + inc) & ((1 << 128) - 1)
        hi, lo = state >> 64, state & mask
        x = hi
        x ^= x >> 32
        x = (x * 0xDA942042E4DD58B5) & mask
        x ^= x >> 48
        return (x * (lo | 1)) & mask

    limit = min(vocab_limit, vocab)
    ids = []
    for _ in range(n):
        if limit & (limit - 1) == 0:
            ids.append(uint64() & (limit - 1))
            continue
        prod = uint64() * limit
        if prod & mask < limit:
            thresh = (-limit) % limit  # 2**64 mod limit
            while prod & mask < thresh:
                prod = uint64() * limit
        ids.append(prod >> 64)
    return ids


class Env:
    """What Setup tells the method: the backbone's d_model and vocab, the run's seed, task(s)
    and backbone name; in the second round the embedding rows (id -> [d] float32) and each
    text's token ids it asked for."""

    def __init__(self, req):
        self.d_model, self.vocab, self.seed = int(req.d_model), int(req.vocab), int(req.seed)
        self.max_source_len, self.task, self.backbone = int(req.max_source_len), req.task, req.backbone
        self.tasks = list(req.tasks)
        self.rows, self.tokens = {}, {}


class Batch:
    """One Forward: B, L, train, step, mask [B, L], embeds (as the method declared) and each
    row's task index."""

    def __init__(self, req, mask, embeds):
        self.B, self.L, self.train, self.step = int(req.batch), int(req.length), req.train, int(req.step)
        self.mask, self.embeds, self.tasks = mask, embeds, list(req.tasks)


# ---------------------------------------------------------------------------------------------
# The method service


class _Server:
    """Adapts a method class to ptbench.method.v1.Method: the call order, shapes, the optimiser
    step and errors. Calls are serialised (the host makes one at a time anyway)."""

    def __init__(self, cls):
        self.cls = cls
        self.lock = threading.Lock()
        self.m = None
        self.params = None
        self.opt = None
        self.pending = None  # shapes of the latest training Forward's outputs, until Backward

    def describe(self, _req):
        c = self.cls
        return pb.DescribeResponse(
            name=c.NAME, version=c.VERSION, about=c.ABOUT, label=getattr(c, "LABEL", ""),
            input=getattr(c, "INPUT", pb.INPUT_NONE), prefix=c.PREFIX, offset=c.OFFSET,
            default_config_json=json.dumps(c.DEFAULTS), config_doc=c.DOCS,
            protocol_version=PROTOCOL_VERSION)

    def configure(self, req):
        if self.m is not None:
            raise MethodError("Configure called twice", grpc.StatusCode.FAILED_PRECONDITION)
        try:
            raw = json.loads(req.config_json or "{}")
        except ValueError as e:
            raise MethodError(f"config is not JSON: {e}")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise MethodError(f"config must be a JSON object, got {req.config_json}")
        try:
            self.m = self.cls(raw)
        except ValueError as e:
            raise MethodError(str(e))
        return pb.ConfigureResponse(resolved_config_json=json.dumps(self.m.config()))

    def setup(self, req):
        if self.m is None:
            raise MethodError("Setup before Configure", grpc.StatusCode.FAILED_PRECONDITION)
        if self.params is not None:
            raise MethodError("Setup called twice", grpc.StatusCode.FAILED_PRECONDITION)
        env = Env(req)
        if not req.provided:
            rows, texts = self.m.needs(env)
            if rows or texts:
                return pb.SetupResponse(needs=pb.Needs(embedding_rows=rows, texts=texts))
        elif req.row_ids:
            rows = decode(req.rows, "embedding rows")
            if list(rows.shape) != [len(req.row_ids), env.d_model]:
                raise MethodError(f"embedding rows have shape {list(rows.shape)}, want [{len(req.row_ids)}, {env.d_model}]")
            env.rows = {int(i): rows[k] for k, i in enumerate(req.row_ids)}
        for tt in req.texts:
            env.tokens[tt.text] = [int(i) for i in tt.ids]
        self.m.setup(env)
        self.params = self.m.params()
        self.opt = AdamW(eps=getattr(self.cls, "ADAM_EPS", 1e-6))
        return pb.SetupResponse(trainable_params=sum(p.data.size for p in self.params),
                                prefix_len=self.m.prefix_len())

    def forward(self, req):
        if self.params is None:
            raise MethodError("Forward before Setup", grpc.StatusCode.FAILED_PRECONDITION)
        mask = decode(req.mask, "mask")
        if list(mask.shape) != [req.batch, req.length]:
            raise MethodError(f"mask has shape {list(mask.shape)}, want [{req.batch}, {req.length}]")
        embeds = decode(req.embeds, "embeds") if req.HasField("embeds") else None
        out = self.m.forward(Batch(req, mask, embeds))
        resp, shapes = pb.ForwardResponse(), {}
        for kind, declared in (("prefix", self.cls.PREFIX), ("offset", self.cls.OFFSET)):
            t = out.get(kind)
            if (t is not None) != declared:
                raise MethodError(f"forward returned {kind} {t is not None}, the plugin declares {declared}",
                                  grpc.StatusCode.INTERNAL)
            if t is not None:
                getattr(resp, kind).CopyFrom(encode(t, req.wire_dtype))
                shapes[kind] = list(np.shape(t))
        self.pending = shapes if req.train else None
        return resp

    def backward(self, req):
        if self.pending is None:
            raise MethodError("Backward without a training Forward before it", grpc.StatusCode.FAILED_PRECONDITION)
        shapes, self.pending = self.pending, None
        grads = {}
        for kind, want in shapes.items():
            field = "grad_" + kind
            if not req.HasField(field):
                raise MethodError(f"Backward lacks {field} (shape {want})")
            g = decode(getattr(req, field), field)
            if list(g.shape) != want:
                raise MethodError(f"{field} has shape {list(g.shape)}, the output {want}")
            grads[kind] = g
        for p in self.params:
            p.grad[...] = 0
        self.m.backward(grads)
        norm = clip_grad_norm(self.params, req.max_grad_norm)
        self.opt.step(self.params, req.lr_factor)
        return pb.BackwardResponse(grad_norm=norm)

    def save_state(self, _req):
        if self.params is None:
            raise MethodError("SaveState before Setup", grpc.StatusCode.FAILED_PRECONDITION)
        return pb.SaveStateResponse(tensors=[pb.NamedTensor(name=p.name, tensor=encode(p.data)) for p in self.params])

    def load_state(self, req):
        if self.params is None:
            raise MethodError("LoadState before Setup", grpc.StatusCode.FAILED_PRECONDITION)
        given = {nt.name: nt.tensor for nt in req.tensors}
        for p in self.params:
            if p.name not in given:
                raise MethodError(f"state has no tensor {p.name!r}")
            t = decode(given[p.name], f"state tensor {p.name!r}")
            if t.shape != p.data.shape:
                raise MethodError(f"state tensor {p.name!r} has shape {list(t.shape)}, the parameter {list(p.data.shape)}")
            p.data[...] = t
        return pb.LoadStateResponse()

    def handler(self):
        def unary(name, fn, req_cls, resp_cls):
            def call(req, ctx):
                with self.lock:
                    try:
                        return fn(req)
                    except MethodError as e:
                        err = (e.code, str(e))
                    except Exception as e:  # a bug in the method: INTERNAL, with where it happened
                        tb = traceback.format_exc()
                        sys.stderr.write(tb)
                        err = (grpc.StatusCode.INTERNAL, f"{name} raised {type(e).__name__}: {e}\n{tb[-1500:]}")
                ctx.abort(*err)

            return grpc.unary_unary_rpc_method_handler(
                call, request_deserializer=req_cls.FromString, response_serializer=resp_cls.SerializeToString)

        rpcs = {
            "Describe": (self.describe, pb.DescribeRequest, pb.DescribeResponse),
            "Configure": (self.configure, pb.ConfigureRequest, pb.ConfigureResponse),
            "Setup": (self.setup, pb.SetupRequest, pb.SetupResponse),
            "Forward": (self.forward, pb.ForwardRequest, pb.ForwardResponse),
            "Backward": (self.backward, pb.BackwardRequest, pb.BackwardResponse),
            "SaveState": (self.save_state, pb.SaveStateRequest, pb.SaveStateResponse),
            "LoadState": (self.load_state, pb.LoadStateRequest, pb.LoadStateResponse),
        }
        return grpc.method_handlers_generic_handler(
            "ptbench.method.v1.Method", {n: unary(n, *spec) for n, spec in rpcs.items()})


# ---------------------------------------------------------------------------------------------
# go-plugin's services, encoded by hand (their messages are one field or none)


def _health_check(req, ctx):
    """grpc.health.v1.Health/Check: HealthCheckResponse{status: SERVING} is the bytes 08 01.
    The request is HealthCheckRequest{service = 1 (string)}; go-plugin asks for "plugin"."""
    service = b""
    if len(req) >= 2 and req[0] == 0x0A:
        service = req[2:2 + req[1]]
    if service not in (b"", b"plugin"):
        ctx.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {service!r}")
    return b"\x08\x01"


def _raw_handler(fn):
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=None, response_serializer=None)


def _exit_with_parent():
    """Exit when the host is gone (killed without stopping its plugins): the plugin is then
    re-parented and its parent pid changes."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            sys.stderr.write("ptbench method plugin: the host process is gone; exiting\n")
            os._exit(1)


def serve(cls):
    """Run cls as a ptbench method plugin; returns when the host stops it. Started by hand with
    --describe it prints its description as JSON instead."""
    server_impl = _Server(cls)
    if len(sys.argv) > 1 and sys.argv[1] in ("-describe", "--describe"):
        d = server_impl.describe(None)
        print(json.dumps({"name": d.name, "version": d.version, "about": d.about, "label": d.label,
                          "prefix": d.prefix, "offset": d.offset, "default_config": json.loads(d.default_config_json),
                          "config_doc": dict(d.config_doc), "protocol_version": d.protocol_version}, indent=2))
        return
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(f"This is a ptbench method plugin ({cls.NAME}). ptbench starts it: put it in "
                         "$PTBENCH_PLUGIN_DIR and run `ptbench run --methods " + cls.NAME + " ...`; "
                         "`--describe` prints its description.\n")
        sys.exit(1)
    if os.environ.get("PLUGIN_CLIENT_CERT"):
        sys.stderr.write("the host asks for mTLS (PLUGIN_CLIENT_CERT); this plugin serves plaintext on 127.0.0.1 only\n")
        sys.exit(1)
    # Like go-plugin's Go servers: a Ctrl-C is the host's to handle; the host stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()

    def shutdown(_req, _ctx):  # plugin.GRPCController/Shutdown (Empty -> Empty)
        stop.set()
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
    server.add_generic_rpc_handlers((
        server_impl.handler(),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": _raw_handler(_health_check)}),
        grpc.method_handlers_generic_handler("plugin.GRPCController", {"Shutdown": _raw_handler(shutdown)}),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    if not port:
        sys.stderr.write("cannot listen on 127.0.0.1\n")
        sys.exit(1)
    server.start()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    # The handshake line; nothing else may ever go to stdout.
    sys.stdout.write(f"{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc\n")
    sys.stdout.flush()
    stop.wait()
    server.stop(grace=1).wait()
