"""The hand-written end to end of bench/loading.py, as a process: read a graph file
(``json.loads``, or PyYAML's CSafeLoader as ``yaml.load`` uses it), evaluate it with the
book-style loop, and write every value and gradient as JSON, the document ``bpcalc run FILE
-o json`` writes (for the generated graphs, whose values are finite).

    python bench/hand_loading.py dag.json > out.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import hand_engine


def main(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.load(text, Loader=yaml.CSafeLoader)
    values, grads = hand_engine(data)
    names = [*data["inputs"], *data["nodes"]]
    document = {
        "graph": data["name"],
        "output": data["output"],
        "values": dict(zip(names, values, strict=True)),
        "grads": dict(zip(names, grads, strict=True)),
    }
    sys.stdout.write(json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
