#!/usr/bin/python3
"""Reference for `dokja audit`, written with numpy and scipy (not with the C code).

  audit_ref.py variant SRC DST [--seed S] [--dtype F32|F16|BF16] [--shards N]
      DST = SRC with its MLP units and attention heads permuted and its norm
      scales folded into the next layer's weights (norms become 1): the same
      function, with different weights. When SRC has a tokenizer.json the
      vocabulary ids are permuted too (tokenizer.json, embeddings, special ids).
      Written in the dtype, in N shards with model.safetensors.index.json when N > 1.
  audit_ref.py same-function A B [--tol X]
      B computes what A computes: the logits of a prompt agree (torch reference;
      ids mapped through the tokenizers' token strings). Exit 1 when they do not.
  audit_ref.py compare A B [--seconds]
      The statistics of `dokja audit compare`, from scipy's linear_sum_assignment
      and Student's t, as JSON: per-layer rho and log10 p, Fisher's log10 p, norms.
  audit_ref.py ks RUN
      scipy's asymptotic Kolmogorov-Smirnov test of every matrix of
      RUN/init/model.safetensors against N(0, std of normal-0.02-scaled), as JSON.
  audit_ref.py synthetic DST --hidden C --width I [--layers L] [--vocab V] [--seed S] [--like SRC --noise X]
      A model directory holding what compare reads (embeddings, norms, gate and
      up projections) with N(0, 0.02) weights, or SRC's plus X-sized noise.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
from scipy import optimize, special, stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402


def load_dir(d):
    """config, {name: float64 array} of a model directory, single or sharded."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        files = [single]
    else:
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            files = sorted({os.path.join(d, v) for v in json.load(f)["weight_map"].values()})
    w = {}
    for path in files:
        w.update({k: v.double().numpy() for k, v in llama_ref.load_safetensors(path).items()})
    return cfg, w


