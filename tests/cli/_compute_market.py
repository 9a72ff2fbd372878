"""The market the ``troika compute`` CLI tests run against, set up through the SDK
on a real anvil and Kubo: a hospital's licensed dataset of ages, an agent, the
market with the dataset's privacy budget, and the environment the CLI runs in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests._services import Anvil, Kubo

from troika.assets import Assets, DatasetMetadata
from troika.chain import ArtifactStore, Chain, Keystore
from troika.compute._jobs import ComputeJobs
from troika.did import EthrRegistry
from troika.did._identity import Identities, Identity
from troika.ipfs import KuboStore

PASSWORD = "correct horse"


@dataclass
class CliMarket:
    home: Path
    env: dict[str, str]
    chain: Chain
    hospital: Identity
    agent: Identity
    dataset: int
    jobs: ComputeJobs


@contextmanager
def compute_market(
    anvil: Anvil, kubo: Kubo, tmp_path: Path, *, artifacts: ArtifactStore | None = None
) -> Iterator[CliMarket]:
    """The market, with its chain open while the block runs; ``ages.csv`` (200
    rows, ``age`` and ``label``) under ``tmp_path`` is the hospital's data."""
    home = tmp_path / "home"
    env = {
        "TROIKA_RPC_URL": anvil.url,
        "TROIKA_IPFS_API": kubo.api_url,
        "TROIKA_KEY_PASSWORD": PASSWORD,
    }
    data = tmp_path / "ages.csv"
    data.write_text("age,label\n" + "".join(f"{20 + i % 50},{i % 2}\n" for i in range(200)))
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home, artifacts=artifacts) as chain:
        identities = Identities(chain, Keystore(home, scrypt_n=2**10), EthrRegistry.deploy(chain))
        hospital = identities.create("hospital", PASSWORD, kind="person")
        agent = identities.create("agent", PASSWORD, kind="agent")
        for someone in (hospital, agent):
            chain.transfer(someone.address, 10**18)
        with KuboStore(kubo.api_url) as store:
            assets = Assets(chain, store, identity=hospital, minter=chain.default_sender)
            dataset = assets.mint_dataset(
                data, DatasetMetadata(name="ages", properties={"media_type": "text/csv"})
            ).token_id
            assets.grant_license(dataset, agent, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        jobs = ComputeJobs.deploy(chain, assets.registry.address)
        jobs.set_budget(dataset, 2.0, sender=hospital.signer)
        yield CliMarket(home, env, chain, hospital, agent, dataset, jobs)
