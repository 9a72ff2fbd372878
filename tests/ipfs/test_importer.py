"""The UnixFS importer against Kubo: the CIDs must be the ones Kubo computes.

Two kinds of expected values, never troika's own: CIDs that Kubo's sharness and
CLI tests publish (quoted with their source), and CIDs that the real Kubo
computes in the same test (``ipfs add --only-hash`` by the CLI alone, on a repo
with no daemon; see tests/ipfs/_kubo_cli.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import random
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from tests._services import Kubo, ServiceError
from tests.ipfs._kubo_cli import add_options, only_hash, only_hash_each, standalone_repo
from troika._errors import (
    ConfigError,
    PathError,
    PathNotFound,
    PathUnreadable,
    SymlinkLoop,
)
from troika.ipfs import (
    CID,
    MAX_CHUNK_SIZE,
    PROFILES,
    cid_of,
    import_bytes,
    import_path,
    import_stream,
)
from troika.ipfs._dagpb import PBNode, UnixFSData, UnixFSType, decode_node, encode_node
from troika.ipfs._importer import _Builder, _murmur3_x64_64, _resolve, _run, _walk

pytestmark = pytest.mark.kubo

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture(scope="module")
def repos(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Daemon-free repos: Kubo's default Import config, and the unixfs-v1-2025 profile."""
    base = tmp_path_factory.mktemp("repos")
    return {
        "kubo-v0": standalone_repo(kubo, base / "default"),
        "v1-2025": standalone_repo(kubo, base / "v1-2025", "unixfs-v1-2025"),
    }


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# -- Kubo's deterministic test data (test/cli/testutils/random_deterministic.go) -----


def chacha20_stream(seed: str) -> Any:
    """ChaCha20 keystream keyed by sha256(seed), zero nonce: Kubo's DeterministicRandomReader."""
    key = hashlib.sha256(seed.encode()).digest()
    return Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()


def deterministic_bytes(size: int, seed: str) -> bytes:
    return bytes(chacha20_stream(seed).update(bytes(size)))


class DeterministicStream(io.RawIOBase):
    """The same bytes as a stream, so a GiB of them never sits in memory."""

    def __init__(self, size: int, seed: str) -> None:
        self._cipher = chacha20_stream(seed)
        self._left = size
        self._zeros = bytes(MiB)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self._left, len(self._zeros))
        view[:count] = self._cipher.update(self._zeros[:count])
        self._left -= count
        return count


EASY_ALPHABET = "abcdefghijklmnopqrstuvwxyz01234567890-_"  # testutils.AlphabetEasy


def kubo_hamt_folder(path: Path, files: int, name_length: int, last_length: int, seed: str) -> Path:
    """test/cli/add_test.go createDeterministicFiles: names from the keystream, content "x"."""
    path.mkdir()
    stream = chacha20_stream(seed)
    for index in range(files):
        length = last_length if index == files - 1 else name_length
        raw = stream.update(bytes(length))
        name = "".join(EASY_ALPHABET[byte % len(EASY_ALPHABET)] for byte in raw)
        (path / name).write_bytes(b"x")
    return path


def imported_root(path: Path, **options: Any) -> tuple[str, UnixFSType]:
    """The root CID that import_path gives, and the UnixFS type of the root node."""
    *_, root = import_path(path, **options)
    node = decode_node(root.data)
    assert node.data is not None
    return str(root.cid), UnixFSData.decode(node.data).type


# -- published vectors ---------------------------------------------------------------


