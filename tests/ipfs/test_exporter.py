"""The UnixFS exporter: round trips, content that the real Kubo added, and hostile DAGs.

Hostile DAGs are built by hand with troika's dag-pb codec: every block hashes
to its CID, but what the blocks claim (sizes, names, depth) is a lie.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._services import Kubo
from troika._errors import (
    BlockNotFound,
    ContentTooLarge,
    IPFSRequestError,
    NotAFile,
    PathError,
    UnreadableBlock,
    VerificationError,
)
from troika.ipfs import (
    CID,
    AsyncKuboClient,
    Block,
    BlockSource,
    KuboClient,
    export_bytes,
    export_file,
    export_path,
    import_bytes,
    import_path,
)
from troika.ipfs._dagpb import PBLink, PBNode, UnixFSData, UnixFSType, decode_node, encode_node
from troika.ipfs._importer import _Builder, _resolve, _walk

KiB = 1024


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def blocks_of(blocks: Iterator[Block]) -> tuple[dict[CID, bytes], CID]:
    """The blocks as a mapping, and the root (the last block)."""
    store: dict[CID, bytes] = {}
    root = None
    for block in blocks:
        store[block.cid] = block.data
        root = block.cid
    assert root is not None
    return store, root


def file_node(data: bytes, children: list[tuple[CID, int]], filesize: int | None) -> bytes:
    """A dag-pb UnixFS File node with whatever sizes the caller claims."""
    unixfs = UnixFSData(
        UnixFSType.FILE,
        data=data or None,
        filesize=filesize,
        blocksizes=tuple(size for _, size in children),
    )
    links = tuple(PBLink(cid, "", size) for cid, size in children)
    return encode_node(PBNode(unixfs.encode(), links))


def directory_node(entries: list[tuple[str, CID]]) -> bytes:
    links = tuple(PBLink(cid, name, 1) for name, cid in entries)
    return encode_node(PBNode(UnixFSData(UnixFSType.DIRECTORY).encode(), links))


def put(store: dict[CID, bytes], raw: bytes, codec: str = "dag-pb") -> CID:
    cid = CID.of(raw, codec)
    store[cid] = raw
    return cid


def tree_contents(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, symlink targets ("-> target"), folders ("/")."""
    contents: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            contents[relative] = f"-> {path.readlink()}"
        elif path.is_dir():
            contents[relative] = "/"
        else:
            contents[relative] = path.read_bytes()
    return contents


def build_tree(root: Path) -> Path:
    tree = root / "tree"
    files = {
        "a.txt": b"a\n",
        "empty": b"",
        "données/été.txt": random_bytes(3000, seed=1),
        "données/日本語/深い/ファイル.bin": random_bytes(70_000, seed=2),
        "emoji 🎉.md": "# 🎉\n".encode(),
        "nested/a/b/c/leaf.txt": b"deep\n",
    }
    for name, data in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tree / "empty-dir").mkdir()
    (tree / "link").symlink_to("données/été.txt")
    (tree / "dangling").symlink_to("../../outside")
    return tree


# -- round trips through troika's own blocks -------------------------------------


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
@pytest.mark.parametrize("size", [0, 1, KiB - 1, KiB, KiB + 1, 174 * KiB + 1, 1100 * KiB + 7])
def test_files_round_trip(profile: str, size: int) -> None:
    data = random_bytes(size, seed=size)
    store, root = blocks_of(import_bytes(data, profile=profile, chunk_size=KiB))

    assert export_bytes(store, root) == data
    assert b"".join(export_file(store, str(root))) == data


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_folders_round_trip(tmp_path: Path, profile: str) -> None:
    tree = build_tree(tmp_path)
    store, root = blocks_of(import_path(tree, profile=profile, chunk_size=KiB))

    out = export_path(store, root, tmp_path / "out")

    assert out == tmp_path / "out"
    assert tree_contents(out) == tree_contents(tree)
    assert (out / "dangling").is_symlink()  # written as a link, never followed


