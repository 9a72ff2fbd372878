"""A chain reorganisation (anvil's ``anvil_reorg``: the newest blocks replaced
by others) under the event-driven code: a compute node reading jobs from the
``JobForDataset`` logs decides on a job only once it is ``confirmations``
blocks deep, so a job that a reorg moves is decided once and a job that a
reorg removes is never acted on; the asset listing, read from the Transfer
logs, follows the new history, and a mint that a reorg undid is minted once
again, not twice.

Each test has an anvil of its own: a reorg would rewrite the shared one's
history under other tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._services import Anvil
from tests.faults.conftest import FaultReport
from troika import InvalidJob
from troika.assets import AssetRegistry, Assets, DatasetMetadata
from troika.chain import Chain, Keystore
from troika.compute import Compute, ComputeJobs, DatasetPolicy, Node
from troika.did import EthrRegistry, Identity
from troika.did._identity import Identities
from troika.ipfs import LocalStore

pytestmark = pytest.mark.anvil

ETHER = 10**18
CONFIRMATIONS = 2
MEAN = {"column": "age", "statistic": "mean", "bounds": [0, 100], "epsilon": 0.5}


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[Anvil]:
    with Anvil(workdir=tmp_path / "anvil") as anvil:
        yield anvil


def rpc(chain: Chain, method: str, *params: object) -> object:
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


def raw_transaction(chain: Chain, tx_hash: str) -> str:
    raw = rpc(chain, "eth_getRawTransactionByHash", tx_hash)
    assert isinstance(raw, str)
    return raw


def mine(chain: Chain, blocks: int) -> None:
    for _ in range(blocks):
        rpc(chain, "evm_mine")


@dataclass
class Market:
    anvil: Anvil
    tmp_path: Path
    chain: Chain
    store: LocalStore
    registry: AssetRegistry
    jobs: ComputeJobs
    hospital: Identity
    agent: Identity
    identities: Identities
    dataset: int
    data: Path

    def assets(self, identity: Identity, chain: Chain | None = None) -> Assets:
        chain = chain or self.chain
        registry = AssetRegistry.at(chain, self.registry.address)
        return Assets(chain, self.store, registry, identity=identity, minter=chain.default_sender)

    def node(self, confirmations: int) -> Node:
        return Node(
            self.jobs,
            self.assets(self.hospital),
            [DatasetPolicy(self.dataset, self.data, min_payment=1000)],
            sender=self.hospital.signer,
            state=self.tmp_path / "node.json",
            confirmations=confirmations,
        )

    def requester(self) -> Compute:
        """The agent's requests, from a client of its own (a new process's)."""
        chain = Chain.connect(self.anvil.url, chain_id=self.anvil.chain_id, home=self.tmp_path)
        jobs = ComputeJobs.at(chain, self.jobs.address)
        agent = self.identities.unlock("agent", "pw", kind="agent")
        return Compute(jobs, self.assets(agent, chain))

    def deadline(self) -> int:
        latest = self.chain.block("latest")
        assert latest is not None
        return latest.timestamp + 3600


@pytest.fixture
def market(own_anvil: Anvil, tmp_path: Path) -> Market:
    chain = Chain.connect(own_anvil.url, chain_id=own_anvil.chain_id, home=tmp_path)
    identities = Identities(
        chain, Keystore(tmp_path / "keys", scrypt_n=2**10), EthrRegistry.deploy(chain)
    )
    hospital = identities.create("hospital", "pw", kind="person")
    agent = identities.create("agent", "pw", kind="agent")
    for someone in (hospital, agent):
        chain.transfer(someone.address, ETHER)
    store = LocalStore(tmp_path / "ipfs")
    registry = AssetRegistry.deploy(chain)
    data = tmp_path / "ages.csv"
    data.write_text("age,label\n" + "".join(f"{20 + i % 50},{i % 2}\n" for i in range(100)))
    owner = Assets(chain, store, registry, identity=hospital, minter=chain.default_sender)
    metadata = DatasetMetadata(name="ages", properties={"media_type": "text/csv"})
    dataset = owner.mint_dataset(data, metadata, encrypt=False).token_id
    owner.grant_license(dataset, agent, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    jobs = ComputeJobs.deploy(chain, registry.address)
    jobs.set_budget(dataset, 3.0, sender=hospital.signer)
    return Market(
        own_anvil,
        tmp_path,
        chain,
        store,
        registry,
        jobs,
        hospital,
        agent,
        identities,
        dataset,
        data,
    )


def test_a_job_moved_by_a_reorg_is_accepted_once(market: Market, fault_report: FaultReport) -> None:
    node = market.node(CONFIRMATIONS)
    requester = market.requester()
    job_id = requester.request(
        "stats", [market.dataset], params=MEAN, payment=1000, deadline=market.deadline()
    )
    (requested,) = market.jobs.events("JobRequested", jobId=job_id)
    mine(market.chain, 1)
    assert node.poll() == []  # one block deep, not two

    fault_report.inject(
        f"reorg of the last {CONFIRMATIONS} blocks; the job's request re-mined a block later"
    )
    raw = raw_transaction(market.chain, requested.tx_hash)
    rpc(market.chain, "anvil_reorg", CONFIRMATIONS, [[raw, 1]])
    (moved,) = market.jobs.events("JobRequested", jobId=job_id)  # the same job, a block later
    assert (moved.tx_hash, moved.block_number) == (requested.tx_hash, requested.block_number + 1)
    assert market.chain.block_number == moved.block_number

    assert node.poll() == []  # the job is the newest block again
    mine(market.chain, CONFIRMATIONS)
    (decision,) = node.poll()
    assert (decision.job_id, decision.accepted) == (job_id, True)
    assert node.poll() == []
    # a node restarted from its state decides nothing again
    assert market.node(CONFIRMATIONS).poll() == []
    job = market.jobs.job(job_id)
    assert (job.accepted, job.status.label) == (1, "running")
    assert market.jobs.participant_of(job_id, market.dataset) == market.hospital.address
    assert len(list(market.jobs.events("JobAccepted", jobId=job_id))) == 1
    fault_report.detail = f"job {job_id} accepted once, after the reorg, {CONFIRMATIONS} deep"


def test_a_job_removed_by_a_reorg_is_never_acted_on(
    market: Market, fault_report: FaultReport
) -> None:
    node = market.node(CONFIRMATIONS)
    removed = market.requester().request(
        "stats", [market.dataset], params=MEAN, payment=1000, deadline=market.deadline()
    )
    assert node.poll() == []

    fault_report.inject("reorg replacing the block of a job's request with an empty one")
    rpc(market.chain, "anvil_reorg", 1, [])
    assert market.jobs.job_count() == 0
    # another request takes the id; it pays less than the node's minimum
    replacement = market.requester().request(
        "stats", [market.dataset], params=MEAN, payment=999, deadline=market.deadline()
    )
    assert replacement == removed
    mine(market.chain, CONFIRMATIONS)
    (decision,) = node.poll()
    # the decision is about the job on chain now, not the one the reorg removed
    assert (decision.job_id, decision.accepted) == (replacement, False)
    assert "below the minimum" in decision.reason
    assert market.jobs.job(replacement).accepted == 0
    assert list(market.jobs.events("JobAccepted")) == []
    fault_report.detail = "the node decided on the job that replaced it, and accepted nothing"


def test_the_asset_listing_follows_a_reorg_and_a_lost_mint_is_minted_once(
    market: Market, fault_report: FaultReport
) -> None:
    owner = market.assets(market.hospital)
    source = market.tmp_path / "second.csv"
    source.write_text("age,label\n30,1\n")
    metadata = DatasetMetadata(name="second", properties={"media_type": "text/csv"})
    minted = owner.mint_dataset(source, metadata, encrypt=False)
    assert owner.assets_of(market.hospital) == [market.dataset, minted.token_id]

    fault_report.inject("reorg dropping the block of a mint the client saw a receipt for")
    rpc(market.chain, "anvil_reorg", 1, [])
    assert owner.assets_of(market.hospital) == [market.dataset]
    assert market.registry.total_minted() == 1

    # the same client mints again (its nonce comes from the node): once
    again = owner.mint_dataset(source, metadata, encrypt=False)
    assert again.tx_hash is not None
    assert owner.assets_of(market.hospital) == [market.dataset, again.token_id]
    assert market.registry.total_minted() == 2
    again_twice = owner.mint_dataset(source, metadata, encrypt=False)
    assert (again_twice.token_id, again_twice.tx_hash) == (again.token_id, None)
    fault_report.detail = "the listing dropped the token; the retry minted it once"


def test_confirmations_are_a_number_of_blocks(tmp_path: Path) -> None:
    chain = Chain.embedded()
    registry = AssetRegistry.deploy(chain)
    jobs = ComputeJobs.deploy(chain, registry.address)
    assets = Assets(chain, LocalStore(tmp_path / "ipfs"), registry)
    policy = DatasetPolicy(1, tmp_path / "data.csv")
    with pytest.raises(InvalidJob) as caught:
        Node(jobs, assets, [policy], sender=chain.default_sender, confirmations=-1)
    assert (caught.value.field, caught.value.value) == ("confirmations", -1)
    assert "-1" in str(caught.value)
