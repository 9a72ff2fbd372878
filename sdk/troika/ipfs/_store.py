"""Block stores: the one interface (``BlockStore``, ``PinningStore``) and ``LocalStore``.

``LocalStore`` is troika's embedded blockstore, the default when no IPFS node
is configured: blocks as files, a pin set, and a garbage collector.

Layout under the store's directory::

    blocks/<2 chars>/<name>    one file per block
    pins.json                  {"pins": [CID strings], "version": 1}
    tmp/                       files being written (renamed into blocks/ when complete)

A block's ``name`` is its multihash in lowercase base32 (no multibase prefix).
Keying by multihash, as Kubo's blockstore does, stores the same bytes once
whether they are addressed as CIDv0 or CIDv1; base32 is safe on file systems
that ignore case. The shard directory is the two characters before the last
one (flatfs's "next-to-last/2" rule): the first characters are the same for
every sha2-256 block (``ciq...``), and the last carries only a few bits of the
digest; the two before it spread blocks evenly over 1024 directories.

Writes are atomic: a block (and the pin file) is written to a temporary file,
flushed to disk (``fsync=True``), then renamed into place, so a reader never
sees half a block and a crash leaves no torn file. Every read is re-hashed
against the CID asked for.

Pins are recursive: :meth:`LocalStore.pin` walks the DAG (links of dag-pb
nodes; raw leaves have none) and refuses a DAG that is not complete.
:meth:`LocalStore.gc` removes every block no pin reaches.

Concurrency (one process; any number of ``LocalStore`` objects on the same
directory share one set of locks):

- ``put``, ``pin``, ``unpin``, ``export_car`` and ``put_car`` run concurrently
  with each other; ``gc`` runs alone: it waits for those in progress, and they
  wait for it.
- A block that is put but not (yet) pinned is garbage to the next ``gc``. To
  add a DAG safely while another thread may collect garbage, put its blocks and
  pin its root inside ``with store.gc_paused():`` (``put_car`` does this itself).
- Another process may put and get at the same time (writes are atomic
  renames), but pins and ``gc`` are not coordinated across processes.

``AsyncLocalStore`` is the asyncio twin: the same methods, awaited, each
running ``LocalStore``'s code in a worker thread (``asyncio.to_thread``), since
file I/O has no event-loop API.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from troika._errors import BlockNotFound, CorruptStore, IncompleteDAG, VerificationError
from troika.ipfs._car import DEFAULT_MAX_BLOCK_SIZE, CARWriter, read_car
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._dag import LEAF_CODECS, links_of_block, walk_dag
from troika.ipfs._importer import ImportSource, _path_error, import_source
from troika.ipfs._multiformats import Multihash, multibase_decode, multibase_encode

__all__ = [
    "AsyncBlockStore",
    "AsyncLocalStore",
    "AsyncPinningStore",
    "BlockStore",
    "LocalStore",
    "PinningStore",
    "car_file",
    "car_of",
]

_IDENTITY = 0x00
_PINS_VERSION = 1
_STALE_TEMP_SECONDS = 3600.0  # a temporary file this old belongs to a crashed write


# -- the interface ---------------------------------------------------------------------


@runtime_checkable
class BlockStore(Protocol):
    """Anything that stores blocks by CID and gives them back verified."""

    def put(self, cid: CIDLike, block: bytes) -> None:
        """Store ``block`` under ``cid`` after checking that it hashes to it."""
        ...

    def get(self, cid: CIDLike) -> bytes:
        """The block's bytes, re-hashed against ``cid``."""
        ...

    def has(self, cid: CIDLike) -> bool:
        """Whether the store holds the block."""
        ...


@runtime_checkable
class PinningStore(BlockStore, Protocol):
    """A block store with a recursive pin set."""

    def pin(self, cid: CIDLike) -> None:
        """Keep the whole DAG under ``cid``."""
        ...

    def unpin(self, cid: CIDLike) -> None:
        """Stop keeping the DAG under ``cid`` (it stays until garbage is collected)."""
        ...

    def pins(self) -> set[CID]:
        """The pinned roots."""
        ...


