"""Attacks on the contracts' money and permissions, on the embedded EVM.

Reentrancy: ``ReentrantAttacker`` (contracts/test) is a requester, a dataset
owner and its own node; while ComputeJobs pays it, it re-enters with every
state-changing call of the market. It is never paid more than was credited
to it, the guarded calls refuse it, and the market's money is conserved.
The only payable function of ComputeJobs is ``requestJob`` and the only
call that sends coin is ``withdraw`` (refunds are credits); the
AssetRegistry has no payable path at all. A job paid in an ERC-20 token
calls the token twice: ``requestJobWithToken`` pulls the payment and
``withdrawToken`` pays it out; ``ReentrantToken`` re-enters the market from
inside both transfers with every state-changing call. The four that move or
release money (``requestJobWithToken``, ``refund``, ``withdraw``,
``withdrawToken``) are nonReentrant and refuse it; the others are not
guarded and do what the token's own rights allow, with the job recorded in
full and the escrow still exactly the amount named.

Access control: every state-changing function of both contracts, read from
their ABIs, has an entry in ``RULES`` naming the tests where the right caller
succeeds and a wrong caller reverts with the documented custom error; most
are in tests/contracts/ and tests/assets/, and the missing ones are here. A
new state-changing function without an entry fails ``test_every_state_changing
_function_has_its_access_rule_tested``.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from troika import ContractReverted, TroikaError
from troika.assets import AssetKind, AssetRegistry
from troika.chain import ArtifactStore, Chain, Contract, load_artifact

TESTS = Path(__file__).resolve().parents[1]
STATS, REQUESTED, REFUNDED, COMPLETED = 2, 1, 5, 3
ETHER = 10**18
PARAMS = hashlib.sha256(b"params").digest()
RESULT = hashlib.sha256(b"result").digest()
ZERO = "0x" + "00" * 20
GUARDED = keccak(b"ReentrancyGuardReentrantCall()")[:4]
SUCCEEDED = bytes(4)


def refused(signature: str) -> bytes:
    """The selector of the custom error with this signature (what a revert starts with)."""
    return keccak(signature.encode())[:4]


MINTER_ROLE = keccak(b"MINTER_ROLE")


def now(chain: Chain) -> int:
    latest = chain.block("latest")
    assert latest is not None
    return latest.timestamp


def advance(chain: Chain, seconds: int) -> None:
    chain.w3.testing.timeTravel(now(chain) + seconds)  # type: ignore[attr-defined]


@dataclass
class Market:
    chain: Chain
    registry: AssetRegistry
    jobs: Contract
    attacker: Contract
    owner: str  # of dataset ``theirs``
    requester: str
    stranger: str
    theirs: int  # a dataset of ``owner``, licensed to the attacker
    ours: int  # the attacker's own dataset

    def calldata(self, function: str, *args: Any) -> bytes:
        encoder = self.chain.w3.eth.contract(abi=list(self.jobs.artifact.abi))
        return bytes.fromhex(encoder.encode_abi(function, args=list(args))[2:])

    def as_attacker(self, function: str, *args: Any, value: int = 0) -> Any:
        data = self.calldata(function, *args)
        return self.attacker.transact(
            "forward", self.jobs.address, data, sender=self.stranger, value=value
        )

    def request_as_attacker(self, dataset: int, payment: int, deadline: int) -> int:
        self.as_attacker(
            "requestJob", STATS, [dataset], 0, PARAMS, deadline, 1, (9000, 0, 1000), value=payment
        )
        return int(self.jobs.call("jobCount"))

    def reenter_with(self, *calls: tuple[str, tuple[Any, ...], int]) -> None:
        data = [self.calldata(function, *args) for function, args, _ in calls]
        values = [value for _, _, value in calls]
        self.attacker.transact("setReentries", data, values, sender=self.stranger)

    def status(self, job_id: int) -> int:
        return int(self.jobs.call("job", job_id)[2])

    def check_money(self, paid_in: int) -> None:
        """Balance = owed + unsettled payments, and nothing left or came in otherwise."""
        accounts = [*self.chain.accounts, self.attacker.address]
        owed = sum(int(self.jobs.call("owed", account)) for account in accounts)
        held = 0
        for job_id in range(1, int(self.jobs.call("jobCount")) + 1):
            record = self.jobs.call("job", job_id)
            if record[2] not in (COMPLETED, REFUNDED):
                held += int(record[6])
        balance = self.chain.balance(self.jobs.address)
        assert balance == owed + held
        withdrawn = sum(int(event.args["amount"]) for event in self.jobs.logs("Withdrawn"))
        assert withdrawn + balance == paid_in


@pytest.fixture
def market() -> Market:
    chain = Chain.embedded(artifacts=ArtifactStore([TESTS / "artifacts"]))
    admin, owner, requester, stranger = (chain.accounts[i] for i in (0, 1, 8, 9))
    registry = AssetRegistry.deploy(chain, sender=admin)
    jobs = chain.deploy("ComputeJobs", registry.address, sender=admin, record=False)
    attacker = chain.deploy("ReentrantAttacker", jobs.address, sender=stranger, record=False)
    (theirs,) = registry.mint_batch(owner, AssetKind.DATASET, [b"\x01" * 32]).token_ids
    (ours,) = registry.mint_batch(attacker.address, AssetKind.DATASET, [b"\x02" * 32]).token_ids
    in_a_day = now(chain) + 86_400
    registry.grant_license(theirs, attacker.address, in_a_day, sender=owner)
    jobs.transact("setBudget", theirs, 10_000, sender=owner)
    market = Market(chain, registry, jobs, attacker, owner, requester, stranger, theirs, ours)
    # the attacker licenses its dataset to the requester and gives it a budget
    licence = _grant(chain, registry, ours, requester, in_a_day)
    attacker.transact("forward", registry.address, licence, sender=stranger)
    market.as_attacker("setBudget", ours, 10_000)
    return market


def _grant(chain: Chain, registry: AssetRegistry, token: int, account: str, expiry: int) -> bytes:
    encoder = chain.w3.eth.contract(abi=list(registry.contract.artifact.abi))
    return bytes.fromhex(encoder.encode_abi("grantLicense", args=[token, account, expiry])[2:])


# -- reentrancy ----------------------------------------------------------------------------------


def test_a_reentrant_requester_is_paid_its_refund_once(market: Market) -> None:
    """Refunds only credit; while ``withdraw`` pays it, the attacker re-enters
    ``withdraw`` and ``refund`` (refused by the guard) and ``requestJob`` with
    the coin it just got (allowed: the money goes back into the market)."""
    chain, jobs, attacker = market.chain, market.jobs, market.attacker
    deadline = now(chain) + 60
    first = market.request_as_attacker(market.theirs, ETHER, deadline)
    second = market.request_as_attacker(market.theirs, 2 * ETHER, deadline)
    paid_in = 3 * ETHER
    market.check_money(paid_in)
    advance(chain, 60)
    jobs.transact("refund", first, sender=market.stranger)
    assert chain.balance(attacker.address) == 0  # a refund is a credit, not a payment
    assert attacker.call("payments") == 0
    assert jobs.call("owed", attacker.address) == ETHER
    market.check_money(paid_in)

    far = now(chain) + 3_600
    market.reenter_with(
        ("withdraw", (), 0),
        ("refund", (second,), 0),
        ("requestJob", (STATS, [market.theirs], 0, PARAMS, far, 1, (9000, 0, 1000)), ETHER),
    )
    market.as_attacker("withdraw")
    assert attacker.call("outcomes") == [GUARDED, GUARDED, bytes(4)]
    assert (attacker.call("received"), attacker.call("payments")) == (ETHER, 1)
    assert chain.balance(attacker.address) == 0  # all of it went into the third job
    assert jobs.call("owed", attacker.address) == 0
    assert market.status(second) == REQUESTED
    third = int(jobs.call("jobCount"))
    assert jobs.call("job", third)[0] == attacker.address
    paid_in += ETHER
    market.check_money(paid_in)

    # the second job's refund is paid once, in full, the next time
    jobs.transact("refund", second, sender=market.requester)
    market.reenter_with(("withdraw", (), 0), ("refund", (second,), 0))
    market.as_attacker("withdraw")
    assert attacker.call("outcomes") == [GUARDED, GUARDED]
    assert (attacker.call("received"), attacker.call("payments")) == (3 * ETHER, 2)
    assert chain.balance(attacker.address) == 2 * ETHER
    market.check_money(paid_in)
    with pytest.raises(ContractReverted) as nothing:
        market.as_attacker("withdraw")
    assert nothing.value.error == "NothingOwed"


def test_a_reentrant_owner_and_node_gets_exactly_its_credits(market: Market) -> None:
    """The attacker owns and runs a dataset: while paid for one job it accepts
    and completes others, sets its budget and node; each is a legitimate act
    credited once, and paid only by a later ``withdraw``."""
    chain, jobs, attacker, ours = market.chain, market.jobs, market.attacker, market.ours
    deadline = now(chain) + 3_600
    shares = (9000, 0, 1000)
    ids = []
    for payment in (ETHER + 7, 2 * ETHER + 3, 5 * ETHER):
        jobs.transact(
            "requestJob", STATS, [ours], 0, PARAMS, deadline, 1, shares,
            sender=market.requester, value=payment,
        )  # fmt: skip
        ids.append(int(jobs.call("jobCount")))
    paid_in = 8 * ETHER + 10
    first, second, third = ids
    market.as_attacker("acceptJob", first, ours)
    market.as_attacker("acceptJob", second, ours)
    receipt = market.as_attacker("submitResult", first, RESULT, RESULT)
    owed = sum(
        e.args["amount"]
        for e in jobs.events(receipt, "Credited")
        if e.args["account"] == attacker.address
    )  # as the dataset's owner and as its node
    assert owed == (ETHER + 7) * 9000 // 10_000 + (ETHER + 7) * 1000 // 10_000
    market.check_money(paid_in)

    market.reenter_with(
        ("submitResult", (second, RESULT, RESULT), 0),
        ("acceptJob", (third, ours), 0),
        ("setBudget", (ours, 20_000), 0),
        ("registerNode", (ours, attacker.address), 0),
        ("withdraw", (), 0),
        ("refund", (third,), 0),
    )
    market.as_attacker("withdraw")
    assert attacker.call("outcomes") == [bytes(4)] * 4 + [GUARDED, GUARDED]
    assert attacker.call("received") == owed
    assert market.status(second) == COMPLETED
    later = int(jobs.call("owed", attacker.address))
    assert later == (2 * ETHER + 3) * 9000 // 10_000 + (2 * ETHER + 3) * 1000 // 10_000
    assert tuple(jobs.call("budget", ours)) == (20_000, 3)
    market.check_money(paid_in)

    market.reenter_with(("withdraw", (), 0))
    market.as_attacker("withdraw")
    assert attacker.call("outcomes") == [GUARDED]
    assert attacker.call("received") == owed + later == chain.balance(attacker.address)
    market.check_money(paid_in)


def _token_reentries(market: Market, token: str, args: tuple[Any, ...]) -> list[bytes]:
    """Every state-changing call of the market, as the token re-enters with
    them: the four guarded ones, then the five unguarded ones (on job 1 and
    the attacker's dataset)."""
    ours = market.ours
    return [
        market.calldata("withdrawToken", token),
        market.calldata("withdraw"),
        market.calldata("refund", 1),
        market.calldata("requestJobWithToken", *args, token, ETHER),
        market.calldata("requestJob", *args),
        market.calldata("acceptJob", 1, ours),
        market.calldata("submitResult", 1, RESULT, RESULT),
        market.calldata("setBudget", ours, 20_000),
        market.calldata("registerNode", ours, token),
    ]


def test_a_reentrant_token_finds_the_market_locked_while_it_moves(market: Market) -> None:
    """A hostile payment token calls back into the market from inside the
    transfer that escrows a job's payment and the one that pays its refund
    out: every guarded call is refused; the unguarded ones are refused too,
    by the rights the token lacks (no licence, not the dataset's owner or
    node) or by the job's status; the job is recorded once, and the
    requester gets its tokens back exactly once."""
    chain, jobs, requester = market.chain, market.jobs, market.requester
    token = chain.deploy("ReentrantToken", jobs.address, sender=market.stranger, record=False)
    token.transact("mint", requester, 10 * ETHER, sender=market.stranger)
    token.transact("approve", jobs.address, 10 * ETHER, sender=requester)
    deadline = now(chain) + 60
    args = (STATS, [market.ours], 0, PARAMS, deadline, 1, (9000, 0, 1000))
    calls = _token_reentries(market, token.address, args)
    token.transact("setReentries", calls, sender=market.stranger)
    jobs.transact("requestJobWithToken", *args, token.address, ETHER, sender=requester)
    assert token.call("callbacks") == 1
    not_owner = refused("NotDatasetOwner(uint256,address)")
    assert token.call("outcomes") == [GUARDED] * 4 + [
        refused("NoAccess(uint256,address)"),  # requestJob: the token holds no licence
        refused("NotOwnerOrNode(uint256,address)"),  # acceptJob: job 1 is requested
        refused("InvalidStatus(uint256,uint8)"),  # submitResult: job 1 is not running
        not_owner,  # setBudget
        not_owner,  # registerNode
    ]
    assert jobs.call("jobCount") == 1
    assert token.call("balanceOf", jobs.address) == ETHER
    assert jobs.call("job", 1)[14] == token.address

    advance(chain, 60)
    jobs.transact("refund", 1, sender=market.stranger)
    assert jobs.call("owedToken", token.address, requester) == ETHER
    jobs.transact("withdrawToken", token.address, sender=requester)
    assert token.call("callbacks") == 2
    settled = refused("InvalidStatus(uint256,uint8)")  # job 1 is refunded
    assert token.call("outcomes") == [GUARDED] * 4 + [
        refused("DeadlineInPast(uint64)"),  # requestJob: the same deadline, passed now
        settled,  # acceptJob
        settled,  # submitResult
        not_owner,
        not_owner,
    ]
    assert token.call("balanceOf", requester) == 10 * ETHER
    assert token.call("balanceOf", jobs.address) == 0
    assert jobs.call("owedToken", token.address, requester) == 0
    assert jobs.call("jobCount") == 1
    with pytest.raises(ContractReverted) as nothing:
        jobs.transact("withdrawToken", token.address, sender=requester)
    assert nothing.value.error == "NothingOwedInToken"
    market.check_money(0)  # no coin moved


def test_a_reentrant_token_with_rights_runs_a_job_inside_its_transfer_and_gains_nothing(
    market: Market,
) -> None:
    """The unguarded calls are open to a token that holds rights: licensed
    to the attacker's dataset and registered as its node, the token requests
    a job of its own, accepts job 1 and confirms its result from inside the
    transfer that escrows job 1's payment. Job 1 is recorded in full before
    the transfer, so it completes and is credited; the credits are exactly
    the escrowed amount, the guarded calls still refuse, and no token or coin
    leaves the market until the payees withdraw."""
    chain, jobs, requester = market.chain, market.jobs, market.requester
    token = chain.deploy("ReentrantToken", jobs.address, sender=market.stranger, record=False)
    token.transact("mint", requester, 10 * ETHER, sender=market.stranger)
    token.transact("approve", jobs.address, 10 * ETHER, sender=requester)
    ours = market.ours
    in_a_day = now(chain) + 86_400
    licence = _grant(chain, market.registry, ours, token.address, in_a_day)
    market.attacker.transact("forward", market.registry.address, licence, sender=market.stranger)
    market.as_attacker("registerNode", ours, token.address)
    deadline = now(chain) + 60
    args = (STATS, [ours], 0, PARAMS, deadline, 1, (9000, 0, 1000))
    token.transact(
        "setReentries", _token_reentries(market, token.address, args), sender=market.stranger
    )
    jobs.transact("requestJobWithToken", *args, token.address, ETHER, sender=requester)
    assert token.call("callbacks") == 1
    not_owner = refused("NotDatasetOwner(uint256,address)")
    assert token.call("outcomes") == [GUARDED] * 4 + [SUCCEEDED] * 3 + [not_owner] * 2
    assert jobs.call("jobCount") == 2
    assert market.status(1) == COMPLETED
    assert jobs.call("job", 2)[2] == REQUESTED  # the token's own job, paid nothing
    assert int(jobs.call("job", 2)[6]) == 0
    assert list(jobs.call("budget", ours)) == [10_000, 1]  # job 1's epsilon, spent once
    # 90 % to the dataset's owner, 10 % to the participating node: all of the escrow
    owner_share = int(jobs.call("owedToken", token.address, market.attacker.address))
    node_share = int(jobs.call("owedToken", token.address, token.address))
    assert (owner_share, node_share) == (ETHER * 9 // 10, ETHER // 10)
    assert token.call("balanceOf", jobs.address) == owner_share + node_share == ETHER
    assert jobs.call("owedToken", token.address, requester) == 0
    market.check_money(0)  # no coin moved


def test_only_request_job_takes_coin_and_the_registry_takes_none(market: Market) -> None:
    payable = {
        name: sorted(
            entry.get("name", entry["type"])
            for entry in load_artifact(name).abi
            if entry.get("stateMutability") == "payable"
        )
        for name in ("ComputeJobs", "AssetRegistry")
    }
    assert payable == {"ComputeJobs": ["requestJob"], "AssetRegistry": []}
    for name in ("ComputeJobs", "AssetRegistry"):
        kinds = {entry["type"] for entry in load_artifact(name).abi}
        assert not kinds & {"receive", "fallback"}, name
    for contract in (market.jobs.address, market.registry.address):
        with pytest.raises(TroikaError):
            market.chain.transfer(contract, 1, sender=market.stranger)
        assert market.chain.balance(contract) == 0


# -- access control, both sides -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Who may call a function, and the tests of both sides (``path::test``)."""

    who: str
    allowed: tuple[str, ...]
    refused: tuple[str, ...]


REGISTRY = "tests/contracts/test_asset_registry.py::"
WRAPPER = "tests/assets/test_registry.py::"
JOBS = "tests/contracts/test_compute_jobs.py::"
TOKENS = "tests/contracts/test_compute_jobs_tokens.py::"
HERE = "tests/hardening/test_reentrancy.py::"
SUBMIT = "test_only_participating_nodes_of_a_running_job_submit_once_before_the_deadline"

RULES: dict[str, dict[str, Rule]] = {
    "AssetRegistry": {
        "mintBatch(address,uint8,uint16,uint256[],bytes32[])": Rule(
            "MINTER_ROLE; else AccessControlUnauthorizedAccount",
            (REGISTRY + "test_only_minters_mint_and_only_admins_make_minters",),
            (
                REGISTRY + "test_only_minters_mint_and_only_admins_make_minters",
                WRAPPER + "test_reverts_are_asset_errors",
            ),
        ),
        "grantRole(bytes32,address)": Rule(
            "the role's admin; else AccessControlUnauthorizedAccount",
            (REGISTRY + "test_only_minters_mint_and_only_admins_make_minters",),
            (REGISTRY + "test_only_minters_mint_and_only_admins_make_minters",),
        ),
        "revokeRole(bytes32,address)": Rule(
            "the role's admin; else AccessControlUnauthorizedAccount",
            (REGISTRY + "test_only_minters_mint_and_only_admins_make_minters",),
            (HERE + "test_only_the_admin_revokes_a_role",),
        ),
        "renounceRole(bytes32,address)": Rule(
            "the account itself; else AccessControlBadConfirmation",
            (HERE + "test_only_the_account_renounces_its_role",),
            (HERE + "test_only_the_account_renounces_its_role",),
        ),
        "approve(address,uint256)": Rule(
            "the owner or its operator; else ERC721InvalidApprover",
            (REGISTRY + "test_approvals_and_operators",),
            (REGISTRY + "test_approvals_and_operators",),
        ),
        "setApprovalForAll(address,bool)": Rule(
            "anyone, for its own tokens only: it gives no power over another's",
            (REGISTRY + "test_approvals_and_operators",),
            (HERE + "test_an_operator_of_one_account_cannot_move_anothers_tokens",),
        ),
        "transferFrom(address,address,uint256)": Rule(
            "the owner, the approved account or an operator; else ERC721InsufficientApproval",
            (REGISTRY + "test_approvals_and_operators",),
            (REGISTRY + "test_approvals_and_operators",),
        ),
        "safeTransferFrom(address,address,uint256)": Rule(
            "as transferFrom",
            (HERE + "test_safe_transfers_by_a_stranger_are_refused",),
            (HERE + "test_safe_transfers_by_a_stranger_are_refused",),
        ),
        "safeTransferFrom(address,address,uint256,bytes)": Rule(
            "as transferFrom",
            (REGISTRY + "test_safe_transfer_to_a_receiver_and_to_a_non_receiver",),
            (HERE + "test_safe_transfers_by_a_stranger_are_refused",),
        ),
        "setRoyalty(uint256,address,uint16)": Rule(
            "the token's royalty receiver; else NotRoyaltyReceiver",
            (REGISTRY + "test_royalties",),
            (REGISTRY + "test_royalties", WRAPPER + "test_reverts_are_asset_errors"),
        ),
        "grantLicense(uint256,address,uint64)": Rule(
            "the owner or an account it approved; else NotOwnerOrApproved",
            (REGISTRY + "test_licences_by_block_time",),
            (REGISTRY + "test_licences_by_block_time",),
        ),
        "grantLicenseWithKey(uint256,address,uint64,bytes32)": Rule(
            "as grantLicense",
            (WRAPPER + "test_a_licence_with_its_key",),
            (HERE + "test_a_stranger_cannot_publish_a_key_grant",),
        ),
        "revokeLicense(uint256,address)": Rule(
            "the owner or an account it approved; else NotOwnerOrApproved",
            (REGISTRY + "test_licences_by_block_time",),
            (REGISTRY + "test_licences_by_block_time",),
        ),
    },
    "ComputeJobs": {
        "setBudget(uint256,uint64)": Rule(
            "the dataset's owner; else NotDatasetOwner",
            (JOBS + "test_only_the_datasets_owner_sets_its_budget",),
            (JOBS + "test_only_the_datasets_owner_sets_its_budget",),
        ),
        "registerNode(uint256,address)": Rule(
            "the dataset's owner; else NotDatasetOwner",
            (JOBS + "test_only_the_datasets_owner_registers_its_node",),
            (JOBS + "test_only_the_datasets_owner_registers_its_node",),
        ),
        "requestJob(uint8,uint256[],uint256,bytes32,uint64,uint64,(uint16,uint16,uint16))": Rule(
            "an owner or unexpired licensee of every token; else NoAccess",
            (JOBS + "test_the_requester_must_be_licensed_for_every_token",),
            (JOBS + "test_the_requester_must_be_licensed_for_every_token",),
        ),
        "acceptJob(uint256,uint256)": Rule(
            "the dataset's owner or registered node; else NotOwnerOrNode",
            (JOBS + "test_the_owner_or_the_registered_node_accepts_not_a_stranger",),
            (JOBS + "test_the_owner_or_the_registered_node_accepts_not_a_stranger",),
        ),
        "submitResult(uint256,bytes32,bytes32)": Rule(
            "a participating node, once; else NotParticipant, AlreadyConfirmed",
            (
                JOBS
                + "test_only_participating_nodes_of_a_running_job_submit_once_before_the_deadline",
            ),
            (
                JOBS
                + "test_only_participating_nodes_of_a_running_job_submit_once_before_the_deadline",
            ),
        ),
        "refund(uint256)": Rule(
            "anyone, after the deadline; only the requester is credited",
            (JOBS + "test_a_job_nobody_accepted_is_refunded_to_its_requester",),
            (
                JOBS + "test_a_job_nobody_accepted_is_refunded_to_its_requester",
                HERE + "test_a_reentrant_requester_is_paid_its_refund_once",
            ),
        ),
        "withdraw()": Rule(
            "anyone, for what is credited to itself; else NothingOwed",
            (JOBS + "test_the_happy_path_pays_every_party_exactly",),
            (JOBS + "test_withdrawing_nothing_is_refused",),
        ),
        "requestJobWithToken(uint8,uint256[],uint256,bytes32,uint64,uint64,(uint16,uint16,uint16),"
        "address,uint256)": Rule(
            "as requestJob (else NoAccess), having approved the amount (else the token's"
            " ERC20InsufficientAllowance)",
            (TOKENS + "test_a_token_job_is_escrowed_split_by_its_shares_and_withdrawn_per_token",),
            (
                TOKENS + "test_the_token_rules_are_the_coin_rules",
                TOKENS
                + "test_a_token_request_needs_the_allowance_and_the_balance_and_records_nothing"
                "_without",
            ),
        ),
        "withdrawToken(address)": Rule(
            "anyone, for what is credited to itself in the token; else NothingOwedInToken",
            (TOKENS + "test_a_token_job_is_escrowed_split_by_its_shares_and_withdrawn_per_token",),
            (TOKENS + "test_coin_and_token_ledgers_stay_apart",),
        ),
    },
}


def signature(entry: dict[str, Any]) -> str:
    def kind(argument: dict[str, Any]) -> str:
        if argument["type"].startswith("tuple"):
            inner = ",".join(kind(c) for c in argument["components"])
            return f"({inner}){argument['type'][5:]}"
        return str(argument["type"])

    return f"{entry['name']}({','.join(kind(a) for a in entry['inputs'])})"


def test_every_state_changing_function_has_its_access_rule_tested() -> None:
    for name, rules in RULES.items():
        changing = {
            signature(dict(entry))
            for entry in load_artifact(name).abi
            if entry["type"] == "function" and entry["stateMutability"] in ("nonpayable", "payable")
        }
        assert changing == set(rules), f"{name}: add an entry to RULES for each new function"
    defined: dict[str, set[str]] = {}
    for rules in RULES.values():
        for rule in rules.values():
            assert rule.allowed, rule
            assert rule.refused, rule
            for test in (*rule.allowed, *rule.refused):
                path, function = test.split("::")
                if path not in defined:
                    tree = ast.parse((TESTS.parent / path).read_text(encoding="utf-8"))
                    defined[path] = {
                        node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                    }
                assert function in defined[path], f"{test} does not exist"


@pytest.fixture
def registry() -> AssetRegistry:
    return AssetRegistry.deploy(Chain.embedded())


def reverted(registry: AssetRegistry, function: str, *args: Any, sender: str) -> tuple[Any, ...]:
    with pytest.raises(ContractReverted) as caught:
        registry.contract.transact(function, *args, sender=sender)
    return (caught.value.error, *caught.value.error_args)


def test_only_the_admin_revokes_a_role(registry: AssetRegistry) -> None:
    admin, minter, stranger = (registry.chain.accounts[i] for i in (0, 1, 2))
    registry.contract.transact("grantRole", MINTER_ROLE, minter, sender=admin)
    for account in (stranger, minter):
        assert reverted(registry, "revokeRole", MINTER_ROLE, minter, sender=account) == (
            "AccessControlUnauthorizedAccount",
            account,
            bytes(32),  # DEFAULT_ADMIN_ROLE, the minter role's admin
        )
    assert registry.is_minter(minter)
    registry.contract.transact("revokeRole", MINTER_ROLE, minter, sender=admin)
    assert not registry.is_minter(minter)


def test_only_the_account_renounces_its_role(registry: AssetRegistry) -> None:
    admin, minter = registry.chain.accounts[0], registry.chain.accounts[1]
    registry.contract.transact("grantRole", MINTER_ROLE, minter, sender=admin)
    # not even the admin renounces for another account
    assert reverted(registry, "renounceRole", MINTER_ROLE, minter, sender=admin) == (
        "AccessControlBadConfirmation",
    )
    assert registry.is_minter(minter)
    registry.contract.transact("renounceRole", MINTER_ROLE, minter, sender=minter)
    assert not registry.is_minter(minter)


def test_an_operator_of_one_account_cannot_move_anothers_tokens(registry: AssetRegistry) -> None:
    alice, bob, carol = (registry.chain.accounts[i] for i in (1, 2, 3))
    (token,) = registry.mint_batch(alice, AssetKind.DATASET, [b"\x01" * 32]).token_ids
    registry.contract.transact("setApprovalForAll", carol, True, sender=bob)  # bob's own tokens
    assert reverted(registry, "transferFrom", alice, carol, token, sender=carol) == (
        "ERC721InsufficientApproval",
        carol,
        token,
    )
    assert reverted(registry, "grantLicense", token, carol, 2**40, sender=carol) == (
        "NotOwnerOrApproved",
        token,
        carol,
    )
    assert registry.owner_of(token) == alice


def test_safe_transfers_by_a_stranger_are_refused(registry: AssetRegistry) -> None:
    alice, bob, stranger = (registry.chain.accounts[i] for i in (1, 2, 3))
    (token,) = registry.mint_batch(alice, AssetKind.DATASET, [b"\x01" * 32]).token_ids
    three, four = (
        "safeTransferFrom(address,address,uint256)",
        ("safeTransferFrom(address,address,uint256,bytes)"),
    )
    for function, extra in ((three, ()), (four, (b"",))):
        assert reverted(registry, function, alice, stranger, token, *extra, sender=stranger) == (
            "ERC721InsufficientApproval",
            stranger,
            token,
        )
    registry.contract.transact(three, alice, bob, token, sender=alice)
    assert registry.owner_of(token) == bob


def test_a_stranger_cannot_publish_a_key_grant(registry: AssetRegistry) -> None:
    alice, stranger = registry.chain.accounts[1], registry.chain.accounts[2]
    (token,) = registry.mint_batch(alice, AssetKind.DATASET, [b"\x01" * 32]).token_ids
    expiry = now(registry.chain) + 3_600
    grant = b"\x07" * 32
    assert reverted(
        registry, "grantLicenseWithKey", token, stranger, expiry, grant, sender=stranger
    ) == ("NotOwnerOrApproved", token, stranger)
    assert registry.key_grants(token, stranger) == []
    assert not registry.has_access(token, stranger)
