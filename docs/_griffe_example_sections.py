"""A griffe extension for the API reference: troika's docstrings title their
doctests ``Example:`` (style.md), which Google style as griffe reads it knows
only as ``Examples:``; without this the doctests render as Markdown prose."""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Read a docstring's ``Example:`` section as ``Examples:``."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
