"""A layered, left-to-right layout of a drawing (bpcalc.analysis.drawing), as the book draws
its graphs: inputs at the left, the result at the right end, each node one rank to the right of
its furthest input (rank = longest path from the inputs).

Edges that span several ranks go through invisible bend points, one per rank they cross, so
that they bend around the nodes in between. The order within each rank comes from a few
barycentre sweeps (the Sugiyama method), keeping the order with the fewest crossings; then
each rank is placed near the middle of its neighbours. No recursion (graphs can be deep), and
the same drawing always gets the same layout. Coordinates are in SVG pixels (y grows down);
the SVG and TikZ writers share them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpcalc.output.trace_text import cell_width

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing

CHAR_WIDTH = 7.0  # pixels per column at the labels' font size (12px sans-serif)
LINE_HEIGHT = 15.0
NODE_RADIUS = 17.0  # an op node's circle
ROW_GAP = 30.0  # room between two nodes of a rank, besides their labels
MIN_GAP = 70.0  # horizontal room between two ranks at least
SWEEPS = 4  # barycentre sweeps (each one down, then up)
MARGIN = 20.0


@dataclass
class Place:
    """Where a vertex (or a bend point, with ``vertex`` None) sits, and its size."""

    vertex: str | None
    rank: int
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0  # the drawn shape: a circle's diameter, a label's width
    height: float = 0.0


@dataclass
class Route:
    """An edge's way: the points from its source through its bend points to its target,
    and where its labels go: along its first stretch, near the source (edges into one node
    converge, so labels by the target would collide); a value used several times spreads
    its edges' labels along them."""

    points: list[tuple[float, float]]
    label_x: float
    label_y: float
    slope: float = 0.0  # dy/dx of the stretch the labels are on
    parallel: int = 0  # its index among the edges with the same source and target
    parallels: int = 1


@dataclass
class Layout:
    places: dict[str, Place]  # by vertex id
    routes: list[Route]  # one per edge of the drawing, in its order
    width: float
    height: float
    ranks: list[list[Place]] = field(default_factory=list)


def vertex_width(label: str, kind: str) -> float:
    """How wide a vertex is drawn: a circle for a short op symbol, else its text."""
    text = cell_width(label) * CHAR_WIDTH
    if kind == "op":
        return max(2 * NODE_RADIUS, text + 16)
    return text + 8


