"""The hand-written numpy program that ``bpcalc run --batch`` is measured against.

It reads the apple/orange rows CSV, computes the price and its five gradients with explicit
formulas (the book's graph, 5.4.2, differentiated by hand), and writes the same CSV as
``bpcalc run apple_orange --batch ROWS -o csv``: the same columns, every number as Python's
``repr`` writes it. Usage: python bench/batch_numpy_baseline.py ROWS.csv > OUT.csv
"""

from __future__ import annotations

import sys

import numpy as np

HEADER = (
    "apple,apple_num,orange,orange_num,tax,price,d_apple,d_apple_num,d_orange,d_orange_num,d_tax"
)


def main(path: str) -> None:
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    apple, apple_num, orange, orange_num, tax = data.T
    # Forward, in the graph's order, then the gradients of price = (a*an + o*on) * tax.
    apple_price = apple * apple_num
    orange_price = orange * orange_num
    all_price = apple_price + orange_price
    price = all_price * tax
    d_all_price = tax
    columns = [
        apple,
        apple_num,
        orange,
        orange_num,
        tax,
        price,
        d_all_price * apple_num,  # d price / d apple
        d_all_price * apple,  # d price / d apple_num
        d_all_price * orange_num,  # d price / d orange
        d_all_price * orange,  # d price / d orange_num
        all_price,  # d price / d tax
    ]
    out = sys.stdout
    out.write(HEADER + "\n")
    rows = zip(*(map(repr, column.tolist()) for column in columns), strict=True)
    out.writelines(",".join(row) + "\n" for row in rows)


if __name__ == "__main__":
    main(sys.argv[1])
