"""A readable binary stream as an import source: read once, one piece in memory at a time.

The reference is ``ipfs add --only-hash`` of the same bytes written to a file,
for both profiles and sizes 0, 1, one chunk, one chunk plus one byte and
several chunks. The streams return at most 1000 bytes a read, so chunking
cannot depend on how a stream happens to cut its reads. The crash tests kill
Kubo in the middle of a stream's upload: a stream that cannot be read again
is not retried (``IPFSUnavailable`` says why); a seekable one is sought back
and retried.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
from pathlib import Path

import httpx
import pytest

from tests._services import Kubo
from tests.ipfs._crashing_kubo import MIB, KillAndRestart, RestartableKubo, kill
from tests.ipfs._kubo_cli import only_hash, standalone_repo
from troika._errors import IPFSUnavailable, PathError
from troika.ipfs import (
    CID,
    PROFILES,
    AsyncKuboStore,
    AsyncLocalStore,
    KuboStore,
    LocalStore,
    aadd,
    add,
    cid_of,
    get,
    import_bytes,
    import_source,
)
from troika.ipfs._importer import _FileHasher, _resolve

pytestmark = pytest.mark.kubo

SHORT = 1000  # the most bytes a test stream returns from one read


class ShortReads(io.RawIOBase):
    """An unseekable raw stream, as the asset layer's encrypting reader is: it makes its
    bytes as it is read, gives at most 1000 bytes a read, and counts what it served."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.served = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.reads += 1
        count = min(len(buffer), SHORT, len(self._data) - self.served)
        buffer[:count] = self._data[self.served : self.served + count]
        self.served += count
        return count


class ReadOnly:
    """Not an io class at all: just ``read``, short reads included."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.served = 0

    def read(self, size: int, /) -> bytes:
        piece = self._data[self.served : self.served + min(size, SHORT)]
        self.served += len(piece)
        return piece


def sizes(profile: str) -> list[int]:
    chunk = PROFILES[profile].chunk_size
    return [0, 1, chunk, chunk + 1, 3 * chunk + 12345]


CASES = [(profile, size) for profile in PROFILES for size in sizes(profile)]


@pytest.fixture(scope="module")
def v1_repo(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standalone_repo(kubo, tmp_path_factory.mktemp("v1") / "repo", "unixfs-v1-2025")


@pytest.fixture(scope="module")
def reference(
    kubo: Kubo, v1_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, int], tuple[bytes, CID]]:
    """Each case's bytes and the CID ``ipfs add --only-hash`` gives them."""
    folder = tmp_path_factory.mktemp("streams")
    cases = {}
    for profile, size in CASES:
        data = random.Random(size).randbytes(size)
        path = folder / f"{profile}-{size}.bin"
        path.write_bytes(data)
        repo = v1_repo if profile == "v1-2025" else kubo.ipfs_path
        cases[profile, size] = data, CID.parse(only_hash(kubo, repo, path))
    return cases


