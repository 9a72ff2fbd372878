"""Accuracy against epsilon for troika's differentially private compute jobs.

Stats: the DP mean of one column of scikit-learn's bundled breast-cancer data
(569 rows; column 0, "mean radius", 6.98 to 28.11) split into 3 shards
(rows ``i::3``), as three data owners would hold it. For each epsilon (spent on
each dataset) and each of ``--seeds`` seeds, every shard makes its
``local_release`` and ``combine`` adds them up; the figure is the relative error
``|dp mean - exact mean| / exact mean`` of the combined mean: its median and
90th percentile over the seeds. The bounds ``(0, 30)`` are what a requester
would set without seeing the data. Three variants:

- ``laplace``: the ``mean`` query (noisy count and noisy centred sum, epsilon/2
  each, the sum's sensitivity half the bounds' width, 15);
- ``gaussian``: the same with the analytic Gaussian mechanism, delta 1e-6 (1e-6/2 each);
- ``laplace, sum/count``: the naive alternative from two public queries, a
  ``sum`` (sensitivity max(|lower|, |upper|) = 30) and a ``count``, epsilon/2
  each: what centring buys.

Federated training (when ``troika.compute._federated`` is importable): the
logistic regression of ``train_federated`` on the same data (features
standardised with the training rows' statistics, which a real job would take
from public knowledge or a DP stats job), 75 % for training split into 3
shards, 25 % held out (stratified, fixed). Each node clips its update to
``--clip-norm`` and the sum gets Gaussian noise of ``z`` times that, under
SecAgg+; ``z = noise_for_epsilon(epsilon, rounds, delta)`` (RDP accounting,
delta 1e-5). The figure is the held-out accuracy, mean and standard deviation
over ``--repeats`` runs (the engine draws its noise from the OS, so runs
differ); beside it the same training without noise (clipped) and without
clipping.

The plot (both panels) goes to ``docs/images/dp-accuracy.png``.

Run: ``.venv/bin/python bench/compute_dp_accuracy.py [--seeds 2000] [--repeats
10] [--rounds 10] [--clip-norm 1.0] [--no-federated] [--plot PATH] [--json]``.
With ``--json`` stdout is one JSON line and the tables go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from troika.compute._privacy import (
    StatsQuery,
    combine,
    gaussian_rounds_epsilon,
    local_release,
    noise_for_epsilon,
)

ROOT = Path(__file__).resolve().parents[1]
STATS_EPSILONS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
TRAIN_EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
BOUNDS = (0.0, 30.0)
STATS_DELTA = 1e-6
TRAIN_DELTA = 1e-5


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def stats_errors(epsilon: float, variant: str, seeds: int) -> list[float]:
    data, _ = load_breast_cancer(return_X_y=True)
    shards = [data[i::3] for i in range(3)]
    exact = float(np.clip(data[:, 0], *BOUNDS).mean())
    errors = []
    for seed in range(seeds):
        generators = [np.random.default_rng([seed, shard]) for shard in range(3)]
        if variant == "laplace, sum/count":
            halves = [
                StatsQuery(column=0, statistic=name, epsilon=epsilon / 2, bounds=BOUNDS)
                for name in ("sum", "count")
            ]
            total, count = (
                combine(
                    [local_release(s, q, rng=g) for s, g in zip(shards, generators, strict=True)],
                    q,
                ).value
                or 0.0
                for q in halves
            )
            estimate = min(max(total / max(count, 1.0), BOUNDS[0]), BOUNDS[1])
        else:
            gaussian = variant == "gaussian"
            query = StatsQuery(
                column=0,
                statistic="mean",
                epsilon=epsilon,
                bounds=BOUNDS,
                mechanism="gaussian" if gaussian else "laplace",
                delta=STATS_DELTA if gaussian else None,
            )
            releases = [
                local_release(s, query, rng=g) for s, g in zip(shards, generators, strict=True)
            ]
            estimate = combine(releases, query).value or 0.0
        errors.append(abs(estimate - exact) / exact)
    return errors


def measure_stats(seeds: int) -> list[dict[str, Any]]:
    rows = []
    for variant in ("laplace", "gaussian", "laplace, sum/count"):
        for epsilon in STATS_EPSILONS:
            errors = stats_errors(epsilon, variant, seeds)
            rows.append(
                {
                    "variant": variant,
                    "epsilon": epsilon,
                    "median_relative_error": float(np.median(errors)),
                    "p90_relative_error": float(np.quantile(errors, 0.9)),
                }
            )
    return rows


def federated_available() -> bool:
    try:
        import troika.compute._federated  # noqa: F401
    except ImportError:
        return False
    return True


def measure_federated(repeats: int, rounds: int, clip_norm: float) -> list[dict[str, Any]]:
    from troika.compute._federated import TrainParams, train_federated

    logging.getLogger("flwr").setLevel(logging.CRITICAL)
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=0.25, random_state=0, stratify=labels
    )
    mean, spread = train_x.mean(0), train_x.std(0)
    train_x, test_x = (train_x - mean) / spread, (test_x - mean) / spread
    shards = [(train_x[i::3], train_y[i::3]) for i in range(3)]
    # (label, epsilon, clip norm): no epsilon is no noise
    settings: list[tuple[str, float | None, float | None]] = [
        ("no clipping, no noise", None, None),
        ("clipped, no noise", None, clip_norm),
    ]
    settings += [(f"epsilon {epsilon:g}", epsilon, clip_norm) for epsilon in TRAIN_EPSILONS]
    rows = []
    for label, epsilon, clip in settings:
        z = None if epsilon is None else noise_for_epsilon(epsilon, rounds, TRAIN_DELTA)
        params = TrainParams(rounds=rounds, clip_norm=clip, noise_multiplier=z)
        accuracies = []
        for _ in range(repeats):
            with contextlib.redirect_stdout(io.StringIO()):
                result = train_federated(shards, params)
            accuracies.append(result.model.evaluate(test_x, test_y)["accuracy"])
        rows.append(
            {
                "setting": label,
                "epsilon": epsilon,
                "noise_multiplier": z,
                "epsilon_check": None
                if z is None
                else gaussian_rounds_epsilon(z, rounds, TRAIN_DELTA),
                "accuracy_mean": statistics.fmean(accuracies),
                "accuracy_std": statistics.pstdev(accuracies),
                "accuracy_min": min(accuracies),
            }
        )
        log(f"  {label}: {rows[-1]['accuracy_mean']:.3f}")
    return rows


def plot(stats: list[dict[str, Any]], federated: list[dict[str, Any]] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if federated else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    left = axes[0][0]
    for variant, colour in (("laplace", "C0"), ("gaussian", "C1"), ("laplace, sum/count", "C2")):
        rows = [row for row in stats if row["variant"] == variant]
        xs = [row["epsilon"] for row in rows]
        left.plot(xs, [r["median_relative_error"] for r in rows], "o-", color=colour, label=variant)
        left.plot(xs, [r["p90_relative_error"] for r in rows], ":", color=colour)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("epsilon per dataset")
    left.set_ylabel("relative error of the mean")
    left.set_title("DP mean, breast cancer, 3 shards\n(median solid, 90th percentile dotted)")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    if federated:
        right = axes[0][1]
        private = [row for row in federated if row["noise_multiplier"] is not None]
        xs = [row["epsilon"] for row in private]
        means = np.array([row["accuracy_mean"] for row in private])
        spreads = np.array([row["accuracy_std"] for row in private])
        right.plot(xs, means, "o-", color="C3", label="clipped + Gaussian noise")
        right.fill_between(xs, means - spreads, means + spreads, color="C3", alpha=0.2)
        for row, style in zip(federated[:2], ("--", ":"), strict=True):
            right.axhline(row["accuracy_mean"], linestyle=style, color="grey", label=row["setting"])
        right.set_xscale("log")
        right.set_xlabel("epsilon per dataset (RDP, delta 1e-5)")
        right.set_ylabel("held-out accuracy")
        right.set_title("Federated logistic regression, 3 nodes, SecAgg+\n(mean and std of runs)")
        right.grid(True, which="both", alpha=0.3)
        right.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2000, help="noise draws per stats point")
    parser.add_argument("--repeats", type=int, default=10, help="training runs per epsilon")
    parser.add_argument("--rounds", type=int, default=10, help="federated rounds")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="L2 clip of each update")
    parser.add_argument("--no-federated", action="store_true", help="stats only")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs/images/dp-accuracy.png")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    out = sys.stderr if options.json else sys.stdout
    started = time.monotonic()

    log(f"stats: {options.seeds} seeds per point")
    stats = measure_stats(options.seeds)
    print("DP mean of 'mean radius' (breast cancer, 3 shards), relative error", file=out)
    print(
        f"{'epsilon':>8}  "
        + "  ".join(f"{v:>22}" for v in ("laplace", "gaussian", "laplace, sum/count")),
        file=out,
    )
    for epsilon in STATS_EPSILONS:
        cells = []
        for variant in ("laplace", "gaussian", "laplace, sum/count"):
            (row,) = (r for r in stats if r["variant"] == variant and r["epsilon"] == epsilon)
            cells.append(
                f"{row['median_relative_error']:9.2e} (p90 {row['p90_relative_error']:8.2e})"
            )
        print(f"{epsilon:8g}  " + "  ".join(f"{cell:>22}" for cell in cells), file=out)

    federated = None
    if options.no_federated:
        log("federated: skipped (--no-federated)")
    elif not federated_available():
        log("federated: troika.compute._federated is not there yet; skipped")
    else:
        log(f"federated: {options.repeats} runs per setting, {options.rounds} rounds")
        federated = measure_federated(options.repeats, options.rounds, options.clip_norm)
        print(
            f"\nfederated logistic regression, {options.rounds} rounds, clip {options.clip_norm:g},"
            f" delta {TRAIN_DELTA:g}: held-out accuracy over {options.repeats} runs",
            file=out,
        )
        print(f"{'setting':>22} {'z':>8} {'mean':>6} {'std':>6} {'min':>6}", file=out)
        for row in federated:
            z = "" if row["noise_multiplier"] is None else f"{row['noise_multiplier']:.3f}"
            print(
                f"{row['setting']:>22} {z:>8} {row['accuracy_mean']:6.3f}"
                f" {row['accuracy_std']:6.3f} {row['accuracy_min']:6.3f}",
                file=out,
            )

    plot(stats, federated, options.plot)
    log(f"plot: {options.plot}  [{time.monotonic() - started:.0f} s]")
    if options.json:
        print(
            json.dumps(
                {
                    "stats": stats,
                    "federated": federated,
                    "options": {
                        "seeds": options.seeds,
                        "repeats": options.repeats,
                        "rounds": options.rounds,
                        "clip_norm": options.clip_norm,
                    },
                    "versions": {
                        "python": platform.python_version(),
                        "numpy": version("numpy"),
                        "troika-sdk": version("troika-sdk"),
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
