"""The wheel users install: the package, its type marker and its compiled contracts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("troika_sdk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "troika/py.typed" in names
    assert "troika/cli/__main__.py" in names
    for layer in ("chain", "ipfs", "did", "assets", "compute", "cli"):
        assert f"troika/{layer}/__init__.py" in names
    shipped = {p.name for p in (ROOT / "sdk" / "troika" / "contracts").glob("*.json")}
    assert {n.removeprefix("troika/contracts/") for n in names if "/contracts/" in n} == shipped
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "troika = troika.cli:main" in text
