"""did:web: the specification's examples, then a real HTTP server on 127.0.0.1.

The host is ``tests/did/web_server.py``, a process of its own serving fixture
documents over plain HTTP: the specification requires HTTPS, so the resolvers
here get ``scheme="http"`` (a test-only override). Their injected httpx client
binds to 127.0.0.1, so ``localhost`` is only ever reached over IPv4 loopback.
The DIDs are ``did:web:localhost%3A<port>...``: the specification names hosts
by domain name, never by IP address.
"""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.did.test_conformance import assert_conformant
from troika import DIDResolutionError, InvalidDID
from troika.did import (
    AsyncResolver,
    AsyncWebResolver,
    ResolutionResult,
    Resolver,
    WebResolver,
    web_document,
    web_url,
)
from troika.did._resolver import _default_resolver

HERE = Path(__file__).parent
SPEC = json.loads((HERE / "vectors" / "did-web" / "spec-examples.json").read_text())
SPEC_DID = "did:web:example.com"


# -- the specification's examples, no I/O ---------------------------------------------------


@pytest.mark.parametrize(("did", "url"), SPEC["urls"].items())
def test_the_specifications_urls(did: str, url: str) -> None:
    assert web_url(did) == url


@pytest.mark.parametrize("document", SPEC["documents"])
def test_the_specifications_documents(document: dict[str, Any]) -> None:
    parsed = web_document(SPEC_DID, json.dumps(document).encode())
    assert parsed.to_dict() == document
    assert_conformant(ResolutionResult.success(parsed), SPEC_DID)


@pytest.mark.parametrize(
    "did",
    [
        "did:web:127.0.0.1",
        "did:web:[::1]",
        "did:web:127.0.0.1%3A8080",
        "did:web:-bad.example",
        "did:web:example.com%3A0",
        "did:web:example.com%3A65536",
        "did:web:example.com%3Ahttp",
        "did:web:example.com::alice",
        "did:web:exa%2Fmple.com",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    ],
)
def test_bad_dids_are_invalid(did: str) -> None:
    with pytest.raises(InvalidDID) as caught:
        web_url(did)
    assert caught.value.error == "invalidDid"
    if did.startswith("did:web:"):
        with WebResolver() as web:  # never reaches the network: the DID is refused first
            resolver = Resolver()
            resolver.register("web", web)
            assert resolver.resolve(did).error == "invalidDid"


def test_the_scheme_is_https_or_http() -> None:
    assert web_url("did:web:localhost%3A8443", scheme="http") == (
        "http://localhost:8443/.well-known/did.json"
    )
    with pytest.raises(ValueError, match="ftp"):
        web_url("did:web:example.com", scheme="ftp")
    with pytest.raises(ValueError, match="ftp"):
        WebResolver(scheme="ftp")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "no DID document"),
        (b'{"service": []}', "no DID document: id"),
        (b'{"id": "did:web:other.example"}', "the document of 'did:web:other.example'"),
    ],
)
def test_what_is_not_this_dids_document(body: bytes, message: str) -> None:
    with pytest.raises(DIDResolutionError, match=message) as caught:
        web_document(SPEC_DID, body)
    assert caught.value.error == "invalidDidDocument"


def test_the_default_resolvers_know_did_web() -> None:
    assert "web" in _default_resolver().methods


# -- a real host on loopback -----------------------------------------------------------------


@dataclass
class Host:
    port: int
    root: Path

    def did(self, *path: str) -> str:
        return ":".join([f"did:web:localhost%3A{self.port}", *path])

    def serve(self, path: str, body: bytes | dict[str, Any]) -> None:
        file = self.root / path / "did.json"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())


def spec_document(index: int, did: str) -> dict[str, Any]:
    text = json.dumps(SPEC["documents"][index]).replace(SPEC_DID, did)
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    root = tmp_path_factory.mktemp("did-web")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "web_server.py"), str(root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 15)
        assert ready, "the did:web test server did not start within 15 s"
        server = Host(int(process.stdout.readline()), root)
        server.serve(".well-known", spec_document(0, server.did()))
        server.serve("user/alice", spec_document(1, server.did("user", "alice")))
        server.serve("other", spec_document(0, SPEC_DID))
        server.serve("broken", b'{"id": "did:web:')
        server.serve("big", {"id": server.did("big"), "alsoKnownAs": ["https://a.example"] * 200})
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def sync_resolver(**settings: Any) -> Resolver:
    client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"))
    resolver = Resolver()
    resolver.register("web", WebResolver(client, scheme="http", **settings))
    return resolver


