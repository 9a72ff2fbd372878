"""troika's ComputeJobs: requests on licensed datasets and models, acceptance
by owners and registered nodes with privacy budgets, confirmed results,
disputes, refunds and pull payments, on the embedded EVM and on anvil.

After every step the money is checked: the contract's balance equals what it
owes plus the payments of the jobs that are neither completed nor refunded,
in the native coin and in each ERC-20 token jobs were paid in (the token
jobs' tests are in test_compute_jobs_tokens.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from troika import ContractReverted
from troika.assets import AssetKind, AssetRegistry
from troika.chain import Chain, Contract

FEDERATED_TRAIN, EVALUATE, STATS = 0, 1, 2
NONE, REQUESTED, RUNNING, COMPLETED, DISPUTED, REFUNDED = range(6)
ZERO = "0x" + "00" * 20
PARAMS = hashlib.sha256(b"params").digest()
RESULT = hashlib.sha256(b"result").digest()
REPORT = hashlib.sha256(b"report").digest()
ETHER = 10**18


def advance(chain: Chain, seconds: int) -> None:
    latest = chain.block("latest")
    assert latest is not None
    if chain.is_embedded:
        chain.w3.testing.timeTravel(latest.timestamp + seconds)  # type: ignore[attr-defined]
    else:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def now(chain: Chain) -> int:
    latest = chain.block("latest")
    assert latest is not None
    return latest.timestamp


def named(contract: Contract, reverted: ContractReverted) -> tuple[str, dict[str, Any]]:
    """The custom error and its arguments by their names in the ABI."""
    (entry,) = [e for e in contract.artifact.errors() if e["name"] == reverted.error]
    names = [argument["name"] for argument in entry["inputs"]]
    return str(reverted.error), dict(zip(names, reverted.error_args, strict=True))


@dataclass
class World:
    """A registry, a market on it, and the parties: three dataset owners each
    with a dataset and a node, a model owner with a model, a requester
    licensed for all four tokens, and a stranger."""

    chain: Chain
    registry: AssetRegistry
    jobs: Contract
    owners: list[str]
    nodes: list[str]
    model_owner: str
    requester: str
    stranger: str
    datasets: list[int]
    model: int
    extra_accounts: list[str] = field(default_factory=list)
    tokens: dict[str, Contract] = field(default_factory=dict)  # ERC-20s jobs were paid in

    def reverted(
        self, function: str, *args: Any, sender: str, value: int = 0
    ) -> tuple[str, dict[str, Any]]:
        with pytest.raises(ContractReverted) as caught:
            self.jobs.transact(function, *args, sender=sender, value=value)
        return named(self.jobs, caught.value)

    def request(
        self,
        datasets: list[int] | None = None,
        *,
        kind: int = FEDERATED_TRAIN,
        model: int | None = None,
        deadline: int = 3600,
        epsilon_milli: int = 0,
        shares: tuple[int, int, int] = (6000, 2500, 1500),
        payment: int = ETHER,
        sender: str | None = None,
    ) -> int:
        """Requests a job (deadline: seconds from now); its id."""
        receipt = self.jobs.transact(
            "requestJob",
            kind,
            self.datasets if datasets is None else datasets,
            self.model if model is None else model,
            PARAMS,
            now(self.chain) + deadline,
            epsilon_milli,
            shares,
            sender=sender or self.requester,
            value=payment,
        )
        (event,) = self.jobs.events(receipt, "JobRequested")
        return int(event.args["jobId"])

    def job(self, job_id: int) -> dict[str, Any]:
        names = [
            "requester",
            "kind",
            "status",
            "modelToken",
            "paramsDigest",
            "deadline",
            "payment",
            "epsilonMilli",
            "shares",
            "resultDigest",
            "reportDigest",
            "accepted",
            "confirmed",
            "nodes",
            "paymentToken",
        ]
        return dict(zip(names, self.jobs.call("job", job_id), strict=True))

    def accept_all(self, job_id: int) -> None:
        for dataset, node in zip(self.datasets, self.nodes, strict=True):
            self.jobs.transact("acceptJob", job_id, dataset, sender=node)
            self.check_money()

    def check_money(self) -> None:
        """In the coin and in each token: the contract's balance is what it owes
        plus the unsettled payments."""
        accounts = {*self.chain.accounts, *self.extra_accounts}
        held: dict[str, int] = {ZERO: 0, **dict.fromkeys(self.tokens, 0)}
        for job_id in range(1, int(self.jobs.call("jobCount")) + 1):
            record = self.job(job_id)
            if record["status"] in (REQUESTED, RUNNING, DISPUTED):
                held[record["paymentToken"]] += int(record["payment"])
        owed = sum(int(self.jobs.call("owed", account)) for account in accounts)
        assert self.chain.balance(self.jobs.address) == owed + held[ZERO]
        for address, token in self.tokens.items():
            owed = sum(int(self.jobs.call("owedToken", address, a)) for a in accounts)
            assert token.call("balanceOf", self.jobs.address) == owed + held[address]


@pytest.fixture
def world(chain: Chain) -> World:
    accounts = chain.accounts
    admin = accounts[0]
    owners, nodes = accounts[1:4], accounts[4:7]
    model_owner, requester, stranger = accounts[7], accounts[8], accounts[9]
    registry = AssetRegistry.deploy(chain, sender=admin)
    datasets = [
        registry.mint_batch(
            owner, AssetKind.DATASET, [hashlib.sha256(f"dataset {i}".encode()).digest()]
        ).token_ids[0]
        for i, owner in enumerate(owners)
    ]
    (model,) = registry.mint_batch(
        model_owner, AssetKind.MODEL, [hashlib.sha256(b"model").digest()]
    ).token_ids
    expiry = now(chain) + 365 * 86400
    for dataset, owner in zip(datasets, owners, strict=True):
        registry.grant_license(dataset, requester, expiry, sender=owner)
    registry.grant_license(model, requester, expiry, sender=model_owner)
    jobs = chain.deploy("ComputeJobs", registry.address, sender=admin, record=False)
    for dataset, owner, node in zip(datasets, owners, nodes, strict=True):
        jobs.transact("registerNode", dataset, node, sender=owner)
    return World(
        chain, registry, jobs, owners, nodes, model_owner, requester, stranger, datasets, model
    )


# -- deployment, budgets and nodes --------------------------------------------------


def test_the_registry_must_be_a_contract(chain: Chain) -> None:
    with pytest.raises(ContractReverted) as caught:
        chain.deploy("ComputeJobs", chain.accounts[5], record=False)
    assert caught.value.error == "InvalidRegistry"
    assert caught.value.error_args == (chain.accounts[5],)


def test_only_the_datasets_owner_sets_its_budget(world: World) -> None:
    dataset, owner = world.datasets[0], world.owners[0]
    assert tuple(world.jobs.call("budget", dataset)) == (0, 0)
    for account in (world.stranger, world.nodes[0], world.requester):
        assert world.reverted("setBudget", dataset, 1000, sender=account) == (
            "NotDatasetOwner",
            {"datasetId": dataset, "account": account},
        )
    receipt = world.jobs.transact("setBudget", dataset, 2500, sender=owner)
    (event,) = world.jobs.events(receipt, "BudgetSet")
    assert dict(event.args) == {"datasetId": dataset, "epsilonMilli": 2500}
    assert tuple(world.jobs.call("budget", dataset)) == (2500, 0)
    # a model has no budget, and a token that does not exist has no owner
    assert world.reverted("setBudget", world.model, 1, sender=world.model_owner) == (
        "WrongKind",
        {"tokenId": world.model, "expected": 0},
    )
    assert world.reverted("setBudget", 999, 1, sender=owner) == ("UnknownToken", {"tokenId": 999})


def test_a_budget_cannot_go_below_what_was_spent(world: World) -> None:
    dataset, owner = world.datasets[0], world.owners[0]
    world.jobs.transact("setBudget", dataset, 3000, sender=owner)
    job = world.request([dataset], kind=STATS, model=0, epsilon_milli=1200, shares=(9000, 0, 1000))
    world.jobs.transact("acceptJob", job, dataset, sender=owner)
    assert tuple(world.jobs.call("budget", dataset)) == (3000, 1200)
    assert world.reverted("setBudget", dataset, 1199, sender=owner) == (
        "BudgetBelowSpent",
        {"datasetId": dataset, "epsilonMilli": 1199, "spentMilli": 1200},
    )
    world.jobs.transact("setBudget", dataset, 1200, sender=owner)  # exactly spent: allowed
    assert tuple(world.jobs.call("budget", dataset)) == (1200, 1200)


def test_only_the_datasets_owner_registers_its_node(world: World) -> None:
    dataset, owner, node = world.datasets[0], world.owners[0], world.nodes[0]
    assert world.jobs.call("nodeOf", dataset) == node
    assert world.reverted("registerNode", dataset, world.stranger, sender=world.stranger) == (
        "NotDatasetOwner",
        {"datasetId": dataset, "account": world.stranger},
    )
    assert world.reverted("registerNode", dataset, world.stranger, sender=node) == (
        "NotDatasetOwner",
        {"datasetId": dataset, "account": node},
    )
    receipt = world.jobs.transact("registerNode", dataset, ZERO, sender=owner)
    (event,) = world.jobs.events(receipt, "NodeRegistered")
    assert dict(event.args) == {"datasetId": dataset, "node": ZERO}
    assert world.jobs.call("nodeOf", dataset) == ZERO


# -- requesting --------------------------------------------------------------------


def test_a_request_records_the_job_and_names_each_dataset(world: World) -> None:
    deadline = now(world.chain) + 3600
    receipt = world.jobs.transact(
        "requestJob",
        EVALUATE,
        world.datasets,
        world.model,
        PARAMS,
        deadline,
        500,
        (6000, 2500, 1500),
        sender=world.requester,
        value=12345,
    )
    (requested,) = world.jobs.events(receipt, "JobRequested")
    assert dict(requested.args) == {
        "jobId": 1,
        "requester": world.requester,
        "kind": EVALUATE,
        "modelToken": world.model,
        "paramsDigest": PARAMS,
        "deadline": deadline,
        "payment": 12345,
        "epsilonMilli": 500,
    }
    named_datasets = world.jobs.events(receipt, "JobForDataset")
    assert [(e.args["jobId"], e.args["datasetId"]) for e in named_datasets] == [
        (1, d) for d in world.datasets
    ]
    assert world.job(1) == {
        "requester": world.requester,
        "kind": EVALUATE,
        "status": REQUESTED,
        "modelToken": world.model,
        "paramsDigest": PARAMS,
        "deadline": deadline,
        "payment": 12345,
        "epsilonMilli": 500,
        "shares": (6000, 2500, 1500),
        "resultDigest": bytes(32),
        "reportDigest": bytes(32),
        "accepted": 0,
        "confirmed": 0,
        "nodes": 0,
        "paymentToken": ZERO,  # the native coin
    }
    assert list(world.jobs.call("datasetsOf", 1)) == world.datasets
    assert list(world.jobs.call("datasetOwnersOf", 1)) == world.owners
    assert [world.jobs.call("participantOf", 1, d) for d in world.datasets] == [ZERO] * 3
    assert world.jobs.call("jobCount") == 1
    assert world.request() == 2  # sequential ids
    world.check_money()


def test_the_requester_must_be_licensed_for_every_token(world: World) -> None:
    # the stranger holds no licence: refused on the model, then on the first dataset
    assert world.reverted(
        "requestJob",
        FEDERATED_TRAIN,
        world.datasets,
        world.model,
        PARAMS,
        now(world.chain) + 3600,
        0,
        (6000, 2500, 1500),
        sender=world.stranger,
    ) == ("NoAccess", {"tokenId": world.model, "account": world.stranger})
    expiry = now(world.chain) + 86400
    world.registry.grant_license(world.model, world.stranger, expiry, sender=world.model_owner)
    assert world.reverted(
        "requestJob",
        FEDERATED_TRAIN,
        world.datasets,
        world.model,
        PARAMS,
        now(world.chain) + 3600,
        0,
        (6000, 2500, 1500),
        sender=world.stranger,
    ) == ("NoAccess", {"tokenId": world.datasets[0], "account": world.stranger})
    for dataset, owner in zip(world.datasets, world.owners, strict=True):
        world.registry.grant_license(dataset, world.stranger, expiry, sender=owner)
    assert world.request(sender=world.stranger) == 1
    # a dataset's owner needs no licence for its own dataset
    job = world.request(
        [world.datasets[0]],
        kind=STATS,
        model=0,
        epsilon_milli=1,
        shares=(9000, 0, 1000),
        sender=world.owners[0],
    )
    assert world.job(job)["requester"] == world.owners[0]
    # a licence that expired no longer counts
    world.registry.revoke_license(world.datasets[1], world.stranger, sender=world.owners[1])
    assert world.reverted(
        "requestJob",
        STATS,
        [world.datasets[1]],
        0,
        PARAMS,
        now(world.chain) + 3600,
        1,
        (9000, 0, 1000),
        sender=world.stranger,
    ) == ("NoAccess", {"tokenId": world.datasets[1], "account": world.stranger})
    advance(world.chain, 86400 + 1)
    assert world.reverted(
        "requestJob",
        STATS,
        [world.datasets[0]],
        0,
        PARAMS,
        now(world.chain) + 3600,
        1,
        (9000, 0, 1000),
        sender=world.stranger,
    ) == ("NoAccess", {"tokenId": world.datasets[0], "account": world.stranger})
    world.check_money()


def request_error(world: World, **overrides: Any) -> tuple[str, dict[str, Any]]:
    args: dict[str, Any] = {
        "kind": FEDERATED_TRAIN,
        "datasets": world.datasets,
        "model": world.model,
        "deadline": now(world.chain) + 3600,
        "epsilon": 0,
        "shares": (6000, 2500, 1500),
    }
    args.update(overrides)
    return world.reverted(
        "requestJob",
        args["kind"],
        args["datasets"],
        args["model"],
        PARAMS,
        args["deadline"],
        args["epsilon"],
        args["shares"],
        sender=world.requester,
        value=100,
    )


def test_requests_that_break_a_rule_are_refused(world: World) -> None:
    d1, d2, _ = world.datasets
    assert request_error(world, datasets=[]) == ("NoDatasets", {})
    assert request_error(world, datasets=[d1] * 65) == (
        "TooManyDatasets",
        {"count": 65, "max": 64},
    )
    assert request_error(world, datasets=[d1, d2, d1]) == ("DuplicateDataset", {"datasetId": d1})
    assert request_error(world, datasets=[d1, 999]) == ("UnknownToken", {"tokenId": 999})
    assert request_error(world, datasets=[d1, world.model]) == (
        "WrongKind",
        {"tokenId": world.model, "expected": 0},
    )
    assert request_error(world, model=d2) == ("WrongKind", {"tokenId": d2, "expected": 1})
    assert request_error(world, model=999) == ("UnknownToken", {"tokenId": 999})
    assert request_error(world, model=0) == ("ModelRequired", {"kind": FEDERATED_TRAIN})
    assert request_error(world, kind=EVALUATE, model=0) == ("ModelRequired", {"kind": EVALUATE})
    assert request_error(world, kind=STATS, epsilon=100) == (
        "ModelNotAllowed",
        {"kind": STATS, "modelToken": world.model},
    )
    assert request_error(world, kind=STATS, model=0, epsilon=0, shares=(9000, 0, 1000)) == (
        "EpsilonRequired",
        {"kind": STATS},
    )
    assert request_error(world, shares=(6000, 2500, 1499)) == (
        "InvalidShares",
        {"datasetOwners": 6000, "modelOwner": 2500, "nodes": 1499},
    )
    assert request_error(world, kind=STATS, model=0, epsilon=1, shares=(6000, 2500, 1500)) == (
        "InvalidShares",
        {"datasetOwners": 6000, "modelOwner": 2500, "nodes": 1500},
    )
    latest = now(world.chain)
    assert request_error(world, deadline=latest) == ("DeadlineInPast", {"deadline": latest})
    assert request_error(world, deadline=latest - 10) == (
        "DeadlineInPast",
        {"deadline": latest - 10},
    )
    # the rules' other side: what they allow
    assert world.request(kind=EVALUATE, epsilon_milli=0) == 1  # no DP
    assert world.request(kind=FEDERATED_TRAIN, epsilon_milli=800, payment=0) == 2  # unpaid
    assert (
        world.request(world.datasets, kind=STATS, model=0, epsilon_milli=1, shares=(10000, 0, 0))
        == 3
    )
    assert world.jobs.call("jobCount") == 3
    world.check_money()


# -- accepting ---------------------------------------------------------------------


def test_the_owner_or_the_registered_node_accepts_not_a_stranger(world: World) -> None:
    job = world.request()
    d1, d2, d3 = world.datasets
    for account in (world.stranger, world.requester, world.owners[1], world.nodes[1]):
        assert world.reverted("acceptJob", job, d1, sender=account) == (
            "NotOwnerOrNode",
            {"datasetId": d1, "account": account},
        )
    receipt = world.jobs.transact("acceptJob", job, d1, sender=world.owners[0])  # the owner
    (event,) = world.jobs.events(receipt, "JobAccepted")
    assert dict(event.args) == {"jobId": job, "datasetId": d1, "node": world.owners[0]}
    assert tuple(world.jobs.call("budget", d1)) == (0, 0)  # no epsilon: no budget needed
    world.jobs.transact("acceptJob", job, d2, sender=world.nodes[1])  # the registered node
    assert world.jobs.call("participantOf", job, d1) == world.owners[0]
    assert world.jobs.call("participantOf", job, d2) == world.nodes[1]
    assert world.reverted("acceptJob", job, d1, sender=world.owners[0]) == (
        "AlreadyAccepted",
        {"jobId": job, "datasetId": d1},
    )
    assert world.reverted("acceptJob", job, d2, sender=world.owners[1]) == (
        "AlreadyAccepted",
        {"jobId": job, "datasetId": d2},
    )
    # an unregistered node may no longer accept; the owner still may
    world.jobs.transact("registerNode", d3, ZERO, sender=world.owners[2])
    assert world.reverted("acceptJob", job, d3, sender=world.nodes[2]) == (
        "NotOwnerOrNode",
        {"datasetId": d3, "account": world.nodes[2]},
    )
    assert world.job(job)["status"] == REQUESTED
    receipt = world.jobs.transact("acceptJob", job, d3, sender=world.owners[2])
    assert [e.args["jobId"] for e in world.jobs.events(receipt, "JobRunning")] == [job]
    record = world.job(job)
    assert (record["status"], record["accepted"], record["nodes"]) == (RUNNING, 3, 3)
    assert world.reverted("acceptJob", job, d3, sender=world.owners[2]) == (
        "InvalidStatus",
        {"jobId": job, "status": RUNNING},
    )
    world.check_money()


def test_accepting_a_dataset_the_job_does_not_name_or_a_job_that_does_not_exist(
    world: World,
) -> None:
    job = world.request(world.datasets[:2])
    d3 = world.datasets[2]
    assert world.reverted("acceptJob", job, d3, sender=world.owners[2]) == (
        "DatasetNotInJob",
        {"jobId": job, "datasetId": d3},
    )
    assert world.reverted("acceptJob", 77, d3, sender=world.owners[2]) == (
        "UnknownJob",
        {"jobId": 77},
    )
    assert world.reverted("acceptJob", 0, d3, sender=world.owners[2]) == (
        "UnknownJob",
        {"jobId": 0},
    )
    with pytest.raises(ContractReverted) as caught:
        world.jobs.call("participantOf", job, d3)
    assert named(world.jobs, caught.value) == (
        "DatasetNotInJob",
        {"jobId": job, "datasetId": d3},
    )


def test_no_accepting_from_the_deadline_on(world: World) -> None:
    job = world.request(deadline=100)
    world.jobs.transact("acceptJob", job, world.datasets[0], sender=world.nodes[0])
    deadline = world.job(job)["deadline"]
    advance(world.chain, 100)
    assert world.reverted("acceptJob", job, world.datasets[1], sender=world.nodes[1]) == (
        "DeadlinePassed",
        {"jobId": job, "deadline": deadline},
    )


def test_accepting_spends_the_epsilon_at_once_and_for_good(world: World) -> None:
    d1, d2, _ = world.datasets
    job = world.request([d1, d2], kind=STATS, model=0, epsilon_milli=700, shares=(9000, 0, 1000))
    # no budget set: nothing remains
    assert world.reverted("acceptJob", job, d1, sender=world.nodes[0]) == (
        "BudgetExceeded",
        {"datasetId": d1, "requested": 700, "remaining": 0},
    )
    world.jobs.transact("setBudget", d1, 1000, sender=world.owners[0])
    world.jobs.transact("setBudget", d2, 699, sender=world.owners[1])
    receipt = world.jobs.transact("acceptJob", job, d1, sender=world.nodes[0])
    (accepted,) = world.jobs.events(receipt, "JobAccepted")
    assert dict(accepted.args) == {"jobId": job, "datasetId": d1, "node": world.nodes[0]}
    assert tuple(world.jobs.call("budget", d1)) == (1000, 700)
    assert world.reverted("acceptJob", job, d2, sender=world.nodes[1]) == (
        "BudgetExceeded",
        {"datasetId": d2, "requested": 700, "remaining": 699},
    )
    # a second job on d1 finds only 300 left
    other = world.request([d1], kind=STATS, model=0, epsilon_milli=301, shares=(9000, 0, 1000))
    assert world.reverted("acceptJob", other, d1, sender=world.owners[0]) == (
        "BudgetExceeded",
        {"datasetId": d1, "requested": 301, "remaining": 300},
    )
    # the first job never runs; its refund returns the money, not the epsilon
    advance(world.chain, 3600)
    world.jobs.transact("refund", job, sender=world.stranger)
    assert tuple(world.jobs.call("budget", d1)) == (1000, 700)
    assert tuple(world.jobs.call("budget", d2)) == (699, 0)
    world.check_money()


# -- results -----------------------------------------------------------------------


def test_only_participating_nodes_of_a_running_job_submit_once_before_the_deadline(
    world: World,
) -> None:
    job = world.request(deadline=600)
    assert world.reverted("submitResult", job, RESULT, REPORT, sender=world.nodes[0]) == (
        "InvalidStatus",
        {"jobId": job, "status": REQUESTED},
    )
    assert world.reverted("submitResult", 9, RESULT, REPORT, sender=world.nodes[0]) == (
        "UnknownJob",
        {"jobId": 9},
    )
    world.accept_all(job)
    for account in (world.stranger, world.owners[0], world.requester):
        assert world.reverted("submitResult", job, RESULT, REPORT, sender=account) == (
            "NotParticipant",
            {"jobId": job, "account": account},
        )
    receipt = world.jobs.transact("submitResult", job, RESULT, REPORT, sender=world.nodes[0])
    (submitted,) = world.jobs.events(receipt, "ResultSubmitted")
    assert dict(submitted.args) == {
        "jobId": job,
        "node": world.nodes[0],
        "resultDigest": RESULT,
        "reportDigest": REPORT,
    }
    assert world.reverted("submitResult", job, RESULT, REPORT, sender=world.nodes[0]) == (
        "AlreadyConfirmed",
        {"jobId": job, "account": world.nodes[0]},
    )
    record = world.job(job)
    assert (record["confirmed"], record["resultDigest"], record["reportDigest"]) == (
        1,
        RESULT,
        REPORT,
    )
    advance(world.chain, 600)
    assert world.reverted("submitResult", job, RESULT, REPORT, sender=world.nodes[1]) == (
        "DeadlinePassed",
        {"jobId": job, "deadline": record["deadline"]},
    )
    world.check_money()


def test_the_happy_path_pays_every_party_exactly(world: World) -> None:
    chain = world.chain
    payment = 10**18 + 7  # leaves dust: 0.6 / 3 and 0.15 / 3 of it do not divide evenly
    job = world.request(payment=payment, shares=(6000, 2500, 1500))
    world.check_money()
    # a dataset changes hands after the request: its owner at request time is paid
    world.registry.transfer(world.datasets[0], world.stranger, sender=world.owners[0])
    world.accept_all(job)
    for index, node in enumerate(world.nodes):
        receipt = world.jobs.transact("submitResult", job, RESULT, REPORT, sender=node)
        world.check_money()
        if index < 2:
            assert world.job(job)["status"] == RUNNING
            assert not world.jobs.events(receipt, "Credited")
    completed = world.jobs.events(receipt, "JobCompleted")
    assert [dict(e.args) for e in completed] == [
        {"jobId": job, "resultDigest": RESULT, "reportDigest": REPORT}
    ]
    per_owner = payment * 6000 // 10_000 // 3
    model_share = payment * 2500 // 10_000
    per_node = payment * 1500 // 10_000 // 3
    dust = payment - 3 * per_owner - model_share - 3 * per_node
    assert dust > 0
    expected = {
        **dict.fromkeys(world.owners, per_owner),
        **dict.fromkeys(world.nodes, per_node),
        world.model_owner: model_share,
        world.requester: dust,
    }
    credited = [dict(e.args) for e in world.jobs.events(receipt, "Credited")]
    assert sorted((c["account"], c["amount"]) for c in credited) == sorted(expected.items())
    assert all(c["jobId"] == job for c in credited)
    assert sum(expected.values()) == payment
    for account, amount in expected.items():
        assert world.jobs.call("owed", account) == amount
    assert world.jobs.call("owed", world.stranger) == 0
    assert world.job(job)["status"] == COMPLETED
    assert world.job(job)["confirmed"] == 3
    assert world.reverted("refund", job, sender=world.requester) == (
        "InvalidStatus",
        {"jobId": job, "status": COMPLETED},
    )

    # each withdraws exactly what it is owed, minus the gas it pays
    for account, amount in expected.items():
        before = chain.balance(account)
        receipt = world.jobs.transact("withdraw", sender=account)
        (withdrawn,) = world.jobs.events(receipt, "Withdrawn")
        assert dict(withdrawn.args) == {"account": account, "amount": amount}
        assert chain.balance(account) == before + amount - receipt.fee
        assert world.jobs.call("owed", account) == 0
        world.check_money()
    assert chain.balance(world.jobs.address) == 0


def test_one_node_for_two_datasets_is_paid_once(world: World) -> None:
    """The nodes' share is split among distinct nodes, and the node confirms once."""
    d1, d2, _ = world.datasets
    world.jobs.transact("registerNode", d2, world.nodes[0], sender=world.owners[1])
    job = world.request([d1, d2], payment=10_000, shares=(6000, 2500, 1500))
    world.jobs.transact("acceptJob", job, d1, sender=world.nodes[0])
    world.jobs.transact("acceptJob", job, d2, sender=world.nodes[0])
    assert world.job(job)["nodes"] == 1
    receipt = world.jobs.transact("submitResult", job, RESULT, REPORT, sender=world.nodes[0])
    assert world.job(job)["status"] == COMPLETED
    credits = [
        (e.args["account"], e.args["amount"]) for e in world.jobs.events(receipt, "Credited")
    ]
    assert credits == [
        (world.owners[0], 3000),
        (world.nodes[0], 1500),
        (world.owners[1], 3000),
        (world.model_owner, 2500),
    ]
    world.check_money()


