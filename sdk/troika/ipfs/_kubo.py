"""A small typed client for Kubo's RPC API (``/api/v0``), sync and async.

Why not ``ipfshttpclient``: its version check refuses every Kubo since 0.8.0
(``VERSION_MAXIMUM = "0.8.0"`` raises ``VersionMismatch`` on connect), and the
project has been unmaintained since its last pre-release (0.8.0a2) in 2021.
The handful of calls troika needs are plain HTTP, so they are written here over
httpx.

``KuboClient`` and ``AsyncKuboClient`` are thin twins over ``_KuboBase``, which
does no I/O: it builds each request and parses each answer, and translates
httpx's exceptions into troika's in one place (``_translate_errors``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from troika._closing import AsyncClosing, Closing
from troika._errors import (
    CARError,
    IPFSRequestError,
    IPFSUnavailable,
    KuboAPIError,
)
from troika._json import loads
from troika.ipfs._car import read_car
from troika.ipfs._cid import CID
from troika.ipfs._dag import readable_links, walk_dag
from troika.ipfs._http import checked_http_url, http_timeout, tls_context, transport_failure

__all__ = ["DEFAULT_API_URL", "DEFAULT_TIMEOUT", "AsyncKuboClient", "KuboClient"]

DEFAULT_API_URL = "http://127.0.0.1:5001"
"""Where ``ipfs daemon`` serves its RPC API unless configured otherwise."""

DEFAULT_TIMEOUT = 30.0
"""Seconds any one network step (connect, send, wait for an answer) may take."""

# How much longer than Kubo's own deadline we wait, so that Kubo's error answer
# (which names the cause) arrives before our transport gives up.
_DEADLINE_SLACK = 5.0


@dataclass(frozen=True)
class _Call:
    """One RPC call, ready to send: the command, its query and an optional upload."""

    command: str
    params: tuple[tuple[str, str], ...] = ()
    upload: bytes | None = None
    deadline: float | None = None
    # An upload streamed as it is produced (the file part of a multipart body).
    stream: Iterable[bytes] | AsyncIterable[bytes] | None = None
    # The streamed file's size, if known: the body then goes with a
    # Content-Length, each piece written as it is (chunked encoding copies it).
    length: int | None = None


# Kubo reads the first file part of a multipart body; a streamed upload frames
# itself, so its length need not be known in advance.
_BOUNDARY = "troika-stream-5f0c2a9e1d7b4c36"
_PART_HEAD = (
    f"--{_BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="data"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()
_PART_TAIL = f"\r\n--{_BOUNDARY}--\r\n".encode()


def _framed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield _PART_HEAD
    yield from chunks
    yield _PART_TAIL


async def _aframed(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    yield _PART_HEAD
    async for chunk in chunks:
        yield chunk
    yield _PART_TAIL


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _ipfs_path(cid: str) -> str:
    # An explicit /ipfs/ path makes Kubo report a malformed CID as such,
    # rather than as "path does not have enough components".
    return cid if cid.startswith("/") else f"/ipfs/{cid}"


def _error_message(response: httpx.Response) -> tuple[str, int | None]:
    """Kubo's own words for an error answer: the ``Message`` and ``Code`` of its JSON body."""
    text = response.text
    try:
        body = loads(text)  # troika._json: nesting bounded
    except ValueError:
        return text.strip(), None
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        code = body.get("Code")
        return str(body["Message"]), code if isinstance(code, int) else None
    return text.strip(), None


