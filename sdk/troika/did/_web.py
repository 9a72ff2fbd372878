"""did:web (W3C CCG did:web Method Specification): a DID document served over HTTPS.

The pure core maps a DID to its URL (:func:`web_url`) and checks what the host
served (:func:`web_document`); :class:`WebResolver` and :class:`AsyncWebResolver`
are thin twins that fetch with httpx (the client injectable). Every failure is a
:class:`DIDResolutionError` with the DID Resolution error code, which the
resolver turns into a result: ``invalidDid`` (not a did:web), ``notFound``
(404 or 410), ``invalidDidDocument`` (not JSON, not a DID document, a document
for another DID, larger than ``max_bytes``) and ``internalError`` (the host
cannot be reached, times out, or answers with another status).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pydantic

from troika._closing import AsyncClosing, Closing
from troika._errors import DIDNotFound, DIDResolutionError, InvalidDID
from troika.did._did import DID, DIDLike
from troika.did._document import DIDDocument, ResolutionResult

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "AsyncWebResolver",
    "WebResolver",
    "web_document",
    "web_url",
]

#: The largest did.json the resolvers read (bytes); a larger one is ``invalidDidDocument``.
MAX_DOCUMENT_BYTES = 1_000_000
_TIMEOUT = 10.0
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=@-]|%[0-9A-Fa-f]{2})+")
_ACCEPT = "application/did+json, application/did+ld+json;q=0.9, application/json;q=0.8"


def web_url(did: DIDLike, *, scheme: str = "https") -> str:
    """The URL of a did:web DID's document (the method specification's Read steps).

    ``:`` separates path segments; a port is percent-encoded (``%3A``); without
    a path the document is at ``/.well-known/did.json``, else at ``<path>/did.json``.

    Args:
        did: a did:web DID.
        scheme: ``https``, as the specification requires; ``http`` only for
            tests and local development.

    Raises:
        InvalidDID: not a did:web DID, or an IP address, a bad host name or port.

    Example:
        >>> web_url("did:web:w3c-ccg.github.io")
        'https://w3c-ccg.github.io/.well-known/did.json'
        >>> web_url("did:web:w3c-ccg.github.io:user:alice")
        'https://w3c-ccg.github.io/user/alice/did.json'
        >>> web_url("did:web:example.com%3A3000:user:alice")
        'https://example.com:3000/user/alice/did.json'
        >>> web_url("did:web:127.0.0.1")
        Traceback (most recent call last):
        ...
        troika._errors.InvalidDID: invalid DID 'did:web:127.0.0.1': a did:web names its host by domain name, never by IP address
    """  # noqa: E501
    parsed = DID.parse(did)
    shown = str(parsed)
    if parsed.method != "web":
        raise InvalidDID(shown, "not a did:web DID")
    if scheme not in ("https", "http"):
        raise ValueError(f"did:web is fetched over https (or http for tests), not {scheme!r}")
    host, *path = parsed.method_specific_id.split(":")
    name, _, port = re.sub("%3[Aa]", ":", host).partition(":")
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        raise InvalidDID(shown, "a did:web names its host by domain name, never by IP address")
    if "%" in name or len(name) > 253 or not all(_LABEL.fullmatch(x) for x in name.split(".")):
        raise InvalidDID(shown, f"{name!r} is not a domain name")
    if port and not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        raise InvalidDID(shown, f"{port!r} is not a port number")
    for segment in path:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidDID(shown, f"{segment!r} is not a path segment")
    authority = f"{name.lower()}:{int(port)}" if port else name.lower()
    where = "/".join(path) if path else ".well-known"
    return f"{scheme}://{authority}/{where}/did.json"


def web_document(did: DIDLike, body: bytes) -> DIDDocument:
    """The DID document in ``body``, served for ``did``; checked, with no I/O.

    Raises:
        DIDResolutionError: ``invalidDidDocument``: not JSON, not a DID
            document, or the document of another DID.

    Example:
        >>> doc = web_document("did:web:example.com", b'{"id": "did:web:example.com"}')
        >>> doc.id
        'did:web:example.com'
        >>> web_document("did:web:example.com", b'{"id": "did:web:other.example"}')
        Traceback (most recent call last):
        ...
        troika._errors.DIDResolutionError: cannot resolve 'did:web:example.com': invalidDidDocument (the host served the document of 'did:web:other.example')
    """  # noqa: E501
    shown = str(DID.parse(did))
    try:
        document = DIDDocument.from_json(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise DIDResolutionError(
            shown,
            "invalidDidDocument",
            f"the host served no DID document: {where}: {first['msg']}",
        ) from exc
    if document.id != shown:
        raise DIDResolutionError(
            shown, "invalidDidDocument", f"the host served the document of {document.id!r}"
        )
    return document


class _WebResolverCore:
    """Settings and the I/O-free steps the two resolvers share."""

    def __init__(self, *, scheme: str, timeout: float, max_bytes: int) -> None:
        if scheme not in ("https", "http"):
            raise ValueError(f"did:web is fetched over https (or http for tests), not {scheme!r}")
        if not timeout > 0 or not max_bytes > 0:
            raise ValueError("timeout and max_bytes are above 0")
        self.scheme = scheme
        self.timeout = float(timeout)
        self.max_bytes = max_bytes

    def _request(self, did: DID, options: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        headers = {"Accept": _ACCEPT}
        if options.get("noCache") in (True, "true") or options.get("no-cache") in (True, "true"):
            headers["Cache-Control"] = "no-cache"
        return web_url(did, scheme=self.scheme), headers

    def _check_status(self, did: str, url: str, response: httpx.Response) -> None:
        if response.status_code in (404, 410):
            raise DIDNotFound(did, f"{url} answered {response.status_code}")
        if response.status_code != 200:
            raise DIDResolutionError(
                did, "internalError", f"{url} answered {response.status_code}, not 200"
            )
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise self._too_large(did, url)

    def _too_large(self, did: str, url: str) -> DIDResolutionError:
        return DIDResolutionError(
            did, "invalidDidDocument", f"{url} served more than {self.max_bytes} bytes"
        )

    @staticmethod
    def _result(did: DID, body: bytes) -> ResolutionResult:
        return ResolutionResult.success(web_document(did, body))


@contextlib.contextmanager
def _http_failures(did: str, url: str) -> Iterator[None]:
    # The one place httpx's exceptions become troika's.
    try:
        yield
    except httpx.TimeoutException as exc:
        raise DIDResolutionError(did, "internalError", f"{url} timed out") from exc
    except httpx.HTTPError as exc:
        raise DIDResolutionError(did, "internalError", f"cannot fetch {url}: {exc}") from exc


class WebResolver(_WebResolverCore, Closing):
    """Resolves did:web over HTTPS; a method resolver for :class:`~troika.did.Resolver`.

    Args:
        client: the httpx client to fetch with; one of its own (closed by
            :meth:`close`) if None.
        scheme: ``https``; ``http`` for tests and local development only.
        timeout: seconds for each phase of one fetch (connect, each read).
        max_bytes: the largest document it reads.

    Example:
        >>> import httpx
        >>> from troika.did import Resolver
        >>> served = b'{"@context": "https://www.w3.org/ns/did/v1", "id": "did:web:example.com"}'
        >>> transport = httpx.MockTransport(lambda request: httpx.Response(200, content=served))
        >>> resolver = Resolver()
        >>> resolver.register("web", WebResolver(httpx.Client(transport=transport)))
        >>> resolver.resolve("did:web:example.com").did_document.id
        'did:web:example.com'
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        scheme: str = "https",
        timeout: float = _TIMEOUT,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        super().__init__(scheme=scheme, timeout=timeout, max_bytes=max_bytes)
        self._owned = client is None
        self.client = client if client is not None else httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        """Close the client the resolver made (not one it was given)."""
        if self._owned:
            self.client.close()

    def __call__(self, did: DID, options: Mapping[str, Any]) -> ResolutionResult:
        """Fetch and check the document of ``did`` (a :data:`MethodResolver`).

        Raises:
            InvalidDID: not a did:web DID.
            DIDNotFound: the host answered 404 or 410.
            DIDResolutionError: ``invalidDidDocument`` or ``internalError``.
        """
        url, headers = self._request(did, options)
        shown = str(did)
        body = bytearray()
        with (
            _http_failures(shown, url),
            self.client.stream("GET", url, headers=headers, timeout=self.timeout) as response,
        ):
            self._check_status(shown, url, response)
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise self._too_large(shown, url)
        return self._result(did, bytes(body))


