#!/usr/bin/python3
"""PyTorch peer for dokja's training-throughput benchmarks.

Builds the reference Llama (tests/ref/llama_ref.py) from an HF-style config
file that also holds `batch_size` and `seq_len`, and trains it on random token
batches: forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW(lr 1e-4,
weight decay 0.1 on matrices only). W warmup steps are run first and not timed.

--device cpu (the default, used by bench/train_throughput): fp32 eager, the
reference model exactly as written, `--threads K` intra-op threads.

--device cuda (used by bench/gpu_train): PyTorch eager, no torch.compile. With
--dtype bf16 the weights, gradients and AdamW state stay fp32 (master weights)
and forward + loss run under torch.autocast("cuda", dtype=torch.bfloat16);
attention uses F.scaled_dot_product_attention(is_causal=True) where this torch
has it (>= 2.0; otherwise the reference's manual attention), RoPE's cos/sin are
cast to the activations' dtype as HF does, and AdamW is fused where this torch
offers it. The clock is read between torch.cuda.synchronize() calls.

Prints one JSON line on stdout:

  {"impl": "pytorch", "tok_per_s": ..., "step_s": ..., "steps": N,
   "threads": K, "params": ..., "device": "cpu"|"cuda", "dtype": "fp32"|"bf16"}

and on cuda also "gpu", "torch", "attention" ("sdpa"|"manual"), "fused_adamw"
and "max_mem_gib" (peak allocated CUDA memory).

Usage: /usr/bin/python3 bench/torch_train.py --config FILE.json --steps N --threads K [--warmup W]
       python3 bench/torch_train.py --device cuda --dtype bf16 --config FILE.json --steps N [--warmup W]
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import llama_ref  # noqa: E402


def sdpa_attention_forward(self, x, cos, sin):
    """llama_ref.LlamaAttention.forward with the fused causal attention kernel.

    Same maths as the reference; used on cuda only, so that the CPU figures
    keep measuring the reference's own code.
    """
    B, T, _ = x.shape
    q = self.q_proj(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
    k = self.k_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
    v = self.v_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
    # HF's rotary embedding hands back cos/sin in the activations' dtype.
    q, k = llama_ref.apply_rotary(q, k, cos.to(q.dtype), sin.to(q.dtype))
    k = llama_ref.repeat_kv(k, self.n_heads // self.n_kv)
    v = llama_ref.repeat_kv(v, self.n_heads // self.n_kv)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)           # scale 1/sqrt(hd)
    y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.hd)
    return self.o_proj(y)


def make_adamw(params, device):
    groups = [{"params": [p for p in params if p.dim() == 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    kw = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    if device == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kw), True
        except (TypeError, RuntimeError, ValueError):
            pass  # this torch has no fused AdamW: its default (foreach) implementation
    return torch.optim.AdamW(groups, **kw), False


def main():
    ap = argparse.ArgumentParser(description="PyTorch training-throughput peer")
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, help="intra-op threads (required with --device cpu)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    args = ap.parse_args()
    if args.device == "cpu" and args.threads is None:
        ap.error("--threads is required with --device cpu")
    if args.steps < 1 or (args.threads is not None and args.threads < 1) or args.warmup < 0:
        ap.error("--steps and --threads must be >= 1, --warmup >= 0")

    try:
        with open(args.config) as f:
            cfg_dict = json.load(f)
        B, T = int(cfg_dict["batch_size"]), int(cfg_dict["seq_len"])
        cfg = llama_ref.LlamaConfig.from_dict(cfg_dict, args.config)
    except (OSError, ValueError, KeyError) as e:
        print("torch_train: %s: %s" % (args.config, e), file=sys.stderr)
        return 1
    if T > cfg.max_position_embeddings:
        print("torch_train: seq_len %d > max_position_embeddings %d" % (T, cfg.max_position_embeddings),
              file=sys.stderr)
        return 1

    cuda = args.device == "cuda"
    attention = "manual"
    if cuda:
        if not torch.cuda.is_available():
            why = "this torch was built without CUDA" if torch.version.cuda is None \
                else "no CUDA device is visible (CUDA %s build)" % torch.version.cuda
            print("torch_train: --device cuda: %s (torch %s at %s); set TORCH_PYTHON to a "
                  "python with a CUDA build of torch" % (why, torch.__version__, sys.executable),
                  file=sys.stderr)
            return 1
        if args.dtype == "bf16" and not torch.cuda.is_bf16_supported():
            print("torch_train: --dtype bf16: %s does not support bf16"
                  % torch.cuda.get_device_name(0), file=sys.stderr)
            return 1
        if hasattr(F, "scaled_dot_product_attention"):
            llama_ref.LlamaAttention.forward = sdpa_attention_forward
            attention = "sdpa"

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = llama_ref.LlamaForCausalLM(cfg)
    llama_ref.init_weights(model, std=0.02)  # on the CPU RNG: the same weights on either device
    device = torch.device(args.device)
    model.to(device)
    params = list(model.parameters())
    opt, fused = make_adamw(params, args.device)

    # Batches are made up front so that only the training step is timed.
    total = args.warmup + args.steps
    data = torch.randint(0, cfg.vocab_size, (total, B, T + 1)).to(device)

    amp_dtype = torch.bfloat16 if args.dtype == "bf16" else None

    def step(i):
        x, y = data[i, :, :-1], data[i, :, 1:]
        opt.zero_grad(set_to_none=True)
        if amp_dtype is None:
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), y.reshape(-1))
        else:
            with torch.autocast(args.device, dtype=amp_dtype):
                logits = model(x)
                loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    if cuda:
        # Steps are queued back to back; the device is drained before each clock read.
        for i in range(args.warmup):
            step(i)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for i in range(args.warmup, total):
            loss = step(i)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        loss = loss.item()
    else:
        for i in range(args.warmup):
            step(i).item()
        t0 = time.perf_counter()
        for i in range(args.warmup, total):
            loss = step(i).item()  # forces the step to finish before the clock is read
        elapsed = time.perf_counter() - t0
    if not math.isfinite(loss):
        print("torch_train: loss is %r" % loss, file=sys.stderr)
        return 1

    out = {"impl": "pytorch",
           "tok_per_s": round(B * T * args.steps / elapsed, 1),
           "step_s": round(elapsed / args.steps, 4),
           "steps": args.steps,
           "threads": torch.get_num_threads(),
           "params": llama_ref.count_params(model),
           "device": args.device,
           "dtype": args.dtype}
    if cuda:
        out.update({"gpu": torch.cuda.get_device_name(0),
                    "torch": torch.__version__,
                    "attention": attention,
                    "fused_adamw": fused,
                    "max_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
