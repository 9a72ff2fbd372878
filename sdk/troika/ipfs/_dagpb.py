"""dag-pb nodes and the UnixFS ``Data`` message: the protobuf that IPFS files are made of.

Pure encode and strict decode, no I/O. The encoding is canonical as the
dag-pb spec (ipld/specs, "DAG-PB") requires: links before data, fields in
order, no unknown fields; so the bytes (and hence the CIDs) are exactly
Kubo's. Decoding accepts only that canonical form and raises ``ValueError``
for anything else, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from troika.ipfs._cid import CID
from troika.ipfs._multiformats import read_varint, varint

__all__ = [
    "PBLink",
    "PBNode",
    "UnixFSData",
    "UnixFSType",
    "decode_node",
    "encode_node",
    "links_of",
]

_VARINT, _BYTES = 0, 2


def _key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _key(number, _BYTES) + varint(len(value)) + value


def _varint_field(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + varint(value)


@dataclass(frozen=True, slots=True)
class PBLink:
    """A link of a dag-pb node: target, name, and the cumulative size under it."""

    cid: CID
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    """A dag-pb node: opaque data (for UnixFS, a :class:`UnixFSData`) and links."""

    data: bytes | None = None
    links: tuple[PBLink, ...] = ()


def encode_node(node: PBNode) -> bytes:
    """The canonical dag-pb bytes of ``node``.

    Example:
        >>> encode_node(PBNode(data=b"\\x08\\x01")).hex()
        '0a020801'
    """
    out = bytearray()
    for link in node.links:
        body = _bytes_field(1, bytes(link.cid))
        if link.name is not None:
            body += _bytes_field(2, link.name.encode("utf-8"))
        if link.tsize is not None:
            body += _varint_field(3, link.tsize)
        out += _bytes_field(2, body)
    if node.data is not None:
        out += _bytes_field(1, node.data)
    return bytes(out)


def _fields(raw: bytes | memoryview) -> list[tuple[int, int, int | bytes]]:
    """Split protobuf ``raw`` into (field number, wire type, value)."""
    fields: list[tuple[int, int, int | bytes]] = []
    offset = 0
    while offset < len(raw):
        key, offset = read_varint(raw, offset)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, offset = read_varint(raw, offset)
            fields.append((number, wire, value))
        elif wire == _BYTES:
            size, offset = read_varint(raw, offset)
            if offset + size > len(raw):
                raise ValueError(f"field {number} runs past the end")
            fields.append((number, wire, bytes(raw[offset : offset + size])))
            offset += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return fields


def _decode_link(raw: bytes) -> PBLink:
    cid: CID | None = None
    name: str | None = None
    tsize: int | None = None
    last = 0
    for number, wire, value in _fields(raw):
        if number <= last:
            raise ValueError("PBLink fields out of order or repeated")
        last = number
        if number == 1 and wire == _BYTES and isinstance(value, bytes):
            cid = CID.decode(value)
        elif number == 2 and wire == _BYTES and isinstance(value, bytes):
            name = value.decode("utf-8")
        elif number == 3 and wire == _VARINT and isinstance(value, int):
            tsize = value
        else:
            raise ValueError(f"unexpected PBLink field {number}")
    if cid is None:
        raise ValueError("PBLink without a Hash")
    return PBLink(cid, name, tsize)


def decode_node(raw: bytes | memoryview) -> PBNode:
    """Decode canonical dag-pb bytes.

    Raises:
        ValueError: not canonical dag-pb (the message says what is wrong);
            ``InvalidCID`` (a ``ValueError``) for a malformed link hash.
    """
    links: list[PBLink] = []
    data: bytes | None = None
    for number, wire, value in _fields(raw):
        if data is not None:
            raise ValueError("PBNode fields after Data")
        if number == 2 and wire == _BYTES and isinstance(value, bytes):
            links.append(_decode_link(value))
        elif number == 1 and wire == _BYTES and isinstance(value, bytes):
            data = value
        else:
            raise ValueError(f"unexpected PBNode field {number}")
    return PBNode(data, tuple(links))


class UnixFSType(IntEnum):
    """UnixFS node types (ipfs/specs, "UnixFS")."""

    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True, slots=True)
class UnixFSData:
    """The UnixFS ``Data`` message carried in a dag-pb node's data."""

    type: UnixFSType
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default=())
    hash_type: int | None = None
    fanout: int | None = None

    def encode(self) -> bytes:
        """Protobuf bytes, fields in order, ``blocksizes`` unpacked (as Kubo writes them).

        Example:
            >>> UnixFSData(UnixFSType.FILE, filesize=0).encode().hex()
            '08021800'
        """
        out = bytearray(_varint_field(1, int(self.type)))
        if self.data is not None:
            out += _bytes_field(2, self.data)
        if self.filesize is not None:
            out += _varint_field(3, self.filesize)
        for size in self.blocksizes:
            out += _varint_field(4, size)
        if self.hash_type is not None:
            out += _varint_field(5, self.hash_type)
        if self.fanout is not None:
            out += _varint_field(6, self.fanout)
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes | memoryview) -> UnixFSData:
        """Decode a UnixFS ``Data`` message (mode and mtime are accepted and ignored).

        Raises:
            ValueError: not a UnixFS ``Data`` message.
        """
        kind: UnixFSType | None = None
        data: bytes | None = None
        filesize: int | None = None
        blocksizes: list[int] = []
        hash_type: int | None = None
        fanout: int | None = None
        for number, _wire, value in _fields(raw):
            if number == 1 and isinstance(value, int):
                try:
                    kind = UnixFSType(value)
                except ValueError as exc:
                    raise ValueError(f"unknown UnixFS type {value}") from exc
            elif number == 2 and isinstance(value, bytes):
                data = value
            elif number == 3 and isinstance(value, int):
                filesize = value
            elif number == 4 and isinstance(value, int):
                blocksizes.append(value)
            elif number == 4 and isinstance(value, bytes):  # packed, as some writers do
                offset = 0
                while offset < len(value):
                    size, offset = read_varint(value, offset)
                    blocksizes.append(size)
            elif number == 5 and isinstance(value, int):
                hash_type = value
            elif number == 6 and isinstance(value, int):
                fanout = value
            elif number in (7, 8):  # mode, mtime (UnixFS 1.5): not used by troika
                continue
            else:
                raise ValueError(f"unexpected UnixFS field {number}")
        if kind is None:
            raise ValueError("UnixFS Data without a Type")
        return cls(kind, data, filesize, tuple(blocksizes), hash_type, fanout)


def links_of(node: PBNode) -> Sequence[CID]:
    """The CIDs a node links to, in order."""
    return [link.cid for link in node.links]
