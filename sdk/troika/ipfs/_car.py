"""CAR files (ipld/specs, "CARv1"): a streaming writer and a validating reader.

A CARv1 is a header, then sections::

    varint(len(header)) | header: dag-cbor {"roots": [CID links], "version": 1}
    varint(len(cid) + len(block)) | cid (binary) | block      (repeated)

The reader trusts nothing in the stream. It reads one section at a time, so
memory stays bounded by the largest block, and it checks every length against
a limit *before* it reads (or allocates) anything:

- the header may be at most ``max_header_size`` bytes (1 MiB by default: room
  for some 25,000 roots; Kubo writes one);
- a block may be at most ``max_block_size`` bytes (4 MiB by default: twice the
  2 MiB that IPFS nodes exchange at most, which is also about the largest chunk
  the importer accepts; its profiles make blocks of at most 1 MiB).

Every block is re-hashed against its CID. Anything else (a truncated stream, a
malformed varint, header or CID, an oversized section, a block that does not
match its CID) raises :class:`~troika.CARError` with the byte offset, and
nothing is read past the fault.

The header decoder is a small dag-cbor reader written for exactly this schema:
a map with the keys ``roots`` (an array of tag-42 CID links, each a byte string
starting with the 0x00 multibase-identity prefix) and ``version`` (an unsigned
integer), definite lengths and minimal integer encodings only; unknown or
repeated keys, other types and trailing bytes are refused. The two keys are
accepted in either order (Kubo accepts both); the writer puts them in
dag-cbor's canonical order, ``roots`` then ``version``, as go-car and Kubo do.
A header with no roots is accepted and may be written (the spec leaves it open,
and Kubo imports such CARs).

CARv2 (ipld/specs, "CARv2"): the reader reads the CARv1 payload that a CARv2
wraps (its roots and blocks, verified the same way) and ignores the index; the
writer writes CARv1 only, which every IPFS implementation reads.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Sequence
from typing import IO, NamedTuple, Self

from troika._errors import CARError, VerificationError
from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._multiformats import read_varint, varint

__all__ = [
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_MAX_HEADER_SIZE",
    "Block",
    "CARReader",
    "CARWriter",
    "decode_header",
    "encode_header",
    "read_car",
    "write_car",
]

DEFAULT_MAX_HEADER_SIZE = 1 << 20
"""Bytes a CAR header may take (1 MiB) unless the reader is told otherwise."""

DEFAULT_MAX_BLOCK_SIZE = 4 << 20
"""Bytes one block may take (4 MiB) unless the reader or writer is told otherwise."""

# Room for the CID in front of a block: a CIDv1 with an identity multihash of
# 128 bytes (Kubo's limit) is well under this.
_CID_ALLOWANCE = 256
_MAX_VARINT_BYTES = 9
_V2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")  # varint 10, {"version": 2}
_V2_HEADER = struct.Struct("<16sQQQ")  # characteristics, data offset/size, index offset
_SKIP_CHUNK = 1 << 16


class Block(NamedTuple):
    """One block of a CAR: its CID and its bytes (verified when read)."""

    cid: CID
    data: bytes


# -- the header: a strict dag-cbor subset ------------------------------------------


def _cbor_head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise ValueError(f"CBOR argument {argument} does not fit in 64 bits")


def encode_header(roots: Sequence[CID], version: int = 1) -> bytes:
    """The dag-cbor bytes of a CAR header, keys in canonical order.

    Example:
        >>> encode_header([]).hex()
        'a265726f6f7473806776657273696f6e01'
    """
    out = bytearray(_cbor_head(5, 2))
    out += _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(roots))
    for root in roots:
        link = b"\x00" + bytes(root)
        out += _cbor_head(6, 42) + _cbor_head(2, len(link)) + link
    out += _cbor_head(3, 7) + b"version" + _cbor_head(0, version)
    return bytes(out)


class _CBORReader:
    """Reads the few dag-cbor items a CAR header has; ValueError for anything else."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.position = 0

    def head(self) -> tuple[int, int]:
        if self.position >= len(self.raw):
            raise ValueError("the header ends in the middle of an item")
        first = self.raw[self.position]
        major, info = first >> 5, first & 0x1F
        self.position += 1
        if info < 24:
            return major, info
        if info > 27:
            raise ValueError(
                "indefinite lengths and reserved CBOR forms are not allowed in dag-cbor"
            )
        size = 1 << (info - 24)
        end = self.position + size
        if end > len(self.raw):
            raise ValueError("the header ends in the middle of an item")
        argument = int.from_bytes(self.raw[self.position : end], "big")
        self.position = end
        if argument < (24 if size == 1 else 1 << (4 * size)):
            raise ValueError("a CBOR integer or length is not minimally encoded")
        return major, argument

    def expect(self, major: int, what: str) -> int:
        found, argument = self.head()
        if found != major:
            raise ValueError(f"{what} is a CBOR major type {found}, not {major}")
        return argument

    def take(self, size: int) -> bytes:
        end = self.position + size
        if end > len(self.raw):
            raise ValueError("the header ends in the middle of an item")
        value = self.raw[self.position : end]
        self.position = end
        return value

    def text(self, what: str) -> str:
        try:
            return self.take(self.expect(3, what)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{what} is not valid UTF-8") from exc

    def link(self) -> CID:
        major, tag = self.head()
        if (major, tag) != (6, 42):
            raise ValueError("a root is not a CID link (CBOR tag 42)")
        raw = self.take(self.expect(2, "a CID link"))
        if raw[:1] != b"\x00":
            raise ValueError("a CID link lacks its 0x00 multibase-identity prefix")
        return CID.decode(raw[1:])  # InvalidCID is a ValueError


def decode_header(raw: bytes) -> tuple[int, tuple[CID, ...] | None]:
    """Decode a CAR header: its version and its roots (None when it has no ``roots``).

    Raises:
        ValueError: the bytes are not a CAR header (the message says why).

    Example:
        >>> decode_header(bytes.fromhex("a265726f6f7473806776657273696f6e01"))
        (1, ())
    """
    reader = _CBORReader(raw)
    entries = reader.expect(5, "the header")
    version: int | None = None
    roots: tuple[CID, ...] | None = None
    for _ in range(entries):  # each entry consumes bytes, so this ends with the header
        key = reader.text("a header key")
        if key == "version" and version is None:
            version = reader.expect(0, "the version")
        elif key == "roots" and roots is None:
            count = reader.expect(4, "the roots")
            found: list[CID] = []
            for _ in range(count):
                found.append(reader.link())
            roots = tuple(found)
        elif key in ("version", "roots"):
            raise ValueError(f"the header has the key {key!r} twice")
        else:
            raise ValueError(f"the header has an unknown key {key!r}")
    if reader.position != len(raw):
        raise ValueError(f"{len(raw) - reader.position} bytes after the header's map")
    if version is None:
        raise ValueError("the header has no version")
    return version, roots


# -- reading -------------------------------------------------------------------------


class _Source:
    """A binary stream with the offset read so far and an optional end (CARv2 payloads)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.offset = 0
        self.end: int | None = None

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream (or payload)."""
        if self.end is not None:
            size = min(size, self.end - self.offset)
        chunks: list[bytes] = []
        wanted = size
        while wanted > 0:
            chunk = self.stream.read(wanted)
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        data = b"".join(chunks)
        self.offset += len(data)
        return data

    def exact(self, size: int, what: str, start: int) -> bytes:
        data = self.read(size)
        if len(data) < size:
            raise CARError(
                f"the CAR ends inside {what}: {size} bytes expected, {len(data)} found", start
            )
        return data

    def varint(self, what: str) -> int | None:
        """The varint at the current offset, or None at a clean end of the stream."""
        start = self.offset
        raw = bytearray()
        while True:
            byte = self.read(1)
            if not byte:
                if not raw:
                    return None
                raise CARError(f"the CAR ends inside the length of {what}", start)
            raw += byte
            if not byte[0] & 0x80 or len(raw) >= _MAX_VARINT_BYTES:
                break
        try:
            value, _ = read_varint(bytes(raw))
        except ValueError as exc:
            raise CARError(f"the length of {what} is a malformed varint ({exc})", start) from exc
        return value


class CARReader:
    """Reads a CAR (v1, or the v1 payload of a v2) from a binary stream, verifying as it goes.

    The header is read when the reader is made; iterating yields each
    :class:`Block` in the order of the file, after re-hashing it against its
    CID. The reader is its own iterator and reads the stream once.

    Args:
        stream: A binary file object (anything with ``read(n)``); it is not closed.
        max_header_size: Refuse a header larger than this many bytes.
        max_block_size: Refuse a block larger than this many bytes.

    Raises:
        CARError: The header is truncated, malformed, too large or of an
            unsupported version (also raised while iterating, for a bad section).

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> hello = CID.of(b"hello")
        >>> _ = write_car(buffer, [hello], [(hello, b"hello")])
        >>> reader = CARReader(io.BytesIO(buffer.getvalue()))
        >>> reader.roots == (hello,)
        True
        >>> [block.data for block in reader]
        [b'hello']
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    ) -> None:
        self._source = _Source(stream)
        self.max_header_size = max_header_size
        self.max_block_size = max_block_size
        self.blocks_read = 0
        version, roots = self._read_header(outer=True)
        if version == 2:
            self._enter_v2_payload()
            version, roots = self._read_header(outer=False)
        # 1, or 2 for a CARv2 (whose v1 payload is what the reader reads).
        self.version = 2 if self._source.end is not None else 1
        self.roots: tuple[CID, ...] = roots or ()

    @property
    def offset(self) -> int:
        """Bytes read from the stream so far."""
        return self._source.offset

    def _read_header(self, *, outer: bool) -> tuple[int, tuple[CID, ...] | None]:
        start = self._source.offset
        size = self._source.varint("the header")
        if size is None:
            raise CARError("the stream is empty; a CAR starts with its header", start)
        if size == 0:
            raise CARError("the header has length 0", start)
        if size > self.max_header_size:
            raise CARError(
                f"the header declares {size} bytes, more than the limit of "
                f"{self.max_header_size} (max_header_size)",
                start,
            )
        raw = self._source.exact(size, "the header", start)
        try:
            version, roots = decode_header(raw)
        except ValueError as exc:
            raise CARError(f"malformed header: {exc}", start) from exc
        if version == 1:
            if roots is None:
                raise CARError("the version 1 header has no roots", start)
            return version, roots
        if version == 2 and outer and roots is None:
            return version, None
        where = "inside a CARv2" if version == 2 and not outer else "in the header"
        raise CARError(f"unsupported CAR version {version!r} {where}", start)

    def _enter_v2_payload(self) -> None:
        start = self._source.offset
        raw = self._source.exact(_V2_HEADER.size, "the CARv2 header", start)
        _, data_offset, data_size, index_offset = _V2_HEADER.unpack(raw)
        header_end = start + _V2_HEADER.size
        if data_offset < header_end:
            raise CARError(f"the CARv2 data offset {data_offset} points inside its header", start)
        if data_offset - header_end > self.max_header_size:
            raise CARError(
                f"the CARv2 data offset {data_offset} skips more than the limit of "
                f"{self.max_header_size} bytes (max_header_size)",
                start,
            )
        if data_size == 0:
            raise CARError("the CARv2 data payload is empty", start)
        if index_offset and index_offset < data_offset + data_size:
            raise CARError(
                f"the CARv2 index offset {index_offset} points inside the data payload", start
            )
        while self._source.offset < data_offset:
            wanted = min(_SKIP_CHUNK, data_offset - self._source.offset)
            self._source.exact(wanted, "the padding before the CARv2 data payload", start)
        self._source.end = data_offset + data_size

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Block:
        source = self._source
        start = source.offset
        if source.end is not None and start >= source.end:
            raise StopIteration
        size = source.varint("a section")
        if size is None:
            if source.end is not None:
                raise CARError("the stream ends before the CARv2 data payload does", start)
            raise StopIteration
        if size == 0:
            raise CARError("a section has length 0 (no CID, no block)", start)
        if size > self.max_block_size + _CID_ALLOWANCE:
            raise CARError(
                f"a section declares {size} bytes, more than a block of at most "
                f"{self.max_block_size} bytes (max_block_size) and its CID",
                start,
            )
        if source.end is not None and source.offset + size > source.end:
            raise CARError("a section runs past the end of the CARv2 data payload", start)
        raw = source.exact(size, "a section", start)
        try:
            cid, cid_end = CID.read(raw)
        except ValueError as exc:
            raise CARError(f"a section starts with a malformed CID ({exc})", start) from exc
        data = raw[cid_end:]
        if len(data) > self.max_block_size:
            raise CARError(
                f"block {str(cid)!r} has {len(data)} bytes, more than the limit of "
                f"{self.max_block_size} (max_block_size)",
                start,
                cid,
            )
        try:
            matches = cid.verify(data)
        except ValueError as exc:
            raise CARError(f"cannot verify block {str(cid)!r}: {exc}", start, cid) from exc
        if not matches:
            raise CARError(
                f"block {str(cid)!r} does not match its CID (corrupted or tampered with)",
                start,
                cid,
            )
        self.blocks_read += 1
        return Block(cid, data)


def read_car(
    source: bytes | bytearray | memoryview | IO[bytes],
    *,
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
) -> CARReader:
    """Start reading a CAR from bytes or a binary stream; see :class:`CARReader`.

    Raises:
        CARError: The header is bad; iterating raises it for a bad section.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> cid = CID.of(b"block")
        >>> write_car(buffer, [cid], [(cid, b"block")])
        101
        >>> car = read_car(buffer.getvalue())
        >>> [str(root) for root in car.roots]
        ['bafkreicjnlfibzgy6kp3r2gnqfwdv62i2pyqhfylhixocyambdfgomtn5y']
        >>> [(str(block.cid), block.data) for block in car]
        [('bafkreicjnlfibzgy6kp3r2gnqfwdv62i2pyqhfylhixocyambdfgomtn5y', b'block')]
    """
    stream = (
        io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray | memoryview) else source
    )
    return CARReader(stream, max_header_size=max_header_size, max_block_size=max_block_size)


# -- writing -------------------------------------------------------------------------


class CARWriter:
    """Writes a CARv1 to a binary stream, one block at a time.

    The header (with ``roots``) is written at once; each :meth:`write` appends a
    section. Nothing is buffered beyond the stream's own buffer, and the stream
    is neither flushed nor closed by the writer.

    Args:
        stream: A binary file object opened for writing.
        roots: The root CIDs for the header; usually one.
        verify: Re-hash every block against its CID before writing it.
        max_block_size: Refuse blocks larger than this, so that troika never
            writes a CAR that its own reader would refuse.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> cid = CID.of(b"hi")
        >>> writer = CARWriter(buffer, [cid])
        >>> writer.write(cid, b"hi")
        >>> writer.blocks_written, writer.bytes_written == len(buffer.getvalue())
        (1, True)
    """

    def __init__(
        self,
        stream: IO[bytes],
        roots: Sequence[CIDLike],
        *,
        verify: bool = True,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    ) -> None:
        self._stream = stream
        self.roots = tuple(CID.parse(root) for root in roots)
        self.verify = verify
        self.max_block_size = max_block_size
        self.blocks_written = 0
        header = encode_header(self.roots)
        self.bytes_written = 0
        self._emit(varint(len(header)), header)

    def _emit(self, *parts: bytes) -> None:
        for part in parts:
            self._stream.write(part)
            self.bytes_written += len(part)

    def write(self, cid: CIDLike, block: bytes | bytearray | memoryview) -> None:
        """Append one block.

        Raises:
            VerificationError: ``verify`` is on and ``block`` does not hash to ``cid``.
            CARError: the block is larger than ``max_block_size`` (nothing is written).
        """
        cid = CID.parse(cid)
        data = bytes(block)
        if len(data) > self.max_block_size:
            raise CARError(
                f"block {str(cid)!r} has {len(data)} bytes, more than the limit of "
                f"{self.max_block_size} (max_block_size); troika would refuse to read it back",
                self.bytes_written,
                cid,
            )
        if self.verify:
            try:
                matches = cid.verify(data)
            except ValueError as exc:
                raise VerificationError(cid, "CARWriter.write", str(exc)) from exc
            if not matches:
                raise VerificationError(cid, "CARWriter.write")
        raw_cid = bytes(cid)
        self._emit(varint(len(raw_cid) + len(data)), raw_cid, data)
        self.blocks_written += 1


def write_car(
    stream: IO[bytes],
    roots: Sequence[CIDLike],
    blocks: Iterable[tuple[CIDLike, bytes]],
    *,
    verify: bool = True,
) -> int:
    """Write a whole CARv1: the header with ``roots``, then ``blocks`` in order.

    Returns:
        The number of bytes written.

    Raises:
        VerificationError: ``verify`` is on and a block does not hash to its CID.

    Example:
        >>> import io
        >>> cid = CID.of(b"x")
        >>> buffer = io.BytesIO()
        >>> write_car(buffer, [cid], [(cid, b"x")]) == len(buffer.getvalue())
        True
    """
    writer = CARWriter(stream, roots, verify=verify)
    for cid, block in blocks:
        writer.write(cid, block)
    return writer.bytes_written