@runtime_checkable
class AsyncBlockStore(Protocol):
    """The asyncio form of :class:`BlockStore`: the same methods, awaited."""

    async def put(self, cid: CIDLike, block: bytes) -> None:
        """Store ``block`` under ``cid`` after checking that it hashes to it."""
        ...

    async def get(self, cid: CIDLike) -> bytes:
        """The block's bytes, re-hashed against ``cid``."""
        ...

    async def has(self, cid: CIDLike) -> bool:
        """Whether the store holds the block."""
        ...


@runtime_checkable
class AsyncPinningStore(AsyncBlockStore, Protocol):
    """The asyncio form of :class:`PinningStore`."""

    async def pin(self, cid: CIDLike) -> None:
        """Keep the whole DAG under ``cid``."""
        ...

    async def unpin(self, cid: CIDLike) -> None:
        """Stop keeping the DAG under ``cid``."""
        ...

    async def pins(self) -> set[CID]:
        """The pinned roots."""
        ...


# -- layout and pin file (pure) -------------------------------------------------------


def block_file(multihash: Multihash) -> tuple[str, str]:
    """The shard directory and file name of a block, from its multihash.

    Example:
        >>> block_file(CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN").multihash)
        ('mv', 'ciqkk2heatmovwxmsjnmhpa3gyszyd3noaaa24u43emmi2udn5exmvy')
    """
    name = multibase_encode(bytes(multihash), "base32")[1:]
    return name[-3:-1], name


def _multihash_of_file_name(name: str) -> Multihash | None:
    try:
        _, raw = multibase_decode("b" + name)
        multihash, end = Multihash.decode(raw)
    except ValueError:
        return None
    return multihash if end == len(raw) and block_file(multihash)[1] == name else None


def encode_pins(pins: set[CID]) -> bytes:
    """The pin file's bytes: sorted CID strings, so equal sets give equal files."""
    document = {"pins": sorted(str(cid) for cid in pins), "version": _PINS_VERSION}
    return (json.dumps(document, indent=1) + "\n").encode("utf-8")


def decode_pins(raw: bytes) -> set[CID]:
    """Parse a pin file; ``ValueError`` (with the reason) if it is not one."""
    document = json.loads(raw)  # JSONDecodeError is a ValueError
    if not isinstance(document, dict) or document.get("version") != _PINS_VERSION:
        raise ValueError(f"not a version {_PINS_VERSION} pin file")
    pins = document.get("pins")
    if not isinstance(pins, list) or not all(isinstance(pin, str) for pin in pins):
        raise ValueError("'pins' is not a list of CID strings")
    return {CID.parse(pin) for pin in pins}


# -- locks shared by every LocalStore on one directory ---------------------------------

# The gates the current thread or task holds shared, so that gc() inside
# gc_paused() fails at once instead of waiting for itself forever.
_HELD: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "troika_store_gates_held", default=frozenset()
)