def test_a_sharded_folder_round_trips(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(1100):  # 1100 links of 245 bytes: over v1-2025's 256 KiB
        (folder / f"{index:0200d}").write_bytes(index.to_bytes(2, "big"))
    store, root = blocks_of(import_path(folder, profile="v1-2025"))
    shard = UnixFSData.decode(PBNode_data(store[root]))
    assert shard.type == UnixFSType.HAMT_SHARD

    out = export_path(store, root, tmp_path / "out")

    assert tree_contents(out) == tree_contents(folder)


def PBNode_data(raw: bytes) -> bytes:  # noqa: N802 (reads as the field it returns)
    data = decode_node(raw).data
    assert data is not None
    return data


def test_a_single_file_and_a_symlink_export_to_a_path(tmp_path: Path) -> None:
    data = random_bytes(5000, seed=3)
    store, root = blocks_of(import_bytes(data, chunk_size=KiB))
    (tmp_path / "target").write_bytes(b"t")
    (tmp_path / "link").symlink_to("target")
    links, link_root = blocks_of(import_path(tmp_path / "link"))

    assert export_path(store, root, tmp_path / "file.bin").read_bytes() == data
    assert str(export_path(links, link_root, tmp_path / "link-out").readlink()) == "target"


def test_identity_cids_need_no_block() -> None:
    # bafkqaaa: the empty raw block, inlined in its CID (an identity multihash).
    assert export_bytes({}, "bafkqaaa") == b""


# -- content added by the real Kubo, fetched over its RPC API ---------------------


class KuboBlocks:
    """A block source over Kubo's ``block/get``; the exporter verifies what it returns."""

    def __init__(self, client: KuboClient) -> None:
        self.client = client
        self.fetched = 0

    def get(self, cid: CID) -> bytes:
        self.fetched += 1
        return self.client.block_get(str(cid), timeout=10)


@pytest.fixture
def kubo_blocks(kubo: Kubo) -> Iterator[KuboBlocks]:
    with KuboClient(kubo.api_url) as client:
        yield KuboBlocks(client)


@pytest.mark.kubo
@pytest.mark.parametrize(
    "options",
    [[], ["--cid-version=1"], ["--raw-leaves", "--chunker=size-1024"], ["--trickle"]],
    ids=["default", "cidv1", "raw-leaves", "trickle"],
)
def test_a_file_added_by_kubo_is_reassembled_block_by_block(
    kubo: Kubo, kubo_blocks: KuboBlocks, tmp_path: Path, options: list[str]
) -> None:
    data = random_bytes(700 * KiB + 3, seed=4)
    (tmp_path / "data").write_bytes(data)
    cid = kubo.cli("add", "-Q", *options, str(tmp_path / "data"))

    assert isinstance(kubo_blocks, BlockSource)
    assert export_bytes(kubo_blocks, cid) == data
    assert kubo_blocks.fetched > 1


@pytest.mark.kubo
@pytest.mark.parametrize("options", [[], ["--cid-version=1"]], ids=["default", "cidv1"])
def test_a_folder_added_by_kubo_is_written_back(
    kubo: Kubo, kubo_blocks: KuboBlocks, tmp_path: Path, options: list[str]
) -> None:
    tree = build_tree(tmp_path)
    cid = kubo.cli("add", "-r", "-Q", "--chunker=size-4096", *options, str(tree))

    out = export_path(kubo_blocks, cid, tmp_path / "out")

    assert tree_contents(out) == tree_contents(tree)


@pytest.mark.kubo
def test_a_sharded_folder_added_by_kubo_is_written_back(
    kubo: Kubo, kubo_blocks: KuboBlocks, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(950):  # 950 * (255 + 34) bytes: over Kubo's 256 KiB
        (folder / f"{index:0255d}").write_text(str(index))
    cid = kubo.cli("add", "-r", "-Q", str(folder))
    root = UnixFSData.decode(PBNode_data(kubo_blocks.get(CID.parse(cid))))
    assert root.type == UnixFSType.HAMT_SHARD

    out = export_path(kubo_blocks, cid, tmp_path / "out")

    assert tree_contents(out) == tree_contents(folder)


@pytest.mark.kubo
def test_a_tampered_block_from_kubo_raises_verification_error(
    kubo: Kubo, kubo_blocks: KuboBlocks, tmp_path: Path
) -> None:
    data = random_bytes(600 * KiB, seed=5)
    cid = kubo.cli("add", "-Q", "--cid-version=1", input=data)
    leaves = [link.cid for link in _links(kubo_blocks.get(CID.parse(cid)))]

    class Tampering(KuboBlocks):
        def get(self, block: CID) -> bytes:
            raw = super().get(block)
            return raw[:-1] + bytes([raw[-1] ^ 1]) if block == leaves[1] else raw

    source = Tampering(kubo_blocks.client)
    chunks = export_file(source, cid)
    first = next(chunks)

    with pytest.raises(VerificationError) as caught:
        next(chunks)

    assert first == data[: len(first)]
    assert caught.value.cid == leaves[1]
    assert str(leaves[1]) in str(caught.value)


def _links(raw: bytes) -> tuple[PBLink, ...]:
    return decode_node(raw).links


# -- KuboClient.block_get ------------------------------------------------------------


@pytest.mark.kubo
def test_block_get_returns_the_block_as_the_node_has_it(kubo: Kubo) -> None:
    with KuboClient(kubo.api_url) as client:
        raw_cid = client.add(b"block bytes\n", cid_version=1)
        pb_cid = client.add(b"block bytes\n")

        assert client.block_get(raw_cid) == b"block bytes\n"
        node = client.block_get(pb_cid)
    assert CID.parse(pb_cid).verify(node)
    assert UnixFSData.decode(PBNode_data(node)).data == b"block bytes\n"


@pytest.mark.kubo
def test_async_block_get_returns_the_same_bytes(kubo: Kubo) -> None:
    async def fetch(cid: str) -> bytes:
        async with AsyncKuboClient(kubo.api_url) as client:
            return await client.block_get(cid, timeout=10)

    with KuboClient(kubo.api_url) as client:
        cid = client.add(b"async block\n")
        expected = client.block_get(cid)

    assert asyncio.run(fetch(cid)) == expected


@pytest.mark.kubo
def test_block_get_of_a_missing_block_gives_up_after_its_timeout(kubo: Kubo) -> None:
    missing = str(CID.of(b"troika: a block nobody ever adds"))

    with KuboClient(kubo.api_url) as client, pytest.raises(IPFSRequestError) as caught:
        client.block_get(missing, timeout=0.3)

    assert caught.value.response == "context deadline exceeded"


# -- blocks that lie ----------------------------------------------------------------


def test_a_tampered_root_fails_before_any_byte_is_given_out() -> None:
    store, root = blocks_of(import_bytes(random_bytes(3 * KiB, seed=6), chunk_size=KiB))
    store[root] = store[root].replace(b"\x18", b"\x19", 1)

    with pytest.raises(VerificationError) as caught:
        export_file(store, root)

    assert caught.value.cid == root
    assert caught.value.source == "a mapping of blocks"


def test_a_swapped_block_is_caught() -> None:
    store, root = blocks_of(import_bytes(random_bytes(3 * KiB, seed=7), chunk_size=KiB))
    first, second = list(store)[:2]
    store[first], store[second] = store[second], store[first]

    with pytest.raises(VerificationError) as caught:
        export_bytes(store, root)

    assert caught.value.cid == first


def test_a_missing_block_in_a_mapping_raises_block_not_found() -> None:
    store, root = blocks_of(import_bytes(random_bytes(3 * KiB, seed=8), chunk_size=KiB))
    leaf = next(iter(store))
    del store[leaf]

    with pytest.raises(BlockNotFound) as caught:
        export_bytes(store, root)

    assert caught.value.cid == leaf


def test_a_source_that_returns_none_raises_block_not_found() -> None:
    class Empty:
        def get(self, cid: CID) -> bytes | None:
            return None

    with pytest.raises(BlockNotFound):
        export_bytes(Empty(), CID.of(b"x"))  # type: ignore[arg-type]


def test_sizes_that_disagree_with_the_children_are_caught() -> None:
    store: dict[CID, bytes] = {}
    leaf = put(store, b"12345", "raw")
    liar = put(store, file_node(b"", [(leaf, 10)], filesize=10))  # claims 10, has 5

    with pytest.raises(VerificationError) as caught:
        export_bytes(store, liar)

    assert caught.value.cid == leaf
    assert "holds 5 bytes where its parent says 10" in str(caught.value)


def test_a_filesize_that_disagrees_with_blocksizes_is_caught() -> None:
    store: dict[CID, bytes] = {}
    leaf = put(store, b"12345", "raw")
    liar = put(store, file_node(b"", [(leaf, 5)], filesize=6))

    with pytest.raises(VerificationError) as caught:
        export_file(store, liar)

    assert caught.value.cid == liar


def test_links_without_blocksizes_are_caught() -> None:
    store: dict[CID, bytes] = {}
    leaf = put(store, b"12345", "raw")
    unixfs = UnixFSData(UnixFSType.FILE, filesize=5).encode()
    liar = put(store, encode_node(PBNode(unixfs, (PBLink(leaf, "", 5),))))

    with pytest.raises(VerificationError, match="1 links but 0 blocksizes"):
        export_file(store, liar)


def test_a_very_deep_dag_is_refused_without_exhausting_the_stack() -> None:
    store: dict[CID, bytes] = {}
    node = put(store, b"x", "raw")
    for _ in range(2000):
        node = put(store, file_node(b"", [(node, 1)], filesize=1))

    with pytest.raises(UnreadableBlock, match="more than 256 levels deep"):
        export_bytes(store, node)
    assert export_bytes(store, node, max_depth=3000) == b"x"


def test_a_dag_that_multiplies_one_block_is_bounded_by_max_size(tmp_path: Path) -> None:
    # 174 links to the same subtree, 4 levels: 174**4 copies of one MiB, declared honestly.
    store: dict[CID, bytes] = {}
    node, size = put(store, bytes(KiB * KiB), "raw"), KiB * KiB
    for _ in range(4):
        node = put(store, file_node(b"", [(node, size)] * 174, filesize=size * 174))
        size *= 174

    with pytest.raises(ContentTooLarge) as caught:
        export_file(store, node, max_size=10 * KiB * KiB)
    assert (caught.value.size, caught.value.limit) == (size, 10 * KiB * KiB)

    folder = put(store, directory_node([("bomb", node)]))
    with pytest.raises(ContentTooLarge):
        export_path(store, folder, tmp_path / "out", max_size=10 * KiB * KiB)
    assert not (tmp_path / "out").exists()


def test_a_block_larger_than_the_limit_is_refused_before_hashing() -> None:
    store: dict[CID, bytes] = {}
    big = put(store, bytes(5 * KiB * KiB), "raw")

    with pytest.raises(UnreadableBlock, match="more than the 4194304"):
        export_bytes(store, big)
    assert len(export_bytes(store, big, max_block_size=8 * KiB * KiB)) == 5 * KiB * KiB


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "../escape", "nul\x00byte"])
def test_entry_names_that_could_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    store: dict[CID, bytes] = {}
    leaf = put(store, b"evil", "raw")
    folder = put(store, directory_node([("fine", leaf), (name, leaf)]))

    with pytest.raises(UnreadableBlock, match="not a safe file name"):
        export_path(store, folder, tmp_path / "out")

    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_an_entry_name_twice_is_refused(tmp_path: Path) -> None:
    store: dict[CID, bytes] = {}
    leaf = put(store, b"twice", "raw")
    folder = put(store, directory_node([("same", leaf), ("same", leaf)]))

    with pytest.raises(UnreadableBlock, match="appears twice"):
        export_path(store, folder, tmp_path / "out")


