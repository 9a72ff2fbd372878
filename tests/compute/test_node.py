"""Compute jobs end to end: three hospitals' nodes accept a licensed agent's
jobs, a model is trained with Flower SecAgg+ across their private shards, a
private mean is released, the nodes confirm, the payment is split and the
agent reads its results; on the embedded EVM with the local store, and on
anvil with a real Kubo node."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from troika import (
    BudgetExhausted,
    JobStateError,
    NotLicensed,
    PaymentTooLow,
    ResultMismatch,
)
from troika.assets import AssetRegistry, Assets, DatasetMetadata, ModelMetadata
from troika.chain import Chain, Keystore
from troika.compute._federated import TrainParams
from troika.compute._jobs import ComputeJobs, JobKind, JobStatus
from troika.compute._models import LogisticRegressionModel
from troika.compute._node import Compute, Coordinator, DatasetPolicy, Node, training_epsilon
from troika.compute._privacy import StatsQuery
from troika.did import EthrRegistry
from troika.did._identity import Identities, Identity
from troika.ipfs import KuboStore, LocalStore, PinningStore

ETHER = 10**18
FEATURES = [f"f{i}" for i in range(30)]


@dataclass
class Market:
    chain: Chain
    store: PinningStore
    registry: AssetRegistry
    jobs: ComputeJobs
    hospitals: list[Identity]
    agent: Identity
    datasets: list[int]
    model: int
    nodes: list[Node]
    compute: Compute
    coordinator: Coordinator
    test: tuple[np.ndarray, np.ndarray]
    union: tuple[np.ndarray, np.ndarray]


def write_csv(path: Path, features: np.ndarray, y: np.ndarray) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*FEATURES, "label"])
        writer.writerows(
            [*map(float, row), float(label)] for row, label in zip(features, y, strict=True)
        )
    return path


def now(chain: Chain) -> int:
    latest = chain.block("latest")
    assert latest is not None
    return latest.timestamp


def advance(chain: Chain, seconds: int) -> None:
    if chain.is_embedded:
        chain.w3.testing.timeTravel(now(chain) + seconds)  # type: ignore[attr-defined]
    else:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def mint_base_model(assets: Assets, folder: Path) -> int:
    """The untrained tumour classifier (logistic regression, 30 features, seed 1)
    minted by ``assets``'s identity; its token."""
    weights = folder / "base.npz"
    weights.write_bytes(LogisticRegressionModel.init(30, seed=1).to_bytes())
    metadata = ModelMetadata(
        name="tumour classifier",
        properties={"framework": "numpy", "task": "binary-classification"},
    )
    return assets.mint_model(weights, metadata).token_id


@pytest.fixture
def market(chain: Chain, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Market]:
    if chain.is_embedded:
        store: PinningStore = LocalStore(tmp_path / "ipfs")
    else:
        store = KuboStore(request.getfixturevalue("kubo").api_url)
    identities = Identities(
        chain, Keystore(tmp_path / "keys", scrypt_n=2**10), EthrRegistry.deploy(chain)
    )
    hospitals = [identities.create(f"hospital-{i}", "pw", kind="person") for i in range(3)]
    modeller = identities.create("modeller", "pw", kind="person")
    agent = identities.create("agent", "pw", kind="agent")
    for someone in (*hospitals, modeller, agent):
        chain.transfer(someone.address, 5 * ETHER)
    registry = AssetRegistry.deploy(chain)
    minter = chain.default_sender

    def assets(identity: Identity) -> Assets:
        return Assets(chain, store, registry, identity=identity, minter=minter)

    # the data: breast cancer, scaled by public bounds, split into 3 private shards
    features, y = load_breast_cancer(return_X_y=True)
    features = (features - features.mean(0)) / features.std(0)
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=0.2, stratify=y, random_state=0
    )
    datasets, policies = [], []
    for i, hospital in enumerate(hospitals):
        shard = write_csv(tmp_path / f"shard-{i}.csv", x_train[i::3], y_train[i::3])
        minted = assets(hospital).mint_dataset(
            shard,
            DatasetMetadata(name=f"hospital {i} tumours", properties={"media_type": "text/csv"}),
        )
        datasets.append(minted.token_id)
        policies.append(DatasetPolicy(minted.token_id, shard))
    model = mint_base_model(assets(modeller), tmp_path)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    for hospital, dataset in zip(hospitals, datasets, strict=True):
        assets(hospital).grant_license(dataset, agent, until)
    assets(modeller).grant_license(model, agent, until)

    jobs = ComputeJobs.deploy(chain, registry.address)
    nodes = []
    for hospital, policy in zip(hospitals, policies, strict=True):
        jobs.set_budget(policy.dataset_id, 3.0, sender=hospital.signer)
        nodes.append(
            Node(
                jobs,
                assets(hospital),
                [policy],
                sender=hospital.signer,
                state=tmp_path / f"node-{policy.dataset_id}.json",
            )
        )
    agent_assets = assets(agent)
    yield Market(
        chain,
        store,
        registry,
        jobs,
        hospitals,
        agent,
        datasets,
        model,
        nodes,
        Compute(jobs, agent_assets),
        Coordinator(jobs, agent_assets, timeout=120),
        (x_test, y_test),
        (x_train, y_train),
    )
    if isinstance(store, KuboStore):
        store.close()


