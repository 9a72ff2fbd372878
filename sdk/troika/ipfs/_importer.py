"""The UnixFS importer: bytes, files and folders into blocks, exactly as Kubo builds them.

What ``ipfs add`` does, rebuilt from Kubo 0.43's sources (boxo's
``importer/balanced``, ``importer/helpers``, ``unixfs/io/directory.go``,
``unixfs/hamt`` and Kubo's ``core/commands/add.go``) so that every CID is
byte-identical to Kubo's for the same input and options:

- **Files**: a fixed-size chunker; one leaf per chunk (a raw block, or a
  dag-pb UnixFS ``File`` node that carries the chunk and its ``filesize``);
  internal nodes are UnixFS ``File`` nodes with ``filesize``, ``blocksizes``
  and unnamed links whose Tsize is the cumulative serialized size below them.
  The layout is boxo's balanced one: the first leaf becomes the root, and each
  time the data outgrows the tree, a new root takes the old one as its first
  child and fills up with subtrees of the old depth (at most ``max_links``
  links a node). A file of one chunk is that one leaf: with raw leaves its CID
  is a raw CIDv1 whatever the CID version. The empty file is one empty leaf.
- **Folders**: a UnixFS ``Directory`` node whose links are sorted by the bytes
  of their names, Tsize as above; above 256 KiB (measured the way the profile
  says: Kubo's legacy "links" estimate, name plus CID bytes, or the "block"
  size of the serialized node) a HAMT-sharded directory (fanout 256,
  murmur3-x64-64 of the name), as boxo builds it.
- **Symlinks** are kept as UnixFS ``Symlink`` nodes holding the target (Kubo's
  default); ``follow_symlinks=True`` imports what they point to instead
  (``--dereference-symlinks``). **Hidden** entries (names that start with
  ``.``) inside a folder are skipped unless ``hidden=True`` (``--hidden``); the
  path you pass is imported even if its own name starts with a dot. Other file
  types (FIFOs, sockets, devices) are refused, as Kubo refuses them.

The core is pure: bytes or a readable stream in, blocks out, one chunk in
memory at a time (the file layout takes its chunks pushed in, so a tee can
hash the very bytes it sends elsewhere: :class:`_FileHasher`). Only
:func:`import_path` touches the file system, and only to read. Blocks come
out as soon as they are known, children before their parents, the root last;
content that repeats gives the same block again (a store keeps one copy).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol, TypeAlias, cast

from troika._errors import ConfigError, PathError, PathNotFound, PathUnreadable, SymlinkLoop
from troika.ipfs._car import Block
from troika.ipfs._cid import CID
from troika.ipfs._dagpb import UnixFSData, UnixFSType
from troika.ipfs._multiformats import Multihash, varint

__all__ = [
    "MAX_CHUNK_SIZE",
    "PROFILES",
    "ImportProfile",
    "ImportSource",
    "ReadableStream",
    "cid_of",
    "import_bytes",
    "import_path",
    "import_source",
    "import_stream",
]

MAX_CHUNK_SIZE = 2096896
"""The largest chunk Kubo accepts: 2 MiB minus 256 bytes for framing (boxo's ChunkSizeLimit)."""

_DAG_PB = 0x70
_RAW = 0x55
_SHA2_256 = 0x12
_MURMUR3_X64_64 = 0x22
_HAMT_FANOUT = 256  # both profiles; one byte of the name's hash per level
_HAMT_THRESHOLD = 262144  # boxo's HAMTShardingSize: 256 KiB
_DIRECTORY_DATA = UnixFSData(UnixFSType.DIRECTORY).encode()


@dataclass(frozen=True, slots=True)
class ImportProfile:
    """A named set of import options, as Kubo's ``Import.*`` configuration sets them.

    Attributes:
        name: The profile's name in troika.
        cid_version: The CID version of dag-pb nodes.
        raw_leaves: Raw leaf blocks; None means "as the CID version implies"
            (on for CIDv1, off for CIDv0), which is Kubo's default.
        chunk_size: Bytes per chunk (the fixed-size chunker).
        max_links: Links per internal file node (Kubo's ``UnixFSFileMaxLinks``).
        hamt_size_estimation: How a folder's size is measured against the
            256 KiB sharding threshold: ``"links"`` (name plus CID bytes of every
            link, Kubo's legacy estimate) or ``"block"`` (the serialized node).

    Example:
        >>> PROFILES["v1-2025"].chunk_size
        1048576
    """

    name: str
    cid_version: int
    raw_leaves: bool | None
    chunk_size: int
    max_links: int
    hamt_size_estimation: Literal["links", "block"]


PROFILES: Mapping[str, ImportProfile] = MappingProxyType(
    {
        # Kubo's defaults (an empty Import config), the same CIDs as the
        # unixfs-v0-2015 profile; --cid-version=1 then implies raw leaves.
        "kubo-v0": ImportProfile("kubo-v0", 0, None, 262144, 174, "links"),
        # Kubo's unixfs-v1-2025 profile (IPIP-499).
        "v1-2025": ImportProfile("v1-2025", 1, True, 1048576, 1024, "block"),
    }
)
"""The import profiles by name: ``kubo-v0`` (Kubo's default) and ``v1-2025``."""


class ReadableStream(Protocol):
    """A readable binary stream: anything with ``read(size)`` that returns bytes.

    An open file (``open(path, "rb")``), ``io.BytesIO``, or a reader of your own
    (an ``io.RawIOBase`` subclass with ``readinto``, say) that makes its bytes on
    the fly. troika reads it once, to its end, a piece at a time; short reads
    are fine. A stream that also has ``readinto`` is read into one reused buffer.
    Its size need not be known. An object without ``read``, a text stream or a
    file not open for reading is refused with ``TypeError`` (a misuse, not an
    IPFS failure); what ``read`` itself raises reaches the caller unchanged.

    Example:
        >>> import io
        >>> str(cid_of(io.BytesIO(b"hello\\n")))
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
    """

    def read(self, size: int, /) -> bytes | None:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


#: What :func:`cid_of` takes: content (bytes), a path to a file or folder, or a
#: readable binary stream (read once, to its end, as one file's content).
ImportSource: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str] | ReadableStream


