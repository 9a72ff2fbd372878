"""The asyncio market (AsyncComputeJobs, AsyncCompute) with ERC-20 payments,
on anvil, against the sync ComputeJobs as the reference: ``approve_payment``,
``payment_allowance``, ``request_job(payment_token=)``, ``withdraw(token=)``,
a token's own reverts translated by ``AsyncComputeJobs._error``, and
``AsyncCompute.request`` approving the market first when its allowance is
short. The expected amounts are computed from the shares and the messages
from the revert each case provokes; the sync twin must agree.

The markets of tests/compute/test_jobs.py (plain accounts) and
tests/compute/test_node.py (identities and Kubo), on anvil only: an embedded
EVM lives inside one chain object, so a second (async) client could not
reach it. The tokens are the test contracts of contracts/test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.compute.test_jobs import PARAMS, REPORT, RESULT, SPLIT, Market, advance, now
from tests.compute.test_jobs import market as market  # the fixture
from tests.compute.test_node import Market as NodeMarket
from tests.compute.test_node import market as node_market  # noqa: F401 (a fixture)
from tests.conftest import ARTIFACTS
from troika import ComputeError, InvalidJob, JobPermissionDenied, PaymentTokenError
from troika.assets import AsyncAssetRegistry, AsyncAssets
from troika.chain import ArtifactStore, AsyncChain, Contract
from troika.compute import AsyncCompute, AsyncComputeJobs, JobKind, JobStatus
from troika.ipfs import AsyncKuboStore, KuboStore

pytestmark = pytest.mark.anvil
T = TypeVar("T")
SUPPLY = 10**24
ANVIL = pytest.mark.parametrize("chain", ["anvil"], indirect=True)


def deploy(chain: Any, owner: str, name: str = "TestToken") -> Contract:
    token: Contract = chain.deploy(name, record=False)
    token.transact("mint", owner, SUPPLY)
    return token


def run_async(
    url: str, address: str, tmp_path: Path, body: Callable[[AsyncComputeJobs], Awaitable[T]]
) -> T:
    """``body`` with an AsyncComputeJobs on the market at ``address`` (a chain
    that knows the test tokens' errors, as the sync market's chain does)."""

    async def main() -> T:
        async with await AsyncChain.connect(
            url, home=tmp_path / "async", artifacts=ArtifactStore([ARTIFACTS])
        ) as chain:
            return await body(await AsyncComputeJobs.at(chain, address))

    return asyncio.run(main())


def request_args(on: Market, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "model": on.model,
        "params_digest": PARAMS,
        "deadline": now(on.chain) + 3600,
        "epsilon": 0.0,
        "payment": 10_000,
        "shares": SPLIT,
        "sender": on.requester,
    }
    args.update(overrides)
    return args


@ANVIL
def test_an_async_token_job_from_approval_to_withdrawal_matches_the_sync_one(
    market: Market, tmp_path: Path
) -> None:
    sync, token = market.jobs, deploy(market.chain, market.requester)
    # the reference: the same job through the sync wrapper
    sync.approve_payment(token.address, 10_000, sender=market.requester)
    reference = market.request(payment=10_000, payment_token=token.address)
    for dataset, node in zip(market.datasets, market.nodes, strict=True):
        sync.accept(reference, dataset, sender=node)
    for node in market.nodes:
        sync.submit_result(reference, RESULT, REPORT, sender=node)
    owed_sync = {a: sync.owed(a, token=token.address) for a in (*market.owners, *market.nodes)}

    async def body(jobs: AsyncComputeJobs) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        seen["before"] = await jobs.payment_allowance(token.address, market.requester)
        await jobs.approve_payment(token.address.lower(), 10_000, sender=market.requester)
        seen["approved"] = await jobs.payment_allowance(token.address, market.requester)
        job_id = await jobs.request_job(
            JobKind.FEDERATED_TRAIN,
            market.datasets,
            **request_args(market, payment_token=token.address),
        )
        seen["after"] = await jobs.payment_allowance(token.address, market.requester)
        seen["job"] = await jobs.job(job_id)
        for dataset, node in zip(market.datasets, market.nodes, strict=True):
            await jobs.accept(job_id, dataset, sender=node)
        for node in market.nodes:
            await jobs.submit_result(job_id, RESULT, REPORT, sender=node)
        seen["status"] = (await jobs.job(job_id)).status
        # each payee is owed both jobs' credits (the sync job's too), in one ledger
        seen["owed"] = {
            a: await jobs.owed(a, token=token.address)
            for a in (*market.owners, *market.nodes, market.model_owner)
        }
        seen["withdrawn"] = {
            a: await jobs.withdraw(sender=a, token=token.address) for a in seen["owed"]
        }
        try:
            await jobs.withdraw(sender=market.owners[0], token=token.address)
        except JobPermissionDenied as exc:
            seen["nothing"] = exc
        return seen

    seen = run_async(market.chain.url, sync.address, tmp_path, body)
    assert (seen["before"], seen["approved"], seen["after"]) == (0, 10_000, 0)
    job = seen["job"]
    assert (job.payment, job.payment_token, job.status) == (
        10_000,
        token.address,
        JobStatus.REQUESTED,
    )
    assert job.job_id == reference + 1
    assert job.payment_token == sync.job(reference).payment_token
    assert seen["status"] is JobStatus.COMPLETED
    # two jobs of 10,000: 60 % to 2 owners, 25 % to the model's owner, 15 % to 2 nodes
    expected = {
        **dict.fromkeys(market.owners, 2 * 3_000),
        **dict.fromkeys(market.nodes, 2 * 750),
        market.model_owner: 2 * 2_500,
    }
    assert seen["owed"] == expected
    assert seen["withdrawn"] == expected
    for account, amount in owed_sync.items():
        assert amount * 2 == expected[account]  # the sync twin credited the same
        assert token.call("balanceOf", account) == expected[account]
    assert str(seen["nothing"]) == (
        f"{market.owners[0]!r} is owed nothing in token {token.address!r} to withdraw"
    )
    with pytest.raises(JobPermissionDenied) as sync_nothing:
        sync.withdraw(sender=market.owners[0], token=token.address)
    assert str(sync_nothing.value) == str(seen["nothing"])
    assert token.call("balanceOf", sync.address) == 0


@ANVIL
def test_an_async_token_failure_is_the_error_the_sync_one_raises(
    market: Market, tmp_path: Path
) -> None:
    """Each token failure through AsyncComputeJobs, with the sync
    ComputeJobs' error for the same call as the reference: the token's own
    ERC20InsufficientAllowance and ERC20InsufficientBalance (the requester's
    and the market's), a fee on transfer (the market's TokenAmountMismatch),
    a transfer that returns false or reverts; and a malformed address or
    amount, refused before sending."""
    chain, sync, requester = market.chain, market.jobs, market.requester
    plain = deploy(chain, requester)
    fee = deploy(chain, requester, "FeeOnTransferToken")
    failing = deploy(chain, requester, "FailingToken")
    seizing = deploy(chain, requester, "SeizingToken")
    # credits to withdraw: a refunded job in each of the failing and the seizing token
    refunded = {}
    for token, amount in ((failing, 500), (seizing, 800)):
        sync.approve_payment(token.address, amount, sender=requester)
        job_id = market.request(
            payment=amount, payment_token=token.address, deadline=now(chain) + 60
        )
        refunded[token.address] = job_id
    advance(chain, 60)
    for job_id in refunded.values():
        sync.refund(job_id, sender=requester)
    seizing.transact("seize", sync.address, 300)
    sync.approve_payment(fee.address, 1_000, sender=requester)

    def sync_error(call: Callable[[], Any]) -> BaseException:
        with pytest.raises(ComputeError) as caught:
            call()
        return caught.value

    def request_with(token: Contract, payment: int) -> Callable[[], Any]:
        return lambda: market.request(payment=payment, payment_token=token.address)

    async def body(jobs: AsyncComputeJobs) -> dict[str, BaseException]:
        async def caught(call: Awaitable[Any]) -> BaseException:
            try:
                await call
            except ComputeError as exc:
                return exc
            raise AssertionError("no error")

        def request_with(token: Contract, payment: int) -> Awaitable[int]:
            return jobs.request_job(
                JobKind.FEDERATED_TRAIN,
                market.datasets,
                **request_args(market, payment=payment, payment_token=token.address),
            )

        found = {"no allowance": await caught(request_with(plain, 10))}
        await jobs.approve_payment(plain.address, SUPPLY + 1, sender=requester)
        found["no balance"] = await caught(request_with(plain, SUPPLY + 1))
        found["fee"] = await caught(request_with(fee, 1_000))
        for mode, name in ((1, "returned false"), (2, "reverted")):
            await asyncio.to_thread(failing.transact, "setMode", mode)
            found[name] = await caught(jobs.withdraw(sender=requester, token=failing.address))
        await asyncio.to_thread(failing.transact, "setMode", 0)
        found["market short"] = await caught(jobs.withdraw(sender=requester, token=seizing.address))
        found["bad amount"] = await caught(
            jobs.approve_payment(plain.address, -1, sender=requester)
        )
        found["bad token"] = await caught(request_with_address(jobs, "0x1234"))
        return found

    def request_with_address(jobs: AsyncComputeJobs, address: str) -> Awaitable[int]:
        return jobs.request_job(
            JobKind.FEDERATED_TRAIN,
            market.datasets,
            **request_args(market, payment_token=address),
        )

    found = run_async(chain.url, sync.address, tmp_path, body)

    allowance = found["no allowance"]
    assert isinstance(allowance, JobPermissionDenied)
    assert allowance.account == requester
    assert str(allowance) == (
        f"{requester!r} approved 0 of token {plain.address!r} to the market, the job "
        "pays 10: approve it first (approve_payment)"
    )
    balance = found["no balance"]
    assert isinstance(balance, JobPermissionDenied)
    assert str(balance) == (
        f"{requester!r} holds {SUPPLY!r} of token {plain.address!r}, not {SUPPLY + 1!r}"
    )
    fee_error = found["fee"]
    assert isinstance(fee_error, PaymentTokenError)
    assert (fee_error.token, fee_error.reason) == (
        fee.address,
        "the market received 990 of the 1000 named: a token that charges a fee on "
        "transfer (or moves another amount) is refused",
    )
    for name in ("returned false", "reverted"):
        error = found[name]
        assert isinstance(error, PaymentTokenError)
        assert error.token == failing.address
        assert name in str(error)
    short = found["market short"]
    assert isinstance(short, PaymentTokenError)
    assert short.token == seizing.address
    assert "the market holds 500 of it, not the 800" in str(short)
    bad_amount, bad_token = found["bad amount"], found["bad token"]
    assert isinstance(bad_amount, InvalidJob)
    assert (bad_amount.field, bad_amount.value) == ("amount", -1)
    assert isinstance(bad_token, InvalidJob)
    assert (bad_token.field, bad_token.value) == ("payment_token", "0x1234")
    # the credits stay after the failed withdrawals
    assert sync.owed(requester, token=failing.address) == 500
    assert sync.owed(requester, token=seizing.address) == 800
    assert sync.job_count() == len(refunded)

    # the sync twin raises the same errors for the same calls
    fresh = deploy(chain, requester)
    assert str(sync_error(request_with(fresh, 10))) == str(allowance).replace(
        plain.address, fresh.address
    )
    assert str(sync_error(request_with(plain, SUPPLY + 1))) == str(balance)
    assert str(sync_error(request_with(fee, 1_000))) == str(fee_error)
    for mode, name in ((1, "returned false"), (2, "reverted")):
        failing.transact("setMode", mode)
        error = sync_error(lambda: sync.withdraw(sender=requester, token=failing.address))
        assert str(error) == str(found[name])
    assert str(sync_error(lambda: sync.withdraw(sender=requester, token=seizing.address))) == str(
        short
    )


@pytest.mark.kubo
@ANVIL
def test_an_async_requester_approves_the_market_only_when_its_allowance_is_short(
    node_market: NodeMarket,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    on = node_market
    assert isinstance(on.store, KuboStore)
    agent = on.agent.address
    token = deploy(on.chain, agent)
    query = {"column": "f0", "statistic": "count", "epsilon": 0.5}
    deadline = now(on.chain) + 60

    async def body() -> dict[str, Any]:
        async with (
            await AsyncChain.connect(on.chain.url, home=tmp_path / "async") as chain,
            AsyncKuboStore(on.store.api_url) as store,
        ):
            registry = await AsyncAssetRegistry.at(chain, on.registry.address)
            jobs = await AsyncComputeJobs.at(chain, on.jobs.address)
            compute = AsyncCompute(jobs, AsyncAssets(chain, store, registry, identity=on.agent))
            seen: dict[str, Any] = {}

            async def request(payment: int) -> int:
                return await compute.request(
                    "stats",
                    on.datasets,
                    params=query,
                    payment=payment,
                    deadline=deadline,
                    payment_token=token.address,
                )

            # no allowance: it approves exactly the payment, which the market pulls
            first = await request(700)
            seen["after first"] = await jobs.payment_allowance(token.address, agent)
            seen["first"] = await jobs.job(first)
            # an allowance larger than the payment: it does not approve again
            await jobs.approve_payment(token.address, 5_000, sender=on.agent.signer)
            second = await request(1_000)
            seen["after second"] = await jobs.payment_allowance(token.address, agent)
            seen["escrow"] = await asyncio.to_thread(token.call, "balanceOf", jobs.address)
            await asyncio.to_thread(advance, on.chain, 60)
            for job_id in (first, second):
                await compute.refund(job_id)
            seen["withdrawn"] = await compute.withdraw(token=token.address)
            return seen

    seen = asyncio.run(body())
    assert seen["after first"] == 0
    first = seen["first"]
    assert (first.payment, first.payment_token) == (700, token.address)
    assert seen["after second"] == 4_000
    assert seen["escrow"] == 1_700
    assert seen["withdrawn"] == 1_700
    assert token.call("balanceOf", agent) == SUPPLY
    # the sync requester, the reference, approves the same way
    on.compute.request(
        "stats",
        on.datasets,
        params=query,
        payment=300,
        deadline=now(on.chain) + 60,
        payment_token=token.address,
    )
    assert on.jobs.payment_allowance(token.address, agent) == 4_000 - 300
