"""Run a compute node for a dataset: policy, privacy budget, restarts, payment.

A hospital runs a node next to its private CSV. The node watches the chain for
jobs on its dataset and accepts only what its policy allows (job kinds, a
least payment, the most epsilon per job), what the dataset's privacy budget
still covers, and what the requester is licensed for. Two more hospitals run
nodes too, since federated training under SecAgg+ needs at least three. A
research lab pays for a two-round federated training job and a too-cheap
statistics query; the hospital's node accepts one and refuses the other, the
job runs with Flower across the three nodes, the nodes confirm the result on
chain, and the hospital withdraws its share. A node restarted from its state
file decides nothing twice.

Run: python examples/compute_node.py [--home DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
from pathlib import Path

from troika import Troika
from troika.assets import DatasetMetadata, DatasetProperties, ModelMetadata, ModelProperties
from troika.compute import DatasetPolicy, JobKind, LogisticRegressionModel, StatsQuery, TrainParams

ETHER = 10**18
HOSPITALS = ("st-mary", "city-general", "northside")
PASSWORD = "not a real password"  # noqa: S105 - throwaway keys of a throwaway home


def hospital_shards(count: int) -> tuple[tuple[str, ...], list[list[list[float]]]]:
    """scikit-learn's bundled breast-cancer table (no network), standardised,
    split into ``count`` private shards of rows (features then label)."""
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    x = (table.data - table.data.mean(0)) / table.data.std(0)
    rows = [[*map(float, r), float(label)] for r, label in zip(x, table.target, strict=True)]
    names = tuple(f"f{i}" for i in range(x.shape[1]))
    return names, [rows[i::count] for i in range(count)]


def write_csv(path: Path, names: tuple[str, ...], rows: list[list[float]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*names, "label"])
        writer.writerows(rows)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run a compute node for a dataset")
    parser.add_argument("--home", type=Path, help="the troika home (a temporary one if unset)")
    parser.add_argument("--rounds", type=int, default=2, help="federated rounds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        run(args.home or Path(scratch), args.rounds)


def run(home: Path, rounds: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    names, shards = hospital_shards(len(HOSPITALS))
    with Troika.embedded(home, scrypt_n=2**10) as troika:
        lab = troika.identities.create("research-lab", PASSWORD, kind="person")
        troika.fund(lab, ETHER)
        model_file = home / "model.npz"
        model_file.write_bytes(LogisticRegressionModel.init(len(names), seed=1).to_bytes())
        model = troika.assets(lab).mint_model(
            model_file,
            ModelMetadata(
                name="tumour classifier",
                properties=ModelProperties(framework="numpy", task="binary-classification"),
            ),
        )

        nodes, datasets, owners = [], [], []
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        for hospital, rows in zip(HOSPITALS, shards, strict=True):
            owner = troika.identities.create(hospital, PASSWORD, kind="person")
            troika.fund(owner, ETHER)
            data = write_csv(home / f"{hospital}.csv", names, rows)
            metadata = DatasetMetadata(
                name=f"{hospital} biopsies",
                properties=DatasetProperties(media_type="text/csv", rows=len(rows)),
            )
            token = troika.assets(owner).mint_dataset(data, metadata).token_id
            troika.assets(owner).grant_license(token, lab, until)
            troika.jobs.set_budget(token, 3.0, sender=owner.signer)
            policy = DatasetPolicy(
                token,
                data,
                kinds=frozenset({JobKind.FEDERATED_TRAIN, JobKind.STATS}),
                min_payment=10**15,
                max_epsilon=1.0,
            )
            state = home / "nodes" / f"{hospital}.json"
            nodes.append(troika.node(owner, [policy], state=state))
            datasets.append(token)
            owners.append(owner)
        print(f"3 hospital nodes for datasets {datasets}; policy: train or stats, >= 10^15 wei")

        compute = troika.compute(lab)
        latest = troika.chain.block("latest")
        assert latest is not None
        deadline = latest.timestamp + 3600
        train = compute.request(
            "federated-train",
            datasets,
            model=model.token_id,
            params=TrainParams(rounds=rounds),
            payment=3 * 10**16,
            deadline=deadline,
        )
        query = StatsQuery(column="f0", statistic="mean", bounds=(-5.0, 5.0), epsilon=0.5)
        cheap = compute.request("stats", datasets[:1], params=query, payment=1, deadline=deadline)
        print(f"the lab requested job #{train} (train, {rounds} rounds) and job #{cheap} (1 wei)")

        for decision in nodes[0].poll():
            verdict = "accepted" if decision.accepted else f"refused ({decision.reason})"
            print(f"st-mary's node: job #{decision.job_id} {verdict}")
        for node in nodes[1:]:
            node.poll()

        troika.coordinator(lab, timeout=120).run(train, nodes)
        job = compute.status(train)
        print(f"job #{train} {job.status.label}: {job.confirmed}/{job.nodes} nodes confirmed")
        result = compute.result(train)
        print(f"the lab's trained model, verified: {result.model is not None}")

        restarted = troika.node(
            owners[0], list(nodes[0].policies.values()), state=home / "nodes" / "st-mary.json"
        )
        print(
            f"restarted from its state file: {len(restarted.poll())} new decisions, "
            f"{len(restarted.decisions())} remembered"
        )
        earned = troika.jobs.withdraw(sender=owners[0].signer)
        print(f"st-mary withdrew {earned} wei (dataset owner and node)")


if __name__ == "__main__":
    main()