def case_id(case: tuple[str, int]) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cid_of_a_stream_equals_ipfs_add_only_hash(
    reference: dict[tuple[str, int], tuple[bytes, CID]], case: tuple[str, int]
) -> None:
    data, expected = reference[case]
    profile, size = case
    stream = ShortReads(data)

    assert cid_of(stream, profile=profile) == expected
    assert cid_of(ReadOnly(data), profile=profile) == expected
    assert stream.served == size


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_add_of_a_stream_to_a_local_store(
    reference: dict[tuple[str, int], tuple[bytes, CID]], tmp_path: Path, case: tuple[str, int]
) -> None:
    data, expected = reference[case]
    profile, _ = case
    store = LocalStore(tmp_path / "store")
    progress: list[tuple[int, int | None]] = []

    root = add(
        ShortReads(data), store=store, profile=profile, progress=lambda *p: progress.append(p)
    )

    assert root == expected
    assert store.pins() == {expected}
    assert get(root, source=store) == data
    # a store of blocks counts the bytes of the blocks (UnixFS framing included)
    assert progress[-1][0] >= len(data)
    assert all(total is None for _, total in progress)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_add_of_a_stream_to_kubo_streams_it_once_to_kubos_add(
    kubo: Kubo, reference: dict[tuple[str, int], tuple[bytes, CID]], case: tuple[str, int]
) -> None:
    data, expected = reference[case]
    profile, size = case
    stream = ShortReads(data)
    progress: list[tuple[int, int | None]] = []

    with KuboStore(kubo.api_url) as store:
        root = store.add(stream, profile=profile, progress=lambda *p: progress.append(p))

        assert root == expected
        assert store.is_pinned(expected)
        assert store.cat(expected) == data
        assert add(ReadOnly(data), store=store, profile=profile) == expected
    assert stream.served == size  # every byte read once, nothing read again
    assert progress[-1] == (size, None)
    assert all(total is None for _, total in progress)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_async_add_of_a_stream(
    kubo: Kubo,
    reference: dict[tuple[str, int], tuple[bytes, CID]],
    tmp_path: Path,
    profile: str,
) -> None:
    data, expected = reference[profile, sizes(profile)[-1]]

    async def both() -> tuple[CID, CID, CID, bool]:
        async with AsyncKuboStore(kubo.api_url) as node:
            to_node = await node.add(ShortReads(data), profile=profile)
            through_aadd = await aadd(ShortReads(data), store=node, profile=profile)
            local = await aadd(
                ShortReads(data), store=AsyncLocalStore(tmp_path / "store"), profile=profile
            )
            return to_node, through_aadd, local, await node.is_pinned(to_node)

    assert asyncio.run(both()) == (expected, expected, expected, True)


def test_import_source_of_a_stream_gives_the_same_blocks_as_of_bytes() -> None:
    data = random.Random(3).randbytes(5 * 1000 + 17)
    blocks = list(import_source(ShortReads(data), chunk_size=1000))

    assert blocks == list(import_bytes(data, chunk_size=1000))


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("leaves", [1, 2, 173, 174, 175, 174 * 174, 174 * 174 + 1, 1024, 1025])
def test_the_tees_hasher_gives_cid_of_whatever_the_pieces(profile: str, leaves: int) -> None:
    settings = _resolve(profile, None, None, 10)  # 10-byte chunks: deep trees, cheaply
    data = random.Random(leaves).randbytes(10 * leaves - (leaves % 3))
    hasher, pieces, offset = _FileHasher(settings), random.Random(7), 0
    while offset < len(data):
        step = pieces.choice([1, 3, 10, 11, 29, 4096])
        hasher.feed(data[offset : offset + step])
        offset += step

    assert hasher.finish() == cid_of(data, profile=profile, chunk_size=10)


# -- what is not a readable binary stream: TypeError, a misuse (nothing is sent) -----------


def test_what_cannot_be_read_as_bytes_is_a_type_error(kubo: Kubo, tmp_path: Path) -> None:
    with (
        (tmp_path / "written").open("wb") as written,
        (tmp_path / "text").open("w+") as text,
        KuboStore(kubo.api_url) as node,
    ):
        for source in [42, object(), written, text, io.StringIO("hello")]:
            with pytest.raises(TypeError, match="cid_of"):
                cid_of(source)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="import_source"):
                import_source(source)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="import_source"):
                add(source, store=LocalStore(tmp_path / "store"))  # type: ignore[arg-type]
            with pytest.raises(TypeError, match=r"^add\(\)"):
                node.add(source)  # type: ignore[arg-type]


def test_a_stream_that_returns_text_is_a_type_error(tmp_path: Path) -> None:
    class Text:
        def read(self, size: int, /) -> str:
            return "hello"

    with pytest.raises(TypeError, match="not bytes"):
        cid_of(Text())  # type: ignore[arg-type]


