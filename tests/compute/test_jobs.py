"""The typed ComputeJobs wrapper: values in and out are typed, every revert of
the contract comes back as the ComputeError it means, and ``jobs_for_dataset``
reads the history in pages; on the embedded EVM and on anvil."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account

from troika import (
    BudgetExhausted,
    ComputeError,
    ContractReverted,
    DeploymentNotFound,
    InvalidJob,
    JobNotFound,
    JobPermissionDenied,
    JobStateError,
    NotLicensed,
)
from troika.assets import AssetKind, AssetRegistry
from troika.chain import Chain, Signer, load_artifact
from troika.compute._jobs import (
    JOBS_CONTRACT,
    ComputeJobs,
    Job,
    JobKind,
    JobStatus,
    Shares,
    _job_errors,
    _translate,
)

ZERO = "0x" + "00" * 20
PARAMS = hashlib.sha256(b"params").digest()
RESULT = hashlib.sha256(b"result").digest()
REPORT = hashlib.sha256(b"report").digest()
SPLIT = Shares(dataset_owners=6000, model_owner=2500, nodes=1500)
STATS_SPLIT = Shares(dataset_owners=9000, model_owner=0, nodes=1000)


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


@dataclass
class Market:
    chain: Chain
    registry: AssetRegistry
    jobs: ComputeJobs
    owners: list[str]
    nodes: list[str]
    model_owner: str
    requester: str
    stranger: str
    datasets: list[int]
    model: int

    def request(self, **overrides: Any) -> int:
        args: dict[str, Any] = {
            "model": self.model,
            "params_digest": PARAMS,
            "deadline": now(self.chain) + 3600,
            "epsilon": 0.0,
            "payment": 10_000,
            "shares": SPLIT,
            "sender": self.requester,
        }
        kind = overrides.pop("kind", JobKind.FEDERATED_TRAIN)
        datasets = overrides.pop("datasets", self.datasets)
        args.update(overrides)
        return self.jobs.request_job(kind, datasets, **args)


@pytest.fixture
def market(chain: Chain) -> Market:
    accounts = chain.accounts
    owners, nodes = accounts[1:3], accounts[3:5]
    model_owner, requester, stranger = accounts[5], accounts[6], accounts[7]
    registry = AssetRegistry.deploy(chain)
    datasets = [
        registry.mint_batch(
            owner, AssetKind.DATASET, [hashlib.sha256(owner.encode()).digest()]
        ).token_ids[0]
        for owner in owners
    ]
    (model,) = registry.mint_batch(model_owner, AssetKind.MODEL, [bytes(32)]).token_ids
    expiry = now(chain) + 365 * 86400
    for dataset, owner in zip(datasets, owners, strict=True):
        registry.grant_license(dataset, requester, expiry, sender=owner)
    registry.grant_license(model, requester, expiry, sender=model_owner)
    jobs = ComputeJobs.deploy(chain, registry.address)
    for dataset, owner, node in zip(datasets, owners, nodes, strict=True):
        jobs.register_node(dataset, node, sender=owner)
    return Market(
        chain, registry, jobs, owners, nodes, model_owner, requester, stranger, datasets, model
    )


# -- values -------------------------------------------------------------------------


def test_kinds_and_statuses_have_labels() -> None:
    assert [kind.label for kind in JobKind] == ["federated-train", "evaluate", "stats"]
    assert all(JobKind.parse(kind.label) is kind for kind in JobKind)
    with pytest.raises(InvalidJob) as caught:
        JobKind.parse("mine-bitcoin")
    assert (caught.value.field, caught.value.value) == ("kind", "mine-bitcoin")
    assert isinstance(caught.value, ValueError)
    assert [status.label for status in JobStatus] == [
        "none",
        "requested",
        "running",
        "completed",
        "disputed",
        "refunded",
    ]


@pytest.mark.parametrize(
    "values", [(5000, 0, 4000), (10000, 1, 0), (-1, 10001, 0), (True, 9999, 0), (6000.0, 4000, 0)]
)
def test_shares_sum_to_10000_basis_points(values: tuple[Any, Any, Any]) -> None:
    with pytest.raises(InvalidJob) as caught:
        Shares(*values)
    assert caught.value.field == "shares"
    assert caught.value.value == values


@pytest.mark.parametrize("epsilon", [-0.5, float("nan"), float("inf"), 1e30])
def test_an_epsilon_the_chain_cannot_count_is_refused_before_sending(
    market: Market, epsilon: float
) -> None:
    with pytest.raises(InvalidJob) as caught:
        market.jobs.set_budget(market.datasets[0], epsilon, sender=market.owners[0])
    assert caught.value.field == "epsilon"
    assert market.jobs.budget(market.datasets[0]) == (0.0, 0.0)


def test_a_budget_rounds_down_to_the_chains_thousandths(market: Market) -> None:
    # the chain counts thousandths: a budget never grows by rounding (a job's spend rounds up)
    market.jobs.set_budget(market.datasets[0], 0.0005, sender=market.owners[0])
    assert market.jobs.budget(market.datasets[0]) == (0.0, 0.0)
    market.jobs.set_budget(market.datasets[0], 1.2345, sender=market.owners[0])
    assert market.jobs.budget(market.datasets[0]) == (1.234, 0.0)


def test_at_or_deploy_deploys_once_and_records_it(chain: Chain) -> None:
    registry = AssetRegistry.deploy(chain)
    with pytest.raises(DeploymentNotFound):
        ComputeJobs.at(chain)
    first = ComputeJobs.at_or_deploy(chain, registry.address)
    assert first.deployed_at > 0
    assert ComputeJobs.at_or_deploy(chain, registry.address).address == first.address
    assert ComputeJobs.at(chain).address == first.address
    assert first.job_count() == 0
    assert ComputeJobs.at(chain, first.address).deployed_at == first.deployed_at


# -- the whole life of a job --------------------------------------------------------


def test_a_job_from_request_to_withdrawal(market: Market) -> None:
    chain, jobs = market.chain, market.jobs
    assert ComputeJobs.at(chain).address == jobs.address
    assert ComputeJobs.at(chain, jobs.address).address == jobs.address
    assert ComputeJobs.at_or_deploy(chain, market.registry.address).address == jobs.address
    assert repr(jobs) == f"ComputeJobs({jobs.address!r})"
    assert jobs.node_of(market.datasets[0]) == market.nodes[0]
    for dataset, owner in zip(market.datasets, market.owners, strict=True):
        jobs.set_budget(dataset, 2.5, sender=owner)
    assert jobs.budget(market.datasets[0]) == (2.5, 0.0)

    deadline = now(chain) + 3600
    job_id = market.request(payment=2 * 10**18 + 1, epsilon=0.125, deadline=deadline)
    assert job_id == 1
    assert jobs.job_count() == 1
    job = jobs.job(job_id)
    assert job == Job(
        job_id=1,
        requester=market.requester,
        kind=JobKind.FEDERATED_TRAIN,
        status=JobStatus.REQUESTED,
        model=market.model,
        params_digest=PARAMS,
        deadline=deadline,
        payment=2 * 10**18 + 1,
        epsilon=0.125,
        shares=SPLIT,
        result_digest=bytes(32),
        report_digest=bytes(32),
        accepted=0,
        confirmed=0,
        nodes=0,
        datasets=tuple(market.datasets),
    )
    assert jobs.dataset_owners_of(job_id) == tuple(market.owners)
    assert jobs.participant_of(job_id, market.datasets[0]) == ZERO

    jobs.accept(job_id, market.datasets[0], sender=market.nodes[0])
    jobs.accept(job_id, market.datasets[1], sender=market.owners[1])
    assert jobs.participant_of(job_id, market.datasets[1]) == market.owners[1]
    assert jobs.budget(market.datasets[0]) == (2.5, 0.125)
    assert jobs.job(job_id).status is JobStatus.RUNNING

    jobs.submit_result(job_id, RESULT, REPORT, sender=market.nodes[0])
    jobs.submit_result(job_id, RESULT, REPORT, sender=market.owners[1])
    job = jobs.job(job_id)
    assert (job.status, job.result_digest, job.report_digest, job.confirmed, job.nodes) == (
        JobStatus.COMPLETED,
        RESULT,
        REPORT,
        2,
        2,
    )
    # 60 % / 2 per owner, 25 % for the model, 15 % / 2 per node, 1 wei of dust
    assert jobs.owed(market.owners[0]) == 6 * 10**17
    assert jobs.owed(market.owners[1]) == 6 * 10**17 + 15 * 10**16  # owner and node
    assert jobs.owed(market.nodes[0]) == 15 * 10**16
    assert jobs.owed(market.model_owner) == 5 * 10**17
    assert jobs.owed(market.requester) == 1
    before = chain.balance(market.model_owner)
    assert jobs.withdraw(sender=market.model_owner) == 5 * 10**17
    assert before < chain.balance(market.model_owner) < before + 5 * 10**17  # less the gas
    assert jobs.owed(market.model_owner) == 0


def test_stats_and_refunds(market: Market) -> None:
    jobs, dataset = market.jobs, market.datasets[0]
    jobs.set_budget(dataset, 1.0, sender=market.owners[0])
    job_id = market.request(
        kind=JobKind.STATS,
        datasets=[dataset],
        model=0,
        epsilon=0.4,
        shares=STATS_SPLIT,
        deadline=now(market.chain) + 60,
    )
    jobs.accept(job_id, dataset, sender=market.nodes[0])
    advance(market.chain, 60)
    jobs.refund(job_id)  # anyone: the default sender here
    assert jobs.job(job_id).status is JobStatus.REFUNDED
    assert jobs.owed(market.requester) == 10_000
    assert jobs.budget(dataset) == (1.0, 0.4)  # spent epsilon is not returned
    assert jobs.withdraw(sender=market.requester) == 10_000


# -- errors -------------------------------------------------------------------------


def test_malformed_jobs_are_invalid_job(market: Market) -> None:
    d1, d2 = market.datasets
    cases: list[tuple[dict[str, Any], str, Any]] = [
        ({"datasets": []}, "datasets", ()),
        ({"datasets": [d1] * 65}, "datasets", 65),
        ({"datasets": [d1, d2, d1]}, "datasets", d1),
        ({"datasets": [d1, 99]}, "token_id", 99),
        ({"datasets": [market.model]}, "token_id", market.model),
        ({"model": d2}, "token_id", d2),
        ({"model": 0}, "model", 0),
        ({"kind": JobKind.STATS, "epsilon": 1.0}, "model", market.model),
        ({"kind": JobKind.STATS, "model": 0, "shares": STATS_SPLIT}, "epsilon", 0.0),
        ({"kind": JobKind.STATS, "model": 0, "epsilon": 1.0}, "shares", (6000, 2500, 1500)),
        ({"deadline": 1}, "deadline", 1),
        ({"params_digest": b"short"}, "params_digest", b"short"),
        ({"payment": -1}, "payment", -1),
    ]
    for overrides, field, value in cases:
        with pytest.raises(InvalidJob) as caught:
            market.request(**overrides)
        assert (caught.value.field, caught.value.value) == (field, value), overrides
    with pytest.raises(InvalidJob) as caught:
        ComputeJobs.deploy(market.chain, market.stranger)
    assert caught.value.field == "registry_address"
    assert isinstance(caught.value.__cause__, ContractReverted)


def test_a_requester_without_a_licence_is_not_licensed(market: Market) -> None:
    with pytest.raises(NotLicensed) as caught:
        market.request(sender=market.stranger)
    assert (caught.value.token_id, caught.value.account) == (market.model, market.stranger)
    market.registry.grant_license(
        market.model, market.stranger, now(market.chain) + 600, sender=market.model_owner
    )
    with pytest.raises(NotLicensed) as caught:
        market.request(sender=market.stranger)
    assert (caught.value.token_id, caught.value.account) == (market.datasets[0], market.stranger)


def test_an_exhausted_budget_is_budget_exhausted(market: Market) -> None:
    jobs, dataset = market.jobs, market.datasets[0]
    jobs.set_budget(dataset, 0.5, sender=market.owners[0])
    job_id = market.request(datasets=[dataset], epsilon=0.75)
    with pytest.raises(BudgetExhausted) as caught:
        jobs.accept(job_id, dataset, sender=market.owners[0])
    assert (caught.value.dataset_id, caught.value.requested, caught.value.remaining) == (
        dataset,
        0.75,
        0.5,
    )
    other = market.request(datasets=[dataset], epsilon=0.5)
    jobs.accept(other, dataset, sender=market.owners[0])
    with pytest.raises(InvalidJob) as lowered:
        jobs.set_budget(dataset, 0.25, sender=market.owners[0])
    assert (lowered.value.field, lowered.value.value) == ("epsilon", 0.25)


def test_missing_jobs_are_job_not_found(market: Market) -> None:
    jobs = market.jobs
    calls = [
        lambda: jobs.job(5),
        lambda: jobs.participant_of(5, market.datasets[0]),
        lambda: jobs.accept(5, market.datasets[0], sender=market.owners[0]),
        lambda: jobs.submit_result(5, RESULT, REPORT, sender=market.nodes[0]),
        lambda: jobs.refund(5),
    ]
    for call in calls:
        with pytest.raises(JobNotFound) as caught:
            call()
        assert caught.value.job_id == 5
        assert isinstance(caught.value, LookupError)
    with pytest.raises(DeploymentNotFound):
        ComputeJobs.at(Chain.embedded())
    job_id = market.request(datasets=market.datasets[:1])
    with pytest.raises(InvalidJob) as caught_dataset:
        jobs.participant_of(job_id, market.datasets[1])
    assert (caught_dataset.value.field, caught_dataset.value.value) == (
        "dataset_id",
        market.datasets[1],
    )


def test_calls_out_of_turn_are_job_state_errors(market: Market) -> None:
    jobs, (d1, d2) = market.jobs, market.datasets
    job_id = market.request(deadline=now(market.chain) + 300)
    with pytest.raises(JobStateError) as caught:
        jobs.submit_result(job_id, RESULT, REPORT, sender=market.nodes[0])
    assert (caught.value.job_id, caught.value.status) == (job_id, "requested")
    assert str(caught.value).endswith("only a running job takes results")
    with pytest.raises(JobStateError) as caught:
        jobs.refund(job_id)
    assert (caught.value.job_id, caught.value.status) == (job_id, "requested")
    assert "deadline" in str(caught.value)
    jobs.accept(job_id, d1, sender=market.nodes[0])
    with pytest.raises(JobStateError) as caught:
        jobs.accept(job_id, d1, sender=market.owners[0])
    assert "accepted it already" in str(caught.value)
    jobs.accept(job_id, d2, sender=market.nodes[1])
    with pytest.raises(JobStateError) as caught:
        jobs.accept(job_id, d2, sender=market.nodes[1])
    assert caught.value.status == "running"
    jobs.submit_result(job_id, RESULT, REPORT, sender=market.nodes[0])
    with pytest.raises(JobStateError) as caught:
        jobs.submit_result(job_id, RESULT, REPORT, sender=market.nodes[0])
    assert (caught.value.status, "confirmed it already" in str(caught.value)) == ("running", True)
    advance(market.chain, 300)
    with pytest.raises(JobStateError) as caught:
        jobs.submit_result(job_id, RESULT, REPORT, sender=market.nodes[1])
    assert (caught.value.status, "has passed" in str(caught.value)) == ("running", True)
    jobs.refund(job_id)
    with pytest.raises(JobStateError) as caught:
        jobs.refund(job_id)
    assert caught.value.status == "refunded"
    assert str(caught.value) == f"job {job_id} is refunded: a completed or refunded job is settled"
    with pytest.raises(InvalidJob):
        jobs.submit_result(job_id, b"x", REPORT, sender=market.nodes[1])


def test_strangers_are_job_permission_denied(market: Market) -> None:
    jobs, d1 = market.jobs, market.datasets[0]
    job_id = market.request()
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.accept(job_id, d1, sender=market.stranger)
    assert (caught.value.job_id, caught.value.account) == (job_id, market.stranger)
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.set_budget(d1, 1.0, sender=market.stranger)
    assert caught.value.account == market.stranger
    with pytest.raises(JobPermissionDenied):
        jobs.register_node(d1, market.stranger, sender=market.nodes[0])
    for dataset, node in zip(market.datasets, market.nodes, strict=True):
        jobs.accept(job_id, dataset, sender=node)
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.submit_result(job_id, RESULT, REPORT, sender=market.owners[0])
    assert (caught.value.job_id, caught.value.account) == (job_id, market.owners[0])
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.withdraw(sender=market.stranger)
    assert "owed nothing" in str(caught.value)
    # an account without coin cannot even send a refund that anyone may send
    due = market.request(deadline=now(market.chain) + 30)
    advance(market.chain, 30)
    broke = Signer(Account.create())
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.refund(due, sender=broke)
    assert caught.value.job_id == due
    assert caught.value.account == broke.address
    assert "cannot send the transaction" in str(caught.value)


def test_every_custom_error_of_the_contract_has_its_compute_error() -> None:
    """Translated from the error's ABI with placeholder arguments, pure: no chain."""
    artifact = load_artifact(JOBS_CONTRACT)
    placeholders = {"address": ZERO, "bytes32": bytes(32)}
    for entry in artifact.errors():
        args = tuple(placeholders.get(i["type"], 1) for i in entry["inputs"])
        reverted = ContractReverted(str(entry["name"]), args, b"")
        translated = _translate(reverted, 1, ZERO, lambda _: "running")
        assert isinstance(translated, ComputeError), entry["name"]
    failed = _translate(
        ContractReverted("PaymentFailed", (ZERO, 5), b""), None, ZERO, lambda _: "x"
    )
    assert type(failed) is ComputeError
    assert "5" in str(failed)
    other = ContractReverted("Panic", (17,), b"")
    assert _translate(other, 1, ZERO, lambda _: "x") is other


