"""Python's ``repr`` of many float64 numbers at once, as text in a byte matrix.

``repr(x)`` writes the shortest decimal that reads back as ``x``, in fixed notation for
1e-4 <= |x| < 1e16. Calling ``repr`` a million times costs about a second, so in that range
this module finds every number's shortest decimal with whole-array numpy operations:

1. At most 15 significant digits: two such decimals never read back as the same float64, so
   if x rounded to 15 digits reads back as x, that decimal without its trailing zeros is the
   shortest one. Otherwise no decimal of 15 digits or fewer reads back as x.
2. Else 16, else 17 digits: of the two decimals next to x at that many digits, the one that
   reads back (the nearer one if both do).

x * 10**k is computed exactly, as the sum of two floats (Dekker's product), so the candidate
decimals are exact. Whatever is not decided exactly (scientific notation, NaN, infinity,
-0.0, a tie, a difference from a boundary below the rounding error) is written by ``repr``
itself, so the text is always ``repr``'s; tests/test_batch.py compares the two.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]
    Ints = NDArray[np.int64]
    Bools = NDArray[np.bool_]
    Bytes = NDArray[np.uint8]

_MAX_DECIMALS = 18  # 10**18 still fits in an int64
_TWO53 = 2.0**53
_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitting constant
_MARGIN = 2.0**-30  # this close (relatively) to a tie or a boundary: let repr decide
_LOWEST_EXPONENT = -5  # decimal exponents in the tables: -5 ... 17
_HIGHEST_EXPONENT = 17


def repr_matrix(values: Floats, fallback: Callable[[float], str] = repr) -> Bytes:
    """Row i holds ``repr(values[i])`` as ASCII, left-aligned and padded with zero bytes.

    Numbers off the fast path are written by ``fallback`` (``repr``, unless a writer spells
    NaN and infinity differently, as JSON does); its text must be ASCII without NUL bytes.
    """
    import numpy as np

    x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        fast = (a >= 1e-4) & (a < 1e16) | ((x == 0) & ~np.signbit(x))
    index = np.arange(x.size) if fast.all() else np.flatnonzero(fast)
    mantissa, decimals, exact = _shortest_decimals(a[index])
    if not exact.all():
        index, mantissa, decimals = index[exact], mantissa[exact], decimals[exact]
    fixed = _fixed_text(x.size, index, np.signbit(x[index]), mantissa, decimals)
    if index.size == x.size:
        return fixed
    slow = np.ones(x.size, dtype=bool)
    slow[index] = False
    slow_index = np.flatnonzero(slow)
    texts = [fallback(v).encode("ascii") for v in x[slow_index].tolist()]
    width = max(map(len, texts))
    spilled = np.zeros((x.size, width), dtype=np.uint8)
    spilled[slow_index] = np.array(texts, dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    return np.concatenate([fixed, spilled], axis=1)


def matrix_texts(matrix: Bytes) -> list[str]:
    """The text in each row of a zero-padded byte matrix."""
    return [bytes(row[row != 0]).decode("ascii") for row in matrix]


@cache
def _tables() -> dict[str, Any]:
    """Powers of ten as floats (exact up to 10**22) with their Dekker halves, as int64, and
    for each decimal exponent e the smallest float64 >= 10**e."""
    from fractions import Fraction

    import numpy as np

    powers = np.array([10.0**k for k in range(_MAX_DECIMALS + 1)])
    c = _SPLIT * powers
    high = c - (c - powers)
    thresholds = []
    for e in range(_LOWEST_EXPONENT, _HIGHEST_EXPONENT + 1):
        t = float(Fraction(10) ** e)
        thresholds.append(t if Fraction(t) >= Fraction(10) ** e else float(np.nextafter(t, 2 * t)))
    return {
        "powers": powers,
        "high": high,
        "low": powers - high,
        "int_powers": 10 ** np.arange(_MAX_DECIMALS + 1, dtype=np.int64),
        "thresholds": np.array(thresholds),
    }


def _decimal_exponent(a: Floats) -> Ints:
    """e with 10**e <= a < 10**(e + 1) exactly, for 1e-4 <= a < 1e16."""
    import numpy as np

    thresholds = _tables()["thresholds"]
    e = np.floor(np.log10(a)).astype(np.int64)
    np.clip(e, _LOWEST_EXPONENT + 1, _HIGHEST_EXPONENT - 1, out=e)
    offset = -_LOWEST_EXPONENT
    e += a >= thresholds[e + offset + 1]
    e -= a < thresholds[e + offset]
    return e


def _scaled(v: Floats, k: Ints) -> tuple[Ints, Floats, Bools, Bools]:
    """floor(v * 10**k), the rest r in [0, 1] (rounded), and exactly whether r > 1/2 and
    whether r == 1/2, from the exact product hi + lo and the exact sum (hi - floor) + lo."""
    import numpy as np

    tables = _tables()
    scale = tables["powers"][k]
    hi = v * scale
    c = _SPLIT * v
    v_hi = c - (c - v)
    v_lo = v - v_hi
    s_hi = tables["high"][k]
    s_lo = tables["low"][k]
    lo = ((v_hi * s_hi - hi) + v_hi * s_lo + v_lo * s_hi) + v_lo * s_lo
    floor = np.floor(hi)
    frac = hi - floor
    rest = frac + lo
    b = rest - frac
    error = (frac - (rest - b)) + (lo - b)  # rest + error == frac + lo exactly (Knuth)
    carry = np.floor(rest)  # -1 or 1 only where the rest is near 0 or 1, not near 1/2
    rest -= carry
    half = rest == 0.5
    above = (rest > 0.5) | (half & (error > 0))
    return floor.astype(np.int64) + carry.astype(np.int64), rest, above, half & (error == 0)


def _reads_back(v: Floats, k: Ints, whole: Ints, rest: Floats, up: int) -> tuple[Bools, Bools]:
    """Whether the decimal (whole + up) / 10**k reads back as v, and where that is unsure.

    Up to 2**53 the candidate is an exact float, and one correctly rounded division is exactly
    what reading its text back does. Above, where v * 10**k is whole plus an exact rest,
    compare the candidate's distance to v * 10**k with the half gaps to v's neighbouring
    floats scaled by 10**k (a power of two times 10**k is exact); too close to call: unsure.
    """
    import numpy as np

    candidate = whole + up
    small = candidate <= _TWO53
    ok = small & (candidate.astype(np.float64) / _tables()["powers"][k] == v)
    if small.all():
        return ok, np.zeros(v.size, dtype=bool)
    bits = v.view(np.int64)
    spacing = ((bits >> 52) - 52 << 52).view(np.float64)  # 2**(exponent - 52)
    gap_up = spacing * _tables()["powers"][k] / 2
    power_of_two = (bits & ((1 << 52) - 1)) == 0
    distance = up - rest  # candidate - v * 10**k
    edge = np.where(distance >= 0, gap_up, gap_up / (1 + power_of_two))
    distance = np.abs(distance)
    unsure = np.abs(distance - edge) <= _MARGIN * edge
    return np.where(small, ok, (distance < edge) & ~unsure), ~small & unsure


def _strip_zeros(mantissa: Ints, decimals: Ints) -> tuple[Ints, Ints]:
    """Drop trailing zeros of the decimals: 1.500 -> 1.5 (at most 15 of them)."""
    powers = _tables()["int_powers"]
    for p in (8, 4, 2, 1):
        quotient = mantissa // powers[p]
        drop = (quotient * powers[p] == mantissa) & (decimals >= p)
        mantissa = mantissa + drop * (quotient - mantissa)
        decimals = decimals - drop * p
    return mantissa, decimals


def _shortest_decimals(a: Floats) -> tuple[Ints, Ints, Bools]:
    """For each a >= 0 in the fixed range: the fewest decimals k and the integer m with
    m / 10**k reading back as a; ``exact`` is False where this was not decided."""
    import numpy as np

    n = a.size
    mantissa = np.zeros(n, dtype=np.int64)
    decimals = np.zeros(n, dtype=np.int64)
    exact = a == 0
    todo = np.flatnonzero(~exact)
    e = _decimal_exponent(a[todo])
    # Step 1: 15 significant digits.
    step = (e <= 14) & (14 - e <= _MAX_DECIMALS)
    idx, v, k = todo[step], a[todo[step]], 14 - e[step]
    whole, _, above, _ = _scaled(v, k)
    nearest = whole + above
    ok = nearest.astype(np.float64) / _tables()["powers"][k] == v
    mantissa[idx[ok]], decimals[idx[ok]] = _strip_zeros(nearest[ok], k[ok])
    exact[idx[ok]] = True
    left = np.ones(todo.size, dtype=bool)
    left[np.flatnonzero(step)[ok]] = False
    # Steps 2 and 3: 16 digits, then 17: the neighbour that reads back, the nearer if both.
    for digits in (16, 17):
        todo, e = todo[left], e[left]
        step = digits - 1 - e <= _MAX_DECIMALS
        idx, v, k = todo[step], a[todo[step]], (digits - 1 - e)[step]
        whole, rest, above, tie = _scaled(v, k)
        low_ok, low_unsure = _reads_back(v, k, whole, rest, 0)
        high_ok, high_unsure = _reads_back(v, k, whole, rest, 1)
        ok = (low_ok | high_ok) & ~(low_unsure | high_unsure)
        # The nearer one; repr breaks an exact tie towards the even digit.
        both = low_ok & high_ok
        up = np.where(both & tie, whole & 1, high_ok & (~low_ok | above))
        mantissa[idx[ok]] = (whole + up)[ok]
        decimals[idx[ok]] = k[ok]
        exact[idx[ok]] = True
        left = np.ones(todo.size, dtype=bool)
        left[np.flatnonzero(step)[ok]] = False
    return mantissa, decimals, exact


def _fixed_text(n: int, index: Ints, negative: Bools, mantissa: Ints, decimals: Ints) -> Bytes:
    """Rows ``index`` of an n-row matrix get [-]int.frac for mantissa / 10**decimals."""
    import numpy as np

    if index.size == 0:
        return np.zeros((n, 0), dtype=np.uint8)
    powers = _tables()["int_powers"]
    divisor = powers[decimals]
    integer = mantissa // divisor
    fraction = mantissa - integer * divisor
    frac_width = max(int(decimals.max()), 1)
    # Shift every fraction left to frac_width digits so that digit columns line up.
    fraction *= powers[frac_width - decimals]
    int_width = len(str(int(integer.max())))
    text = np.zeros((index.size, 1 + int_width + 1 + frac_width), dtype=np.uint8)
    text[:, 0] = negative * ord("-")
    rest = integer
    for place in range(int_width):
        quotient = rest // 10
        shown = rest - quotient * 10 + ord("0")
        # Zeros left of the leading digit are padding (zero bytes); the units digit stays.
        text[:, int_width - place] = shown if place == 0 else shown * (integer >= powers[place])
        rest = quotient
    text[:, int_width + 1] = ord(".")
    rest = fraction
    wanted = np.maximum(decimals, 1)
    for place in range(frac_width, 0, -1):
        quotient = rest // 10
        text[:, int_width + 1 + place] = (rest - quotient * 10 + ord("0")) * (wanted >= place)
        rest = quotient
    if index.size == n:
        return text
    out = np.zeros((n, text.shape[1]), dtype=np.uint8)
    out[index] = text
    return out