def layout(
    drawing: Drawing,
    *,
    vertex_label: Callable[[str], str],
    edge_labels: Sequence[tuple[str, ...]],
) -> Layout:
    """Place every vertex; ``vertex_label(id)`` is the text a vertex shows, ``edge_labels[i]``
    the lines written on edge i (above and below it), to make room for them."""
    ids = list(drawing.vertices)
    succ: dict[str, list[int]] = {v: [] for v in ids}
    pred: dict[str, list[int]] = {v: [] for v in ids}
    for i, edge in enumerate(drawing.edges):
        succ[edge.source].append(i)
        pred[edge.target].append(i)
    rank = _ranks(drawing, ids, succ, pred)

    # Bend points: an edge from rank a to rank b > a + 1 passes b - a - 1 of them.
    places: dict[str, Place] = {}
    for v in ids:
        kind = drawing.vertices[v].kind
        width = vertex_width(vertex_label(v), kind)
        height = 2 * NODE_RADIUS if kind == "op" else LINE_HEIGHT + 4
        places[v] = Place(v, rank[v], width=width, height=height)
    chains: list[list[Place]] = []
    for edge in drawing.edges:
        a, b = rank[edge.source], rank[edge.target]
        chain = [places[edge.source]]
        chain += [Place(None, r, height=4.0) for r in range(a + 1, b)]
        chain.append(places[edge.target])
        chains.append(chain)

    top = max(rank.values(), default=0)
    ranks: list[list[Place]] = [[] for _ in range(top + 1)]
    for v in ids:
        ranks[rank[v]].append(places[v])
    for chain in chains:
        for place in chain[1:-1]:
            ranks[place.rank].append(place)
    up: dict[int, list[Place]] = {}  # neighbours one rank to the left, by id(place)
    down: dict[int, list[Place]] = {}
    for chain in chains:
        for left, right in itertools.pairwise(chain):
            down.setdefault(id(left), []).append(right)
            up.setdefault(id(right), []).append(left)
    ranks = _order(ranks, up, down)

    # Room between ranks for the labels of the stretches starting in the rank to the left.
    label_width = [0.0] * (top + 1)
    label_lines = [0] * (top + 1)
    for edge, lines in zip(drawing.edges, edge_labels, strict=True):
        r = rank[edge.source] + 1
        widest = max((cell_width(line) for line in lines), default=0)
        label_width[r] = max(label_width[r], widest * CHAR_WIDTH)
        label_lines[r] = max(label_lines[r], len(lines))
    x = MARGIN
    widest_in = [max((p.width for p in rank_places), default=0.0) for rank_places in ranks]
    for r, rank_places in enumerate(ranks):
        if r:
            x += widest_in[r - 1] / 2 + max(MIN_GAP, 1.7 * label_width[r] + 24) + widest_in[r] / 2
        else:
            x += widest_in[0] / 2
        for place in rank_places:
            place.x = x
    row = ROW_GAP + LINE_HEIGHT * max(max(label_lines, default=2), 2)
    _place_rows(ranks, up, down, row)

    routes: list[Route] = []
    pairs: dict[tuple[str, str], list[int]] = {}
    fans: dict[str, list[int]] = {}
    for i, edge in enumerate(drawing.edges):
        pairs.setdefault((edge.source, edge.target), []).append(i)
        if len(chains[i]) > 1:
            fans.setdefault(edge.source, []).append(i)
    where = {}  # how far along its first stretch an edge's labels go
    for out in fans.values():
        out.sort(key=lambda i: (chains[i][1].y, i))
        for j, i in enumerate(out):
            where[i] = 0.3 if len(out) == 1 else 0.25 + 0.5 * j / (len(out) - 1)
    for i, chain in enumerate(chains):
        points = [(p.x, p.y) for p in chain]
        (x0, y0), (x1, y1) = points[0], points[1]
        x0 += chain[0].width / 2  # along what shows of it, between the shapes
        if chain[1].vertex is not None:
            x1 -= chain[1].width / 2
        t = where.get(i, 0.3)
        edge = drawing.edges[i]
        same = pairs[(edge.source, edge.target)]
        label_x, label_y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        slope = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
        routes.append(Route(points, label_x, label_y, slope, same.index(i), len(same)))

    all_places = [p for rank_places in ranks for p in rank_places]
    if all_places:
        low = min(p.y - p.height / 2 for p in all_places) - row / 2
        start = min(p.x - p.width / 2 for p in all_places) - MARGIN
        for p in all_places:
            p.y -= low
            p.x -= start
        for route in routes:
            route.points = [(px - start, py - low) for px, py in route.points]
            route.label_x -= start
            route.label_y -= low
        width = max(p.x + p.width / 2 for p in all_places) + MARGIN
        height = max(p.y + p.height / 2 for p in all_places) + row / 2
    else:
        width = height = 2 * MARGIN
    return Layout(places, routes, width, height, ranks)


def _ranks(
    drawing: Drawing, ids: list[str], succ: dict[str, list[int]], pred: dict[str, list[int]]
) -> dict[str, int]:
    """Longest path from the inputs, in topological order (Kahn's algorithm); results go to
    the last rank, constants just left of the node they feed."""
    missing = {v: len(pred[v]) for v in ids}
    ready = [v for v in ids if not missing[v]]
    rank = dict.fromkeys(ids, 0)
    order: list[str] = []
    while ready:
        ready.reverse()  # keep the drawing's order among vertices that are ready together
        batch, ready = ready, []
        while batch:
            v = batch.pop()
            order.append(v)
            for i in succ[v]:
                target = drawing.edges[i].target
                rank[target] = max(rank[target], rank[v] + 1)
                missing[target] -= 1
                if not missing[target]:
                    ready.append(target)
    kinds = {v: drawing.vertices[v].kind for v in ids}
    for v in reversed(order):  # a constant right before the first node that uses it
        if kinds[v] == "constant" and succ[v]:
            rank[v] = max(0, min(rank[drawing.edges[i].target] for i in succ[v]) - 1)
    top = max(rank.values(), default=0)
    if any(kinds[v] == "result" for v in ids):
        top = max(top, *(rank[v] for v in ids if kinds[v] == "result"))
        for v in ids:
            if kinds[v] == "result":
                rank[v] = top
    return rank