def test_a_dispute_pays_nobody_and_is_refunded_after_the_deadline(world: World) -> None:
    job = world.request(deadline=900, payment=5 * ETHER)
    world.accept_all(job)
    world.jobs.transact("submitResult", job, RESULT, REPORT, sender=world.nodes[0])
    other = hashlib.sha256(b"another report").digest()
    receipt = world.jobs.transact("submitResult", job, RESULT, other, sender=world.nodes[1])
    (disputed,) = world.jobs.events(receipt, "JobDisputed")
    assert dict(disputed.args) == {"jobId": job, "node": world.nodes[1]}
    assert not world.jobs.events(receipt, "Credited")
    assert world.job(job)["status"] == DISPUTED
    world.check_money()
    assert world.reverted("submitResult", job, RESULT, REPORT, sender=world.nodes[2]) == (
        "InvalidStatus",
        {"jobId": job, "status": DISPUTED},
    )
    deadline = world.job(job)["deadline"]
    assert world.reverted("refund", job, sender=world.stranger) == (
        "DeadlineNotPassed",
        {"jobId": job, "deadline": deadline},
    )
    for account in [*world.owners, *world.nodes, world.model_owner, world.requester]:
        assert world.jobs.call("owed", account) == 0
    advance(world.chain, 900)
    receipt = world.jobs.transact("refund", job, sender=world.stranger)
    assert [dict(e.args) for e in world.jobs.events(receipt, "JobRefunded")] == [
        {"jobId": job, "amount": 5 * ETHER}
    ]
    assert [dict(e.args) for e in world.jobs.events(receipt, "Credited")] == [
        {"jobId": job, "account": world.requester, "amount": 5 * ETHER}
    ]
    assert world.jobs.call("owed", world.requester) == 5 * ETHER
    assert world.jobs.call("owed", world.stranger) == 0
    assert world.job(job)["status"] == REFUNDED
    world.check_money()
    assert world.reverted("refund", job, sender=world.requester) == (
        "InvalidStatus",
        {"jobId": job, "status": REFUNDED},
    )


