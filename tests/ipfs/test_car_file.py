"""car_file: the CAR of a path written to a file that appears only when complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._services import Kubo
from troika import PathNotFound
from troika.ipfs import KuboClient, car_file


def test_the_file_holds_kubos_export(kubo: Kubo, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1500
    (tmp_path / "data.bin").write_bytes(data)
    root = car_file(tmp_path / "data.bin", tmp_path / "out.car")
    with KuboClient(kubo.api_url) as ipfs:
        added = ipfs.add(data)
        assert str(root) == added
        assert (tmp_path / "out.car").read_bytes() == ipfs.dag_export(added)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_failed_import_leaves_nothing_and_keeps_an_old_file(tmp_path: Path) -> None:
    (tmp_path / "old.car").write_bytes(b"old")
    with pytest.raises(PathNotFound):
        car_file(tmp_path / "missing", tmp_path / "old.car")
    assert (tmp_path / "old.car").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.car"]


def test_an_output_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(PathNotFound) as caught:
        car_file(b"x", tmp_path / "no" / "such" / "out.car")
    assert caught.value.path == str(tmp_path / "no" / "such")
