#!/usr/bin/python3
"""Independent PyTorch reference of the Hugging Face Llama architecture.

Written from the semantics of transformers' LlamaForCausalLM (no biases, RMSNorm,
RoPE in the "rotate half" convention, grouped-query attention, SwiGLU MLP,
optionally tied LM head), not from dokja's C code, so that it can serve as a
test oracle. Parameter names are exactly the HF ones, so a state dict from this
module is a valid HF Llama checkpoint and vice versa.

Also holds a tiny safetensors reader/writer (F32, I32, BF16), because Debian
ships no python safetensors package.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------

CONFIG_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers",
               "num_attention_heads", "num_key_value_heads", "vocab_size",
               "max_position_embeddings", "rope_theta", "rms_norm_eps",
               "tie_word_embeddings")


class LlamaConfig:
    """The subset of an HF Llama config.json that the architecture needs."""

    def __init__(self, hidden_size, intermediate_size, num_hidden_layers,
                 num_attention_heads, num_key_value_heads=None, vocab_size=32000,
                 max_position_embeddings=2048, rope_theta=10000.0,
                 rms_norm_eps=1e-6, tie_word_embeddings=False,
                 bos_token_id=1, eos_token_id=2):
        self.hidden_size = int(hidden_size)
        self.intermediate_size = int(intermediate_size)
        self.num_hidden_layers = int(num_hidden_layers)
        self.num_attention_heads = int(num_attention_heads)
        # HF: a missing num_key_value_heads means plain multi-head attention.
        self.num_key_value_heads = int(num_key_value_heads or num_attention_heads)
        self.vocab_size = int(vocab_size)
        self.max_position_embeddings = int(max_position_embeddings)
        self.rope_theta = float(rope_theta)
        self.rms_norm_eps = float(rms_norm_eps)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        self.head_dim = self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d, source="config"):
        """Build from an HF-style dict, rejecting features the reference lacks."""
        missing = [k for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "vocab_size") if k not in d]
        if missing:
            raise ValueError("%s: missing key(s): %s" % (source, ", ".join(missing)))
        if d.get("model_type", "llama") != "llama":
            raise ValueError("%s: model_type is %r, expected 'llama'" % (source, d["model_type"]))
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError("%s: hidden_act %r not supported (only silu)" % (source, d["hidden_act"]))
        if d.get("attention_bias", False) or d.get("mlp_bias", False):
            raise ValueError("%s: biases are not supported by the reference" % source)
        if d.get("rope_scaling") is not None:
            raise ValueError("%s: rope_scaling is not supported by the reference" % source)
        if "head_dim" in d and d["head_dim"] * d["num_attention_heads"] != d["hidden_size"]:
            raise ValueError("%s: head_dim %d != hidden_size / num_attention_heads" % (source, d["head_dim"]))
        eos = d.get("eos_token_id", 2)
        if isinstance(eos, list):  # HF allows several eos ids; the first is the primary one
            eos = eos[0] if eos else None
        return cls(hidden_size=d["hidden_size"],
                   intermediate_size=d["intermediate_size"],
                   num_hidden_layers=d["num_hidden_layers"],
                   num_attention_heads=d["num_attention_heads"],
                   num_key_value_heads=d.get("num_key_value_heads"),
                   vocab_size=d["vocab_size"],
                   max_position_embeddings=d.get("max_position_embeddings", 2048),
                   rope_theta=d.get("rope_theta", 10000.0),
                   rms_norm_eps=d.get("rms_norm_eps", 1e-6),
                   tie_word_embeddings=d.get("tie_word_embeddings", False),
                   bos_token_id=d.get("bos_token_id", 1),
                   eos_token_id=eos)

    def to_dict(self):
        d = {k: getattr(self, k) for k in CONFIG_KEYS}
        d["bos_token_id"] = self.bos_token_id
        d["eos_token_id"] = self.eos_token_id
        return d


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

class LlamaRMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # HF computes the statistic in float32 and scales after casting back.
        dtype = x.dtype
        h = x.to(torch.float32)
        variance = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.eps)
        return self.weight * h.to(dtype)


def rope_cos_sin(head_dim, theta, seq_len, device=None):
    """cos, sin of shape (T, HD) as in HF LlamaRotaryEmbedding (default rope)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    t = torch.arange(seq_len, device=device, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)              # (T, HD/2)
    emb = torch.cat((freqs, freqs), dim=-1)       # (T, HD): both halves share a frequency
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(q, k, cos, sin):
    # q, k: (B, H, T, HD); cos, sin: (T, HD) broadcast over batch and heads.
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):
    """(B, KVH, T, HD) -> (B, KVH*n_rep, T, HD): each kv head serves n_rep query heads."""
    if n_rep == 1:
        return x
    b, kvh, t, hd = x.shape
    return x[:, :, None, :, :].expand(b, kvh, n_rep, t, hd).reshape(b, kvh * n_rep, t, hd)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.hd = cfg.head_dim
        C = cfg.hidden_size
        self.q_proj = nn.Linear(C, self.n_heads * self.hd, bias=False)
        self.k_proj = nn.Linear(C, self.n_kv * self.hd, bias=False)
        self.v_proj = nn.Linear(C, self.n_kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.hd, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        q, k = apply_rotary(q, k, cos, sin)
        k = repeat_kv(k, self.n_heads // self.n_kv)
        v = repeat_kv(v, self.n_heads // self.n_kv)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd)     # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(causal, float("-inf"))
        att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        y = torch.matmul(att, v)                                          # (B, H, T, HD)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.hd)
        return self.o_proj(y)


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, I = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(C, I, bias=False)
        self.up_proj = nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """model(tokens (B, T) long) -> logits (B, T, V)."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        # Tied: no separate lm_head parameter, the logits use embed_tokens.weight,
        # so the embedding's gradient is the sum of both uses and the parameter
        # appears once, as model.embed_tokens.weight.
        self.lm_head = None if cfg.tie_word_embeddings else \
            nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def lm_head_weight(self):
        return self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def forward(self, tokens):
        T = tokens.shape[1]
        cfg = self.config
        cos, sin = rope_cos_sin(cfg.head_dim, cfg.rope_theta, T, device=tokens.device)
        h = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            h = layer(h, cos, sin)
        h = self.model.norm(h)
        return F.linear(h, self.lm_head_weight())


def init_weights(model, std=0.02, norm_jitter=0.0):
    """Matrices ~ N(0, std); norm weights = 1 + norm_jitter * N(0, 1).

    Uses the global torch RNG, in named_parameters order, so a fixed seed gives
    fixed weights.
    """
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, std)
            else:
                p.fill_(1.0)
                if norm_jitter:
                    p.add_(norm_jitter * torch.randn(p.shape))


def hf_state_dict(model):
    """{hf name: tensor}; tied models have no lm_head.weight, as in HF files."""
    return {name: p for name, p in model.named_parameters()}


def load_hf_state_dict(model, tensors, source="checkpoint"):
    """Copy HF-named tensors into model, with clear errors on any mismatch."""
    params = dict(model.named_parameters())
    missing = [n for n in params if n not in tensors]
    if missing:
        raise ValueError("%s: missing tensor(s): %s" % (source, ", ".join(missing)))
    unexpected = [n for n in tensors if n not in params]
    if unexpected:
        if unexpected == ["lm_head.weight"] and model.config.tie_word_embeddings:
            raise ValueError("%s: has lm_head.weight but config says tie_word_embeddings=true" % source)
        raise ValueError("%s: unexpected tensor(s): %s" % (source, ", ".join(unexpected)))
    with torch.no_grad():
        for name, p in params.items():
            t = tensors[name]
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError("%s: tensor %s has shape %s, expected %s"
                                 % (source, name, list(t.shape), list(p.shape)))
            p.copy_(t.to(p.dtype))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length, JSON header
# {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
# then the raw little-endian tensor bytes (offsets are relative to the data start).
# ---------------------------------------------------------------------------

_NP_DTYPES = {"F32": np.dtype("<f4"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
              "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}


def _bf16_to_f32(u16):
    # bf16 is the top half of an f32.
    return (u16.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(f32):
    # Round to nearest, ties to even, as torch's .to(torch.bfloat16); NaNs stay NaN.
    u = np.ascontiguousarray(f32, dtype=np.float32).view(np.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(f32.reshape(u.shape))
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def load_safetensors(path, bf16_as_f32=True):
    """{name: torch tensor}. BF16 becomes float32 (exactly) unless told otherwise."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short to be a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d runs past the end of the file" % (path, n))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("%s: bad JSON header: %s" % (path, e))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype")
        if dtype not in _NP_DTYPES:
            raise ValueError("%s: tensor %s: unsupported dtype %r" % (path, name, dtype))
        shape = [int(s) for s in info["shape"]]
        begin, end = info["data_offsets"]
        npd = _NP_DTYPES[dtype]
        numel = int(np.prod(shape)) if shape else 1
        if end - begin != numel * npd.itemsize or base + end > len(data):
            raise ValueError("%s: tensor %s: data_offsets %s do not match shape %s %s"
                             % (path, name, [begin, end], shape, dtype))
        arr = np.frombuffer(data, dtype=npd, count=numel, offset=base + begin).reshape(shape)
        if dtype == "BF16":
            if not bf16_as_f32:
                raise ValueError("%s: tensor %s: BF16 only loads as float32" % (path, name))
            arr = _bf16_to_f32(arr)
        out[name] = torch.from_numpy(np.array(arr))  # copy: own, writable memory
    return out


def save_safetensors(path, tensors, dtypes=None, metadata=None):
    """Write {name: tensor} (float -> F32, int -> I32, or dtypes[name] = "BF16").

    Tensors are stored in name order; the header is space-padded so that the
    data starts 8-byte aligned, as the reference implementation does.
    """
    dtypes = dtypes or {}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        want = dtypes.get(name)
        if want is None:
            want = "F32" if np.issubdtype(a.dtype, np.floating) else "I32"
        if want == "BF16":
            raw = _f32_to_bf16(a.astype(np.float32)).astype("<u2").tobytes()
        elif want in ("F32", "I32", "I64", "F16"):
            raw = np.ascontiguousarray(a, dtype=_NP_DTYPES[want]).tobytes()
        else:
            raise ValueError("save_safetensors: unsupported dtype %r for %s" % (want, name))
        header[name] = {"dtype": want, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
