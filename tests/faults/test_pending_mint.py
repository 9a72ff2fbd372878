"""A mint whose transaction is sent but not mined (the receipt wait timed
out): a retry waits for it instead of minting the same content twice, and
once it is mined the retry reports the token it minted. The fault is real:
an anvil of the test's own with automining switched off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import Anvil
from tests.faults.conftest import FaultReport
from troika import MintPending, TransactionTimeout
from troika.assets import AssetRegistry, Assets, DatasetMetadata
from troika.chain import Chain
from troika.ipfs import LocalStore

pytestmark = pytest.mark.anvil


@pytest.fixture
def anvil_of_our_own(tmp_path: Path) -> Iterator[Anvil]:
    with Anvil(workdir=tmp_path / "anvil") as anvil:
        yield anvil


def rpc(chain: Chain, method: str, *params: object) -> None:
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer


def test_a_retried_mint_waits_for_the_unmined_one(
    anvil_of_our_own: Anvil, tmp_path: Path, fault_report: FaultReport
) -> None:
    anvil = anvil_of_our_own
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=tmp_path) as chain:
        chain.receipt_timeout = 1.0
        registry = AssetRegistry.deploy(chain)
        assets = Assets(chain, LocalStore(tmp_path / "ipfs"), registry)
        source = tmp_path / "rows.csv"
        source.write_text("a,b\n1,2\n")
        metadata = DatasetMetadata(name="rows", properties={"media_type": "text/csv"})

        fault_report.inject("mint's receipt wait timed out (automining off), then retried")
        rpc(chain, "evm_setAutomine", False)
        with pytest.raises(TransactionTimeout):
            assets.mint_dataset(source, metadata, encrypt=False)
        # the transaction is sent, not mined: a retry must not send another
        with pytest.raises(MintPending) as pending:
            assets.mint_dataset(source, metadata, encrypt=False)
        assert pending.value.pending == 1
        assert pending.value.account == assets.minter
        assert registry.total_minted() == 0

        rpc(chain, "evm_mine")
        rpc(chain, "evm_setAutomine", True)
        again = assets.mint_dataset(source, metadata, encrypt=False)
        assert again.tx_hash is None  # the first attempt minted it
        assert again.token_id == 1
        assert registry.total_minted() == 1
        fault_report.detail = "retry raised MintPending, sent nothing; once mined, token 1 reported"
