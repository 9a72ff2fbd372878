"""A compute node with 100 queued jobs: it works through them all, none twice, every wei paid.

What it does, on an anvil that it starts on a free loopback port (and always
stops), with troika's client (``troika.Troika``) and the local block store:

- set-up, untimed: a hospital and an AI agent get did:ethr identities and coin;
  the hospital mints an encrypted dataset NFT of its shard of the demo data,
  licenses it to the agent, sets a privacy budget for ``--jobs`` jobs and runs
  a node for it (``Troika.node``, with a state file);
- ``request``: the agent requests ``--jobs`` stats jobs (a DP mean of column f0,
  epsilon 0.5 each, ``DEMO_PAYMENT`` each) on that one dataset, one after the
  other: a queue of jobs the node has not seen;
- ``accept``: the node polls (``Node.poll``): it reads every queued job from the
  chain's logs, checks each and accepts it; then a second node made from the
  same state file (a restart) polls, and must decide nothing again;
- ``compute``: the agent's coordinator runs each job with the node (its noisy
  release, the result pinned, the node's check and ``submitResult``);
- ``payout``: the hospital withdraws (``Node.withdraw``), and the agent if it
  is owed rounding dust.

Checked, exactly: every job is ``completed``; the chain has one
``JobAccepted`` per job (none accepted twice) and the node's decisions name
each job once; the restarted node decided nothing; the wei withdrawn equal
the jobs' payments, and the market holds no more coin than before the jobs
(nothing escrowed is left behind or paid twice). ``jobs/s`` is jobs over the
seconds of accept plus compute (the node's share of the work); the request
rate is the agent's.

This is a load test, not a benchmark (no peer): its figures go to the
hardening report (``tools/hardening_report.py``). Run:
``.venv/bin/python bench/load_node.py [--jobs 100] [--json]``; with ``--json``
stdout is one JSON line. With ``TROIKA_REPORT_DIR`` set it adds a ``load``
record for the report. Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from troika import Troika
from troika._config import Settings
from troika._demo import DEMO_PAYMENT, demo_data
from troika.assets import DatasetMetadata, DatasetProperties
from troika.chain import Keystore
from troika.compute import DatasetPolicy
from troika.compute._jobs import JobStatus
from troika.compute._privacy import StatsQuery

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, ServiceError  # noqa: E402

QUERY = StatsQuery(column="f0", statistic="mean", bounds=(-5.0, 5.0), epsilon=0.5)
SCRYPT_N = 2**10  # throwaway keys
FUNDING = 10**18


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_csv(path: Path, names: tuple[str, ...], x: Any, y: Any) -> Path:
    lines = [",".join([*names, "label"])]
    lines += [
        ",".join(str(float(v)) for v in [*row, label]) for row, label in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(jobs: int, work: Path) -> dict[str, Any]:
    """Set up, queue ``jobs`` stats jobs, let one node work through them; figures and checks."""
    try:
        anvil = Anvil(workdir=work / "anvil")
    except ServiceError as exc:
        raise SystemExit(f"{exc} (install it with tools/setup.sh dev)") from exc
    anvil.start()
    try:
        home = work / "home"
        settings = Settings(home=home, rpc_url=anvil.url, chain_id=None)
        with Troika(settings, keystore=Keystore(home, scrypt_n=SCRYPT_N)) as troika:
            return _run(troika, jobs, work)
    finally:
        anvil.stop()


def _run(troika: Troika, jobs: int, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    people = troika.identities
    hospital = people.create("st-mary", "pw", kind="person")
    agent = people.create("agent", "pw", kind="agent")
    troika.fund(hospital, FUNDING)
    troika.fund(agent, FUNDING + jobs * DEMO_PAYMENT)
    shards, _, names = demo_data(1)
    (x, y) = shards[0]
    shard = write_csv(work / "shard.csv", names, x, y)
    minted = troika.assets(hospital).mint_dataset(
        shard,
        DatasetMetadata(
            name="st-mary tumour biopsies",
            properties=DatasetProperties(media_type="text/csv", rows=len(y)),
        ),
    )
    dataset = minted.token_id
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    troika.assets(hospital).grant_license(dataset, agent, until)
    troika.jobs.set_budget(dataset, QUERY.epsilon * jobs + 1, sender=hospital.signer)
    state = work / "node-state.json"
    node = troika.node(hospital, [DatasetPolicy(dataset, shard)], state=state)
    compute = troika.compute(agent)
    coordinator = troika.coordinator(agent, timeout=120)
    chain = troika.chain
    market = troika.jobs.contract.address
    held_before = chain.balance(market)
    first_block = chain.block_number + 1
    log(f"set-up (untimed) {time.perf_counter() - started:.1f} s")

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    deadline = chain.block("latest").timestamp + 24 * 3600  # type: ignore[union-attr]
    ids = [
        compute.request("stats", [dataset], params=QUERY, payment=DEMO_PAYMENT, deadline=deadline)
        for _ in range(jobs)
    ]
    seconds["request"] = time.perf_counter() - start
    log(f"request: {jobs} jobs queued in {seconds['request']:.1f} s")

    start = time.perf_counter()
    decisions = node.poll()
    seconds["accept"] = time.perf_counter() - start
    restarted = troika.node(hospital, [DatasetPolicy(dataset, shard)], state=state)
    again = restarted.poll()
    log(f"accept: {len(decisions)} decisions in {seconds['accept']:.1f} s; after a restart {again}")

    start = time.perf_counter()
    for job_id in ids:
        coordinator.run(job_id, [node])
    seconds["compute"] = time.perf_counter() - start
    log(f"compute: {jobs} jobs in {seconds['compute']:.1f} s")

    start = time.perf_counter()
    paid = node.withdraw()
    if troika.jobs.owed(agent.address):
        paid += troika.jobs.withdraw(sender=agent.signer)
    seconds["payout"] = time.perf_counter() - start

    statuses = collections.Counter(troika.jobs.job(job_id).status for job_id in ids)
    accepted_events = collections.Counter(
        int(event.args["jobId"])
        for event in troika.jobs.events("JobAccepted", from_block=first_block)
    )
    decided = collections.Counter(d.job_id for d in node.decisions())
    held_after = chain.balance(market)
    checks = {
        "all completed": statuses[JobStatus.COMPLETED] == jobs,
        "every job accepted": all(d.accepted for d in decisions) and len(decisions) == jobs,
        "none accepted twice on chain": sorted(accepted_events) == sorted(ids)
        and set(accepted_events.values()) == {1},
        "one decision per job": sorted(decided) == sorted(ids) and set(decided.values()) == {1},
        "nothing decided again after a restart": again == [],
        "payouts exact": paid == jobs * DEMO_PAYMENT,
        "nothing left in escrow": held_after == held_before,
    }
    work_seconds = seconds["accept"] + seconds["compute"]
    return {
        "jobs": jobs,
        "seconds": {phase: round(value, 2) for phase, value in seconds.items()},
        "jobs_per_s": round(jobs / work_seconds, 2),
        "requests_per_s": round(jobs / seconds["request"], 2),
        "completed": statuses[JobStatus.COMPLETED],
        "statuses": {status.label: count for status, count in statuses.items()},
        "accepted_on_chain": sum(accepted_events.values()),
        "paid_wei": paid,
        "expected_wei": jobs * DEMO_PAYMENT,
        "escrow_left_wei": held_after - held_before,
        "checks": checks,
        "ok": all(checks.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout
    with tempfile.TemporaryDirectory(prefix="troika-load-node-") as folder:
        result = run(args.jobs, Path(folder))
    print(f"one compute node, {args.jobs} queued stats jobs on anvil", file=out)
    print(
        f"{'jobs':>5} {'completed':>9} {'jobs/s':>7} {'request s':>9} {'accept s':>8} "
        f"{'compute s':>9} {'paid (ETH)':>10} {'escrow left':>11}",
        file=out,
    )
    s = result["seconds"]
    print(
        f"{result['jobs']:>5} {result['completed']:>9} {result['jobs_per_s']:>7.2f} "
        f"{s['request']:>9.1f} {s['accept']:>8.1f} {s['compute']:>9.1f} "
        f"{result['paid_wei'] / 10**18:>10.4f} {result['escrow_left_wei']:>11}",
        file=out,
    )
    for name, held in result["checks"].items():
        print(f"  {'ok ' if held else 'FAILED'} {name}", file=out)
    if os.environ.get("TROIKA_REPORT_DIR"):
        from tests._report import record

        failed = [name for name, held in result["checks"].items() if not held]
        record(
            "load",
            f"compute node with {args.jobs} queued jobs",
            "survived" if result["ok"] else "failed",
            f"{result['completed']}/{args.jobs} completed at {result['jobs_per_s']} jobs/s, "
            f"{result['accepted_on_chain']} acceptances on chain, "
            f"{result['paid_wei']} of {result['expected_wei']} wei paid out, "
            f"{result['escrow_left_wei']} wei left in escrow"
            + (f"; FAILED: {', '.join(failed)}" if failed else ""),
            suite="bench.load_node",
            **result,
        )
    if args.json:
        print(json.dumps({"benchmark": "load_node", **result}))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
