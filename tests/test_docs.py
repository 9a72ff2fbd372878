"""The docs say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from troika import _errors

ROOT = Path(__file__).resolve().parents[1]


def test_error_tree_in_docs_matches_the_code() -> None:
    assert _errors.__doc__ is not None
    in_code = re.search(r"```\n(.*?)```", _errors.__doc__, re.S)
    in_docs = re.search(r"```\n(.*?)```", (ROOT / "docs" / "errors.md").read_text(), re.S)
    assert in_code is not None
    assert in_docs is not None
    assert in_docs.group(1) == in_code.group(1)


def test_every_error_appears_in_the_tree() -> None:
    assert _errors.__doc__ is not None
    for name in _errors.__all__:
        assert re.search(rf"\b{name}\b", _errors.__doc__), name
