"""Gas of one ComputeJobs job, from request to withdrawal, for 1, 3 and 10 datasets.

On one embedded chain with troika's AssetRegistry: N datasets, each with its
own owner, a privacy budget and a registered node, and a model of another
owner; a requester licensed for all of them. For each N, on a fresh market: a
federated-training job on the N datasets and the model (epsilon 0.5, shares
60/25/15, a payment that leaves rounding dust), every node accepts (the last
acceptance starts the job), every node confirms the same digests (the last
confirmation completes the job and credits everybody), then every payee
withdraws. Then the same job paid in an ERC-20 token instead of the coin
(tests/artifacts/TestToken.json: OpenZeppelin's ERC20, minted to the
requester): the requester approves the market (the token's ``approve``,
reported on its own), ``requestJobWithToken`` pulls the payment into escrow,
and every payee calls ``withdrawToken``; the market holds no other escrow of
the token, so each request writes the market's token balance from zero.
Each figure is a transaction's ``gasUsed``, so it includes the 21,000 every
transaction pays. Gas is exact: one run is the measurement.

Run: python bench/compute_jobs_gas.py [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from troika.assets import AssetKind, AssetRegistry
from troika.chain import ArtifactStore, Chain, Contract, load_artifact
from troika.compute._jobs import JOBS_CONTRACT, ComputeJobs, JobKind, Shares

TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "tests" / "artifacts"

SIZES = (1, 3, 10)
PAYMENT = 10**18 + 7
SHARES = Shares(dataset_owners=6000, model_owner=2500, nodes=1500)


def measure() -> dict[str, dict[int, dict[str, list[int]]]]:
    """Per payment ("coin", "token"), per N: the gas of each transaction."""
    most = max(SIZES)
    chain = Chain.embedded(accounts=2 * most + 3, artifacts=ArtifactStore([TEST_ARTIFACTS]))
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

    token = chain.deploy("TestToken", sender=requester, record=False)
    token.transact("mint", requester, 10**30, sender=requester)
    results: dict[str, dict[int, dict[str, list[int]]]] = {"coin": {}, "token": {}}
    for n in SIZES:
        jobs = ComputeJobs.deploy(chain, registry.address)
        for dataset, owner, node in zip(datasets[:n], owners, nodes, strict=False):
            jobs.set_budget(dataset, 10.0, sender=owner)
            jobs.register_node(dataset, node, sender=owner)
        for payment, paid_in in (("coin", None), ("token", token)):
            for _ in range(2):  # the second job is measured: the market has had one before
                results[payment][n] = run_job(
                    chain, jobs, n, datasets, model, nodes, owners, model_owner, requester, paid_in
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
    token: Contract | None = None,
) -> dict[str, list[int]]:
    """One job on the first ``n`` datasets, from request to every payee's
    withdrawal, paid in the coin or in ``token``."""
    market = jobs.contract
    now = chain.block()
    assert now is not None
    args = (
        int(JobKind.FEDERATED_TRAIN),
        datasets[:n],
        model,
        hashlib.sha256(b"params").digest(),
        now.timestamp + 3600,
        500,
        (SHARES.dataset_owners, SHARES.model_owner, SHARES.nodes),
    )
    approve = []
    if token is None:
        request = market.transact("requestJob", *args, sender=requester, value=PAYMENT)
    else:
        approved = token.transact("approve", market.address, PAYMENT, sender=requester)
        approve.append(approved.gas_used)
        request = market.transact(
            "requestJobWithToken", *args, token.address, PAYMENT, sender=requester
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
    if token is None:
        assert sum(jobs.owed(payee) for payee in payees) == PAYMENT
        withdraws = [market.transact("withdraw", sender=payee).gas_used for payee in payees]
    else:
        assert sum(jobs.owed(payee, token=token.address) for payee in payees) == PAYMENT
        withdraws = [
            market.transact("withdrawToken", token.address, sender=payee).gas_used
            for payee in payees
        ]
        assert token.call("balanceOf", market.address) == 0
    return {
        "approve": approve,
        "requestJob": [request.gas_used],
        "acceptJob": accepts,
        "submitResult": submits,
        "withdraw": withdraws,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    measured = measure()
    out = sys.stderr if options.json else sys.stdout
    totals: dict[str, dict[int, dict[str, int]]] = {"coin": {}, "token": {}}
    for payment, results in measured.items():
        token = payment == "token"
        request = "requestJobWithToken" if token else "requestJob"
        withdraw = "withdrawToken" if token else "withdraw"
        title = "paid in an ERC-20 token" if token else "paid in the native coin"
        print(f"{'gas, ' + title:44} " + " ".join(f"{f'N = {n}':>10}" for n in SIZES), file=out)

        def row(label: str, values: list[int | None]) -> None:
            cells = " ".join(f"{v:10d}" if v is not None else f"{'-':>10}" for v in values)
            print(f"{label:44} {cells}", file=out)

        if token:
            row(
                "approve (the token's, before the request)",
                [results[n]["approve"][0] for n in SIZES],
            )
        row(request, [results[n]["requestJob"][0] for n in SIZES])
        row(f"{request} per dataset", [results[n]["requestJob"][0] // n for n in SIZES])
        for step in ("acceptJob", "submitResult"):
            row(f"{step}, first", [results[n][step][0] for n in SIZES])
            row(
                f"{step}, others before the last",
                [max(results[n][step][1:-1]) if n > 2 else None for n in SIZES],
            )
            last = "starts the job" if step == "acceptJob" else "completes and credits"
            row(f"{step}, last ({last})", [results[n][step][-1] if n > 1 else None for n in SIZES])
        row(f"{withdraw} (each payee)", [max(results[n]["withdraw"]) for n in SIZES])
        for n in SIZES:
            figures = results[n]
            job = sum(figures["requestJob"]) + sum(figures["acceptJob"])
            job += sum(figures["submitResult"]) + sum(figures["approve"])
            totals[payment][n] = {"job": job, "with withdrawals": job + sum(figures["withdraw"])}
        label = (
            "total per job (approve to complete)"
            if token
            else "total per job (request to complete)"
        )
        row(label, [totals[payment][n]["job"] for n in SIZES])
        row("  per dataset", [totals[payment][n]["job"] // n for n in SIZES])
        row(
            "total with every payee's withdraw",
            [totals[payment][n]["with withdrawals"] for n in SIZES],
        )
        for n in SIZES:
            print(
                f"N = {n}: acceptJob {results[n]['acceptJob']}, "
                f"submitResult {results[n]['submitResult']}, {withdraw} {results[n]['withdraw']}",
                file=out,
            )
        print(file=out)
    code = len(load_artifact(JOBS_CONTRACT).deployed_bytecode)
    print(f"ComputeJobs runtime code: {code} bytes", file=out)
    if options.json:
        print(
            json.dumps(
                {
                    "gas": {
                        payment: {str(n): results[n] for n in SIZES}
                        for payment, results in measured.items()
                    },
                    "totals": totals,
                    "code_bytes": code,
                }
            )
        )


if __name__ == "__main__":
    main()