def test_a_revert_the_market_does_not_know_stays_a_contract_revert() -> None:
    panic = ContractReverted("Panic", (17,), b"")
    with pytest.raises(ContractReverted) as caught, _job_errors(1, ZERO, lambda _: "x"):
        raise panic
    assert caught.value is panic
    assert caught.value.__cause__ is None


# -- history ------------------------------------------------------------------------


def test_jobs_for_dataset_reads_the_logs_in_pages(market: Market) -> None:
    d1, d2 = market.datasets
    ids = [
        market.request(datasets=[d1]),
        market.request(datasets=[d2]),
        market.request(datasets=[d2, d1]),
        market.request(datasets=[d2]),
    ]
    assert ids == [1, 2, 3, 4]
    jobs = market.jobs
    for page in (1, 2, 10_000):
        assert jobs.jobs_for_dataset(d1, page=page) == [1, 3]
        assert jobs.jobs_for_dataset(d2, page=page) == [2, 3, 4]
    assert jobs.jobs_for_dataset(99, page=1) == []
    head = market.chain.block_number
    assert jobs.jobs_for_dataset(d2, from_block=head, to_block=head, page=1) == [4]
    assert jobs.jobs_for_dataset(d2, from_block=head - 1, page=1) == [3, 4]
    with pytest.raises(InvalidJob):
        jobs.jobs_for_dataset(d1, page=0)