def test_a_job_nobody_accepted_is_refunded_to_its_requester(world: World) -> None:
    job = world.request(deadline=60, payment=3 * ETHER)
    running = world.request(deadline=60, payment=ETHER)
    world.accept_all(running)
    assert world.reverted("refund", job, sender=world.requester) == (
        "DeadlineNotPassed",
        {"jobId": job, "deadline": world.job(job)["deadline"]},
    )
    assert world.reverted("refund", 42, sender=world.requester) == ("UnknownJob", {"jobId": 42})
    advance(world.chain, 60)
    world.jobs.transact("refund", job, sender=world.owners[0])  # anyone may call it
    world.check_money()
    world.jobs.transact("refund", running, sender=world.nodes[0])  # a running job too
    world.check_money()
    assert world.jobs.call("owed", world.requester) == 4 * ETHER
    assert world.jobs.call("owed", world.owners[0]) == 0
    before = world.chain.balance(world.requester)
    receipt = world.jobs.transact("withdraw", sender=world.requester)
    assert world.chain.balance(world.requester) == before + 4 * ETHER - receipt.fee
    world.check_money()


def test_withdrawing_nothing_is_refused(world: World) -> None:
    assert world.reverted("withdraw", sender=world.stranger) == (
        "NothingOwed",
        {"account": world.stranger},
    )


