"""The resolver service: in-process through httpx's ASGI transport for the fine
detail (every error code and status, content negotiation, DID URLs, the cache,
bad input), and ``troika did serve`` as a real process on loopback, resolving
did:key, did:pkh and did:ethr on anvil, end to end.

Expected statuses are those of the DID Resolution HTTP(S) binding and the DIF
Universal Resolver's driver interface: 200, invalidDid 400, notFound 404,
representationNotSupported 406, deactivated 410, internalError 500,
methodNotSupported 501.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests._services import Anvil, free_port
from troika import DIDNotFound
from troika.chain import Chain
from troika.did import (
    DID,
    DID_CONTEXT,
    DIDDocument,
    DocumentMetadata,
    EthrRegistry,
    ResolutionCache,
    ResolutionResult,
    Resolver,
    create_app,
)
from troika.did._service import RESULT_MEDIA_TYPE, negotiate

KEY = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
PKH = "did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a"
ZERO = "0x" + "00" * 20
ROOT = Path(__file__).resolve().parents[2]


def call(app: Any, *paths: str | tuple[str, dict[str, str]]) -> list[httpx.Response]:
    """GET each path (or (path, headers)) from the app, in order, in one event loop."""

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            responses = []
            for item in paths:
                path, headers = (item, {}) if isinstance(item, str) else item
                responses.append(await client.get(path, headers=headers))
            return responses

    return asyncio.run(main())


def one(app: Any, path: str, **headers: str) -> httpx.Response:
    return call(app, (path, {k.replace("_", "-"): v for k, v in headers.items()}))[0]


def error_of(response: httpx.Response) -> str | None:
    assert response.headers["content-type"] == RESULT_MEDIA_TYPE
    body = response.json()
    assert body["didDocument"] is None
    return body["didResolutionMetadata"]["error"]


class Recorder:
    """A method resolver that counts its calls and answers what it is told to."""

    def __init__(self, answer: Callable[[DID, Mapping[str, Any]], Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, did: DID, options: Mapping[str, Any]) -> Any:
        self.calls.append((str(did), dict(options)))
        return self.answer(did, options)


def document(did: DID, options: Mapping[str, Any]) -> DIDDocument:
    return DIDDocument(context=DID_CONTEXT, id=str(did))


def resolver_with(cache: bool = False, **methods: Any) -> Resolver:
    resolver = Resolver(cache=ResolutionCache() if cache else None)
    for name, method in methods.items():
        resolver.register(name, method)
    return resolver


# -- representations ------------------------------------------------------------------------


def test_the_default_representation_is_the_whole_result() -> None:
    expected = Resolver().resolve(KEY).to_dict()
    for accept in (None, "*/*", "application/*"):
        headers = {} if accept is None else {"accept": accept}
        response = one(create_app(Resolver()), f"/1.0/identifiers/{KEY}", **headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == RESULT_MEDIA_TYPE
        assert response.json() == expected


@pytest.mark.parametrize(
    ("accept", "media_type", "shape"),
    [
        (RESULT_MEDIA_TYPE, RESULT_MEDIA_TYPE, "result"),
        (
            "application/ld+json; profile=https://w3id.org/did-resolution",
            RESULT_MEDIA_TYPE,
            "result",
        ),
        ("application/did-resolution", RESULT_MEDIA_TYPE, "result"),
        ("application/did+ld+json", "application/did+ld+json", "json-ld"),
        ("application/did+json", "application/did+json", "json"),
        ("text/html, application/did+json", "application/did+json", "json"),
        (
            "application/did+json;q=0.5, application/did+ld+json",
            "application/did+ld+json",
            "json-ld",
        ),
    ],
)
def test_content_negotiation(accept: str, media_type: str, shape: str) -> None:
    result = Resolver().resolve(PKH).to_dict()
    response = one(create_app(Resolver()), f"/1.0/identifiers/{PKH}", accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    if shape == "result":
        assert response.json() == result
    elif shape == "json-ld":
        assert response.json() == result["didDocument"]
        assert "@context" in response.json()
    else:  # @context belongs to the JSON-LD representation only
        assert response.json() == {
            k: v for k, v in result["didDocument"].items() if k != "@context"
        }


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/json", "application/ld+json", "application/did+json;q=0", "x"],
)
def test_an_unsupported_representation_is_406(accept: str) -> None:
    response = one(create_app(Resolver()), f"/1.0/identifiers/{KEY}", accept=accept)
    assert response.status_code == 406
    assert error_of(response) == "representationNotSupported"
    assert repr(accept) in response.json()["didResolutionMetadata"]["errorMessage"]


def test_negotiate_parses_parameters_and_qualities() -> None:
    assert negotiate('application/ld+json;profile="a https://w3id.org/did-resolution"') == "result"
    assert negotiate("application/did+json;q=abc") is None
    assert negotiate("  ") == "result"
    assert negotiate("APPLICATION/DID+LD+JSON") == "application/did+ld+json"


# -- errors and their statuses --------------------------------------------------------------


def deactivated(did: DID, options: Mapping[str, Any]) -> ResolutionResult:
    return ResolutionResult.success(
        DIDDocument(id=str(did)), document_metadata=DocumentMetadata(deactivated=True)
    )


def not_found(did: DID, options: Mapping[str, Any]) -> DIDDocument:
    raise DIDNotFound(str(did), "no such thing")


def broken(did: DID, options: Mapping[str, Any]) -> DIDDocument:
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("identifier", "status", "error"),
    [
        ("did:nope", 400, "invalidDid"),
        ("not-a-did", 400, "invalidDid"),
        ("", 400, "invalidDid"),
        # An Ed25519 multicodec prefix and 31 bytes of key.
        ("did:key:z2DQUyFHStG42FqbEhyM6LhkEqqV45NGGqKCwNxVWWu7Yzj", 400, "invalidPublicKeyLength"),
        ("did:gone:1", 404, "notFound"),
        ("did:bug:1", 500, "internalError"),
        ("did:example:123", 501, "methodNotSupported"),
        ("did:ethr:0xb9c5714089478a327f09197987f16f9e5d936e8a", 501, "unknownNetwork"),
    ],
)
def test_each_error_has_its_status(identifier: str, status: int, error: str) -> None:
    from troika.did import EthrResolver

    resolver = resolver_with(gone=not_found, bug=broken, ethr=EthrResolver({}))
    for accept in (RESULT_MEDIA_TYPE, "application/did+ld+json"):
        response = one(create_app(resolver), f"/1.0/identifiers/{identifier}", accept=accept)
        assert (response.status_code, error_of(response)) == (status, error)


def test_a_deactivated_did_is_410_with_its_representation() -> None:
    app = create_app(resolver_with(old=deactivated))
    result = one(app, "/1.0/identifiers/did:old:1")
    assert result.status_code == 410
    assert result.json()["didDocumentMetadata"] == {"deactivated": True}
    document = one(app, "/1.0/identifiers/did:old:1", accept="application/did+ld+json")
    assert (document.status_code, document.json()) == (410, {"id": "did:old:1"})


def test_a_resolver_that_raises_is_500_and_the_service_goes_on() -> None:
    class Broken(Resolver):
        def resolve(self, did_url: Any, **options: Any) -> ResolutionResult:
            raise RuntimeError("not even a result")

    app = create_app(Broken())
    first, health = call(app, f"/1.0/identifiers/{KEY}", "/health")
    assert (first.status_code, error_of(first)) == (500, "internalError")
    assert "not even a result" in first.json()["didResolutionMetadata"]["errorMessage"]
    assert health.status_code == 200


def test_bad_input_never_stops_the_service() -> None:
    garbage = [
        "%ff%fe%00",
        "did:key:%00",
        "did:" + "a" * 20_000,
        "did:key:z" + "1" * 5_000,
        "..%2F..%2Fetc%2Fpasswd",
        "did:ethr:dev:0x12?versionId=abc#x",
        "did:ключ:1",
        "did:pkh:eip155:1:0xB9C5714089478a327f09197987f16f9e5d936e8a",  # bad checksum
        "%",
        "did%3Akey%3A",
    ]
    app = create_app(resolver_with(cache=True))
    responses = call(app, *(f"/1.0/identifiers/{g}" for g in garbage), "/health")
    for identifier, response in zip(garbage, responses, strict=False):
        assert 400 <= response.status_code < 600, identifier
        assert error_of(response) is not None, identifier
    assert responses[-1].json()["status"] == "ok"
    assert one(app, f"/1.0/identifiers/{KEY}").status_code == 200


# -- DID URLs and percent-encoding ----------------------------------------------------------


def test_percent_encoded_dids_and_did_urls() -> None:
    recorder = Recorder(document)
    app = create_app(resolver_with(ex=recorder))
    expected = one(app, "/1.0/identifiers/did:ex:abc").json()
    for path in [
        "/1.0/identifiers/did%3Aex%3Aabc",
        "/1.0/identifiers/did:ex:abc%23key-1",  # the fragment of a DID URL
        "/1.0/identifiers/did:ex:abc/some/path",
        "/1.0/identifiers/did:ex:abc%2Fsome%2Fpath",
    ]:
        response = one(app, path)
        assert (response.status_code, response.json()) == (200, expected), path
    # A DID URL's query, encoded or not, selects the version.
    one(app, "/1.0/identifiers/did:ex:abc?versionId=7")
    one(app, "/1.0/identifiers/did:ex:abc%3FversionId%3D8")
    assert [options.get("version_id") for _, options in recorder.calls[-2:]] == ["7", "8"]
    assert {did for did, _ in recorder.calls} == {"did:ex:abc"}


# -- the cache ------------------------------------------------------------------------------


def test_results_are_cached_and_no_cache_resolves_afresh() -> None:
    recorder = Recorder(document)
    app = create_app(resolver_with(cache=True, ex=recorder))
    responses = call(
        app,
        "/1.0/identifiers/did:ex:1",
        ("/1.0/identifiers/did:ex:1", {"accept": "application/did+ld+json"}),
        "/1.0/identifiers/did:ex:1",
        ("/1.0/identifiers/did:ex:1", {"cache-control": "no-cache"}),
        "/health",
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert responses[0].content == responses[2].content
    assert len(recorder.calls) == 2
    assert recorder.calls[1][1] == {"noCache": True}
    assert responses[-1].json()["cached"] == 1


def test_errors_are_never_cached() -> None:
    recorder = Recorder(not_found)
    app = create_app(resolver_with(cache=True, gone=recorder))
    responses = call(app, "/1.0/identifiers/did:gone:1", "/1.0/identifiers/did:gone:1")
    assert [r.status_code for r in responses] == [404, 404]
    assert len(recorder.calls) == 2


def test_a_blocking_resolver_does_not_block_the_event_loop() -> None:
    gate = threading.Event()
    released: list[bool] = []

    def slow(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        released.append(gate.wait(10))  # bounded: a blocked loop would time this out
        return document(did, options)

    app = create_app(resolver_with(slow=slow))

    async def main() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            pending = asyncio.create_task(client.get("/1.0/identifiers/did:slow:1"))
            await asyncio.sleep(0)
            health = await client.get("/health")  # answered while the resolver waits
            gate.set()
            return health.status_code, (await pending).status_code

    assert asyncio.run(main()) == (200, 200)
    assert released == [True]


def test_an_async_resolver_runs_on_the_loop() -> None:
    from troika.did import AsyncResolver

    async def method(did: DID, options: Mapping[str, Any]) -> DIDDocument:
        await asyncio.sleep(0)
        return document(did, options)

    resolver = AsyncResolver(cache=ResolutionCache())
    resolver.register("ex", method)
    app = create_app(resolver)
    ok, key = call(app, "/1.0/identifiers/did:ex:1", f"/1.0/identifiers/{KEY}")
    assert (ok.status_code, key.status_code) == (200, 200)


# -- the service's own endpoints ------------------------------------------------------------


def test_health_methods_and_the_openapi_document() -> None:
    app = create_app(resolver_with(ex=document))
    health, methods, spec = call(app, "/health", "/1.0/methods", "/openapi.json")
    assert health.json()["status"] == "ok"
    assert methods.json() == ["ex", "key", "pkh"]
    document_ = spec.json()
    validate(document_)  # a valid OpenAPI 3.1 document
    routes = {getattr(route, "path", None) for route in app.routes}
    assert {p.replace("{identifier}", "{identifier:path}") for p in document_["paths"]} == routes
    statuses = document_["paths"]["/1.0/identifiers/{identifier}"]["get"]["responses"]
    assert set(statuses) == {"200", "400", "404", "406", "410", "500", "501"}


def test_every_response_matches_the_openapi_document() -> None:
    from openapi_core import Config, OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    app = create_app(resolver_with(gone=not_found, bug=broken, old=deactivated, ex=document))
    cases = [
        (f"/1.0/identifiers/{KEY}", None, 200),
        (f"/1.0/identifiers/{KEY}", "application/did+ld+json", 200),
        (f"/1.0/identifiers/{PKH}", "application/did+json", 200),
        ("/1.0/identifiers/did:nope", None, 400),
        ("/1.0/identifiers/did:gone:1", None, 404),
        (f"/1.0/identifiers/{KEY}", "text/html", 406),
        ("/1.0/identifiers/did:old:1", None, 410),
        ("/1.0/identifiers/did:old:1", "application/did+ld+json", 410),
        ("/1.0/identifiers/did:bug:1", None, 500),
        ("/1.0/identifiers/did:example:1", None, 501),
        ("/health", None, 200),
        ("/1.0/methods", None, 200),
        ("/openapi.json", None, 200),
    ]
    requests = [(path, {} if accept is None else {"accept": accept}) for path, accept, _ in cases]
    responses = call(app, *requests)
    # openapi-core reads only application/json as JSON: the +json types are JSON too.
    as_json = {
        media: (lambda value, **_: json.loads(value))
        for media in ("application/ld+json", "application/did+ld+json", "application/did+json")
    }
    spec = OpenAPI.from_dict(
        responses[-1].json(), config=Config(extra_media_type_deserializers=as_json)
    )
    for (path, headers), response, (_, _, status) in zip(requests, responses, cases, strict=True):
        assert response.status_code == status, path
        spec.validate_response(
            MockRequest("http://service", "get", path, headers=headers),
            MockResponse(
                response.content,
                status_code=response.status_code,
                content_type=response.headers["content-type"],
            ),
        )


def test_other_http_methods_are_405() -> None:
    async def main() -> int:
        transport = httpx.ASGITransport(app=create_app(Resolver()))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return (await client.post(f"/1.0/identifiers/{KEY}")).status_code

    assert asyncio.run(main()) == 405


# -- `troika did serve`, a real process on loopback -----------------------------------------


@pytest.fixture
def served(anvil: Anvil, tmp_path: Path) -> Iterator[tuple[str, Chain]]:
    """``troika did serve`` on a free loopback port, did:ethr on ``anvil``; its base URL."""
    chain = Chain.connect(anvil.url, home=tmp_path)
    EthrRegistry.deploy(chain)  # recorded in tmp_path, the service's home
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    env = {**os.environ, "TROIKA_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "troika.cli", "did", "serve", "--port", str(port)]
    command += ["--rpc", anvil.url, "--home", str(tmp_path)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "serve.log").read_text(errors="replace"))
            time.sleep(0.1)
        yield url, chain
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.mark.anvil
@pytest.mark.slow
def test_troika_did_serve_end_to_end(served: tuple[str, Chain]) -> None:
    url, chain = served
    registry = EthrRegistry.at(chain)
    me, gone = chain.accounts[2], chain.accounts[3]
    registry.set_attribute(me, "did/svc/HubService", b"https://hub.example", 86_400, sender=me)
    registry.change_owner(gone, ZERO, sender=gone)
    ethr, ended = f"did:ethr:0x7a69:{me}", f"did:ethr:0x7a69:{gone}"
    with httpx.Client(base_url=url, timeout=10) as client:
        for did in (KEY, PKH):
            response = client.get(f"/1.0/identifiers/{did}")
            assert response.status_code == 200
            assert response.json() == Resolver().resolve(did).to_dict()
        response = client.get(
            f"/1.0/identifiers/{ethr}", headers={"accept": "application/did+ld+json"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/did+ld+json"
        services = response.json()["service"]
        assert [s["serviceEndpoint"] for s in services] == ["https://hub.example"]
        response = client.get(f"/1.0/identifiers/{ended}")
        assert response.status_code == 410
        assert response.json()["didDocumentMetadata"]["deactivated"] is True
        for identifier, status in [
            ("did:nope", 400),
            ("%ff", 400),
            (f"{ethr}?versionId=99999999", 404),
            ("did:example:1", 501),
            (f"did:ethr:sepolia:{me}", 501),
        ]:
            response = client.get(f"/1.0/identifiers/{identifier}")
            assert response.status_code == status, (identifier, response.text)
        assert (
            client.get(f"/1.0/identifiers/{KEY}", headers={"accept": "text/html"}).status_code
            == 406
        )
        assert client.get("/health").json()["status"] == "ok"
        assert json.loads(client.get("/openapi.json").text)["openapi"] == "3.1.0"