class _Gate:
    """Shared by puts, pins and exports; exclusive for gc (a readers-writer lock)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._sharers = 0
        self._exclusive = False

    def acquire_shared(self) -> None:
        with self._condition:
            while self._exclusive:
                self._condition.wait()
            self._sharers += 1

    def release_shared(self) -> None:
        with self._condition:
            self._sharers -= 1
            if not self._sharers:
                self._condition.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        self.acquire_shared()
        token = _HELD.set(_HELD.get() | {id(self)})
        try:
            yield
        finally:
            _HELD.reset(token)
            self.release_shared()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if id(self) in _HELD.get():
            raise RuntimeError("gc() inside gc_paused() (or put_car) would wait for itself")
        with self._condition:
            while self._exclusive or self._sharers:
                self._condition.wait()
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class _Shared:
    def __init__(self) -> None:
        self.gate = _Gate()
        self.pins_lock = threading.Lock()


_SHARED: weakref.WeakValueDictionary[Path, _Shared] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def _shared_for(path: Path) -> _Shared:
    with _SHARED_LOCK:
        shared = _SHARED.get(path)
        if shared is None:
            shared = _Shared()
            _SHARED[path] = shared
        return shared


# -- LocalStore --------------------------------------------------------------------------


class LocalStore:
    """An on-disk blockstore with a recursive pin set; see the module notes for the layout.

    Args:
        path: The store's directory; created (with its parents) if missing.
        fsync: Flush every block and the pin file to disk before renaming them
            into place. Off trades durability after a power cut for speed.

    Raises:
        OSError: The directory cannot be created.

    Example:
        >>> store = LocalStore(tmp_path / "store")
        >>> cid = CID.of(b"hello")
        >>> store.put(cid, b"hello")
        >>> store.get(cid), store.has(cid)
        (b'hello', True)
        >>> store.pin(cid)
        >>> store.gc()  # nothing unpinned to remove
        0
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._blocks = self.path / "blocks"
        self._temp = self.path / "tmp"
        self._pins_file = self.path / "pins.json"
        self._blocks.mkdir(parents=True, exist_ok=True)
        self._temp.mkdir(exist_ok=True)
        self._shared = _shared_for(self.path.resolve())
        with self._shared.pins_lock:
            # A store without a pin file but with blocks has lost its pins: gc
            # would take every block for garbage, so that is an error, not a fresh start.
            if not self._pins_file.exists() and not self._holds_blocks():
                self._write_atomically(self._pins_file, encode_pins(set()), durable=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    # -- files -----------------------------------------------------------------

    def _holds_blocks(self) -> bool:
        return any(any(shard.iterdir()) for shard in self._blocks.iterdir() if shard.is_dir())

    def _block_path(self, cid: CID) -> Path:
        shard, name = block_file(cid.multihash)
        return self._blocks / shard / name

    def _write_atomically(self, path: Path, data: bytes, *, durable: bool) -> None:
        path.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._temp, prefix=f"{path.name[:20]}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                if durable:
                    file.flush()
                    os.fsync(file.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if durable and path == self._pins_file:
            _fsync_directory(path.parent)

    def _verified(self, cid: CID, data: bytes, source: str) -> bytes:
        try:
            matches = cid.verify(data)
        except ValueError as exc:  # a hash function troika cannot compute
            raise VerificationError(cid, source, str(exc)) from exc
        if not matches:
            raise VerificationError(cid, source)
        return data

    def _load_pins(self) -> set[CID]:
        try:
            raw = self._pins_file.read_bytes()
        except FileNotFoundError:
            raise CorruptStore(
                str(self._pins_file), "it is missing, but the store holds blocks"
            ) from None
        try:
            return decode_pins(raw)
        except ValueError as exc:
            raise CorruptStore(str(self._pins_file), str(exc)) from exc

    # -- blocks ----------------------------------------------------------------

    def put(self, cid: CIDLike, block: bytes | bytearray | memoryview) -> None:
        """Store a block, after checking that it hashes to ``cid``.

        Idempotent: a block already stored intact is not written again (a
        damaged copy is replaced). The block is not pinned: see :meth:`pin`.

        Raises:
            VerificationError: ``block`` does not hash to ``cid``.
            InvalidCID: ``cid`` is not a CID.

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", b"hello")
            >>> try:
            ...     store.put(CID.of(b"hello"), b"jello")
            ... except VerificationError as error:
            ...     print(error.source)
            the block given to put
        """
        cid = CID.parse(cid)
        data = self._verified(cid, bytes(block), "the block given to put")
        self._store_verified(cid, data)

    def _store_verified(self, cid: CID, data: bytes) -> None:
        if cid.multihash.code == _IDENTITY:
            return  # the CID holds the data itself
        path = self._block_path(cid)
        with self._shared.gate.shared():
            if self._intact(cid, path):
                return
            self._write_atomically(path, data, durable=self.fsync)

    def _intact(self, cid: CID, path: Path) -> bool:
        try:
            return cid.verify(path.read_bytes())
        except FileNotFoundError:
            return False

    def get(self, cid: CIDLike) -> bytes:
        """A block's bytes, re-hashed against ``cid`` on every read.

        Raises:
            BlockNotFound: the store does not hold the block.
            VerificationError: the file on disk no longer matches ``cid``.

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put(CID.of(b"hello"), b"hello")
            >>> store.get("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq")
            b'hello'
        """
        cid = CID.parse(cid)
        if cid.multihash.code == _IDENTITY:
            return cid.multihash.digest
        path = self._block_path(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlockNotFound(cid, repr(self)) from None
        return self._verified(cid, data, repr(path.as_posix()))

    def has(self, cid: CIDLike) -> bool:
        """Whether the store holds the block (without reading it).

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.has(CID.of(b"never put"))
            False
        """
        cid = CID.parse(cid)
        return cid.multihash.code == _IDENTITY or self._block_path(cid).is_file()

    # -- pins and garbage --------------------------------------------------------

    def _require_complete(self, root: CID) -> None:
        """Walk the DAG under ``root``; raise if any block is missing or damaged."""

        def visit(cid: CID) -> Sequence[CID]:
            if cid.codec_code in LEAF_CODECS and cid.multihash.code != _IDENTITY:
                if not self._block_path(cid).is_file():
                    raise IncompleteDAG(root, cid, repr(self))
                return ()
            try:
                return links_of_block(cid, self.get(cid))
            except BlockNotFound:
                raise IncompleteDAG(root, cid, repr(self)) from None

        walk_dag([root], visit)

    def pin(self, cid: CIDLike) -> None:
        """Pin the DAG under ``cid`` recursively, so :meth:`gc` keeps all of it.

        The whole DAG must be in the store: every dag-pb node is read and
        verified (for its links), every raw leaf must exist. Pinning a pinned
        CID does nothing. Pins are kept as given: ``Qm...`` and the same
        content as ``bafy...`` are two pins.

        Raises:
            IncompleteDAG: a block of the DAG is not in the store (nothing is pinned).
            UnreadableBlock: a block's codec is not dag-pb or raw, or it is malformed.
            VerificationError: a stored block is damaged.
            CorruptStore: the pin file is damaged.

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put(CID.of(b"hello"), b"hello")
            >>> store.pin(CID.of(b"hello"))
            >>> [str(pin) for pin in store.pins()]
            ['bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq']
        """
        root = CID.parse(cid)
        with self._shared.gate.shared():
            self._require_complete(root)
            with self._shared.pins_lock:
                pins = self._load_pins()
                if root not in pins:
                    self._write_atomically(
                        self._pins_file, encode_pins(pins | {root}), durable=True
                    )

    def unpin(self, cid: CIDLike) -> None:
        """Remove a pin; its blocks stay until :meth:`gc`. Unpinning an unpinned CID does nothing.

        Raises:
            CorruptStore: the pin file is damaged.

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put(CID.of(b"hello"), b"hello")
            >>> store.pin(CID.of(b"hello"))
            >>> store.unpin(CID.of(b"hello"))
            >>> store.pins(), store.gc()
            (set(), 1)
        """
        root = CID.parse(cid)
        with self._shared.gate.shared(), self._shared.pins_lock:
            pins = self._load_pins()
            if root in pins:
                self._write_atomically(self._pins_file, encode_pins(pins - {root}), durable=True)

    def pins(self) -> set[CID]:
        """The pinned roots, as they were given to :meth:`pin`.

        Raises:
            CorruptStore: the pin file is damaged.

        Example:
            >>> LocalStore(tmp_path / "store").pins()
            set()
        """
        with self._shared.pins_lock:
            return self._load_pins()

    @contextmanager
    def gc_paused(self) -> Iterator[None]:
        """Hold off :meth:`gc` while the block is open, e.g. between putting a DAG and pinning it.

        Calling :meth:`gc` inside the block raises ``RuntimeError`` (it would
        wait for itself).

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> with store.gc_paused():
            ...     store.put(CID.of(b"hello"), b"hello")
            ...     store.pin(CID.of(b"hello"))
        """
        with self._shared.gate.shared():
            yield

    def gc(self) -> int:
        """Remove every block that no pin reaches; returns how many were removed.

        Runs alone: it waits for puts, pins and exports in progress, and they
        wait for it. If a pinned DAG has lost a block (a file deleted or
        damaged behind troika's back), nothing is removed and the error says
        which block: the blocks under it cannot be told apart from garbage.
        Temporary files left by crashed writes (older than an hour) go too.

        Raises:
            IncompleteDAG: a pinned DAG misses a block (nothing is removed).
            VerificationError: a pinned block is damaged (nothing is removed).
            CorruptStore: the pin file is damaged (nothing is removed).
            RuntimeError: called inside :meth:`gc_paused`.

        Example:
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put(CID.of(b"kept"), b"kept")
            >>> store.put(CID.of(b"garbage"), b"garbage")
            >>> store.pin(CID.of(b"kept"))
            >>> store.gc(), store.has(CID.of(b"kept")), store.has(CID.of(b"garbage"))
            (1, True, False)
        """
        with self._shared.gate.exclusive():
            live: set[str] = set()
            for root in self._load_pins():

                def visit(cid: CID, root: CID = root) -> Sequence[CID]:
                    if cid.multihash.code != _IDENTITY:
                        live.add(block_file(cid.multihash)[1])
                    if cid.codec_code in LEAF_CODECS:
                        return ()
                    try:
                        return links_of_block(cid, self.get(cid))
                    except BlockNotFound:
                        raise IncompleteDAG(root, cid, repr(self)) from None

                walk_dag([root], visit)
            removed = 0
            for shard in self._blocks.iterdir():
                if not shard.is_dir():
                    continue
                for file in shard.iterdir():
                    if file.name in live or _multihash_of_file_name(file.name) is None:
                        continue
                    file.unlink(missing_ok=True)
                    removed += 1
            stale = time.time() - _STALE_TEMP_SECONDS
            for file in self._temp.iterdir():
                if file.stat().st_mtime < stale:
                    file.unlink(missing_ok=True)
            return removed

    # -- CAR files -----------------------------------------------------------------

    def put_car(
        self,
        stream: IO[bytes],
        *,
        pin_roots: bool = True,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    ) -> tuple[CID, ...]:
        """Store every block of a CAR (each verified), then pin its roots.

        ``gc`` is held off until the roots are pinned. If the CAR turns out bad
        halfway, the blocks before the fault stay stored but unpinned (the next
        ``gc`` removes them), and nothing is pinned.

        Args:
            stream: A binary stream with a CARv1 (or CARv2).
            pin_roots: Pin each root (which requires its whole DAG in the store).
            max_block_size: Refuse blocks larger than this.

        Returns:
            The CAR's roots.

        Raises:
            CARError: The CAR is truncated, malformed or tampered with.
            IncompleteDAG: ``pin_roots`` and a root's DAG is not complete.

        Example:
            >>> import io
            >>> from troika.ipfs import write_car
            >>> car = io.BytesIO()
            >>> _ = write_car(car, [CID.of(b"hello")], [(CID.of(b"hello"), b"hello")])
            >>> store = LocalStore(tmp_path / "store")
            >>> roots = store.put_car(io.BytesIO(car.getvalue()))
            >>> store.pins() == set(roots) == {CID.of(b"hello")}
            True
        """
        with self.gc_paused():
            reader = read_car(stream, max_block_size=max_block_size)
            for block in reader:  # each already verified by the reader
                self._store_verified(block.cid, block.data)
            if pin_roots:
                for root in reader.roots:
                    self.pin(root)
        return reader.roots

    def export_car(
        self, root: CIDLike, stream: IO[bytes], *, max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    ) -> int:
        """Write the DAG under ``root`` as a CARv1, blocks in Kubo's ``dag export`` order.

        Blocks come depth first, parents before children, each once, as Kubo
        writes them; so the CAR of a DAG is byte for byte the one Kubo exports.
        Every block is verified as it is read.

        Returns:
            The number of blocks written.

        Raises:
            IncompleteDAG: a block of the DAG is not in the store (the stream
                then holds a partial CAR).
            UnreadableBlock: a block's codec is not dag-pb or raw.
            VerificationError: a stored block is damaged.

        Example:
            >>> import io
            >>> store = LocalStore(tmp_path / "store")
            >>> store.put(CID.of(b"hello"), b"hello")
            >>> car = io.BytesIO()
            >>> store.export_car(CID.of(b"hello"), car)
            1
            >>> [block.data for block in read_car(car.getvalue())]
            [b'hello']
        """
        root = CID.parse(root)
        with self._shared.gate.shared():
            writer = CARWriter(stream, [root], verify=False, max_block_size=max_block_size)

            def visit(cid: CID) -> Sequence[CID]:
                try:
                    block = self.get(cid)
                except BlockNotFound:
                    raise IncompleteDAG(root, cid, repr(self)) from None
                writer.write(cid, block)
                return links_of_block(cid, block)

            walk_dag([root], visit)
        return writer.blocks_written


def car_of(
    source: ImportSource,
    stream: IO[bytes],
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
    workdir: str | os.PathLike[str] | None = None,
) -> CID:
    """Import ``source`` as ``ipfs add`` does and write its DAG to ``stream`` as a CARv1.

    The CAR is byte for byte what ``ipfs add`` then ``ipfs dag export`` give:
    one root, blocks root first and depth first, each once. The importer finds
    the root last, so the blocks wait in a temporary :class:`LocalStore` (in
    ``workdir``, else the system's temporary directory) until the root is
    known: memory stays bounded, and the disk briefly holds the DAG once more.

    Args:
        source: Bytes, or a path to a file, symlink or folder (imported recursively).
        stream: A binary stream to write the CAR to.
        profile, cid_version, raw_leaves, chunk_size, hidden, follow_symlinks:
            As for :func:`troika.ipfs.cid_of`.
        workdir: Where the temporary store goes.

    Returns:
        The root CID, as :func:`troika.ipfs.cid_of` gives it.

    Raises:
        PathNotFound, PathUnreadable, SymlinkLoop, PathError: See
            :func:`troika.ipfs.import_path`.
        ConfigError: A profile or knob that does not exist.

    Example:
        >>> import io
        >>> car = io.BytesIO()
        >>> str(car_of(b"hello\\n", car))
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
        >>> car.getvalue() == ipfs.dag_export(ipfs.add(b"hello\\n"))
        True
    """
    blocks = import_source(
        source,
        profile=profile,
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
        hidden=hidden,
        follow_symlinks=follow_symlinks,
    )
    with tempfile.TemporaryDirectory(prefix="troika-car-", dir=workdir) as scratch:
        store = LocalStore(scratch, fsync=False)
        while True:
            try:
                block = next(blocks)
            except StopIteration as done:
                root: CID = done.value
                break
            store._store_verified(block.cid, block.data)  # the importer hashed it
        store.export_car(root, stream)
    return root


def car_file(
    source: ImportSource,
    output: str | os.PathLike[str],
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
) -> CID:
    """:func:`car_of` into the file ``output``, which appears only when complete.

    The CAR is written next to ``output`` under a temporary name and renamed
    into place at the end, so a failed import leaves nothing behind (and an
    existing ``output`` is replaced only by a whole CAR).

    Raises:
        PathError: ``output``'s folder cannot be written (and what :func:`car_of` raises).

    Example:
        >>> str(car_file(b"hello\\n", tmp_path / "hello.car"))
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
    """
    target = Path(output)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as exc:
        raise _path_error(str(target.parent), exc) from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            root = car_of(
                source,
                stream,
                profile=profile,
                cid_version=cid_version,
                raw_leaves=raw_leaves,
                chunk_size=chunk_size,
                hidden=hidden,
                follow_symlinks=follow_symlinks,
                workdir=target.parent,
            )
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return root


def _fsync_directory(path: Path) -> None:
    # Makes a rename durable on POSIX; directories cannot be opened on Windows.
    if os.name != "posix":  # pragma: no cover
        return
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


# -- AsyncLocalStore -------------------------------------------------------------------


class AsyncLocalStore:
    """The asyncio twin of :class:`LocalStore`: the same methods, awaited.

    Each call runs :class:`LocalStore`'s code in a worker thread, so the event
    loop never waits on the disk. It shares locks with every ``LocalStore`` on
    the same directory.

    Args:
        path: The store's directory; created if missing.
        fsync: As for :class:`LocalStore`.

    Example:
        >>> async def roundtrip() -> bytes:
        ...     store = AsyncLocalStore(tmp_path / "store")
        ...     await store.put(CID.of(b"hello"), b"hello")
        ...     await store.pin(CID.of(b"hello"))
        ...     return await store.get(CID.of(b"hello"))
        >>> asyncio.run(roundtrip())
        b'hello'
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._store = LocalStore(path, fsync=fsync)

    @property
    def path(self) -> Path:
        """The store's directory."""
        return self._store.path

    def __repr__(self) -> str:
        return f"AsyncLocalStore({str(self.path)!r})"

    async def put(self, cid: CIDLike, block: bytes | bytearray | memoryview) -> None:
        """Store a block after checking it; see :meth:`LocalStore.put`."""
        await asyncio.to_thread(self._store.put, cid, block)

    async def get(self, cid: CIDLike) -> bytes:
        """A block's bytes, verified; see :meth:`LocalStore.get`."""
        return await asyncio.to_thread(self._store.get, cid)

    async def has(self, cid: CIDLike) -> bool:
        """Whether the store holds the block; see :meth:`LocalStore.has`."""
        return await asyncio.to_thread(self._store.has, cid)

    async def pin(self, cid: CIDLike) -> None:
        """Pin a complete DAG recursively; see :meth:`LocalStore.pin`."""
        await asyncio.to_thread(self._store.pin, cid)

    async def unpin(self, cid: CIDLike) -> None:
        """Remove a pin; see :meth:`LocalStore.unpin`."""
        await asyncio.to_thread(self._store.unpin, cid)

    async def pins(self) -> set[CID]:
        """The pinned roots; see :meth:`LocalStore.pins`."""
        return await asyncio.to_thread(self._store.pins)

    async def gc(self) -> int:
        """Remove unpinned blocks; see :meth:`LocalStore.gc`."""
        return await asyncio.to_thread(self._store.gc)

    def gc_paused(self) -> AbstractAsyncContextManager[None]:
        """Hold off :meth:`gc` inside ``async with``; see :meth:`LocalStore.gc_paused`.

        Example:
            >>> async def add(store: AsyncLocalStore) -> set[CID]:
            ...     async with store.gc_paused():
            ...         await store.put(CID.of(b"hello"), b"hello")
            ...         await store.pin(CID.of(b"hello"))
            ...     return await store.pins()
            >>> asyncio.run(add(AsyncLocalStore(tmp_path / "store"))) == {CID.of(b"hello")}
            True
        """
        return self._gc_paused()

    @asynccontextmanager
    async def _gc_paused(self) -> AsyncIterator[None]:
        gate = self._store._shared.gate
        await asyncio.to_thread(gate.acquire_shared)
        token = _HELD.set(_HELD.get() | {id(gate)})
        try:
            yield
        finally:
            _HELD.reset(token)
            gate.release_shared()

    async def put_car(
        self,
        stream: IO[bytes],
        *,
        pin_roots: bool = True,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    ) -> tuple[CID, ...]:
        """Store and pin a CAR read from a binary stream; see :meth:`LocalStore.put_car`."""
        return await asyncio.to_thread(
            self._store.put_car, stream, pin_roots=pin_roots, max_block_size=max_block_size
        )

    async def export_car(
        self, root: CIDLike, stream: IO[bytes], *, max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    ) -> int:
        """Write the DAG under ``root`` as a CAR; see :meth:`LocalStore.export_car`."""
        return await asyncio.to_thread(
            self._store.export_car, root, stream, max_block_size=max_block_size
        )
