#!/usr/bin/python3
"""Write the committed reference fixtures tests/fixtures/<name>.{json,safetensors}.

For each tiny config: initial weights, a batch, the float32 forward logits and
loss, the gradients, and the weights after 3 AdamW steps on that same batch
(with gradient clipping), all from the PyTorch reference in llama_ref.py.
The C tests load these and compare. Deterministic: re-running gives the same
bytes (same torch build, one thread).

Usage: /usr/bin/python3 tests/ref/make_fixtures.py [OUT_DIR]
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

B, T = 2, 8
ADAMW = {"lrs": [1e-3, 2e-3, 3e-3], "weight_decay": 0.1, "beta1": 0.9,
         "beta2": 0.95, "eps": 1e-8, "grad_clip": 1.0}

BASE = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 64, "max_position_embeddings": 16,
        "rms_norm_eps": 1e-5, "bos_token_id": 0, "eos_token_id": 1}

CONFIGS = {
    "gqa_untied": dict(BASE, num_key_value_heads=2, rope_theta=10000.0,
                       tie_word_embeddings=False),
    "tied": dict(BASE, num_key_value_heads=4, rope_theta=500000.0,
                 tie_word_embeddings=True),
}

# (batch, position) of the targets set to -1, i.e. ignored by the loss.
IGNORED = [(0, 3), (1, 7)]


def loss_fn(logits, targets):
    # Mean over the targets that are not -1, as F.cross_entropy(ignore_index=-1).
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)


def make(name, cfg_dict, out_dir, seed):
    torch.manual_seed(seed)
    cfg = llama_ref.LlamaConfig.from_dict(cfg_dict, name)
    model = llama_ref.LlamaForCausalLM(cfg)
    # Norm weights jittered around 1 so a C bug that ignores them shows up.
    llama_ref.init_weights(model, std=0.02, norm_jitter=0.1)
    params = llama_ref.hf_state_dict(model)

    tokens = torch.randint(0, cfg.vocab_size, (B, T))
    targets = torch.randint(0, cfg.vocab_size, (B, T))
    for b, t in IGNORED:
        targets[b, t] = -1

    out = {"tokens": tokens.to(torch.int32), "targets": targets.to(torch.int32)}
    for n, p in params.items():
        out["init." + n] = p.detach().clone()

    # Forward and backward at the initial weights.
    logits = model(tokens)
    loss = loss_fn(logits, targets)
    loss.backward()
    out["logits"] = logits.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for n, p in params.items():
        out["grad." + n] = p.grad.detach().clone()

    # AdamW: weight decay only on the 2-D (matrix) parameters.
    decay = [p for p in params.values() if p.dim() == 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": ADAMW["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=ADAMW["lrs"][0], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    norms, losses = [], []
    for lr in ADAMW["lrs"]:
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        step_loss = loss_fn(model(tokens), targets)
        step_loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), ADAMW["grad_clip"])
        opt.step()
        norms.append(float(norm))
        losses.append(float(step_loss))
    out["grad_norm"] = torch.tensor(norms, dtype=torch.float32)
    out["step_loss"] = torch.tensor(losses, dtype=torch.float32)
    for n, p in params.items():
        out["adamw." + n] = p.detach().clone()

    for k, v in out.items():
        assert v.dtype in (torch.float32, torch.int32), (k, v.dtype)

    meta = {"config": cfg_dict, "B": B, "T": T, "adamw": ADAMW}
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    st_path = os.path.join(out_dir, name + ".safetensors")
    llama_ref.save_safetensors(st_path, out, metadata={"generator": "tests/ref/make_fixtures.py"})
    print("%s: loss %.6f, grad_norm %s, %d bytes"
          % (st_path, loss.item(), ["%.6f" % x for x in norms], os.path.getsize(st_path)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    # One thread: reductions then happen in a fixed order, so the bytes are reproducible.
    torch.set_num_threads(1)
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        full = dict(model_type="llama", **cfg)
        make(name, full, out_dir, seed=1234 + i)


if __name__ == "__main__":
    main()
