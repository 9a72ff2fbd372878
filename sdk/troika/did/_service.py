"""The resolver service: troika's resolvers over HTTP, as a DIF Universal Resolver driver.

``GET /1.0/identifiers/{did}`` resolves a DID (or the DID of a DID URL; the
identifier may be percent-encoded, and a query the client left unencoded is
part of it). The ``Accept`` header picks the representation:

- absent, ``*/*``, ``application/*``, ``application/did-resolution`` or
  ``application/ld+json;profile="https://w3id.org/did-resolution"``: the whole
  resolution result (the driver interface's default);
- ``application/did+ld+json``: the DID document;
- ``application/did+json``: the DID document without ``@context``;
- anything else: ``406`` and ``representationNotSupported``.

Failures are resolution results whatever was asked for, with the status of the
DID Resolution HTTP(S) binding: ``invalidDid`` 400, ``notFound`` 404,
``representationNotSupported`` 406, a deactivated DID 410 (with its result),
``methodNotSupported`` 501, anything else 500. The resolver's
:class:`ResolutionCache` keeps successful results (bounded, with a TTL; errors
never) and the service keeps their rendered JSON beside them;
``Cache-Control: no-cache`` resolves afresh (the ``noCache`` option).
``/health``, ``/1.0/methods`` and ``/openapi.json`` describe the service.

Starlette and uvicorn come with the ``service`` extra:
``pip install 'troika-sdk[service]'``.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from troika._config import Settings
from troika._version import __version__
from troika.did._cache import ResolutionCache
from troika.did._document import ResolutionResult
from troika.did._resolver import AsyncResolver, Resolver

__all__ = ["RESULT_MEDIA_TYPE", "create_app", "negotiate", "status_of"]

#: The media type of a whole resolution result (DID Resolution, Universal Resolver drivers).
RESULT_MEDIA_TYPE: Final = 'application/ld+json;profile="https://w3id.org/did-resolution"'
_RESULT_PROFILE = "https://w3id.org/did-resolution"
_PREFIX = "/1.0/identifiers/"

Representation: TypeAlias = Literal["result", "application/did+ld+json", "application/did+json"]

# The DID Resolution HTTP(S) binding's statuses; did:key's key errors are invalid DIDs.
_STATUS: Final[dict[str, int]] = {
    "invalidDid": 400,
    "invalidPublicKey": 400,
    "invalidPublicKeyLength": 400,
    "invalidPublicKeyType": 400,
    "unsupportedPublicKeyType": 400,
    "notFound": 404,
    "representationNotSupported": 406,
    "methodNotSupported": 501,
    # A did:ethr network this service does not serve: what methodNotSupported is for a method.
    "unknownNetwork": 501,
}


def status_of(result: ResolutionResult) -> int:
    """The HTTP status of a resolution result (DID Resolution's HTTP(S) binding).

    Example:
        >>> status_of(ResolutionResult.failure("methodNotSupported"))
        501
        >>> status_of(ResolutionResult.failure("somethingElse"))
        500
    """
    if result.error is not None:
        return _STATUS.get(result.error, 500)
    return 410 if result.did_document_metadata.deactivated else 200


def negotiate(accept: str | None) -> Representation | None:
    """The representation an ``Accept`` header asks for, or None if none is offered.

    Media ranges are tried by quality (``q``), in order of appearance among equals.

    Example:
        >>> negotiate('application/ld+json;profile="https://w3id.org/did-resolution"')
        'result'
        >>> negotiate("text/html;q=0.9, application/did+json")
        'application/did+json'
        >>> negotiate("text/html") is None
        True
    """
    if accept is None or not accept.strip():
        return "result"
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for index, item in enumerate(accept.split(",")):
        media, *raw_params = item.split(";")
        params: dict[str, str] = {}
        for raw in raw_params:
            name, _, value = raw.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            ranges.append((-quality, index, media.strip().lower(), params))
    for _, _, media, params in sorted(ranges):
        if media in ("*/*", "application/*", "application/did-resolution"):
            return "result"
        if media == "application/ld+json" and _RESULT_PROFILE in params.get("profile", "").split():
            return "result"
        if media in ("application/did+ld+json", "application/did+json"):
            return media  # type: ignore[return-value]  # one of the Literal's values
    return None


def _render(result: ResolutionResult, representation: Representation) -> bytes:
    if representation == "result" or result.did_document is None:
        data = result.to_dict()
    else:
        data = result.did_document.to_dict()
        if representation == "application/did+json":
            # @context is an entry of the JSON-LD representation only (DID Core §6.3).
            data.pop("@context", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _media_type(result: ResolutionResult, representation: Representation) -> str:
    if representation == "result" or result.did_document is None:
        return RESULT_MEDIA_TYPE
    return representation


def _identifier(request: Request) -> str:
    # The driver interface: the DID URL is percent-decoded; a query the client
    # did not encode arrives as the request's query and belongs to the DID URL.
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    prefix = _PREFIX.encode()
    start = raw.find(prefix)
    encoded = raw[start + len(prefix) :] if start >= 0 else b""
    identifier = unquote_to_bytes(encoded).decode("utf-8", errors="replace")
    query = request.scope.get("query_string", b"")
    if query:
        identifier += "?" + query.decode("latin-1")
    return identifier


def _default_resolver(
    settings: Settings | None, cache: ResolutionCache | None
) -> tuple[AsyncResolver, Callable[[], Awaitable[None]]]:
    from troika.did._ethr import AsyncEthrResolver
    from troika.did._web import AsyncWebResolver

    ethr = AsyncEthrResolver.from_settings(settings)
    web = AsyncWebResolver()
    resolver = AsyncResolver(cache=cache if cache is not None else ResolutionCache())
    resolver.register("ethr", ethr)
    resolver.register("web", web)

    async def close() -> None:
        await ethr.close()
        await web.close()

    return resolver, close


def _openapi(methods: tuple[str, ...]) -> dict[str, Any]:
    result_schema = {"$ref": "#/components/schemas/ResolutionResult"}
    result_content = {RESULT_MEDIA_TYPE: {"schema": result_schema}}
    document_content = {
        "application/did+ld+json": {"schema": {"$ref": "#/components/schemas/DIDDocument"}},
        "application/did+json": {"schema": {"$ref": "#/components/schemas/DIDDocument"}},
    }

    def failure(description: str) -> dict[str, Any]:
        return {"description": description, "content": result_content}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "troika DID resolver",
            "version": __version__,
            "description": "A DIF Universal Resolver driver for did:"
            + ", did:".join(methods)
            + ". Statuses follow the DID Resolution HTTP(S) binding.",
        },
        "paths": {
            "/1.0/identifiers/{identifier}": {
                "get": {
                    "operationId": "resolve",
                    "summary": "Resolve a DID, or the DID of a DID URL.",
                    "parameters": [
                        {
                            "name": "identifier",
                            "in": "path",
                            "required": True,
                            "description": "The DID or DID URL, percent-encoded where needed.",
                            # DID Core's ABNF: "did:" method-name ":" ...; a string of that
                            # shape may still be no DID of its method (400 invalidDid).
                            "schema": {"type": "string", "pattern": "^did:[a-z0-9]+:"},
                            "example": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                        },
                        {
                            "name": "Accept",
                            "in": "header",
                            "required": False,
                            "description": "The representation: the resolution result "
                            f"({RESULT_MEDIA_TYPE}, the default) or the DID document "
                            "(application/did+ld+json, application/did+json).",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "Cache-Control",
                            "in": "header",
                            "required": False,
                            "description": "no-cache: resolve afresh.",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Resolved.",
                            "content": {**result_content, **document_content},
                        },
                        "400": failure("invalidDid: not a DID or DID URL (or an unusable key)."),
                        "404": failure(
                            "notFound: the DID (or the version asked for) is not found."
                        ),
                        "406": failure("representationNotSupported: the Accept header."),
                        "410": {
                            "description": "Resolved, but the DID is deactivated.",
                            "content": {**result_content, **document_content},
                        },
                        "500": failure("internalError: the resolver failed (an RPC node, ...)."),
                        "501": failure("methodNotSupported (or unknownNetwork): not served here."),
                    },
                }
            },
            "/1.0/methods": {
                "get": {
                    "operationId": "methods",
                    "summary": "The DID methods this service resolves.",
                    "responses": {
                        "200": {
                            "description": "The method names.",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "string"}}
                                }
                            },
                        }
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether the service is up.",
                    "responses": {
                        "200": {
                            "description": "Up.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["status"],
                                        "properties": {"status": {"const": "ok"}},
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "DIDDocument": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}},
                },
                "ResolutionResult": {
                    "type": "object",
                    "required": ["didDocument", "didResolutionMetadata", "didDocumentMetadata"],
                    "properties": {
                        "@context": {"type": "string"},
                        "didDocument": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/DIDDocument"},
                                {"type": "null"},
                            ]
                        },
                        "didResolutionMetadata": {
                            "type": "object",
                            "properties": {
                                "contentType": {"type": "string"},
                                "error": {"type": "string"},
                                "errorMessage": {"type": "string"},
                            },
                        },
                        "didDocumentMetadata": {"type": "object"},
                    },
                },
            }
        },
    }


def create_app(
    resolver: Resolver | AsyncResolver | None = None,
    *,
    settings: Settings | None = None,
    cache: ResolutionCache | None = None,
    rendered: int = 1024,
) -> Starlette:
    """The resolver service as an ASGI app (run it with uvicorn, or ``troika did serve``).

    Args:
        resolver: resolves the DIDs; give it a cache (``Resolver(cache=...)``)
            for a warm service. An :class:`AsyncResolver` runs on the event
            loop; a :class:`Resolver` runs in a worker thread, since its
            methods may block on a node. None: an :class:`AsyncResolver` with
            ``cache`` for did:key, did:pkh, did:web, and did:ethr on the node
            that ``settings`` (troika's settings if None) name; the app closes
            its clients when it shuts down.
        settings: for the default resolver only.
        cache: for the default resolver only; a new :class:`ResolutionCache` if None.
        rendered: how many rendered bodies of cached results the service keeps.

    Example:
        >>> import asyncio, httpx
        >>> async def main() -> tuple[int, str, str]:
        ...     transport = httpx.ASGITransport(app=create_app(Resolver()))
        ...     async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ...         did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
        ...         ok = await client.get(f"/1.0/identifiers/{did}")
        ...         bad = await client.get("/1.0/identifiers/did:example:1")
        ...     error = bad.json()["didResolutionMetadata"]["error"]
        ...     return ok.status_code, ok.json()["didDocument"]["id"][:12], error
        >>> asyncio.run(main())
        (200, 'did:key:z6Mk', 'methodNotSupported')
    """
    close: Callable[[], Awaitable[None]] | None = None
    if resolver is None:
        resolver, close = _default_resolver(settings, cache)
    chosen: Resolver | AsyncResolver = resolver
    openapi = json.dumps(_openapi(chosen.methods)).encode()
    # Rendered JSON of results the resolver's cache returned, by the result's identity:
    # the same cached object renders to the same bytes, and a new result is a new key.
    bodies: OrderedDict[tuple[int, Representation], tuple[ResolutionResult, bytes]] = OrderedDict()

    async def resolve(identifier: str, options: dict[str, Any]) -> ResolutionResult:
        try:
            if isinstance(chosen, AsyncResolver):
                return await chosen.resolve(identifier, **options)
            return await run_in_threadpool(chosen.resolve, identifier, **options)
        except Exception as exc:  # a resolver's bug must not take the service down
            return ResolutionResult.failure("internalError", f"the resolver failed: {exc!r}")

    def render(result: ResolutionResult, representation: Representation) -> bytes:
        if result.error is not None or chosen.cache is None:
            return _render(result, representation)
        key = (id(result), representation)
        kept = bodies.get(key)
        if kept is not None and kept[0] is result:
            bodies.move_to_end(key)
            return kept[1]
        body = _render(result, representation)
        bodies[key] = (result, body)
        while len(bodies) > rendered:
            bodies.popitem(last=False)
        return body

    async def identifiers(request: Request) -> Response:
        accept = request.headers.get("accept")
        representation = negotiate(accept)
        if representation is None:
            failure = ResolutionResult.failure(
                "representationNotSupported",
                f"cannot represent a DID as {accept!r}; supported: "
                f"{RESULT_MEDIA_TYPE}, application/did+ld+json, application/did+json",
            )
            return Response(_render(failure, "result"), 406, media_type=RESULT_MEDIA_TYPE)
        fresh = "no-cache" in request.headers.get("cache-control", "").lower()
        result = await resolve(_identifier(request), {"noCache": True} if fresh else {})
        return Response(
            render(result, representation),
            status_of(result),
            media_type=_media_type(result, representation),
        )

    async def methods(request: Request) -> Response:
        return JSONResponse(list(chosen.methods))

    async def health(request: Request) -> Response:
        cached = None if chosen.cache is None else len(chosen.cache)
        return JSONResponse({"status": "ok", "version": __version__, "cached": cached})

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    async def not_found(request: Request, exc: Exception) -> Response:
        # Starlette's {identifier:path} stops at a line break, so an identifier with
        # a percent-encoded one (%0A) would get a bare text 404: it is an invalid DID,
        # and its answer a resolution result like any other's.
        if request.method == "GET" and request.url.path.startswith(_PREFIX):
            return await identifiers(request)
        detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
        return PlainTextResponse(detail, 404)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close is not None:
                await close()

    return Starlette(
        routes=[
            Route(_PREFIX + "{identifier:path}", identifiers, methods=["GET"]),
            Route("/1.0/methods", methods, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
