"""Make the XOR data of the bundled example xor_net (run once; its output is committed).

    uv run python graphs/data/make_xor.py

Four clusters of 30 points around (±1, ±1), spread 0.35, seeded; the class is 1 where x*y < 0
(the XOR of the signs), else 0. Writes xor_x.csv (120 rows of 2 numbers), xor_t.csv (120 class
indices), xor.npz (arrays X and t, for `bpcalc train --data`) and ../xor_net.yaml, the graph
with the same points written in (so that it works wherever it is copied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

GRAPH = """\
name: xor_net
description: "A 2-8-2 tanh network that learns XOR from 120 points (train it: bpcalc train xor_net)"
# bpcalc train xor_net --optimizer adam --lr 0.05 --steps 300 --save trained.yaml
# reaches a loss below 0.05 and classifies all 120 points right. graphs/data/make_xor.py made
# the points; graphs/data/xor.npz holds them too, for --data and --batch-size.
inputs:
  X:  # 120 points, one per row
    grad: false
    value: [{x}]
  t:  # their classes: 1 where x*y < 0, else 0
    grad: false
    value: [{t}]
  W1: {{random: [2, 8], seed: 1}}
  b1: {{zeros: 8}}
  W2: {{random: [8, 2], seed: 2, scale: 0.5}}
  b2: {{zeros: 2}}
nodes:
  h: tanh(affine(X, W1, b1))
  scores: affine(h, W2, b2)
  loss: softmax_with_loss(scores, t)
output: loss
"""


def main() -> None:
    rng = np.random.RandomState(2024)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    x = np.concatenate([c + 0.35 * rng.randn(30, 2) for c in centres])
    x = np.round(x, 4)
    t = (x[:, 0] * x[:, 1] < 0).astype(np.float64)
    order = rng.permutation(len(x))
    x, t = x[order], t[order]
    np.savetxt(HERE / "xor_x.csv", x, fmt="%.4f", delimiter=",")
    np.savetxt(HERE / "xor_t.csv", t, fmt="%d")
    np.savez(HERE / "xor.npz", X=x, t=t)
    points = [f"[{a:.4f}, {b:.4f}]" for a, b in x]
    rows = [", ".join(points[i : i + 5]) for i in range(0, len(points), 5)]
    classes = [", ".join(f"{int(c)}" for c in t[i : i + 30]) for i in range(0, len(t), 30)]
    text = GRAPH.format(x=",\n      ".join(rows), t=",\n      ".join(classes))
    (HERE.parent / "xor_net.yaml").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
