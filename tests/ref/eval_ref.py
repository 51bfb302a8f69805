#!/usr/bin/python3
"""Independent checks of `dokja eval` results (Debian's python3 with torch).

  eval_ref.py recompute RESULTS.json
      every mc task's acc / acc_norm (and macro averages) and their standard
      errors recomputed from the per-row records, and every gen task's
      exact_match from its records.
  eval_ref.py copa MODEL_DIR DATA_DIR RESULTS.json N
      the first N rows of KoBEST COPA scored by the PyTorch reference model
      (tests/ref/llama_ref.py) with a byte-level tokenizer, prompts built
      here after lm-evaluation-harness's kobest_copa: each choice's
      log-likelihood, prediction and acc must match dokja's.
  eval_ref.py bpb MODEL_DIR TEXT RESULTS.json
      bits per byte of the text with rolling windows, by the reference model.

Exit 0 when everything matches, 1 otherwise (the differences are printed).
"""

import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def mean_se(x):
    n = len(x)
    mu = sum(x) / n
    if n < 2:
        return mu, 0.0
    return mu, math.sqrt(sum((v - mu) ** 2 for v in x) / (n - 1)) / math.sqrt(n)


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(b))


def recompute(path):
    tasks = json.load(open(path, encoding="utf-8"))["tasks"]
    bad = 0
    for name, t in tasks.items():
        recs = t.get("records", [])
        if t["kind"] == "mc":
            cols = {"acc": [], "acc_norm": []}
            subj = {}
            for r in recs:
                ll = [c["ll"] for c in r["choices"]]
                norm = [c["ll"] / (c["bytes"] or 1) for c in r["choices"]]
                pred, pred_n = ll.index(max(ll)), norm.index(max(norm))
                if pred != r["pred"] or pred_n != r["pred_norm"]:
                    print("%s row %d: prediction %d/%d, records say %d/%d" % (name, r["index"], pred, pred_n, r["pred"], r["pred_norm"]))
                    bad += 1
                vals = {"acc": float(pred == r["gold"]), "acc_norm": float(pred_n == r["gold"])}
                for k, v in vals.items():
                    cols[k].append(v)
                    subj.setdefault(r.get("subject", ""), {}).setdefault(k, []).append(v)
            for k, v in cols.items():
                if k not in t["metrics"]:
                    continue
                mu, se = mean_se(v)
                got = t["metrics"][k]
                if not (close(got["value"], mu) and close(got["stderr"], se)):
                    print("%s %s: %r, recomputed %.6f +- %.6f" % (name, k, got, mu, se))
                    bad += 1
                if len(subj) > 1:
                    per = [mean_se(s[k]) for s in subj.values()]
                    macro = sum(p[0] for p in per) / len(per)
                    macro_se = math.sqrt(sum(p[1] ** 2 for p in per)) / len(per)
                    got = t["metrics"][k + "_macro"]
                    if not (close(got["value"], macro) and close(got["stderr"], macro_se)):
                        print("%s %s_macro: %r, recomputed %.6f +- %.6f" % (name, k, got, macro, macro_se))
                        bad += 1
            if abs(t["random_baseline"] - sum(1 / len(r["choices"]) for r in recs) / len(recs)) > 1e-9:
                print("%s: random baseline %r" % (name, t["random_baseline"]))
                bad += 1
        elif t["kind"] == "gen":
            mu, se = mean_se([r["exact_match"] for r in recs])
            got = t["metrics"]["exact_match"]
            if not (close(got["value"], mu) and close(got["stderr"], se)):
                print("%s exact_match: %r, recomputed %.6f" % (name, got, mu))
                bad += 1
        if len(recs) != t["n"]:
            print("%s: %d records for n = %d" % (name, len(recs), t["n"]))
            bad += 1
    return bad


def load_model(model_dir):
    import torch
    sys.path.insert(0, HERE)
    from check_model_dir import load_model_dir
    torch.set_num_threads(2)
    return load_model_dir(model_dir)


def logprobs(model, ids):
    """ln p(ids[t] | ids[:t]) for t >= 1, in float64."""
    import torch
    with torch.no_grad():
        logits = model(torch.tensor([ids], dtype=torch.long))[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return [float(lp[t - 1, ids[t]]) for t in range(1, len(ids))]


def copa(model_dir, data_dir, path, n):
    cfg, model = load_model(model_dir)
    bos = cfg.bos_token_id
    t = json.load(open(path, encoding="utf-8"))["tasks"]["kobest_copa"]
    rows = list(csv.DictReader(open(os.path.join(data_dir, "bench/kobest/copa/test.tsv"), encoding="utf-8"), delimiter="\t"))
    bad = 0
    for i, row in enumerate(rows[:n]):
        # lm-evaluation-harness's kobest_copa: the premise without its final period, then the connective
        connector = {"원인": "왜냐하면", "결과": "그래서"}[row["question"].strip()]
        context = row["sentence"].rstrip(".") + " " + connector
        ctx_ids = [bos] + list(context.encode())
        rec = t["records"][i]
        lls = []
        for j, choice in enumerate([row["1"], row["2"]]):
            cont = list((" " + choice).encode())  # bytes: context and continuation never merge
            lp = logprobs(model, ctx_ids + cont)
            lls.append(sum(lp[len(ctx_ids) - 1:]))
            got = rec["choices"][j]["ll"]
            if abs(got - lls[-1]) > 2e-3 * max(1.0, abs(lls[-1])):
                print("copa row %d choice %d: dokja %.5f, reference %.5f" % (i, j, got, lls[-1]))
                bad += 1
        if rec["gold"] != int(row["Answer"]) - 1:
            print("copa row %d: gold %d, the file says %s" % (i, rec["gold"], row["Answer"]))
            bad += 1
        if abs(lls[0] - lls[1]) > 1e-2 and rec["pred"] != lls.index(max(lls)):
            print("copa row %d: dokja predicts %d, the reference %d" % (i, rec["pred"], lls.index(max(lls))))
            bad += 1
    return bad


def bpb(model_dir, text_path, path):
    cfg, model = load_model(model_dir)
    data = open(text_path, "rb").read()
    ids = [cfg.bos_token_id] + list(data)
    ctx = cfg.max_position_embeddings
    nll = 0.0
    # windows overlapping by one token: every byte predicted once, with context
    for start in range(0, len(ids) - 1, ctx - 1):
        nll -= sum(logprobs(model, ids[start:start + ctx]))
    want = nll / len(data) / math.log(2)
    got = json.load(open(path, encoding="utf-8"))["tasks"]["bpb"]["metrics"]["bpb"]["value"]
    if abs(got - want) > 1e-4 * want:
        print("bpb: dokja %.6f, reference %.6f" % (got, want))
        return 1
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "recompute":
        bad = recompute(argv[1])
    elif len(argv) >= 5 and argv[0] == "copa":
        bad = copa(argv[1], argv[2], argv[3], int(argv[4]))
    elif len(argv) >= 4 and argv[0] == "bpb":
        bad = bpb(argv[1], argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
