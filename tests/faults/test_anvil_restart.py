"""anvil killed (SIGKILL) in the middle of a mint and started again from its
saved state (``--state``): the mint is either confirmed once or reported
failed and then minted once, never twice, and the account's next transaction
goes out with the nonce the restarted chain expects.

Three crashes, each on an anvil of the test's own (its state is a file):

- the mint's transaction was mined and dumped before the kill: a retry finds
  the token and sends nothing;
- it was sent but not mined (automining off) when anvil died: the restarted
  chain never heard of it, the first attempt reported a timeout, the retry
  mints it once;
- it was mined but the block was lost (killed before the next dump): the
  client saw a receipt for a token the restarted chain does not hold; the
  retry mints it once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests._services import Anvil
from tests.faults.conftest import FaultReport
from troika import RPCUnavailable, TransactionTimeout
from troika.assets import AssetRegistry, Assets, DatasetMetadata
from troika.chain import Chain
from troika.ipfs import LocalStore

pytestmark = pytest.mark.anvil

RECEIPT_TIMEOUT = 2.0


@pytest.fixture
def saved_anvil(tmp_path: Path) -> Iterator[Anvil]:
    """An anvil whose chain is kept in a state file, dumped every second."""
    anvil = Anvil(workdir=tmp_path / "anvil", state=tmp_path / "state.json", state_interval=1)
    with anvil:
        yield anvil


def rpc(chain: Chain, method: str, *params: object) -> object:
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


class Minting:
    """One dataset file, its metadata, and Assets over a chain, a store and a
    journal that outlive any one client (a retry may be a new process)."""

    def __init__(self, anvil: Anvil, tmp_path: Path) -> None:
        self.anvil = anvil
        self.tmp_path = tmp_path
        self.source = tmp_path / "rows.csv"
        self.source.write_text("a,b\n1,2\n3,4\n")
        self.metadata = DatasetMetadata(name="rows", properties={"media_type": "text/csv"})
        self.store = LocalStore(tmp_path / "ipfs")
        self.journal = tmp_path / "mints.json"
        self.registry_address = ""

    def connect(self) -> tuple[Chain, Assets]:
        chain = Chain.connect(self.anvil.url, chain_id=self.anvil.chain_id, home=self.tmp_path)
        chain.receipt_timeout = RECEIPT_TIMEOUT
        registry = (
            AssetRegistry.at(chain, self.registry_address)
            if self.registry_address
            else AssetRegistry.deploy(chain)
        )
        self.registry_address = registry.address
        return chain, Assets(chain, self.store, registry, journal=self.journal)

    def mint(self, assets: Assets) -> tuple[int, str | None]:
        minted = assets.mint_dataset(self.source, self.metadata, encrypt=False)
        return minted.token_id, minted.tx_hash


def minter_of(assets: Assets) -> str:
    return assets.minter if isinstance(assets.minter, str) else assets.minter.address


def unmined(chain: Chain, account: str) -> int:
    """How many of ``account``'s transactions the node holds unmined."""
    pending = chain.w3.eth.get_transaction_count(account, "pending")  # type: ignore[arg-type]
    return pending - chain.w3.eth.get_transaction_count(account, "latest")  # type: ignore[arg-type]


def next_transaction_succeeds(chain: Chain, account: str) -> int:
    """Send one more transaction from ``account``; return the nonce it used."""
    before = chain.w3.eth.get_transaction_count(account, "latest")  # type: ignore[arg-type]
    receipt = chain.transfer("0x" + "11" * 20, 1, sender=account)
    sent = chain.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
    assert sent["nonce"] == before
    return int(sent["nonce"])


def test_a_mint_mined_before_the_crash_is_found_not_minted_again(
    saved_anvil: Anvil, tmp_path: Path, fault_report: FaultReport
) -> None:
    minting = Minting(saved_anvil, tmp_path)
    chain, assets = minting.connect()
    token, tx_hash = minting.mint(assets)
    assert tx_hash is not None
    saved_anvil.wait_dumped(chain.block_number)

    fault_report.inject("anvil SIGKILLed after a mint was mined and dumped; restarted from --state")
    saved_anvil.kill()
    saved_anvil.start()

    # a new client, as a new process would be, with the same journal
    chain, assets = minting.connect()
    again, resent = minting.mint(assets)
    assert (again, resent) == (token, None)  # found on chain, nothing sent
    assert assets.registry.total_minted() == 1
    assert len(assets.registry.batches_minted_to(minter_of(assets))) == 1
    next_transaction_succeeds(chain, minter_of(assets))
    fault_report.detail = f"token {token} found on the restarted chain; one batch, no resend"