# test/sharness/t0040-add-and-cat.sh and test/cli/cid_profiles_test.go (Kubo v0.43.1)
BYTES_VECTORS = [
    (b"", "kubo-v0", {}, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    (b"Hello Worlds!\n", "kubo-v0", {}, "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH"),
    (b"IPFS\n", "kubo-v0", {}, "QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w"),
    (b"hello world", "kubo-v0", {}, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"),
    (
        b"hello world",
        "v1-2025",
        {},
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    ),
    (
        b"Hello Mars!\n",
        "kubo-v0",
        {"cid_version": 1},
        "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4",
    ),
    (
        b"Hello Mars!\n",
        "kubo-v0",
        {"cid_version": 1, "raw_leaves": False},
        "bafybeiawta2ntdmsy24aro35w3homzl4ak7svr3si7l7gesvq4erglyye4",
    ),
]


@pytest.mark.parametrize(("data", "profile", "knobs", "expected"), BYTES_VECTORS)
def test_published_vectors_for_bytes(
    data: bytes, profile: str, knobs: dict[str, Any], expected: str
) -> None:
    assert str(cid_of(data, profile=profile, **knobs)) == expected


# test/cli/cid_profiles_test.go: files of ChaCha20 bytes at the chunk and link thresholds.
PROFILE_FILE_VECTORS = [
    ("kubo-v0", 262144, "chunk-v0-seed", "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE"),
    ("kubo-v0", 262145, "chunk-v0-seed", "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ"),
    ("kubo-v0", 174 * 262144, "v0-seed", "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"),
    ("kubo-v0", 174 * 262144 + 1, "v0-seed", "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW"),
    (
        "v1-2025",
        MiB,
        "chunk-v1-seed",
        "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta",
    ),
    (
        "v1-2025",
        MiB + 1,
        "chunk-v1-seed",
        "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
    ),
]


@pytest.mark.parametrize(("profile", "size", "seed", "expected"), PROFILE_FILE_VECTORS)
def test_kubo_profile_vectors_for_files(profile: str, size: int, seed: str, expected: str) -> None:
    assert str(cid_of(deterministic_bytes(size, seed), profile=profile)) == expected


def test_kubo_profile_vector_for_a_gib_file_over_1024_links_streams() -> None:
    # 1024 MiB + 1 byte: the v1-2025 tree gets its second level. Streamed, so the
    # GiB is never in memory.
    stream = DeterministicStream(1024 * MiB + 1, "v1-2025-seed")
    *_, root = import_stream(stream, profile="v1-2025")

    assert str(root.cid) == "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe"


# test/cli/cid_profiles_test.go: folders exactly at and 1 byte over the HAMT threshold,
# measured as each profile measures them.
HAMT_VECTORS = [
    (
        "kubo-v0",
        (4096, 30, 30),
        "hamt-unixfs-v0-2015",
        UnixFSType.DIRECTORY,
        "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN",
    ),
    (
        "kubo-v0",
        (4033, 31, 31),
        "hamt-unixfs-v0-2015",
        UnixFSType.HAMT_SHARD,
        "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP",
    ),
    (
        "v1-2025",
        (4766, 11, 21),
        "hamt-unixfs-v1-2025",
        UnixFSType.DIRECTORY,
        "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4",
    ),
    (
        "v1-2025",
        (4766, 11, 22),
        "hamt-unixfs-v1-2025",
        UnixFSType.HAMT_SHARD,
        "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu",
    ),
]


@pytest.mark.parametrize(("profile", "shape", "seed", "kind", "expected"), HAMT_VECTORS)
def test_kubo_profile_vectors_at_the_hamt_threshold(
    kubo: Kubo,
    repos: dict[str, Path],
    tmp_path: Path,
    profile: str,
    shape: tuple[int, int, int],
    seed: str,
    kind: UnixFSType,
    expected: str,
) -> None:
    folder = kubo_hamt_folder(tmp_path / "dir", *shape, seed)

    assert imported_root(folder, profile=profile) == (expected, kind)
    assert only_hash(kubo, repos[profile], folder) == expected


@pytest.fixture(scope="module")
def two_thousand_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test/sharness/t0260-sharding.sh: file1 .. file2000, each holding its number."""
    folder = tmp_path_factory.mktemp("sharding") / "testdata"
    folder.mkdir()
    for number in range(1, 2001):
        (folder / f"file{number}").write_text(f"{number}\n")
    return folder


def test_sharness_sharding_vector_below_the_threshold(two_thousand_files: Path) -> None:
    assert str(cid_of(two_thousand_files)) == "QmavrTrQG4VhoJmantURAYuw3bowq3E2WcvP36NRQDAC1N"


@pytest.mark.parametrize(
    ("cid_version", "expected"),
    [
        (None, "QmSCJD1KYLhVVHqBK3YyXuoEqHt7vggyJhzoFYbT8v1XYL"),
        (1, "bafybeibiemewfzzdyhq2l74wrd6qj2oz42usjlktgnlqv4yfawgouaqn4u"),
    ],
)
def test_sharness_sharding_vectors_with_a_one_byte_threshold(
    two_thousand_files: Path, cid_version: int | None, expected: str
) -> None:
    # The sharness test sets Import.UnixFSHAMTDirectorySizeThreshold to 1B, a knob
    # troika keeps private: every folder with an entry becomes a HAMT.
    settings = dataclasses.replace(_resolve("kubo-v0", cid_version, None, None), hamt_threshold=1)
    builder = _Builder(settings, keep=False)
    walk = _walk(builder, two_thousand_files, hidden=False, follow_symlinks=False)

    assert str(_run(walk).cid) == expected


def planets(root: Path) -> Path:
    (root / "planets").mkdir()
    (root / "planets" / "mars.txt").write_text("Hello Mars!\n")
    (root / "planets" / "venus.txt").write_text("Hello Venus!\n")
    return root / "planets"


# test/sharness/t0040-add-and-cat.sh, add_directory with each option set
@pytest.mark.parametrize(
    ("knobs", "expected"),
    [
        ({}, "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"),
        ({"raw_leaves": True}, "QmfWfQfKCY5Ukv9peBbxM5vqWM9BzmqUSXvdCgjT2wsiBT"),
        ({"cid_version": 1}, "bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi"),
        (
            {"cid_version": 1, "raw_leaves": False},
            "bafybeif5tuep5ap2d7zyhbktucey75aoacxufgt6i3v4gebmixyipnyp7y",
        ),
    ],
)
def test_sharness_planets_vectors(tmp_path: Path, knobs: dict[str, Any], expected: str) -> None:
    assert str(cid_of(planets(tmp_path), **knobs)) == expected


def test_sharness_moons_vectors(tmp_path: Path) -> None:
    moons = tmp_path / "moons"
    (moons / "jupiter").mkdir(parents=True)
    (moons / "saturn").mkdir()
    (moons / "jupiter" / "europa.txt").write_text("Hello Europa!\n")
    (moons / "saturn" / "titan.txt").write_text("Hello Titan!\n")
    (moons / "mercury.txt").write_text("hey you are no moon!\n")

    assert {name: str(cid_of(moons / name)) for name in ("", "jupiter", "saturn")} == {
        "": "QmbGoaQZm8kjYfCiN1aBsgwhqfUBGDYTrDb91Mz7Dvq81B",
        "jupiter": "QmS5mZddhFPLWFX3w6FzAy9QxyYkaxvUpsWCtZ3r7jub9J",
        "saturn": "QmaMagZT4rTE7Nonw8KGSK4oe1bh533yhZrCo1HihSG8FK",
    }
    assert str(cid_of(moons / "mercury.txt")) == "QmRsTB5CpEUvDUpDgHCzb3VftZ139zrk9zs5ZcgYh9TMPJ"


def test_sharness_symlink_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # test/sharness/t0044-add-symlink.sh, run from the folder that holds files/
    monkeypatch.chdir(tmp_path)
    Path("files/foo").mkdir(parents=True)
    Path("files/bar").mkdir()
    Path("files/foo/baz").write_text("some text\n")
    Path("files/bar/baz").symlink_to("files/foo/baz")
    Path("files/bad").symlink_to("files/does/not/exist")

    assert str(cid_of("files")) == "QmWdiHKoeSW8G1u7ATCgpx4yMoUhYaJBQGkyPLkS9goYZ8"
    assert (
        str(cid_of("files", cid_version=1))
        == "bafybeibyhlx64cklod6isy3h7tsmr4qvam3ae3b74n3hfes5bythjrwyua"
    )
    assert str(cid_of("files/bar/baz")) == "QmdocmZeF7qwPT9Z8SiVhMSyKA2KKoA2J7jToW6z6WBmxR"
    assert str(cid_of("files/bad")) == "QmWYN8SEXCgNT2PSjB6BnxAx6NJQtazWoBkTRH9GRfPFFQ"


def test_the_empty_folder_is_kubos(tmp_path: Path) -> None:
    # The empty directory, as Kubo's docs and every IPFS tool know it.
    assert str(cid_of(tmp_path)) == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"


def test_murmur3_matches_the_reference_vectors() -> None:
    # github.com/spaolacci/murmur3 murmur_test.go, seed 0: h64_1 of MurmurHash3_x64_128
    vectors = {
        "": 0x0000000000000000,
        "hello": 0xCBD8A7B341BD9B02,
        "hello, world": 0x342FAC623A5EBC8E,
        "19 Jan 2038 at 3:14:07 AM": 0xB89E5988B737AFFC,
        "The quick brown fox jumps over the lazy dog.": 0xCD99481F9EE902C9,
    }
    for text, expected in vectors.items():
        assert _murmur3_x64_64(text.encode()) == expected.to_bytes(8, "big"), text


# -- files: random data at every size that matters, against the real Kubo -----------

C0, C1 = PROFILES["kubo-v0"].chunk_size, PROFILES["v1-2025"].chunk_size
LEVEL2_V0 = 174 * KiB  # with 1 KiB chunks: the last size with one level of links
LEVEL2_V1 = 1024 * KiB

FILE_CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("kubo-v0", {}, [0, 1, C0 - 1, C0, C0 + 1, 2 * C0 + 3]),
    (
        "kubo-v0",
        {"chunk_size": KiB},
        [0, 1, KiB - 1, KiB, KiB + 1, LEVEL2_V0, LEVEL2_V0 + 1, 2 * LEVEL2_V0 + 5],
    ),
    ("kubo-v0", {"chunk_size": 64}, [174 * 174 * 64 + 1]),  # a third level
    ("kubo-v0", {"chunk_size": 1}, [0, 1, 2, 175]),
    ("kubo-v0", {"cid_version": 1, "chunk_size": KiB}, [0, 1, KiB, KiB + 1, LEVEL2_V0 + 1]),
    (
        "kubo-v0",
        {"cid_version": 1, "raw_leaves": False, "chunk_size": KiB},
        [0, 1, KiB, KiB + 1, LEVEL2_V0 + 1],
    ),
    ("kubo-v0", {"raw_leaves": True, "chunk_size": KiB}, [0, 1, KiB, KiB + 1, LEVEL2_V0 + 1]),
    ("kubo-v0", {"cid_version": 0, "raw_leaves": False}, [0, 1, C0 + 1]),
    ("v1-2025", {}, [0, 1, C1 - 1, C1, C1 + 1]),
    (
        "v1-2025",
        {"chunk_size": KiB},
        [0, 1, KiB - 1, KiB, KiB + 1, LEVEL2_V1, LEVEL2_V1 + 1],
    ),
    ("v1-2025", {"cid_version": 0, "chunk_size": KiB}, [0, 1, KiB + 1, LEVEL2_V1 + 1]),
    ("v1-2025", {"raw_leaves": False, "chunk_size": KiB}, [0, 1, KiB + 1, LEVEL2_V1 + 1]),
    (
        "v1-2025",
        {"cid_version": 0, "raw_leaves": False, "chunk_size": KiB},
        [0, 1, KiB + 1, LEVEL2_V1 + 1],
    ),
    ("v1-2025", {"cid_version": 1, "raw_leaves": True}, [1, C1 + 1]),
]


def case_id(case: tuple[str, dict[str, Any], list[int]]) -> str:
    profile, knobs, _ = case
    return "-".join([profile, *(f"{key}={value}" for key, value in knobs.items())])


@pytest.mark.parametrize(("profile", "knobs", "sizes"), FILE_CASES, ids=map(case_id, FILE_CASES))
def test_file_cids_equal_kubos(
    kubo: Kubo,
    repos: dict[str, Path],
    tmp_path: Path,
    profile: str,
    knobs: dict[str, Any],
    sizes: list[int],
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    contents = {f"size-{size}": random_bytes(size, seed=size) for size in sizes}
    for name, data in contents.items():
        (folder / name).write_bytes(data)

    expected = only_hash_each(kubo, repos[profile], folder, *add_options(**knobs))

    for name, data in contents.items():
        from_bytes = cid_of(data, profile=profile, **knobs)
        from_file = cid_of(folder / name, profile=profile, **knobs)
        *_, root = import_bytes(data, profile=profile, **knobs)
        assert (str(from_bytes), str(from_file), str(root.cid)) == (expected[name],) * 3, name


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_cid_version_1_implies_raw_leaves_as_in_kubo(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path, profile: str
) -> None:
    data = random_bytes(3 * KiB, seed=7)
    (tmp_path / "data").write_bytes(data)

    def kubo_cid(*options: str) -> str:
        return only_hash(kubo, repos[profile], tmp_path / "data", "--chunker=size-1024", *options)

    implied = kubo_cid("--cid-version=1")
    assert implied == kubo_cid("--cid-version=1", "--raw-leaves=true")
    assert implied != kubo_cid("--cid-version=1", "--raw-leaves=false")
    assert str(cid_of(data, profile=profile, cid_version=1, chunk_size=KiB)) == implied
    # With the v1-2025 profile raw leaves are configured, so CIDv0 keeps them.
    v0 = cid_of(data, profile=profile, cid_version=0, chunk_size=KiB)
    assert str(v0) == kubo_cid("--cid-version=0")
    leaves = [block.cid.codec for block in import_bytes(data, profile=profile, cid_version=0)]
    assert leaves == (["raw"] if profile == "v1-2025" else ["dag-pb"])


# -- folders ---------------------------------------------------------------------------


def build_tree(root: Path, *, dangling: bool = True) -> Path:
    """Nested folders with unicode names that sort differently by code point and by
    locale, empty files and folders, a multi-chunk file, symlinks, hidden entries."""
    tree = root / "tree"
    files = {
        "a.txt": b"a\n",
        "Zebra": b"z",
        "apple": b"",
        "A": b"upper a",
        "a.b": b"1",
        "a-b": b"2",
        "a_b": b"3",
        "01": b"01",
        "1": b"1",
        "10": b"10",
        "2": b"2",
        "space name": b"spaces",
        "emoji 🎉.md": "# 🎉\n".encode(),
        unicodedata.normalize("NFC", "ä"): b"composed",
        unicodedata.normalize("NFD", "ä"): b"decomposed",
        "données/été.txt": random_bytes(3000, seed=1),
        "données/日本語/深い/ファイル.bin": random_bytes(70_000, seed=2),
        "données/Ωmega": b"omega",
        "nested/a/b/c/d/e/leaf.txt": b"deep\n",
        ".hidden-file": b"hidden",
        ".hidden-dir/inside.txt": b"inside",
        "données/.cache": b"cache",
    }
    for name, data in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tree / "empty-dir").mkdir()
    (tree / "nested" / "empty").mkdir()
    (tree / "link-to-file").symlink_to("a.txt")
    (tree / "link-to-dir").symlink_to("données")
    (tree / "données" / "up").symlink_to("../a.txt")
    if dangling:
        (tree / "dangling").symlink_to("does/not/exist")
    return tree


FOLDER_CASES: list[tuple[str, dict[str, Any]]] = [
    ("kubo-v0", {}),
    ("kubo-v0", {"hidden": True}),
    ("kubo-v0", {"cid_version": 1}),
    ("kubo-v0", {"raw_leaves": True, "chunk_size": KiB}),
    ("kubo-v0", {"cid_version": 1, "raw_leaves": False, "chunk_size": KiB}),
    ("v1-2025", {}),
    ("v1-2025", {"hidden": True, "chunk_size": KiB}),
    ("v1-2025", {"cid_version": 0}),
]


@pytest.mark.parametrize(
    ("profile", "knobs"),
    FOLDER_CASES,
    ids=["-".join([p, *map(str, k.items())]) for p, k in FOLDER_CASES],
)
def test_folder_cids_equal_kubos_for_every_entry(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path, profile: str, knobs: dict[str, Any]
) -> None:
    tree = build_tree(tmp_path)

    expected = only_hash_each(kubo, repos[profile], tree, *add_options(**knobs))

    knobs = dict(knobs)
    hidden = knobs.pop("hidden", False)
    troika = {
        relative: str(
            cid_of(tree / relative if relative else tree, profile=profile, hidden=hidden, **knobs)
        )
        for relative in expected
    }
    assert troika == expected
    assert ("données/.cache" in expected) == hidden
    *_, root = import_path(tree, profile=profile, hidden=hidden, **knobs)
    assert str(root.cid) == expected[""]


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_following_symlinks_equals_kubos_dereference(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path, profile: str
) -> None:
    tree = build_tree(tmp_path, dangling=False)

    expected = only_hash(kubo, repos[profile], tree, "--dereference-symlinks")

    assert str(cid_of(tree, profile=profile, follow_symlinks=True)) == expected
    assert str(cid_of(tree, profile=profile)) != expected


def test_a_symlink_given_as_the_path_is_imported_as_a_link(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    tree = build_tree(tmp_path)

    for name in ("link-to-file", "link-to-dir", "dangling"):
        expected = only_hash(kubo, repos["kubo-v0"], tree / name)
        assert str(cid_of(tree / name)) == expected, name
    followed = only_hash(kubo, repos["kubo-v0"], tree / "link-to-dir", "--dereference-symlinks")
    assert str(cid_of(tree / "link-to-dir", follow_symlinks=True)) == followed
    assert followed == str(cid_of(tree / "données", follow_symlinks=True))


def test_a_hidden_folder_given_as_the_path_is_imported(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    hidden = build_tree(tmp_path) / ".hidden-dir"

    assert str(cid_of(hidden)) == only_hash(kubo, repos["kubo-v0"], hidden)
    assert str(cid_of(hidden)) != str(cid_of(tmp_path / "tree" / "empty-dir"))


def test_names_that_are_not_utf8_keep_their_bytes_as_in_kubo(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "raw-names"
    folder.mkdir()
    (folder / os.fsdecode(b"\xff\xfe")).write_bytes(b"latin-1 junk")
    (folder / "plain").write_bytes(b"plain")

    assert str(cid_of(folder)) == only_hash(kubo, repos["kubo-v0"], folder)


def put_names(folder: Path, names: list[str]) -> None:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"x")


def pb_link_size(name_length: int, cid_length: int, tsize: int) -> int:
    """Bytes of one serialized dag-pb link (the dag-pb spec; boxo's linkSerializedSize)."""

    def varint_length(value: int) -> int:
        return max(1, (value.bit_length() + 6) // 7)

    inner = (
        1 + varint_length(cid_length) + cid_length
        + 1 + varint_length(name_length) + name_length
        + 1 + varint_length(tsize)
    )  # fmt: skip
    return 1 + varint_length(inner) + inner


@pytest.mark.parametrize(("extra", "kind"), [(0, UnixFSType.DIRECTORY), (1, UnixFSType.HAMT_SHARD)])
def test_hamt_threshold_counts_a_subfolders_final_tsize(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path, extra: int, kind: UnixFSType
) -> None:
    # v1-2025 measures the whole block, Tsize included. Kubo adds the subfolder's
    # link while it is still empty (Tsize 4) and updates it once its content is in:
    # here the final Tsize needs two more varint bytes, which is what pushes the
    # folder over the threshold (extra=1) or exactly onto it (extra=0).
    folder = tmp_path / "dir"
    names = [f"{index:011d}" for index in range(4764)]
    sub_link = pb_link_size(3, 36, 4 + pb_link_size(4, 36, 20_000) + 20_000)
    used = 4 + 4764 * pb_link_size(11, 36, 1) + sub_link
    last = next(length for length in range(12, 120) if used + pb_link_size(length, 36, 1) == 262144)
    put_names(folder, [*names, "x" * (last + extra)])
    (folder / "sub").mkdir()
    (folder / "sub" / "file").write_bytes(random_bytes(20_000, seed=3))
    assert pb_link_size(3, 36, 4) == sub_link - 2  # the stale link was two bytes shorter

    expected = only_hash(kubo, repos["v1-2025"], folder)

    assert imported_root(folder, profile="v1-2025") == (expected, kind)


def test_hamt_with_raw_leaves_in_a_cidv0_folder(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    # Kubo's "links" estimate counts 36 bytes for a raw leaf's CIDv1, 34 for CIDv0.
    folder = tmp_path / "dir"
    put_names(folder, [f"{index:030d}" for index in range(3972)])  # 3972 * 66 > 256 KiB

    expected = only_hash(kubo, repos["kubo-v0"], folder, "--raw-leaves")

    assert imported_root(folder, raw_leaves=True) == (expected, UnixFSType.HAMT_SHARD)
    assert imported_root(folder)[1] == UnixFSType.DIRECTORY  # 3972 * 64 is under it


# -- blocks -------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_blocks_hash_to_their_cids_are_canonical_and_end_with_the_root(
    tmp_path: Path, profile: str
) -> None:
    tree = build_tree(tmp_path)

    blocks = import_path(tree, profile=profile, chunk_size=KiB, hidden=True)
    emitted = list(blocks)

    assert all(block.cid.verify(block.data) for block in emitted)
    assert emitted[-1].cid == cid_of(tree, profile=profile, chunk_size=KiB, hidden=True)
    for block in emitted:
        if block.cid.codec == "dag-pb":
            node = decode_node(block.data)
            assert encode_node(node) == block.data
            assert node.data is not None
            assert UnixFSData.decode(node.data).encode() == node.data


def test_the_generator_returns_the_root() -> None:
    blocks = import_bytes(random_bytes(5 * KiB, seed=5), chunk_size=KiB)
    emitted = []
    while True:
        try:
            emitted.append(next(blocks))
        except StopIteration as done:
            returned = done.value
            break

    assert returned == emitted[-1].cid
    assert len(emitted) == 6  # five leaves, one parent


def test_leaf_blocks_are_the_reference_encoding() -> None:
    data = random_bytes(2 * KiB + 1, seed=6)

    leaves = list(import_bytes(data, chunk_size=KiB))[:-1]

    pieces = [data[:KiB], data[KiB : 2 * KiB], data[2 * KiB :]]
    assert [leaf.data for leaf in leaves] == [
        encode_node(PBNode(UnixFSData(UnixFSType.FILE, piece, filesize=len(piece)).encode()))
        for piece in pieces
    ]


class CountingStream(io.BytesIO):
    """Records how far the importer had read when each block came out."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_read = 0

    def readinto(self, buffer: Any) -> int:
        self.largest_read = max(self.largest_read, len(memoryview(buffer)))
        return super().readinto(buffer)


def test_blocks_come_out_while_the_stream_is_read() -> None:
    stream = CountingStream(random_bytes(100 * KiB, seed=8))
    blocks = import_stream(stream, chunk_size=KiB)

    first = next(blocks)
    read_then = stream.tell()
    rest = list(blocks)

    assert decode_node(first.data).links == ()  # a leaf
    assert read_then <= 2 * KiB  # the first chunk, and at most one more to look ahead
    assert stream.largest_read <= KiB
    assert len(rest) == 100  # 99 more leaves and the root


def test_a_stream_without_readinto_is_read_with_read() -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._stream = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._stream.read(min(size, 100))  # short reads too

    data = random_bytes(5000, seed=9)
    *_, root = import_stream(ReadOnly(data), chunk_size=KiB)

    assert root.cid == cid_of(data, chunk_size=KiB)


# -- bad input ------------------------------------------------------------------------


def test_a_missing_path_raises_path_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(PathNotFound) as caught:
        cid_of(missing)

    assert caught.value.path == str(missing)
    assert str(missing) in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(PathNotFound):
        list(import_path(tmp_path / "file.txt" / "below-a-file"))
    with pytest.raises(PathNotFound):  # not the current folder, as Path("") would be
        cid_of("")


@contextmanager
def without_root_privileges() -> Iterator[None]:
    """Permissions only bind a process that is not root; as root, act as nobody."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A folder that another user can reach (pytest's own tmp folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="troika-permissions-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_an_unreadable_file_raises_path_unreadable(world_readable: Path) -> None:
    tree = world_readable / "tree"
    tree.mkdir()
    tree.chmod(0o755)
    (tree / "open.txt").write_text("open")
    (tree / "open.txt").chmod(0o644)
    secret = tree / "secret.txt"
    secret.write_text("secret")
    secret.chmod(0o000)

    with without_root_privileges(), pytest.raises(PathUnreadable) as caught:
        cid_of(tree)

    assert caught.value.path == str(secret)
    assert isinstance(caught.value, PermissionError)
    assert repr(str(secret)) in str(caught.value)


def test_an_unlistable_folder_raises_path_unreadable(world_readable: Path) -> None:
    locked = world_readable / "locked"
    locked.mkdir()
    locked.chmod(0o000)

    with without_root_privileges(), pytest.raises(PathUnreadable) as caught:
        cid_of(world_readable)

    assert caught.value.path == str(locked)


def test_a_symlink_loop_is_kept_as_a_link_but_raises_when_followed(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "loops"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "back-up").symlink_to("..")
    (folder / "self").symlink_to("self")

    assert str(cid_of(folder)) == only_hash(kubo, repos["kubo-v0"], folder)
    with pytest.raises(SymlinkLoop) as caught:
        cid_of(folder, follow_symlinks=True)
    assert caught.value.path in (str(folder / "self"), str(folder / "sub" / "back-up"))
    with pytest.raises(ServiceError):  # Kubo refuses it too
        only_hash(kubo, repos["kubo-v0"], folder, "--dereference-symlinks")


def test_a_folder_cycle_through_a_symlink_raises_symlink_loop(tmp_path: Path) -> None:
    folder = tmp_path / "cycle"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "again").symlink_to("..")

    with pytest.raises(SymlinkLoop) as caught:
        cid_of(folder, follow_symlinks=True)

    assert caught.value.path == str(folder / "a" / "again")
    assert "loop" in str(caught.value)


def test_a_fifo_is_refused_as_kubo_refuses_it(
    kubo: Kubo, repos: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "special"
    folder.mkdir()
    os.mkfifo(folder / "fifo")

    with pytest.raises(PathError) as caught:
        cid_of(folder)

    assert caught.value.path == str(folder / "fifo")
    assert "FIFO" in str(caught.value)
    with pytest.raises(ServiceError, match="unrecognized file type"):
        only_hash(kubo, repos["kubo-v0"], folder)


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"profile": "v2"}, "profile"),
        ({"cid_version": 2}, "cid_version"),
        ({"cid_version": True}, "cid_version"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": MAX_CHUNK_SIZE + 1}, "chunk_size"),
        ({"raw_leaves": "yes"}, "raw_leaves"),
    ],
)
def test_bad_knobs_raise_config_error(knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cid_of(b"data", **knobs)

    assert caught.value.field == field
    assert caught.value.value == knobs[field]
    assert isinstance(caught.value, ValueError)


def test_the_largest_chunk_kubo_accepts_is_accepted() -> None:
    data = random_bytes(MAX_CHUNK_SIZE + 1, seed=10)

    blocks = list(import_bytes(data, chunk_size=MAX_CHUNK_SIZE, raw_leaves=True))

    assert [len(block.data) for block in blocks[:2]] == [MAX_CHUNK_SIZE, 1]


def test_a_source_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        cid_of(42)  # type: ignore[arg-type]


def test_a_path_object_and_a_string_give_the_same_cid(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"same")

    assert cid_of(tmp_path / "f") == cid_of(str(tmp_path / "f")) == cid_of(b"same")
    assert isinstance(cid_of(b"same"), CID)
