"""A job paid in an ERC-20 token, through the requester's ``Compute`` and the
data owners' nodes: ``Compute.request(payment_token=...)`` approves and
escrows the token, each node's ``DatasetPolicy.min_token_payments`` decides
(a token it does not list is refused, a payment below its minimum in that
token too), the job runs and is paid out in the token, and a job that never
ran is refunded in it; on the embedded EVM with a LocalStore and on anvil
with Kubo (the market of tests/compute/test_node.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.compute.test_node import Market, advance, now
from tests.compute.test_node import market as market  # the fixture
from troika import ConfigError, PaymentTokenError, PaymentTooLow
from troika.compute._jobs import JobStatus
from troika.compute._node import DatasetPolicy, Node
from troika.compute._privacy import StatsQuery

SUPPLY = 10**24
QUERY = StatsQuery(column="f0", statistic="mean", bounds=(-5.0, 5.0), epsilon=0.5)


def test_a_stats_job_paid_in_a_token_follows_each_nodes_token_policy(market: Market) -> None:
    chain, jobs, agent = market.chain, market.jobs, market.agent
    token = chain.deploy("TestToken", record=False)
    token.transact("mint", agent.address, SUPPLY)
    # nodes that take this token from 1,000 units (checksum or not: an address is an address)
    taking = [
        Node(
            jobs,
            node.assets,
            [
                DatasetPolicy(
                    dataset,
                    node.policies[dataset].data,
                    min_token_payments={token.address.lower(): 1_000},
                )
            ],
            sender=hospital.signer,
        )
        for node, hospital, dataset in zip(
            market.nodes, market.hospitals, market.datasets, strict=True
        )
    ]

    policy = taking[0].policies[market.datasets[0]]
    assert {policy} == {policy}  # still hashable with its token map
    # too little of the token: refused by the token's minimum, then refunded in the token
    cheap = market.compute.request(
        "stats",
        market.datasets,
        params=QUERY,
        payment=999,
        deadline=now(chain) + 60,
        payment_token=token.address,
    )
    assert jobs.job(cheap).payment_token == token.address
    assert token.call("balanceOf", jobs.address) == 999
    decisions = taking[0].poll()
    assert [(d.job_id, d.accepted) for d in decisions] == [(cheap, False)]
    with pytest.raises(PaymentTooLow) as low:
        taking[0].check(jobs.job(cheap), market.datasets[0])
    assert (low.value.payment, low.value.minimum, low.value.token) == (
        999,
        1_000,
        token.address,
    )
    # a node whose policy lists no token refuses any token job, whatever it pays
    (default,) = market.nodes[0].poll()
    assert not default.accepted
    assert "does not accept payment in it" in default.reason
    with pytest.raises(PaymentTokenError) as refused:
        market.nodes[0].check(jobs.job(cheap), market.datasets[0])
    assert refused.value.token == token.address
    advance(chain, 60)
    market.compute.refund(cheap)
    assert jobs.job(cheap).status is JobStatus.REFUNDED
    assert market.compute.withdraw(token=token.address) == 999
    assert token.call("balanceOf", agent.address) == SUPPLY

    # enough: every node accepts, the job runs and pays every party in the token
    payment = 10_007  # 7 units of dust: 85 % over 3 owners and 15 % over 3 nodes
    job_id = market.compute.request(
        "stats",
        market.datasets,
        params=QUERY,
        payment=payment,
        deadline=now(chain) + 3600,
        payment_token=token.address,
    )
    for node in taking:  # the refunded job, if not seen yet, is refused: it is settled
        decided = {d.job_id: d.accepted for d in node.poll()}
        assert decided[job_id] is True
        assert decided.get(cheap, False) is False
    market.coordinator.run(job_id, taking)
    assert market.compute.status(job_id).status is JobStatus.COMPLETED
    value = market.compute.result(job_id).value
    assert value is not None
    assert abs(value - float(np.clip(market.union[0][:, 0], -5, 5).mean())) < 1.0
    share = payment * 8500 // 10_000 // 3 + payment * 1500 // 10_000 // 3
    dust = payment - 3 * share
    for node, hospital in zip(taking, market.hospitals, strict=True):
        assert jobs.owed(hospital.address) == 0
        assert jobs.owed(hospital.address, token=token.address) == share
        assert node.withdraw() == 0  # nothing in the coin
        assert node.withdraw(token=token.address.lower()) == share
        assert node.withdraw(token=token.address) == 0  # paid already
        assert token.call("balanceOf", hospital.address) == share
    assert market.compute.withdraw(token=token.address) == dust
    assert token.call("balanceOf", jobs.address) == 0
    assert token.call("balanceOf", agent.address) == SUPPLY - 3 * share


@pytest.mark.parametrize(
    ("tokens", "field", "value"),
    [
        ({"0x1234": 1}, "min_token_payments", "0x1234"),
        ({"USDC": 1}, "min_token_payments", "USDC"),
        ({"0x" + "00" * 20: 1}, "min_token_payments", "0x" + "00" * 20),
        ({"0x" + "ab" * 20: -1}, "min_token_payments[0x" + "ab" * 20 + "]", -1),
        ({"0x" + "ab" * 20: 1.5}, "min_token_payments[0x" + "ab" * 20 + "]", 1.5),
    ],
)
def test_a_policys_token_minimums_are_checked_when_it_is_made(
    tokens: dict[str, int], field: str, value: object
) -> None:
    """A mistyped token address would otherwise refuse every job paid in the
    token the owner meant (no job's token matches it)."""
    with pytest.raises(ConfigError) as caught:
        DatasetPolicy(1, Path("data.csv"), min_token_payments=tokens)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert repr(value) in str(caught.value)
