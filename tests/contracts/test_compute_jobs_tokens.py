"""ComputeJobs paid in an ERC-20 token, on the embedded EVM and on anvil.

The tokens are test contracts (contracts/test/TestTokens.sol) built on
OpenZeppelin's ERC20: a plain one, one that burns 1 % of every transfer (a
fee on transfer) and one whose transfers can be made to return false or
revert. Expected amounts come from the documented split (shares in basis
points, equal parts, the dust to the requester), computed here; balances are
read from the token itself. After every step the money is checked per
ledger: the market's balance of each token (and of the coin) is what it owes
in it plus the unsettled payments in it."""

from __future__ import annotations

import pytest
from tests.contracts.test_compute_jobs import (
    COMPLETED,
    ETHER,
    FEDERATED_TRAIN,
    PARAMS,
    REFUNDED,
    REPORT,
    REQUESTED,
    RESULT,
    ZERO,
    World,
    advance,
    named,
    now,
)
from tests.contracts.test_compute_jobs import world as world  # the fixture

from troika import ContractReverted
from troika.chain import Contract

SUPPLY = 10**24


def deploy_token(world: World, name: str) -> Contract:
    """A test token, minted to the requester and the stranger, tracked by check_money."""
    token = world.chain.deploy(name, sender=world.stranger, record=False)
    for holder in (world.requester, world.stranger):
        token.transact("mint", holder, SUPPLY, sender=world.stranger)
    world.tokens[token.address] = token
    return token


@pytest.fixture
def token(world: World) -> Contract:
    return deploy_token(world, "TestToken")


def request_in(
    world: World,
    token: Contract | str,
    amount: int,
    *,
    datasets: list[int] | None = None,
    deadline: int = 3600,
    approve: int | None = None,
    sender: str | None = None,
) -> int:
    """Approves ``approve`` (default: ``amount``) and requests a training job paid
    in ``token``; the job's id."""
    payer = sender or world.requester
    address = token if isinstance(token, str) else token.address
    if not isinstance(token, str):
        token.transact(
            "approve", world.jobs.address, amount if approve is None else approve, sender=payer
        )
    receipt = world.jobs.transact(
        "requestJobWithToken",
        FEDERATED_TRAIN,
        world.datasets if datasets is None else datasets,
        world.model,
        PARAMS,
        now(world.chain) + deadline,
        0,
        (6000, 2500, 1500),
        address,
        amount,
        sender=payer,
    )
    (event,) = world.jobs.events(receipt, "JobRequested")
    return int(event.args["jobId"])


def token_reverted(world: World, *args: object, sender: str) -> tuple[str, dict[str, object]]:
    with pytest.raises(ContractReverted) as caught:
        world.jobs.transact("requestJobWithToken", *args, sender=sender)
    return named(world.jobs, caught.value)


def job_args(world: World, token: str, amount: int) -> tuple[object, ...]:
    return (
        FEDERATED_TRAIN,
        world.datasets,
        world.model,
        PARAMS,
        now(world.chain) + 3600,
        0,
        (6000, 2500, 1500),
        token,
        amount,
    )


def test_a_token_job_is_escrowed_split_by_its_shares_and_withdrawn_per_token(
    world: World, token: Contract
) -> None:
    chain = world.chain
    payment = 10**21 + 7  # leaves dust, as the native happy path
    coin_before = chain.balance(world.jobs.address)
    held_before = token.call("balanceOf", world.requester)
    job = request_in(world, token, payment)
    # escrowed: pulled from the requester into the market, no coin moved
    assert token.call("balanceOf", world.requester) == held_before - payment
    assert token.call("balanceOf", world.jobs.address) == payment
    assert token.call("allowance", world.requester, world.jobs.address) == 0
    assert chain.balance(world.jobs.address) == coin_before
    record = world.job(job)
    assert (record["payment"], record["paymentToken"], record["status"]) == (
        payment,
        token.address,
        REQUESTED,
    )
    (paid_in,) = world.jobs.logs("JobPaidInToken")
    assert dict(paid_in.args) == {"jobId": job, "token": token.address}
    world.check_money()

    world.accept_all(job)
    for node in world.nodes:
        receipt = world.jobs.transact("submitResult", job, RESULT, REPORT, sender=node)
        world.check_money()
    assert world.job(job)["status"] == COMPLETED
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
    for account, amount in expected.items():
        assert world.jobs.call("owedToken", token.address, account) == amount
        assert world.jobs.call("owed", account) == 0  # nothing in the coin's ledger
    assert world.reverted("withdraw", sender=world.owners[0]) == (
        "NothingOwed",
        {"account": world.owners[0]},
    )

    for account, amount in expected.items():
        before = token.call("balanceOf", account)
        receipt = world.jobs.transact("withdrawToken", token.address, sender=account)
        (event,) = world.jobs.events(receipt, "TokenWithdrawn")
        assert dict(event.args) == {"account": account, "token": token.address, "amount": amount}
        assert token.call("balanceOf", account) == before + amount
        assert world.jobs.call("owedToken", token.address, account) == 0
        world.check_money()
    assert token.call("balanceOf", world.jobs.address) == 0
    assert chain.balance(world.jobs.address) == coin_before


