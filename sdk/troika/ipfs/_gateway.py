"""Verified reads from a trustless IPFS HTTP gateway, sync and async.

A trustless gateway (ipfs/specs, "Trustless Gateway") serves content as it is
stored: one block (``application/vnd.ipld.raw``) or a whole DAG as a CAR
(``application/vnd.ipld.car``). So nothing it says needs trusting: troika
re-hashes every block against its CID, and for a whole DAG also checks that
every block the root links to (through dag-pb links) is there. A gateway that
serves wrong, cut-short or incomplete data raises an error; nothing
unverified is ever returned.

``Gateway`` and ``AsyncGateway`` are thin twins over ``_GatewayBase``, which
does no I/O: it builds each request, verifies each answer and translates
httpx's exceptions in one place (``_translate_errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, TypeAlias

import httpx

from troika._closing import AsyncClosing, Closing
from troika._errors import (
    CARError,
    IncompleteDAG,
    IPFSRequestError,
    IPFSUnavailable,
    VerificationError,
)
from troika.ipfs._car import DEFAULT_MAX_BLOCK_SIZE, Block, read_car
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._dag import readable_links, walk_dag
from troika.ipfs._http import checked_http_url, http_timeout, tls_context, transport_failure
from troika.ipfs._kubo import DEFAULT_TIMEOUT

__all__ = ["DEFAULT_GATEWAY_URL", "AsyncGateway", "DAGScope", "Gateway"]

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080"
"""Where ``ipfs daemon`` serves its gateway unless configured otherwise."""

DAGScope: TypeAlias = Literal["all", "entity", "block"]
"""How much of a DAG :meth:`Gateway.get_car` asks for (the spec's ``dag-scope``)."""

_RAW = "application/vnd.ipld.raw"
_CAR = "application/vnd.ipld.car"
# Depth-first and without duplicates: the order in which the DAG is walked.
_CAR_ACCEPT = f"{_CAR}; version=1; order=dfs; dups=n"
_IDENTITY = 0x00
_SERVICE = "IPFS gateway"
_ADVICE = "check the gateway URL and that the gateway is up"


class _Body:
    """Collects an answer's bytes; with a ``limit``, refuses more (no I/O)."""

    def __init__(self, limit: int | None = None, overflow: Exception | None = None) -> None:
        self.limit = limit
        self.overflow = overflow
        self.size = 0
        self._chunks: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.overflow is not None and self.limit is not None and self.size > self.limit:
            raise self.overflow
        self._chunks.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(self._chunks)


class _GatewayBase:
    """What both gateways share; builds requests and verifies answers, no I/O."""

    def __init__(self, url: str, timeout: float | httpx.Timeout) -> None:
        self.url = checked_http_url(url, "gateway_url", "http://127.0.0.1:8080")
        self.timeout = http_timeout(timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def _source(self) -> str:
        return f"gateway {self.url!r}"

    # -- requests ------------------------------------------------------------

    def _request(self, cid: CID, accept: str, params: dict[str, str]) -> httpx.Request:
        return httpx.Request(
            "GET",
            f"{self.url}/ipfs/{cid}",
            params=params,
            headers={"Accept": accept},
            extensions={"timeout": self.timeout.as_dict()},
        )

    def _block_request(self, cid: CID) -> tuple[httpx.Request, _Body]:
        # No block is larger than the CAR reader's limit; a longer answer is a lie.
        limit = DEFAULT_MAX_BLOCK_SIZE
        overflow = VerificationError(
            cid, self._source, f"the answer is larger than {limit} bytes, which no block is"
        )
        return self._request(cid, _RAW, {"format": "raw"}), _Body(limit, overflow)

    def _car_request(self, cid: CID, scope: DAGScope) -> tuple[httpx.Request, _Body]:
        params = {"format": "car"}
        if scope != "all":
            params["dag-scope"] = scope
        return self._request(cid, _CAR_ACCEPT, params), _Body()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn httpx's exceptions and error answers into troika's IPFS errors."""
        try:
            yield
        except httpx.HTTPStatusError as exc:
            response = exc.response
            raise IPFSRequestError(
                str(exc.request.url),
                response.status_code,
                response.text.strip()[:500],
                call="IPFS gateway request",
            ) from exc
        except httpx.TransportError as exc:
            raise IPFSUnavailable(
                self.url, transport_failure(exc), service=_SERVICE, advice=_ADVICE
            ) from exc

    # -- answers -------------------------------------------------------------

    @staticmethod
    def _content_type(response: httpx.Response) -> str:
        kind: str = response.headers.get("Content-Type", "")
        return kind.split(";")[0].strip().lower()

    def _verify_block(self, cid: CID, response: httpx.Response, data: bytes) -> bytes:
        try:
            matches = cid.verify(data)
        except ValueError as exc:  # a hash function troika does not have
            raise VerificationError(cid, self._source, f"troika cannot check it ({exc})") from exc
        if not matches:
            kind = self._content_type(response)
            hint = (
                ""
                if kind == _RAW
                else f" (it answered with Content-Type {kind!r}, not {_RAW}: is it a trustless "
                "gateway?)"
            )
            raise VerificationError(
                cid,
                self._source,
                f"its bytes do not hash to the CID (corrupted or tampered with){hint}",
            )
        return data

    def _verify_car(
        self, cid: CID, scope: DAGScope, response: httpx.Response, data: bytes
    ) -> list[Block]:
        kind = self._content_type(response)
        if kind != _CAR:
            raise VerificationError(
                cid,
                self._source,
                f"it answered with Content-Type {kind!r}, not {_CAR}: is it a trustless gateway?",
            )
        blocks: dict[CID, bytes] = {}
        try:
            for block in read_car(data):
                blocks.setdefault(block.cid, block.data)
        except CARError as exc:  # a block that does not hash to its CID, or a broken CAR
            raise VerificationError(
                cid if exc.cid is None else exc.cid, self._source, str(exc)
            ) from exc

        def visit(node: CID) -> tuple[CID, ...]:
            if node.multihash.code == _IDENTITY:
                return readable_links(node, node.multihash.digest)  # the CID holds the block
            if node not in blocks:
                raise IncompleteDAG(cid, node, f"the CAR from {self._source}")
            return readable_links(node, blocks[node]) if scope == "all" else ()

        walk_dag([cid], visit)
        return [Block(block_cid, block) for block_cid, block in blocks.items()]


class Gateway(_GatewayBase, Closing):
    """Verified reads from a trustless IPFS HTTP gateway.

    Args:
        url: The gateway's root URL (without ``/ipfs``).
        client: The httpx client to send requests with; one is created (and
            closed by :meth:`close`) if not given. An injected client is never
            closed by troika.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may
            take; it applies to an injected client too.

    Raises:
        ConfigError: ``url`` is not an http(s) URL.

    Example:
        In the examples, ``gateway_url`` is a node's gateway, such as
        ``"http://127.0.0.1:8080"``, and ``ipfs`` a client of the same node.

        >>> cid = ipfs.add(b"hello\\n", cid_version=1)
        >>> with Gateway(gateway_url) as gateway:
        ...     gateway.get_block(cid)
        b'hello\\n'
    """

    def __init__(
        self,
        url: str = DEFAULT_GATEWAY_URL,
        *,
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(url, timeout)
        self._owns_client = client is None
        self._client = httpx.Client(verify=tls_context()) if client is None else client

    def _fetch(self, request: httpx.Request, body: _Body) -> httpx.Response:
        with self._translate_errors():
            response = self._client.send(request, stream=True)
            try:
                if response.is_error:
                    response.read()
                    response.raise_for_status()
                for chunk in response.iter_bytes():
                    body.add(chunk)
            finally:
                response.close()
        return response

    def get_block(self, cid: CIDLike) -> bytes:
        """One block, as stored (``GET /ipfs/{cid}?format=raw``), verified against its CID.

        For a file of one raw block (a small file added with raw leaves) the
        block is the file's content; for a dag-pb node it is the encoded node.

        Args:
            cid: The block's CID.

        Returns:
            The block's bytes, which hash to ``cid``.

        Raises:
            InvalidCID: ``cid`` is not a CID.
            VerificationError: The gateway served bytes that do not hash to ``cid``.
            IPFSRequestError: The gateway refused (say, HTTP 404 or 504: it could
                not find the block).
            IPFSUnavailable: Nothing answers at ``url``, or not in time.

        Example:
            >>> gateway = Gateway(gateway_url)
            >>> gateway.get_block("bafkqaaa")  # the empty identity CID
            b''
            >>> gateway.close()
        """
        cid = CID.parse(cid)
        request, body = self._block_request(cid)
        response = self._fetch(request, body)
        return self._verify_block(cid, response, body.data)

    def get_car(self, cid: CIDLike, *, scope: DAGScope = "all") -> list[Block]:
        """A DAG's blocks, fetched as a CAR (``GET /ipfs/{cid}?format=car``), every one verified.

        Every block is re-hashed against its CID as the CAR is read. With
        ``scope="all"`` the DAG is also checked to be complete: each block that
        the root links to, directly or not, is there (links are followed in
        dag-pb blocks; raw blocks have none).

        Args:
            cid: The DAG's root.
            scope: ``"all"`` for the whole DAG, ``"entity"`` for what the
                root's own entity needs (a file's blocks, a directory's node),
                ``"block"`` for the root block alone.

        Returns:
            The blocks, in the order the CAR lists them (the root first), each
            once.

        Raises:
            InvalidCID: ``cid`` is not a CID.
            VerificationError: The gateway served a block that does not hash to
                its CID, or a CAR that is cut short or malformed.
            IncompleteDAG: A block under the root is missing from the CAR.
            IPFSRequestError: The gateway refused (say, HTTP 404 or 504).
            IPFSUnavailable: Nothing answers at ``url``, or not in time.

        Example:
            >>> cid = ipfs.add(bytes(300_000))  # two chunks under one dag-pb root
            >>> with Gateway(gateway_url) as gateway:
            ...     blocks = gateway.get_car(cid)
            >>> str(blocks[0].cid) == cid, len(blocks)
            (True, 3)
        """
        cid = CID.parse(cid)
        request, body = self._car_request(cid, scope)
        response = self._fetch(request, body)
        return self._verify_car(cid, scope, response, body.data)

    def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> Gateway(gateway_url).close()
        """
        if self._owns_client:
            self._client.close()


class AsyncGateway(_GatewayBase, AsyncClosing):
    """The async twin of :class:`Gateway`: the same methods, awaited.

    Args:
        url: The gateway's root URL (without ``/ipfs``).
        client: The ``httpx.AsyncClient`` to send requests with; one is created
            (and closed by :meth:`close`) if not given.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may take.

    Raises:
        ConfigError: ``url`` is not an http(s) URL.

    Example:
        >>> async def fetch(cid: str) -> bytes:
        ...     async with AsyncGateway(gateway_url) as gateway:
        ...         return await gateway.get_block(cid)
        >>> asyncio.run(fetch(ipfs.add(b"hello\\n", cid_version=1)))
        b'hello\\n'
    """

    def __init__(
        self,
        url: str = DEFAULT_GATEWAY_URL,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(url, timeout)
        self._owns_client = client is None
        self._client = httpx.AsyncClient(verify=tls_context()) if client is None else client

    async def _fetch(self, request: httpx.Request, body: _Body) -> httpx.Response:
        with self._translate_errors():
            response = await self._client.send(request, stream=True)
            try:
                if response.is_error:
                    await response.aread()
                    response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    body.add(chunk)
            finally:
                await response.aclose()
        return response

    async def get_block(self, cid: CIDLike) -> bytes:
        """One block, verified against its CID; see :meth:`Gateway.get_block`.

        Example:
            >>> async def empty() -> bytes:
            ...     async with AsyncGateway(gateway_url) as gateway:
            ...         return await gateway.get_block("bafkqaaa")
            >>> asyncio.run(empty())
            b''
        """
        cid = CID.parse(cid)
        request, body = self._block_request(cid)
        response = await self._fetch(request, body)
        return self._verify_block(cid, response, body.data)

    async def get_car(self, cid: CIDLike, *, scope: DAGScope = "all") -> list[Block]:
        """A DAG's blocks as a CAR, every one verified; see :meth:`Gateway.get_car`.

        Example:
            >>> async def fetch(cid: str) -> int:
            ...     async with AsyncGateway(gateway_url) as gateway:
            ...         return len(await gateway.get_car(cid))
            >>> asyncio.run(fetch(ipfs.add(b"one block\\n", cid_version=1)))
            1
        """
        cid = CID.parse(cid)
        request, body = self._car_request(cid, scope)
        response = await self._fetch(request, body)
        return self._verify_car(cid, scope, response, body.data)

    async def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> asyncio.run(AsyncGateway(gateway_url).close())
        """
        if self._owns_client:
            await self._client.aclose()
