"""The UnixFS exporter: files and folders back out of blocks, every block re-hashed.

Blocks come from a *block source*: anything with ``get(cid) -> bytes`` (a
store, a client) or a mapping of CIDs to bytes. Every block is hashed again
and compared with its CID before troika reads a byte of it, and everything a
block claims is checked before troika relies on it: a file node's
``blocksizes`` against its links and ``filesize``, each child's size against
what its parent says, a HAMT entry against the slot its name hashes to. The
DAG is hostile until proven otherwise:

- a block larger than ``max_block_size`` is refused before it is hashed;
- DAGs deeper than ``max_depth`` (folders, shards and file nodes together)
  are refused, so recursion stays bounded;
- a file's size is known from its root before any byte is given out, and
  ``max_size`` bounds what a file or a whole folder may hold;
- entry names that could leave the destination folder (``..``, ``a/b``, empty,
  NUL) are refused, output files are created exclusively, and symlinks are
  written as symlinks, never followed;
- a folder is written under a temporary name beside the destination and moved
  into place at the end, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias, runtime_checkable

from troika._errors import (
    BlockNotFound,
    ContentTooLarge,
    NotAFile,
    PathError,
    UnreadableBlock,
    VerificationError,
)
from troika.ipfs._car import DEFAULT_MAX_BLOCK_SIZE
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._dagpb import PBLink, PBNode, UnixFSData, UnixFSType, decode_node
from troika.ipfs._importer import _murmur3_x64_64

__all__ = ["DEFAULT_MAX_DEPTH", "BlockSource", "export_bytes", "export_file", "export_path"]

DEFAULT_MAX_DEPTH = 256
"""Levels a DAG may have below its root (folders, shards and file nodes) unless told otherwise."""

_DAG_PB = 0x70
_RAW = 0x55
_IDENTITY = 0x00
_MURMUR3_X64_64 = 0x22


@runtime_checkable
class BlockSource(Protocol):
    """Where the exporter gets blocks: ``get(cid)`` returns the block's bytes.

    A missing block should raise (a store raises ``BlockNotFound``); the
    exporter verifies whatever comes back, so the source need not be trusted.
    """

    def get(self, cid: CID) -> bytes:
        """The bytes of the block ``cid`` names."""
        ...


# A block source, or a mapping of CIDs to block bytes (``{block.cid: block.data}``).
_Blocks: TypeAlias = BlockSource | Mapping[CID, bytes]


@dataclass
class _Reader:
    """Reads and checks blocks and UnixFS nodes from one source, within limits."""

    source: _Blocks
    max_block_size: int
    max_depth: int

    @property
    def name(self) -> str:
        if isinstance(self.source, Mapping):
            return "a mapping of blocks"
        shown = repr(self.source)
        return shown if len(shown) <= 80 else shown[:77] + "..."

    def block(self, cid: CID) -> bytes:
        if cid.multihash.code == _IDENTITY:  # inline content: the digest is the block
            return cid.multihash.digest
        data: bytes | bytearray | memoryview | None
        if isinstance(self.source, Mapping):
            try:
                data = self.source[cid]
            except KeyError:
                raise BlockNotFound(cid, self.name) from None
        else:
            data = self.source.get(cid)
            if data is None:
                raise BlockNotFound(cid, self.name)
        if len(data) > self.max_block_size:
            raise UnreadableBlock(
                cid, f"it is {len(data)} bytes, more than the {self.max_block_size} troika accepts"
            )
        try:
            matches = cid.verify(data)
        except ValueError as exc:
            raise VerificationError(cid, self.name, str(exc)) from exc
        if not matches:
            raise VerificationError(cid, self.name)
        return bytes(data)

    def unixfs(self, cid: CID, data: bytes) -> tuple[PBNode, UnixFSData]:
        if cid.codec_code != _DAG_PB:
            raise UnreadableBlock(cid, f"a {cid.codec} block is not UnixFS")
        try:
            node = decode_node(data)
            if node.data is None:
                raise ValueError("a dag-pb node without UnixFS data")
            return node, UnixFSData.decode(node.data)
        except ValueError as exc:  # InvalidCID and UnicodeDecodeError are ValueErrors
            raise UnreadableBlock(cid, f"not a valid UnixFS node ({exc})") from exc

    def deeper(self, cid: CID, depth: int) -> int:
        if depth >= self.max_depth:
            raise UnreadableBlock(cid, f"the DAG is more than {self.max_depth} levels deep")
        return depth + 1

    # -- files -------------------------------------------------------------

    def file_node(
        self, cid: CID, data: bytes
    ) -> tuple[int, bytes, tuple[PBLink, ...], tuple[int, ...]]:
        """A file node's size (checked against its own fields), data, links and their sizes."""
        if cid.codec_code == _RAW:
            return len(data), data, (), ()
        node, fs = self.unixfs(cid, data)
        if fs.type not in (UnixFSType.FILE, UnixFSType.RAW):
            kind = {
                UnixFSType.DIRECTORY: "directory",
                UnixFSType.HAMT_SHARD: "directory",
                UnixFSType.SYMLINK: "symlink",
            }.get(fs.type)
            if kind is None:
                raise UnreadableBlock(cid, f"UnixFS {fs.type.name} nodes are not supported")
            raise NotAFile(cid, kind)
        if len(node.links) != len(fs.blocksizes):
            raise VerificationError(
                cid,
                self.name,
                f"it has {len(node.links)} links but {len(fs.blocksizes)} blocksizes",
            )
        own = fs.data or b""
        size = len(own) + sum(fs.blocksizes)
        if fs.filesize is not None and fs.filesize != size:
            raise VerificationError(
                cid, self.name, f"its filesize {fs.filesize} is not its data and blocksizes {size}"
            )
        return size, own, node.links, fs.blocksizes

    def file_chunks(self, cid: CID, data: bytes, expected: int, depth: int) -> Iterator[bytes]:
        """The bytes of the file node ``cid``, which its parent says hold ``expected``.

        Depth first with its own stack, so that ``max_depth`` may exceed Python's
        recursion limit.
        """
        stack: list[tuple[Iterator[tuple[PBLink, int]], int]] = []
        node: tuple[CID, bytes, int, int] | None = (cid, data, expected, depth)
        while True:
            if node is not None:
                cid, data, expected, depth = node
                size, own, links, sizes = self.file_node(cid, data)
                if size != expected:
                    raise VerificationError(
                        cid, self.name, f"it holds {size} bytes where its parent says {expected}"
                    )
                if own:
                    yield own
                if links:
                    stack.append((zip(links, sizes, strict=True), self.deeper(cid, depth)))
            if not stack:
                return
            children, below = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                node = None
                continue
            link, child_size = child
            node = (link.cid, self.block(link.cid), child_size, below)

    # -- folders -------------------------------------------------------------

    def entries(self, cid: CID, data: bytes, depth: int) -> Iterator[tuple[str, CID]]:
        """A directory's (name, CID) pairs, in the order the DAG lists them."""
        node, fs = self.unixfs(cid, data)
        if fs.type == UnixFSType.DIRECTORY:
            for link in node.links:
                yield _safe_name(cid, link.name), link.cid
        elif fs.type == UnixFSType.HAMT_SHARD:
            yield from self._shard(cid, node, fs, 0, depth)
        else:
            raise UnreadableBlock(cid, f"a UnixFS {fs.type.name} node where a directory was linked")

    def _shard(
        self, cid: CID, node: PBNode, fs: UnixFSData, level: int, depth: int
    ) -> Iterator[tuple[str, CID]]:
        fanout = fs.fanout or 0
        if fs.hash_type != _MURMUR3_X64_64 or fanout != 256:
            raise UnreadableBlock(
                cid, "troika reads HAMT shards with murmur3-x64-64 and fanout 256 (Kubo's) only"
            )
        bitfield = int.from_bytes(fs.data or b"", "big")
        depth = self.deeper(cid, depth)
        if level >= 8:
            raise UnreadableBlock(cid, "the HAMT is deeper than the 64 bits of its hash")
        for link in node.links:
            label = link.name or ""
            if len(label) < 2 or any(char not in "0123456789ABCDEF" for char in label[:2]):
                raise UnreadableBlock(cid, f"HAMT link {label!r} does not start with its slot")
            slot = int(label[:2], 16)
            if not bitfield >> slot & 1:
                raise UnreadableBlock(cid, f"HAMT link {label!r} is in a slot the bitfield lacks")
            if len(label) == 2:
                child = self.block(link.cid)
                child_node, child_fs = self.unixfs(link.cid, child)
                if child_fs.type != UnixFSType.HAMT_SHARD:
                    raise UnreadableBlock(link.cid, "a HAMT slot links to a non-shard node")
                yield from self._shard(link.cid, child_node, child_fs, level + 1, depth)
                continue
            name = _safe_name(cid, label[2:])
            if _murmur3_x64_64(name.encode("utf-8"))[level] != slot:
                raise UnreadableBlock(cid, f"HAMT entry {name!r} is not in the slot its hash gives")
            yield name, link.cid


