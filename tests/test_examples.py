"""Every example runs as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_has_a_test() -> None:
    tested = {"chain_quickstart.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_chain_quickstart() -> None:
    out = run("chain_quickstart.py").splitlines()
    assert out[0].endswith("at block 0")
    assert out[1].startswith("funded 0x")
    assert "block 1" in out[1]
    assert out[2].startswith("alice paid ")
    assert out[3].startswith("refused: ")
    assert "balance" in out[3] or "funds" in out[3]


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_have_a_docstring(script: str) -> None:
    assert (EXAMPLES / script).read_text().startswith('"""')
