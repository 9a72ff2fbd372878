"""Every example runs as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_has_a_test() -> None:
    tested = {
        "ai_agent.py",
        "chain_quickstart.py",
        "compute_node.py",
        "dapp_backend.py",
        "mint_folder.py",
        "resolver_service.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_chain_quickstart() -> None:
    out = run("chain_quickstart.py").splitlines()
    assert out[0].endswith("at block 0")
    assert out[1].startswith("funded 0x")
    assert "block 1" in out[1]
    assert out[2].startswith("alice paid ")
    assert out[3].startswith("refused: ")
    assert "balance" in out[3] or "funds" in out[3]


def test_mint_folder(tmp_path: Path) -> None:
    out = run("mint_folder.py", "--home", str(tmp_path), "--count", "7", "--batch-size", "3")
    lines = out.splitlines()
    assert lines[0].startswith("owner did:ethr:")
    assert [line.split()[1] for line in lines if line.startswith("pinning ")] == [
        f"{i}/7" for i in range(1, 8)
    ]
    assert [line for line in lines if line.startswith("minted batch")] == [
        f"minted batch {i}/3" for i in range(1, 4)
    ]
    assert "7 datasets in 3 transactions" in lines
    assert "weather-lab owns 7 tokens" in lines
    assert sorted(p.name for p in (tmp_path / "exports").iterdir())[0] == "station-000.csv"
    assert (tmp_path / "keys").is_dir()  # the run used the given home, not a temporary one


def test_dapp_backend(tmp_path: Path) -> None:
    lines = run("dapp_backend.py", "--home", str(tmp_path)).splitlines()
    alice = lines[1].split()[-1]
    assert alice.startswith("did:ethr:")
    assert lines[2].startswith("serving on http://127.0.0.1:")
    assert lines[3] == f"signed in as {alice}"
    assert lines[4] == "the same signed message again: 401 unknown or used nonce"
    assert lines[5] == "without a session: 401"
    assert lines[6].startswith("signed by another key: 401 the signature does not prove")
    assert lines[7] == 'alice owns #3 "alice\'s garden"'  # hers only, not the catalogue
    assert lines[8] == "catalogue: #1 rainfall, #2 river levels"
    assert lines[9].startswith("licensed #1 to alice until ")
    assert lines[10] == "a licence to a token outside the catalogue: 404"
    assert lines[11] == "alice decrypted #1: day,value"  # the key was wrapped to her DID


def test_resolver_service(tmp_path: Path) -> None:
    lines = run("resolver_service.py", "--home", str(tmp_path)).splitlines()
    assert lines[0].startswith("service http://127.0.0.1:")
    assert lines[0].endswith(" ok")
    assert lines[1].startswith("did:key:z6Mk")
    assert lines[2].startswith("did:pkh:eip155:1:0xC02aa")
    for line in lines[1:3]:  # the service's answer is troika.did.resolve's, field for field
        assert " 200: " in line
        assert line.endswith("; same as in-process")
    assert lines[3] == "as a bare document: application/did+ld+json"
    assert lines[4:7] == [
        "did:nope 400 invalidDid",
        "did:example:123 501 methodNotSupported",
        "did:ethr:0x1:0xC 501 unknownNetwork",  # no --rpc: no did:ethr network
    ]
    assert lines[7] == "service stopped"
    assert (tmp_path / "serve.log").exists()


def test_ai_agent(tmp_path: Path) -> None:
    lines = run("ai_agent.py", "--home", str(tmp_path)).splitlines()
    assert lines[0] == "clinic minted #1, encrypted, privacy budget epsilon 2.0"
    assert lines[1].startswith("agent did:ethr:")
    assert lines[2] == "its DID document says kind 'agent'; owned by bob: True"
    assert lines[3].startswith("agent paid 10000000000000000 wei; licensed until ")
    assert lines[4] == "agent requested job #1: mean of systolic, epsilon 1.0"
    assert lines[5] == "clinic's node accepted"
    assert lines[6].startswith("job #1 completed: mean ")
    assert 110 < float(lines[6].split()[-1]) < 140  # a noisy mean near the true 125-ish
    assert lines[8] == "budget spent 1.0 of 2.0"
    assert lines[9] == "clinic withdrew 1000000000000000 wei for the job"
    assert (tmp_path / "keys" / "bob-agent.json").exists()  # the agent's own key file


def test_compute_node(tmp_path: Path) -> None:
    lines = run("compute_node.py", "--home", str(tmp_path), "--rounds", "2").splitlines()
    assert lines[0].startswith("3 hospital nodes for datasets [2, 3, 4]")
    assert lines[1] == "the lab requested job #1 (train, 2 rounds) and job #2 (1 wei)"
    assert lines[2] == "st-mary's node: job #1 accepted"
    assert lines[3].startswith("st-mary's node: job #2 refused (payment 1 wei is below")
    assert lines[4] == "job #1 completed: 3/3 nodes confirmed"
    assert lines[5] == "the lab's trained model, verified: True"
    assert lines[6] == "restarted from its state file: 0 new decisions, 2 remembered"
    # 60 % to three dataset owners and 15 % to three nodes of 0.03 ETH: 0.0075 ETH each
    assert lines[7] == "st-mary withdrew 7500000000000000 wei (dataset owner and node)"
    assert (tmp_path / "nodes" / "st-mary.json").is_file()


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_have_a_docstring(script: str) -> None:
    assert (EXAMPLES / script).read_text().startswith('"""')