def _safe_name(cid: CID, name: str | None) -> str:
    """A directory entry's name, refused if writing it could leave the folder."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise UnreadableBlock(cid, f"the entry name {name!r} is not a safe file name")
    return name


def _reader(source: _Blocks, max_block_size: int, max_depth: int) -> _Reader:
    if not isinstance(source, Mapping | BlockSource):
        raise TypeError(
            f"expected a block source (with get(cid)) or a mapping, not {type(source).__name__}"
        )
    return _Reader(source, max_block_size, max_depth)


def export_file(
    source: _Blocks,
    cid: CIDLike,
    *,
    max_size: int | None = None,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Iterator[bytes]:
    """The content of the UnixFS file ``cid``, in pieces, each block verified first.

    The root is fetched and checked at once (so a wrong CID or a folder fails
    here, not on the first ``next``); the rest streams, one block at a time.

    Args:
        source: A block source (``get(cid) -> bytes``) or a mapping of CIDs to bytes.
        cid: The file's root CID.
        max_size: Refuse a file that declares more bytes than this.
        max_block_size: Refuse blocks larger than this, before hashing them.
        max_depth: Refuse DAGs deeper than this.

    Returns:
        An iterator of byte strings whose concatenation is the file.

    Raises:
        VerificationError: A block does not hash to its CID, or a node's sizes
            disagree with its children.
        UnreadableBlock: A block that is not UnixFS, a DAG too deep, a block too big.
        NotAFile: ``cid`` is a directory or a symlink.
        ContentTooLarge: The file is larger than ``max_size``.
        BlockNotFound: A mapping lacks a block (a source raises its own error).

    Example:
        >>> from troika.ipfs import import_bytes
        >>> blocks = {block.cid: block.data for block in import_bytes(b"hello\\n")}
        >>> root = CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")
        >>> b"".join(export_file(blocks, root))
        b'hello\\n'
    """
    reader = _reader(source, max_block_size, max_depth)
    root = CID.parse(cid)
    data = reader.block(root)
    size = reader.file_node(root, data)[0]
    if max_size is not None and size > max_size:
        raise ContentTooLarge(root, size, max_size)
    return reader.file_chunks(root, data, size, 0)


def export_bytes(
    source: _Blocks,
    cid: CIDLike,
    *,
    max_size: int | None = None,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> bytes:
    """The whole content of the UnixFS file ``cid``; see :func:`export_file`.

    Example:
        >>> from troika.ipfs import import_bytes
        >>> blocks = {block.cid: block.data for block in import_bytes(bytes(300_000))}
        >>> export_bytes(blocks, list(blocks)[-1]) == bytes(300_000)
        True
    """
    return b"".join(
        export_file(
            source, cid, max_size=max_size, max_block_size=max_block_size, max_depth=max_depth
        )
    )


@dataclass
class _Folder:
    cid: CID
    path: Path
    entries: Iterator[tuple[str, CID]]
    depth: int
    names: set[str]


@dataclass
class _Writer:
    reader: _Reader
    max_size: int | None
    written: int = 0

    def write(self, cid: CID, path: Path) -> None:
        """Write the DAG under ``cid`` at ``path``, folders with an explicit stack."""
        stack: list[_Folder] = []
        item: tuple[CID, Path, int] | None = (cid, path, 0)
        while True:
            if item is not None:
                self._one(*item, stack)
            if not stack:
                return
            folder = stack[-1]
            entry = next(folder.entries, None)
            if entry is None:
                stack.pop()
                item = None
                continue
            name, child = entry
            if name in folder.names:
                raise UnreadableBlock(folder.cid, f"the entry name {name!r} appears twice")
            folder.names.add(name)
            item = (child, folder.path / name, folder.depth)

    def _one(self, cid: CID, path: Path, depth: int, stack: list[_Folder]) -> None:
        data = self.reader.block(cid)
        if cid.codec_code == _RAW:
            self._file(cid, data, path, depth)
            return
        _, fs = self.reader.unixfs(cid, data)
        if fs.type in (UnixFSType.FILE, UnixFSType.RAW):
            self._file(cid, data, path, depth)
        elif fs.type == UnixFSType.SYMLINK:
            path.symlink_to(os.fsdecode(fs.data or b""))
        elif fs.type in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
            path.mkdir()
            below = self.reader.deeper(cid, depth)
            stack.append(_Folder(cid, path, self.reader.entries(cid, data, depth), below, set()))
        else:
            raise UnreadableBlock(cid, f"UnixFS {fs.type.name} nodes are not supported")

    def _file(self, cid: CID, data: bytes, path: Path, depth: int) -> None:
        size = self.reader.file_node(cid, data)[0]
        if self.max_size is not None and self.written + size > self.max_size:
            raise ContentTooLarge(cid, self.written + size, self.max_size)
        self.written += size
        with path.open("xb") as out:
            for chunk in self.reader.file_chunks(cid, data, size, depth):
                out.write(chunk)


def export_path(
    source: _Blocks,
    cid: CIDLike,
    destination: str | os.PathLike[str],
    *,
    max_size: int | None = None,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Path:
    """Write the file, symlink or folder ``cid`` to ``destination``, as ``ipfs get`` does.

    Everything is verified on the way (see :func:`export_file`). The content is
    written under a temporary name in the destination's folder and moved into
    place once complete; if anything fails, nothing is left behind.

    Args:
        source: A block source (``get(cid) -> bytes``) or a mapping of CIDs to bytes.
        cid: The root CID.
        destination: The path to create; it must not exist (troika never overwrites).
        max_size: Refuse content whose files hold more bytes than this in total.
        max_block_size: Refuse blocks larger than this, before hashing them.
        max_depth: Refuse DAGs deeper than this.

    Returns:
        The destination, as a ``Path``.

    Raises:
        PathError: ``destination`` exists already, or cannot be written.
        VerificationError, UnreadableBlock, ContentTooLarge, BlockNotFound: See
            :func:`export_file`.

    Example:
        >>> from troika.ipfs import import_path
        >>> (tmp_path / "in").mkdir()
        >>> (tmp_path / "in" / "hello.txt").write_bytes(b"hello\\n")
        6
        >>> blocks = {block.cid: block.data for block in import_path(tmp_path / "in")}
        >>> out = export_path(blocks, list(blocks)[-1], tmp_path / "out")
        >>> (out / "hello.txt").read_bytes()
        b'hello\\n'
    """
    reader = _reader(source, max_block_size, max_depth)
    root = CID.parse(cid)
    target = Path(destination)
    if os.path.lexists(target):
        raise PathError(str(target), "it exists already; troika never overwrites")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise PathError(str(target), exc.strerror or str(exc)) from exc
    try:
        _Writer(reader, max_size).write(root, staging / "content")
        (staging / "content").rename(target)
    except OSError as exc:
        raise PathError(str(target), exc.strerror or str(exc)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
