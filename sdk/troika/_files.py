"""Small file helpers shared by the layers (no third-party imports)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomically"]


def write_json_atomically(path: Path, value: Any, *, indent: int | None = None) -> None:
    """Write ``value`` as JSON (sorted keys) to ``path`` all at once: a reader
    sees the old file or the new one, never half of one.

    The temporary file is named after this process, so two processes saving
    the same file do not write into each other's.

    Example:
        >>> write_json_atomically(tmp_path / "a" / "state.json", {"b": 1, "a": 2})
        >>> (tmp_path / "a" / "state.json").read_text()
        '{"a": 2, "b": 1}'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, sort_keys=True, indent=indent)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        temporary.write_text(text + ("\n" if indent is not None else ""), encoding="utf-8")
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
