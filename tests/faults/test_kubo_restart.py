"""Kubo SIGKILLed in the middle of an upload and started again on its repo:
the repo verifies (``ipfs repo verify``), nothing is reported pinned that
isn't (``ipfs pin verify`` over every pin, and the upload's root is not
among them), and the same upload then restarts cleanly to the CID that
``ipfs add --only-hash`` gives.

tests/ipfs/test_kubo_store.py and tests/ipfs/test_stream_add.py kill Kubo
mid-upload too (a failed add that pins nothing; an add retried until the node
is back); this test adds the check of the repo's own consistency."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.faults.conftest import FaultReport
from tests.ipfs._crashing_kubo import MIB, RestartableKubo, kill
from tests.ipfs._crashing_kubo import crashing_kubo as crashing_kubo  # the fixture
from troika import IPFSUnavailable
from troika.ipfs import CID, KuboStore

pytestmark = pytest.mark.kubo

SIZE = 24 * MIB
KILL_AT = 8 * MIB


def pins_verify(node: RestartableKubo) -> list[dict[str, object]]:
    """``ipfs pin verify``: one entry per pinned root, each with ``Ok``."""
    out = node.cli("pin", "verify", "--verbose", "--enc=json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_kubo_killed_mid_upload_keeps_a_consistent_repo(
    crashing_kubo: RestartableKubo, tmp_path: Path, fault_report: FaultReport
) -> None:
    node = crashing_kubo
    source = tmp_path / "big.bin"
    with source.open("wb") as file:
        for block in range(SIZE // MIB):
            file.write(random.Random(block).randbytes(MIB))
    expected = CID.parse(node.cli("add", "-Q", "--only-hash", str(source)))
    small = node.cli("add", "-Q", "--pin=true", input=b"pinned before the crash")
    killed_at: list[int] = []

    def progress(sent: int, total: int | None) -> None:
        if sent >= KILL_AT and not killed_at:
            killed_at.append(sent)
            kill(node)

    fault_report.inject(f"Kubo SIGKILLed {KILL_AT // MIB} MiB into a {SIZE // MIB} MiB add")
    with KuboStore(node.api_url, retries=0) as store, pytest.raises(IPFSUnavailable):
        store.add(source, progress=progress)
    assert killed_at
    assert killed_at[0] < SIZE

    node.start()  # stopped by kill(); back on the same repo
    node.cli("repo", "verify")  # exits non-zero on a corrupt block
    verified = pins_verify(node)
    assert verified
    assert all(entry["Ok"] for entry in verified), verified
    with KuboStore(node.api_url) as store:
        pinned = store.pins()
        assert expected not in pinned
        assert CID.parse(small) in pinned  # what was pinned before stays pinned
        # the upload restarts cleanly
        assert store.add(source) == expected
        assert store.is_pinned(expected)
    node.cli("repo", "verify")
    assert all(entry["Ok"] for entry in pins_verify(node))
    fault_report.detail = (
        f"killed at {killed_at[0] // MIB} MiB; repo and pins verified; re-add gave {expected}"
    )
