"""CAR files: spec and go-car vectors, interop with a real Kubo, and bad input.

The vectors (tests/ipfs/vectors/car, see its README) come from ipld/js-car's
tests, with what those tests expect of them. The Kubo tests run two real
nodes: the session's ``kubo``, and an offline one with an empty repo that only
ever sees what troika hands it.
"""

from __future__ import annotations

import io
import json
import random
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._services import Kubo
from troika import CARError, IPFSRequestError, VerificationError
from troika.ipfs import (
    CID,
    DEFAULT_MAX_BLOCK_SIZE,
    AsyncKuboClient,
    Block,
    CARReader,
    CARWriter,
    KuboClient,
    read_car,
    write_car,
)
from troika.ipfs._car import decode_header, encode_header
from troika.ipfs._multiformats import varint

VECTORS = Path(__file__).parent / "vectors" / "car"
EXPECTED = json.loads((VECTORS / "expected.json").read_text())
V2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def read_all(car: bytes) -> tuple[CARReader, list[Block]]:
    reader = read_car(car)
    return reader, list(reader)


def with_header(header: bytes) -> bytes:
    return varint(len(header)) + header


def cbor_text(text: str) -> bytes:
    return bytes([0x60 | len(text)]) + text.encode()


# -- the vectors ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vector_gives_the_roots_blocks_and_offsets_js_car_expects(name: str) -> None:
    expected = EXPECTED[name]
    reader = read_car(vector(name))

    blocks = []
    while True:
        start = reader.offset
        try:
            block = next(reader)
        except StopIteration:
            break
        blocks.append((start, reader.offset, block))

    assert reader.version == expected["version"]
    assert [str(root) for root in reader.roots] == expected["roots"]
    assert [str(block.cid) for _, _, block in blocks] == [b["cid"] for b in expected["blocks"]]
    for (start, end, block), want in zip(blocks, expected["blocks"], strict=True):
        if "offset" in want:
            assert (start, end - start) == (want["offset"], want["length"])
            assert len(block.data) == want["blockLength"]
            assert end - len(block.data) == want["blockOffset"]
        if "data" in want:
            assert block.data == want["data"].encode()


@pytest.mark.parametrize("name", ["carv1-basic.car", "go-car-v1.car"])
def test_writer_reproduces_the_vector_byte_for_byte(name: str) -> None:
    original = vector(name)
    reader, blocks = read_all(original)
    out = io.BytesIO()

    written = write_car(out, reader.roots, blocks)

    assert out.getvalue() == original
    assert written == len(original)


def test_header_encoding_is_canonical_dag_cbor() -> None:
    # The carv1-basic header (1 varint byte, then 99 bytes): roots before version.
    reader = read_car(vector("carv1-basic.car"))

    assert with_header(encode_header(reader.roots)) == vector("carv1-basic.car")[:100]
    assert decode_header(encode_header(reader.roots)) == (1, reader.roots)


def test_header_keys_may_come_in_either_order_as_kubo_accepts() -> None:
    root = CID.of(b"root")
    link = b"\x00" + bytes(root)
    header = (
        b"\xa2"
        + cbor_text("version")
        + b"\x01"
        + cbor_text("roots")
        + b"\x81\xd8\x2a\x58"
        + bytes([len(link)])
        + link
    )

    assert read_car(with_header(header)).roots == (root,)


def test_a_car_with_no_roots_and_no_blocks_is_read() -> None:
    reader, blocks = read_all(with_header(encode_header([])))

    assert (reader.roots, blocks) == ((), [])