def test_federated_training_is_paid_and_returned_encrypted_to_the_agent(
    market: Market, tmp_path: Path
) -> None:
    payment = ETHER + 7  # 7 wei of rounding dust
    job_id = market.compute.request(
        "federated-train",
        market.datasets,
        model=market.model,
        params=TrainParams(rounds=3),
        payment=payment,
        deadline=now(market.chain) + 3600,
    )
    decisions = [d for node in market.nodes for d in node.poll()]
    assert [(d.job_id, d.accepted) for d in decisions] == [(job_id, True)] * 3
    assert market.compute.status(job_id).status is JobStatus.RUNNING

    market.coordinator.run(job_id, market.nodes)
    job = market.compute.status(job_id)
    assert job.status is JobStatus.COMPLETED
    result = market.compute.result(job_id)
    assert result.model is not None
    # as good as scikit-learn on the union of the shards (the peer), on the same test split
    reference = LogisticRegression(max_iter=5000).fit(*market.union).score(*market.test)
    assert result.model.evaluate(*market.test)["accuracy"] >= reference - 0.03
    # the model is pinned encrypted: the bytes in the store are not the weights
    document = dict(result.document)
    assert market.store.has(document["model"]["envelope"])
    # the payment split: 60 % to the three owners, 25 % to the model's owner, 15 % to the nodes
    share = payment * 6000 // 10_000 // 3 + payment * 1500 // 10_000 // 3
    for hospital in market.hospitals:
        assert market.jobs.owed(hospital.address) == share
    before = market.chain.balance(market.hospitals[0].address)
    assert market.nodes[0].withdraw() == share
    assert market.chain.balance(market.hospitals[0].address) > before
    # the trained model becomes a derived model NFT whose parents are the datasets and the base
    trained = tmp_path / "trained.npz"
    trained.write_bytes(result.model.to_bytes())
    derived = market.compute.assets.mint_model(
        trained,
        ModelMetadata(
            name="tumour classifier, federated",
            properties={
                "framework": "numpy",
                "task": "binary-classification",
                "datasets": tuple(market.datasets),
                "base_model": market.model,
            },
        ),
        parents=[*market.datasets, market.model],
    )
    assert market.registry.parents_of(derived.token_id) == (*market.datasets, market.model)
    assert market.registry.owner_of(derived.token_id) == market.agent.address


def test_a_private_mean_spends_the_budget(market: Market) -> None:
    query = StatsQuery(column="f0", statistic="mean", bounds=(-5.0, 5.0), epsilon=1.0)
    job_id = market.compute.request(
        "stats", market.datasets, params=query, payment=10**15, deadline=now(market.chain) + 3600
    )
    for node in market.nodes:
        node.poll()
    market.coordinator.run(job_id, market.nodes)
    result = market.compute.result(job_id)
    assert result.kind is JobKind.STATS
    exact = float(np.clip(market.union[0][:, 0], -5, 5).mean())
    assert result.value is not None
    assert abs(result.value - exact) < 0.5  # noise of a few rows' worth at epsilon 1 on 455 rows
    for dataset in market.datasets:
        assert market.jobs.budget(dataset) == (3.0, 1.0)


