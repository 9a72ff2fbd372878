"""The service fixtures start real, answering, loopback-only processes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests._services import Anvil, Kubo, ServiceError


def rpc(url: str, method: str) -> object:
    with httpx.Client(timeout=10, trust_env=False) as client:
        answer = client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
    answer.raise_for_status()
    body = answer.json()
    assert "error" not in body, body
    return body["result"]


@pytest.mark.anvil
def test_anvil_answers_json_rpc(anvil: Anvil) -> None:
    assert anvil.url.startswith("http://127.0.0.1:")
    assert rpc(anvil.url, "eth_chainId") == hex(31337) == hex(anvil.chain_id)
    block = rpc(anvil.url, "eth_blockNumber")
    assert isinstance(block, str)
    assert int(block, 16) >= 0


@pytest.mark.anvil
def test_anvil_has_the_test_mnemonic_accounts(anvil: Anvil) -> None:
    accounts = rpc(anvil.url, "eth_accounts")

    assert isinstance(accounts, list)
    assert len(accounts) == 10
    assert accounts[0] == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


@pytest.mark.anvil
def test_anvil_passes_extra_args_and_dumps_state_on_stop(tmp_path: Path) -> None:
    state = tmp_path / "state.json"

    with Anvil(extra_args=["--dump-state", str(state)]) as node:
        rpc(node.url, "eth_blockNumber")
    assert state.stat().st_size > 0

    with Anvil(extra_args=["--load-state", str(state)]) as node:
        assert rpc(node.url, "eth_chainId") == hex(31337)


@pytest.mark.anvil
def test_a_service_that_fails_to_start_shows_its_log(tmp_path: Path) -> None:
    node = Anvil(extra_args=["--no-such-flag"], workdir=tmp_path)

    with pytest.raises(ServiceError) as caught:
        node.start()

    message = str(caught.value)
    assert message.startswith("anvil exited with code 2 while starting: ")
    assert "--no-such-flag" in message.split("\n", 1)[1]
    assert node.pid is None


@pytest.mark.kubo
def test_kubo_answers_rpc_and_gateway(kubo: Kubo) -> None:
    with httpx.Client(timeout=10, trust_env=False) as client:
        version = client.post(f"{kubo.api_url}/api/v0/version")
        added = client.post(f"{kubo.api_url}/api/v0/add", files={"file": ("hello", b"hello\n")})
        cid = added.json()["Hash"]
        served = client.get(f"{kubo.gateway_url}/ipfs/{cid}")

    assert version.json()["Version"] == kubo.cli("version", "--number")
    assert served.content == b"hello\n"


@pytest.mark.kubo
def test_kubo_listens_on_loopback_only_and_knows_no_peers(kubo: Kubo) -> None:
    listening = kubo.cli("swarm", "addrs", "listen").split()
    config = json.loads(kubo.cli("config", "show"))

    assert listening
    assert all(address.startswith("/ip4/127.0.0.1/tcp/") for address in listening)
    assert kubo.cli("swarm", "peers") == ""
    assert config["Bootstrap"] == []
    assert config["Routing"]["Type"] == "none"
    assert config["Addresses"]["API"] == f"/ip4/127.0.0.1/tcp/{kubo.api_port}"
    assert config["Addresses"]["Gateway"] == f"/ip4/127.0.0.1/tcp/{kubo.gateway_port}"


@pytest.mark.kubo
def test_offline_kubo_fails_at_once_on_missing_content() -> None:
    with Kubo(offline=True) as node, httpx.Client(timeout=10, trust_env=False) as client:
        missing = client.post(
            f"{node.api_url}/api/v0/cat",
            params={"arg": "/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"},
        )

    assert missing.status_code == 500
    assert missing.json()["Message"].startswith("block was not found locally (offline)")
