#!/usr/bin/python3
"""Independent check of `dokja arena ratings` (Debian's python3 with scipy).

  arena_ref.py add-votes DB       adds a third model and 300 votes with a known
                                  pattern to an arena database (its schema)
  arena_ref.py check DB RATINGS.json
                                  refits Bradley-Terry from the votes table with
                                  scipy's BFGS on the same penalised likelihood,
                                  compares the ratings, and checks that each
                                  interval holds its rating and the win rates

Exit 0 when everything matches, 1 otherwise.
"""

import json
import math
import sqlite3
import sys

PRIOR = 0.01  # DK_BT_PRIOR
ELO = 400 / math.log(10)


def add_votes(path):
    db = sqlite3.connect(path)
    c = db.cursor()
    c.execute("INSERT INTO models(name, dir, weights_sha256) VALUES('third', 'none', 'cccc')")
    m3 = c.lastrowid
    (m1, m2) = [r[0] for r in c.execute("SELECT id FROM models WHERE id != ? ORDER BY id LIMIT 2", (m3,))]
    p = c.execute("SELECT id FROM prompts LIMIT 1").fetchone()[0]
    answers = {}
    for m in (m1, m2, m3):
        row = c.execute("SELECT id FROM answers WHERE model_id = ? AND prompt_id = ?", (m, p)).fetchone()
        if row is None:
            c.execute("INSERT INTO answers(model_id, prompt_id, text, settings, created) VALUES(?, ?, 'x', '{}', 'now')", (m, p))
            answers[m] = c.lastrowid
        else:
            answers[m] = row[0]
    pattern = [(m1, m2, "a"), (m1, m2, "a"), (m1, m2, "b"), (m2, m3, "a"), (m2, m3, "tie"), (m3, m1, "b"), (m3, m1, "both_bad"),
               (m2, m1, "a"), (m3, m2, "b"), (m1, m3, "a")]
    for k in range(300):
        a, b, v = pattern[k % len(pattern)]
        c.execute("INSERT INTO battles(token, rater, prompt_id, answer_a, answer_b, created) VALUES(?, 'ref', ?, ?, ?, 'now')",
                  ("%032x" % (k + 12345), p, answers[a], answers[b]))
        c.execute("INSERT INTO votes(battle_id, rater, prompt_id, model_a, model_b, answer_a, answer_b, vote, created)"
                  " VALUES(?, 'ref', ?, ?, ?, ?, ?, ?, 'now')", (c.lastrowid, p, a, b, answers[a], answers[b], v))
    db.commit()
    return 0


def check(path, ratings_path):
    from scipy.optimize import minimize
    import numpy as np
    db = sqlite3.connect(path)
    models = [r for r in db.execute("SELECT id, name FROM models ORDER BY id")]
    idx = {mid: i for i, (mid, _) in enumerate(models)}
    M = len(models)
    w = np.zeros((M, M))
    for a, b, v in db.execute("SELECT model_a, model_b, vote FROM votes"):
        s = 1.0 if v == "a" else 0.0 if v == "b" else 0.5
        w[idx[a], idx[b]] += s
        w[idx[b], idx[a]] += 1 - s

    def nll(th):
        d = th[None, :] - th[:, None]  # d[i, j] = th_j - th_i
        return float((w * np.logaddexp(0, d)).sum() + 0.5 * PRIOR * (th ** 2).sum())

    th = minimize(nll, np.zeros(M), method="BFGS", options={"gtol": 1e-10}).x
    th -= th.mean()
    want = {models[i][1]: 1000 + ELO * th[i] for i in range(M)}
    got = json.load(open(ratings_path, encoding="utf-8"))
    bad = 0
    for m in got["models"]:
        if m["battles"] == 0:
            continue
        if abs(m["rating"] - want[m["name"]]) > 0.01:
            print("%s: dokja %.4f, scipy %.4f" % (m["name"], m["rating"], want[m["name"]]))
            bad += 1
        if not m["ci_low"] <= m["rating"] <= m["ci_high"]:
            print("%s: the interval [%.1f, %.1f] misses the rating %.1f" % (m["name"], m["ci_low"], m["ci_high"], m["rating"]))
            bad += 1
    names = got["win_rate"]["models"]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            x = got["win_rate"]["matrix"][i][j]
            ia, ib = [k for k, (_, n) in enumerate(models) if n == a][0], [k for k, (_, n) in enumerate(models) if n == b][0]
            n = w[ia, ib] + w[ib, ia]
            if i != j and n > 0 and abs(x - w[ia, ib] / n) > 1e-9:
                print("win rate %s over %s: %r, counted %.4f" % (a, b, x, w[ia, ib] / n))
                bad += 1
    if got["votes"] != int(db.execute("SELECT count(*) FROM votes").fetchone()[0]):
        print("votes: %r" % got["votes"])
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "add-votes":
        sys.exit(add_votes(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
