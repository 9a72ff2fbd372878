"""Fixtures shared by the tests that kill a Kubo mid-upload."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ipfs._crashing_kubo import MIB, RestartableKubo


@pytest.fixture
def crashing_kubo(tmp_path: Path) -> Iterator[RestartableKubo]:
    node = RestartableKubo(offline=True, workdir=tmp_path / "kubo")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    with path.open("wb") as file:
        for block in range(64):
            file.write(random.Random(block).randbytes(MIB))
    return path
