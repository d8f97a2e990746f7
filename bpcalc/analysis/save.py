"""``train --save FILE``: the graph with its trained values written in, or an .npz of them.

A YAML graph is saved as its own text with only the values of the changed inputs replaced
(each by a one-line literal: ``-0.0123`` or ``[[0.1, 0.2], [0.3, 0.4]]``), so its comments,
order and layout stay; only comments inside a replaced value go, and the notes say so. The
new text is read back and must give exactly the new values, else (and for a JSON graph, or a
``.json`` FILE) a fresh document is written from the graph's data, and the notes say what
that loses. Floats are written as the shortest text that reads back the same (lossless).

The CLI writes the file (bpcalc.output.files: atomically, never over a file unasked).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpcalc.loading.graph import Graph


def literal(value: Any) -> str:
    """A float or array as a one-line YAML/JSON literal that reads back exactly."""
    if isinstance(value, float):
        return repr(float(value))
    return _nested(value.tolist())


def _nested(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item) for item in items) + "]"
    return repr(float(items))


def _written(value: Any, grad: bool) -> str:
    text = literal(value)
    return text if grad else f"{{value: {text}, grad: false}}"


def saved_data(
    graph: Graph, file: str, values: Mapping[str, tuple[Any, bool]]
) -> tuple[bytes, list[str]]:
    """What ``--save FILE`` writes: ``values`` (input name -> (value, grad)) in a copy of the
    graph, or, for an ``.npz`` file, the values alone; and notes about what is not kept."""
    if file.lower().endswith(".npz"):
        return _npz_bytes(values), []
    text, notes = graph_text(graph, values, json_out=file.lower().endswith(".json"))
    return text.encode("utf-8"), notes + _relative_files(graph, file)


def _npz_bytes(values: Mapping[str, tuple[Any, bool]]) -> bytes:
    """An .npz as np.savez writes it (any name works, even 'file' or 'allow_pickle')."""
    import io
    import zipfile

    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, (value, _) in values.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


def graph_text(
    graph: Graph, values: Mapping[str, tuple[Any, bool]], *, json_out: bool = False
) -> tuple[str, list[str]]:
    """The graph's text with ``values`` written in, and notes about what is not kept."""
    source = graph.definition.source
    notes: list[str] = []
    if source.is_yaml and not json_out:
        rewritten = _rewrite(source.text, values)
        if rewritten is not None:
            text, lost = rewritten
            if _reads_back(graph, text, values):
                notes += [
                    f"the comments inside the old value of '{name}' are not kept" for name in lost
                ]
                return text, notes
    text = _fresh(source.data, values, json_out=json_out)
    if source.is_yaml and "#" in source.text:
        notes.append(
            f"{source.name} is written afresh from its data: its comments and layout are not kept"
        )
    return text, notes


def _rewrite(text: str, values: Mapping[str, tuple[Any, bool]]) -> tuple[str, list[str]] | None:
    """The text with the value of each input in ``values`` replaced, and the names whose old
    value held a comment; None when the inputs cannot be found in the text."""
    import yaml

    from bpcalc.loading.schema import canonical_name

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    inputs = next(
        (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "inputs"),
        None,
    )
    if not isinstance(inputs, yaml.MappingNode):
        return None
    spans: list[tuple[int, int, str, str]] = []
    for key, node in inputs.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        name = canonical_name(str(key.value))
        if name in values:
            value, grad = values[name]
            spans.append((node.start_mark.index, node.end_mark.index, name, _written(value, grad)))
    if len(spans) != len(values):
        return None
    lost = []
    for start, end, name, new in sorted(spans, reverse=True):
        old = text[start:end]
        if "#" in old and "\n" in old:
            lost.append(name)
        if "\n" in old:  # a block value: the flow literal goes on the key's line
            key_end = text.rfind(":", 0, start)
            end = len(text[:end].rstrip())  # a block ends where the next token starts
            text = text[: key_end + 1] + " " + new + text[end:]
            continue
        text = text[:start] + new + text[end:]
    return text, sorted(lost)


def _reads_back(graph: Graph, text: str, values: Mapping[str, tuple[Any, bool]]) -> bool:
    import numpy as np

    from bpcalc.errors import BpcalcError
    from bpcalc.loading.build import loads

    definition = graph.definition
    try:
        again = loads(
            text,
            name=definition.source.name,
            base_dir=definition.base_dir,
            limits=definition.limits,
            allow_outside_files=True,
        )
    except BpcalcError:
        return False
    for name, (value, grad) in values.items():
        found = again.inputs.get(name)
        if found is None or found.grad != grad:
            return False
        if not np.array_equal(np.asarray(found.value), np.asarray(value)):
            return False
    return True


def _fresh(data: Any, values: Mapping[str, tuple[Any, bool]], *, json_out: bool) -> str:
    """A new document from the graph's plain data, with ``values`` in."""
    import json

    import yaml

    from bpcalc.loading.schema import canonical_name

    document = dict(data) if isinstance(data, dict) else {}
    inputs = dict(document.get("inputs") or {})
    for key in list(inputs):
        name = canonical_name(str(key))
        if name in values:
            value, grad = values[name]
            plain = value if isinstance(value, float) else value.tolist()
            inputs[key] = plain if grad else {"value": plain, "grad": False}
    document["inputs"] = inputs
    if json_out:
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _relative_files(graph: Graph, file: str) -> list[str]:
    """A note when the saved graph reads ``file:`` inputs relative to another folder."""
    if graph.definition.base_dir is None:
        return []
    base = graph.definition.base_dir.resolve()
    if Path(file).resolve().parent == base:
        return []
    names = [d.name for d in graph.definition.inputs if isinstance(d.raw, dict) and "file" in d.raw]
    if not names:
        return []
    return [
        f"inputs {', '.join(repr(n) for n in names)} read files relative to {base}; run the "
        f"saved graph with --base-dir {base}, or copy those files next to it"
    ]