def test_a_hamt_entry_in_the_wrong_slot_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("alpha", "beta", "gamma"):
        (folder / name).write_bytes(name.encode())
    # Kubo's sharness tests shard every folder with a 1-byte threshold; so does this.
    settings = dataclasses.replace(_resolve("kubo-v0", None, None, None), hamt_threshold=1)
    walk = _walk(_Builder(settings, keep=True), folder, hidden=False, follow_symlinks=False)
    store, root = blocks_of(walk)
    shard = decode_node(store[root])
    value = shard.links[0]
    assert value.name is not None
    wrong = f"{(int(value.name[:2], 16) + 1) % 256:02X}"
    moved = PBLink(value.cid, wrong + value.name[2:], value.tsize)
    unixfs = UnixFSData.decode(PBNode_data(store[root]))
    bits = int.from_bytes(unixfs.data or b"", "big") | 1 << int(wrong, 16)
    forged_data = dataclasses.replace(unixfs, data=bits.to_bytes(32, "big").lstrip(b"\0"))
    forged = put(store, encode_node(PBNode(forged_data.encode(), (moved, *shard.links[1:]))))

    assert export_path(store, root, tmp_path / "good").is_dir()
    with pytest.raises(UnreadableBlock, match="not in the slot its hash gives"):
        export_path(store, forged, tmp_path / "out")