# -- reentrancy ----------------------------------------------------------------------


@pytest.fixture
def attacker(world: World) -> Contract:
    """A contract that requests jobs and re-enters withdraw and refund when paid."""
    chain = world.chain
    contract = chain.deploy(
        "ReentrantWithdrawer", world.jobs.address, sender=world.stranger, record=False
    )
    world.extra_accounts.append(contract.address)
    world.registry.grant_license(
        world.datasets[0], contract.address, now(chain) + 86400, sender=world.owners[0]
    )
    return contract


def test_a_reentrant_withdrawer_gets_nothing_extra(world: World, attacker: Contract) -> None:
    chain, dataset = world.chain, world.datasets[0]
    deadline = now(chain) + 600
    attacker.transact("request", [dataset], deadline, 100, sender=world.stranger, value=ETHER)
    attacker.transact("request", [dataset], deadline, 100, sender=world.stranger, value=2 * ETHER)
    assert world.job(1)["requester"] == world.job(2)["requester"] == attacker.address
    world.check_money()
    advance(chain, 600)
    world.jobs.transact("refund", 1, sender=world.stranger)
    world.check_money()
    assert world.jobs.call("owed", attacker.address) == ETHER

    # paid 1 ether, receive() tries withdraw() again and refund(2): both refused
    attacker.transact("attack", 2, sender=world.stranger)
    assert attacker.call("received") == ETHER
    assert chain.balance(attacker.address) == ETHER
    assert (attacker.call("reentered"), attacker.call("refused")) == (0, 2)
    assert world.jobs.call("owed", attacker.address) == 0
    assert world.job(2)["status"] == REQUESTED
    world.check_money()

    # refunded normally, job 2 pays it once more, still nothing extra
    world.jobs.transact("refund", 2, sender=world.stranger)
    attacker.transact("attack", 2, sender=world.stranger)
    assert attacker.call("received") == 3 * ETHER
    assert chain.balance(attacker.address) == 3 * ETHER
    assert (attacker.call("reentered"), attacker.call("refused")) == (0, 4)
    assert chain.balance(world.jobs.address) == 0
    world.check_money()


def test_a_payee_that_refuses_the_coin_keeps_its_credit(world: World, attacker: Contract) -> None:
    chain = world.chain
    attacker.transact(
        "request", [world.datasets[0]], now(chain) + 60, 100, sender=world.stranger, value=ETHER
    )
    advance(chain, 60)
    world.jobs.transact("refund", 1, sender=world.stranger)
    attacker.transact("setRefuse", True, sender=world.stranger)
    with pytest.raises(ContractReverted) as caught:
        attacker.transact("attack", 0, sender=world.stranger)
    assert named(world.jobs, caught.value) == (
        "PaymentFailed",
        {"account": attacker.address, "amount": ETHER},
    )
    assert world.jobs.call("owed", attacker.address) == ETHER
    world.check_money()
