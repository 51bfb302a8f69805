#!/usr/bin/python3
"""Check a Hugging Face Llama model directory written by dokja against the reference.

Loads MODEL_DIR/config.json and MODEL_DIR/model.safetensors (F32 or BF16;
BF16 is widened to float32 exactly) into llama_ref, runs greedy decoding with
full recomputation at each step (argmax of the last position's logits; on a tie
the lowest id wins, as torch.argmax) and compares the generated ids with
--expect-ids.

  check_model_dir.py MODEL_DIR --prompt-ids 1,2,3 --max-new-tokens N
                     [--expect-ids a,b,c] [--logits-out FILE.safetensors]
                     [--stop-at-eos]

Exit status: 0 when the ids match (or when --expect-ids is not given),
1 on a mismatch, 2 when the directory cannot be loaded or on bad arguments.
--logits-out writes one float32 tensor "logits" of shape (T, V): the logits of
every prompt position, for a C test to compare.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402


class UsageError(Exception):
    """A user-facing load or argument error (exit 2)."""


def parse_ids(text, what):
    text = text.strip()
    if not text:
        return []
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise UsageError("%s: expected comma-separated integers, got %r" % (what, text))


def load_model_dir(model_dir):
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(cfg_path):
        raise UsageError("%s: not found" % cfg_path)
    try:
        with open(cfg_path) as f:
            cfg_dict = json.load(f)
    except json.JSONDecodeError as e:
        raise UsageError("%s: bad JSON: %s" % (cfg_path, e))
    try:
        cfg = llama_ref.LlamaConfig.from_dict(cfg_dict, cfg_path)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e))

    st_path = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(st_path):
        raise UsageError("%s: not found" % st_path)
    try:
        tensors = llama_ref.load_safetensors(st_path)
    except (ValueError, KeyError) as e:
        raise UsageError(str(e))

    model = llama_ref.LlamaForCausalLM(cfg)
    try:
        llama_ref.load_hf_state_dict(model, tensors, st_path)
    except ValueError as e:
        raise UsageError(str(e))
    model.eval()
    return cfg, model


@torch.no_grad()
def greedy(model, prompt, max_new_tokens, eos=None):
    ids = list(prompt)
    out = []
    for _ in range(max_new_tokens):
        logits = model(torch.tensor([ids], dtype=torch.long))   # (1, T, V)
        nxt = int(torch.argmax(logits[0, -1]))
        out.append(nxt)
        ids.append(nxt)
        if eos is not None and nxt == eos:
            break
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--prompt-ids", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--max-new-tokens", type=int, default=0)
    ap.add_argument("--expect-ids", default=None, help="comma-separated expected generated ids")
    ap.add_argument("--logits-out", default=None, help="write the prompt's float32 logits (T, V) here")
    ap.add_argument("--stop-at-eos", action="store_true",
                    help="stop after generating config eos_token_id (default: always N tokens)")
    args = ap.parse_args(argv)

    try:
        prompt = parse_ids(args.prompt_ids, "--prompt-ids")
        expect = None if args.expect_ids is None else parse_ids(args.expect_ids, "--expect-ids")
        if not prompt:
            raise UsageError("--prompt-ids: at least one token is needed")
        if args.max_new_tokens < 0:
            raise UsageError("--max-new-tokens must be >= 0")
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        cfg, model = load_model_dir(args.model_dir)
        bad = [i for i in prompt if not 0 <= i < cfg.vocab_size]
        if bad:
            raise UsageError("--prompt-ids: id(s) %s outside the vocabulary [0, %d)" % (bad, cfg.vocab_size))
    except UsageError as e:
        print("check_model_dir: %s" % e, file=sys.stderr)
        return 2

    if len(prompt) + args.max_new_tokens > cfg.max_position_embeddings:
        print("check_model_dir: warning: %d positions exceed max_position_embeddings %d"
              % (len(prompt) + args.max_new_tokens, cfg.max_position_embeddings), file=sys.stderr)

    if args.logits_out:
        with torch.no_grad():
            logits = model(torch.tensor([prompt], dtype=torch.long))[0]  # (T, V)
        llama_ref.save_safetensors(args.logits_out, {"logits": logits.float()})

    eos = cfg.eos_token_id if args.stop_at_eos else None
    got = greedy(model, prompt, args.max_new_tokens, eos)
    got_s = ",".join(str(i) for i in got)
    if expect is None:
        print("generated: %s" % got_s)
        return 0
    if got == expect:
        print("ok: generated %s" % got_s)
        return 0
    print("MISMATCH\n  expected:  %s\n  reference: %s"
          % (",".join(str(i) for i in expect), got_s))
    first = next((i for i, (a, b) in enumerate(zip(expect, got)) if a != b), min(len(expect), len(got)))
    print("  first difference at generated position %d" % first)
    return 1


if __name__ == "__main__":
    sys.exit(main())