@dataclass(frozen=True, slots=True)
class _Settings:
    """Import options after the profile and the knobs are resolved."""

    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int
    block_estimation: bool
    hamt_threshold: int = _HAMT_THRESHOLD


def _resolve(
    profile: str, cid_version: int | None, raw_leaves: bool | None, chunk_size: int | None
) -> _Settings:
    """Kubo's option precedence: a knob beats the profile; CIDv1 implies raw leaves.

    In Kubo, ``--cid-version=1`` turns raw leaves on unless ``--raw-leaves`` is
    given or the configuration sets ``Import.UnixFSRawLeaves`` (as the
    ``unixfs-v1-2025`` profile does, to true).
    """
    chosen = PROFILES.get(profile) if isinstance(profile, str) else None
    if chosen is None:
        raise ConfigError("profile", profile, f"known profiles: {', '.join(PROFILES)}")
    version = chosen.cid_version if cid_version is None else cid_version
    if type(version) is not int or version not in (0, 1):
        raise ConfigError("cid_version", cid_version, "the CID version is 0 or 1")
    if raw_leaves is not None and not isinstance(raw_leaves, bool):
        raise ConfigError("raw_leaves", raw_leaves, "expected True, False or None")
    if raw_leaves is None:
        raw_leaves = chosen.raw_leaves if chosen.raw_leaves is not None else version == 1
    size = chosen.chunk_size if chunk_size is None else chunk_size
    if type(size) is not int or not 1 <= size <= MAX_CHUNK_SIZE:
        raise ConfigError(
            "chunk_size", chunk_size, f"a chunk is 1 to {MAX_CHUNK_SIZE} bytes, as in Kubo"
        )
    return _Settings(
        cid_version=version,
        raw_leaves=raw_leaves,
        chunk_size=size,
        max_links=chosen.max_links,
        block_estimation=chosen.hamt_size_estimation == "block",
    )


# -- chunks: a fixed-size splitter ---------------------------------------------------


