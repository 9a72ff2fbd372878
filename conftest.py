"""Fixtures for both test paths, tests/ and the docstring examples in sdk/troika.

``anvil`` and ``kubo`` are real processes on loopback, one of each per session,
stopped when it ends. A missing binary fails the tests that need it (never
skips them), with a message that says how to install it. ``pinning_service``
is tests/_pinning_server.py as a process beside ``kubo``, pinning into it.

They live here, not in tests/conftest.py, because the docstring examples of
``troika.ipfs`` need the same Kubo and fixtures in tests/ are invisible to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from tests._pinning_server import PinningServer
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


@pytest.fixture(scope="session")
def pinning_service(
    kubo: Kubo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PinningServer]:
    """A local IPFS Pinning Service API server that pins into ``kubo``, at
    ``pinning_service.url`` with the access token ``pinning_service.token``."""
    server = PinningServer(kubo.api_url, workdir=tmp_path_factory.mktemp("pinning"))
    yield from _running(server)


@pytest.fixture(autouse=True)
def _doctest_names(
    request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]
) -> Iterator[None]:
    """Names the docstring examples may use: ``tmp_path`` in every one, and in
    troika.ipfs's, ``api_url`` (a real node), ``ipfs`` (a client of it) and
    ``gateway_url`` (its gateway); in troika.ipfs._pinning's, also ``endpoint``,
    ``token`` and ``pinning`` (a pinning service pinning into that node)."""
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
        doctest_namespace.update(gateway_url=node.gateway_url)
        if request.node.name.startswith("troika.ipfs._pinning"):
            yield from _pinning_doctest_names(request, doctest_namespace)
            return
        yield


def _pinning_doctest_names(
    request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]
) -> Iterator[None]:
    """``endpoint`` and ``token`` of a pinning service, and ``pinning``, a client of it."""
    from troika.ipfs import PinningService

    server: PinningServer = request.getfixturevalue("pinning_service")
    with PinningService(server.url, server.token) as pinning:
        doctest_namespace.update(endpoint=server.url, token=server.token, pinning=pinning)
        yield
