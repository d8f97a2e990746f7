"""Files bpcalc writes when asked (``--save``): written whole or not at all, never over a
file that exists unless told to."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from bpcalc.errors import UsageProblem


def write_new_file(path: str | os.PathLike[str], data: str | bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` atomically: into a temporary file in the same folder, then
    renamed over ``path``, so a reader never sees half a file and an interrupted write leaves
    the old one. An existing ``path`` is refused unless ``force``."""
    target = Path(path)
    if target.is_dir():
        raise UsageProblem(f"cannot write {target}: it is a folder")
    if target.exists() and not force:
        raise UsageProblem(f"{target} exists; pass --force to overwrite it")
    folder = target.parent
    if not folder.is_dir():
        raise UsageProblem(f"cannot write {target}: there is no folder {folder}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise UsageProblem(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise UsageProblem(f"cannot write {target}: {err.strerror or err}") from None
        raise