def _memory_chunks(data: memoryview, size: int) -> Iterator[memoryview]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _stream_chunks(stream: ReadableStream, size: int) -> Iterator[memoryview]:
    """Chunks read into one reused buffer: memory stays one chunk whatever the size.

    Each chunk is valid until the next one is asked for.
    """
    view = memoryview(bytearray(size))
    readinto = getattr(stream, "readinto", None)
    into: Callable[[memoryview], int | None] = (
        readinto if callable(readinto) else _reader_into(stream)
    )
    while True:
        got = 0
        while got < size:
            count = into(view[got:])
            if count is None:
                raise _would_block(stream)
            if not count:
                break
            got += count
        if got:
            yield view[:got]
        if got < size:
            return


def _would_block(stream: object) -> TypeError:
    return TypeError(
        f"{stream!r} returned None: it is a non-blocking stream with no data ready; "
        "troika reads blocking streams only"
    )


def _checked_piece(stream: object, data: object) -> bytes | bytearray | memoryview:
    if data is None:
        raise _would_block(stream)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(
            f"{stream!r} returned {type(data).__name__}, not bytes: open it in binary mode ('rb')"
        )
    return data


def _reader_into(stream: ReadableStream) -> Callable[[memoryview], int]:
    def readinto(view: memoryview) -> int:
        data = _checked_piece(stream, stream.read(len(view)))
        view[: len(data)] = data
        return len(data)

    return readinto


def _read_pieces(stream: ReadableStream, size: int) -> Iterator[bytes]:
    """``stream``'s bytes in pieces of ``size`` (the last one shorter), each read once.

    Short reads are gathered into whole pieces, so that what goes on to the
    network comes in large pieces whatever the stream's own read sizes.
    """
    read = stream.read
    while True:
        data = _checked_piece(stream, read(size))
        if len(data) == size:
            yield bytes(data)
            continue
        if not data:
            return
        parts, got = [bytes(data)], len(data)
        while got < size:
            more = _checked_piece(stream, read(size - got))
            if not more:
                break
            parts.append(bytes(more))
            got += len(more)
        yield b"".join(parts)
        if got < size:
            return


def _readable_stream(source: object, caller: str) -> ReadableStream:
    """``source`` if it is a readable binary stream, else a ``TypeError`` that says why."""
    read = getattr(source, "read", None)
    if not callable(read):
        raise TypeError(
            f"{caller}() takes bytes, a path or a readable binary stream, "
            f"not {type(source).__name__} ({source!r})"
        )
    if isinstance(source, io.TextIOBase):
        raise TypeError(
            f"{caller}() needs a binary stream, not the text stream {source!r}: open it with 'rb'"
        )
    readable = getattr(source, "readable", None)
    if callable(readable) and not readable():
        raise TypeError(f"{caller}() cannot read {source!r}: it is not open for reading ('rb')")
    return cast(ReadableStream, source)


# -- dag-pb encoding and the DAG builder --------------------------------------------


class _Link(NamedTuple):
    """What a parent needs of a child: its CID, Tsize and the file bytes under it."""

    cid: CID
    tsize: int
    filesize: int


def _encode_node(links: Iterable[tuple[bytes, CID, int]], data: bytes) -> bytes:
    """Canonical dag-pb, as go-codec-dagpb writes Kubo's nodes.

    Every link carries its Name (possibly empty) and Tsize; names are bytes
    because Kubo stores file names as the raw bytes the file system gives.
    """
    out = bytearray()
    for name, cid, tsize in links:
        target = bytes(cid)
        body = b"".join(
            (
                b"\x0a",
                varint(len(target)),
                target,
                b"\x12",
                varint(len(name)),
                name,
                b"\x18",
                varint(tsize),
            )
        )
        out += b"\x12" + varint(len(body)) + body
    out += b"\x0a" + varint(len(data)) + data
    return bytes(out)