# -- a node killed mid-upload of a stream ----------------------------------------------------


class Unseekable(io.RawIOBase):
    """A file read through a raw stream that cannot seek."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int | None:  # type: ignore[override]
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


def test_an_unseekable_stream_broken_mid_upload_is_not_retried(
    crashing_kubo: RestartableKubo, big_file: Path
) -> None:
    expected = CID.parse(crashing_kubo.cli("add", "-Q", "--only-hash", str(big_file)))
    kills: list[int] = []

    def progress(sent: int, total: int | None) -> None:
        if sent >= 16 * MIB and not kills:
            kills.append(sent)
            kill(crashing_kubo)

    with (
        Unseekable(big_file) as stream,
        KuboStore(crashing_kubo.api_url, retries=8, backoff=0.01) as store,
        pytest.raises(IPFSUnavailable) as caught,
    ):
        store.add(stream, progress=progress)

    assert caught.value.url == crashing_kubo.api_url
    assert "cannot be read again (it is not seekable)" in str(caught.value)
    assert "gave up" not in str(caught.value)  # no second attempt
    assert isinstance(caught.value.__cause__, IPFSUnavailable)
    assert len(kills) == 1
    crashing_kubo.start()
    with KuboStore(crashing_kubo.api_url) as store:
        assert not store.is_pinned(expected)


def test_a_seekable_stream_broken_mid_upload_is_sought_back_and_retried(
    crashing_kubo: RestartableKubo, big_file: Path
) -> None:
    expected = CID.parse(crashing_kubo.cli("add", "-Q", "--only-hash", str(big_file)))
    progress = KillAndRestart(crashing_kubo)

    try:
        with (
            big_file.open("rb") as stream,
            KuboStore(crashing_kubo.api_url, retries=8, backoff=0.1) as store,
        ):
            stream.read(5)  # an upload starts where the stream stands
            root = store.add(stream, progress=progress)
            assert progress.restarted.wait(timeout=30)

            assert root == cid_of(big_file.read_bytes()[5:]) != expected
            assert store.is_pinned(root)
            assert len(progress.kills) == 1
    finally:
        crashing_kubo.stop()
        progress.finish()


# -- the tee: one read of a path, the size it had when opened ------------------------------


@pytest.mark.parametrize("change", ["grows", "shrinks"])
def test_a_file_whose_size_changes_during_the_upload_is_refused(
    kubo: Kubo, tmp_path: Path, change: str
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(21).randbytes(4 * MIB))
    changed: list[int] = []

    def progress(sent: int, total: int | None) -> None:
        if not changed:
            changed.append(sent)
            with path.open("r+b") as file:
                if change == "grows":
                    file.seek(0, os.SEEK_END)
                    file.write(b"more")
                else:
                    file.truncate(2 * MIB)

    with KuboStore(kubo.api_url) as store:
        roots_before = store.pins()
        with pytest.raises(PathError) as caught:
            store.add(path, progress=progress)

        assert caught.value.path == str(path)
        assert "size changed while it was being uploaded" in str(caught.value)
        assert store.pins() == roots_before


def test_known_sizes_go_with_a_content_length_and_streams_chunked(
    kubo: Kubo, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"hello\n")
    framing: list[tuple[str | None, str | None]] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/add"):
            framing.append(
                (request.headers.get("Content-Length"), request.headers.get("Transfer-Encoding"))
            )

    with (
        httpx.Client(event_hooks={"request": [record]}) as client,
        KuboStore(kubo.api_url, client=client) as store,
    ):
        roots = {store.add(path), store.add(b"hello\n"), store.add(ShortReads(b"hello\n"))}

    assert roots == {CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")}
    sized = framing[0][0]
    assert sized is not None
    assert int(sized) > 6  # the multipart framing around the 6 bytes
    assert framing == [(sized, None), (sized, None), (None, "chunked")]