def resolve_sync(did: str, **settings: Any) -> ResolutionResult:
    return sync_resolver(**settings).resolve(did)


def resolve_async(did: str, **settings: Any) -> ResolutionResult:
    async def main() -> ResolutionResult:
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
        async with httpx.AsyncClient(transport=transport) as client:
            resolver = AsyncResolver()
            resolver.register("web", AsyncWebResolver(client, scheme="http", **settings))
            return await resolver.resolve(did)

    return asyncio.run(main())


@pytest.fixture(params=[resolve_sync, resolve_async], ids=["sync", "async"])
def resolve(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.mark.parametrize(("path", "index"), [((), 0), (("user", "alice"), 1)])
def test_a_served_document_resolves(
    host: Host, resolve: Any, path: tuple[str, ...], index: int
) -> None:
    did = host.did(*path)
    result = resolve(did)
    assert result.did_document.to_dict() == spec_document(index, did)
    assert_conformant(result, did)


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("other", "invalidDidDocument", "the document of 'did:web:example.com'"),
        ("broken", "invalidDidDocument", "no DID document"),
        ("missing", "notFound", "answered 404"),
        ("status/500", "internalError", "answered 500, not 200"),
        ("status/302", "internalError", "answered 302, not 200"),
    ],
)
def test_a_bad_host_is_a_resolution_error(
    host: Host, resolve: Any, path: str, error: str, message: str
) -> None:
    result = resolve(host.did(*path.split("/")))
    assert result.did_document is None
    assert result.error == error
    assert message in result.did_resolution_metadata.error_message


def test_a_document_larger_than_the_limit_is_refused(host: Host, resolve: Any) -> None:
    assert resolve(host.did("big")).error is None
    result = resolve(host.did("big"), max_bytes=1000)
    assert result.error == "invalidDidDocument"
    assert "more than 1000 bytes" in result.did_resolution_metadata.error_message


def test_a_slow_host_times_out(host: Host, resolve: Any) -> None:
    host.serve("slow", {"id": host.did("slow")})
    result = resolve(host.did("slow"), timeout=0.3)
    assert result.error == "internalError"
    assert result.did_resolution_metadata.error_message.endswith("did.json timed out)")


def test_a_host_that_is_down_is_an_internal_error(resolve: Any) -> None:
    result = resolve("did:web:localhost%3A9", timeout=2)  # the discard port: nothing listens
    assert result.error == "internalError"
    assert "cannot fetch http://localhost:9/.well-known/did.json" in (
        result.did_resolution_metadata.error_message
    )


def test_no_cache_asks_the_host_for_a_fresh_copy(host: Host) -> None:
    sent: list[httpx.Headers] = []
    client = httpx.Client(
        transport=httpx.HTTPTransport(local_address="127.0.0.1"),
        event_hooks={"request": [lambda request: sent.append(request.headers)]},
    )
    with WebResolver(client, scheme="http") as web:
        resolver = Resolver()
        resolver.register("web", web)
        assert resolver.resolve(host.did()).error is None
        assert resolver.resolve(host.did(), noCache=True).error is None
    assert "cache-control" not in sent[0]
    assert sent[1]["cache-control"] == "no-cache"
    assert not client.is_closed  # a given client stays open
    client.close()


def test_the_resolver_closes_the_client_it_made() -> None:
    with WebResolver() as web:
        pass
    assert web.client.is_closed


_LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_SEGMENTS = st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), max_size=4)


@given(
    labels=st.lists(_LABELS, min_size=2, max_size=4),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_SEGMENTS,
)
def test_every_did_web_maps_to_its_url(
    labels: list[str], port: int | None, path: list[str]
) -> None:
    host = ".".join(labels)
    assume(not host.replace(".", "").isdigit())  # all-digit dotted names read as IP addresses
    did = ":".join([f"did:web:{host}" + (f"%3A{port}" if port else ""), *path])
    authority = f"{host}:{port}" if port else host
    where = "/".join(path) if path else ".well-known"
    assert web_url(did) == f"https://{authority}/{where}/did.json"