def test_a_mint_pending_when_anvil_dies_fails_then_mints_once(
    saved_anvil: Anvil, tmp_path: Path, fault_report: FaultReport
) -> None:
    minting = Minting(saved_anvil, tmp_path)
    chain, assets = minting.connect()
    minter = minter_of(assets)
    saved_anvil.wait_dumped(chain.block_number)
    rpc(chain, "evm_setAutomine", False)
    with pytest.raises(TransactionTimeout) as timed_out:
        minting.mint(assets)
    lost = timed_out.value.tx_hash

    fault_report.inject("anvil SIGKILLed with a mint transaction pending (automining off)")
    saved_anvil.kill()
    saved_anvil.start()  # automining is on again: it is not part of the state

    # the restarted chain never heard of the transaction
    assert unmined(chain, minter) == 0
    assert rpc(chain, "eth_getTransactionByHash", lost) is None
    # the same client retries: minted once, with the nonce the chain expects
    token, tx_hash = minting.mint(assets)
    assert tx_hash is not None  # sent again (the same bytes, if the fees are the same)
    assert (token, assets.registry.total_minted()) == (1, 1)
    assert len(assets.registry.batches_minted_to(minter)) == 1
    next_transaction_succeeds(chain, minter)
    fault_report.detail = "first attempt: TransactionTimeout; retry minted token 1 once"


def test_a_mint_whose_block_was_lost_is_minted_once_again(
    tmp_path: Path, fault_report: FaultReport
) -> None:
    # no periodic dump: the state is what the last clean stop wrote
    anvil = Anvil(workdir=tmp_path / "anvil", state=tmp_path / "state.json")
    with anvil:
        minting = Minting(anvil, tmp_path)
        chain, assets = minting.connect()
        minter = minter_of(assets)
        anvil.stop()  # SIGTERM: anvil dumps its state
        anvil.start()
        assert assets.registry.total_minted() == 0
        token, tx_hash = minting.mint(assets)
        assert (token, tx_hash is not None) == (1, True)

        fault_report.inject("anvil SIGKILLed after a mint was mined, before its block was dumped")
        anvil.kill()
        anvil.start()

        # the client saw a receipt for a block that no longer exists
        assert assets.registry.total_minted() == 0
        again, resent = minting.mint(assets)
        assert (again, resent is not None) == (1, True)
        assert assets.registry.total_minted() == 1
        assert len(assets.registry.batches_minted_to(minter)) == 1
        next_transaction_succeeds(chain, minter)
        fault_report.detail = "the lost token was minted again, once, with the chain's nonce"


def test_anvil_killed_while_the_client_waits_for_the_receipt(
    saved_anvil: Anvil, tmp_path: Path, fault_report: FaultReport
) -> None:
    minting = Minting(saved_anvil, tmp_path)
    chain, assets = minting.connect()
    minter = minter_of(assets)
    saved_anvil.wait_dumped(chain.block_number)
    rpc(chain, "evm_setAutomine", False)

    with ThreadPoolExecutor(1) as pool:
        attempt = pool.submit(minting.mint, assets)
        deadline = time.monotonic() + 30
        while unmined(chain, minter) == 0:  # the mint is sent; its client now waits for the receipt
            assert time.monotonic() < deadline, "the mint was never sent"
            time.sleep(0.05)
        fault_report.inject("anvil SIGKILLed while the client waited for a mint's receipt")
        saved_anvil.kill()
        saved_anvil.start()
        # reported failed: the wait ends in an error, never in a token
        with pytest.raises((TransactionTimeout, RPCUnavailable)) as failed:
            attempt.result(timeout=60)

    token, tx_hash = minting.mint(assets)
    assert tx_hash is not None
    assert (token, assets.registry.total_minted()) == (1, 1)
    assert len(assets.registry.batches_minted_to(minter)) == 1
    next_transaction_succeeds(chain, minter)
    fault_report.detail = f"the wait ended in {failed.type.__name__}; the retry minted token 1 once"
