"""troika.ipfs.add / get / get_to (and the async forms) over every kind of store."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from tests._services import Kubo
from troika._errors import VerificationError
from troika.ipfs import (
    CID,
    AsyncKuboStore,
    AsyncLocalStore,
    Gateway,
    KuboStore,
    LocalStore,
    aadd,
    add,
    aget,
    get,
    get_to,
)

pytestmark = pytest.mark.kubo

DATA = random.Random(11).randbytes(600_000)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "data.bin").write_bytes(DATA)
    (folder / "sub" / "naïve.txt").write_text("naïve\n")
    return folder


def test_add_to_a_local_store_gives_kubos_cid_and_pins_it(
    kubo: Kubo, folder: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    progress: list[tuple[int, int | None]] = []

    root = add(folder, store=store, progress=lambda *p: progress.append(p))

    assert str(root) == kubo.cli("add", "-r", "-Q", "--only-hash", str(folder))
    assert store.pins() == {root}
    assert progress[-1] == (len(DATA) + 7, len(DATA) + 7)
    out = get_to(root, tmp_path / "out", source=store)
    assert (out / "data.bin").read_bytes() == DATA
    assert (out / "sub" / "naïve.txt").read_text() == "naïve\n"


def test_default_store_is_under_the_troika_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROIKA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    root = add(DATA)

    assert LocalStore(tmp_path / "home" / "ipfs").pins() == {root}
    assert get(root) == DATA


def test_content_added_to_kubo_is_got_verified_from_kubo_and_its_gateway(kubo: Kubo) -> None:
    with KuboStore(kubo.api_url) as node, Gateway(kubo.gateway_url) as gateway:
        root = add(DATA, store=node, profile="v1-2025")

        assert str(root) == kubo.cli(
            "add", "-Q", "--only-hash", "--cid-version=1", "--chunker=size-1048576", input=DATA
        )
        assert get(root, source=node) == DATA
        assert get(root, source=gateway) == DATA


def test_get_from_a_source_that_lies_raises_verification_error() -> None:
    root = CID.of(b"the truth")

    class Liar:
        def get(self, cid: CID) -> bytes:
            return b"a lie"

    with pytest.raises(VerificationError) as caught:
        get(root, source=Liar())

    assert caught.value.cid == root


def test_async_add_and_get_over_kubo_and_a_local_store(kubo: Kubo, tmp_path: Path) -> None:
    async def roundtrip() -> tuple[CID, bytes, CID, bytes]:
        async with AsyncKuboStore(kubo.api_url) as node:
            on_node = await aadd(DATA, store=node)
            from_node = await aget(on_node, source=node)
        local = AsyncLocalStore(tmp_path / "store")
        on_disk = await aadd(DATA, store=local)
        return on_node, from_node, on_disk, await aget(on_disk, source=local)

    on_node, from_node, on_disk, from_disk = asyncio.run(roundtrip())

    expected = kubo.cli("add", "-Q", "--only-hash", input=DATA)
    assert (str(on_node), from_node, str(on_disk), from_disk) == (expected, DATA, expected, DATA)


def test_add_pinned_by_a_pinning_service_too(kubo: Kubo, pinning_service, folder: Path) -> None:  # type: ignore[no-untyped-def]
    from troika.ipfs import PinningService, PinState

    with (
        KuboStore(kubo.api_url) as node,
        PinningService(pinning_service.url, pinning_service.token) as service,
    ):
        root = add(folder / "data.bin", store=node, service=service, cid_version=1)
        assert str(root) == kubo.cli(
            "add", "-Q", "--only-hash", "--cid-version=1", str(folder / "data.bin")
        )
        (status,) = service.pins(cid=[root], status=[PinState.PINNED])
        assert status.pin.name == "data.bin"
        assert node.is_pinned(root)


def test_async_add_takes_every_import_option_and_a_service(
    kubo: Kubo, pinning_service, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    from troika.ipfs import AsyncPinningService, PinState

    async def scenario() -> tuple[CID, list[object]]:
        async with (
            AsyncKuboStore(kubo.api_url) as node,
            AsyncPinningService(pinning_service.url, pinning_service.token) as service,
        ):
            root = await aadd(
                folder,
                store=node,
                raw_leaves=True,
                chunk_size=4096,
                service=service,
                service_name="the folder",
            )
            return root, list(await service.pins(cid=[root], status=[PinState.PINNED]))

    root, pinned = asyncio.run(scenario())
    expected = kubo.cli(
        "add", "-r", "-Q", "--only-hash", "--raw-leaves", "--chunker=size-4096", str(folder)
    )
    assert str(root) == expected
    assert len(pinned) == 1
