"""Gas of one ComputeJobs job, from request to withdrawal, for 1, 3 and 10 datasets.

On one embedded chain with troika's AssetRegistry: N datasets, each with its
own owner, a privacy budget and a registered node, and a model of another
owner; a requester licensed for all of them. For each N, on a fresh market: a
federated-training job on the N datasets and the model (epsilon 0.5, shares
60/25/15, a payment that leaves rounding dust), every node accepts (the last
acceptance starts the job), every node confirms the same digests (the last
confirmation completes the job and credits everybody), then every payee
withdraws. Each figure is a transaction's ``gasUsed``, so it includes the
21,000 every transaction pays. Gas is exact: one run is the measurement.

Run: python bench/compute_jobs_gas.py [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

from troika.assets import AssetKind, AssetRegistry
from troika.chain import Chain, load_artifact
from troika.compute._jobs import JOBS_CONTRACT, ComputeJobs, JobKind, Shares

SIZES = (1, 3, 10)
PAYMENT = 10**18 + 7
SHARES = Shares(dataset_owners=6000, model_owner=2500, nodes=1500)


def measure() -> dict[int, dict[str, list[int]]]:
    most = max(SIZES)
    chain = Chain.embedded(accounts=2 * most + 3)
    accounts = chain.accounts
    owners, nodes = accounts[1 : most + 1], accounts[most + 1 : 2 * most + 1]
    model_owner, requester = accounts[2 * most + 1], accounts[2 * most + 2]
    registry = AssetRegistry.deploy(chain)
    datasets = [
        registry.mint_batch(
            owner, AssetKind.DATASET, [hashlib.sha256(owner.encode()).digest()]
        ).token_ids[0]
        for owner in owners
    ]
    (model,) = registry.mint_batch(model_owner, AssetKind.MODEL, [bytes(32)]).token_ids
    latest = chain.block()
    assert latest is not None
    expiry = latest.timestamp + 365 * 86400
    for dataset, owner in zip(datasets, owners, strict=True):
        registry.grant_license(dataset, requester, expiry, sender=owner)
    registry.grant_license(model, requester, expiry, sender=model_owner)

    results: dict[int, dict[str, list[int]]] = {}
    for n in SIZES:
        jobs = ComputeJobs.deploy(chain, registry.address)
        for dataset, owner, node in zip(datasets[:n], owners, nodes, strict=False):
            jobs.set_budget(dataset, 10.0, sender=owner)
            jobs.register_node(dataset, node, sender=owner)
        results[n] = {}
        for _ in range(2):  # the second job is measured: the market has had one before
            results[n] = run_job(
                chain, jobs, n, datasets, model, nodes, owners, model_owner, requester
            )
    return results


def run_job(
    chain: Chain,
    jobs: ComputeJobs,
    n: int,
    datasets: list[int],
    model: int,
    nodes: list[str],
    owners: list[str],
    model_owner: str,
    requester: str,
) -> dict[str, list[int]]:
    """One job on the first ``n`` datasets, from request to every payee's withdrawal."""
    market = jobs.contract
    now = chain.block()
    assert now is not None
    request = market.transact(
        "requestJob",
        int(JobKind.FEDERATED_TRAIN),
        datasets[:n],
        model,
        hashlib.sha256(b"params").digest(),
        now.timestamp + 3600,
        500,
        (SHARES.dataset_owners, SHARES.model_owner, SHARES.nodes),
        sender=requester,
        value=PAYMENT,
    )
    job_id = jobs.job_count()
    accepts = [
        market.transact("acceptJob", job_id, dataset, sender=node).gas_used
        for dataset, node in zip(datasets[:n], nodes, strict=False)
    ]
    submits = [
        market.transact(
            "submitResult",
            job_id,
            hashlib.sha256(b"result").digest(),
            hashlib.sha256(b"report").digest(),
            sender=node,
        ).gas_used
        for node in nodes[:n]
    ]
    assert jobs.job(job_id).status.label == "completed"
    payees = [*owners[:n], *nodes[:n], model_owner, requester]
    assert sum(jobs.owed(payee) for payee in payees) == PAYMENT
    withdraws = [market.transact("withdraw", sender=payee).gas_used for payee in payees]
    return {
        "requestJob": [request.gas_used],
        "acceptJob": accepts,
        "submitResult": submits,
        "withdraw": withdraws,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    results = measure()
    out = sys.stderr if options.json else sys.stdout
    totals: dict[int, dict[str, int]] = {}
    print(f"{'gas':44} " + " ".join(f"{f'N = {n}':>10}" for n in SIZES), file=out)

    def row(label: str, values: list[int | None]) -> None:
        cells = " ".join(f"{v:10d}" if v is not None else f"{'-':>10}" for v in values)
        print(f"{label:44} {cells}", file=out)

    row("requestJob", [results[n]["requestJob"][0] for n in SIZES])
    row("requestJob per dataset", [results[n]["requestJob"][0] // n for n in SIZES])
    for step in ("acceptJob", "submitResult"):
        row(f"{step}, first", [results[n][step][0] for n in SIZES])
        row(
            f"{step}, others before the last",
            [max(results[n][step][1:-1]) if n > 2 else None for n in SIZES],
        )
        last = "starts the job" if step == "acceptJob" else "completes and credits"
        row(f"{step}, last ({last})", [results[n][step][-1] if n > 1 else None for n in SIZES])
    row("withdraw (each payee)", [max(results[n]["withdraw"]) for n in SIZES])
    for n in SIZES:
        figures = results[n]
        job = sum(figures["requestJob"]) + sum(figures["acceptJob"]) + sum(figures["submitResult"])
        totals[n] = {"job": job, "with withdrawals": job + sum(figures["withdraw"])}
    row("total per job (request to complete)", [totals[n]["job"] for n in SIZES])
    row("  per dataset", [totals[n]["job"] // n for n in SIZES])
    row("total with every payee's withdraw", [totals[n]["with withdrawals"] for n in SIZES])
    for n in SIZES:
        print(
            f"N = {n}: acceptJob {results[n]['acceptJob']}, "
            f"submitResult {results[n]['submitResult']}, withdraw {results[n]['withdraw']}",
            file=out,
        )
    code = len(load_artifact(JOBS_CONTRACT).deployed_bytecode)
    print(f"ComputeJobs runtime code: {code} bytes", file=out)
    if options.json:
        print(
            json.dumps(
                {"gas": {str(n): results[n] for n in SIZES}, "totals": totals, "code_bytes": code}
            )
        )


if __name__ == "__main__":
    main()
