"""Make the XOR data of the bundled example xor_net (run once; its output is committed).

    uv run python graphs/data/make_xor.py

Four clusters of 30 points around (±1, ±1), spread 0.35, seeded; the class is 1 where x*y < 0
(the XOR of the signs), else 0. Writes xor_x.csv (120 rows of 2 numbers), xor_t.csv (120 class
indices) and xor.npz (arrays X and t, for `bpcalc train --data`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


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


if __name__ == "__main__":
    main()
