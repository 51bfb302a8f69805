#!/usr/bin/python3
"""Prints the largest relative difference between two safetensors files of the
same tensors (per tensor: max |a - b| / max |b|) and exits 1 when it exceeds
--tol. Usage: compare_weights.py A B [--tol X]"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    a, b = llama_ref.load_safetensors(args.a), llama_ref.load_safetensors(args.b)
    if set(a) != set(b):
        print("different tensor names: %s" % sorted(set(a) ^ set(b)))
        return 1
    worst, name = 0.0, None
    for k in b:
        err = float((a[k] - b[k]).abs().max() / max(float(b[k].abs().max()), 1e-30))
        if err > worst or err != err:
            worst, name = err, k
    print("largest relative difference %.3g (%s)" % (worst, name))
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
