"""Fixtures for both test paths, tests/ and the docstring examples in sdk/troika.

``anvil`` and ``kubo`` are real processes on loopback, one of each per session,
stopped when it ends. A missing binary fails the tests that need it (never
skips them), with a message that says how to install it.

They live here, not in tests/conftest.py, because the docstring examples of
``troika.ipfs`` need the same Kubo and fixtures in tests/ are invisible to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from tests._services import Anvil, Kubo, Service, ServiceError

S = TypeVar("S", bound=Service)


def _running(service: S) -> Iterator[S]:
    try:
        service.start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """A running anvil chain (chain id 31337) at ``anvil.url``."""
    yield from _running(Anvil(workdir=tmp_path_factory.mktemp("anvil")))


@pytest.fixture(scope="session")
def kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubo]:
    """A running Kubo daemon with a fresh repo; its RPC API is at ``kubo.api_url``."""
    yield from _running(Kubo(workdir=tmp_path_factory.mktemp("kubo")))


@pytest.fixture(autouse=True)
def _doctest_names(
    request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]
) -> Iterator[None]:
    """Names the docstring examples may use: ``tmp_path`` in every one, and in
    troika.ipfs's, ``api_url`` (a real node) and ``ipfs`` (a client of it)."""
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    doctest_namespace["tmp_path"] = request.getfixturevalue("tmp_path")
    if not request.node.name.startswith("troika.ipfs"):
        yield
        return
    from troika.ipfs import KuboClient

    node: Kubo = request.getfixturevalue("kubo")
    with KuboClient(node.api_url) as client:
        doctest_namespace.update(api_url=node.api_url, ipfs=client, asyncio=asyncio)
        yield
