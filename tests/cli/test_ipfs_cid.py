"""``troika ipfs cid``, run as a user runs it, against ``ipfs add --only-hash``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests._services import Kubo
from tests.cli.test_cli import one_line_error, run
from tests.ipfs._kubo_cli import only_hash, standalone_repo


@pytest.fixture(scope="module")
def repos(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("repos")
    return {
        "kubo-v0": standalone_repo(kubo, base / "default"),
        "v1-2025": standalone_repo(kubo, base / "v1-2025", "unixfs-v1-2025"),
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "big.bin").write_bytes(random.Random(1).randbytes(300_000))
    (folder / "sub" / "naïve.txt").write_text("naïve\n")
    (folder / ".hidden").write_text("hidden\n")
    (folder / "link").symlink_to("sub")
    return folder


@pytest.mark.kubo
@pytest.mark.parametrize(
    ("profile", "args", "kubo_args"),
    [
        ("kubo-v0", [], []),
        ("v1-2025", ["--profile", "v1-2025"], []),
        ("kubo-v0", ["--cid-version", "1"], ["--cid-version=1"]),
        (
            "kubo-v0",
            ["--cid-version", "1", "--no-raw-leaves", "--chunk-size", "1024"],
            ["--cid-version=1", "--raw-leaves=false", "--chunker=size-1024"],
        ),
        (
            "v1-2025",
            ["--profile", "v1-2025", "--hidden", "--dereference-symlinks"],
            ["--hidden", "--dereference-symlinks"],
        ),
    ],
)
def test_prints_the_cid_kubo_computes(
    kubo: Kubo,
    repos: dict[str, Path],
    folder: Path,
    tmp_path: Path,
    profile: str,
    args: list[str],
    kubo_args: list[str],
) -> None:
    result = run("ipfs", "cid", str(folder), *args, home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == only_hash(kubo, repos[profile], folder, *kubo_args) + "\n"


def test_json_names_the_cid_path_and_profile(folder: Path, tmp_path: Path) -> None:
    plain = run("ipfs", "cid", str(folder / "big.bin"), home=tmp_path)
    as_json = run("ipfs", "cid", str(folder / "big.bin"), "--json", home=tmp_path)

    assert json.loads(as_json.stdout) == {
        "cid": plain.stdout.strip(),
        "path": str(folder / "big.bin"),
        "profile": "kubo-v0",
    }


@pytest.mark.parametrize(
    ("args", "quoted"),
    [
        (["missing"], "cannot use 'missing': no such file or directory"),
        ([".", "--profile", "v2"], "setting profile='v2' is invalid"),
        ([".", "--chunk-size", "0"], "setting chunk_size=0 is invalid"),
        ([".", "--cid-version", "2"], "setting cid_version=2 is invalid"),
    ],
    ids=["missing", "profile", "chunk-size", "cid-version"],
)
def test_bad_input_is_one_line_on_stderr(tmp_path: Path, args: list[str], quoted: str) -> None:
    result = run("ipfs", "cid", *args, home=tmp_path)

    assert quoted in one_line_error(result)
