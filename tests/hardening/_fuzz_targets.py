"""The byte-level parsers that meet the outside world, as fuzz targets.

Each target takes one byte string, feeds it to one of troika's parsers and
returns normally when the parser either accepts the input or refuses it with
the error its docstring documents (``Target.allowed``). Anything else that
escapes (an ``IndexError``, a ``RecursionError``, an ``AssertionError`` from a
round-trip check below) is a finding. ``tools/fuzz.py`` runs the targets under
atheris (coverage-guided, bounded time, memory and per-input time), and
``tests/hardening/test_fuzz_smoke.py`` runs each on its seed corpus in CI.

Where a parser documents more than "accepts or refuses", the target checks
that too: dag-pb decoding accepts only the canonical form (so what it decodes
re-encodes to the same bytes), and a decoded CID's binary and string forms
round-trip.

The seeds are made by troika's own writers: CARs of files the importer built,
the dag-pb and UnixFS blocks in them, and their CIDs in every multibase.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from troika import CARError, InvalidCID, IPFSError
from troika.ipfs import CID, export_bytes, import_bytes, read_car, write_car
from troika.ipfs._dagpb import (
    PBLink,
    PBNode,
    UnixFSData,
    UnixFSType,
    decode_node,
    encode_node,
)
from troika.ipfs._multiformats import BASES, multibase_decode, multibase_encode

__all__ = ["TARGETS", "Target", "seeds"]

# The exporter target refuses to rebuild more than this (ContentTooLarge), so a
# fuzzed root that declares a huge file costs nothing.
_EXPORT_LIMIT = 1 << 20


@dataclass(frozen=True)
class Target:
    """One parser under fuzzing: its entry, the errors it documents, its seeds."""

    name: str
    parser: str
    function: Callable[[bytes], None]
    allowed: tuple[type[BaseException], ...]

    def __call__(self, data: bytes) -> bool:
        """Run the parser on ``data``: True if it accepted, False if it refused as documented."""
        try:
            self.function(data)
        except self.allowed:
            return False
        return True


def _car(data: bytes) -> None:
    reader = read_car(data)
    for _ in reader:  # every block is re-hashed against its CID as it is read
        pass


def _dagpb(data: bytes) -> None:
    node = decode_node(data)
    # decode_node accepts only canonical dag-pb: what it decoded re-encodes to the same bytes.
    assert encode_node(node) == data, "decode_node accepted a non-canonical node"
    if node.data is not None:
        with contextlib.suppress(ValueError):  # dag-pb whose data is not UnixFS is still dag-pb
            UnixFSData.decode(node.data)


def _unixfs(data: bytes) -> None:
    UnixFSData.decode(data)


def _cid_binary(data: bytes) -> None:
    cid = CID.decode(data)
    assert bytes(cid) == data, "CID.decode accepted bytes that are not the CID's binary form"
    assert CID.parse(str(cid)) == cid, "a decoded CID's string form does not parse back"


def _text(data: bytes) -> str:
    # Mostly ASCII is what multibase is made of; surrogateescape keeps every byte.
    return data.decode("utf-8", errors="surrogateescape")


def _cid_text(data: bytes) -> None:
    cid = CID.parse(_text(data))
    assert CID.decode(bytes(cid)) == cid, "a parsed CID's binary form does not decode back"


def _multibase(data: bytes) -> None:
    base, raw = multibase_decode(_text(data))
    assert multibase_decode(multibase_encode(raw, base)) == (base, raw), "multibase round-trip"


def _unixfs_export(data: bytes) -> None:
    reader = read_car(data)
    blocks = {block.cid: block.data for block in reader}
    for root in reader.roots:
        export_bytes(blocks, root, max_size=_EXPORT_LIMIT)


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("car", "CAR reader (read_car)", _car, (CARError,)),
        Target("dagpb", "dag-pb decoder (decode_node)", _dagpb, (ValueError,)),
        Target("unixfs", "UnixFS Data decoder (UnixFSData.decode)", _unixfs, (ValueError,)),
        Target("cid_binary", "binary CID (CID.decode)", _cid_binary, (InvalidCID,)),
        Target("cid_text", "CID string (CID.parse)", _cid_text, (InvalidCID,)),
        Target("multibase", "multibase (multibase_decode)", _multibase, (ValueError,)),
        Target(
            "unixfs_export",
            "UnixFS exporter over a CAR (export_bytes)",
            _unixfs_export,
            (IPFSError,),
        ),
    )
}
"""The targets by name."""


# -- the seed corpus ------------------------------------------------------------------


def _files() -> Iterator[list[tuple[CID, bytes]]]:
    """The blocks of a few files (root last), as troika's importer builds them."""
    yield [(b.cid, b.data) for b in import_bytes(b"")]
    yield [(b.cid, b.data) for b in import_bytes(b"hello\n")]
    yield [(b.cid, b.data) for b in import_bytes(b"hello\n", cid_version=1)]
    yield [(b.cid, b.data) for b in import_bytes(bytes(range(200)), chunk_size=16)]
    yield [
        (b.cid, b.data)
        for b in import_bytes(bytes(range(200)), chunk_size=32, cid_version=1, raw_leaves=False)
    ]


def _folder() -> list[tuple[CID, bytes]]:
    """A folder of two files, made with troika's dag-pb and UnixFS encoders."""
    blocks: list[tuple[CID, bytes]] = []
    links = []
    for name, content in (("a.txt", b"alpha"), ("b.txt", b"beta")):
        *_, (cid, data) = [(b.cid, b.data) for b in import_bytes(content)]
        blocks.append((cid, data))
        links.append(PBLink(cid, name, len(data)))
    node = encode_node(PBNode(UnixFSData(UnixFSType.DIRECTORY).encode(), tuple(links)))
    blocks.append((CID.of(node, "dag-pb"), node))
    return blocks


def _car_bytes(blocks: list[tuple[CID, bytes]]) -> bytes:
    buffer = io.BytesIO()
    write_car(buffer, [blocks[-1][0]], blocks)
    return buffer.getvalue()


def seeds(name: str) -> list[bytes]:
    """The seed inputs of target ``name``, made by troika's own writers.

    Example:
        >>> all(TARGETS["car"](seed) for seed in seeds("car"))
        True
    """
    files = [*_files(), _folder()]
    blocks = [data for file in files for _, data in file]
    cids = [cid for file in files for cid, _ in file]
    if name in ("car", "unixfs_export"):
        return [_car_bytes(file) for file in files]
    if name == "dagpb":
        return [data for file in files for cid, data in file if cid.codec == "dag-pb"]
    if name == "unixfs":
        return [
            node.data
            for node in (
                decode_node(data) for file in files for c, data in file if c.codec == "dag-pb"
            )
            if node.data is not None
        ]
    if name == "cid_binary":
        return [bytes(cid) for cid in cids]
    if name in ("cid_text", "multibase"):
        texts = [cid.to_v1().encode(base) for cid in cids[:3] for base in BASES]
        if name == "cid_text":
            texts += [str(cid) for cid in cids]  # CIDv0 (base58btc, no prefix) and v1 base32
        else:
            texts += [multibase_encode(block[:40], base) for block in blocks[:2] for base in BASES]
        return [text.encode() for text in texts]
    raise KeyError(name)