class AsyncWebResolver(_WebResolverCore, AsyncClosing):
    """The asyncio twin of :class:`WebResolver`, over an :class:`httpx.AsyncClient`.

    Example:
        >>> import asyncio, httpx
        >>> from troika.did import AsyncResolver
        >>> transport = httpx.MockTransport(lambda request: httpx.Response(404))
        >>> async def main() -> str | None:
        ...     async with AsyncWebResolver(httpx.AsyncClient(transport=transport)) as web:
        ...         resolver = AsyncResolver()
        ...         resolver.register("web", web)
        ...         return (await resolver.resolve("did:web:example.com")).error
        >>> asyncio.run(main())
        'notFound'
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        scheme: str = "https",
        timeout: float = _TIMEOUT,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        super().__init__(scheme=scheme, timeout=timeout, max_bytes=max_bytes)
        self._owned = client is None
        self.client = client if client is not None else httpx.AsyncClient(timeout=self.timeout)

    async def close(self) -> None:
        """Close the client the resolver made (not one it was given)."""
        if self._owned:
            await self.client.aclose()

    async def __call__(self, did: DID, options: Mapping[str, Any]) -> ResolutionResult:
        """Fetch and check the document of ``did`` (see :meth:`WebResolver.__call__`)."""
        url, headers = self._request(did, options)
        shown = str(did)
        body = bytearray()
        with _http_failures(shown, url):
            async with self.client.stream(
                "GET", url, headers=headers, timeout=self.timeout
            ) as response:
                self._check_status(shown, url, response)
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise self._too_large(shown, url)
        return self._result(did, bytes(body))