def _murmur3_x64_64(data: bytes) -> bytes:
    """The first 64 bits of MurmurHash3_x64_128 (seed 0), big-endian: boxo's HAMT hash."""
    mask = 0xFFFFFFFFFFFFFFFF
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F

    def rotl(value: int, shift: int) -> int:
        return ((value << shift) | (value >> (64 - shift))) & mask

    def fmix(value: int) -> int:
        value ^= value >> 33
        value = (value * 0xFF51AFD7ED558CCD) & mask
        value ^= value >> 33
        value = (value * 0xC4CEB9FE1A85EC53) & mask
        return value ^ (value >> 33)

    h1 = h2 = 0
    blocks = len(data) // 16
    for index in range(blocks):
        k1 = int.from_bytes(data[16 * index : 16 * index + 8], "little")
        k2 = int.from_bytes(data[16 * index + 8 : 16 * index + 16], "little")
        h1 ^= (rotl((k1 * c1) & mask, 31) * c2) & mask
        h1 = (rotl(h1, 27) + h2) & mask
        h1 = (h1 * 5 + 0x52DCE729) & mask
        h2 ^= (rotl((k2 * c2) & mask, 33) * c1) & mask
        h2 = (rotl(h2, 31) + h1) & mask
        h2 = (h2 * 5 + 0x38495AB5) & mask
    tail = data[16 * blocks :]
    if len(tail) > 8:
        h2 ^= (rotl((int.from_bytes(tail[8:], "little") * c2) & mask, 33) * c1) & mask
    if tail:
        h1 ^= (rotl((int.from_bytes(tail[:8], "little") * c1) & mask, 31) * c2) & mask
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & mask
    h2 = (h2 + h1) & mask
    h1, h2 = fmix(h1), fmix(h2)
    return ((h1 + h2) & mask).to_bytes(8, "big")