# js-car's "bad header" cases (test/test-errors.spec.js), with troika's messages.
ROOT_LINK = b"\x81\xd8\x2a\x58\x25\x00" + bytes(CID.of(b"root"))
BAD_HEADERS = {
    "version 3": (bytes.fromhex("a16776657273696f6e03"), "unsupported CAR version 3 in the header"),
    "no version": (
        b"\xa1" + cbor_text("roots") + b"\x80",
        "malformed header: the header has no version",
    ),
    "version a string": (
        b"\xa2" + cbor_text("roots") + b"\x80" + cbor_text("version") + cbor_text("1"),
        "malformed header: the version is a CBOR major type 3, not 0",
    ),
    "no roots": (b"\xa1" + cbor_text("version") + b"\x01", "the version 1 header has no roots"),
    "roots a map": (
        b"\xa2" + cbor_text("roots") + b"\xa0" + cbor_text("version") + b"\x01",
        "malformed header: the roots is a CBOR major type 5, not 4",
    ),
    "extraneous key": (
        b"\xa3"
        + cbor_text("roots")
        + b"\x80"
        + cbor_text("version")
        + b"\x01"
        + cbor_text("blip")
        + b"\xf5",
        "malformed header: the header has an unknown key 'blip'",
    ),
    "an array": (b"\x82\x01\x80", "malformed header: the header is a CBOR major type 4, not 5"),
    "null": (b"\xf6", "malformed header: the header is a CBOR major type 7, not 5"),
    "repeated key": (
        b"\xa3"
        + cbor_text("roots")
        + b"\x80"
        + cbor_text("roots")
        + b"\x80"
        + cbor_text("version")
        + b"\x01",
        "malformed header: the header has the key 'roots' twice",
    ),
    "indefinite map": (
        b"\xbf" + cbor_text("version") + b"\x01\xff",
        "malformed header: indefinite lengths and reserved CBOR forms are not allowed in dag-cbor",
    ),
    "non-minimal integer": (
        b"\xa2" + cbor_text("roots") + b"\x80" + cbor_text("version") + b"\x18\x01",
        "malformed header: a CBOR integer or length is not minimally encoded",
    ),
    "root not a link": (
        b"\xa2" + cbor_text("roots") + b"\x81\x41\x00" + cbor_text("version") + b"\x01",
        "malformed header: a root is not a CID link (CBOR tag 42)",
    ),
    "link without the 0x00 prefix": (
        b"\xa2"
        + cbor_text("roots")
        + b"\x81\xd8\x2a\x58\x24"
        + bytes(CID.of(b"root"))
        + cbor_text("version")
        + b"\x01",
        "malformed header: a CID link lacks its 0x00 multibase-identity prefix",
    ),
    "bytes after the map": (
        b"\xa2" + cbor_text("roots") + ROOT_LINK + cbor_text("version") + b"\x01\x00",
        "malformed header: 1 bytes after the header's map",
    ),
    "cut short": (
        b"\xa2" + cbor_text("roots") + ROOT_LINK[:-3],
        "malformed header: the header ends in the middle of an item",
    ),
}