def test_a_token_job_is_refunded_in_its_token_after_the_deadline(
    world: World, token: Contract
) -> None:
    held_before = token.call("balanceOf", world.requester)
    job = request_in(world, token, 5_000, deadline=60)
    world.jobs.transact("acceptJob", job, world.datasets[0], sender=world.nodes[0])
    assert world.reverted("refund", job, sender=world.stranger)[0] == "DeadlineNotPassed"
    advance(world.chain, 60)
    receipt = world.jobs.transact("refund", job, sender=world.stranger)  # anyone may
    assert [dict(e.args) for e in world.jobs.events(receipt, "JobRefunded")] == [
        {"jobId": job, "amount": 5_000}
    ]
    assert world.job(job)["status"] == REFUNDED
    assert world.jobs.call("owedToken", token.address, world.requester) == 5_000
    assert world.jobs.call("owed", world.requester) == 0
    world.check_money()
    world.jobs.transact("withdrawToken", token.address, sender=world.requester)
    assert token.call("balanceOf", world.requester) == held_before
    world.check_money()


def test_coin_and_token_ledgers_stay_apart(world: World, token: Contract) -> None:
    """A coin job and jobs in two tokens, settled together: each pays in its own."""
    other = deploy_token(world, "TestToken")
    coin_job = world.request(payment=3_000, shares=(6000, 2500, 1500))
    first = request_in(world, token, 10_000)
    second = request_in(world, other, 20_000)
    for job in (coin_job, first, second):
        world.accept_all(job)
        for node in world.nodes:
            world.jobs.transact("submitResult", job, RESULT, REPORT, sender=node)
        world.check_money()
    owner = world.owners[0]
    assert world.jobs.call("owed", owner) == 3_000 * 6000 // 10_000 // 3
    assert world.jobs.call("owedToken", token.address, owner) == 10_000 * 6000 // 10_000 // 3
    assert world.jobs.call("owedToken", other.address, owner) == 20_000 * 6000 // 10_000 // 3
    world.jobs.transact("withdrawToken", other.address, sender=owner)
    assert world.jobs.call("owedToken", other.address, owner) == 0
    assert world.jobs.call("owedToken", token.address, owner) == 2_000
    assert world.jobs.call("owed", owner) == 600
    with pytest.raises(ContractReverted) as caught:
        world.jobs.transact("withdrawToken", other.address, sender=owner)
    assert named(world.jobs, caught.value) == (
        "NothingOwedInToken",
        {"token": other.address, "account": owner},
    )
    world.check_money()


def test_a_token_request_needs_the_allowance_and_the_balance_and_records_nothing_without(
    world: World, token: Contract
) -> None:
    with pytest.raises(ContractReverted) as caught:
        request_in(world, token, 1_000, approve=999)
    # OpenZeppelin's ERC20 reverts (ERC-6093), and SafeERC20 bubbles its error up
    assert caught.value.data[:4] == bytes.fromhex("fb8f41b2")
    assert (caught.value.error, caught.value.error_args) == (
        "ERC20InsufficientAllowance",
        (world.jobs.address, 999, 1_000),
    )
    assert world.jobs.call("jobCount") == 0
    # approved for more than the requester holds
    with pytest.raises(ContractReverted) as caught:
        request_in(world, token, SUPPLY + 1)
    assert caught.value.data[:4] == bytes.fromhex("e450d38c")
    assert (caught.value.error, caught.value.error_args) == (
        "ERC20InsufficientBalance",
        (world.requester, SUPPLY, SUPPLY + 1),
    )
    assert world.jobs.call("jobCount") == 0
    world.check_money()


