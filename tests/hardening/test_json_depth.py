"""troika._json: the nesting bound on JSON from outside, against an independent
count of a value's depth, and hostile texts that once made the check itself slow.

The expected depth is computed by walking the Python value that ``json.dumps``
serialised, not by scanning the text as ``check_depth`` does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troika._json import check_depth, loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:\n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\k'), children, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """Levels of arrays and objects in a Python value (a scalar is 0)."""
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(JSON, st.integers(min_value=0, max_value=6))
def test_the_bound_agrees_with_the_values_own_depth(value: Any, limit: int) -> None:
    text = json.dumps(value)  # strings full of brackets, quotes and backslashes
    if depth(value) > limit:
        with pytest.raises(json.JSONDecodeError, match=f"nested more than {limit} levels"):
            loads(text, max_depth=limit)
    else:
        assert loads(text, max_depth=limit) == value


HOSTILE = {
    # each escaped quote once started a scan to the end of the text: quadratic
    "an unterminated string of escaped quotes": '"' + '\\"' * 500_000,
    "a string of backslashes, unterminated": '"' + "\\\\" * 500_000,
    "quotes alone": '"' * 1_000_001,
    "brackets in an unterminated string": '"' + "[" * 1_000_000,
}


@pytest.mark.timeout(60)  # a hang guard: the scan is linear, and 1 MB takes well under a second
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_texts_are_refused_after_one_linear_scan(name: str) -> None:
    text = HOSTILE[name]
    check_depth(text)  # brackets inside a string do not count
    with pytest.raises(json.JSONDecodeError):
        loads(text)
