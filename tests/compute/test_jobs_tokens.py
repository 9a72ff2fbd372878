"""The typed ComputeJobs wrapper with ERC-20 payments: ``payment_token`` on
``request_job``, ``approve_payment``, ``owed``/``withdraw`` per token, the
job's ``payment_token``, and a token's failures as ComputeErrors that quote
the token; on the embedded EVM and on anvil. The tokens are the test
contracts of contracts/test/TestTokens.sol (OpenZeppelin's ERC20)."""

from __future__ import annotations

import pytest

from tests.compute.test_jobs import REPORT, RESULT, Market, advance, now
from tests.compute.test_jobs import market as market  # the fixture
from troika import ComputeError, InvalidJob, JobPermissionDenied, PaymentTokenError
from troika.chain import Contract
from troika.compute._jobs import JobStatus

SUPPLY = 10**24


def deploy(market: Market, name: str = "TestToken") -> Contract:
    token = market.chain.deploy(name, sender=market.stranger, record=False)
    token.transact("mint", market.requester, SUPPLY, sender=market.stranger)
    return token


def test_a_token_job_from_approval_to_withdrawal(market: Market) -> None:
    jobs, token = market.jobs, deploy(market)
    assert jobs.payment_allowance(token.address, market.requester) == 0
    jobs.approve_payment(token.address.lower(), 10_000, sender=market.requester)
    assert jobs.payment_allowance(token.address, market.requester) == 10_000
    job_id = market.request(payment=10_000, payment_token=token.address)
    job = jobs.job(job_id)
    assert (job.payment, job.payment_token) == (10_000, token.address)
    assert token.call("balanceOf", jobs.address) == 10_000
    for dataset, node in zip(market.datasets, market.nodes, strict=True):
        jobs.accept(job_id, dataset, sender=node)
    for node in market.nodes:
        jobs.submit_result(job_id, RESULT, REPORT, sender=node)
    assert jobs.job(job_id).status is JobStatus.COMPLETED
    # 60 % to 2 owners, 25 % to the model's owner, 15 % to 2 nodes: no dust
    expected = {
        **dict.fromkeys(market.owners, 3_000),
        **dict.fromkeys(market.nodes, 750),
        market.model_owner: 2_500,
    }
    for account, amount in expected.items():
        assert jobs.owed(account, token=token.address) == amount
        assert jobs.owed(account) == 0
        assert jobs.withdraw(sender=account, token=token.address) == amount
        assert token.call("balanceOf", account) == amount
    with pytest.raises(JobPermissionDenied) as caught:
        jobs.withdraw(sender=market.owners[0], token=token.address)
    assert token.address in str(caught.value)
    assert token.call("balanceOf", jobs.address) == 0


def test_a_token_job_is_refunded_in_its_token(market: Market) -> None:
    jobs, token = market.jobs, deploy(market)
    jobs.approve_payment(token.address, 700, sender=market.requester)
    job_id = market.request(
        payment=700, payment_token=token.address, deadline=now(market.chain) + 60
    )
    advance(market.chain, 60)
    jobs.refund(job_id, sender=market.stranger)
    assert jobs.owed(market.requester, token=token.address) == 700
    assert jobs.withdraw(sender=market.requester, token=token.address) == 700
    assert token.call("balanceOf", market.requester) == SUPPLY


def test_a_coin_job_has_no_payment_token(market: Market) -> None:
    assert market.jobs.job(market.request()).payment_token is None


def test_a_token_payment_without_allowance_or_balance_is_permission_denied(
    market: Market,
) -> None:
    jobs, token = market.jobs, deploy(market)
    with pytest.raises(JobPermissionDenied) as caught:
        market.request(payment=10, payment_token=token.address)
    assert caught.value.account == market.requester
    assert "approved 0" in str(caught.value)
    jobs.approve_payment(token.address, SUPPLY + 1, sender=market.requester)
    with pytest.raises(JobPermissionDenied) as caught:
        market.request(payment=SUPPLY + 1, payment_token=token.address)
    assert f"holds {SUPPLY!r}" in str(caught.value)
    assert jobs.job_count() == 0


def test_a_fee_on_transfer_token_is_a_payment_token_error(market: Market) -> None:
    jobs, token = market.jobs, deploy(market, "FeeOnTransferToken")
    jobs.approve_payment(token.address, 1_000, sender=market.requester)
    with pytest.raises(PaymentTokenError) as caught:
        market.request(payment=1_000, payment_token=token.address)
    assert caught.value.token == token.address
    assert "received 990 of the 1000" in str(caught.value)
    assert jobs.job_count() == 0


def test_a_token_that_fails_is_a_payment_token_error_and_the_credit_stays(
    market: Market,
) -> None:
    jobs, token = market.jobs, deploy(market, "FailingToken")
    jobs.approve_payment(token.address, 500, sender=market.requester)
    job_id = market.request(
        payment=500, payment_token=token.address, deadline=now(market.chain) + 60
    )
    advance(market.chain, 60)
    jobs.refund(job_id, sender=market.requester)
    for mode, words in ((1, "returned false"), (2, "reverted")):
        token.transact("setMode", mode, sender=market.stranger)
        with pytest.raises(PaymentTokenError) as caught:
            jobs.withdraw(sender=market.requester, token=token.address)
        assert caught.value.token == token.address
        assert words in str(caught.value)
        assert jobs.owed(market.requester, token=token.address) == 500
    token.transact("setMode", 0, sender=market.stranger)
    assert jobs.withdraw(sender=market.requester, token=token.address) == 500


def test_a_bad_token_address_is_refused(market: Market) -> None:
    for bad in ("0x1234", "not an address", "0x" + "00" * 20):
        with pytest.raises(InvalidJob) as caught:
            market.request(payment_token=bad)
        assert caught.value.field == "payment_token"
        assert caught.value.value == bad
    with pytest.raises(PaymentTokenError) as caught:  # an account, not a contract
        market.request(payment_token=market.stranger)
    assert caught.value.token == market.stranger
    assert "no contract" in str(caught.value)
    with pytest.raises(InvalidJob) as refused:
        market.jobs.approve_payment(market.stranger, -1, sender=market.requester)
    assert (refused.value.field, refused.value.value) == ("amount", -1)
    with pytest.raises(InvalidJob) as refused:
        market.jobs.approve_payment("0x1234", 1, sender=market.requester)
    assert (refused.value.field, refused.value.value) == ("payment_token", "0x1234")
    assert market.jobs.job_count() == 0


def test_a_market_short_of_a_token_it_owes_is_the_tokens_fault(market: Market) -> None:
    """A token that takes from the market's balance without a transfer (a
    blocklist wipe, a rebase) leaves the market short when it pays out: the
    token's ERC20InsufficientBalance names the market as the short sender, so
    the error blames the token (PaymentTokenError), not the withdrawing
    account, and the credit stays."""
    jobs, token = market.jobs, deploy(market, "SeizingToken")
    jobs.approve_payment(token.address, 800, sender=market.requester)
    job_id = market.request(
        payment=800, payment_token=token.address, deadline=now(market.chain) + 60
    )
    advance(market.chain, 60)
    jobs.refund(job_id, sender=market.requester)
    token.transact("seize", jobs.address, 300, sender=market.stranger)
    with pytest.raises(PaymentTokenError) as caught:
        jobs.withdraw(sender=market.requester, token=token.address)
    assert caught.value.token == token.address
    assert "the market holds 500 of it, not the 800" in str(caught.value)
    assert isinstance(caught.value, ComputeError)
    assert not isinstance(caught.value, JobPermissionDenied)
    assert jobs.owed(market.requester, token=token.address) == 800
