"""``troika ipfs add`` and ``troika ipfs get``, run as a user runs them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests._pinning_server import PinningServer
from tests._services import Kubo
from tests.cli.test_cli import one_line_error, run

pytestmark = pytest.mark.kubo

DATA = random.Random(5).randbytes(400_000)


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


def test_add_local_then_get_local(kubo: Kubo, file: Path, tmp_path: Path) -> None:
    expected = kubo.cli("add", "-Q", "--only-hash", str(file))

    added = run("ipfs", "add", str(file), "--json", home=tmp_path)
    got = run("ipfs", "get", expected, "-o", str(tmp_path / "out.bin"), home=tmp_path)

    assert json.loads(added.stdout) == {"cid": expected, "path": str(file), "to": "local"}
    assert got.stdout == f"{tmp_path / 'out.bin'}\n"
    assert (tmp_path / "out.bin").read_bytes() == DATA


def test_add_to_kubo_pins_there_and_get_from_its_gateway(
    kubo: Kubo, file: Path, tmp_path: Path
) -> None:
    expected = kubo.cli(
        "add", "-Q", "--only-hash", "--cid-version=1", "--chunker=size-1048576", str(file)
    )

    added = run(
        "ipfs",
        "add",
        str(file),
        "--to",
        "kubo",
        "--profile",
        "v1-2025",
        home=tmp_path,
        env={"TROIKA_IPFS_API": kubo.api_url},
    )
    out = tmp_path / "from-gateway.bin"
    got = run(
        "ipfs",
        "get",
        expected,
        "-o",
        str(out),
        "--from",
        "gateway",
        "--gateway",
        kubo.gateway_url,
        home=tmp_path,
    )

    assert added.stdout == f"{expected}\n"
    assert kubo.cli("pin", "ls", "--type=recursive", expected).split()[0] == expected
    assert got.returncode == 0
    assert out.read_bytes() == DATA


def test_add_to_a_pinning_service_never_prints_the_token(
    kubo: Kubo, pinning_service: PinningServer, file: Path, tmp_path: Path
) -> None:
    added = run(
        "ipfs",
        "add",
        str(file),
        "--to",
        "service",
        "--api",
        kubo.api_url,
        "--service",
        pinning_service.url,
        home=tmp_path,
        env={"TROIKA_PINNING_TOKEN": pinning_service.token},
    )

    assert added.returncode == 0, added.stderr
    assert added.stdout == f"{kubo.cli('add', '-Q', '--only-hash', str(file))}\n"
    assert pinning_service.token not in added.stdout + added.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ipfs", "add", "/no/such/path"], "/no/such/path"),
        (["ipfs", "add", ".", "--to", "moon"], "'moon'"),
        (["ipfs", "get", "Qmnotvalid", "-o", "x"], "invalid CID 'Qmnotvalid'"),
        (["ipfs", "add", ".", "--to", "kubo"], "TROIKA_IPFS_API"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    assert message in one_line_error(run(*args, home=tmp_path))
