"""A compute node killed after its confirmation was mined but before it recorded
it: restarted from the state file it had saved before, it finds its
confirmation on chain (its ``ResultSubmitted`` log) and records it, sends
nothing, and nobody is paid twice; a result it never confirmed is still refused.

The kill is modelled by restoring the node's state file to what it held before
the confirmation and making a new ``Node`` from it: what a process killed
between the mined transaction and its ``_save`` would find.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compute.test_node import Market, now
from tests.compute.test_node import market as market  # the fixture
from tests.faults.conftest import FaultReport
from troika import JobStateError
from troika.compute import JobStatus, Node, StatsQuery
from troika.compute._node import _fetch_block


def test_a_node_restarted_after_its_confirmation_finds_it_on_chain(
    market: Market, fault_report: FaultReport, tmp_path: Path
) -> None:
    query = StatsQuery(column="f0", statistic="count", epsilon=0.5)
    job_id = market.compute.request(
        "stats",
        market.datasets,
        params=query,
        payment=3 * 10**15,
        deadline=now(market.chain) + 3600,
    )
    for node in market.nodes:
        node.poll()
    node = market.nodes[0]
    state_path = node._state_path
    assert state_path is not None
    before = state_path.read_bytes()  # accepted, not yet confirmed
    assert job_id not in json.loads(before)["confirmed"]

    fault_report.inject("compute node killed after its confirmation was mined, before recording it")
    market.coordinator.run(job_id, market.nodes)
    job = market.jobs.job(job_id)
    assert job.status is JobStatus.COMPLETED
    owed = {h.address: market.jobs.owed(h.address) for h in market.hospitals}
    height = market.chain.block_number

    state_path.write_bytes(before)  # the record it had when it was killed
    restarted = Node(
        market.jobs, node.assets, list(node.policies.values()), sender=node.sender, state=state_path
    )
    result = _fetch_block(market.store, job.result_digest, job_id)
    report = _fetch_block(market.store, job.report_digest, job_id)
    restarted.confirm(job_id, result, report)

    assert job_id in json.loads(state_path.read_text())["confirmed"]
    assert market.chain.block_number == height  # nothing was mined
    assert {h.address: market.jobs.owed(h.address) for h in market.hospitals} == owed

    # a pair of digests it never confirmed is refused as before
    other = market.nodes[1]
    with pytest.raises(JobStateError):
        Node(market.jobs, other.assets, list(other.policies.values()), sender=other.sender).confirm(
            job_id, result, report + b" "
        )
    fault_report.detail = f"job {job_id}: confirmation found in the logs, nothing sent again"
