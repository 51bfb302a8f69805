"""Near-duplicate recall and precision of dokja data prepare on a planted set
(bench/data runs both halves).

    python3 bench/data_planted.py make PETITIONS.jsonl.zst OUT.jsonl [--base 2000 --copies 500 --seed 1]
    python3 bench/data_planted.py score OUT.jsonl RESULT_DIR

make: distinct long documents (Korean petitions of at least 300 characters)
and copies of some of them with small edits (1% of the characters replaced,
inserted or deleted at random places), each copy placed after its original.
score: a copy that was dropped is a true positive (recall = found / copies);
a dropped original counts as correct only when its exact Jaccard similarity
(5-character shingles of the normalised text, computed here) with some
earlier document reaches 0.8, else it is a false positive.
"""
import json
import random
import re
import subprocess
import sys

NGRAM, THRESHOLD = 5, 0.8
PUNCT = re.compile(r"[\W_]+")


def shingles(t):
    n = PUNCT.sub("", t.lower())
    return {n[i:i + NGRAM] for i in range(max(1, len(n) - NGRAM + 1))}


def make(src, out, base=2000, copies=500, seed=1):
    rnd = random.Random(seed)
    raw = subprocess.run(["zstd", "-dc", src], capture_output=True, check=True).stdout.decode()
    texts = [json.loads(l)["text"] for l in raw.splitlines() if l.strip()]
    texts = [t for t in texts if len(t) >= 300][:base]
    docs = [{"id": f"b{i}", "text": t} for i, t in enumerate(texts)]
    for c in range(copies):
        i = rnd.randrange(len(texts))
        t = list(texts[i])
        for _ in range(max(1, len(t) // 100)):
            at, op = rnd.randrange(len(t)), rnd.randrange(3)
            ch = chr(0xAC00 + rnd.randrange(11172))
            if op == 0:
                t[at] = ch
            elif op == 1:
                t.insert(at, ch)
            elif len(t) > 1:
                del t[at]
        pos = next(k for k, d in enumerate(docs) if d["id"] == f"b{i}")
        docs.insert(rnd.randrange(pos + 1, len(docs) + 1), {"id": f"c{c}-of-b{i}", "text": "".join(t)})
    with open(out, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")


def score(planted, result):
    docs = [json.loads(l) for l in open(planted, encoding="utf-8")]
    raw = subprocess.run(f"zstd -dc {result}/data-*.jsonl.zst", shell=True, capture_output=True, check=True).stdout
    kept = {json.loads(l)["meta"]["id"] for l in raw.decode().splitlines()}
    copies = [d for d in docs if d["id"].startswith("c")]
    found = sum(d["id"] not in kept for d in copies)
    sets, right, wrong = [], 0, 0
    for d in docs:
        s = shingles(d["text"])
        if d["id"].startswith("b") and d["id"] not in kept:
            best = max((len(s & e) / len(s | e) for e in sets), default=0)
            if best >= THRESHOLD:
                right += 1
            else:
                wrong += 1
        sets.append(s)
    dropped = found + right + wrong
    print(json.dumps({"documents": len(docs), "copies": len(copies), "copies_found": found,
                      "originals_dropped_correctly": right, "false_positives": wrong,
                      "recall": round(found / len(copies), 4), "precision": round((found + right) / dropped, 4) if dropped else 1.0}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        args = sys.argv[4:]
        opts = {args[i].lstrip("-"): int(args[i + 1]) for i in range(0, len(args), 2)}
        make(sys.argv[2], sys.argv[3], **opts)
    else:
        score(sys.argv[2], sys.argv[3])
