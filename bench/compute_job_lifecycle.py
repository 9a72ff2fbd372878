"""A compute job's lifecycle, request to paid out, in seconds per phase, with its gas.

On the embedded defaults (``Troika.embedded``: in-process EVM, LocalStore) and
on an anvil and a Kubo that this script starts on free loopback ports
(tests/_services.py) and always stops, through troika's client
(``troika.Troika``), the story of ``troika demo`` cut down to the job:

- set-up, untimed: three hospitals, a model owner and an AI agent get did:ethr
  identities (keys at a low scrypt cost) and coin; each hospital mints an
  encrypted dataset NFT of its private shard of scikit-learn's breast-cancer
  data (``troika._demo.demo_data``), the model owner mints the base model, all
  four tokens are licensed to the agent, each hospital sets a privacy budget
  and runs a node (``Troika.node``, in memory) for its dataset;
- then, for each run, three jobs, each paid ``DEMO_PAYMENT`` (0.1 ETH): a
  ``stats`` job (a DP mean of column f0 clipped to [-5, 5], Laplace, epsilon
  0.5 per dataset), a ``federated-train`` job (SecAgg+ across the 3 nodes,
  3 rounds, no DP noise) and the same training job with plain FedAvg
  (``TrainParams(secure=False)``, reported as ``federated-plain``: the nodes'
  ``DatasetPolicy`` has no secure-only switch in this runtime, so they accept
  it), on the three datasets. The table ends with the secure/plain ratio of
  request-to-paid-out (the issue's goal: <= 1.5x in the embedded runtime) and,
  for honesty, of the ``compute`` phase alone (the rest is the same chain work
  for both): each as the ratio of the medians and as the median of the
  per-run ratios (the two jobs of a run are adjacent, on nearly the same
  chain height).

The phases, each timed with ``time.perf_counter`` on its own:

1. ``request``: ``Compute.request``: the job's spec pinned, ``requestJob`` sent
   with the payment and its receipt read;
2. ``accept``: ``Node.poll`` of each hospital's node: it reads the new job from
   the chain's logs, checks it (status, deadline, kind, payment, budget,
   licences, the pinned spec) and sends ``acceptJob``; the last acceptance
   starts the job;
3. ``compute``: ``Coordinator.run``: the computation (the three nodes' noisy
   releases combined; or the base model fetched and decrypted with the agent's
   licence, 3 rounds of Flower SecAgg+ in this process, the trained model
   encrypted to the agent's DID key and pinned), the result and report pinned,
   each node checks them and sends ``submitResult``; the last completes the job
   and credits every payee;
4. ``result``: ``Compute.result``: the result fetched and checked against the
   digest confirmed on chain (and the trained model's envelope opened with the
   agent's key, the weights decrypted and their digest checked);
5. ``payout``: every party the market owes withdraws: each hospital (its
   dataset's owner and its node's account, as in the demo: one withdrawal)
   through ``Node.withdraw``; the model owner (training) and the agent (the
   rounding dust of a stats job's split) through ``ComputeJobs.withdraw``,
   when owed anything. The withdrawn wei must add up to the payment.

``total`` is request to paid out, the sum of the five. Each kind runs once,
untimed, before the measured runs (the first job pays for lazy imports, such
as Flower's: reported as ``cold``), and the runs rotate the kinds' order;
the figures are medians over ``--runs``.
Gas is exact: every transaction mined during a phase (anvil and the embedded
EVM mine one block per transaction, and nothing else sends), summed from the
receipts after the timing; the per-transaction breakdown for 1, 3 and 10
datasets is bench/compute_jobs_gas.py. The jobs of a backend share one chain,
so each job starts on a longer one: the JSON keeps each run's total, compute
time and chain height (``heights``), and the table prints the totals in order.

With ``--fresh`` each run gets a backend of its own, set up anew (untimed;
the first also runs the cold jobs), so every measured job runs at the same
chain height: the embedded EVM's licensed fetches slow down as its chain
grows (bench/README.md), which otherwise swamps the secure/plain comparison.

Run: ``.venv/bin/python bench/compute_job_lifecycle.py [--runs 5]
[--backends embedded,anvil] [--fresh] [--json]``. With ``--json`` stdout is one JSON
line and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from troika import Troika
from troika._config import Settings
from troika._demo import DEMO_PAYMENT, demo_data
from troika.assets import DatasetMetadata, DatasetProperties, ModelMetadata, ModelProperties
from troika.chain import Keystore
from troika.compute import DatasetPolicy, LogisticRegressionModel, Node, TrainParams
from troika.compute._jobs import JobStatus
from troika.compute._privacy import StatsQuery
from troika.did import Identity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, Kubo, ServiceError  # noqa: E402

PHASES = ("request", "accept", "compute", "result", "payout")
KINDS = ("stats", "federated-train", "federated-plain")
HOSPITALS = ("st-mary", "city-general", "northside")
ROUNDS = 3
QUERY = StatsQuery(column="f0", statistic="mean", bounds=(-5.0, 5.0), epsilon=0.5)
SCRYPT_N = 2**10  # throwaway keys, as the demo's
FUNDING = 10**18


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Market:
    """Everything the timed phases use; made untimed."""

    troika: Troika
    hospitals: list[Identity]
    modeller: Identity
    agent: Identity
    datasets: list[int]
    model: int
    nodes: list[Node]


def write_csv(path: Path, names: tuple[str, ...], x: Any, y: Any) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*names, "label"])
        writer.writerows([*map(float, row), float(label)] for row, label in zip(x, y, strict=True))
    return path


def set_up(troika: Troika, work: Path, jobs: int) -> Market:
    """Identities, coin, three encrypted datasets, a model, licences, budgets,
    nodes: enough for ``jobs`` jobs of each kind."""
    work.mkdir(parents=True, exist_ok=True)
    people = troika.identities
    hospitals = [people.create(name, "pw", kind="person") for name in HOSPITALS]
    modeller = people.create("modelworks", "pw", kind="person")
    agent = people.create("agent", "pw", kind="agent")
    for party in (*hospitals, modeller):
        troika.fund(party, FUNDING)
    troika.fund(agent, FUNDING + len(KINDS) * jobs * DEMO_PAYMENT)
    shards, _, names = demo_data(len(HOSPITALS))
    datasets, policies = [], []
    for hospital, (x, y) in zip(hospitals, shards, strict=True):
        shard = write_csv(work / f"{hospital.name}.csv", names, x, y)
        minted = troika.assets(hospital).mint_dataset(
            shard,
            DatasetMetadata(
                name=f"{hospital.name} tumour biopsies",
                properties=DatasetProperties(media_type="text/csv", rows=len(y)),
            ),
        )
        datasets.append(minted.token_id)
        policies.append(DatasetPolicy(minted.token_id, shard))
    weights = work / "base-model.npz"
    weights.write_bytes(LogisticRegressionModel.init(len(names), seed=1).to_bytes())
    model = (
        troika.assets(modeller)
        .mint_model(
            weights,
            ModelMetadata(
                name="tumour classifier",
                properties=ModelProperties(framework="numpy", task="binary-classification"),
            ),
        )
        .token_id
    )
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    for hospital, dataset in zip(hospitals, datasets, strict=True):
        troika.assets(hospital).grant_license(dataset, agent, until)
    troika.assets(modeller).grant_license(model, agent, until)
    nodes = []
    for hospital, policy in zip(hospitals, policies, strict=True):
        troika.jobs.set_budget(policy.dataset_id, QUERY.epsilon * jobs + 1, sender=hospital.signer)
        nodes.append(troika.node(hospital, [policy]))
    return Market(troika, hospitals, modeller, agent, datasets, model, nodes)


def gas_of_blocks(troika: Troika, first: int, last: int) -> tuple[int, int]:
    """Transactions and their summed ``gasUsed`` in blocks ``first`` to ``last``."""
    eth = troika.chain.w3.eth
    count = gas = 0
    for number in range(first, last + 1):
        for tx in eth.get_block(number)["transactions"]:
            count += 1
            gas += int(eth.get_transaction_receipt(tx)["gasUsed"])  # type: ignore[arg-type]
    return count, gas


def one_job(market: Market, kind: str) -> dict[str, Any]:
    """One job of ``kind`` from request to every payee's withdrawal: seconds,
    transactions and gas per phase."""
    troika = market.troika
    chain = troika.chain
    compute = troika.compute(market.agent)
    coordinator = troika.coordinator(market.agent, timeout=120)
    latest = chain.block("latest")
    assert latest is not None
    job_id = 0
    blocks: dict[str, tuple[int, int]] = {}
    seconds: dict[str, float] = {}

    def timed(phase: str, action: Callable[[], Any]) -> Any:
        before = chain.block_number
        start = time.perf_counter()
        value = action()
        seconds[phase] = time.perf_counter() - start
        blocks[phase] = (before + 1, chain.block_number)
        return value

    def request() -> int:
        if kind == "stats":
            return compute.request(
                "stats",
                market.datasets,
                params=QUERY,
                payment=DEMO_PAYMENT,
                deadline=latest.timestamp + 3600,
            )
        return compute.request(
            "federated-train",
            market.datasets,
            model=market.model,
            params=TrainParams(rounds=ROUNDS, secure=kind == "federated-train"),
            payment=DEMO_PAYMENT,
            deadline=latest.timestamp + 3600,
        )

    def accept() -> None:
        decisions = [decision for node in market.nodes for decision in node.poll()]
        refused = [d.reason for d in decisions if not d.accepted]
        if refused or len(decisions) != len(market.nodes):
            raise SystemExit(f"job {job_id}: the nodes decided {decisions}")

    def payout() -> int:
        paid = 0
        for node in market.nodes:
            paid += node.withdraw()
        for party in (market.modeller, market.agent):
            if troika.jobs.owed(party.address):
                paid += troika.jobs.withdraw(sender=party.signer)
        return paid

    job_id = timed("request", request)
    timed("accept", accept)
    if compute.status(job_id).status is not JobStatus.RUNNING:
        raise SystemExit(f"job {job_id} did not start")
    timed("compute", lambda: coordinator.run(job_id, market.nodes))
    result = timed("result", lambda: compute.result(job_id))
    if kind == "stats" and result.value is None:
        raise SystemExit(f"job {job_id}: no value")
    if kind != "stats" and result.model is None:
        raise SystemExit(f"job {job_id}: no model")
    paid = timed("payout", payout)
    if paid != DEMO_PAYMENT:
        raise SystemExit(f"job {job_id}: {paid} wei withdrawn of {DEMO_PAYMENT}")
    txs, gas = {}, {}
    for phase in PHASES:
        txs[phase], gas[phase] = gas_of_blocks(troika, *blocks[phase])
    return {
        "job": job_id,
        "height": blocks["request"][0] - 1,
        "seconds": {phase: round(seconds[phase], 4) for phase in PHASES},
        "total_s": round(sum(seconds.values()), 4),
        "txs": txs,
        "gas": gas,
        "gas_total": sum(gas.values()),
    }


def summarise(runs: list[dict[str, Any]], cold: dict[str, Any]) -> dict[str, Any]:
    return {
        "median_s": {
            phase: round(statistics.median(run["seconds"][phase] for run in runs), 3)
            for phase in PHASES
        },
        "median_total_s": round(statistics.median(run["total_s"] for run in runs), 3),
        "totals_s": [round(run["total_s"], 3) for run in runs],
        "compute_s": [round(run["seconds"]["compute"], 3) for run in runs],
        "heights": [run["height"] for run in runs],
        "cold_total_s": round(cold["total_s"], 3),
        "cold_s": cold["seconds"],
        "txs": runs[-1]["txs"],
        "gas": runs[-1]["gas"],
        "gas_total": int(statistics.median(run["gas_total"] for run in runs)),
        # the result and report digests are random bytes in calldata: a few gas of spread
        "gas_totals": [run["gas_total"] for run in runs],
    }


@contextlib.contextmanager
def backend(name: str, work: Path) -> Iterator[Troika]:
    """A Troika on the embedded defaults, or on an anvil and a Kubo (always stopped)."""
    home = work / "home"
    if name == "embedded":
        with Troika.embedded(home, scrypt_n=SCRYPT_N) as troika:
            yield troika
        return
    try:
        anvil = Anvil(workdir=work / "anvil")
        kubo = Kubo(workdir=work / "kubo")
    except ServiceError as exc:
        raise SystemExit(f"{exc} (install them with tools/setup.sh dev)") from exc
    try:
        try:
            anvil.start()
            kubo.start()
        except ServiceError as exc:
            raise SystemExit(f"a service did not start: {exc}") from exc
        settings = Settings(home=home, rpc_url=anvil.url, ipfs_api=kubo.api_url, chain_id=None)
        with Troika(settings, keystore=Keystore(home, scrypt_n=SCRYPT_N)) as troika:
            yield troika
    finally:
        kubo.stop()
        anvil.stop()


def measure(name: str, runs: int, *, fresh: bool = False) -> dict[str, Any]:
    """``runs`` rounds of one job of each kind on one backend; with ``fresh``,
    each round on a backend of its own, set up anew (untimed), so every round
    runs at the same chain height."""
    cold: dict[str, dict[str, Any]] = {}
    measured: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for chain_index in range(runs if fresh else 1):
        with (
            tempfile.TemporaryDirectory(prefix="troika-bench-lifecycle-") as tmp,
            backend(name, Path(tmp)) as troika,
        ):
            start = time.perf_counter()
            market = set_up(troika, Path(tmp) / "work", jobs=(1 if fresh else runs) + 1)
            log(f"{name}: set-up (untimed) {time.perf_counter() - start:.1f} s")
            if chain_index == 0:
                cold = {kind: one_job(market, kind) for kind in KINDS}
            for index in [chain_index] if fresh else range(runs):
                shift = index % len(KINDS)  # rotate the order: each goes first, middle, last
                for kind in KINDS[shift:] + KINDS[:shift]:
                    measured[kind].append(one_job(market, kind))
                    seconds = measured[kind][-1]["total_s"]
                    log(f"{name} run {index + 1}/{runs}: {kind} {seconds:.2f} s")
    summary: dict[str, Any] = {kind: summarise(measured[kind], cold[kind]) for kind in KINDS}
    summary["secure_vs_plain"] = ratios(measured["federated-train"], measured["federated-plain"])
    return summary


def ratios(secure: list[dict[str, Any]], plain: list[dict[str, Any]]) -> dict[str, float]:
    """SecAgg+ over plain FedAvg: request to paid out and the compute phase
    alone, as the ratio of the medians and as the median of per-run ratios."""

    def of(runs: list[dict[str, Any]], key: str) -> list[float]:
        return [run["total_s"] if key == "total" else run["seconds"]["compute"] for run in runs]

    found: dict[str, float] = {}
    for key in ("total", "compute"):
        s, p = of(secure, key), of(plain, key)
        found[f"{key}_of_medians"] = round(statistics.median(s) / statistics.median(p), 3)
        found[f"{key}_paired_median"] = round(
            statistics.median(a / b for a, b in zip(s, p, strict=True)), 3
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured jobs of each kind")
    parser.add_argument(
        "--backends", default="embedded,anvil", help="comma-separated: embedded, anvil"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="each run on a new chain (set up untimed): every run at the same height",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    unknown = set(backends) - {"embedded", "anvil"}
    if unknown or options.runs < 1:
        parser.error(f"unknown backends {sorted(unknown)}" if unknown else "--runs must be >= 1")

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "runs": options.runs,
        "fresh": options.fresh,
    }
    for name in backends:
        results[name] = measure(name, options.runs, fresh=options.fresh)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]

    labels = {"embedded": "embedded", "anvil": "anvil + Kubo"}
    header = f"{'backend':<14}{'job':<17}" + "".join(f"{p:>9}" for p in PHASES)
    header += f"{'total':>9}{'cold':>8}  {'totals (runs)':<22}{'txs':>5}{'gas':>10}"
    lines = [f"seconds, median of {options.runs} runs", header, "-" * len(header)]
    for name in backends:
        for kind in KINDS:
            row = results[name][kind]
            runs_s = ", ".join(f"{t:.2f}" for t in row["totals_s"])
            lines.append(
                f"{labels[name]:<14}{kind:<17}"
                + "".join(f"{row['median_s'][p]:>9.2f}" for p in PHASES)
                + f"{row['median_total_s']:>9.2f}{row['cold_total_s']:>8.2f}  {runs_s:<22}"
                + f"{sum(row['txs'].values()):>5}{row['gas_total']:>10}"
            )
    for name in backends:
        for kind in KINDS:
            row = results[name][kind]
            per = ", ".join(f"{p} {row['txs'][p]} tx {row['gas'][p]}" for p in PHASES)
            spread = f"{min(row['gas_totals'])}-{max(row['gas_totals'])}"
            lines.append(f"gas, {labels[name]}, {kind} (last run; totals {spread}): {per}")
    for name in backends:
        r = results[name]["secure_vs_plain"]
        lines.append(
            f"SecAgg+ / plain FedAvg, {labels[name]}: request to paid out "
            f"{r['total_of_medians']:.2f}x (of the medians; per-run median "
            f"{r['total_paired_median']:.2f}x), compute phase "
            f"{r['compute_of_medians']:.2f}x (per-run {r['compute_paired_median']:.2f}x)"
        )
    for name in backends:
        heights = [h for kind in KINDS for h in results[name][kind]["heights"]]
        lines.append(
            f"chain height at the measured requests, {labels[name]}: "
            f"{min(heights)} to {max(heights)} blocks"
        )
    lines.append(
        f"load average (1, 5, 15 min): before {results['load_before']}, "
        f"after {results['load_after']}; {results['cpus']} cpus"
    )
    table = "\n".join(lines)
    if options.json:
        log(table)
        print(json.dumps(results, sort_keys=True))
    else:
        print(table)


if __name__ == "__main__":
    main()