def test_export_file_of_a_folder_or_symlink_raises_not_a_file(tmp_path: Path) -> None:
    tree = build_tree(tmp_path)
    store, root = blocks_of(import_path(tree))
    links, link_root = blocks_of(import_path(tree / "link"))

    with pytest.raises(NotAFile) as caught:
        export_file(store, root)
    assert (caught.value.cid, caught.value.kind) == (root, "directory")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(NotAFile, match="symlink"):
        export_bytes(links, link_root)


def test_a_block_that_is_not_unixfs_is_unreadable() -> None:
    store: dict[CID, bytes] = {}
    cbor = put(store, b"\xa0", "dag-cbor")
    junk = put(store, b"\xff\xff", "dag-pb")

    with pytest.raises(UnreadableBlock, match="dag-cbor"):
        export_bytes(store, cbor)
    with pytest.raises(UnreadableBlock, match="not a valid UnixFS node"):
        export_bytes(store, junk)


def test_an_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    store, root = blocks_of(import_bytes(b"new"))
    (tmp_path / "taken").write_bytes(b"old")

    with pytest.raises(PathError) as caught:
        export_path(store, root, tmp_path / "taken")

    assert caught.value.path == str(tmp_path / "taken")
    assert (tmp_path / "taken").read_bytes() == b"old"


def test_a_destination_in_a_missing_folder_is_a_path_error(tmp_path: Path) -> None:
    store, root = blocks_of(import_bytes(b"x"))

    with pytest.raises(PathError):
        export_path(store, root, tmp_path / "missing" / "out")


def test_a_source_of_the_wrong_type_is_a_type_error() -> None:
    bad: Any = 42
    with pytest.raises(TypeError, match="block source"):
        export_bytes(bad, CID.of(b"x"))
