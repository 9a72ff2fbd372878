"""troika's federated logistic regression (Flower, SecAgg+) against its peers, in one run.

The data: sklearn's breast-cancer set, a stratified 80/20 split, the training
part split (stratified) among ``--owners`` data owners who each standardize
their own shard with their own statistics; the test part (standardized with its
own statistics) is the same for every side.

Sides, all in this process, in interleaved rounds (secure first in even rounds,
last in odd ones; every side has one untimed warm-up run):

- ``secagg+``: ``train_federated(shards, TrainParams(secure=True))``, Flower's
  SecAgg+ on troika's in-process runtime (Flower's LinkState and Grid, every
  node's ClientApp in a thread);
- ``fedavg``: the same with ``secure=False``, plain FedAvg on the same runtime;
- ``sklearn``: ``LogisticRegression(max_iter=5000)`` fitted on the union of the
  shards (what pooling the data would give).

Figures: test accuracy of each (goal: SecAgg+ within 1 point of sklearn), the
largest parameter difference between the SecAgg+ and the FedAvg models (SecAgg+
quantizes), median wall time per run and the ratio secagg+/fedavg (goal: at most
1.5), and the message bytes of one round (all nodes, both ways; Flower's
serialized RecordDicts).

Run: ``.venv/bin/python bench/compute_federated.py [--rounds 10] [--epochs 5]
[--learning-rate 1.0] [--owners 3] [--repeat 5] [--deployment ROUNDS] [--json]``.
``--deployment`` adds one run of each side on Flower's deployment engine (a
SuperLink and one SuperNode per owner as processes on loopback; slow: Flower
polls every 3 s and starts a process per message). With ``--json``
stdout is one JSON line and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from troika.compute._federated import (
    FlowerDeployment,
    TrainParams,
    TrainResult,
    train_federated,
    write_shard,
)
from troika.compute._models import LogisticRegressionModel


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _standardize(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / x.std(0)


def load(owners: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    folds = StratifiedKFold(owners, shuffle=True, random_state=0).split(x_train, y_train)
    shards = [(_standardize(x_train[rows]), y_train[rows].astype(float)) for _, rows in folds]
    return shards, _standardize(x_test), y_test.astype(float)


def deployment(
    shards: list[tuple[np.ndarray, np.ndarray]], params: dict[str, TrainParams], rounds: int
) -> dict[str, float]:
    """Wall time of one run of each side on a fresh SuperLink and SuperNodes."""
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="troika-bench-") as scratch:
        paths = [
            write_shard(Path(scratch) / f"owner-{i}.npz", x, y) for i, (x, y) in enumerate(shards)
        ]
        model = LogisticRegressionModel.init(shards[0][0].shape[1])
        with FlowerDeployment(paths, folder=Path(scratch) / "fleet", run_timeout=900) as fleet:
            for side, side_params in params.items():
                chosen = TrainParams(**{**side_params.__dict__, "rounds": rounds})
                started = time.perf_counter()
                train_federated(
                    (), chosen, model=model, runtime="deployment", deployment=fleet, timeout=120
                )
                seconds[side] = time.perf_counter() - started
                log(f"deployment: {side} {seconds[side]:.1f} s")
    return seconds


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=_positive, default=10, help="federated rounds (10)")
    parser.add_argument("--epochs", type=_positive, default=5, help="local epochs (5)")
    parser.add_argument("--learning-rate", type=float, default=1.0, help="(1.0)")
    parser.add_argument("--owners", type=_positive, default=3, help="data owners (3)")
    parser.add_argument("--repeat", type=_positive, default=5, help="timed runs per side (5)")
    parser.add_argument(
        "--deployment",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="also run ROUNDS rounds of each on the deployment engine (SuperLink + SuperNodes)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)
    if args.owners < 3:
        parser.error("SecAgg+ needs at least 3 owners")

    shards, x_test, y_test = load(args.owners)
    base = {"rounds": args.rounds, "local_epochs": args.epochs}
    base["learning_rate"] = args.learning_rate
    params = {
        "secagg+": TrainParams(**base, secure=True),  # type: ignore[arg-type]
        "fedavg": TrainParams(**base, secure=False),  # type: ignore[arg-type]
    }
    times: dict[str, list[float]] = {side: [] for side in params}
    results: dict[str, TrainResult] = {}
    for index in range(args.repeat + 1):  # run 0 warms both sides up, untimed
        order = list(params) if index % 2 == 0 else list(reversed(params))
        for side in order:
            started = time.perf_counter()
            results[side] = train_federated(shards, params[side])
            if index:
                times[side].append(time.perf_counter() - started)
        log(f"run {index}/{args.repeat} done" if index else "warm-up done")

    union_x = np.vstack([x for x, _ in shards])
    union_y = np.concatenate([y for _, y in shards])
    LogisticRegression(max_iter=5000).fit(union_x, union_y)  # warm-up, untimed
    started = time.perf_counter()
    reference = LogisticRegression(max_iter=5000).fit(union_x, union_y)
    sklearn_s = time.perf_counter() - started
    sklearn_accuracy = float(reference.score(x_test, y_test))

    accuracy = {s: r.model.evaluate(x_test, y_test)["accuracy"] for s, r in results.items()}
    median = {side: statistics.median(ts) for side, ts in times.items()}
    per_round = {side: [r.bytes_sent or 0 for r in res.rounds] for side, res in results.items()}
    secure, plain = results["secagg+"].model, results["fedavg"].model
    max_diff = float(
        max(np.abs(secure.weights - plain.weights).max(), abs(secure.bias - plain.bias))
    )
    ratio = median["secagg+"] / median["fedavg"]
    overhead_ms = 1000 * (median["secagg+"] - median["fedavg"]) / args.rounds
    gap = {side: 100 * (accuracy[side] - sklearn_accuracy) for side in params}
    examples = sum(len(y) for _, y in shards)

    lines = [
        f"federated logistic regression, {args.owners} owners ({examples} examples), "
        f"{args.rounds} rounds x {args.epochs} local epochs, lr {args.learning_rate}; "
        f"test set {len(y_test)} examples; median of {args.repeat} interleaved runs",
        f"{'side':<9} {'test acc':>8} {'vs sklearn':>10} {'run s':>7} {'vs fedavg':>9} "
        f"{'bytes/round':>11} {'vs fedavg':>9}",
    ]
    lines.append("-" * len(lines[-1]))
    for side in params:
        first = per_round[side][0]
        lines.append(
            f"{side:<9} {accuracy[side]:>8.4f} {gap[side]:>+8.2f}pt "
            f"{median[side]:>7.3f} {median[side] / median['fedavg']:>8.2f}x "
            f"{first:>11d} {first / per_round['fedavg'][0]:>8.2f}x"
        )
    lines.append(f"{'sklearn':<9} {sklearn_accuracy:>8.4f} {'':>10} {sklearn_s:>7.3f}")
    lines += [
        "vs sklearn: accuracy difference in points (goal: secagg+ within -1pt); vs fedavg: "
        "time or bytes ratio (goal: time at most 1.5x)",
        f"SecAgg+ costs {overhead_ms:.1f} ms "
        "more per round (key agreement, Shamir shares, masks: fixed per round and node)",
        f"largest parameter difference secagg+ vs fedavg: {max_diff:.2e} (SecAgg+ quantizes)",
        "bytes/round: Flower's serialized message contents of round 1, every node, both ways "
        "(the last round also carries the final model back to each node)",
    ]
    deployed: dict[str, float] = {}
    if args.deployment:
        deployed = deployment(shards, params, args.deployment)
        lines.append(
            f"deployment engine (SuperLink + {args.owners} SuperNodes, processes on loopback), "
            f"{args.deployment} round(s): secagg+ {deployed['secagg+']:.1f} s, fedavg "
            f"{deployed['fedavg']:.1f} s, ratio {deployed['secagg+'] / deployed['fedavg']:.2f}x "
            "(one run each, submission to result)"
        )
    table = "\n".join(lines)
    if args.json:
        log(table)
        line: dict[str, Any] = {
            "benchmark": "compute_federated",
            "owners": args.owners,
            "examples": examples,
            "rounds": args.rounds,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("troika-sdk", "flwr", "numpy", "scikit-learn")},
            "accuracy": {**accuracy, "sklearn": sklearn_accuracy},
            "seconds": {**median, "sklearn": sklearn_s},
            "time_ratio_secagg_vs_fedavg": ratio,
            "bytes_per_round": per_round,
            "max_param_diff": max_diff,
            "secagg_overhead_ms_per_round": overhead_ms,
            "deployment_seconds": deployed,
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