def _order(
    ranks: list[list[Place]], up: dict[int, list[Place]], down: dict[int, list[Place]]
) -> list[list[Place]]:
    """Barycentre sweeps down and up the ranks; the order with the fewest crossings wins."""
    best = [list(r) for r in ranks]
    best_crossings = _crossings(best, down)
    current = [list(r) for r in ranks]
    for _ in range(SWEEPS):
        for r in range(1, len(current)):
            current[r] = _sorted_by_barycentre(current[r], current[r - 1], up)
        for r in range(len(current) - 2, -1, -1):
            current[r] = _sorted_by_barycentre(current[r], current[r + 1], down)
        crossings = _crossings(current, down)
        if crossings < best_crossings:
            best, best_crossings = [list(r) for r in current], crossings
        if not best_crossings:
            break
    return best


def _sorted_by_barycentre(
    places: list[Place], fixed: list[Place], neighbours: dict[int, list[Place]]
) -> list[Place]:
    position = {id(p): i for i, p in enumerate(fixed)}
    keys: list[float] = []
    for i, place in enumerate(places):
        near = [position[id(n)] for n in neighbours.get(id(place), []) if id(n) in position]
        keys.append(sum(near) / len(near) if near else float(i))
    order = sorted(range(len(places)), key=lambda i: (keys[i], i))
    return [places[i] for i in order]


def _crossings(ranks: list[list[Place]], down: dict[int, list[Place]]) -> int:
    """Pairs of stretches between neighbouring ranks that cross (counted by merge sort)."""
    total = 0
    for r in range(len(ranks) - 1):
        right = {id(p): i for i, p in enumerate(ranks[r + 1])}
        ends = [right[id(n)] for p in ranks[r] for n in sorted_by(down.get(id(p), []), right)]
        total += _inversions(ends)
    return total


def sorted_by(places: list[Place], position: dict[int, int]) -> list[Place]:
    return sorted(places, key=lambda p: position.get(id(p), 0))


def _inversions(values: list[int]) -> int:
    """How many pairs are out of order, bottom-up merge sort (no recursion)."""
    items, count, width = list(values), 0, 1
    while width < len(items):
        merged: list[int] = []
        for start in range(0, len(items), 2 * width):
            left = items[start : start + width]
            right = items[start + width : start + 2 * width]
            i = j = 0
            while i < len(left) and j < len(right):
                if right[j] < left[i]:
                    merged.append(right[j])
                    count += len(left) - i
                    j += 1
                else:
                    merged.append(left[i])
                    i += 1
            merged += left[i:] + right[j:]
        items, width = merged, 2 * width
    return count


def _place_rows(
    ranks: list[list[Place]],
    up: dict[int, list[Place]],
    down: dict[int, list[Place]],
    row: float,
) -> None:
    """Stack each rank in its order, then move ranks towards their neighbours' middle: a pass
    left to right and one right to left, keeping the order and the spacing."""

    def gap(a: Place, b: Place) -> float:
        if a.vertex is None and b.vertex is None:
            return row / 2
        return row

    for rank_places in ranks:
        y = 0.0
        for i, place in enumerate(rank_places):
            if i:
                y += gap(rank_places[i - 1], place)
            place.y = y
    tallest = max(ranks, key=len, default=[])
    anchor = {id(p) for p in tallest}
    for sweep, neighbours in ((range(len(ranks)), up), (range(len(ranks) - 1, -1, -1), down)):
        for r in sweep:
            rank_places = ranks[r]
            if not rank_places or all(id(p) in anchor for p in rank_places):
                continue
            wanted = []
            for place in rank_places:
                near = neighbours.get(id(place), [])
                wanted.append(sum(n.y for n in near) / len(near) if near else place.y)
            ys: list[float] = []
            for i, place in enumerate(rank_places):
                y = wanted[i]
                if i:
                    y = max(y, ys[-1] + gap(rank_places[i - 1], place))
                ys.append(y)
            shift = sum(w - y for w, y in zip(wanted, ys, strict=True)) / len(ys)
            for place, y in zip(rank_places, ys, strict=True):
                place.y = y + shift
