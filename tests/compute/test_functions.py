"""``troika.compute.request``, ``status`` and ``result`` as functions: through a
client built from the ``TROIKA_*`` settings (anvil and Kubo), or a client passed in."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

import troika.compute
from tests._services import Anvil, Kubo
from troika import ConfigError, Settings, Troika
from troika.assets import DatasetMetadata
from troika.chain import Keystore
from troika.compute import DatasetPolicy, JobKind, JobStatus

pytestmark = [pytest.mark.anvil, pytest.mark.kubo]

ETHER = 10**18
AGES = [34, 51, 29, 77, 45, 62, 38]


def test_a_stats_job_through_the_functions_and_the_configured_node(
    anvil: Anvil, kubo: Kubo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TROIKA_HOME": str(tmp_path),
        "TROIKA_RPC_URL": anvil.url,
        "TROIKA_CHAIN_ID": str(anvil.chain_id),
        "TROIKA_IPFS_API": kubo.api_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no troika.toml of the repository's
    data = tmp_path / "ages.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([["age"], *([age] for age in AGES)])

    settings = Settings(home=tmp_path, rpc_url=anvil.url, chain_id=anvil.chain_id)
    with Troika(settings, keystore=Keystore(tmp_path, scrypt_n=2**10)) as t:
        clinic = t.identities.create("clinic", "pw", kind="person")
        agent = t.identities.create("agent", "pw", kind="agent")
        for someone in (clinic, agent):
            t.fund(someone, ETHER)
        metadata = DatasetMetadata(name="ages", properties={"media_type": "text/csv"})
        dataset = t.assets(clinic).mint_dataset(data, metadata).token_id
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        t.assets(clinic).grant_license(dataset, agent, until)
        t.jobs.set_budget(dataset, 100.0, sender=clinic.signer)
        node = t.node(clinic, [DatasetPolicy(dataset, data)])
        deadline = t.chain.block().timestamp + 3600

        # no client: each function makes one from TROIKA_* and closes it
        query = {"column": "age", "statistic": "count", "epsilon": 50.0}
        job_id = troika.compute.request(
            "stats", [dataset], 0, query, payment=10**15, deadline=deadline, identity=agent
        )
        requested = troika.compute.status(job_id)
        assert (requested.kind, requested.status) == (JobKind.STATS, JobStatus.REQUESTED)
        assert requested.requester == agent.address
        assert requested.payment == 10**15

        node.poll()
        t.coordinator(agent).run(job_id, [node])
        assert troika.compute.status(job_id).status is JobStatus.COMPLETED
        result = troika.compute.result(job_id, identity=agent)
        same = troika.compute.result(job_id, identity=agent, client=t)

    assert result.kind is JobKind.STATS
    assert result.value is not None
    # Laplace noise of scale 1/50 on a count: off by more than 1 with probability e^-50
    assert abs(result.value - len(AGES)) < 1
    assert same.document == result.document


def test_without_a_node_or_a_client_the_functions_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TROIKA_RPC_URL", "TROIKA_CHAIN_ID", "TROIKA_IPFS_API"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TROIKA_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        troika.compute.status(1)
    assert caught.value.field == "rpc_url"
    assert "client=" in str(caught.value)
