"""The chain layer on the embedded EVM and on anvil: one suite for both."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from tests._services import Anvil

from troika import (
    ArtifactNotFound,
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    DeploymentNotFound,
    InvalidContractCall,
    RPCUnavailable,
    TransactionRejected,
    TransactionTimeout,
)
from troika.chain import Chain, Keystore, Signer

LIMIT = 10


@pytest.fixture
def owner(chain: Chain) -> str:
    return chain.accounts[1]


@pytest.fixture
def probe(chain: Chain, owner: str):  # type: ignore[no-untyped-def]
    return chain.deploy("Probe", LIMIT, owner)


def fund_new_signer(chain: Chain, tmp_path: Path) -> Signer:
    store = Keystore(tmp_path / "home", scrypt_n=2**10)
    store.new("worker", "pw")
    signer = store.unlock("worker", "pw")
    chain.transfer(signer.address, 10**18)
    return signer


def test_deploy_call_and_events(chain: Chain, probe, owner: str) -> None:  # type: ignore[no-untyped-def]
    assert chain.code(probe.address) != b""
    assert probe.call("limit") == LIMIT
    assert probe.call("owner") == owner
    receipt = probe.transact("set", 7)
    assert receipt.status
    assert receipt.to == probe.address
    assert probe.call("value") == 7
    (event,) = probe.events(receipt, "ValueSet")
    assert event.name == "ValueSet"
    assert dict(event.args) == {"by": receipt.sender, "value": 7}
    assert event.tx_hash == receipt.tx_hash


def test_value_and_balances(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    sender = chain.accounts[2]
    before = chain.balance(sender)
    receipt = probe.transact("deposit", sender=sender, value=12345)
    assert probe.call("deposits", sender) == 12345
    assert chain.balance(probe.address) == 12345
    assert chain.balance(sender) == before - 12345 - receipt.fee


def test_eip1559_transaction(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    receipt = probe.transact("increment")
    tx = chain.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
    block = chain.w3.eth.get_block(receipt.block_number)
    assert tx["type"] == 2
    assert tx["maxFeePerGas"] >= block["baseFeePerGas"] + tx["maxPriorityFeePerGas"]
    assert receipt.effective_gas_price <= tx["maxFeePerGas"]


# Expected selectors are computed independently of troika (keccak of the
# signature, as the Solidity ABI spec defines) and encoded with eth-abi.
@pytest.mark.parametrize(
    ("function", "args", "error", "expected_args", "signature", "types"),
    [
        (
            "set",
            (11,),
            "TooLarge",
            (11, LIMIT),
            "TooLarge(uint256,uint256)",
            ["uint256", "uint256"],
        ),
        ("fail", ("boom",), "Error", ("boom",), "Error(string)", ["string"]),
        ("divide", (1, 0), "Panic", (0x12,), "Panic(uint256)", ["uint256"]),
    ],
)
def test_reverts_name_the_error(  # type: ignore[no-untyped-def]
    chain: Chain, probe, function, args, error, expected_args, signature, types
) -> None:
    expected_data = keccak(text=signature)[:4] + encode(types, list(expected_args))
    for attempt in (lambda: probe.call(function, *args), lambda: probe.transact(function, *args)):
        with pytest.raises(ContractReverted) as caught:
            attempt()
        assert caught.value.error == error
        assert caught.value.error_args == expected_args
        assert caught.value.data == expected_data
        assert caught.value.contract == "Probe"
        assert caught.value.tx_hash is None  # caught at estimation: nothing broadcast


def test_revert_of_an_inherited_openzeppelin_error(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    stranger = chain.accounts[3]
    with pytest.raises(ContractReverted) as caught:
        probe.transact("ownerSet", 1, sender=stranger)
    # OwnableUnauthorizedAccount(address): selector 0x118cdaa7 in OpenZeppelin 5.
    assert caught.value.data[:4] == bytes.fromhex("118cdaa7")
    assert caught.value.error == "OwnableUnauthorizedAccount"
    assert caught.value.error_args == (stranger,)
    assert "OwnableUnauthorizedAccount" in str(caught.value)


def test_mined_revert_is_decoded_with_its_hash(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    # An explicit gas limit skips estimation: the transaction is mined and fails.
    with pytest.raises(ContractReverted) as caught:
        probe.transact("set", 99, gas=200_000)
    assert caught.value.error == "TooLarge"
    assert caught.value.error_args == (99, LIMIT)
    assert caught.value.tx_hash is not None
    receipt = chain.w3.eth.get_transaction_receipt(caught.value.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 0


def test_local_signer_sends(chain: Chain, probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer = fund_new_signer(chain, tmp_path)
    assert chain.balance(signer.address) == 10**18
    receipt = probe.transact("set", 3, sender=signer)
    assert receipt.sender == signer.address
    assert probe.call("value") == 3


def test_concurrent_sends_from_one_account(chain: Chain, probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer = fund_new_signer(chain, tmp_path)
    sends, failures = 12, []

    def send() -> None:
        try:
            probe.transact("increment", sender=signer)
        except Exception as exc:  # collected: the assertion below reports it
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(sends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert probe.call("value") == sends
    assert chain.w3.eth.get_transaction_count(signer.address) == sends  # type: ignore[arg-type]


def test_insufficient_funds_is_rejected(chain: Chain, probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer = fund_new_signer(chain, tmp_path)
    with pytest.raises(TransactionRejected) as caught:
        probe.transact("deposit", sender=signer, value=10**30)
    assert caught.value.sender == signer.address
    # the nonce manager still works for that account afterwards
    assert probe.transact("deposit", sender=signer, value=1).status


def test_deployments_record(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    entry = chain.deployments.get("Probe")
    assert entry is not None
    assert entry.address == probe.address
    assert chain.deployment("Probe").address == probe.address
    with pytest.raises(DeploymentNotFound) as caught:
        chain.deployment("Nothing")
    assert caught.value.name == "Nothing"
    assert caught.value.chain_id == chain.chain_id


def test_unknown_artifact(chain: Chain) -> None:
    with pytest.raises(ArtifactNotFound) as caught:
        chain.deploy("NoSuchContract")
    assert caught.value.name == "NoSuchContract"
    assert "Probe" in caught.value.known
    assert isinstance(caught.value, LookupError)


def test_bad_address_is_a_chain_error(chain: Chain) -> None:
    with pytest.raises(ChainError, match="'0x1234'"):
        chain.balance("0x1234")


# -- embedded only -------------------------------------------------------------


def test_embedded_defaults() -> None:
    chain = Chain.embedded(accounts=3)
    assert chain.is_embedded
    assert chain.block_number == 0
    assert len(chain.accounts) == 3
    assert all(chain.balance(a) > 0 for a in chain.accounts)
    # Each call is a fresh chain: nothing carries over.
    assert Chain.embedded().deployments.all() == []


def test_embedded_needs_an_account() -> None:
    with pytest.raises(ChainError, match="accounts=0"):
        Chain.embedded(accounts=0)


# -- anvil only ------------------------------------------------------------------


def test_wrong_chain_id(anvil) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChainIdMismatch) as caught:
        Chain.connect(anvil.url, chain_id=1)
    assert (caught.value.expected, caught.value.actual) == (1, anvil.chain_id)
    assert repr(anvil.url) in str(caught.value)


def test_unreachable_rpc(free_port: int) -> None:
    url = f"http://127.0.0.1:{free_port}"
    with pytest.raises(RPCUnavailable) as caught:
        Chain.connect(url, timeout=2)
    assert caught.value.url == url
    assert repr(url) in str(caught.value)


def test_deployments_persist_per_chain(anvil, test_artifacts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = Chain.connect(anvil.url, home=tmp_path, artifacts=test_artifacts)
    deployed = first.deploy("Probe", 1, first.accounts[0])
    record = tmp_path / "deployments" / f"{anvil.chain_id}.json"
    assert record.is_file()
    again = Chain.connect(anvil.url, home=tmp_path, artifacts=test_artifacts)
    assert again.deployment("Probe").address == deployed.address


def test_receipt_timeout_on_a_chain_that_does_not_mine(test_artifacts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Anvil(extra_args=["--no-mining"], workdir=tmp_path / "anvil") as idle:
        chain = Chain.connect(idle.url, home=tmp_path, artifacts=test_artifacts)
        with pytest.raises(TransactionTimeout) as caught:
            chain.send(to=chain.accounts[1], value=1, timeout=0.5)
        assert caught.value.timeout == 0.5
        assert caught.value.tx_hash is not None
        # The transaction is pending, not lost: mining one block includes it.
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        assert chain.wait(caught.value.tx_hash, timeout=10).status


def test_stale_deployment_after_a_restart(test_artifacts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Anvil(workdir=tmp_path / "first") as first:
        chain = Chain.connect(first.url, home=tmp_path, artifacts=test_artifacts)
        chain.deploy("Probe", 1, chain.accounts[0])
    # A new anvil with the same chain id: the record is there, the code is not.
    with Anvil(workdir=tmp_path / "second") as second:
        chain = Chain.connect(second.url, home=tmp_path, artifacts=test_artifacts)
        assert chain.deployments.get("Probe") is not None
        with pytest.raises(DeploymentNotFound):
            chain.deployment("Probe")


def test_debug_logs_name_the_transaction_but_never_the_key(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    key = bytes(range(7, 39))
    store = Keystore(tmp_path, scrypt_n=2**10)
    store.import_key("k", key, "pw")
    chain = Chain.embedded()
    signer = store.unlock("k", "pw")
    chain.transfer(signer.address, 10**18)
    with caplog.at_level("DEBUG"):
        receipt = chain.transfer(chain.accounts[1], 5, sender=signer)
    text = caplog.text
    assert receipt.tx_hash in text
    assert signer.address in text
    assert key.hex() not in text.lower()
    assert "pw" not in text.replace(receipt.tx_hash, "")


@pytest.mark.parametrize(
    ("function", "args"),
    [("set", ("seven",)), ("set", (1, 2)), ("set", (-1,)), ("no_such_function", ())],
)
def test_calls_that_match_no_function(chain: Chain, probe, function: str, args: tuple) -> None:  # type: ignore[no-untyped-def,type-arg]
    for attempt in (probe.call, probe.transact):
        with pytest.raises(InvalidContractCall) as caught:
            attempt(function, *args)
        assert caught.value.call == f"Probe.{function}"
        assert isinstance(caught.value, ValueError)
        assert "\n" not in str(caught.value)


def test_prepare_for_a_wallet_then_send_raw(chain: Chain, probe) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    wallet = Account.create()
    chain.transfer(wallet.address, 10**18)
    unsigned = probe.prepare("set", 6, sender=wallet.address)
    assert unsigned["type"] == 2
    assert unsigned["chainId"] == chain.chain_id
    assert probe.call("value") == 0  # nothing sent yet
    receipt = chain.send_raw(bytes(wallet.sign_transaction(unsigned).raw_transaction))
    assert receipt.sender == wallet.address
    assert probe.call("value") == 6
