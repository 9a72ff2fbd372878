"""The asyncio requester (AsyncCompute over AsyncComputeJobs) on anvil and Kubo,
against the sync one as the reference: the same job, the same result and model,
the same errors; the hospitals' nodes and the coordinator are the sync ones.

The market of tests/compute/test_node.py, on anvil only: an embedded EVM lives
inside one chain object, so a second (async) client could not reach it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.compute.test_node import Market, now
from tests.compute.test_node import market as market  # the fixture
from troika import JobStateError, NotLicensed
from troika.assets import Assets, AsyncAssetRegistry, AsyncAssets
from troika.chain import AsyncChain
from troika.compute import (
    AsyncCompute,
    AsyncComputeJobs,
    Compute,
    JobKind,
    JobStatus,
    TrainParams,
)
from troika.did import Identity
from troika.ipfs import AsyncKuboStore, KuboStore

pytestmark = [pytest.mark.anvil, pytest.mark.kubo]
T = TypeVar("T")


def run_async(
    on: Market, identity: Identity, tmp_path: Path, body: Callable[[AsyncCompute], Awaitable[T]]
) -> T:
    """``body`` with an AsyncCompute of ``identity`` on the market's anvil and Kubo."""
    assert isinstance(on.store, KuboStore)

    async def main() -> T:
        async with (
            await AsyncChain.connect(on.chain.url, home=tmp_path / "async") as chain,
            AsyncKuboStore(on.store.api_url) as store,
        ):
            registry = await AsyncAssetRegistry.at(chain, on.registry.address)
            assets = AsyncAssets(chain, store, registry, identity=identity)
            jobs = await AsyncComputeJobs.at(chain, on.jobs.address)
            return await body(AsyncCompute(jobs, assets))

    return asyncio.run(main())


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)
def test_an_async_requester_trains_and_reads_what_the_sync_one_reads(
    market: Market, tmp_path: Path
) -> None:
    deadline = now(market.chain) + 3600

    async def request(compute: AsyncCompute) -> tuple[int, Any]:
        job_id = await compute.request(
            "federated-train",
            market.datasets,
            model=market.model,
            params=TrainParams(rounds=2),
            payment=10**15 + 1,  # leaves rounding dust for the requester
            deadline=deadline,
        )
        return job_id, await compute.status(job_id)

    job_id, requested = run_async(market, market.agent, tmp_path, request)
    assert requested == market.compute.status(job_id)
    assert (requested.kind, requested.status) == (JobKind.FEDERATED_TRAIN, JobStatus.REQUESTED)
    assert requested.requester == market.agent.address

    for node in market.nodes:
        node.poll()
    market.coordinator.run(job_id, market.nodes)
    dust = market.jobs.owed(market.agent.address)
    assert dust > 0

    async def collect(compute: AsyncCompute) -> tuple[Any, Any, int]:
        return await compute.status(job_id), await compute.result(job_id), await compute.withdraw()

    status, result, withdrawn = run_async(market, market.agent, tmp_path, collect)
    reference = market.compute.result(job_id)
    assert status == market.compute.status(job_id)
    assert status.status is JobStatus.COMPLETED
    assert result.document == reference.document
    assert result.model is not None
    assert reference.model is not None
    assert result.model.digest() == reference.model.digest()
    assert result.metrics == reference.metrics
    assert withdrawn == dust
    assert market.jobs.owed(market.agent.address) == 0


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)
def test_an_async_requester_gets_the_errors_the_sync_one_gets(
    market: Market, tmp_path: Path
) -> None:
    deadline = now(market.chain) + 3600
    outsider = market.hospitals[0]  # owns dataset 0, holds no licence for the others
    query = {"column": "f0", "statistic": "count", "epsilon": 0.5}

    with pytest.raises(NotLicensed) as sync_error:
        Compute(market.jobs, _assets_of(market, outsider)).request(
            "stats", market.datasets, params=query, payment=1, deadline=deadline
        )

    async def errors(compute: AsyncCompute) -> list[BaseException]:
        found: list[BaseException] = []
        try:
            await compute.request(
                "stats", market.datasets, params=query, payment=1, deadline=deadline
            )
        except NotLicensed as exc:
            found.append(exc)
        job_id = await compute.request(
            "stats", market.datasets[:1], params=query, payment=1, deadline=deadline
        )
        for early in (compute.result(job_id), compute.refund(job_id)):
            try:
                await early
            except JobStateError as exc:
                found.append(exc)
        return found

    not_licensed, not_done, not_due = run_async(market, outsider, tmp_path, errors)
    assert isinstance(not_licensed, NotLicensed)
    assert (not_licensed.token_id, not_licensed.account) == (
        sync_error.value.token_id,
        sync_error.value.account,
    )
    assert str(not_licensed) == str(sync_error.value)
    # the contract's NoAccess(tokenId, account): the first dataset the outsider
    # neither owns nor holds a licence for is the second
    assert str(not_licensed) == (
        f"{outsider.address!r} may not use token {market.datasets[1]!r}: "
        "ask its owner for a licence"
    )
    assert isinstance(not_done, JobStateError)
    assert not_done.status == "requested"
    assert isinstance(not_due, JobStateError)
    assert not_due.status == "requested"  # read from the chain after the revert
    # the contract's DeadlineNotPassed(jobId, deadline): the job is the last one requested
    assert str(not_due) == (
        f"job {market.jobs.job_count()!r} is requested: it can be refunded only from "
        f"its deadline {deadline} on"
    )


def _assets_of(on: Market, identity: Identity) -> Assets:
    return Assets(on.chain, on.store, on.registry, identity=identity)
