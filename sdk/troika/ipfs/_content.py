"""``add`` and ``get``: content in and out of any store, the same way whatever the store.

``add`` computes the DAG with troika's importer (so the CID is the one
``ipfs add`` gives), stores its blocks and pins the root. ``get`` reassembles
content with the exporter from any block source (a store, a Kubo node, a
gateway), re-hashing every block on the way: the source need not be trusted.

Without a store, both use the embedded :class:`LocalStore` under the troika
home (``<home>/ipfs``, home from ``TROIKA_HOME`` or ``troika.toml``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._exporter import BlockSource, export_bytes, export_path
from troika.ipfs._gateway import AsyncGateway, Gateway
from troika.ipfs._importer import ImportSource, import_source
from troika.ipfs._kubo_store import (
    AsyncKuboStore,
    KuboStore,
    Progress,
    _CARStream,
    source_size,
)
from troika.ipfs._pinning import DEFAULT_PIN_WAIT, AsyncPinningService, PinningService
from troika.ipfs._store import AsyncLocalStore, LocalStore, PinningStore

__all__ = ["aadd", "add", "aget", "default_store", "get", "get_to"]


class _GatewayBlocks:
    """A gateway as a block source (``get`` is its verified ``get_block``)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def get(self, cid: CID) -> bytes:
        return self._gateway.get_block(cid)


def default_store() -> LocalStore:
    """The embedded store under the troika home: ``<home>/ipfs``.

    Example:
        >>> import os
        >>> os.environ["TROIKA_HOME"] = str(tmp_path)
        >>> default_store().path == tmp_path / "ipfs"
        True
        >>> del os.environ["TROIKA_HOME"]
    """
    from troika._config import load_settings

    return LocalStore(load_settings().home / "ipfs")


def add(
    source: ImportSource,
    *,
    store: PinningStore | None = None,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
    service: PinningService | None = None,
    service_name: str | None = None,
    service_timeout: float = DEFAULT_PIN_WAIT,
) -> CID:
    """Compute the DAG of ``source`` as ``ipfs add`` does, store it in ``store`` and pin it.

    A :class:`KuboStore` gets a file through Kubo's ``add``, checked against
    troika's CID, and a folder's DAG as one streamed CAR (and retries on
    connection errors); any other store gets the blocks one by one, with its
    garbage collector held off until the root is pinned.

    A readable binary stream (:class:`troika.ipfs.ReadableStream`, such as
    an open file or a reader that makes its bytes as it is read) is one file's
    content: it is read once, to its end, one piece in memory at a time, never
    held whole nor written to a temporary file.

    Args:
        source: Bytes, a path to a file, symlink or folder, or a readable
            binary stream.
        store: Where to keep it; the :func:`default_store` if None.
        profile, cid_version, raw_leaves, chunk_size, hidden, follow_symlinks:
            As for :func:`troika.ipfs.cid_of`.
        progress: Called with ``(bytes_done, total)`` as blocks are stored;
            ``total`` is the content's size (a folder's files summed), None
            for a stream (its size is not known in advance).
        service: A pinning service to pin the root too, once ``store`` has
            it; the service fetches the DAG from the IPFS network, so
            ``store`` should be a node it can reach (a :class:`KuboStore`).
        service_name: The name of that pin (the file's name by default).
        service_timeout: Seconds to wait for the service to report it pinned.

    Returns:
        The root CID, pinned in ``store`` (and by ``service`` if given).

    Raises:
        PathNotFound, PathUnreadable, SymlinkLoop, PathError: See
            :func:`troika.ipfs.import_path`.
        IPFSUnavailable, IPFSRequestError: The store is a node that cannot be
            reached or refused the content.
        PinningServiceError, PinFailed, PinTimeout: The service refused the pin,
            gave up on it, or did not finish it within ``service_timeout``.
        TypeError: ``source`` is not bytes, a path or a readable binary stream.

    Example:
        >>> import io
        >>> store = LocalStore(tmp_path / "store")
        >>> str(add(io.BytesIO(b"hello\\n"), store=store))
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
        >>> root = add(b"hello\\n", store=store)
        >>> str(root), get(root, source=store)
        ('QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', b'hello\\n')
        >>> with KuboStore(api_url) as node:
        ...     add(b"hello\\n", store=node) == root
        True
    """
    root = _add_to_store(
        source,
        default_store() if store is None else store,
        profile=profile,
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
        hidden=hidden,
        follow_symlinks=follow_symlinks,
        progress=progress,
    )
    if service is not None:
        service.wait(
            service.add(root, name=service_name or _name_of(source)), timeout=service_timeout
        )
    return root


def _name_of(source: ImportSource) -> str | None:
    return Path(source).name if isinstance(source, str | os.PathLike) else None


