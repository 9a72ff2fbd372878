"""ComputeJobs against a Python model of its money, driven by hypothesis.

A ``RuleBasedStateMachine`` on the embedded EVM runs a market of three
datasets (each with an owner and a registered node), a model and a licensed
requester. Its rules request jobs (any subset of the datasets, with or
without a model, any payment, epsilon and shares, paid in the native coin or
in an ERC-20 test token (OpenZeppelin's ERC20, every requester having
approved the market); by the requester, a dataset's owner or a stranger),
accept them (by the owner, the node or a
stranger), submit the same or different digests, refund, withdraw (anyone,
in the coin or the token),
set budgets, register nodes, hand datasets to others and move block time.
Every call must succeed or revert with the custom error the model predicts.

After every step, on chain values only:

- conservation, in the coin and in the token, each on its own: the
  contract's balance is what it owes every account plus the payments of the
  jobs neither completed nor refunded;
- nothing is created or lost: what was ever withdrawn plus the balance is
  what was ever paid in (per coin or token);
- no account ever withdraws more than was credited to it;
- a job is credited at most once and at most its payment; a disputed job
  credits nobody, a refunded one only its requester;
- budgets: spent never exceeds the total and grows by the job's epsilon per
  acceptance, and is never given back;
- a licence never outlives its expiry: once the requester's licences have
  ended, its requests are refused.

(The AssetRegistry's own machine, tests/contracts/test_asset_registry_state.py,
checks ``hasAccess`` against each licence's expiry, including its last second
and the second it ends; nothing of it is repeated here.)

Time: the chain starts far ahead of the wall clock, so every block is its
parent's time + 1; every transaction is sent with its gas, so a reverted one
is mined too and runs at ``latest + 1`` like the others.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from troika import ContractReverted
from troika.assets import AssetKind, AssetRegistry
from troika.chain import ArtifactStore, Chain, Contract, Receipt

FEDERATED_TRAIN, EVALUATE, STATS = 0, 1, 2
NONE, REQUESTED, RUNNING, COMPLETED, DISPUTED, REFUNDED = range(6)
UNSETTLED = (REQUESTED, RUNNING, DISPUTED)
ZERO = "0x" + "00" * 20
BPS = 10_000
GAS = 3_000_000  # given, so nothing is estimated and a revert is mined like a success
LICENCE = 6 * 3600  # the requester's licences end this long after the start
BUDGET = 2_000  # each dataset's first budget, in thousandths of epsilon
PARAMS = hashlib.sha256(b"params").digest()
DIGESTS = [hashlib.sha256(label).digest() for label in (b"result", b"report", b"other")]
PAYMENTS = st.sampled_from([0, 1, 3, 10_007, 10**18 + 7]) | st.integers(0, 10**19)
SHARES = st.sampled_from([(6000, 2500, 1500), (10_000, 0, 0), (0, 0, 10_000), (3333, 3333, 3334)])
IN_TOKEN = st.sampled_from([False, False, True])  # a third of the jobs are paid in the token
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def abi_type(argument: dict[str, Any]) -> str:
    """The eth-abi type string of an ABI argument, tuples spelled out."""
    kind = str(argument["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in argument["components"])
        return f"({inner}){kind[5:]}"
    return kind


class Views:
    """Calls views straight on the embedded EVM's backend: a few times faster
    than ``Contract.call`` through web3's middleware, which the checks after
    every step need (see tests/contracts/test_asset_registry_state.py)."""

    def __init__(self, contract: Contract) -> None:
        self.backend = contract.chain.w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
        self.to = bytes.fromhex(contract.address[2:])
        self.caller = bytes.fromhex(contract.chain.accounts[0][2:])
        self.functions = {
            entry["name"]: entry for entry in contract.artifact.abi if entry["type"] == "function"
        }

    def __call__(self, function: str, *args: Any) -> Any:
        abi = self.functions[function]
        inputs = [abi_type(argument) for argument in abi["inputs"]]
        outputs = [abi_type(argument) for argument in abi["outputs"]]
        selector = keccak(f"{function}({','.join(inputs)})".encode())[:4]
        transaction = {"from": self.caller, "to": self.to, "data": selector + encode(inputs, args)}
        values = decode(outputs, self.backend.call(transaction))
        return values[0] if len(values) == 1 else values


@dataclass
class Job:
    requester: str
    kind: int
    datasets: list[int]
    owners: list[str]  # at request time: who is paid
    model_owner: str
    deadline: int
    payment: int
    epsilon: int
    shares: tuple[int, int, int]
    currency: str = ZERO  # the token it is paid in; ZERO: the native coin
    status: int = REQUESTED
    accepted: dict[int, str] = field(default_factory=dict)  # dataset -> its participating node
    nodes: list[str] = field(default_factory=list)  # distinct, in order of acceptance
    confirmed: set[str] = field(default_factory=set)
    digests: tuple[bytes, bytes] | None = None


@dataclass(frozen=True)
class Market:
    """The market every run starts from: built once, then restored from a snapshot."""

    chain: Chain
    registry: AssetRegistry
    jobs: Contract
    view: Views
    datasets: list[int]
    model: int
    licence_expiry: int
    token: Contract
    token_view: Views
    snapshot: Any


@functools.cache
def market() -> Market:
    """Three datasets (owners 1-3, nodes 4-6, budgets set), a model (owner 7), a
    requester (8) licensed for all four until ``licence_expiry``; 9 is a stranger."""
    chain = Chain.embedded(artifacts=ArtifactStore([ARTIFACTS]))
    accounts = chain.accounts
    chain.w3.testing.timeTravel(int(time.time()) + 10**7)  # type: ignore[attr-defined]
    registry = AssetRegistry.deploy(chain, sender=accounts[0])
    tokens = [
        registry.mint_batch(
            owner, kind, [hashlib.sha256(b"asset %d" % i).digest()], sender=accounts[0]
        ).token_ids[0]
        for i, (owner, kind) in enumerate(
            [(a, AssetKind.DATASET) for a in accounts[1:4]] + [(accounts[7], AssetKind.MODEL)]
        )
    ]
    latest = chain.block("latest")
    assert latest is not None
    licence_expiry = latest.timestamp + LICENCE
    for token, owner in zip(tokens, [*accounts[1:4], accounts[7]], strict=True):
        registry.grant_license(token, accounts[8], licence_expiry, sender=owner)
    jobs = chain.deploy("ComputeJobs", registry.address, sender=accounts[0], record=False)
    for dataset, owner, node in zip(tokens[:3], accounts[1:4], accounts[4:7], strict=True):
        jobs.transact("registerNode", dataset, node, sender=owner)
        jobs.transact("setBudget", dataset, BUDGET, sender=owner)
    token = chain.deploy("TestToken", sender=accounts[0], record=False)
    for payer in (*accounts[1:4], accounts[8], accounts[9]):  # whoever may request
        token.transact("mint", payer, 10**30, sender=accounts[0])
        token.transact("approve", jobs.address, 2**256 - 1, sender=payer)
    snapshot = chain.w3.testing.snapshot()  # type: ignore[attr-defined]
    datasets, model = tokens[:3], tokens[3]
    return Market(
        chain,
        registry,
        jobs,
        Views(jobs),
        datasets,
        model,
        licence_expiry,
        token,
        Views(token),
        snapshot,
    )


class ComputeJobsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        start = market()
        self.chain = start.chain
        self.chain.w3.testing.revert(start.snapshot)  # type: ignore[attr-defined]
        accounts = self.chain.accounts
        for account in accounts:
            self.chain.nonces.forget(account)  # the snapshot undid their transactions
        self.registry, self.jobs, self.view = start.registry, start.jobs, start.view
        self.datasets, self.model = start.datasets, start.model
        self.licence_expiry = start.licence_expiry
        self.token, self.token_view = start.token.address, start.token_view
        self.admin = accounts[0]
        self.owners = list(accounts[1:4])
        self.nodes = list(accounts[4:7])
        self.model_owner, self.requester, self.stranger = accounts[7], accounts[8], accounts[9]
        self.accounts = list(accounts[:10])
        self.holder = dict(zip(self.datasets, self.owners, strict=True))  # current owners
        self.holder[self.model] = self.model_owner
        self.node_of = dict(zip(self.datasets, self.nodes, strict=True))
        self.budgets = {dataset: [BUDGET, 0] for dataset in self.datasets}  # [total, spent]
        self.model_jobs: dict[int, Job] = {}
        # by (currency, account): ZERO for the native coin, else the token's address
        self.owed: dict[tuple[str, str], int] = defaultdict(int)
        self.credited: dict[tuple[str, str], int] = defaultdict(int)  # ever, from Credited events
        self.withdrawn: dict[tuple[str, str], int] = defaultdict(int)  # ever, from balances
        self.credited_by_job: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.paid_in: dict[str, int] = defaultdict(int)  # by currency
        self.paid_out: dict[str, int] = defaultdict(int)
        self.touched: set[int] = set()  # jobs
        self.touched_accounts: set[str] = set()
        self.touched_datasets: set[int] = set()
        self.now = self.latest()

    # -- helpers ---------------------------------------------------------------------------------

    def latest(self) -> int:
        block = self.chain.block("latest")
        assert block is not None
        return block.timestamp

    def travel_to(self, latest: int) -> None:
        """Makes ``latest`` the latest block's time (eth-tester mines one at ``to - 1``)."""
        self.chain.w3.testing.timeTravel(latest + 1)  # type: ignore[attr-defined]
        self.now = self.latest()
        assert self.now == latest

    def send(self, function: str, *args: Any, sender: str, value: int = 0) -> Receipt:
        before = self.now
        try:
            receipt = self.jobs.transact(function, *args, sender=sender, value=value, gas=GAS)
        finally:
            self.now = self.latest()
            assert self.now == before + 1  # ran at latest + 1, as the model assumes
        self.record_credits(receipt)
        return receipt

    def reverts(
        self,
        expected: tuple[Any, ...],
        function: str,
        *args: Any,
        sender: str,
        value: int = 0,
        boundary: bool = False,
    ) -> None:
        """The call reverts with ``expected``; ``boundary``: because the block's
        time just reached a deadline or an expiry, which troika names wrongly for
        now (see ``test_a_revert_at_a_deadline_is_named``): any revert will do."""
        try:
            self.send(function, *args, sender=sender, value=value)
        except ContractReverted as reverted:
            outcome: tuple[Any, ...] | None = (reverted.error, *reverted.error_args)
        else:
            outcome = None
        if boundary and outcome is not None:
            return  # reverted, but the replay that names the error ran a second early
        assert outcome == expected, f"{function}{args} by {sender}: {outcome}"

    def record_credits(self, receipt: Receipt) -> None:
        for event in self.jobs.events(receipt, "Credited"):
            job_id, account, amount = (event.args[k] for k in ("jobId", "account", "amount"))
            self.credited[self.model_jobs[job_id].currency, account] += amount
            self.touched_accounts.add(account)
            self.credited_by_job[job_id][account] += amount

    def pick_job(self, data: st.DataObject) -> int:
        """Mostly a job that exists, now and then one that does not."""
        count = len(self.model_jobs)
        return data.draw(st.integers(1, count) | st.sampled_from([0, count + 1]), label="job")

    def credit(self, currency: str, account: str, amount: int) -> None:
        self.owed[currency, account] += amount

    # -- requesting ------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        kind=st.sampled_from([STATS, STATS, FEDERATED_TRAIN, EVALUATE]),
        payment=PAYMENTS,
        epsilon=st.sampled_from([0, 1, 500, 999]) | st.integers(0, 2_500),
        shares=SHARES,
        ahead=st.sampled_from([0, 1, 2, 60]) | st.integers(3, 7_200),
        by=st.sampled_from(["requester"] * 6 + ["stranger", "owner"]),
        in_token=IN_TOKEN,
    )
    def request(
        self,
        data: st.DataObject,
        kind: int,
        payment: int,
        epsilon: int,
        shares: tuple[int, int, int],
        ahead: int,
        by: str,
        in_token: bool,
    ) -> None:
        datasets = data.draw(
            st.lists(st.sampled_from(self.datasets), min_size=1, max_size=3, unique=True),
            label="datasets",
        )
        sender = {"requester": self.requester, "stranger": self.stranger}.get(by) or (
            data.draw(st.sampled_from(self.owners), label="owner")
        )
        model = 0 if kind == STATS else self.model
        if kind == STATS:
            epsilon = max(epsilon, 1)  # EpsilonRequired is the table's, see the access tests
            shares = (shares[0] + shares[1], 0, shares[2])
        deadline = self.now + ahead
        at = self.now + 1

        def usable(token: int) -> bool:
            licensed = sender == self.requester and at < self.licence_expiry
            return self.holder[token] == sender or licensed

        args: tuple[Any, ...] = (kind, datasets, model, PARAMS, deadline, epsilon, shares)
        function, value, currency = "requestJob", payment, ZERO
        if in_token:
            function, value, currency = "requestJobWithToken", 0, self.token
            args = (*args, self.token, payment)
        blocked = [t for t in ([model] if model else []) + datasets if not usable(t)]
        if deadline <= at:
            expected: tuple[Any, ...] = ("DeadlineInPast", deadline)
            self.reverts(expected, function, *args, sender=sender, boundary=deadline == at)
        elif blocked:
            expected = ("NoAccess", blocked[0], sender)
            ended = sender == self.requester and at == self.licence_expiry
            self.reverts(expected, function, *args, sender=sender, value=value, boundary=ended)
        else:
            receipt = self.send(function, *args, sender=sender, value=value)
            (event,) = self.jobs.events(receipt, "JobRequested")
            job_id = len(self.model_jobs) + 1
            assert event.args["jobId"] == job_id
            self.model_jobs[job_id] = Job(
                requester=sender,
                kind=kind,
                datasets=datasets,
                owners=[self.holder[d] for d in datasets],
                model_owner=self.holder[model] if model else ZERO,
                deadline=deadline,
                payment=payment,
                epsilon=epsilon,
                shares=shares,
                currency=currency,
            )
            self.paid_in[currency] += payment
            self.touched.add(job_id)

    @initialize(
        data=st.data(), kinds=st.lists(st.sampled_from([STATS, EVALUATE]), min_size=2, max_size=3)
    )
    def open_the_market(self, data: st.DataObject, kinds: list[int]) -> None:
        """A few jobs the requester may request, so every run has some to settle."""
        for kind in kinds:
            self.request(
                data,
                kind=kind,
                payment=data.draw(PAYMENTS, label="payment"),
                epsilon=data.draw(st.integers(1, 900), label="epsilon"),
                shares=data.draw(SHARES, label="shares"),
                ahead=data.draw(st.integers(600, 7_200), label="ahead"),
                by="requester",
                in_token=data.draw(IN_TOKEN, label="in the token"),
            )

    # -- running ---------------------------------------------------------------------------------

    @precondition(lambda self: self.model_jobs)
    @rule(data=st.data(), by=st.sampled_from(["owner", "node", "node", "stranger"]))
    def accept(self, data: st.DataObject, by: str) -> None:
        """One dataset: mostly one the job still waits for, by its owner or node."""
        job_id = self.pick_job(data)
        job = self.model_jobs.get(job_id)
        pending = [d for d in job.datasets if d not in job.accepted] if job else []
        if pending and data.draw(st.integers(0, 4), label="a pending dataset") > 0:
            dataset = data.draw(st.sampled_from(pending), label="dataset")
        else:
            dataset = data.draw(st.sampled_from(self.datasets), label="dataset")
        sender = {"owner": self.holder[dataset], "node": self.acceptor(dataset)}.get(
            by
        ) or data.draw(st.sampled_from(self.accounts), label="stranger")
        self.accept_one(job_id, dataset, sender)

    @precondition(lambda self: any(j.status == REQUESTED for j in self.model_jobs.values()))
    @rule(data=st.data())
    def accept_the_rest(self, data: st.DataObject) -> None:
        """Every dataset a requested job still waits for, each by its node (or owner)."""
        requested = [i for i, j in self.model_jobs.items() if j.status == REQUESTED]
        job_id = data.draw(st.sampled_from(requested), label="job")
        job = self.model_jobs[job_id]
        for dataset in [d for d in job.datasets if d not in job.accepted]:
            self.accept_one(job_id, dataset, self.acceptor(dataset))

    def acceptor(self, dataset: int) -> str:
        node = self.node_of[dataset]
        return self.holder[dataset] if node == ZERO else node

    def accept_one(self, job_id: int, dataset: int, sender: str) -> None:
        job = self.model_jobs.get(job_id)
        at = self.now + 1
        call = ("acceptJob", job_id, dataset)
        if job is None:
            return self.reverts(("UnknownJob", job_id), *call, sender=sender)
        self.touched.add(job_id)
        if job.status != REQUESTED:
            return self.reverts(("InvalidStatus", job_id, job.status), *call, sender=sender)
        if at >= job.deadline:
            expected = ("DeadlinePassed", job_id, job.deadline)
            return self.reverts(expected, *call, sender=sender, boundary=at == job.deadline)
        if dataset not in job.datasets:
            return self.reverts(("DatasetNotInJob", job_id, dataset), *call, sender=sender)
        if dataset in job.accepted:
            return self.reverts(("AlreadyAccepted", job_id, dataset), *call, sender=sender)
        if sender not in (self.node_of[dataset], self.holder[dataset]):
            return self.reverts(("NotOwnerOrNode", dataset, sender), *call, sender=sender)
        total, spent = self.budgets[dataset]
        if job.epsilon > total - spent:
            expected = ("BudgetExceeded", dataset, job.epsilon, total - spent)
            return self.reverts(expected, *call, sender=sender)
        self.send(*call, sender=sender)
        self.budgets[dataset][1] += job.epsilon
        self.touched_datasets.add(dataset)
        job.accepted[dataset] = sender
        if sender not in job.nodes:
            job.nodes.append(sender)
        if len(job.accepted) == len(job.datasets):
            job.status = RUNNING
        return None

    @precondition(lambda self: any(j.status == RUNNING for j in self.model_jobs.values()))
    @rule(
        data=st.data(),
        by=st.sampled_from(["participant"] * 4 + ["anyone"]),
        agree=st.sampled_from([True, True, True, False]),
    )
    def submit(self, data: st.DataObject, by: str, agree: bool) -> None:
        """One node: mostly a participant of a running job, mostly agreeing."""
        running = [i for i, j in self.model_jobs.items() if j.status == RUNNING]
        job_id = data.draw(st.sampled_from(running), label="job") if by != "anyone" else None
        job_id = job_id or self.pick_job(data)
        job = self.model_jobs.get(job_id)
        if by == "participant" and job is not None and job.nodes:
            sender = data.draw(st.sampled_from(job.nodes), label="node")
        else:
            sender = data.draw(st.sampled_from(self.accounts), label="sender")
        self.submit_one(job_id, sender, agree)

    @precondition(lambda self: any(j.status == RUNNING for j in self.model_jobs.values()))
    @rule(data=st.data(), dissenter=st.sampled_from([None, None, None, 0, 1, 2]))
    def submit_the_rest(self, data: st.DataObject, dissenter: int | None) -> None:
        """Every participant of a running job that has not confirmed; maybe one dissents."""
        running = [i for i, j in self.model_jobs.items() if j.status == RUNNING]
        job_id = data.draw(st.sampled_from(running), label="job")
        job = self.model_jobs[job_id]
        for index, node in enumerate([n for n in job.nodes if n not in job.confirmed]):
            self.submit_one(job_id, node, agree=index != dissenter)

    def submit_one(self, job_id: int, sender: str, agree: bool) -> None:
        job = self.model_jobs.get(job_id)
        first = job.digests if job is not None and job.digests else (DIGESTS[0], DIGESTS[1])
        digests = first if agree else (first[0], DIGESTS[2])
        call = ("submitResult", job_id, *digests)
        if job is None:
            self.reverts(("UnknownJob", job_id), *call, sender=sender)
            return
        self.touched.add(job_id)
        if job.status != RUNNING:
            self.reverts(("InvalidStatus", job_id, job.status), *call, sender=sender)
        elif self.now + 1 >= job.deadline:
            expected = ("DeadlinePassed", job_id, job.deadline)
            self.reverts(expected, *call, sender=sender, boundary=self.now + 1 == job.deadline)
        elif sender not in job.nodes:
            self.reverts(("NotParticipant", job_id, sender), *call, sender=sender)
        elif sender in job.confirmed:
            self.reverts(("AlreadyConfirmed", job_id, sender), *call, sender=sender)
        else:
            receipt = self.send(*call, sender=sender)
            if job.digests is not None and digests != job.digests:
                job.status = DISPUTED
                assert not self.jobs.events(receipt, "Credited")
                return
            job.digests = digests
            job.confirmed.add(sender)
            if len(job.confirmed) == len(job.nodes):
                job.status = COMPLETED
                self.settle(job)

    def settle(self, job: Job) -> None:
        """What the contract's documentation promises, computed independently."""
        payment, count, nodes = job.payment, len(job.datasets), len(job.nodes)
        per_owner = payment * job.shares[0] // BPS // count
        model_amount = payment * job.shares[1] // BPS
        per_node = payment * job.shares[2] // BPS // nodes
        for owner in job.owners:
            self.credit(job.currency, owner, per_owner)
        for node in job.nodes:
            self.credit(job.currency, node, per_node)
        self.credit(job.currency, job.model_owner, model_amount)
        dust = payment - per_owner * count - model_amount - per_node * nodes
        assert 0 <= dust < count + nodes + 2
        self.credit(job.currency, job.requester, dust)

    # -- money back and out ----------------------------------------------------------------------

    @precondition(lambda self: self.model_jobs)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        job_id = self.pick_job(data)
        sender = data.draw(st.sampled_from(self.accounts), label="sender")  # anyone may
        job = self.model_jobs.get(job_id)
        if job is None:
            self.reverts(("UnknownJob", job_id), "refund", job_id, sender=sender)
            return
        self.touched.add(job_id)
        if job.status in (COMPLETED, REFUNDED):
            self.reverts(("InvalidStatus", job_id, job.status), "refund", job_id, sender=sender)
        elif self.now + 1 < job.deadline:
            expected = ("DeadlineNotPassed", job_id, job.deadline)
            self.reverts(expected, "refund", job_id, sender=sender)
        else:
            self.send("refund", job_id, sender=sender)
            job.status = REFUNDED
            self.credit(job.currency, job.requester, job.payment)

    @rule(data=st.data(), in_token=IN_TOKEN)
    def withdraw(self, data: st.DataObject, in_token: bool) -> None:
        currency = self.token if in_token else ZERO
        owing = sorted(
            a for (c, a), amount in self.owed.items() if amount and a != ZERO and c == currency
        )
        if owing and data.draw(st.booleans(), label="one who is owed"):
            sender = data.draw(st.sampled_from(owing), label="sender")
        else:
            sender = data.draw(st.sampled_from(self.accounts), label="sender")
        amount = self.owed[currency, sender]
        if amount == 0 and not in_token:
            self.reverts(("NothingOwed", sender), "withdraw", sender=sender)
            return
        if amount == 0:
            expected = ("NothingOwedInToken", self.token, sender)
            self.reverts(expected, "withdrawToken", self.token, sender=sender)
            return
        if in_token:
            before = self.token_view("balanceOf", sender)
            receipt = self.send("withdrawToken", self.token, sender=sender)
            received = self.token_view("balanceOf", sender) - before
            (event,) = self.jobs.events(receipt, "TokenWithdrawn")
            assert event.args["token"] == self.token
        else:
            before = self.chain.balance(sender)
            receipt = self.send("withdraw", sender=sender)
            received = self.chain.balance(sender) - before + receipt.fee
            (event,) = self.jobs.events(receipt, "Withdrawn")
        assert received == amount
        assert (event.args["account"], event.args["amount"]) == (sender, amount)
        self.withdrawn[currency, sender] += received
        self.touched_accounts.add(sender)
        self.paid_out[currency] += received
        self.owed[currency, sender] = 0

    # -- datasets --------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        what=st.sampled_from(["budget", "budget", "node", "hand over"]),
        by=st.sampled_from(["owner", "owner", "other"]),
    )
    def look_after_a_dataset(self, data: st.DataObject, what: str, by: str) -> None:
        """Its owner (or someone else, refused) sets its budget or node, or hands it
        over: its owner at request time is still paid for the jobs requested before."""
        dataset = data.draw(st.sampled_from(self.datasets), label="dataset")
        owner = self.holder[dataset]
        if what == "hand over":
            to = data.draw(st.sampled_from([*self.owners, self.stranger]), label="to")
            self.registry.transfer(dataset, to, sender=owner)
            self.holder[dataset] = to
            self.now = self.latest()
            return
        if what == "budget":
            total = data.draw(st.sampled_from([0, 1, 999]) | st.integers(0, 5_000), "total")
            call: tuple[Any, ...] = ("setBudget", dataset, total)
        else:
            node = data.draw(st.sampled_from([*self.nodes, ZERO]), label="node")
            call = ("registerNode", dataset, node)
        if by == "other":
            sender = data.draw(st.sampled_from([a for a in self.accounts if a != owner]), "other")
            self.reverts(("NotDatasetOwner", dataset, sender), *call, sender=sender)
        elif what == "budget" and total < self.budgets[dataset][1]:
            spent = self.budgets[dataset][1]
            self.reverts(("BudgetBelowSpent", dataset, total, spent), *call, sender=owner)
        else:
            self.send(*call, sender=owner)
            if what == "budget":
                self.budgets[dataset][0] = total
                self.touched_datasets.add(dataset)
            else:
                self.node_of[dataset] = node

    # -- time ------------------------------------------------------------------------------------

    @rule(data=st.data(), to=st.sampled_from(["any"] * 4 + ["a deadline"] * 3 + ["licence"]))
    def advance_time(self, data: st.DataObject, to: str) -> None:
        """By up to an hour, or to a deadline or the licences' end, or just before it."""
        deadlines = sorted({j.deadline for j in self.model_jobs.values()} - {self.now + 1})
        ends = {
            "a deadline": [d for d in deadlines if d > self.now + 1],
            "licence": [self.licence_expiry] if self.licence_expiry > self.now + 1 else [],
        }.get(to)
        if ends:
            end = data.draw(st.sampled_from(ends), label="end")
            self.travel_to(end + data.draw(st.sampled_from([-2, -1, 0]), label="offset"))
        else:
            self.travel_to(self.now + data.draw(st.integers(1, 3_600), label="seconds"))

    # -- checks ----------------------------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        """On chain: the balance is what is owed plus the unsettled payments, and
        what was withdrawn plus the balance is what was paid in. (The model's
        owed amounts and statuses are checked against the chain just below.)
        In the coin and in the token, each on its own."""
        for currency in (ZERO, self.token):
            if currency == ZERO:
                balance = self.chain.balance(self.jobs.address)
            else:
                balance = self.token_view("balanceOf", self.jobs.address)
            held = sum(
                j.payment
                for j in self.model_jobs.values()
                if j.status in UNSETTLED and j.currency == currency
            )
            owed = sum(v for (c, _), v in self.owed.items() if c == currency)
            assert balance == owed + held
            assert self.paid_out[currency] + balance == self.paid_in[currency]

    @invariant()
    def nobody_withdraws_more_than_credited(self) -> None:
        for key in {*self.credited, *self.withdrawn, *self.owed}:  # (currency, account)
            withdrawn, credited = self.withdrawn[key], self.credited[key]
            assert withdrawn <= credited
            assert withdrawn + self.owed[key] == credited

    @invariant()
    def a_job_is_paid_at_most_once_and_a_dispute_pays_nobody(self) -> None:
        for job_id, job in self.model_jobs.items():
            credits = {a: v for a, v in self.credited_by_job[job_id].items() if v}
            if job.status in UNSETTLED:
                assert credits == {}
            elif job.status == REFUNDED:
                assert credits == ({job.requester: job.payment} if job.payment else {})
            else:
                assert sum(credits.values()) == job.payment

    @invariant()
    def budgets_only_grow_by_accepted_epsilon(self) -> None:
        for dataset, (total, spent) in self.budgets.items():
            assert spent <= total  # a budget may be lowered to what was spent, no lower
            assert spent == sum(
                job.epsilon for job in self.model_jobs.values() if dataset in job.accepted
            )

    @invariant()
    def the_chain_matches_the_model(self) -> None:
        """What the step touched: its jobs, the accounts it credited or paid, the
        datasets whose budget it used or set (everything again at the end)."""
        self.check(self.touched, self.touched_accounts, self.touched_datasets)
        self.touched.clear()
        self.touched_accounts.clear()
        self.touched_datasets.clear()

    def check(self, jobs: set[int], accounts: set[str], datasets: set[int]) -> None:
        for job_id in sorted(jobs):
            job = self.model_jobs[job_id]
            record = self.view("job", job_id)
            assert to_checksum_address(record[0]) == job.requester
            assert (record[2], record[6], record[7]) == (job.status, job.payment, job.epsilon)
            assert (record[11], record[12], record[13]) == (
                len(job.accepted),
                len(job.confirmed),
                len(job.nodes),
            )
            assert to_checksum_address(record[14]) == job.currency
        for account in sorted(accounts):
            assert self.view("owed", account) == self.owed[ZERO, account]
            assert self.view("owedToken", self.token, account) == self.owed[self.token, account]
        for dataset in sorted(datasets):
            assert tuple(self.view("budget", dataset)) == tuple(self.budgets[dataset])

    def teardown(self) -> None:
        assert self.view("jobCount") == len(self.model_jobs)
        every = {*self.accounts, ZERO}
        self.check(set(self.model_jobs), every, set(self.datasets))


TestComputeJobsState = ComputeJobsMachine.TestCase
TestComputeJobsState.settings = settings(
    max_examples=10,
    stateful_step_count=25,
    deadline=None,
    # no explain phase: on Python < 3.12 it traces every line, doubling the run
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_a_revert_at_a_deadline_is_named(chain: Chain) -> None:
    """What a requester racing a deadline meets: the estimate passed a block
    earlier, the transaction is mined at the deadline and reverts; troika names
    the revert (anvil's trace of it; on the embedded EVM, a replay in its own
    block, since the parent's is a block too early)."""
    owner = chain.accounts[1]
    registry = AssetRegistry.deploy(chain)
    (dataset,) = registry.mint_batch(owner, AssetKind.DATASET, [bytes(32)]).token_ids
    jobs = chain.deploy("ComputeJobs", registry.address, record=False)
    latest = chain.block("latest")
    assert latest is not None
    deadline = latest.timestamp + 100  # ahead of the wall clock: blocks are parent + 1
    if chain.is_embedded:  # eth-tester mines a block at deadline - 1: the next is at deadline
        chain.w3.testing.timeTravel(deadline)  # type: ignore[attr-defined]
    else:
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [deadline])  # type: ignore[arg-type]
    args = (STATS, [dataset], 0, PARAMS, deadline, 1, (9000, 0, 1000))
    with pytest.raises(ContractReverted) as caught:
        jobs.transact("requestJob", *args, sender=owner, gas=GAS)
    mined = chain.block("latest")
    assert mined is not None
    assert mined.timestamp == deadline  # so it reverted with DeadlineInPast(deadline)
    assert (caught.value.error, caught.value.error_args) == ("DeadlineInPast", (deadline,))