def test_nodes_refuse_what_their_policy_or_budget_forbids(market: Market, tmp_path: Path) -> None:
    # a stats job spending more than the budget left
    greedy = StatsQuery(column="f0", statistic="count", epsilon=5.0)
    job_id = market.compute.request(
        "stats", market.datasets, params=greedy, payment=1, deadline=now(market.chain) + 60
    )
    (decision,) = market.nodes[0].poll()
    assert not decision.accepted
    assert "privacy budget" in decision.reason
    # a node restarted from its state decides nothing twice
    again = Node(
        market.jobs, market.nodes[0].assets, list(market.nodes[0].policies.values()),
        sender=market.hospitals[0].signer, state=tmp_path / f"node-{market.datasets[0]}.json",
    )  # fmt: skip
    assert again.poll() == []
    # a node that asks more than the job pays
    data = market.nodes[1].policies[market.datasets[1]].data
    picky = Node(
        market.jobs,
        market.nodes[1].assets,
        [DatasetPolicy(market.datasets[1], data, min_payment=ETHER)],
        sender=market.hospitals[1].signer,
    )
    (refused,) = picky.poll()
    assert "below the minimum" in refused.reason
    job = market.jobs.job(job_id)
    with pytest.raises(BudgetExhausted):
        market.nodes[0].check(job, market.datasets[0])
    with pytest.raises(PaymentTooLow):
        picky.check(job, market.datasets[1])
    # the job never runs; after its deadline the agent is refunded
    with pytest.raises(JobStateError):
        market.coordinator.run(job_id, market.nodes)
    advance(market.chain, 120)
    market.compute.refund(job_id)
    assert market.jobs.job(job_id).status is JobStatus.REFUNDED
    assert market.jobs.owed(market.agent.address) >= 1


def test_an_unlicensed_requester_cannot_request(market: Market) -> None:
    stranger_assets = Assets(
        market.chain, market.store, market.registry, identity=market.hospitals[0],
        minter=market.chain.default_sender,
    )  # fmt: skip
    stranger = Compute(market.jobs, stranger_assets)
    with pytest.raises(NotLicensed):
        stranger.request(
            "evaluate", market.datasets, model=market.model, payment=1,
            deadline=now(market.chain) + 60,
        )  # fmt: skip


def test_dp_training_spends_what_its_noise_accounts_for(market: Market) -> None:
    # noise multiplier 6 over 2 rounds: the accountant's epsilon at delta 1e-5, spent per dataset
    noisy = TrainParams(rounds=2, clip_norm=1.0, noise_multiplier=6.0)
    job_id = market.compute.request(
        "federated-train", market.datasets, model=market.model, params=noisy,
        payment=10**15, deadline=now(market.chain) + 3600,
    )  # fmt: skip
    spent = market.jobs.job(job_id).epsilon
    assert spent == pytest.approx(training_epsilon(noisy), abs=1e-3)
    assert 0 < spent < 3.0
    for node in market.nodes:
        (decision,) = node.poll()
        assert decision.accepted, decision.reason
    for dataset in market.datasets:
        assert market.jobs.budget(dataset)[1] == pytest.approx(spent)
    # a job that declares less epsilon than its noise spends is refused by every node
    cheat = market.compute.request(
        "federated-train", market.datasets, model=market.model, params=noisy, epsilon=0.01,
        payment=10**15, deadline=now(market.chain) + 3600,
    )  # fmt: skip
    for node in market.nodes:
        (decision,) = node.poll()
        assert (decision.job_id, decision.accepted) == (cheat, False)
        assert "the training's noise spends" in decision.reason


def test_a_node_confirms_only_what_it_saw(market: Market) -> None:
    job_id = market.compute.request(
        "evaluate", market.datasets, model=market.model, payment=10**15,
        deadline=now(market.chain) + 3600,
    )  # fmt: skip
    for node in market.nodes:
        node.poll()
    node = market.nodes[0]
    node.received[job_id] = "ab" * 32
    lying = json.dumps({"job": job_id, "model": {"digest": "cd" * 32}}).encode()
    with pytest.raises(ResultMismatch):
        node.confirm(job_id, lying, b"{}")
    other = json.dumps({"job": job_id + 1}).encode()
    with pytest.raises(ResultMismatch):
        node.confirm(job_id, other, b"{}")
    assert market.jobs.job(job_id).confirmed == 0
    # the honest run: every node confirms, the requester reads the metrics
    market.coordinator.run(job_id, market.nodes)
    result = market.compute.result(job_id)
    assert set(result.metrics) == {"accuracy", "loss"}
    # the base model's accuracy on the union of the shards, by scikit-learn (the peer)
    base = LogisticRegressionModel.init(30, seed=1)
    features, labels = market.union
    predicted = (features @ base.weights + base.bias > 0).astype(int)
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-4)
