"""``troika ipfs car create`` and ``verify``, run as a user runs them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests._services import Kubo
from tests.cli.test_cli import one_line_error, run

from troika.ipfs import KuboClient

VECTORS = Path(__file__).resolve().parents[1] / "ipfs" / "vectors" / "car"


def test_verify_prints_roots_and_block_count(tmp_path: Path) -> None:
    car = VECTORS / "go-car-v2.car"

    human = run("ipfs", "car", "verify", str(car), home=tmp_path)
    as_json = run("ipfs", "car", "verify", str(car), "--json", home=tmp_path)

    assert (human.returncode, human.stderr) == (0, "")
    assert human.stdout == (
        f"{car}: CARv2, 5 blocks (211 bytes), all verified\n"
        "root QmfEoLyB5NndqeKieExd1rtJzTduQUPEV8TwAYcUiy3H5Z\n"
    )
    assert json.loads(as_json.stdout) == {
        "block_bytes": 211,
        "blocks": 5,
        "file": str(car),
        "roots": ["QmfEoLyB5NndqeKieExd1rtJzTduQUPEV8TwAYcUiy3H5Z"],
        "version": 2,
    }


def test_verify_of_a_truncated_car_is_one_line(tmp_path: Path) -> None:
    car = tmp_path / "cut.car"
    car.write_bytes((VECTORS / "carv1-basic.car").read_bytes()[:150])

    line = one_line_error(run("ipfs", "car", "verify", str(car), home=tmp_path))

    assert line == (
        f"error: {str(car)!r}: invalid CAR at byte 141: the CAR ends inside a section: "
        "40 bytes expected, 8 found"
    )


def test_verify_of_a_tampered_car_is_one_line(tmp_path: Path) -> None:
    car = tmp_path / "tampered.car"
    data = bytearray((VECTORS / "carv1-basic.car").read_bytes())
    data[140] ^= 0xFF  # inside the first block, "aaaa"
    car.write_bytes(bytes(data))

    line = one_line_error(run("ipfs", "car", "verify", str(car), home=tmp_path))

    assert line == (
        f"error: {str(car)!r}: invalid CAR at byte 100: block "
        "'bafkreidbxzk2ryxwwtqxem4l3xyyjvw35yu4tcct4cqeqxwo47zhxgxqwq' does not match its "
        "CID (corrupted or tampered with)"
    )


def test_verify_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.car"

    line = one_line_error(run("ipfs", "car", "verify", str(missing), home=tmp_path))

    assert line == f"error: cannot read {str(missing)!r}: No such file or directory"


@pytest.mark.kubo
def test_create_writes_what_kubo_exports_and_prints_the_cid(kubo: Kubo, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.bin").write_bytes(random.Random(7).randbytes(600 * 1024))
    (tree / "sub" / "b.txt").write_text("b\n")
    root = kubo.cli("add", "-r", "-Q", "--cid-version=1", str(tree))
    with KuboClient(kubo.api_url) as ipfs:
        kubo_car = ipfs.dag_export(root)
    out = tmp_path / "tree.car"

    created = run(
        "ipfs", "car", "create", str(tree), "-o", str(out), "--cid-version", "1", home=tmp_path
    )

    assert (created.returncode, created.stdout, created.stderr) == (0, f"{root}\n", "")
    assert out.read_bytes() == kubo_car
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree", "tree.car"]  # no leftovers


def test_create_json_then_verify(tmp_path: Path) -> None:
    source = tmp_path / "hello.txt"
    source.write_bytes(b"hello\n")
    out = tmp_path / "hello.car"

    created = run("ipfs", "car", "create", str(source), "-o", str(out), "--json", home=tmp_path)
    verified = run("ipfs", "car", "verify", str(out), "--json", home=tmp_path)

    assert json.loads(created.stdout) == {
        "bytes": out.stat().st_size,
        "cid": "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN",
        "file": str(out),
    }
    assert json.loads(verified.stdout)["roots"] == [
        "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    ]


def test_create_of_a_missing_path_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out" / "x.car"
    out.parent.mkdir()

    one_line_error(
        run("ipfs", "car", "create", str(tmp_path / "nope"), "-o", str(out), home=tmp_path)
    )

    assert list(out.parent.iterdir()) == []