def _add_to_store(
    source: ImportSource,
    store: PinningStore,
    *,
    profile: str,
    cid_version: int | None,
    raw_leaves: bool | None,
    chunk_size: int | None,
    hidden: bool,
    follow_symlinks: bool,
    progress: Progress | None,
) -> CID:
    options = {
        "profile": profile,
        "cid_version": cid_version,
        "raw_leaves": raw_leaves,
        "chunk_size": chunk_size,
        "hidden": hidden,
        "follow_symlinks": follow_symlinks,
    }
    if isinstance(store, KuboStore):
        return store.add(source, progress=progress, **options)  # type: ignore[arg-type]
    total = source_size(source, hidden=hidden) if progress is not None else None
    stream = _CARStream(
        import_source(
            source,
            profile=profile,
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            hidden=hidden,
            follow_symlinks=follow_symlinks,
        ),
        progress,
        total,
    )
    if isinstance(store, LocalStore):
        with store.gc_paused():
            _store_all(stream, store._store_verified)  # the importer hashed each block
            root = stream.root_cid()
            store.pin(root)
        return root
    _store_all(stream, store.put)
    root = stream.root_cid()
    store.pin(root)
    return root


def _store_all(stream: _CARStream, put: Callable[[CID, bytes], None]) -> None:
    for block in stream.each_block():
        put(block.cid, bytes(block.data))


def _blocks_of(source: BlockSource | Gateway | None) -> BlockSource:
    if source is None:
        return default_store()
    if isinstance(source, Gateway):
        return _GatewayBlocks(source)
    return source


def get(cid: CIDLike, *, source: BlockSource | Gateway | None = None) -> bytes:
    """The content of the UnixFS file ``cid``, every block verified against its CID.

    Args:
        cid: The file's root CID.
        source: Where the blocks come from: a store (:class:`LocalStore`,
            :class:`KuboStore`), a :class:`Gateway`, or anything with
            ``get(cid) -> bytes``; the :func:`default_store` if None.

    Returns:
        The file's bytes.

    Raises:
        VerificationError: The source sent a block that is not the CID's.
        BlockNotFound: The source lacks a block.
        NotAFile: ``cid`` is a folder or a symlink (see :func:`get_to`).

    Example:
        >>> from troika.ipfs import Gateway
        >>> root = ipfs.add(b"hello\\n")
        >>> with KuboStore(api_url) as node, Gateway(gateway_url) as gateway:
        ...     get(root, source=node), get(root, source=gateway)
        (b'hello\\n', b'hello\\n')
    """
    return export_bytes(_blocks_of(source), cid)


def get_to(
    cid: CIDLike,
    path: str | os.PathLike[str],
    *,
    source: BlockSource | Gateway | None = None,
) -> Path:
    """Write the file, symlink or folder ``cid`` to ``path``, every block verified.

    Nothing is left at ``path`` if anything fails; see :func:`troika.ipfs.export_path`.

    Returns:
        ``path``.

    Example:
        >>> store = LocalStore(tmp_path / "store")
        >>> root = add(b"hello\\n", store=store)
        >>> get_to(root, tmp_path / "hello.txt", source=store).read_bytes()
        b'hello\\n'
    """
    return export_path(_blocks_of(source), cid, path)


async def aadd(
    source: ImportSource,
    *,
    store: AsyncKuboStore | AsyncLocalStore | None = None,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
    service: AsyncPinningService | None = None,
    service_name: str | None = None,
    service_timeout: float = DEFAULT_PIN_WAIT,
) -> CID:
    """The asyncio form of :func:`add`, with the same options (the importer's
    hashing runs in worker threads, and so does every read of a stream: a
    synchronous readable binary stream is fine, its reads never block the loop).

    Example:
        >>> async def add_it() -> CID:
        ...     async with AsyncKuboStore(api_url) as node:
        ...         return await aadd(b"hello\\n", store=node)
        >>> str(asyncio.run(add_it()))
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
    """
    if isinstance(store, AsyncKuboStore):
        root = await store.add(
            source,
            profile=profile,
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            hidden=hidden,
            follow_symlinks=follow_symlinks,
            progress=progress,
        )
    else:
        root = await asyncio.to_thread(
            _add_to_store,
            source,
            default_store() if store is None else store._store,
            profile=profile,
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            hidden=hidden,
            follow_symlinks=follow_symlinks,
            progress=progress,
        )
    if service is not None:
        requested = await service.add(root, name=service_name or _name_of(source))
        await service.wait(requested, timeout=service_timeout)
    return root


async def aget(
    cid: CIDLike, *, source: AsyncKuboStore | AsyncLocalStore | AsyncGateway | None = None
) -> bytes:
    """The asyncio form of :func:`get`: the file's bytes, every block verified.

    Example:
        >>> async def get_it() -> bytes:
        ...     async with AsyncKuboStore(api_url) as node:
        ...         return await aget(ipfs.add(b"hello\\n"), source=node)
        >>> asyncio.run(get_it())
        b'hello\\n'
    """
    if source is None or isinstance(source, AsyncLocalStore):
        local = default_store() if source is None else source._store
        return await asyncio.to_thread(export_bytes, local, cid)
    blocks: dict[CID, bytes] = {}
    root = CID.parse(cid)
    # The exporter is synchronous: fetch the DAG first, each block verified by
    # the source, then assemble (and verify again) from memory.
    if isinstance(source, AsyncGateway):
        for block in await source.get_car(root):
            blocks[block.cid] = block.data
    else:
        from troika.ipfs._car import read_car

        for block in read_car(await source.export_car(root)):
            blocks[block.cid] = block.data
    return await asyncio.to_thread(export_bytes, blocks, root)
