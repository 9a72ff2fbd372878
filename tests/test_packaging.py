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


def test_the_wheel_runs_without_solc_node_or_go(tmp_path: Path) -> None:
    """The built wheel, installed on its own (its dependencies from this
    environment), deploys and uses its compiled contracts with no solc, node
    or Go anywhere on PATH and no source tree in sight."""
    import os
    import shutil

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("troika_sdk-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    bare = tmp_path / "bin"  # PATH holds nothing: no solc, node, npm, go or ipfs
    bare.mkdir()
    script = """
import pathlib, sys, troika
from troika.assets import AssetRegistry, AssetKind
from troika.chain import Chain
assert pathlib.Path(troika.__file__).is_relative_to(sys.argv[1]), troika.__file__
chain = Chain.embedded()
registry = AssetRegistry.deploy(chain)
minted = registry.mint_batch(chain.accounts[1], AssetKind.DATASET, [bytes(32)])
print(registry.token_uri(minted.token_ids[0]))
"""
    env = {"PATH": str(bare), "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ipfs://bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    for tool in ("solc", "node", "npm", "go", "ipfs"):
        assert shutil.which(tool, path=env["PATH"]) is None
    assert os.environ.get("PYTHONPATH") != env["PYTHONPATH"]