def test_a_fee_on_transfer_token_is_refused(world: World) -> None:
    fee_token = deploy_token(world, "FeeOnTransferToken")
    fee_token.transact("approve", world.jobs.address, 10_000, sender=world.requester)
    args = job_args(world, fee_token.address, 10_000)
    assert token_reverted(world, *args, sender=world.requester) == (
        "TokenAmountMismatch",
        {"token": fee_token.address, "expected": 10_000, "received": 9_900},
    )
    assert world.jobs.call("jobCount") == 0
    assert fee_token.call("balanceOf", world.jobs.address) == 0
    world.check_money()


def test_a_payment_token_must_be_a_contract_and_takes_no_coin(
    world: World, token: Contract
) -> None:
    for address in (ZERO, world.stranger):
        args = job_args(world, address, 1)
        assert token_reverted(world, *args, sender=world.requester) == (
            "InvalidPaymentToken",
            {"token": address},
        )
    token.transact("approve", world.jobs.address, 10, sender=world.requester)
    with pytest.raises(ContractReverted):  # not payable: the coin cannot ride along
        world.jobs.transact(
            "requestJobWithToken",
            *job_args(world, token.address, 10),
            sender=world.requester,
            value=ETHER,
        )
    assert world.jobs.call("jobCount") == 0
    world.check_money()


def test_the_token_rules_are_the_coin_rules(world: World, token: Contract) -> None:
    """A token request is checked as a coin one: licences, shares, deadline."""
    token.transact("approve", world.jobs.address, 10, sender=world.stranger)
    args = job_args(world, token.address, 10)
    assert token_reverted(world, *args, sender=world.stranger) == (
        "NoAccess",
        {"tokenId": world.model, "account": world.stranger},
    )
    bad = list(job_args(world, token.address, 10))
    bad[6] = (6000, 2500, 1501)
    assert token_reverted(world, *bad, sender=world.requester)[0] == "InvalidShares"
    assert world.jobs.call("jobCount") == 0


@pytest.mark.parametrize(("mode", "error"), [(1, "SafeERC20FailedOperation"), (2, None)])
def test_a_token_that_fails_transfers_moves_nothing_and_the_credit_stays(
    world: World, mode: int, error: str | None
) -> None:
    """Mode 1: the transfer returns false (SafeERC20 names the token); mode 2: it
    reverts with the token's own error, bubbled up unchanged."""
    failing = deploy_token(world, "FailingToken")
    failing.transact("setMode", mode, sender=world.stranger)
    failing.transact("approve", world.jobs.address, 1_000, sender=world.requester)
    with pytest.raises(ContractReverted) as caught:
        world.jobs.transact(
            "requestJobWithToken",
            *job_args(world, failing.address, 1_000),
            sender=world.requester,
        )
    paused = bytes.fromhex("6ab17e05")  # keccak("TransfersPaused()")[:4], checked below
    if error is not None:
        assert named(world.jobs, caught.value)[0] == error
    else:
        assert caught.value.data == paused
    assert world.jobs.call("jobCount") == 0

    # the token works at the request, then fails at the withdrawal
    failing.transact("setMode", 0, sender=world.stranger)
    job = request_in(world, failing, 1_000, deadline=60)
    advance(world.chain, 60)
    world.jobs.transact("refund", job, sender=world.requester)
    failing.transact("setMode", mode, sender=world.stranger)
    with pytest.raises(ContractReverted) as caught:
        world.jobs.transact("withdrawToken", failing.address, sender=world.requester)
    if error is not None:
        assert named(world.jobs, caught.value) == (error, {"token": failing.address})
    else:
        assert caught.value.data == paused
    assert world.jobs.call("owedToken", failing.address, world.requester) == 1_000
    world.check_money()
    failing.transact("setMode", 0, sender=world.stranger)
    world.jobs.transact("withdrawToken", failing.address, sender=world.requester)
    assert failing.call("balanceOf", world.requester) == SUPPLY
    world.check_money()


def test_the_paused_selector_is_the_tokens_error() -> None:
    from eth_utils.crypto import keccak

    assert keccak(b"TransfersPaused()")[:4] == bytes.fromhex("6ab17e05")
    assert keccak(b"ERC20InsufficientAllowance(address,uint256,uint256)")[:4].hex() == "fb8f41b2"
    assert keccak(b"ERC20InsufficientBalance(address,uint256,uint256)")[:4].hex() == "e450d38c"
