"""Fixtures shared by the tests that kill a Kubo mid-upload."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.ipfs._crashing_kubo import MIB
from tests.ipfs._crashing_kubo import crashing_kubo as crashing_kubo  # the fixture


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    with path.open("wb") as file:
        for block in range(64):
            file.write(random.Random(block).randbytes(MIB))
    return path
