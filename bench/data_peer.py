"""The peer of bench/data: the same six steps as dokja data prepare, written
the way a Python data pipeline usually is (html.unescape, unicodedata NFC,
re, hashlib, MinHash with numpy over 5-character shingles and LSH buckets in
dicts), single process. It prints the MB/s it reaches on the first
--max-mb of the inputs' uncompressed text, as JSON.

    python3 bench/data_peer.py --max-mb 20 FILE...   (.jsonl, .txt, .zst of either)
"""
import argparse
import hashlib
import html
import json
import re
import subprocess
import sys
import time
import unicodedata

import numpy as np

BANDS, ROWS, NGRAM, THRESHOLD = 16, 8, 5, 0.8
K = BANDS * ROWS
rng = np.random.default_rng(1337)
A = rng.integers(1, 2**63, K, dtype=np.uint64) | np.uint64(1)
B = rng.integers(0, 2**63, K, dtype=np.uint64)
CRAWLER = re.compile(r"^[\s*_>#\[\]()|=:-]*(crawled at|원문 ?보기|기사 ?원문|출처:|copyright|ⓒ|©|무단 ?전재)", re.I)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![0-9A-Za-z])(01[016789]|02|0[3-6][1-5]|070)[-. ]?\d{3,4}[-. ]?\d{4}(?![0-9A-Za-z])")
RRN = re.compile(r"(?<!\d)(\d{6})-?([1-8]\d{6})(?!\d)")
CARD = re.compile(r"(?<!\d)[2-6]\d{3}([- ]?\d{4}){3}(?!\d)")
SPACE = re.compile(r"[ \t\u00a0\u3000]+")
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LETTER = re.compile(r"[^\W\d_]")
PUNCT = re.compile(r"[\W_]+")


def rrn_ok(d):
    s = sum(int(c) * w for c, w in zip(d, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]))
    return (11 - s % 11) % 10 == int(d[12])


def luhn(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c) * (2 if i % 2 else 1)
        s += v - 9 if v > 9 else v
    return s % 10 == 0


def clean(t):
    t = unicodedata.normalize("NFC", html.unescape(t))
    lines = [SPACE.sub(" ", l).strip() for l in t.replace("\r\n", "\n").split("\n")]
    return "\n".join(l for l in lines if l and not CRAWLER.match(l))


def quality(t):
    ns = [c for c in t if not c.isspace()]
    if len(t) < 10 or not ns:
        return False
    letters = len(LETTER.findall(t))
    digits = sum(c.isdigit() for c in ns)
    words = t.split()
    mean = sum(map(len, words)) / len(words)
    return letters / len(ns) >= 0.5 and digits / len(ns) <= 0.3 and 1.5 <= mean <= 30


def scrub(t):
    t = EMAIL.sub("<|email|>", t)
    t = RRN.sub(lambda m: "<|rrn|>" if rrn_ok(m.group(1) + m.group(2)) else m.group(0), t)
    t = CARD.sub(lambda m: "<|card|>" if luhn(re.sub(r"\D", "", m.group(0))) else m.group(0), t)
    return PHONE.sub("<|phone|>", t)


def signature(norm):
    shingles = {norm[i:i + NGRAM] for i in range(len(norm) - NGRAM + 1)}
    x = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") for s in shingles],
                 dtype=np.uint64)
    return ((np.outer(x, A) + B) >> np.uint64(32)).min(axis=0).astype(np.uint32)


def docs(paths, max_bytes):
    seen = 0
    for p in paths:
        raw = subprocess.run(["zstd", "-dc", p], capture_output=True).stdout if p.endswith(".zst") else open(p, "rb").read()
        jsonl = ".jsonl" in p
        for line in raw.split(b"\n"):
            if seen >= max_bytes:
                return
            seen += len(line) + 1
            if not line.strip():
                continue
            if jsonl:
                try:
                    t = json.loads(line).get("text")
                except ValueError:
                    continue
                if isinstance(t, str):
                    yield len(line) + 1, t
            else:
                yield len(line) + 1, line.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-mb", type=float, default=20)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    exact, buckets, sigs = set(), {}, []
    nbytes = kept = 0
    start = time.time()
    for size, t in docs(a.paths, int(a.max_mb * 1e6)):
        nbytes += size
        t = clean(t)
        if not t or not HANGUL.search(t) and not LETTER.search(t) or not quality(t):
            continue
        t = scrub(t)
        norm = PUNCT.sub("", t.lower())
        h = hashlib.blake2b(norm.encode(), digest_size=16).digest()
        if h in exact:
            continue
        if len(norm) >= 49:
            sig = signature(norm)
            keys = [hash(sig[b * ROWS:(b + 1) * ROWS].tobytes()) for b in range(BANDS)]
            cands = {i for b, k in enumerate(keys) for i in buckets.get((b, k), ())}
            if any((sigs[i] == sig).mean() >= THRESHOLD for i in cands):
                continue
            for b, k in enumerate(keys):
                buckets.setdefault((b, k), []).append(len(sigs))
            sigs.append(sig)
        exact.add(h)
        kept += 1
    secs = time.time() - start
    json.dump({"bytes": nbytes, "seconds": round(secs, 2), "mb_per_s": round(nbytes / 1e6 / secs, 2), "kept": kept}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
