"""``KuboStore``: a Kubo node as a troika block store, sync and async.

A single file (bytes, a path to a regular file, or a readable binary stream)
goes to Kubo's own ``add`` with every import option set explicitly to troika's,
streamed from the source as a multipart body. The source is read once: each
piece read is both sent and fed to troika's importer (a tee), so troika's CID
is that of the very bytes Kubo received. Kubo pins the root it built as it
finishes (without walking the DAG again, as ``pin/add`` would); troika reports
it only if it equals the CID troika computed. If it does not, Kubo's root is
unpinned and :class:`VerificationError` raised: a CID troika did not compute
is never reported.

Folders and symlinks go the other way: troika computes the DAG (the importer,
identical to ``ipfs add``) and sends it as a CAR streamed through
``dag/import``: blocks go out as the importer makes them, so memory stays at
about one chunk whatever the size. The importer finds the root last, while a
CAR names its roots first; so the CAR's header names a placeholder (the empty
identity CID, which needs no block), Kubo imports without pinning, and the
real root is pinned afterwards with ``pin/add``. Either way, content is
reported stored only once Kubo has read all of it, pinned the root, and lists
it among its pins: an upload cut short is never reported as pinned.

Connection errors (refused, reset, the node gone mid-upload) are retried with
exponential backoff, a bounded number of times; :meth:`KuboStore.add` starts
the upload again from its source. A stream cannot always be read again: one
that broke after troika had read from it is retried only if it is seekable
(troika seeks back to where it started), else :class:`IPFSUnavailable` says
so at once. Timeouts and Kubo's own error answers (:class:`KuboAPIError`) are
not retried: they would only fail again.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeAlias, TypeVar

import httpx

from troika._closing import AsyncClosing, Closing
from troika._errors import (
    BlockNotFound,
    IncompleteDAG,
    InvalidCID,
    IPFSError,
    IPFSRequestError,
    IPFSUnavailable,
    PathError,
    VerificationError,
)
from troika.ipfs._car import Block, encode_header
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._dag import LEAF_CODECS, links_of_block, walk_dag
from troika.ipfs._importer import (
    ImportSource,
    ReadableStream,
    _FileHasher,
    _path_error,
    _read_pieces,
    _readable_stream,
    _resolve,
    _Settings,
    import_source,
)
from troika.ipfs._kubo import DEFAULT_API_URL, DEFAULT_TIMEOUT, AsyncKuboClient, KuboClient, _Call
from troika.ipfs._multiformats import varint

__all__ = ["DEFAULT_RETRIES", "AsyncKuboStore", "KuboStore", "Progress"]

DEFAULT_RETRIES = 3
"""Attempts after the first that a call gets when the connection fails."""

Progress: TypeAlias = Callable[[int, int | None], None]
"""Called as bytes go out: ``(bytes_sent, total)``, ``total`` None when not known
(a stream's size is never known in advance)."""

_PLACEHOLDER_ROOT = CID.parse("bafkqaaa")  # identity CID of no bytes: complete by itself
_READ_SIZE = 1 << 20  # bytes per piece of a file streamed to ``add``
_T = TypeVar("_T")


# -- the pure core ---------------------------------------------------------------------


class _CARStream:
    """A CARv1 made from a block generator as it is read; remembers the root at the end.

    ``sent`` counts block bytes (not CAR framing), which tracks the content's
    size closely; ``progress`` hears of it after every block.
    """

    def __init__(
        self,
        blocks: Generator[Block, None, CID] | Iterator[Block],
        progress: Progress | None = None,
        total: int | None = None,
    ) -> None:
        self._blocks = blocks
        self._progress = progress
        self.total = total
        self.root: CID | None = None
        self.blocks = 0
        self.sent = 0

    def root_cid(self) -> CID:
        """The root the block generator returned, once its blocks are all read."""
        if self.root is None:
            raise TypeError("the block generator did not return its root CID")
        return self.root

    def each_block(self) -> Iterator[Block]:
        """The blocks themselves, counted and reported, without the CAR's framing."""
        while True:
            try:
                block = next(self._blocks)
            except StopIteration as done:
                self.root = done.value if isinstance(done.value, CID) else None
                return
            yield block
            self.blocks += 1
            self.sent += len(block.data)
            if self._progress is not None:
                total = self.total
                self._progress(self.sent if total is None else min(self.sent, total), total)

    def __iter__(self) -> Iterator[bytes]:
        header = encode_header([_PLACEHOLDER_ROOT])
        yield varint(len(header)) + header
        for block in self.each_block():
            raw = bytes(block.cid)
            yield varint(len(raw) + len(block.data)) + raw + bytes(block.data)


def _is_content(source: ImportSource) -> bool:
    return isinstance(source, bytes | bytearray | memoryview)


def _is_path(source: ImportSource) -> bool:
    return isinstance(source, str | os.PathLike)


def source_size(source: ImportSource, *, hidden: bool = False) -> int | None:
    """The bytes ``source`` holds (a folder's files summed), or None if it cannot be told
    (always for a stream)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return memoryview(source).nbytes
    if not isinstance(source, str | os.PathLike):
        return None
    try:
        root = Path(source)
        if root.is_file():
            return root.stat().st_size
        total = 0
        for folder, folders, files in os.walk(root):
            if not hidden:
                folders[:] = [name for name in folders if not name.startswith(".")]
            for name in files:
                path = Path(folder) / name
                if (hidden or not name.startswith(".")) and path.is_file():
                    total += 0 if path.is_symlink() else path.stat().st_size
        return total
    except OSError:
        return None


def _single_file(source: ImportSource, follow_symlinks: bool) -> bool:
    """Whether ``source`` is one file's content, which Kubo's ``add`` can import itself."""
    if not isinstance(source, str | os.PathLike):
        return True  # bytes, or a stream
    try:
        path = Path(source)
        info = path.stat() if follow_symlinks else path.lstat()
    except (OSError, ValueError):
        return False  # the importer raises the right PathError
    return stat.S_ISREG(info.st_mode)


def _open_file(path: str | os.PathLike[str]) -> io.FileIO:
    try:
        return Path(path).open("rb", buffering=0)  # whole pieces, no second buffer
    except OSError as exc:
        raise _path_error(str(path), exc) from exc


def _pieces_of(data: bytes | bytearray | memoryview) -> Iterator[bytes]:
    view = memoryview(data).cast("B")
    for start in range(0, view.nbytes, _READ_SIZE):
        yield bytes(view[start : start + _READ_SIZE])


class _Sent:
    """Counts the bytes of a file upload and tells ``progress`` after every piece."""

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self._progress = progress
        self.total = total
        self.sent = 0

    def count(self, piece: bytes) -> None:
        self.sent += len(piece)
        if self._progress is not None:
            total = self.total
            self._progress(self.sent if total is None else min(self.sent, total), total)

    def finish(self) -> None:
        if self.sent == 0 and self._progress is not None:
            self._progress(0, self.total)  # an empty file is done too


class _Tee:
    """One attempt's pieces of a file: each piece read goes out to Kubo and into troika's hasher.

    A piece is handed on first and hashed when the next one is asked for, so
    the daemon works on it while troika hashes it; when the body ends, every
    byte sent has been hashed. One thread does both: hashlib and the socket
    let go of the GIL, and a second thread for the hashing cost more CPU than
    it saved time in an A/B on the 2-core bench machine. ``read`` counts the
    bytes taken from the source.
    """

    def __init__(self, settings: _Settings, sent: _Sent, *, verify: bool = True) -> None:
        self._hasher = _FileHasher(settings) if verify else None
        self._sent = sent
        self.read = 0

    def pieces(self, source: Iterator[bytes], length: int | None, name: str) -> Iterator[bytes]:
        """``source``'s pieces, each sent and hashed; a file of ``length`` bytes must keep it."""
        for piece in source:
            self.read += len(piece)
            if length is not None and self.read > length:
                raise _changed(name, length, self.read)
            yield piece
            if self._hasher is not None:
                self._hasher.feed(piece)
            self._sent.count(piece)
        if length is not None and self.read != length:
            raise _changed(name, length, self.read)
        self._sent.finish()

    def root(self) -> CID | None:
        """troika's CID of every byte that went out (once the body is complete); None
        when nothing was hashed (``verify=False``)."""
        return None if self._hasher is None else self._hasher.finish()


def _changed(name: str, length: int, read: int) -> PathError:
    return PathError(
        name,
        f"its size changed while it was being uploaded ({length} bytes when it was opened, "
        f"{read} or more read); nothing was pinned: add it again once it stops changing",
    )


class _FileSource:
    """Where one file's bytes come from for ``add``, and whether a retry may read them again.

    Bytes and paths can always be read again. A stream is read where it
    stands; after a broken attempt it is sought back there if it is seekable,
    and otherwise the upload cannot be retried (unless nothing was read yet).
    """

    def __init__(self, source: ImportSource) -> None:
        self.source = source
        self.stream: ReadableStream | None = None
        self._seek_back: Callable[[], object] | None = None
        if not _is_content(source) and not _is_path(source):
            self.stream = stream = _readable_stream(source, "add")
            seekable = getattr(stream, "seekable", None)
            if callable(seekable) and seekable():
                start = stream.tell()  # type: ignore[attr-defined]  # seekable() said so
                self._seek_back = lambda: stream.seek(start)  # type: ignore[attr-defined]

    @contextmanager
    def pieces(self, tee: _Tee) -> Iterator[tuple[Iterator[bytes], int | None]]:
        """The source's pieces for one attempt through ``tee``, and its size if known (a
        file is opened and closed here)."""
        source = self.source
        if self.stream is not None:
            yield tee.pieces(_read_pieces(self.stream, _READ_SIZE), None, repr(source)), None
        elif isinstance(source, bytes | bytearray | memoryview):
            size = memoryview(source).nbytes
            yield tee.pieces(_pieces_of(source), size, "bytes"), size
        else:
            with _open_file(source) as file:  # type: ignore[arg-type]  # a path
                size = os.fstat(file.fileno()).st_size
                yield tee.pieces(_read_pieces(file, _READ_SIZE), size, str(source)), size

    def rewind(self, tee: _Tee, error: IPFSUnavailable, api_url: str) -> None:
        """Make the source readable from its start again, or raise: it cannot be retried."""
        if self.stream is None or tee.read == 0:
            return
        if self._seek_back is None:
            raise IPFSUnavailable(
                api_url,
                f"{error.__cause__}; the connection broke after {tee.read} bytes of a stream "
                "that cannot be read again (it is not seekable), so the upload was not retried "
                "and nothing was pinned",
                advice="add the content again from a new stream, or pass a seekable one",
            ) from error
        self._seek_back()


def _connection_failed(error: IPFSUnavailable) -> bool:
    """Whether the error is a broken or refused connection (worth retrying), not a timeout."""
    return isinstance(error.__cause__, httpx.NetworkError | httpx.RemoteProtocolError)


class _KuboStoreBase:
    """What both stores share: the retry policy and the checks; no I/O."""

    def __init__(self, api_url: str, retries: int, backoff: float, pin_timeout: float) -> None:
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries!r}")
        self.api_url = api_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.pin_timeout = pin_timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.api_url!r})"

    def _delay(self, error: IPFSUnavailable, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``; raises when there is none."""
        if not _connection_failed(error):
            raise error
        if attempt >= self.retries:
            raise IPFSUnavailable(
                self.api_url, f"{error.__cause__}; gave up after {attempt + 1} attempts"
            ) from error
        return float(self.backoff * 2**attempt)

    def _verified(self, cid: CID, data: bytes) -> bytes:
        try:
            matches = cid.verify(data)
        except ValueError as exc:
            raise VerificationError(cid, repr(self), str(exc)) from exc
        if not matches:
            raise VerificationError(cid, repr(self))
        return data

    def _check_import(self, stream: _CARStream, read: int) -> None:
        if read != stream.blocks:
            raise IPFSRequestError(
                f"{self.api_url}/api/v0/dag/import",
                200,
                f"Kubo read {read} blocks of the {stream.blocks} troika sent",
            )

    @staticmethod
    def _kubo_root(answer: str) -> CID | None:
        try:
            return CID.parse(answer)
        except InvalidCID:
            return None

    def _mismatch(
        self, answer: str, ours: CID | None, unpin_error: IPFSError | None
    ) -> VerificationError:
        if ours is None:
            return VerificationError(answer, repr(self), "Kubo's add answered with no CID")
        after = "it was unpinned" if unpin_error is None else f"unpinning it failed: {unpin_error}"
        return VerificationError(
            answer,
            repr(self),
            f"Kubo's add gave this root where troika computed {str(ours)!r} for the same "
            f"content and options; {after}",
        )

    def _not_pinned(self, root: CID) -> IPFSRequestError:
        return IPFSRequestError(
            f"{self.api_url}/api/v0/pin/ls", 200, f"Kubo does not list {str(root)!r} as pinned"
        )


def _missing(error: IPFSRequestError) -> bool:
    return "not found" in error.response or "could not find" in error.response


def _not_pinned(error: IPFSRequestError) -> bool:
    return "not pinned" in error.response


# -- KuboStore ---------------------------------------------------------------------------


class KuboStore(_KuboStoreBase, Closing):
    """A Kubo node's RPC API as a :class:`PinningStore`, with DAG uploads streamed as CARs.

    ``get`` and ``has`` look only in the node's own blockstore (a missing block
    fails at once); ``pin`` of content the node lacks lets Kubo search for it
    for up to ``pin_timeout`` seconds.

    Args:
        api_url: The RPC API's root URL, without ``/api/v0``.
        client: An httpx client to send requests with (never closed by troika).
        timeout: Seconds any one network step may take.
        retries: Attempts after the first when the connection fails.
        backoff: Seconds before the first retry; doubled for each next one.
        pin_timeout: Seconds Kubo may spend fetching missing blocks to pin.

    Raises:
        ConfigError: ``api_url`` is not an http(s) URL.

    Example:
        >>> with KuboStore(api_url) as store:
        ...     root = store.add(b"hello\\n")
        ...     str(root), root in store.pins(), store.cat(root)
        ('QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', True, b'hello\\n')
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.25,
        pin_timeout: float = 60.0,
    ) -> None:
        self.client = KuboClient(api_url, client=client, timeout=timeout)
        super().__init__(self.client.api_url, retries, backoff, pin_timeout)

    def _retrying(self, call: Callable[[], _T]) -> _T:
        attempt = 0
        while True:
            try:
                return call()
            except IPFSUnavailable as error:
                time.sleep(self._delay(error, attempt))
                attempt += 1

    # -- blocks ----------------------------------------------------------------

    def put(self, cid: CIDLike, block: bytes | bytearray | memoryview) -> None:
        """Store one block on the node after checking that it hashes to ``cid`` (not pinned).

        Raises:
            VerificationError: ``block`` does not hash to ``cid`` (nothing is sent).
            IPFSUnavailable: The node cannot be reached, retries included.
            KuboAPIError: Kubo refused the block.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.put(CID.of(b"hello"), b"hello")
            ...     store.has(CID.of(b"hello"))
            True
        """
        cid = CID.parse(cid)
        data = self._verified(cid, bytes(block))
        blocks = iter([Block(cid, data)])
        self._upload(lambda: _CARStream(blocks))

    def get(self, cid: CIDLike) -> bytes:
        """A block's bytes from the node's blockstore, re-hashed against ``cid``.

        Raises:
            BlockNotFound: The node does not hold the block.
            VerificationError: The node sent bytes that do not hash to ``cid``.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.get(store.add(b"hello\\n", profile="v1-2025"))
            b'hello\\n'
        """
        cid = CID.parse(cid)
        call = _Call("block/get", (("arg", str(cid)), ("offline", "true")))
        try:
            data = self._retrying(lambda: self.client._send(call)).content
        except IPFSRequestError as error:
            if _missing(error):
                raise BlockNotFound(cid, repr(self)) from error
            raise
        return self._verified(cid, data)

    def has(self, cid: CIDLike) -> bool:
        """Whether the node's blockstore holds the block (the network is not asked).

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.has(CID.of(b"never stored anywhere"))
            False
        """
        call = _Call("block/stat", (("arg", str(CID.parse(cid))), ("offline", "true")))
        try:
            self._retrying(lambda: self.client._send(call))
        except IPFSRequestError as error:
            if _missing(error):
                return False
            raise
        return True

    # -- pins ------------------------------------------------------------------

    def pin(self, cid: CIDLike) -> None:
        """Pin the complete DAG under ``cid`` recursively, then check that Kubo lists it.

        The DAG is walked on the node first (one call per block), so a DAG that
        lacks a block is refused at once rather than searched for.

        Raises:
            IncompleteDAG: The node lacks a block of the DAG.
            KuboAPIError: Kubo could not pin it.
            IPFSRequestError: Kubo does not list the pin afterwards.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.put(CID.of(b"pin me"), b"pin me")
            ...     store.pin(CID.of(b"pin me"))
            ...     store.is_pinned(CID.of(b"pin me"))
            True
        """
        root = CID.parse(cid)

        def visit(cid: CID) -> tuple[CID, ...]:
            try:
                if cid.codec_code in LEAF_CODECS:
                    if not self.has(cid):
                        raise BlockNotFound(cid, repr(self))
                    return ()
                return links_of_block(cid, self.get(cid))
            except BlockNotFound:
                raise IncompleteDAG(root, cid, repr(self)) from None

        walk_dag([root], visit)
        self._pin_complete(root)

    def _pin_complete(self, root: CID) -> None:
        self._retrying(lambda: self.client.pin_add(str(root), timeout=self.pin_timeout))
        if not self.is_pinned(root):
            raise self._not_pinned(root)

    def unpin(self, cid: CIDLike) -> None:
        """Remove a recursive pin; unpinning what is not pinned does nothing.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     root = store.add(b"unpin me\\n")
            ...     store.unpin(root)
            ...     store.unpin(root)
            ...     store.is_pinned(root)
            False
        """
        root = str(CID.parse(cid))
        try:
            self._retrying(lambda: self.client.pin_rm(root))
        except IPFSRequestError as error:
            if not _not_pinned(error):
                raise

    def pins(self) -> set[CID]:
        """The roots pinned recursively on the node.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.add(b"hello\\n") in store.pins()
            True
        """
        return {CID.parse(cid) for cid in self._retrying(self.client.pins)}

    def is_pinned(self, cid: CIDLike) -> bool:
        """Whether ``cid`` is pinned recursively (one question, not the whole pin list).

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.is_pinned(CID.of(b"never pinned"))
            False
        """
        root = CID.parse(cid)
        call = _Call("pin/ls", (("arg", f"/ipfs/{root}"), ("type", "recursive")))
        try:
            response = self._retrying(lambda: self.client._send(call))
        except IPFSRequestError as error:
            if _not_pinned(error):
                return False
            raise
        return root in {CID.parse(key) for key in self.client._parse_pins(response)}

    # -- DAGs ------------------------------------------------------------------

    def _upload(self, make: Callable[[], _CARStream]) -> _CARStream:
        def once() -> _CARStream:
            stream = make()
            self._check_import(stream, self.client.dag_import_stream(stream))
            return stream

        return self._retrying(once)

    def put_dag(
        self,
        blocks: Generator[Block, None, CID],
        *,
        progress: Progress | None = None,
        total: int | None = None,
    ) -> CID:
        """Upload the blocks an importer yields, streamed as one CAR, and pin the root.

        The generator cannot be replayed, so a connection that breaks mid-upload
        is not retried here (:meth:`add` retries from the source).

        Args:
            blocks: A generator of blocks that returns the root CID, such as
                :func:`troika.ipfs.import_path`'s.
            progress: Called with ``(bytes_sent, total)`` after every block.
            total: The size to report as ``total`` (say, the file's size).

        Returns:
            The root, pinned on the node.

        Raises:
            IPFSUnavailable: The node cannot be reached or went away.
            IPFSRequestError: Kubo read fewer blocks than were sent, or does
                not list the root as pinned afterwards.

        Example:
            >>> from troika.ipfs import import_bytes
            >>> with KuboStore(api_url) as store:
            ...     str(store.put_dag(import_bytes(b"hello\\n", profile="v1-2025")))
            'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
        """
        stream = _CARStream(blocks, progress, total)
        self._check_import(stream, self.client.dag_import_stream(stream))
        root = stream.root_cid()
        self._pin_complete(root)
        return root

    def add(
        self,
        source: ImportSource,
        *,
        profile: str = "kubo-v0",
        cid_version: int | None = None,
        raw_leaves: bool | None = None,
        chunk_size: int | None = None,
        hidden: bool = False,
        follow_symlinks: bool = False,
        progress: Progress | None = None,
        verify: bool = True,
    ) -> CID:
        """Import ``source`` as ``ipfs add`` does, upload it and pin it.

        The CID is the one ``ipfs add`` gives with the same options, computed by
        troika. One file (bytes, a path to a regular file, or a readable binary
        stream) is streamed to Kubo's own ``add`` with all of troika's options,
        read once: each piece read is sent and also hashed by troika's importer
        (a tee), so memory stays at about one piece (1 MiB) whatever the size,
        and Kubo's root is accepted only if it is troika's CID of the same
        bytes. A folder or a symlink goes as troika's DAG, one CAR through
        ``dag/import``, then ``pin/add``. The root is reported only once Kubo
        lists it pinned.

        Retries: if the connection breaks, the upload starts again from
        ``source`` (up to ``retries`` times). A stream is read from where it
        stands; after a break it is sought back there if it is seekable
        (``seekable()`` true), and otherwise, once troika has read from it, the
        upload is not retried: :class:`IPFSUnavailable` says the stream cannot
        be read again, and nothing is reported pinned.

        Args:
            source: Bytes, a path to a file, symlink or folder, or a readable
                binary stream (:class:`troika.ipfs.ReadableStream`, read to its end).
            profile, cid_version, raw_leaves, chunk_size, hidden, follow_symlinks:
                As for :func:`troika.ipfs.cid_of`.
            progress: Called with ``(bytes_sent, total)``; ``total`` is the
                content's size (a folder's files summed), None for a stream,
                whose size is not known in advance. A retry starts from 0.
            verify: For one file, also hash every piece sent with troika's own
                importer and accept Kubo's root only if it is the same CID.
                ``False`` trusts the root Kubo computed from the options troika
                spelled out (the CID is the same unless the node is faulty; the
                interop tests check it) and saves the client's hashing, about
                8 % of the upload's time on 2 cores (``bench/ipfs_upload.py``).
                A folder or a symlink is always troika's own DAG.

        Returns:
            The root CID, pinned on the node.

        Raises:
            IPFSUnavailable: The node cannot be reached, retries included; or
                the connection broke mid-upload of a stream that cannot be read again.
            IPFSRequestError: Kubo refused the upload or the pin.
            VerificationError: Kubo's ``add`` gave another root than troika
                computed (``.cid`` is Kubo's, which is unpinned again).
            PathNotFound, PathUnreadable, SymlinkLoop, PathError: See
                :func:`troika.ipfs.import_path`; ``PathError`` also when the
                file's size changed during the upload (nothing is pinned).
            TypeError: ``source`` is not bytes, a path or a readable binary stream.

        Example:
            >>> import io
            >>> with KuboStore(api_url) as store:
            ...     str(store.add(b"hello\\n", profile="v1-2025"))
            ...     str(store.add(io.BytesIO(b"hello\\n")))
            'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
            'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
        """
        total = source_size(source, hidden=hidden) if progress is not None else None
        if _single_file(source, follow_symlinks):
            settings = _resolve(profile, cid_version, raw_leaves, chunk_size)
            file, attempt = _FileSource(source), 0
            while True:
                tee = _Tee(settings, _Sent(progress, total), verify=verify)
                try:
                    answer = self._add_file(file, tee, settings)
                    break
                except IPFSUnavailable as error:
                    delay = self._delay(error, attempt)
                    file.rewind(tee, error, self.api_url)
                    time.sleep(delay)
                    attempt += 1
            return self._checked_add(answer, tee.root())

        def make() -> _CARStream:
            blocks = import_source(
                source,
                profile=profile,
                cid_version=cid_version,
                raw_leaves=raw_leaves,
                chunk_size=chunk_size,
                hidden=hidden,
                follow_symlinks=follow_symlinks,
            )
            return _CARStream(blocks, progress, total)

        root = self._upload(make).root_cid()
        self._pin_complete(root)  # Kubo read every block: the DAG is complete
        return root

    def _add_file(self, file: _FileSource, tee: _Tee, settings: _Settings) -> str:
        """One attempt: stream the file to Kubo's ``add`` through ``tee``; Kubo's root as
        it printed it."""
        with file.pieces(tee) as (pieces, length):
            call = self.client._add_stream_call(
                pieces,
                length=length,
                cid_version=settings.cid_version,
                raw_leaves=settings.raw_leaves,
                chunk_size=settings.chunk_size,
                max_links=settings.max_links,
            )
            return self.client._parse_add(self.client._send(call))

    def _checked_add(self, answer: str, ours: CID | None) -> CID:
        """``ours`` if Kubo's root is the same and pinned (Kubo's own root, when troika
        did not hash); else Kubo's root is unpinned."""
        theirs = self._kubo_root(answer)
        ours = theirs if ours is None and theirs is not None else ours
        if theirs != ours or ours is None:
            unpin_error = None
            if theirs is not None:
                try:
                    self.unpin(theirs)
                except IPFSError as exc:
                    unpin_error = exc
            raise self._mismatch(answer, ours, unpin_error) from unpin_error
        if not self.is_pinned(ours):
            raise self._not_pinned(ours)
        return ours

    # -- reads and the node ----------------------------------------------------

    def cat(self, cid: CIDLike, *, timeout: float | None = None) -> bytes:
        """A UnixFS file's content as Kubo assembles it (see :func:`troika.ipfs.get`
        for content verified by troika).

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.cat(store.add(b"hello\\n"))
            b'hello\\n'
        """
        text = str(CID.parse(cid))
        return self._retrying(lambda: self.client.cat(text, timeout=timeout))

    def export_car(self, cid: CIDLike, *, timeout: float | None = None) -> bytes:
        """The DAG under ``cid`` as a CARv1 from ``dag/export``, every block verified.

        Example:
            >>> from troika.ipfs import read_car
            >>> with KuboStore(api_url) as store:
            ...     [str(root) for root in read_car(store.export_car(store.add(b"hello\\n"))).roots]
            ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN']
        """
        text = str(CID.parse(cid))
        return self._retrying(lambda: self.client.dag_export(text, timeout=timeout))

    def version(self) -> str:
        """The version of Kubo serving the API.

        Example:
            >>> with KuboStore(api_url) as store:
            ...     store.version()  # doctest: +ELLIPSIS
            '0...'
        """
        return self._retrying(self.client.version)

    def close(self) -> None:
        """Close the httpx client, if this store created it."""
        self.client.close()


