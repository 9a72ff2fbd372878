"""KuboStore and AsyncKuboStore against real Kubo daemons.

The store contract runs on a Kubo of its own per class (a fresh blockstore);
the crash tests start a Kubo, kill it in the middle of a streamed upload and
start it again on the same repo.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import Kubo, free_port
from tests.ipfs._crashing_kubo import MIB, KillAndRestart, RestartableKubo, kill
from tests.ipfs._kubo_cli import only_hash, standalone_repo
from tests.ipfs._store_contract import PinningStoreContract, SyncOverAsync
from troika._errors import IPFSUnavailable, KuboAPIError
from troika.ipfs import (
    CID,
    AsyncKuboStore,
    AsyncPinningStore,
    KuboStore,
    PinningStore,
    import_bytes,
    read_car,
)

pytestmark = pytest.mark.kubo


@pytest.fixture(scope="class")
def own_kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubo]:
    with Kubo(offline=True, workdir=tmp_path_factory.mktemp("kubo-store")) as node:
        yield node


class TestKuboStore(PinningStoreContract):
    @pytest.fixture
    def store(self, own_kubo: Kubo) -> Iterator[KuboStore]:
        with KuboStore(own_kubo.api_url) as store:
            yield store


class TestAsyncKuboStore(PinningStoreContract):
    @pytest.fixture
    def store(self, own_kubo: Kubo) -> SyncOverAsync:
        # SyncOverAsync runs each call in its own event loop: the client must not
        # outlive one, so each call gets a store with a fresh client.
        class Fresh:
            def __getattr__(self, name: str) -> object:
                async def call(*args: object, **kwargs: object) -> object:
                    async with AsyncKuboStore(own_kubo.api_url) as store:
                        return await getattr(store, name)(*args, **kwargs)

                return call

        return SyncOverAsync(Fresh())


def test_both_implement_the_store_protocols(kubo: Kubo) -> None:
    assert isinstance(KuboStore(kubo.api_url), PinningStore)
    assert isinstance(AsyncKuboStore(kubo.api_url), AsyncPinningStore)


@pytest.fixture(scope="module")
def v1_repo(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standalone_repo(kubo, tmp_path_factory.mktemp("v1") / "repo", "unixfs-v1-2025")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    data = random.Random(7).randbytes(3 * MIB + 5)
    (folder / "big.bin").write_bytes(data)
    (folder / "copy.bin").write_bytes(data)  # the same blocks twice in one CAR
    (folder / "sub" / "naïve.txt").write_text("naïve\n")
    return folder


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_add_gives_kubos_cid_pinned_with_all_its_content(
    kubo: Kubo, v1_repo: Path, folder: Path, profile: str
) -> None:
    repo = v1_repo if profile == "v1-2025" else kubo.ipfs_path
    expected = only_hash(kubo, repo, folder)
    progress: list[tuple[int, int | None]] = []

    with KuboStore(kubo.api_url) as store:
        root = store.add(folder, profile=profile, progress=lambda *p: progress.append(p))

        assert str(root) == expected
        assert store.is_pinned(root)
        assert root in store.pins()
    assert kubo.cli("pin", "ls", "--type=recursive", expected).split()[0] == expected
    assert kubo.cli("cat", f"{expected}/sub/naïve.txt") == "naïve"
    # Kubo has every block: an offline export of the whole DAG succeeds
    assert kubo.cli("dag", "stat", "--offline", "--progress=false", expected) != ""
    total = 2 * (3 * MIB + 5) + len("naïve\n".encode())
    assert progress[-1] == (total, total)
    assert [sent for sent, _ in progress] == sorted(sent for sent, _ in progress)


def test_add_of_bytes_equals_ipfs_add_and_reads_back(kubo: Kubo) -> None:
    data = random.Random(3).randbytes(MIB + 1)
    expected = kubo.cli("add", "-Q", "--only-hash", input=data)

    with KuboStore(kubo.api_url) as store:
        root = store.add(data)

        assert str(root) == expected
        assert store.cat(root) == data
        assert read_car(store.export_car(root)).roots == (root,)
        assert store.version() == kubo.cli("version", "-n")


def test_put_dag_pins_the_root_the_importer_returns(kubo: Kubo) -> None:
    data = b"put_dag " * 100_000
    expected = kubo.cli("add", "-Q", "--only-hash", "--cid-version=1", input=data)

    with KuboStore(kubo.api_url) as store:
        root = store.put_dag(import_bytes(data, cid_version=1))

        assert (str(root), store.is_pinned(root)) == (expected, True)


def test_kubos_own_error_message_is_carried(kubo: Kubo, folder: Path) -> None:
    with KuboStore(kubo.api_url) as store:
        root = store.add(folder)
        with pytest.raises(KuboAPIError) as caught:
            store.cat(root)

    assert caught.value.message == "this dag node is a directory"
    assert caught.value.status == 500


def test_unreachable_node_is_retried_then_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = KuboStore(url, retries=2, backoff=0.01)
    started = time.monotonic()

    with pytest.raises(IPFSUnavailable) as caught:
        store.version()

    assert caught.value.url == url
    assert "gave up after 3 attempts" in str(caught.value)
    assert time.monotonic() - started < 5


def test_async_add_gives_kubos_cid(kubo: Kubo, folder: Path) -> None:
    async def add() -> tuple[CID, bool]:
        async with AsyncKuboStore(kubo.api_url) as store:
            root = await store.add(folder)
            return root, await store.is_pinned(root)

    root, pinned = asyncio.run(add())

    assert (str(root), pinned) == (only_hash(kubo, kubo.ipfs_path, folder), True)


# -- a node killed mid-upload ---------------------------------------------------------


def test_node_killed_mid_upload_fails_cleanly_and_nothing_is_pinned(
    crashing_kubo: RestartableKubo, big_file: Path
) -> None:
    expected = CID.parse(crashing_kubo.cli("add", "-Q", "--only-hash", str(big_file)))
    killed_at: list[int] = []

    def progress(sent: int, total: int | None) -> None:
        if sent >= 16 * MIB and not killed_at:
            killed_at.append(sent)
            kill(crashing_kubo)

    store = KuboStore(crashing_kubo.api_url, retries=0)
    with pytest.raises(IPFSUnavailable) as caught:
        store.add(big_file, progress=progress)

    assert caught.value.url == crashing_kubo.api_url
    assert killed_at
    assert killed_at[0] < big_file.stat().st_size
    crashing_kubo.start()
    with KuboStore(crashing_kubo.api_url) as store:
        assert expected not in store.pins()
        assert not store.is_pinned(expected)
        # the repo survived: the same upload now completes
        assert store.add(big_file) == expected
        assert store.is_pinned(expected)


def test_node_killed_mid_upload_is_retried_until_it_is_back(
    crashing_kubo: RestartableKubo, big_file: Path
) -> None:
    expected = CID.parse(crashing_kubo.cli("add", "-Q", "--only-hash", str(big_file)))
    progress = KillAndRestart(crashing_kubo)

    try:
        with KuboStore(crashing_kubo.api_url, retries=8, backoff=0.1) as store:
            root = store.add(big_file, progress=progress)
            assert progress.restarted.wait(timeout=30)

            assert (root, store.is_pinned(root)) == (expected, True)
            assert len(progress.kills) == 1
            assert store.cat(root) == big_file.read_bytes()
    finally:
        crashing_kubo.stop()
        progress.finish()
