"""An AI agent with an identity of its own buys access to a dataset and requests a job.

A person creates an agent: a did:ethr whose key lives in the agent's own
keystore file and whose DID document names the person as its controller. The
agent pays a clinic for access to its encrypted dataset; the clinic sees the
payment on chain and grants a licence, which wraps the dataset's key to the
agent's DID. The agent then pays for a differentially private statistics job;
the clinic's node accepts it (policy, privacy budget, licence), computes next
to the data, and the agent reads a verified, noisy answer; the raw rows never
leave the clinic. Finally the clinic withdraws what the job paid it.

Run: python examples/ai_agent.py [--home DIR]
(the agent's password comes from ``AGENT_PASSWORD``, or a random one).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import secrets
import tempfile
from pathlib import Path

from troika import Troika
from troika.assets import DatasetMetadata, DatasetProperties
from troika.compute import DatasetPolicy, StatsQuery
from troika.did import Identity

ETHER = 10**18
PRICE = ETHER // 100  # what the clinic asks for a 30-day licence
JOB_PAYMENT = ETHER // 1000


def write_dataset(path: Path, rows: int) -> float:
    """Blood pressures of ``rows`` patients; returns their true mean (for comparison)."""
    rng = random.Random(3)  # noqa: S311 - sample data, not a secret
    values = [round(rng.gauss(125, 12), 1) for _ in range(rows)]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["systolic", "label"])
        writer.writerows([value, int(value > 140)] for value in values)
    return sum(values) / rows


class Clinic:
    """The data owner: sells licences for coin it can see on chain, runs a compute node."""

    def __init__(self, troika: Troika, identity: Identity, token_id: int) -> None:
        self.troika, self.identity, self.token_id = troika, identity, token_id

    def sell_licence(self, buyer: Identity, tx_hash: str) -> str:
        """Grant ``buyer`` 30 days if ``tx_hash`` paid :data:`PRICE` to the clinic."""
        paid = self.troika.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        if paid["to"] != self.identity.address or paid["value"] < PRICE:
            raise PermissionError(f"{tx_hash} did not pay {PRICE} wei to the clinic")
        if paid["from"] != buyer.address:
            raise PermissionError(f"{tx_hash} was not sent by {buyer.did}")
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        return self.troika.assets(self.identity).grant_license(self.token_id, buyer, until)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="an AI agent buys access and requests a job")
    parser.add_argument("--home", type=Path, help="the troika home (a temporary one if unset)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        run(args.home or Path(scratch))


def run(home: Path) -> None:
    password = os.environ.get("AGENT_PASSWORD") or secrets.token_urlsafe(16)
    home.mkdir(parents=True, exist_ok=True)
    with Troika.embedded(home, scrypt_n=2**10) as troika:  # throwaway keys: light scrypt
        # The people: a clinic with data, and bob, who runs an agent.
        clinic_id = troika.identities.create("clinic", password, kind="person")
        bob = troika.identities.create("bob", password, kind="person")
        troika.identities.create("bob-agent", password, kind="agent", controller=bob)
        for party in (clinic_id, bob):
            troika.fund(party, ETHER)

        true_mean = write_dataset(home / "pressures.csv", rows=400)
        minted = troika.assets(clinic_id).mint_dataset(
            home / "pressures.csv",
            DatasetMetadata(
                name="systolic blood pressure",
                properties=DatasetProperties(media_type="text/csv", rows=400),
            ),
        )
        clinic = Clinic(troika, clinic_id, minted.token_id)
        troika.jobs.set_budget(minted.token_id, 2.0, sender=clinic_id.signer)
        node = troika.node(clinic_id, [DatasetPolicy(minted.token_id, home / "pressures.csv")])
        print(f"clinic minted #{minted.token_id}, encrypted, privacy budget epsilon 2.0")

        # The agent starts from its keystore file, as a separate process would.
        agent = troika.identities.unlock("bob-agent", password, kind="agent", controller=bob)
        document = troika.did.resolve_document(agent.did)
        print(f"agent {agent.did}")
        profile = next(
            s.service_endpoint for s in document.service or () if s.type == "TroikaProfile"
        )
        kind = profile.get("kind") if isinstance(profile, dict) else None
        owner = troika.did_registry.identity_owner(agent.address)
        print(f"its DID document says kind {kind!r}; owned by bob: {owner == bob.address}")
        troika.fund(agent, ETHER // 10)  # bob gives it an allowance (here from the dev account)

        # Buy access: pay, then the clinic grants a licence against the payment.
        payment = troika.chain.transfer(clinic_id.address, PRICE, sender=agent.signer)
        clinic.sell_licence(agent, payment.tx_hash)
        expiry = troika.assets(agent).license_expiry(minted.token_id, agent)
        until = dt.datetime.fromtimestamp(expiry, dt.UTC)
        print(f"agent paid {PRICE} wei; licensed until {until:%Y-%m-%d}")

        # Request a job: a private mean of one column, paid in escrow.
        compute = troika.compute(agent)
        latest = troika.chain.block("latest")
        assert latest is not None
        query = StatsQuery(column="systolic", statistic="mean", bounds=(60.0, 220.0), epsilon=1.0)
        job_id = compute.request(
            "stats",
            [minted.token_id],
            params=query,
            payment=JOB_PAYMENT,
            deadline=latest.timestamp + 3600,
        )
        print(f"agent requested job #{job_id}: {query.statistic} of {query.column}, epsilon 1.0")
        for decision in node.poll():
            print(f"clinic's node {'accepted' if decision.accepted else decision.reason}")
        troika.coordinator(agent, timeout=60).run(job_id, [node])
        result = compute.result(job_id)  # checked against the digest the node confirmed
        assert result.value is not None
        print(f"job #{job_id} {compute.status(job_id).status.label}: mean {result.value:.1f}")
        print(f"off by {abs(result.value - true_mean):.2f} from the true mean (noise, on purpose)")
        total, spent = troika.jobs.budget(minted.token_id)
        print(f"budget spent {spent} of {total}")
        earned = troika.jobs.withdraw(sender=clinic_id.signer)
        print(f"clinic withdrew {earned} wei for the job")


if __name__ == "__main__":
    main()