def vocab_of(d):
    """{token string: id} of d/tokenizer.json (vocabulary and added tokens), or None."""
    path = os.path.join(d, "tokenizer.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        tj = json.load(f)
    v = dict(tj["model"]["vocab"])
    v.update({t["content"]: t["id"] for t in tj.get("added_tokens", [])})
    return v


def layer_name(i, rest):
    return "model.layers.%d.%s.weight" % (i, rest)


def variant(args):
    cfg, w = load_dir(args.src)
    rng = np.random.default_rng(args.seed)
    L, C, I = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, group = C // nh, nh // nkv
    for i in range(L):
        g = layer_name
        # MLP units: rows of gate and up, columns of down, all alike.
        p = rng.permutation(I)
        w[g(i, "mlp.gate_proj")] = w[g(i, "mlp.gate_proj")][p]
        w[g(i, "mlp.up_proj")] = w[g(i, "mlp.up_proj")][p]
        w[g(i, "mlp.down_proj")] = w[g(i, "mlp.down_proj")][:, p]
        # Heads: key/value heads, and the query heads of each group within it.
        pkv = rng.permutation(nkv)
        pq = np.concatenate([pkv[j] * group + rng.permutation(group) for j in range(nkv)])
        w[g(i, "self_attn.q_proj")] = w[g(i, "self_attn.q_proj")].reshape(nh, hd, C)[pq].reshape(nh * hd, C)
        for kv in ("k_proj", "v_proj"):
            w[g(i, "self_attn." + kv)] = w[g(i, "self_attn." + kv)].reshape(nkv, hd, C)[pkv].reshape(nkv * hd, C)
        w[g(i, "self_attn.o_proj")] = w[g(i, "self_attn.o_proj")].reshape(C, nh, hd)[:, pq].reshape(C, nh * hd)
        # Norm scales folded into the matrices that read the normed stream.
        for norm, readers in (("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
                              ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj"))):
            scale = w[g(i, norm)]
            for r in readers:
                w[g(i, r)] = w[g(i, r)] * scale[None, :]
            w[g(i, norm)] = np.ones_like(scale)
    if not cfg.get("tie_word_embeddings", True):
        w["lm_head.weight"] = w["lm_head.weight"] * w["model.norm.weight"][None, :]
        w["model.norm.weight"] = np.ones_like(w["model.norm.weight"])

    os.makedirs(args.dst, exist_ok=True)
    tok = os.path.join(args.src, "tokenizer.json")
    if os.path.exists(tok):
        V = cfg["vocab_size"]
        new_id = rng.permutation(V)          # old id -> new id
        old_of = np.argsort(new_id)          # new id -> old id
        for name in ("model.embed_tokens.weight", "lm_head.weight"):
            if name in w:
                w[name] = w[name][old_of]
        for k in ("bos_token_id", "eos_token_id"):
            cfg[k] = int(new_id[cfg[k]])
        with open(tok) as f:
            tj = json.load(f)
        tj["model"]["vocab"] = {t: int(new_id[i]) for t, i in tj["model"]["vocab"].items()}
        for t in tj.get("added_tokens", []):
            t["id"] = int(new_id[t["id"]])
        with open(os.path.join(args.dst, "tokenizer.json"), "w") as f:
            json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(args.dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    names = sorted(w)
    dtypes = {n: args.dtype for n in names}
    if args.shards <= 1:
        llama_ref.save_safetensors(os.path.join(args.dst, "model.safetensors"), w, dtypes)
        return 0
    weight_map = {}
    for s in range(args.shards):
        file = "model-%05d-of-%05d.safetensors" % (s + 1, args.shards)
        part = {n: w[n].astype(np.float32) for n in names[s::args.shards]}
        llama_ref.save_safetensors(os.path.join(args.dst, file), part, dtypes)
        weight_map.update({n: file for n in part})
    with open(os.path.join(args.dst, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    return 0


def same_function(args):
    import torch
    logits = []
    va, vb = vocab_of(args.a), vocab_of(args.b)
    prompt = [1, 5, 9, 14, 20, 33, 47, 60]
    to_b = (lambda i: i) if va is None else (lambda i: vb[next(t for t, j in va.items() if j == i)])
    for d, ids in ((args.a, prompt), (args.b, [to_b(i) for i in prompt])):
        cfg, w = load_dir(d)
        model = llama_ref.LlamaForCausalLM(llama_ref.LlamaConfig.from_dict(cfg, d))
        llama_ref.load_hf_state_dict(model, {k: torch.from_numpy(v.astype(np.float32)) for k, v in w.items()}, d)
        model.eval()
        with torch.no_grad():
            logits.append(model(torch.tensor([ids])).double().numpy()[0])
    la, lb = logits
    lb = lb[:, [to_b(i) for i in range(la.shape[1])]]
    err = float(np.abs(la - lb).max() / np.abs(la).max())
    print("largest relative logit difference %.3g" % err)
    return 0 if err <= args.tol else 1


def standardise_columns(x):
    x = x - x.mean(axis=0)
    n = np.linalg.norm(x, axis=0)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def spearman_log_p(rho, n):
    floor = -special.gammaln(n + 1)
    if rho >= 1:
        return floor
    return max(float(stats.t.logsf(rho * math.sqrt((n - 2) / (1 - rho * rho)), n - 2)), floor)


def compare(args):
    ca, wa = load_dir(args.a)
    cb, wb = load_dir(args.b)
    ea, eb = wa["model.embed_tokens.weight"], wb["model.embed_tokens.weight"]
    va, vb = vocab_of(args.a), vocab_of(args.b)
    if va is not None and vb is not None:
        pairs = sorted((i, vb[t]) for t, i in va.items() if t in vb and i < len(ea) and vb[t] < len(eb))
    else:
        pairs = [(i, i) for i in range(len(ea))]
    ia, ib = (np.array(x) for x in zip(*pairs))
    r = standardise_columns(ea[ia]).T @ standardise_columns(eb[ib])
    _, perm = optimize.linear_sum_assignment(-np.abs(r))
    sign = np.sign(r[np.arange(len(perm)), perm])
    sign[sign == 0] = 1
    if np.abs(r[np.arange(len(perm)), perm]).mean() < 0.5:  # no clear correspondence: as stored
        perm, sign = np.arange(len(perm)), np.ones(len(perm))
    out = {"tokens": len(pairs), "basis_identity": bool((perm == np.arange(len(perm))).all() and (sign > 0).all()),
           "norms": [], "layers": []}

    def norm_row(name):
        a, b = wa[name], wb[name][perm]
        cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        pearson = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None
        out["norms"].append({"tensor": name, "cosine": cos, "pearson": pearson})

    L = min(ca["num_hidden_layers"], cb["num_hidden_layers"])
    for i in range(L):
        for n in ("input_layernorm", "post_attention_layernorm"):
            norm_row(layer_name(i, n))
    norm_row("model.norm.weight")
    log_ps = []
    for i in range(L):
        t0 = time.time()
        match = []
        for proj in ("gate_proj", "up_proj"):
            a = standardise_columns(wa[layer_name(i, "mlp." + proj)])
            b = standardise_columns(wb[layer_name(i, "mlp." + proj)][:, perm] * sign[None, :])
            a /= np.linalg.norm(a, axis=1, keepdims=True)
            b /= np.linalg.norm(b, axis=1, keepdims=True)
            _, cols = optimize.linear_sum_assignment(-(a @ b.T))
            match.append(cols)
        n = len(match[0])
        rho = float(stats.spearmanr(match[0], match[1]).correlation)
        lp = spearman_log_p(rho, n)
        log_ps.append(lp)
        row = {"layer": i, "rho": rho, "log10_p": lp / math.log(10)}
        if args.seconds:
            row["seconds"] = time.time() - t0
        out["layers"].append(row)
    out["fisher_log10_p"] = float(stats.chi2.logsf(-2 * sum(log_ps), 2 * len(log_ps))) / math.log(10)
    print(json.dumps(out, indent=1))
    return 0


def ks(args):
    _, w = load_dir(os.path.join(args.run, "init"))
    with open(os.path.join(args.run, "config.json")) as f:
        L = json.load(f)["num_hidden_layers"]
    out = {}
    for name, x in sorted(w.items()):
        if x.ndim != 2:
            continue
        std = 0.02 / math.sqrt(2 * L) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
        res = stats.kstest(x.ravel() / std, "norm", method="asymp")
        out[name] = {"D": float(res.statistic), "p": float(res.pvalue)}
    print(json.dumps(out, indent=1))
    return 0


def synthetic(args):
    rng = np.random.default_rng(args.seed)
    C, I, L = args.hidden, args.width, args.layers
    shapes = {"model.embed_tokens.weight": (args.vocab, C), "model.norm.weight": (C,)}
    for i in range(L):
        shapes.update({layer_name(i, n): (C,) for n in ("input_layernorm", "post_attention_layernorm")})
        shapes.update({layer_name(i, "mlp." + p): (I, C) for p in ("gate_proj", "up_proj")})
    if args.like:
        base, scale = load_dir(args.like)[1], args.noise
    else:  # norms near 1, matrices near 0
        base, scale = {k: np.ones(s) if len(s) == 1 else np.zeros(s) for k, s in shapes.items()}, 0.02
    w = {k: (base[k] + scale * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    os.makedirs(args.dst, exist_ok=True)
    cfg = {"model_type": "llama", "hidden_size": C, "intermediate_size": I, "num_hidden_layers": L,
           "num_attention_heads": max(1, C // 64), "vocab_size": args.vocab}
    with open(os.path.join(args.dst, "config.json"), "w") as f:
        json.dump(cfg, f)
    llama_ref.save_safetensors(os.path.join(args.dst, "model.safetensors"), w)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("variant")
    v.add_argument("src")
    v.add_argument("dst")
    v.add_argument("--seed", type=int, default=7)
    v.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    v.add_argument("--shards", type=int, default=1)
    s = sub.add_parser("same-function")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--tol", type=float, default=1e-4)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--seconds", action="store_true")
    k = sub.add_parser("ks")
    k.add_argument("run")
    y = sub.add_parser("synthetic")
    y.add_argument("dst")
    y.add_argument("--hidden", type=int, required=True)
    y.add_argument("--width", type=int, required=True)
    y.add_argument("--layers", type=int, default=1)
    y.add_argument("--vocab", type=int, default=1000)
    y.add_argument("--seed", type=int, default=1)
    y.add_argument("--like", default=None)
    y.add_argument("--noise", type=float, default=0.01)
    args = ap.parse_args()
    if args.cmd == "variant" and os.path.isdir(args.dst):
        shutil.rmtree(args.dst)
    return {"variant": variant, "same-function": same_function, "compare": compare, "ks": ks,
            "synthetic": synthetic}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
