"""Fixtures of the tests: every test that takes ``chain`` runs on the embedded
EVM and on a real anvil, so both implementations pass one suite.

(``anvil`` and ``kubo`` themselves are in the repository's root conftest.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from troika.chain import ArtifactStore, Chain

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def test_artifacts() -> ArtifactStore:
    """troika's artifacts plus the test-only contracts (Probe)."""
    return ArtifactStore([ARTIFACTS])


@pytest.fixture(params=["embedded", "anvil"])
def chain(
    request: pytest.FixtureRequest, test_artifacts: ArtifactStore, tmp_path: Path
) -> Iterator[Chain]:
    if request.param == "embedded":
        yield Chain.embedded(artifacts=test_artifacts)
    else:
        anvil = request.getfixturevalue("anvil")
        yield Chain.connect(
            anvil.url, chain_id=anvil.chain_id, home=tmp_path, artifacts=test_artifacts
        )


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