# -- AsyncKuboStore ----------------------------------------------------------------------


async def _in_thread(stream: _CARStream) -> AsyncIterator[bytes]:
    """The CAR's pieces, each made in a worker thread (hashing would block the loop)."""
    pieces = iter(stream)
    done = object()
    while True:
        piece = await asyncio.to_thread(next, pieces, done)
        if piece is done:
            return
        assert isinstance(piece, bytes)
        yield piece


class AsyncKuboStore(_KuboStoreBase, AsyncClosing):
    """The asyncio twin of :class:`KuboStore`: the same methods, awaited.

    The importer's hashing runs in worker threads, so the event loop stays free.

    Example:
        >>> async def roundtrip() -> tuple[str, bytes]:
        ...     async with AsyncKuboStore(api_url) as store:
        ...         root = await store.add(b"hello\\n")
        ...         return str(root), await store.cat(root)
        >>> asyncio.run(roundtrip())
        ('QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', b'hello\\n')
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.25,
        pin_timeout: float = 60.0,
    ) -> None:
        self.client = AsyncKuboClient(api_url, client=client, timeout=timeout)
        super().__init__(self.client.api_url, retries, backoff, pin_timeout)

    async def _retrying(self, call: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            try:
                return await call()
            except IPFSUnavailable as error:
                await asyncio.sleep(self._delay(error, attempt))
                attempt += 1

    async def put(self, cid: CIDLike, block: bytes | bytearray | memoryview) -> None:
        """Store one block after checking it; see :meth:`KuboStore.put`."""
        cid = CID.parse(cid)
        data = self._verified(cid, bytes(block))
        blocks = iter([Block(cid, data)])
        await self._upload(lambda: _CARStream(blocks))

    async def get(self, cid: CIDLike) -> bytes:
        """A block's bytes, verified; see :meth:`KuboStore.get`."""
        cid = CID.parse(cid)
        call = _Call("block/get", (("arg", str(cid)), ("offline", "true")))
        try:
            response = await self._retrying(lambda: self.client._send(call))
        except IPFSRequestError as error:
            if _missing(error):
                raise BlockNotFound(cid, repr(self)) from error
            raise
        return self._verified(cid, response.content)

    async def has(self, cid: CIDLike) -> bool:
        """Whether the node holds the block; see :meth:`KuboStore.has`."""
        call = _Call("block/stat", (("arg", str(CID.parse(cid))), ("offline", "true")))
        try:
            await self._retrying(lambda: self.client._send(call))
        except IPFSRequestError as error:
            if _missing(error):
                return False
            raise
        return True

    async def pin(self, cid: CIDLike) -> None:
        """Pin recursively and check the pin; see :meth:`KuboStore.pin`."""
        root = CID.parse(cid)
        pending, seen = [root], set()
        while pending:  # walk_dag's order does not matter for a completeness check
            block = pending.pop()
            if block in seen:
                continue
            seen.add(block)
            try:
                if block.codec_code in LEAF_CODECS:
                    if not await self.has(block):
                        raise BlockNotFound(block, repr(self))
                    continue
                pending.extend(reversed(links_of_block(block, await self.get(block))))
            except BlockNotFound:
                raise IncompleteDAG(root, block, repr(self)) from None
        await self._pin_complete(root)

    async def _pin_complete(self, root: CID) -> None:
        await self._retrying(lambda: self.client.pin_add(str(root), timeout=self.pin_timeout))
        if not await self.is_pinned(root):
            raise self._not_pinned(root)

    async def unpin(self, cid: CIDLike) -> None:
        """Remove a pin; see :meth:`KuboStore.unpin`."""
        root = str(CID.parse(cid))
        try:
            await self._retrying(lambda: self.client.pin_rm(root))
        except IPFSRequestError as error:
            if not _not_pinned(error):
                raise

    async def pins(self) -> set[CID]:
        """The roots pinned recursively; see :meth:`KuboStore.pins`."""
        return {CID.parse(cid) for cid in await self._retrying(self.client.pins)}

    async def is_pinned(self, cid: CIDLike) -> bool:
        """Whether ``cid`` is pinned recursively; see :meth:`KuboStore.is_pinned`."""
        root = CID.parse(cid)
        call = _Call("pin/ls", (("arg", f"/ipfs/{root}"), ("type", "recursive")))
        try:
            response = await self._retrying(lambda: self.client._send(call))
        except IPFSRequestError as error:
            if _not_pinned(error):
                return False
            raise
        return root in {CID.parse(key) for key in self.client._parse_pins(response)}

    async def _upload(self, make: Callable[[], _CARStream]) -> _CARStream:
        async def once() -> _CARStream:
            stream = make()
            self._check_import(stream, await self.client.dag_import_stream(_in_thread(stream)))
            return stream

        return await self._retrying(once)

    async def put_dag(
        self,
        blocks: Generator[Block, None, CID],
        *,
        progress: Progress | None = None,
        total: int | None = None,
    ) -> CID:
        """Upload an importer's blocks and pin the root; see :meth:`KuboStore.put_dag`."""
        stream = _CARStream(blocks, progress, total)
        self._check_import(stream, await self.client.dag_import_stream(_in_thread(stream)))
        root = stream.root_cid()
        await self._pin_complete(root)
        return root

    async def add(
        self,
        source: ImportSource,
        *,
        profile: str = "kubo-v0",
        cid_version: int | None = None,
        raw_leaves: bool | None = None,
        chunk_size: int | None = None,
        hidden: bool = False,
        follow_symlinks: bool = False,
        progress: Progress | None = None,
        verify: bool = True,
    ) -> CID:
        """Import, upload and pin ``source``; see :meth:`KuboStore.add`."""
        total = source_size(source, hidden=hidden) if progress is not None else None
        if _single_file(source, follow_symlinks):
            settings = _resolve(profile, cid_version, raw_leaves, chunk_size)
            file, attempt = _FileSource(source), 0
            while True:
                tee = _Tee(settings, _Sent(progress, total), verify=verify)
                try:
                    answer = await self._add_file(file, tee, settings)
                    break
                except IPFSUnavailable as error:
                    delay = self._delay(error, attempt)
                    await asyncio.to_thread(file.rewind, tee, error, self.api_url)
                    await asyncio.sleep(delay)
                    attempt += 1
            return await self._checked_add(answer, await asyncio.to_thread(tee.root))

        def make() -> _CARStream:
            blocks = import_source(
                source,
                profile=profile,
                cid_version=cid_version,
                raw_leaves=raw_leaves,
                chunk_size=chunk_size,
                hidden=hidden,
                follow_symlinks=follow_symlinks,
            )
            return _CARStream(blocks, progress, total)

        root = (await self._upload(make)).root_cid()
        await self._pin_complete(root)  # Kubo read every block: the DAG is complete
        return root

    async def _add_file(self, file: _FileSource, tee: _Tee, settings: _Settings) -> str:
        """One attempt of :meth:`KuboStore._add_file`; reading and hashing in worker threads."""
        opened = file.pieces(tee)
        pieces, length = await asyncio.to_thread(opened.__enter__)
        done = object()

        async def body() -> AsyncIterator[bytes]:
            while (piece := await asyncio.to_thread(next, pieces, done)) is not done:
                assert isinstance(piece, bytes)
                yield piece

        try:
            call = self.client._add_stream_call(
                body(),
                length=length,
                cid_version=settings.cid_version,
                raw_leaves=settings.raw_leaves,
                chunk_size=settings.chunk_size,
                max_links=settings.max_links,
            )
            return self.client._parse_add(await self.client._send(call))
        finally:
            await asyncio.to_thread(opened.__exit__, None, None, None)

    async def _checked_add(self, answer: str, ours: CID | None) -> CID:
        """``ours`` if Kubo's root is the same and pinned; see :meth:`KuboStore._checked_add`."""
        theirs = self._kubo_root(answer)
        ours = theirs if ours is None and theirs is not None else ours
        if theirs != ours or ours is None:
            unpin_error = None
            if theirs is not None:
                try:
                    await self.unpin(theirs)
                except IPFSError as exc:
                    unpin_error = exc
            raise self._mismatch(answer, ours, unpin_error) from unpin_error
        if not await self.is_pinned(ours):
            raise self._not_pinned(ours)
        return ours

    async def cat(self, cid: CIDLike, *, timeout: float | None = None) -> bytes:
        """A UnixFS file's content as Kubo assembles it; see :meth:`KuboStore.cat`."""
        text = str(CID.parse(cid))
        return await self._retrying(lambda: self.client.cat(text, timeout=timeout))

    async def export_car(self, cid: CIDLike, *, timeout: float | None = None) -> bytes:
        """The DAG under ``cid`` as a verified CARv1; see :meth:`KuboStore.export_car`."""
        text = str(CID.parse(cid))
        return await self._retrying(lambda: self.client.dag_export(text, timeout=timeout))

    async def version(self) -> str:
        """The version of Kubo serving the API; see :meth:`KuboStore.version`."""
        return await self._retrying(self.client.version)

    async def close(self) -> None:
        """Close the httpx client, if this store created it."""
        await self.client.close()