class _KuboBase:
    """What both clients share; builds requests and parses answers, no I/O."""

    def __init__(self, api_url: str, timeout: float | httpx.Timeout) -> None:
        self.api_url = checked_http_url(api_url, "api_url", "http://127.0.0.1:5001")
        self.timeout = http_timeout(timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.api_url!r})"

    # -- requests ------------------------------------------------------------

    def _request(self, call: _Call) -> httpx.Request:
        timeout, params = self.timeout, call.params
        if call.deadline is not None:
            # Kubo reads a Go duration; whole milliseconds never print as 1e-05.
            params = (*params, ("timeout", f"{round(call.deadline * 1000)}ms"))
            wait = call.deadline + _DEADLINE_SLACK
            if timeout.read is not None and timeout.read < wait:
                timeout = httpx.Timeout(
                    connect=timeout.connect, read=wait, write=timeout.write, pool=timeout.pool
                )
        files = None
        if call.upload is not None:
            files = {"file": ("data", call.upload, "application/octet-stream")}
        content: Iterator[bytes] | AsyncIterator[bytes] | None = None
        headers = {}
        if call.stream is not None:
            content = (
                _aframed(call.stream)
                if isinstance(call.stream, AsyncIterable)
                else _framed(call.stream)
            )
            headers["Content-Type"] = f"multipart/form-data; boundary={_BOUNDARY}"
            if call.length is not None:
                headers["Content-Length"] = str(len(_PART_HEAD) + call.length + len(_PART_TAIL))
        # The RPC API accepts POST only; the timeout goes on the request so that it
        # holds for an injected client too.
        return httpx.Request(
            "POST",
            f"{self.api_url}/api/v0/{call.command}",
            params=params,
            files=files,
            content=content,
            headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn httpx's exceptions and error answers into troika's IPFS errors."""
        try:
            yield
        except httpx.HTTPStatusError as exc:
            response = exc.response
            message, code = _error_message(response)
            raise KuboAPIError(
                str(exc.request.url), response.status_code, message, code=code
            ) from exc
        except httpx.TransportError as exc:
            raise IPFSUnavailable(self.api_url, transport_failure(exc)) from exc

    @staticmethod
    def _version_call() -> _Call:
        return _Call("version")

    @staticmethod
    def _add_call(data: bytes, pin: bool, cid_version: int, raw_leaves: bool | None) -> _Call:
        params = [("pin", _flag(pin)), ("cid-version", str(cid_version))]
        if raw_leaves is not None:
            params.append(("raw-leaves", _flag(raw_leaves)))
        return _Call("add", tuple(params), upload=data)

    @staticmethod
    def _add_stream_call(
        content: Iterable[bytes] | AsyncIterable[bytes],
        *,
        length: int | None = None,
        cid_version: int,
        raw_leaves: bool,
        chunk_size: int,
        max_links: int,
    ) -> _Call:
        # Every option is explicit, so the node's own Import.* configuration
        # cannot change the DAG; progress off leaves one answer line, the root.
        params = (
            ("cid-version", str(cid_version)),
            ("raw-leaves", _flag(raw_leaves)),
            ("chunker", f"size-{chunk_size}"),
            ("max-file-links", str(max_links)),
            ("hash", "sha2-256"),
            ("trickle", "false"),
            ("inline", "false"),
            ("pin", "true"),
            ("quieter", "true"),
            ("progress", "false"),
        )
        return _Call("add", params, stream=content, length=length)

    @staticmethod
    def _cat_call(cid: str, timeout: float | None) -> _Call:
        return _Call("cat", (("arg", _ipfs_path(cid)),), deadline=timeout)

    @staticmethod
    def _pin_add_call(cid: str, timeout: float | None = None) -> _Call:
        return _Call("pin/add", (("arg", _ipfs_path(cid)),), deadline=timeout)

    @staticmethod
    def _dag_import_stream_call(car: Iterable[bytes] | AsyncIterable[bytes]) -> _Call:
        params = (("pin-roots", "false"), ("stats", "true"))
        return _Call("dag/import", params, stream=car)

    def _parse_import_stats(self, response: httpx.Response) -> int:
        for line in response.text.splitlines():
            stats = self._json_object(line, response).get("Stats") if line.strip() else None
            if isinstance(stats, dict) and isinstance(stats.get("BlockCount"), int):
                return int(stats["BlockCount"])
        # Kubo reports a failure after the headers only in a trailer (see _parse_add).
        raise IPFSRequestError(
            str(response.request.url),
            response.status_code,
            "Kubo answered without its import statistics (the import failed)",
        )

    @staticmethod
    def _pin_rm_call(cid: str) -> _Call:
        return _Call("pin/rm", (("arg", _ipfs_path(cid)),))

    @staticmethod
    def _pins_call() -> _Call:
        return _Call("pin/ls", (("type", "recursive"),))

    @staticmethod
    def _block_get_call(cid: str, timeout: float | None) -> _Call:
        return _Call("block/get", (("arg", cid),), deadline=timeout)

    @staticmethod
    def _dag_export_call(cid: str, timeout: float | None) -> _Call:
        return _Call("dag/export", (("arg", _ipfs_path(cid)),), deadline=timeout)

    @staticmethod
    def _dag_import_call(car: bytes, pin_roots: bool) -> tuple[_Call, tuple[CID, ...]]:
        # The roots come from the CAR itself: Kubo names them only when it pins
        # them, and it answers an empty upload with success.
        roots = read_car(car).roots
        return _Call("dag/import", (("pin-roots", _flag(pin_roots)),), upload=car), roots

    # -- answers -------------------------------------------------------------

    def _not_kubo(self, response: httpx.Response, what: str) -> IPFSUnavailable:
        return IPFSUnavailable(
            self.api_url,
            f"{response.request.url} answered {what}: {response.text[:200]!r}",
        )

    def _json_object(self, line: str, response: httpx.Response) -> dict[str, object]:
        try:
            body = loads(line)  # troika._json: nesting bounded
        except ValueError:
            raise self._not_kubo(response, "with something other than Kubo's JSON") from None
        if not isinstance(body, dict):
            raise self._not_kubo(response, "with JSON that is not an object")
        return body

    def _parse_version(self, response: httpx.Response) -> str:
        version = self._json_object(response.text, response).get("Version")
        if not isinstance(version, str):
            raise self._not_kubo(response, "without a Version")
        return version

    def _parse_add(self, response: httpx.Response) -> str:
        # One JSON object per added file, one per line; we add exactly one file.
        cids = [
            self._json_object(line, response).get("Hash")
            for line in response.text.splitlines()
            if line.strip()
        ]
        if not cids:
            # Kubo reports a failure after the headers only in a trailer, which
            # httpx does not expose; an empty answer is all we see of it.
            raise IPFSRequestError(
                str(response.request.url),
                response.status_code,
                "Kubo answered without the CID of the added data (the add failed)",
            )
        cid = cids[-1]
        if not isinstance(cid, str):
            raise self._not_kubo(response, "without a Hash")
        return cid

    @staticmethod
    def _parse_cat(response: httpx.Response) -> bytes:
        data = response.content
        expected = response.headers.get("X-Content-Length")
        # A failure mid-stream shows up only as a short body (see _parse_add).
        if expected is not None and expected.isdigit() and len(data) != int(expected):
            raise IPFSRequestError(
                str(response.request.url),
                response.status_code,
                f"the content was cut short: got {len(data)} of {int(expected)} bytes",
            )
        return data

    @staticmethod
    def _parse_dag_export(response: httpx.Response) -> bytes:
        # A failure after the first bytes (a block Kubo cannot find in time) only
        # ends the body early, at a section boundary; so check that the CAR holds
        # every block of its DAG, each verified.
        car = response.content
        url, status = str(response.request.url), response.status_code
        try:
            reader = read_car(car)
            blocks = {bytes(block.cid.multihash): block.data for block in reader}
        except CARError as exc:
            raise IPFSRequestError(url, status, f"the CAR is cut short or damaged: {exc}") from exc

        def visit(cid: CID) -> tuple[CID, ...]:
            block = blocks.get(bytes(cid.multihash))
            if block is None:
                raise IPFSRequestError(
                    url, status, f"the CAR is cut short: it lacks block {str(cid)!r} of the DAG"
                )
            return readable_links(cid, block)  # links troika cannot read, it cannot check

        walk_dag(reader.roots, visit)
        return car

    def _parse_dag_import(
        self, response: httpx.Response, roots: tuple[CID, ...], pin_roots: bool
    ) -> list[str]:
        url, status = str(response.request.url), response.status_code
        pin_errors: dict[CID, str] = {}
        for line in response.text.splitlines():
            if not line.strip():
                continue
            root = self._json_object(line, response).get("Root")
            if root is None:
                continue  # the Stats line
            cid = root.get("Cid") if isinstance(root, dict) else None
            text = cid.get("/") if isinstance(cid, dict) else None
            message = root.get("PinErrorMsg", "") if isinstance(root, dict) else None
            if not isinstance(text, str) or not isinstance(message, str):
                raise self._not_kubo(response, "with a Root that is not a CID and a message")
            pin_errors[CID.parse(text)] = message
        for root_cid in roots if pin_roots else ():
            if root_cid not in pin_errors:
                raise IPFSRequestError(
                    url, status, f"Kubo did not report pinning root {str(root_cid)!r}"
                )
            if pin_errors[root_cid]:
                raise IPFSRequestError(
                    url,
                    status,
                    f"Kubo stored the blocks but could not pin root {str(root_cid)!r}: "
                    f"{pin_errors[root_cid]}",
                )
        return [str(root_cid) for root_cid in roots]

    def _parse_pins(self, response: httpx.Response) -> set[str]:
        keys = self._json_object(response.text, response).get("Keys")
        if keys is None:
            return set()
        if not isinstance(keys, dict):
            raise self._not_kubo(response, "with Keys that are not an object")
        return {str(cid) for cid in keys}


class KuboClient(_KuboBase, Closing):
    """A client for a Kubo node's RPC API.

    Args:
        api_url: The RPC API's root URL, without ``/api/v0``.
        client: The httpx client to send requests with; one is created (and
            closed by :meth:`close`) if not given. An injected client is never
            closed by troika.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may
            take; it applies to an injected client too.

    Raises:
        ConfigError: ``api_url`` is not an http(s) URL.

    Example:
        In the examples, ``api_url`` is a node's RPC API such as
        ``"http://127.0.0.1:5001"`` and ``ipfs`` is a ``KuboClient(api_url)``.

        >>> with KuboClient(api_url) as ipfs:
        ...     ipfs.cat(ipfs.add(b"hello\\n"))
        b'hello\\n'
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(api_url, timeout)
        self._owns_client = client is None
        self._client = httpx.Client(verify=tls_context()) if client is None else client

    def _send(self, call: _Call) -> httpx.Response:
        request = self._request(call)
        with self._translate_errors():
            response = self._client.send(request)
            response.raise_for_status()
        return response

    def version(self) -> str:
        """The version of Kubo serving the API.

        Returns:
            The version number, such as ``"0.43.1"``.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.

        Example:
            >>> ipfs.version()  # doctest: +ELLIPSIS
            '0...'
        """
        return self._parse_version(self._send(self._version_call()))

    def add(
        self,
        data: bytes,
        *,
        pin: bool = True,
        cid_version: int = 0,
        raw_leaves: bool | None = None,
    ) -> str:
        """Store bytes on the node as a UnixFS file.

        Args:
            data: The file's content.
            pin: Pin it, so the node's garbage collector keeps it.
            cid_version: 0 for ``Qm...`` CIDs, 1 for ``bafy...``/``bafk...``.
            raw_leaves: Store leaf blocks as raw bytes; None keeps Kubo's default
                (on for CIDv1, off for CIDv0).

        Returns:
            The CID Kubo reports for the file's root.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the call (say, an unknown CID version).

        Example:
            >>> ipfs.add(b"hello\\n")
            'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
            >>> ipfs.add(b"hello\\n", cid_version=1)
            'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
        """
        call = self._add_call(data, pin, cid_version, raw_leaves)
        return self._parse_add(self._send(call))

    def cat(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The content of a UnixFS file.

        Kubo looks for content it lacks on the network until it finds it; on a
        node that cannot find it that is forever, so pass ``timeout``.

        Args:
            cid: The file's CID, or an IPFS path such as ``/ipfs/<cid>/name``.
            timeout: Seconds Kubo may spend finding the content before it gives up
                and answers with an error; None waits as long as the client's own
                timeout allows.

        Returns:
            The file's bytes.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``, or it did not
                answer in time.
            IPFSRequestError: Kubo refused the call: a malformed CID, not a file,
                or not found within ``timeout``.

        Example:
            >>> cid = ipfs.add(b"hello\\n")
            >>> ipfs.cat(cid, timeout=10)
            b'hello\\n'
        """
        return self._parse_cat(self._send(self._cat_call(cid, timeout)))

    def pin_add(self, cid: str, *, timeout: float | None = None) -> None:
        """Pin content recursively, so the node keeps it (fetching it if needed).

        Args:
            cid: The CID to pin.
            timeout: Seconds Kubo may spend fetching missing blocks before it
                gives up; None waits as long as the client's own timeout allows.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the call (say, a malformed CID).

        Example:
            >>> cid = ipfs.add(b"keep me\\n", pin=False)
            >>> ipfs.pin_add(cid)
            >>> cid in ipfs.pins()
            True
        """
        self._send(self._pin_add_call(cid, timeout))

    def pin_rm(self, cid: str) -> None:
        """Remove a recursive pin; the garbage collector may then drop the content.

        Args:
            cid: The pinned CID.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the call (say, the CID is not pinned).

        Example:
            >>> cid = ipfs.add(b"let me go\\n")
            >>> ipfs.pin_rm(cid)
            >>> cid in ipfs.pins()
            False
        """
        self._send(self._pin_rm_call(cid))

    def pins(self) -> set[str]:
        """The CIDs pinned recursively on the node.

        Returns:
            The CIDs as Kubo prints them.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.

        Example:
            >>> cid = ipfs.add(b"hello\\n")
            >>> cid in ipfs.pins()
            True
        """
        return self._parse_pins(self._send(self._pins_call()))

    def block_get(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The raw bytes of one block (``ipfs block get``), as the node has them.

        The bytes are not checked against the CID here; the exporter
        (``troika.ipfs.export_file``) and the stores verify every block they read.

        Args:
            cid: The block's CID.
            timeout: Seconds Kubo may spend finding a block it lacks before it
                answers with an error; None waits as long as the client's own
                timeout allows.

        Returns:
            The block's bytes.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the call: a malformed CID, or the block
                not found within ``timeout``.

        Example:
            >>> ipfs.block_get(ipfs.add(b"hello\\n", cid_version=1))
            b'hello\\n'
        """
        return self._send(self._block_get_call(cid, timeout)).content

    def dag_export(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The DAG under ``cid`` as a CARv1 (``ipfs dag export``).

        Kubo reports a failure after the first bytes only in an HTTP trailer,
        which never reaches the client; so the CAR is read back here: every block
        is verified and every dag-pb link must lead to a block in the CAR.

        Args:
            cid: The DAG's root CID (or an IPFS path).
            timeout: Seconds Kubo may spend finding missing blocks before it gives
                up; None waits as long as the client's own timeout allows.

        Returns:
            The CAR's bytes, as Kubo wrote them.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the call (a malformed CID, content not
                found in time), or the CAR it sent is cut short or damaged.

        Example:
            >>> from troika.ipfs import read_car
            >>> car = read_car(ipfs.dag_export(ipfs.add(b"hello\\n")))
            >>> [str(root) for root in car.roots], [block.data[-8:] for block in car]
            (['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'], [b'hello\\n\\x18\\x06'])
        """
        return self._parse_dag_export(self._send(self._dag_export_call(cid, timeout)))

    def dag_import(self, car: bytes, *, pin_roots: bool = True) -> list[str]:
        """Store the blocks of a CAR on the node (``ipfs dag import``).

        Args:
            car: A CARv1 or CARv2.
            pin_roots: Pin each root recursively; the call fails unless Kubo
                reports every root pinned (so a partial DAG is never taken for
                a pinned one).

        Returns:
            The CAR's roots.

        Raises:
            CARError: ``car`` is not a CAR (nothing is sent).
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``.
            IPFSRequestError: Kubo refused the CAR, or could not pin a root (say,
                its DAG is not complete in the CAR or on the node).

        Example:
            >>> car = ipfs.dag_export(ipfs.add(b"hello\\n", pin=False))
            >>> ipfs.dag_import(car)
            ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN']
        """
        call, roots = self._dag_import_call(car, pin_roots)
        return self._parse_dag_import(self._send(call), roots, pin_roots)

    def dag_import_stream(self, car: Iterable[bytes]) -> int:
        """Store the blocks of a CAR streamed as it is produced, without pinning.

        The body is sent as ``car`` yields it (chunked), so the CAR never has to
        be held in memory; its roots are ignored: pin the DAG afterwards with
        :meth:`pin_add`. The call succeeds only once Kubo has read the whole CAR.

        Args:
            car: The CARv1's bytes, in pieces.

        Returns:
            How many blocks Kubo read.

        Raises:
            IPFSUnavailable: No Kubo RPC API answers at ``api_url``, or the
                connection broke during the upload.
            IPFSRequestError: Kubo refused the CAR.

        Example:
            >>> car = ipfs.dag_export(ipfs.add(b"hello\\n", pin=False))
            >>> ipfs.dag_import_stream(iter([car[:10], car[10:]]))
            1
        """
        return self._parse_import_stats(self._send(self._dag_import_stream_call(car)))

    def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> client = KuboClient(api_url)
            >>> client.close()
        """
        if self._owns_client:
            self._client.close()


class AsyncKuboClient(_KuboBase, AsyncClosing):
    """The async twin of :class:`KuboClient`: the same methods, awaited.

    Args:
        api_url: The RPC API's root URL, without ``/api/v0``.
        client: The httpx async client to send requests with; one is created (and
            closed by :meth:`close`) if not given. An injected client is never
            closed by troika.
        timeout: Seconds (or an ``httpx.Timeout``) that any one network step may
            take; it applies to an injected client too.

    Raises:
        ConfigError: ``api_url`` is not an http(s) URL.

    Example:
        >>> import asyncio
        >>> async def roundtrip() -> bytes:
        ...     async with AsyncKuboClient(api_url) as ipfs:
        ...         return await ipfs.cat(await ipfs.add(b"hello\\n"))
        >>> asyncio.run(roundtrip())
        b'hello\\n'
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(api_url, timeout)
        self._owns_client = client is None
        self._client = httpx.AsyncClient(verify=tls_context()) if client is None else client

    async def _send(self, call: _Call) -> httpx.Response:
        request = self._request(call)
        with self._translate_errors():
            response = await self._client.send(request)
            response.raise_for_status()
        return response

    async def version(self) -> str:
        """The version of Kubo serving the API; see :meth:`KuboClient.version`.

        Example:
            >>> async def version() -> str:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.version()
            >>> asyncio.run(version())  # doctest: +ELLIPSIS
            '0...'
        """
        return self._parse_version(await self._send(self._version_call()))

    async def add(
        self,
        data: bytes,
        *,
        pin: bool = True,
        cid_version: int = 0,
        raw_leaves: bool | None = None,
    ) -> str:
        """Store bytes on the node as a UnixFS file; see :meth:`KuboClient.add`.

        Example:
            >>> async def add() -> str:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.add(b"hello\\n")
            >>> asyncio.run(add())
            'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
        """
        call = self._add_call(data, pin, cid_version, raw_leaves)
        return self._parse_add(await self._send(call))

    async def cat(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The content of a UnixFS file; see :meth:`KuboClient.cat`.

        Example:
            >>> async def cat(data: bytes) -> bytes:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         cid = await ipfs.add(data)
            ...         return await ipfs.cat(cid, timeout=10)
            >>> asyncio.run(cat(b"hello\\n"))
            b'hello\\n'
        """
        return self._parse_cat(await self._send(self._cat_call(cid, timeout)))

    async def pin_add(self, cid: str, *, timeout: float | None = None) -> None:
        """Pin content recursively; see :meth:`KuboClient.pin_add`.

        Example:
            >>> async def keep(data: bytes) -> bool:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         cid = await ipfs.add(data, pin=False)
            ...         await ipfs.pin_add(cid)
            ...         return cid in await ipfs.pins()
            >>> asyncio.run(keep(b"keep me too\\n"))
            True
        """
        await self._send(self._pin_add_call(cid, timeout))

    async def pin_rm(self, cid: str) -> None:
        """Remove a recursive pin; see :meth:`KuboClient.pin_rm`.

        Example:
            >>> async def let_go(data: bytes) -> bool:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         cid = await ipfs.add(data)
            ...         await ipfs.pin_rm(cid)
            ...         return cid in await ipfs.pins()
            >>> asyncio.run(let_go(b"let me go too\\n"))
            False
        """
        await self._send(self._pin_rm_call(cid))

    async def pins(self) -> set[str]:
        """The CIDs pinned recursively on the node; see :meth:`KuboClient.pins`.

        Example:
            >>> async def pinned(data: bytes) -> bool:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         cid = await ipfs.add(data)
            ...         return cid in await ipfs.pins()
            >>> asyncio.run(pinned(b"hello\\n"))
            True
        """
        return self._parse_pins(await self._send(self._pins_call()))

    async def block_get(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The raw bytes of one block; see :meth:`KuboClient.block_get`.

        Example:
            >>> async def block(data: bytes) -> bytes:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.block_get(await ipfs.add(data, cid_version=1))
            >>> asyncio.run(block(b"hello\\n"))
            b'hello\\n'
        """
        return (await self._send(self._block_get_call(cid, timeout))).content

    async def dag_export(self, cid: str, *, timeout: float | None = None) -> bytes:
        """The DAG under ``cid`` as a verified CARv1; see :meth:`KuboClient.dag_export`.

        Example:
            >>> async def export(data: bytes) -> bytes:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.dag_export(await ipfs.add(data))
            >>> asyncio.run(export(b"hello\\n")) == ipfs.dag_export(ipfs.add(b"hello\\n"))
            True
        """
        return self._parse_dag_export(await self._send(self._dag_export_call(cid, timeout)))

    async def dag_import(self, car: bytes, *, pin_roots: bool = True) -> list[str]:
        """Store (and pin) the blocks of a CAR; see :meth:`KuboClient.dag_import`.

        Example:
            >>> async def import_car(car: bytes) -> list[str]:
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.dag_import(car)
            >>> asyncio.run(import_car(ipfs.dag_export(ipfs.add(b"hello\\n"))))
            ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN']
        """
        call, roots = self._dag_import_call(car, pin_roots)
        return self._parse_dag_import(await self._send(call), roots, pin_roots)

    async def dag_import_stream(self, car: AsyncIterable[bytes]) -> int:
        """Store the blocks of a streamed CAR; see :meth:`KuboClient.dag_import_stream`.

        Example:
            >>> async def import_stream(car: bytes) -> int:
            ...     async def pieces() -> AsyncIterator[bytes]:
            ...         yield car
            ...     async with AsyncKuboClient(api_url) as ipfs:
            ...         return await ipfs.dag_import_stream(pieces())
            >>> from collections.abc import AsyncIterator
            >>> asyncio.run(import_stream(ipfs.dag_export(ipfs.add(b"hello\\n"))))
            1
        """
        return self._parse_import_stats(await self._send(self._dag_import_stream_call(car)))

    async def close(self) -> None:
        """Close the httpx client, if this object created it.

        Example:
            >>> async def open_and_close() -> None:
            ...     await AsyncKuboClient(api_url).close()
            >>> asyncio.run(open_and_close())
        """
        if self._owns_client:
            await self._client.aclose()
