"""Machine-readable records of what a hardening test did, for the report.

When ``$TROIKA_REPORT_DIR`` is set, :func:`record` appends one JSON object, on
one line, to ``$TROIKA_REPORT_DIR/<kind>.jsonl``; when it is not set, it does
nothing (a normal test run writes no files). tools/hardening_report.py reads
every ``*.jsonl`` there and draws the tables in the docs from them.

Each line has at least these keys::

    {"kind": "fault", "suite": "tests.faults.test_anvil_restart",
     "name": "anvil SIGKILLed with a mint pending", "outcome": "survived",
     "detail": "the mint was confirmed once (token 1)"}

``suite`` is the test module that recorded it (taken from
``$PYTEST_CURRENT_TEST`` unless given); any further keyword arguments become
further keys. Each line is written with a single ``write`` on a file opened
with ``O_APPEND``, so several processes (pytest-xdist workers, a CLI run by a
test) can append to one file without interleaving their lines.

```
from tests._report import record

record("fault", "Kubo killed mid-upload", "survived", detail="re-add gave the same CID")
```
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

ENV = "TROIKA_REPORT_DIR"
OUTCOMES = ("survived", "failed")
_KIND = re.compile(r"[a-z][a-z0-9_-]*\Z")


def report_dir() -> Path | None:
    """The directory named by ``$TROIKA_REPORT_DIR``, or None if it is unset or empty."""
    value = os.environ.get(ENV, "")
    return Path(value) if value else None


def current_suite() -> str:
    """The module of the test running now, dotted (``tests.faults.test_x``), or ``""``."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    path = current.split("::", 1)[0]
    if not path:
        return ""
    return path.removesuffix(".py").replace("/", ".").replace("\\", ".")


def record(kind: str, name: str, outcome: str, detail: str = "", **extra: object) -> None:
    """Append one record to ``$TROIKA_REPORT_DIR/<kind>.jsonl`` (if that is set).

    Args:
        kind: What the record is about, also its file's name: ``"fault"``,
            ``"input"``, ``"property"``, ``"load"``, ...
        name: A short description of what was done (the fault injected, the parser fed).
        outcome: ``"survived"`` or ``"failed"``.
        detail: What happened, in a sentence.
        **extra: More keys for the record (JSON-serialisable); ``suite``
            overrides the test module found in ``$PYTEST_CURRENT_TEST``.

    Raises:
        ValueError: ``kind`` is not a lower-case word or ``outcome`` is not one
            of :data:`OUTCOMES` (checked even when nothing is written, so a
            typo shows up in every run).
    """
    if not _KIND.match(kind):
        raise ValueError(f"kind must be a lower-case word, not {kind!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    directory = report_dir()
    if directory is None:
        return
    entry: dict[str, object] = {"kind": kind, "suite": current_suite(), "name": name}
    entry.update(outcome=outcome, detail=detail)
    entry.update(extra)
    line = (json.dumps(entry, sort_keys=False, default=str) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{kind}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
