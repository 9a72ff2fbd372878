"""Compiled artifacts are reproducible from the Solidity sources with the pinned solc."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from troika.chain import Artifact, ArtifactStore, load_artifact

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"


def build(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run the README's test command")
    return subprocess.run(
        [node, str(CONTRACTS / "build.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_committed_artifacts_match_a_fresh_build() -> None:
    result = build("--check")
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_tampered_artifact(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "tests" / "artifacts", tmp_path / "tests" / "artifacts")
    shipped = ROOT / "sdk" / "troika" / "contracts"
    if shipped.is_dir():  # absent until contracts/src has a contract
        shutil.copytree(shipped, tmp_path / "sdk" / "troika" / "contracts")
    probe = tmp_path / "tests" / "artifacts" / "Probe.json"
    data = json.loads(probe.read_text())
    data["bytecode"] = data["bytecode"][:-2] + ("00" if data["bytecode"][-2:] != "00" else "01")
    probe.write_text(json.dumps(data, indent=2) + "\n")
    (tmp_path / "tests" / "artifacts" / "Ghost.json").write_text("{}")
    result = build("--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert "tests/artifacts/Probe.json: differs from source" in result.stderr
    assert "tests/artifacts/Ghost.json: stale" in result.stderr


def test_pinned_toolchain() -> None:
    package = json.loads((CONTRACTS / "package.json").read_text())
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())
    wanted = {
        "solc": "0.8.37",
        "@openzeppelin/contracts": "5.7.0",
        "@foundry-rs/anvil-linux-amd64": "1.7.1",
        "ethr-did-registry": "1.3.0",  # the reference ERC-1056 registry, for tests
    }
    assert package["devDependencies"] == wanted
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_artifact_records_how_it_was_compiled() -> None:
    probe = Artifact.from_file(ROOT / "tests" / "artifacts" / "Probe.json")
    assert probe.compiler_version.startswith("0.8.37+")
    assert probe.settings["evmVersion"] == "cancun"
    assert probe.settings["optimizer"]["enabled"] is True
    # Solidity appends CBOR metadata: {"ipfs": <34 bytes>, "solc": 0x000825} and
    # its length 0x0033 (docs: "Encoding of the Metadata Hash in the Bytecode").
    tail = probe.deployed_bytecode[-0x35:]
    assert tail[:7] == bytes.fromhex("a2646970667358")  # map(2), "ipfs", bytes(34)
    assert tail[-11:] == b"\x64solc\x43\x00\x08\x25\x00\x33"
    assert {e["name"] for e in probe.errors()} >= {"TooLarge", "OwnableUnauthorizedAccount"}


def test_package_artifacts_load_by_name() -> None:
    store = ArtifactStore()
    for name in store.names():
        assert load_artifact(name).name == name
