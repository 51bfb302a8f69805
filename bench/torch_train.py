#!/usr/bin/python3
"""PyTorch peer for dokja's training-throughput benchmark.

Builds the reference Llama (tests/ref/llama_ref.py) from an HF-style config
file that also holds `batch_size` and `seq_len`, and trains it in fp32 on
random token batches: forward, cross-entropy, backward, clip_grad_norm_(1.0),
AdamW(lr 1e-4, weight decay 0.1 on matrices only). W warmup steps are run
first and not timed. Prints one JSON line on stdout:

  {"impl": "pytorch", "tok_per_s": ..., "step_s": ..., "steps": N,
   "threads": K, "params": ...}

Usage: /usr/bin/python3 bench/torch_train.py --config FILE.json --steps N --threads K [--warmup W]
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import llama_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="PyTorch training-throughput peer")
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.steps < 1 or args.threads < 1 or args.warmup < 0:
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

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = llama_ref.LlamaForCausalLM(cfg)
    llama_ref.init_weights(model, std=0.02)
    params = list(model.parameters())
    opt = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() == 2], "weight_decay": 0.1},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95), eps=1e-8)

    # Batches are made up front so that only the training step is timed.
    total = args.warmup + args.steps
    data = torch.randint(0, cfg.vocab_size, (total, B, T + 1))

    def step(i):
        x, y = data[i, :, :-1], data[i, :, 1:]
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()  # forces the step to finish before the clock is read

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.warmup, total):
        step(i)
    elapsed = time.perf_counter() - t0

    print(json.dumps({"impl": "pytorch",
                      "tok_per_s": round(B * T * args.steps / elapsed, 1),
                      "step_s": round(elapsed / args.steps, 4),
                      "steps": args.steps,
                      "threads": args.threads,
                      "params": llama_ref.count_params(model)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