@dataclass
class _Builder:
    """Builds the blocks of files and folders; pure, no I/O of its own.

    Each method is a generator that yields blocks (only when ``keep``; hashing
    alone needs none) and returns the :class:`_Link` to what it built.
    """

    settings: _Settings
    keep: bool
    _frames: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)

    def _node_cid(self, digest: bytes) -> CID:
        return CID(self.settings.cid_version, _DAG_PB, Multihash(_SHA2_256, digest))

    def _block(self, raw: bytes, links_tsize: int) -> tuple[_Link, Block | None]:
        cid = self._node_cid(hashlib.sha256(raw).digest())
        return _Link(cid, len(raw) + links_tsize, 0), (Block(cid, raw) if self.keep else None)

    # -- files --------------------------------------------------------------

    def _frame(self, size: int) -> tuple[bytes, bytes]:
        """The bytes around a chunk in its dag-pb leaf (PBNode.Data = UnixFS File)."""
        frame = self._frames.get(size)
        if frame is None:
            if size == 0:  # the empty file: Data absent, filesize 0
                frame = (bytes.fromhex("0a0408021800"), b"")
            else:
                length = varint(size)
                inner = 3 + len(length) + size + 1 + len(length)
                frame = (b"\x0a" + varint(inner) + b"\x08\x02\x12" + length, b"\x18" + length)
            if len(self._frames) < 4:
                self._frames[size] = frame
        return frame

    def leaf(self, chunk: memoryview) -> Generator[Block, None, _Link]:
        size = len(chunk)
        if self.settings.raw_leaves:
            cid = CID(1, _RAW, Multihash(_SHA2_256, hashlib.sha256(chunk).digest()))
            if self.keep:
                yield Block(cid, bytes(chunk))
            return _Link(cid, size, size)
        head, tail = self._frame(size)
        digest = hashlib.sha256(head)
        digest.update(chunk)
        digest.update(tail)
        cid = self._node_cid(digest.digest())
        if self.keep:
            yield Block(cid, b"".join((head, chunk, tail)))
        return _Link(cid, len(head) + size + len(tail), size)

    def file(self, chunks: Iterable[memoryview]) -> Generator[Block, None, _Link]:
        """boxo's ``balanced.Layout`` of the chunks."""
        layout = _FileLayout(self)
        for chunk in chunks:
            yield from layout.push(chunk)
        return (yield from layout.finish())

    def node(self, children: list[_Link]) -> Generator[Block, None, _Link]:
        """An internal file node over ``children``."""
        sizes = tuple(child.filesize for child in children)
        data = UnixFSData(UnixFSType.FILE, filesize=sum(sizes), blocksizes=sizes).encode()
        raw = _encode_node(((b"", child.cid, child.tsize) for child in children), data)
        link, block = self._block(raw, sum(child.tsize for child in children))
        if block is not None:
            yield block
        return link._replace(filesize=sum(sizes))

    # -- symlinks and folders ------------------------------------------------

    def symlink(self, target: bytes) -> Generator[Block, None, _Link]:
        raw = _encode_node((), UnixFSData(UnixFSType.SYMLINK, data=target).encode())
        link, block = self._block(raw, 0)
        if block is not None:
            yield block
        return link

    def directory(
        self, entries: list[tuple[bytes, _Link]], where: str
    ) -> Generator[Block, None, _Link]:
        """A basic directory, or a HAMT once it is bigger than the threshold.

        Kubo decides while it adds entries one by one, but sizes only grow, so
        the decision on the final entries is the same one.
        """
        entries.sort(key=lambda entry: entry[0])
        links = ((name, link.cid, link.tsize) for name, link in entries)
        raw = _encode_node(links, _DIRECTORY_DATA)
        if self.settings.block_estimation:
            size = len(raw)
        else:
            size = sum(len(name) + len(bytes(link.cid)) for name, link in entries)
        if size > self.settings.hamt_threshold:
            hashed = [(_murmur3_x64_64(name), name, link) for name, link in entries]
            return (yield from self._shard(hashed, 0, where))
        link, block = self._block(raw, sum(link.tsize for _, link in entries))
        if block is not None:
            yield block
        return link

    def _shard(
        self, entries: list[tuple[bytes, bytes, _Link]], level: int, where: str
    ) -> Generator[Block, None, _Link]:
        """One node of boxo's HAMT: slot = the next byte of the name's hash."""
        if level == 8:
            raise PathError(where, "two names in it have the same 64-bit hash; Kubo fails too")
        buckets: dict[int, list[tuple[bytes, bytes, _Link]]] = {}
        for entry in entries:
            buckets.setdefault(entry[0][level], []).append(entry)
        links: list[tuple[bytes, CID, int]] = []
        bitfield = 0
        for slot in sorted(buckets):
            bitfield |= 1 << slot
            bucket = buckets[slot]
            if len(bucket) == 1:
                _, name, link = bucket[0]
                links.append((b"%02X" % slot + name, link.cid, link.tsize))
            else:
                child = yield from self._shard(bucket, level + 1, where)
                links.append((b"%02X" % slot, child.cid, child.tsize))
        data = UnixFSData(
            UnixFSType.HAMT_SHARD,
            data=bitfield.to_bytes((bitfield.bit_length() + 7) // 8, "big"),
            hash_type=_MURMUR3_X64_64,
            fanout=_HAMT_FANOUT,
        ).encode()
        link, block = self._block(_encode_node(links, data), sum(tsize for _, _, tsize in links))
        if block is not None:
            yield block
        return link


class _FileLayout:
    """boxo's balanced layout, fed one chunk at a time (so a tee can push chunks in).

    boxo grows the tree from the top: the first leaf is the root, and each
    time the data outgrows the tree, a new root takes the old one as its first
    child and fills up with subtrees of the old depth. That is the same tree
    as filling it from the bottom: a node is complete when it has ``max_links``
    children (then it becomes a child one level up), and at the end the
    partial nodes are closed from the bottom up; the topmost lone node is the
    root (a file of one chunk is its one leaf). Blocks come out in boxo's order.
    """

    def __init__(self, builder: _Builder) -> None:
        self._builder = builder
        self._levels: list[list[_Link]] = [[]]  # [0]: leaves waiting for their parent

    def push(self, chunk: memoryview) -> Generator[Block, None, None]:
        link = yield from self._builder.leaf(chunk)
        levels, level = self._levels, 0
        while True:
            levels[level].append(link)
            if len(levels[level]) < self._builder.settings.max_links:
                return
            link = yield from self._builder.node(levels[level])
            levels[level] = []
            level += 1
            if level == len(levels):
                levels.append([])

    def finish(self) -> Generator[Block, None, _Link]:
        levels = self._levels
        top = max((level for level, links in enumerate(levels) if links), default=None)
        if top is None:  # the empty file: one empty leaf
            return (yield from self._builder.leaf(memoryview(b"")))
        for level in range(top):
            if levels[level]:
                link = yield from self._builder.node(levels[level])
                levels[level] = []
                levels[level + 1].append(link)
        if len(levels[top]) == 1:
            return levels[top][0]
        return (yield from self._builder.node(levels[top]))


class _FileHasher:
    """troika's CID of one file whose bytes are fed in pieces of any size (pure).

    The hashing half of a tee: whoever reads the file once feeds each piece
    here as it also sends it elsewhere. Memory stays at one chunk.

    Example:
        >>> hasher = _FileHasher(_resolve("kubo-v0", None, None, None))
        >>> hasher.feed(b"hel")
        >>> hasher.feed(b"lo\\n")
        >>> str(hasher.finish())
        'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
    """

    def __init__(self, settings: _Settings) -> None:
        self._layout = _FileLayout(_Builder(settings, keep=False))
        self._size = settings.chunk_size
        self._partial = memoryview(bytearray(self._size))
        self._filled = 0
        self.fed = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Hash the next bytes of the file."""
        view, size, push = memoryview(data).cast("B"), self._size, self._layout.push
        self.fed += len(view)
        if self._filled:
            take = min(size - self._filled, len(view))
            self._partial[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled < size:
                return
            _drain(push(self._partial))
            self._filled = 0
        whole = len(view) - len(view) % size
        for start in range(0, whole, size):
            _drain(push(view[start : start + size]))
        rest = len(view) - whole
        self._partial[:rest] = view[whole:]
        self._filled = rest

    def finish(self) -> CID:
        """The root CID of everything fed."""
        if self._filled:
            _drain(self._layout.push(self._partial[: self._filled]))
            self._filled = 0
        return _run(self._layout.finish()).cid


def _drain(blocks: Generator[Block, None, None]) -> None:
    for _ in blocks:  # keep=False: nothing is yielded
        pass


# -- the file system (reads only) ---------------------------------------------------


def _path_error(path: str, exc: OSError) -> PathError:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return PathNotFound(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PathUnreadable(path)
    if exc.errno == errno.ELOOP:
        return SymlinkLoop(path)
    return PathError(path, exc.strerror or str(exc))


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


@dataclass
class _Folder:
    path: Path
    name: bytes
    children: Iterator[Path]
    entries: list[tuple[bytes, _Link]]
    identity: tuple[int, int]


def _walk(
    builder: _Builder, where: str | os.PathLike[str], *, hidden: bool, follow_symlinks: bool
) -> Generator[Block, None, _Link]:
    """Import ``where`` (a file, symlink or folder); folders with an explicit stack."""
    if not os.fspath(where):  # Path("") would be the current folder
        raise PathNotFound("")
    top = Path(where)

    def status(path: Path) -> os.stat_result:
        try:
            return path.stat(follow_symlinks=follow_symlinks)
        except OSError as exc:
            raise _path_error(str(path), exc) from exc

    def open_folder(path: Path, name: bytes, info: os.stat_result) -> _Folder:
        try:
            children = list(path.iterdir())
        except OSError as exc:
            raise _path_error(str(path), exc) from exc
        if not hidden:
            children = [child for child in children if not child.name.startswith(".")]
        # os.ReadDir's order, so that blocks come out in the same order each time.
        children.sort(key=lambda child: os.fsencode(child.name))
        return _Folder(path, name, iter(children), [], (info.st_dev, info.st_ino))

    def leaf_entry(path: Path, info: os.stat_result) -> Generator[Block, None, _Link]:
        if stat.S_ISLNK(info.st_mode):
            try:
                target = path.readlink()
            except OSError as exc:
                raise _path_error(str(path), exc) from exc
            return (yield from builder.symlink(os.fsencode(target)))
        if not stat.S_ISREG(info.st_mode):
            raise PathError(
                str(path),
                f"it is a {_kind(info.st_mode)}; troika imports regular files, folders and "
                "symlinks, as Kubo does",
            )
        try:
            with path.open("rb", buffering=0) as stream:
                chunks = _stream_chunks(stream, builder.settings.chunk_size)
                return (yield from builder.file(chunks))
        except OSError as exc:
            raise _path_error(str(path), exc) from exc

    info = status(top)
    if not stat.S_ISDIR(info.st_mode):
        return (yield from leaf_entry(top, info))
    stack = [open_folder(top, b"", info)]
    while True:
        folder = stack[-1]
        path = next(folder.children, None)
        if path is None:
            stack.pop()
            link = yield from builder.directory(folder.entries, str(folder.path))
            if not stack:
                return link
            stack[-1].entries.append((folder.name, link))
            continue
        info = status(path)
        if stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if any(open_.identity == identity for open_ in stack):
                raise SymlinkLoop(str(path))  # only reachable by following symlinks
            stack.append(open_folder(path, os.fsencode(path.name), info))
        else:
            link = yield from leaf_entry(path, info)
            folder.entries.append((os.fsencode(path.name), link))


# -- the public API ------------------------------------------------------------------


def _run(blocks: Generator[Block, None, _Link]) -> _Link:
    """Drive a builder generator that yields nothing (``keep=False``) to its result."""
    while True:
        try:
            next(blocks)
        except StopIteration as done:
            result: _Link = done.value
            return result


def _emit(blocks: Generator[Block, None, _Link]) -> Generator[Block, None, CID]:
    link = yield from blocks
    return link.cid


def import_bytes(
    data: bytes | bytearray | memoryview,
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
) -> Generator[Block, None, CID]:
    """The blocks of a UnixFS file holding ``data``, the root last.

    Args:
        data: The file's content.
        profile: ``"kubo-v0"`` (Kubo's default) or ``"v1-2025"``; see :data:`PROFILES`.
        cid_version: 0 or 1; overrides the profile. As in Kubo, 1 implies raw
            leaves unless ``raw_leaves`` or the profile says otherwise.
        raw_leaves: Leaves as raw blocks (True) or dag-pb nodes (False);
            overrides the profile.
        chunk_size: Bytes per chunk, 1 to :data:`MAX_CHUNK_SIZE`; overrides the profile.

    Returns:
        A generator of :class:`Block` (``cid``, ``data``): children before
        parents, the root last. Its return value is the root CID.

    Raises:
        ConfigError: A profile or knob that does not exist (``ValueError``).

    Example:
        >>> blocks = list(import_bytes(b"hello\\n"))
        >>> [str(block.cid) for block in blocks]
        ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN']
        >>> len(list(import_bytes(bytes(300_000))))  # two leaves and their parent
        3
    """
    builder = _Builder(_resolve(profile, cid_version, raw_leaves, chunk_size), keep=True)
    chunks = _memory_chunks(memoryview(data).cast("B"), builder.settings.chunk_size)
    return _emit(builder.file(chunks))


def import_stream(
    stream: ReadableStream,
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
) -> Generator[Block, None, CID]:
    """The blocks of a UnixFS file read from ``stream`` (to its end), the root last.

    Reads one chunk at a time into one buffer, so memory stays at about one
    chunk whatever the stream's size. Options as for :func:`import_bytes`.

    Example:
        >>> import io
        >>> [str(b.cid) for b in import_stream(io.BytesIO(b"hello\\n"), profile="v1-2025")]
        ['bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am']
    """
    builder = _Builder(_resolve(profile, cid_version, raw_leaves, chunk_size), keep=True)
    chunks = _stream_chunks(_readable_stream(stream, "import_stream"), builder.settings.chunk_size)
    return _emit(builder.file(chunks))


def import_path(
    path: str | os.PathLike[str],
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
) -> Generator[Block, None, CID]:
    """The blocks of a file, symlink or folder (recursively), the root last.

    As ``ipfs add -r PATH`` with the same options. Files are read one chunk at
    a time; a folder holds its entries' CIDs until it is complete.

    Args:
        path: What to import.
        profile: ``"kubo-v0"`` (Kubo's default) or ``"v1-2025"``.
        cid_version: 0 or 1; overrides the profile (1 implies raw leaves, as in Kubo).
        raw_leaves: Raw leaf blocks or dag-pb leaves; overrides the profile.
        chunk_size: Bytes per chunk; overrides the profile.
        hidden: Also import entries whose names start with ``.`` (``--hidden``).
        follow_symlinks: Import what symlinks point to instead of the links
            themselves (``--dereference-symlinks``).

    Raises:
        PathNotFound: Nothing at ``path`` or at an entry under it (or, when
            following symlinks, a dangling one).
        PathUnreadable: No permission to read a file or folder.
        SymlinkLoop: Following symlinks leads back to a folder being imported.
        PathError: Another reason, such as a FIFO or a device file.
        ConfigError: A profile or knob that does not exist.

    Example:
        >>> (tmp_path / "hello.txt").write_bytes(b"hello\\n")
        6
        >>> [str(block.cid) for block in import_path(tmp_path)]  # doctest: +NORMALIZE_WHITESPACE
        ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN',
         'QmU5PLEGqjetW4RAmXgHpEFL7nVCL3vFnEyrCKUfRk4MSq']
    """
    builder = _Builder(_resolve(profile, cid_version, raw_leaves, chunk_size), keep=True)
    return _emit(_walk(builder, path, hidden=hidden, follow_symlinks=follow_symlinks))


def import_source(
    source: ImportSource,
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
) -> Generator[Block, None, CID]:
    """The blocks of ``source`` (bytes, a path as for :func:`import_path`, or a
    readable binary stream as for :func:`import_stream`), the root last.

    What :func:`cid_of` hashes, as blocks: the stores upload and keep these.

    Raises:
        TypeError: ``source`` is none of these (see :class:`ReadableStream`).

    Example:
        >>> [str(block.cid) for block in import_source(b"hello\\n")]
        ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN']
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return import_bytes(
            source,
            profile=profile,
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
        )
    if isinstance(source, str | os.PathLike):
        return import_path(
            source,
            profile=profile,
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            hidden=hidden,
            follow_symlinks=follow_symlinks,
        )
    return import_stream(
        _readable_stream(source, "import_source"),
        profile=profile,
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
    )


def cid_of(
    source: ImportSource,
    *,
    profile: str = "kubo-v0",
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
) -> CID:
    """The CID that ``ipfs add --only-hash`` gives for ``source``, computed by troika.

    Nothing is stored and no block is kept: each chunk is hashed and dropped.

    Args:
        source: The content (``bytes``, ``bytearray``, ``memoryview``), a path
            (``str`` or ``os.PathLike``) to a file, symlink or folder (a folder is
            imported recursively, as ``ipfs add -r``), or a readable binary
            stream (:class:`ReadableStream`), read once to its end as one
            file's content, one chunk in memory at a time.
        profile: ``"kubo-v0"`` (Kubo's default) or ``"v1-2025"``; see :data:`PROFILES`.
        cid_version: 0 or 1; overrides the profile (1 implies raw leaves, as in Kubo).
        raw_leaves: Raw leaf blocks or dag-pb leaves; overrides the profile.
        chunk_size: Bytes per chunk; overrides the profile.
        hidden: For a folder, also import entries whose names start with ``.``
            (``--hidden``); they are skipped by default, as in Kubo.
        follow_symlinks: Import what symlinks point to instead of the links
            themselves (``--dereference-symlinks``).

    Returns:
        The root CID.

    Raises:
        PathNotFound, PathUnreadable, SymlinkLoop, PathError: See :func:`import_path`.
        ConfigError: A profile or knob that does not exist (``ValueError``).
        TypeError: ``source`` is not bytes, a path or a readable binary stream.

    Example:
        >>> str(cid_of(b""))
        'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'
        >>> str(cid_of(b"hello\\n", profile="v1-2025"))
        'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
        >>> (tmp_path / "empty").mkdir()
        >>> str(cid_of(tmp_path / "empty"))
        'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
    """
    builder = _Builder(_resolve(profile, cid_version, raw_leaves, chunk_size), keep=False)
    if isinstance(source, bytes | bytearray | memoryview):
        chunks = _memory_chunks(memoryview(source).cast("B"), builder.settings.chunk_size)
        return _run(builder.file(chunks)).cid
    if isinstance(source, str | os.PathLike):
        walk = _walk(builder, source, hidden=hidden, follow_symlinks=follow_symlinks)
        return _run(walk).cid
    stream = _readable_stream(source, "cid_of")
    return _run(builder.file(_stream_chunks(stream, builder.settings.chunk_size))).cid
