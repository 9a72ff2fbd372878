"""AsyncChain, the asyncio twin: the same behaviour as Chain, on the embedded
EVM and on anvil. Each test drives its own event loop with asyncio.run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from tests._services import Anvil

from troika import (
    ChainIdMismatch,
    ContractReverted,
    DeploymentNotFound,
    RPCUnavailable,
    TransactionRejected,
    TransactionTimeout,
)
from troika.chain import ArtifactStore, AsyncChain, Keystore, Signer

Factory = Callable[[], Awaitable[AsyncChain]]


@pytest.fixture(params=["embedded", "anvil"])
def make_chain(
    request: pytest.FixtureRequest, test_artifacts: ArtifactStore, tmp_path: Path
) -> Factory:
    async def embedded() -> AsyncChain:
        return AsyncChain.embedded(artifacts=test_artifacts)

    if request.param == "embedded":
        return embedded
    anvil = request.getfixturevalue("anvil")

    async def connected() -> AsyncChain:
        return await AsyncChain.connect(
            anvil.url, chain_id=anvil.chain_id, home=tmp_path, artifacts=test_artifacts
        )

    return connected


async def new_signer(chain: AsyncChain, tmp_path: Path) -> Signer:
    store = Keystore(tmp_path / "home", scrypt_n=2**10)
    store.new("worker", "pw")
    signer = store.unlock("worker", "pw")
    await chain.transfer(signer.address, 10**18)
    return signer


def test_deploy_call_events_and_reverts(make_chain: Factory) -> None:
    async def scenario() -> None:
        async with await make_chain() as chain:
            owner = (await chain.accounts())[1]
            probe = await chain.deploy("Probe", 10, owner)
            assert await chain.code(probe.address) != b""
            assert await probe.call("owner") == owner
            receipt = await probe.transact("set", 4)
            assert await probe.call("value") == 4
            (event,) = probe.events(receipt, "ValueSet")
            assert dict(event.args) == {"by": receipt.sender, "value": 4}

            expected = keccak(text="TooLarge(uint256,uint256)")[:4] + encode(
                ["uint256", "uint256"], [11, 10]
            )
            for attempt in (probe.call("set", 11), probe.transact("set", 11)):
                with pytest.raises(ContractReverted) as caught:
                    await attempt
                assert (caught.value.error, caught.value.error_args) == ("TooLarge", (11, 10))
                assert caught.value.data == expected
            with pytest.raises(ContractReverted) as mined:
                await probe.transact("set", 12, gas=200_000)
            assert mined.value.error_args == (12, 10)
            assert mined.value.tx_hash is not None

            assert (await chain.deployment("Probe")).address == probe.address
            with pytest.raises(DeploymentNotFound):
                await chain.deployment("Nothing")

    asyncio.run(scenario())


def test_concurrent_sends(make_chain: Factory, tmp_path: Path) -> None:
    async def scenario() -> tuple[Any, ...]:
        async with await make_chain() as chain:
            probe = await chain.deploy("Probe", 10, (await chain.accounts())[0])
            signer = await new_signer(chain, tmp_path)
            receipts = await asyncio.gather(
                *(probe.transact("increment", sender=signer) for _ in range(10))
            )
            count = await chain.w3.eth.get_transaction_count(signer.address)  # type: ignore[arg-type]
            return await probe.call("value"), count, len({r.tx_hash for r in receipts})

    assert asyncio.run(scenario()) == (10, 10, 10)


def test_insufficient_funds(make_chain: Factory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await make_chain() as chain:
            signer = await new_signer(chain, tmp_path)
            with pytest.raises(TransactionRejected):
                await chain.transfer(signer.address, 10**30, sender=signer)

    asyncio.run(scenario())


def test_wrong_chain_id_and_unreachable(anvil, free_port: int) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        with pytest.raises(ChainIdMismatch) as caught:
            await AsyncChain.connect(anvil.url, chain_id=5)
        assert caught.value.actual == anvil.chain_id
        url = f"http://127.0.0.1:{free_port}"
        with pytest.raises(RPCUnavailable) as unreachable:
            await AsyncChain.connect(url, timeout=2)
        assert unreachable.value.url == url

    asyncio.run(scenario())


def test_receipt_timeout(test_artifacts: ArtifactStore, tmp_path: Path) -> None:
    async def scenario(url: str) -> None:
        async with await AsyncChain.connect(url, home=tmp_path, artifacts=test_artifacts) as chain:
            with pytest.raises(TransactionTimeout) as caught:
                await chain.send(to=(await chain.accounts())[1], value=1, timeout=0.5)
            assert caught.value.timeout == 0.5

    with Anvil(extra_args=["--no-mining"], workdir=tmp_path / "anvil") as idle:
        asyncio.run(scenario(idle.url))


def test_prepare_for_a_wallet_then_send_raw(make_chain: Factory) -> None:
    from eth_account import Account

    async def scenario() -> tuple[int, int]:
        async with await make_chain() as chain:
            wallet = Account.create()
            await chain.transfer(wallet.address, 10**18)
            probe = await chain.deploy("Probe", 10, wallet.address)
            unsigned = await probe.prepare("set", 9, sender=wallet.address)
            receipt = await chain.send_raw(bytes(wallet.sign_transaction(unsigned).raw_transaction))
            assert receipt.sender == wallet.address
            with pytest.raises(ContractReverted):
                await probe.prepare("set", 11, sender=wallet.address)  # would revert: caught early
            return await probe.call("value"), unsigned["nonce"]

    assert asyncio.run(scenario()) == (9, 0)