@pytest.mark.parametrize(("header", "reason"), BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_bad_header_is_refused_with_its_reason(header: bytes, reason: str) -> None:
    with pytest.raises(CARError) as caught:
        read_car(with_header(header))

    error = caught.value
    assert (error.offset, error.reason, error.cid) == (0, reason, None)
    assert str(error) == f"invalid CAR at byte 0: {reason}"
    assert isinstance(error, ValueError)


def test_a_v0_cid_byte_zeroed_is_refused_as_js_car_does() -> None:
    car = bytearray(vector("carv1-basic.car"))
    car[101] = 0  # the first block's CID (js-car: "Unexpected CID version (0)")

    with pytest.raises(CARError) as caught:
        read_all(bytes(car))

    assert caught.value.offset == 100
    assert caught.value.reason.startswith("a section starts with a malformed CID (invalid CID ")
    assert caught.value.reason.endswith(": unknown CID version 0)")


# -- CARv2 ---------------------------------------------------------------------------


def v2_header(data_offset: int, data_size: int, index_offset: int = 0) -> bytes:
    return V2_PRAGMA + struct.pack("<16sQQQ", bytes(16), data_offset, data_size, index_offset)


def test_v2_payload_is_read_and_the_index_ignored() -> None:
    original = vector("go-car-v2.car")
    reader, blocks = read_all(original)

    assert reader.version == 2
    assert reader.offset == 51 + 448  # the payload's end; the index after it is not read
    assert [block.data for block in blocks][-2:] == [b"fish", b"lobster"]


def test_v2_padding_before_the_payload_is_skipped() -> None:
    payload = with_header(encode_header([CID.of(b"x")])) + varint(36 + 1)
    payload += bytes(CID.of(b"x")) + b"x"
    car = v2_header(51 + 7, len(payload)) + bytes(7) + payload

    reader, blocks = read_all(car)

    assert (reader.version, blocks) == (2, [Block(CID.of(b"x"), b"x")])


V2_FAULTS = {
    "nested v2": (
        v2_header(51, 62) + v2_header(51, 62),
        51,
        "unsupported CAR version 2 inside a CARv2",
    ),
    "data offset inside the header": (
        v2_header(40, 10),
        11,
        "the CARv2 data offset 40 points inside its header",
    ),
    "empty payload": (v2_header(51, 0), 11, "the CARv2 data payload is empty"),
    "index inside the payload": (
        v2_header(51, 100, 60),
        11,
        "the CARv2 index offset 60 points inside the data payload",
    ),
    "huge padding": (
        v2_header(51 + (1 << 40), 10),
        11,
        f"the CARv2 data offset {51 + (1 << 40)} skips more than the limit of "
        f"{1 << 20} bytes (max_header_size)",
    ),
    "cut short in the header": (
        V2_PRAGMA + bytes(20),
        11,
        "the CAR ends inside the CARv2 header: 40 bytes expected, 20 found",
    ),
}


@pytest.mark.parametrize(("car", "offset", "reason"), V2_FAULTS.values(), ids=V2_FAULTS.keys())
def test_bad_v2_is_refused(car: bytes, offset: int, reason: str) -> None:
    with pytest.raises(CARError) as caught:
        read_all(car)

    assert (caught.value.offset, caught.value.reason) == (offset, reason)


def test_v2_payload_that_outruns_the_stream_is_refused() -> None:
    original = vector("go-car-v2.car")[: 51 + 200]

    with pytest.raises(CARError) as caught:
        read_all(original)

    assert caught.value.reason == "the CAR ends inside a section: 133 bytes expected, 59 found"


def test_v2_section_past_the_payload_end_is_refused() -> None:
    original = bytearray(vector("go-car-v2.car"))
    original[35:43] = struct.pack("<Q", 100)  # the data size: cut inside the first block

    with pytest.raises(CARError) as caught:
        read_all(bytes(original))

    assert (caught.value.offset, caught.value.reason) == (
        108,
        "a section runs past the end of the CARv2 data payload",
    )


# -- sections that must fail, fast and without allocating --------------------------


def blocks_car(*datas: bytes) -> bytes:
    out = io.BytesIO()
    write_car(out, [CID.of(datas[0])], [(CID.of(d), d) for d in datas])
    return out.getvalue()


HEADER = with_header(encode_header([CID.of(b"a")]))
SECTION_FAULTS = {
    "empty stream": (b"", 0, "the stream is empty; a CAR starts with its header"),
    "header of length 0": (b"\x00", 0, "the header has length 0"),
    "header length cut short": (b"\x80", 0, "the CAR ends inside the length of the header"),
    "header length non-minimal": (
        b"\x81\x00",
        0,
        "the length of the header is a malformed varint (non-minimal varint)",
    ),
    "header length of 10 bytes": (
        b"\xff" * 10,
        0,
        "the length of the header is a malformed varint (varint longer than 9 bytes)",
    ),
    "header length of 2**63-1": (
        b"\xff" * 8 + b"\x7f",
        0,
        f"the header declares {2**63 - 1} bytes, more than the limit of 1048576 (max_header_size)",
    ),
    "header cut short": (
        HEADER[:20],
        0,
        "the CAR ends inside the header: 58 bytes expected, 19 found",
    ),
    "section of length 0": (HEADER + b"\x00", 59, "a section has length 0 (no CID, no block)"),
    "section length of 2**62": (
        HEADER + varint(2**62),
        59,
        f"a section declares {2**62} bytes, more than a block of at most 4194304 bytes "
        "(max_block_size) and its CID",
    ),
    "section cut short": (
        HEADER + varint(40) + bytes(CID.of(b"a")),
        59,
        "the CAR ends inside a section: 40 bytes expected, 36 found",
    ),
    "section CID malformed": (
        HEADER + varint(3) + b"\x01\x55\xff",
        59,
        "a section starts with a malformed CID (invalid CID b'\\x01U\\xff': truncated varint)",
    ),
}


@pytest.mark.parametrize(
    ("car", "offset", "reason"), SECTION_FAULTS.values(), ids=SECTION_FAULTS.keys()
)
def test_bad_section_fails_fast_without_allocating(car: bytes, offset: int, reason: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(CARError) as caught:
            read_all(car)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (caught.value.offset, caught.value.reason) == (offset, reason)
    assert peak < 256 * 1024


def test_tampered_block_names_its_cid() -> None:
    car = bytearray(blocks_car(b"first", b"second"))
    car[-1] ^= 0x01

    reader = read_car(bytes(car))
    first = next(reader)
    with pytest.raises(CARError) as caught:
        next(reader)

    assert first == Block(CID.of(b"first"), b"first")
    assert caught.value.cid == CID.of(b"second")
    assert caught.value.offset == len(car) - (1 + 36 + 6)
    assert caught.value.reason == (
        f"block {str(CID.of(b'second'))!r} does not match its CID (corrupted or tampered with)"
    )


def test_block_with_a_hash_troika_cannot_compute_is_refused() -> None:
    # blake3 (0x1e): a valid CID, but troika has no blake3 to check the block with.
    cid = CID.decode(b"\x01\x55\x1e\x20" + bytes(32))
    car = HEADER + varint(len(bytes(cid)) + 1) + bytes(cid) + b"x"

    with pytest.raises(CARError) as caught:
        read_all(car)

    assert caught.value.reason == (
        f"cannot verify block {str(cid)!r}: cannot verify multihash function blake3"
    )


def test_block_size_limit_is_the_default_and_configurable() -> None:
    big = random.Random(5).randbytes(DEFAULT_MAX_BLOCK_SIZE + 1)
    out = io.BytesIO()
    CARWriter(out, [CID.of(big)], max_block_size=8 << 20).write(CID.of(big), big)

    with pytest.raises(CARError) as caught:
        read_all(out.getvalue())
    assert caught.value.reason == (
        f"block {str(CID.of(big))!r} has {len(big)} bytes, more than the limit of "
        f"{DEFAULT_MAX_BLOCK_SIZE} (max_block_size)"
    )

    assert [b.data for b in read_car(out.getvalue(), max_block_size=8 << 20)] == [big]


def test_writer_refuses_a_block_it_would_not_read_back() -> None:
    big = bytes(DEFAULT_MAX_BLOCK_SIZE + 1)
    out = io.BytesIO()
    writer = CARWriter(out, [])
    before = out.getvalue()

    with pytest.raises(CARError) as caught:
        writer.write(CID.of(big), big)

    assert (caught.value.cid, caught.value.offset) == (CID.of(big), len(before))
    assert out.getvalue() == before


def test_writer_verifies_unless_told_not_to() -> None:
    out = io.BytesIO()
    writer = CARWriter(out, [CID.of(b"right")])

    with pytest.raises(VerificationError) as caught:
        writer.write(CID.of(b"right"), b"wrong")
    assert (caught.value.cid, caught.value.source) == (CID.of(b"right"), "CARWriter.write")

    unchecked = io.BytesIO()
    CARWriter(unchecked, [CID.of(b"right")], verify=False).write(CID.of(b"right"), b"wrong")
    with pytest.raises(CARError) as refused:  # the reader still catches it
        read_all(unchecked.getvalue())
    assert refused.value.cid == CID.of(b"right")


class Trickle(io.RawIOBase):
    """A stream that hands out at most one byte per read, as a slow pipe might."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1) if size >= 0 else 1)


def test_short_reads_give_the_same_blocks() -> None:
    original = vector("go-car-v2.car")

    assert list(CARReader(Trickle(original))) == read_all(original)[1]


# -- fuzzing: truncations, bit flips, garbage ----------------------------------------

FUZZ_CAR = blocks_car(b"", b"a", random.Random(1).randbytes(300), random.Random(2).randbytes(70))
FUZZ_CARS = [FUZZ_CAR, vector("carv1-basic.car"), vector("go-car-v2.car")]


def section_ends(car: bytes) -> set[int]:
    """Offsets at which a CARv1 may end: after its header, after each section."""
    reader = read_car(car)
    ends = {reader.offset}
    for _ in reader:
        ends.add(reader.offset)
    return ends


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.timeout(120)
def test_a_truncated_car_is_refused_unless_cut_between_sections(data: st.DataObject) -> None:
    car = data.draw(st.sampled_from(FUZZ_CARS[:2]))
    cut = data.draw(st.integers(0, len(car) - 1))
    _, blocks = read_all(car)

    try:
        _, got = read_all(car[:cut])
    except CARError:
        assert cut not in section_ends(car)
    else:
        assert cut in section_ends(car)
        assert got == blocks[: len(got)]


@settings(max_examples=500, deadline=None)
@given(data=st.data())
@pytest.mark.timeout(120)
def test_a_flipped_bit_never_changes_a_block(data: st.DataObject) -> None:
    car = data.draw(st.sampled_from(FUZZ_CARS))
    position = data.draw(st.integers(0, len(car) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(car)
    damaged[position] ^= 1 << bit
    _, blocks = read_all(car)

    try:
        _, got = read_all(bytes(damaged))
    except CARError:
        return
    # What no hash covers may change unnoticed: the roots in the header, a CID's
    # codec, and a CARv2's characteristics, index and data size (which can end
    # the payload early, between two sections). A block's bytes never change.
    hashed = [(block.cid.multihash, block.data) for block in blocks]
    assert [(block.cid.multihash, block.data) for block in got] == hashed[: len(got)]
    if car is not FUZZ_CARS[2]:
        assert len(got) == len(blocks)


@settings(max_examples=500, deadline=None)
@given(garbage=st.binary(max_size=4096))
@pytest.mark.timeout(120)
def test_garbage_is_refused(garbage: bytes) -> None:
    with pytest.raises(CARError):
        read_all(garbage)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=4096))
@pytest.mark.timeout(120)
def test_garbage_after_a_header_never_yields_an_unverified_block(garbage: bytes) -> None:
    try:
        _, got = read_all(HEADER + garbage)
    except CARError:
        return
    assert all(block.cid.verify(block.data) for block in got)


# -- Kubo ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_kubo(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubo]:
    """A second node, offline, whose repo holds only what a test imports into it."""
    node = Kubo(offline=True, workdir=tmp_path_factory.mktemp("empty-kubo"), binary=kubo.binary)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def ipfs(kubo: Kubo) -> Iterator[KuboClient]:
    with KuboClient(kubo.api_url) as client:
        yield client


@pytest.fixture
def empty_ipfs(empty_kubo: Kubo) -> Iterator[KuboClient]:
    with KuboClient(empty_kubo.api_url) as client:
        yield client


def block_get(api_url: str, cid: str) -> bytes:
    response = httpx.post(f"{api_url}/api/v0/block/get", params={"arg": cid}, timeout=30)
    response.raise_for_status()
    return response.content


def kubo_blocks(kubo: Kubo, root: str) -> dict[CID, bytes]:
    """Every block under ``root`` as Kubo's own ``refs`` and ``block/get`` give them."""
    refs = kubo.cli("refs", "-r", "--unique", root).split()
    return {CID.parse(cid): block_get(kubo.api_url, cid) for cid in [root, *refs]}


MULTI_CHUNK = random.Random(20260127).randbytes(700 * 1024 + 3)
ADDS = {
    "hello v0": (b"hello\n", 0, None),
    "multi-chunk v0": (MULTI_CHUNK, 0, None),
    "multi-chunk v1 raw leaves": (MULTI_CHUNK, 1, True),
    "multi-chunk v1 dag-pb leaves": (MULTI_CHUNK, 1, False),
}


@pytest.mark.kubo
@pytest.mark.parametrize(("data", "version", "raw_leaves"), ADDS.values(), ids=ADDS.keys())
def test_troika_reads_and_verifies_what_kubo_exports(
    kubo: Kubo, ipfs: KuboClient, data: bytes, version: int, raw_leaves: bool | None
) -> None:
    root = ipfs.add(data, cid_version=version, raw_leaves=raw_leaves)

    reader, blocks = read_all(ipfs.dag_export(root))

    assert reader.version == 1
    assert [str(cid) for cid in reader.roots] == [root]
    assert {block.cid: block.data for block in blocks} == kubo_blocks(kubo, root)
    assert str(blocks[0].cid) == root  # the root first


@pytest.mark.kubo
@pytest.mark.parametrize(("data", "version", "raw_leaves"), ADDS.values(), ids=ADDS.keys())
def test_kubo_imports_and_pins_what_troika_writes(
    kubo: Kubo,
    ipfs: KuboClient,
    empty_ipfs: KuboClient,
    data: bytes,
    version: int,
    raw_leaves: bool | None,
) -> None:
    root = ipfs.add(data, cid_version=version, raw_leaves=raw_leaves, pin=False)
    blocks = kubo_blocks(kubo, root)
    car = io.BytesIO()
    write_car(car, [root], blocks.items())

    roots = empty_ipfs.dag_import(car.getvalue())

    assert roots == [root]
    assert root in empty_ipfs.pins()
    assert empty_ipfs.cat(root) == data


@pytest.mark.kubo
def test_dag_export_that_kubo_cuts_short_is_an_error(
    kubo: Kubo, ipfs: KuboClient, empty_ipfs: KuboClient
) -> None:
    # The empty node gets the root of a three-leaf file but none of its leaves:
    # Kubo starts the export, then fails, and says so only in a trailer.
    root = ipfs.add(random.Random(3).randbytes(600 * 1024), pin=False)  # data no test shares
    car = io.BytesIO()
    write_car(car, [root], [(root, block_get(kubo.api_url, root))])
    empty_ipfs.dag_import(car.getvalue(), pin_roots=False)
    first_leaf = kubo.cli("refs", root).split()[0]

    with pytest.raises(IPFSRequestError) as caught:
        empty_ipfs.dag_export(root, timeout=5)

    error = caught.value
    assert (error.status, error.response) == (
        200,
        f"the CAR is cut short: it lacks block {first_leaf!r} of the DAG",
    )


@pytest.mark.kubo
def test_dag_import_of_an_incomplete_dag_is_never_reported_pinned(
    kubo: Kubo, ipfs: KuboClient, empty_ipfs: KuboClient
) -> None:
    root = ipfs.add(random.Random(4).randbytes(600 * 1024), pin=False)
    car = io.BytesIO()
    write_car(car, [root], [(root, block_get(kubo.api_url, root))])

    with pytest.raises(IPFSRequestError) as caught:
        empty_ipfs.dag_import(car.getvalue())

    assert caught.value.status == 200
    assert caught.value.response.startswith(
        f"Kubo stored the blocks but could not pin root {root!r}: "
    )
    assert root not in empty_ipfs.pins()


@pytest.mark.kubo
def test_dag_import_without_pinning_returns_the_roots(
    ipfs: KuboClient, empty_ipfs: KuboClient
) -> None:
    root = ipfs.add(b"import, do not pin\n", pin=False)

    assert empty_ipfs.dag_import(ipfs.dag_export(root), pin_roots=False) == [root]
    assert root not in empty_ipfs.pins()


@pytest.mark.kubo
def test_dag_import_of_something_else_sends_nothing(empty_ipfs: KuboClient) -> None:
    with pytest.raises(CARError) as caught:
        empty_ipfs.dag_import(b"")

    assert caught.value.reason == "the stream is empty; a CAR starts with its header"


@pytest.mark.kubo
def test_dag_export_of_a_malformed_cid_quotes_kubo(ipfs: KuboClient) -> None:
    with pytest.raises(IPFSRequestError) as caught:
        ipfs.dag_export("Qmnotvalid")

    assert (caught.value.status, caught.value.response) == (
        500,
        'invalid path "/ipfs/Qmnotvalid": invalid cid: selected encoding not supported',
    )


@pytest.mark.kubo
@pytest.mark.anyio
async def test_async_dag_export_and_import_agree_with_sync(
    kubo: Kubo, empty_kubo: Kubo, ipfs: KuboClient
) -> None:
    root = ipfs.add(MULTI_CHUNK + b"async", cid_version=1)

    async with AsyncKuboClient(kubo.api_url) as source:
        car = await source.dag_export(root)
    async with AsyncKuboClient(empty_kubo.api_url) as target:
        roots = await target.dag_import(car)
        pinned = await target.pins()

    assert car == ipfs.dag_export(root)
    assert roots == [root]
    assert root in pinned
