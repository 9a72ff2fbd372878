"""JSON from outside, parsed with its nesting bounded before Python's parser sees it.

Why: py-evm and py_ecc (which web3 and eth-tester import) raise Python's
recursion limit to 100,000 when they load, beyond what an 8 MiB C stack holds
for ``json``'s C decoder; in such a process ``json.loads("[" * 70_000)`` (70 kB)
crashes the interpreter with a segmentation fault instead of raising
``RecursionError``. A hostile metadata file, job spec or DID service endpoint
must not take a node or a resolver service down, so troika checks the depth
first, with a regular expression (C speed) that skips strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "loads"]

MAX_DEPTH = 512
"""Levels of arrays and objects a JSON text from outside may nest."""

# A string (its closing quote optional, so that an unterminated one is one
# linear match, not a scan to the end from each quote inside it) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise ``json.JSONDecodeError`` (a ``ValueError``) if ``text`` nests deeper than ``limit``.

    Example:
        >>> check_depth("[[1], {\\"a\\": \\"[[[\\"}]", limit=2)
        >>> check_depth("[[[1]]]", limit=2)
        Traceback (most recent call last):
        ...
        json.decoder.JSONDecodeError: nested more than 2 levels deep: line 1 column 3 (char 2)
    """
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:  # a JSONDecodeError, as json.loads would raise (a ValueError)
                raise json.JSONDecodeError(
                    f"nested more than {limit} levels deep", text, match.start()
                )
        elif token in ("]", "}"):
            depth -= 1


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads`` for outside text: ``JSONDecodeError`` if nested deeper than ``max_depth``.

    Example:
        >>> loads('{"a": [1, 2]}')
        {'a': [1, 2]}
    """
    decoded = text.decode("utf-8") if isinstance(text, bytes) else text
    check_depth(decoded, max_depth)
    return json.loads(decoded, **options)
