"""LocalStore and AsyncLocalStore: the shared store suite, the on-disk layout,
garbage collection, damage on disk, CAR import and export (byte-identical to
Kubo's), and threads."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests._services import Kubo
from tests.ipfs._store_contract import PinningStoreContract, SyncOverAsync, dag_pb, small_dag
from troika import CARError, CorruptStore, IncompleteDAG, UnreadableBlock, VerificationError
from troika.ipfs import (
    CID,
    AsyncLocalStore,
    AsyncPinningStore,
    KuboClient,
    LocalStore,
    PinningStore,
    car_of,
    read_car,
    write_car,
)
from troika.ipfs._store import block_file


class TestLocalStore(PinningStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(tmp_path / "store")


class TestAsyncLocalStore(PinningStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SyncOverAsync:
        return SyncOverAsync(AsyncLocalStore(tmp_path / "store"))


def test_both_implement_the_store_protocols(tmp_path: Path) -> None:
    assert isinstance(LocalStore(tmp_path / "a"), PinningStore)
    assert isinstance(AsyncLocalStore(tmp_path / "b"), AsyncPinningStore)


def put_all(store: LocalStore, blocks: dict[CID, bytes]) -> None:
    for cid, block in blocks.items():
        store.put(cid, block)


def block_files(store: LocalStore) -> list[Path]:
    return sorted(p for p in (store.path / "blocks").rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


# -- layout --------------------------------------------------------------------------


@pytest.mark.kubo
def test_block_files_are_named_as_in_kubos_own_repo(kubo: Kubo, store: LocalStore) -> None:
    # Kubo's flatfs: blocks/<next-to-last 2 chars>/<BASE32 MULTIHASH>.data
    with KuboClient(kubo.api_url) as ipfs:
        cid = ipfs.add(b"where does this go?\n")
    block = block_get(kubo.api_url, cid)

    store.put(cid, block)

    (ours,) = block_files(store)
    theirs = kubo.ipfs_path / "blocks" / ours.parent.name.upper() / f"{ours.name.upper()}.data"
    assert theirs.read_bytes() == ours.read_bytes() == block


def test_a_stored_block_is_one_file_and_nothing_is_left_in_tmp(store: LocalStore) -> None:
    store.put(CID.of(b"one"), b"one")

    assert [p.read_bytes() for p in block_files(store)] == [b"one"]
    assert list((store.path / "tmp").iterdir()) == []


def test_identity_cids_need_no_file(store: LocalStore) -> None:
    cid = CID.decode(b"\x01\x55\x00\x05" + b"hello")  # the data is in the CID

    store.put(cid, b"hello")

    assert (store.get(cid), store.has(cid), block_files(store)) == (b"hello", True, [])


# -- damage on disk ----------------------------------------------------------------------


def test_a_block_damaged_on_disk_fails_verification_on_read(store: LocalStore) -> None:
    cid = CID.of(b"precious")
    store.put(cid, b"precious")
    (file,) = block_files(store)
    file.write_bytes(b"precioUs")

    with pytest.raises(VerificationError) as caught:
        store.get(cid)

    assert (caught.value.cid, caught.value.source) == (cid, repr(file.as_posix()))
    assert str(caught.value) == (
        f"block {str(cid)!r} from {file.as_posix()!r} failed verification: its bytes do not "
        "hash to the CID (corrupted or tampered with)"
    )


def test_put_repairs_a_damaged_copy(store: LocalStore) -> None:
    cid = CID.of(b"precious")
    store.put(cid, b"precious")
    (file,) = block_files(store)
    file.write_bytes(b"garbage")

    store.put(cid, b"precious")

    assert store.get(cid) == b"precious"


def test_a_damaged_pin_file_stops_pins_and_gc(store: LocalStore) -> None:
    store.put(CID.of(b"garbage"), b"garbage")
    (store.path / "pins.json").write_text("{not json")

    for call in (store.pins, store.gc, lambda: store.pin(CID.of(b"garbage"))):
        with pytest.raises(CorruptStore) as caught:
            call()
        assert caught.value.path == str(store.path / "pins.json")
    assert store.has(CID.of(b"garbage"))


def test_a_lost_pin_file_is_not_taken_for_an_empty_one(tmp_path: Path) -> None:
    first = LocalStore(tmp_path / "store")
    first.put(CID.of(b"kept"), b"kept")
    first.pin(CID.of(b"kept"))
    (tmp_path / "store" / "pins.json").unlink()

    reopened = LocalStore(tmp_path / "store")

    with pytest.raises(CorruptStore) as caught:
        reopened.gc()
    assert caught.value.reason == "it is missing, but the store holds blocks"
    assert reopened.has(CID.of(b"kept"))


def test_pins_survive_reopening_the_store(tmp_path: Path) -> None:
    root, blocks = small_dag()
    first = LocalStore(tmp_path / "store")
    put_all(first, blocks)
    first.pin(root)

    assert LocalStore(tmp_path / "store").pins() == {root}


# -- pins ------------------------------------------------------------------------------


def test_pins_are_kept_in_the_form_given(store: LocalStore) -> None:
    v0, node = dag_pb(data=b"either form")
    store.put(v0, node)

    store.pin(v0.to_v1())
    store.pin(v0)

    assert store.pins() == {v0, v0.to_v1()}


def test_pin_refuses_a_dag_whose_links_troika_cannot_read(store: LocalStore) -> None:
    cbor = CID.of(b"\xa0", "dag-cbor")  # the empty dag-cbor map
    store.put(cbor, b"\xa0")

    with pytest.raises(UnreadableBlock) as caught:
        store.pin(cbor)

    assert caught.value.cid == cbor
    assert (
        caught.value.reason == "troika follows links in dag-pb and raw blocks only, not 'dag-cbor'"
    )
    assert store.pins() == set()


# -- garbage collection ------------------------------------------------------------------


def test_gc_removes_exactly_the_blocks_no_pin_reaches(store: LocalStore) -> None:
    shared = b"shared leaf"
    first, first_block = dag_pb((CID.of(shared), len(shared)), data=b"first")
    second, second_block = dag_pb((CID.of(shared), len(shared)), data=b"second")
    put_all(
        store,
        {
            CID.of(shared): shared,
            first: first_block,
            second: second_block,
            CID.of(b"loose"): b"loose",
        },
    )
    store.pin(first)
    store.pin(second)

    assert store.gc() == 1  # the loose block
    store.unpin(first)
    assert store.gc() == 1  # the first root; the leaf is still the second's
    assert (store.has(first), store.has(second), store.has(CID.of(shared))) == (
        False,
        True,
        True,
    )
    store.unpin(second)
    assert store.gc() == 2
    assert block_files(store) == []


def test_gc_removes_nothing_if_a_pinned_dag_lost_a_block(store: LocalStore) -> None:
    root, blocks = small_dag()
    put_all(store, blocks)
    store.pin(root)
    store.put(CID.of(b"garbage"), b"garbage")
    inner = next(c for c in blocks if c != root and c.codec == "dag-pb")
    (store.path / "blocks").joinpath(*_shard_and_name(inner)).unlink()

    with pytest.raises(IncompleteDAG) as caught:
        store.gc()

    assert (caught.value.root, caught.value.cid) == (root, inner)
    assert store.has(CID.of(b"garbage"))


def test_gc_removes_nothing_if_a_pinned_node_is_damaged(store: LocalStore) -> None:
    root, blocks = small_dag()
    put_all(store, blocks)
    store.pin(root)
    store.put(CID.of(b"garbage"), b"garbage")
    (store.path / "blocks").joinpath(*_shard_and_name(root)).write_bytes(b"damaged")

    with pytest.raises(VerificationError) as caught:
        store.gc()

    assert caught.value.cid == root
    assert store.has(CID.of(b"garbage"))


def test_gc_clears_temporary_files_of_crashed_writes_only(store: LocalStore) -> None:
    stale, fresh = store.path / "tmp" / "stale", store.path / "tmp" / "fresh"
    stale.write_bytes(b"half a block")
    fresh.write_bytes(b"being written")
    an_hour_ago = time.time() - 3601
    os.utime(stale, (an_hour_ago, an_hour_ago))

    store.gc()

    assert sorted(p.name for p in (store.path / "tmp").iterdir()) == ["fresh"]


def test_gc_leaves_files_that_are_not_blocks(store: LocalStore) -> None:
    stray = store.path / "blocks" / "xx" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("mine")

    assert store.gc() == 0
    assert stray.read_text() == "mine"


def _shard_and_name(cid: CID) -> tuple[str, str]:
    return block_file(cid.multihash)


# -- CAR import and export ---------------------------------------------------------------


def car_bytes(roots: list[CID], blocks: dict[CID, bytes]) -> bytes:
    out = io.BytesIO()
    write_car(out, roots, blocks.items())
    return out.getvalue()


def test_put_car_stores_and_pins_then_export_car_gives_it_back(store: LocalStore) -> None:
    root, blocks = small_dag()
    car = car_bytes([root], blocks)  # in DFS order: root, inner, leaf one, leaf two

    roots = store.put_car(io.BytesIO(car))
    out = io.BytesIO()
    written = store.export_car(root, out)

    assert roots == (root,)
    assert store.pins() == {root}
    assert (written, out.getvalue()) == (4, car)


def test_put_car_of_a_tampered_car_pins_nothing(store: LocalStore) -> None:
    root, blocks = small_dag()
    car = bytearray(car_bytes([root], blocks))
    car[-1] ^= 1  # the last leaf

    with pytest.raises(CARError):
        store.put_car(io.BytesIO(bytes(car)))

    assert store.pins() == set()
    assert store.gc() == 3  # root, inner and the first leaf came before the fault


def test_put_car_of_an_incomplete_dag_stores_but_does_not_pin(store: LocalStore) -> None:
    root, blocks = small_dag()
    del blocks[CID.of(b"leaf two")]

    with pytest.raises(IncompleteDAG):
        store.put_car(io.BytesIO(car_bytes([root], blocks)))

    assert store.pins() == set()
    assert store.put_car(io.BytesIO(car_bytes([root], blocks)), pin_roots=False) == (root,)


def test_export_car_of_an_incomplete_dag_names_the_missing_block(store: LocalStore) -> None:
    root, blocks = small_dag()
    del blocks[CID.of(b"leaf two")]
    put_all(store, blocks)

    with pytest.raises(IncompleteDAG) as caught:
        store.export_car(root, io.BytesIO())

    assert (caught.value.root, caught.value.cid) == (root, CID.of(b"leaf two"))


def test_async_put_car_and_export_car(tmp_path: Path) -> None:
    root, blocks = small_dag()
    car = car_bytes([root], blocks)
    store = AsyncLocalStore(tmp_path / "store")

    async def roundtrip() -> tuple[tuple[CID, ...], bytes]:
        roots = await store.put_car(io.BytesIO(car))
        out = io.BytesIO()
        await store.export_car(root, out)
        return roots, out.getvalue()

    assert asyncio.run(roundtrip()) == ((root,), car)


def block_get(api_url: str, cid: str) -> bytes:
    response = httpx.post(f"{api_url}/api/v0/block/get", params={"arg": cid}, timeout=30)
    response.raise_for_status()
    return response.content


def make_tree(base: Path) -> Path:
    """Nested folders, unicode names, an empty file and the same content twice."""
    rng = random.Random(11)
    same = rng.randbytes(300 * 1024)
    files = {
        "a.bin": same,
        "b/same-again.bin": same,
        "b/ünïcödé 文件.txt": "grüße\n".encode(),
        "b/c/empty": b"",
        "b/c/d/deep.bin": rng.randbytes(70 * 1024),
    }
    for name, data in files.items():
        path = base / "tree" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return base / "tree"


KUBO_ADDS = {
    "multi-chunk v0": ["--cid-version=0"],
    "multi-chunk v1 raw leaves": ["--cid-version=1", "--raw-leaves"],
    "two levels (1 KiB chunks)": ["--chunker=size-1024"],
    "folder tree": ["-r"],
}


@pytest.mark.kubo
@pytest.mark.parametrize("options", KUBO_ADDS.values(), ids=KUBO_ADDS.keys())
def test_export_car_is_byte_identical_to_kubos_dag_export(
    kubo: Kubo, store: LocalStore, tmp_path: Path, options: list[str]
) -> None:
    if "-r" in options:
        path = make_tree(tmp_path)
    else:
        path = tmp_path / "data.bin"
        path.write_bytes(random.Random(len(options)).randbytes(700 * 1024 + 1))
    root = kubo.cli("add", "-Q", *options, str(path))
    with KuboClient(kubo.api_url) as ipfs:
        kubo_car = ipfs.dag_export(root)

    roots = store.put_car(io.BytesIO(kubo_car))
    out = io.BytesIO()
    store.export_car(root, out)

    assert [str(cid) for cid in roots] == [root]
    assert out.getvalue() == kubo_car
    assert len(read_car(kubo_car).roots) == 1


CAR_OF = {
    "file, Kubo's defaults": ({}, []),
    "file, CIDv1": ({"cid_version": 1}, ["--cid-version=1"]),
    "file, 1 KiB chunks (two levels)": ({"chunk_size": 1024}, ["--chunker=size-1024"]),
    "folder tree": ({}, ["-r"]),
}


@pytest.mark.kubo
@pytest.mark.parametrize(("options", "kubo_options"), CAR_OF.values(), ids=CAR_OF.keys())
def test_car_of_is_what_kubo_adds_then_exports(
    kubo: Kubo, tmp_path: Path, options: dict[str, int], kubo_options: list[str]
) -> None:
    if "-r" in kubo_options:
        path = make_tree(tmp_path)
    else:
        path = tmp_path / "data.bin"
        path.write_bytes(random.Random(9).randbytes(500 * 1024 + 9))
    root = kubo.cli("add", "-Q", *kubo_options, str(path))
    with KuboClient(kubo.api_url) as ipfs:
        kubo_car = ipfs.dag_export(root)
    from_path, from_bytes = io.BytesIO(), io.BytesIO()

    cid = car_of(path, from_path, **options)
    if path.is_file():
        assert car_of(path.read_bytes(), from_bytes, **options) == cid
        assert from_bytes.getvalue() == kubo_car

    assert str(cid) == root
    assert from_path.getvalue() == kubo_car


# -- threads -----------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_threads_putting_the_same_blocks_store_each_once(store: LocalStore) -> None:
    blocks = {CID.of(data): data for data in (os.urandom(1000 + n) for n in range(64))}

    def put_all_shuffled(seed: int) -> None:
        items = list(blocks.items())
        random.Random(seed).shuffle(items)
        for cid, block in items:
            store.put(cid, block)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put_all_shuffled, range(16)))

    assert len(block_files(store)) == 64
    assert all(store.get(cid) == block for cid, block in blocks.items())
    assert list((store.path / "tmp").iterdir()) == []


@pytest.mark.timeout(120)
def test_gc_running_beside_imports_never_takes_a_pinned_block(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", fsync=False)  # the locks are under test, not the disk
    cars = [car_bytes(*_one_dag(n)) for n in range(24)]
    done = threading.Event()
    collected: list[int] = []

    def collect() -> None:
        while not done.is_set():
            collected.append(store.gc())
            time.sleep(0.001)  # let the importers in between collections

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            roots = list(pool.map(lambda car: store.put_car(io.BytesIO(car))[0], cars))
    finally:
        done.set()
        collector.join(timeout=60)

    store.gc()
    assert store.pins() == set(roots)
    for root, car in zip(roots, cars, strict=True):
        out = io.BytesIO()
        store.export_car(root, out)
        assert out.getvalue() == car
    assert collected  # the collector really ran alongside


class GcWhenRead(io.BytesIO):
    """A CAR stream that starts a gc in another thread once it has been read to the end."""

    def __init__(self, data: bytes, store: LocalStore) -> None:
        super().__init__(data)
        self.store = store
        self.collector: ThreadPoolExecutor | None = None
        self.removed: Future[int] | None = None

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and self.removed is None:
            self.collector = ThreadPoolExecutor(1)
            self.removed = self.collector.submit(self.store.gc)
            with contextlib.suppress(TimeoutError):
                self.removed.result(timeout=0.5)  # as long as gc may need, if it could run
        return data


@pytest.mark.timeout(60)
def test_gc_cannot_slip_between_put_car_storing_and_pinning(store: LocalStore) -> None:
    root, blocks = small_dag()
    stream = GcWhenRead(car_bytes([root], blocks), store)

    store.put_car(stream)

    assert stream.removed is not None
    assert stream.collector is not None
    assert stream.removed.result(timeout=30) == 0  # it ran after the pins, and kept all
    stream.collector.shutdown()
    assert store.pins() == {root}
    assert all(store.has(cid) for cid in blocks)


def _one_dag(n: int) -> tuple[list[CID], dict[CID, bytes]]:
    root, blocks = small_dag(str(n).encode())
    return [root], blocks


def test_gc_inside_gc_paused_fails_instead_of_waiting_forever(store: LocalStore) -> None:
    with store.gc_paused(), pytest.raises(RuntimeError, match="would wait for itself"):
        store.gc()


def test_async_gc_inside_gc_paused_fails_instead_of_waiting_forever(tmp_path: Path) -> None:
    store = AsyncLocalStore(tmp_path / "store")

    async def nested() -> None:
        async with store.gc_paused():
            await store.gc()

    with pytest.raises(RuntimeError, match="would wait for itself"):
        asyncio.run(asyncio.wait_for(nested(), timeout=30))


@pytest.mark.timeout(60)
def test_stores_on_one_directory_share_their_locks(tmp_path: Path) -> None:
    holder, collector = LocalStore(tmp_path / "store"), LocalStore(tmp_path / "store")
    collector.put(CID.of(b"garbage"), b"garbage")

    with ThreadPoolExecutor(1) as pool:
        with holder.gc_paused():
            gc = pool.submit(collector.gc)
            time.sleep(0.3)
            assert not gc.done()  # waits for the other object's pause
        assert gc.result(timeout=30) == 1


def test_repr_shows_the_path(tmp_path: Path) -> None:
    assert repr(LocalStore(tmp_path / "s")) == f"LocalStore({str(tmp_path / 's')!r})"
    assert repr(AsyncLocalStore(tmp_path / "s")) == f"AsyncLocalStore({str(tmp_path / 's')!r})"
