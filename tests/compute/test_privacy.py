"""Differential privacy of stats jobs and federated rounds.

Expected values come from peers and specifications, never from the code under
test: Google's ``dp-accounting`` (its ``RdpAccountant`` for the rounds, its
``gaussian_mechanism`` for Balle and Wang's analytic Gaussian mechanism and
the exact epsilon of composed Gaussians), scipy's Laplace and normal
distributions for the noise (Kolmogorov-Smirnov tests), numpy for the exact
statistics and histograms, and the decimal arithmetic of the chain's
thousandths.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from troika._errors import InvalidJob
from troika.compute._privacy import (
    MAX_BINS,
    LocalRelease,
    StatsQuery,
    combine,
    epsilon_from_milli,
    epsilon_milli,
    gaussian_rounds_epsilon,
    gaussian_sigma,
    laplace_scale,
    local_release,
    noise_for_epsilon,
)

dp_accounting = pytest.importorskip("dp_accounting")
from dp_accounting import gaussian_mechanism  # noqa: E402
from dp_accounting.rdp import rdp_privacy_accountant  # noqa: E402

# Orders dense enough that the peer's grid minimum is the continuous minimum to ~1e-9.
DENSE_ORDERS = np.geomspace(1.001, 5_000, 300_000)
ROUNDS_CASES = [
    (1.1, 100, 1e-5),
    (3.0, 100, 1e-5),
    (0.8, 10, 1e-6),
    (5.0, 1000, 1e-5),
    (10.0, 1, 1e-5),
    (0.5, 3, 1e-3),
    (20.0, 50, 1e-8),
]
HUGE_EPSILON = 1e12  # noise of about 1e-11 of the sensitivity: the exact statistic


def peer_rounds_epsilon(z: float, rounds: int, delta: float, orders: Any = None) -> float:
    event = dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(z), rounds)
    accountant = rdp_privacy_accountant.RdpAccountant(orders=orders)
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))


# -- accounting of federated rounds -----------------------------------------------------------


@pytest.mark.parametrize(("z", "rounds", "delta"), ROUNDS_CASES)
def test_rounds_epsilon_matches_the_rdp_accountant_of_dp_accounting(
    z: float, rounds: int, delta: float
) -> None:
    ours = gaussian_rounds_epsilon(z, rounds, delta)
    assert ours == pytest.approx(peer_rounds_epsilon(z, rounds, delta, DENSE_ORDERS), rel=1e-7)
    # Its default orders are a grid: our continuous minimum is at most theirs, and close.
    default = peer_rounds_epsilon(z, rounds, delta)
    assert default * 0.99 <= ours <= default + 1e-12


@pytest.mark.parametrize(("z", "rounds", "delta"), ROUNDS_CASES)
def test_rounds_epsilon_lies_between_the_exact_value_and_the_classic_conversion(
    z: float, rounds: int, delta: float
) -> None:
    ours = gaussian_rounds_epsilon(z, rounds, delta)
    # T rounds with everyone are one Gaussian mechanism of noise z / sqrt(T): its exact epsilon.
    exact = gaussian_mechanism.get_epsilon_gaussian(z / math.sqrt(rounds), delta)
    # Mironov 2017, Prop. 3 at its best order: rho + 2 sqrt(rho log(1/delta)).
    rho = rounds / (2 * z * z)
    classic = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert exact <= ours <= classic


def test_rounds_epsilon_grows_with_rounds_and_shrinks_with_noise() -> None:
    assert gaussian_rounds_epsilon(2.0, 10, 1e-5) < gaussian_rounds_epsilon(2.0, 20, 1e-5)
    assert gaussian_rounds_epsilon(2.0, 10, 1e-5) > gaussian_rounds_epsilon(3.0, 10, 1e-5)


def test_rounds_epsilon_is_zero_when_delta_covers_the_kl_divergence() -> None:
    # rho = 1/(2 * 1e8): sqrt(1 - exp(-rho)) < 1e-4 = delta.
    assert gaussian_rounds_epsilon(1e4, 1, 0.5) == 0.0
    assert peer_rounds_epsilon(1e4, 1, 0.5) == 0.0


@pytest.mark.parametrize(
    ("epsilon", "rounds", "delta"),
    [(1.0, 10, 1e-5), (8.0, 100, 1e-5), (0.3, 1, 1e-6), (50, 5, 1e-3)],
)
def test_noise_for_epsilon_inverts_the_accountant(
    epsilon: float, rounds: int, delta: float
) -> None:
    z = noise_for_epsilon(epsilon, rounds, delta)
    assert gaussian_rounds_epsilon(z, rounds, delta) <= epsilon
    assert gaussian_rounds_epsilon(z * (1 - 1e-6), rounds, delta) > epsilon
    assert peer_rounds_epsilon(z, rounds, delta, DENSE_ORDERS) == pytest.approx(epsilon, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: gaussian_rounds_epsilon(0.0, 10, 1e-5), "noise_multiplier"),
        (lambda: gaussian_rounds_epsilon(math.inf, 10, 1e-5), "noise_multiplier"),
        (lambda: gaussian_rounds_epsilon(1.0, 0, 1e-5), "rounds"),
        (lambda: gaussian_rounds_epsilon(1.0, 2.5, 1e-5), "rounds"),
        (lambda: gaussian_rounds_epsilon(1.0, True, 1e-5), "rounds"),
        (lambda: gaussian_rounds_epsilon(1.0, 10, 0.0), "delta"),
        (lambda: gaussian_rounds_epsilon(1.0, 10, 1.0), "delta"),
        (lambda: noise_for_epsilon(-1.0, 10, 1e-5), "epsilon"),
        (lambda: noise_for_epsilon(math.nan, 10, 1e-5), "epsilon"),
        (lambda: noise_for_epsilon(1e-15, 10, 1e-300), "epsilon"),
        (lambda: gaussian_sigma(1.0, 1e-5, 0.0), "sensitivity"),
        (lambda: gaussian_sigma(0.0, 1e-5), "epsilon"),
        (lambda: gaussian_sigma(1.0, 2.0), "delta"),
        (lambda: laplace_scale(1.0, -1.0), "sensitivity"),
        (lambda: laplace_scale("1", 1.0), "epsilon"),
    ],
)
def test_accounting_arguments_are_checked(call: Any, field: str) -> None:
    with pytest.raises(InvalidJob) as raised:
        call()
    assert raised.value.field == field


# -- the mechanisms' scales and noise ---------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "delta"), [(1.0, 1e-5), (0.5, 1e-5), (0.1, 1e-6), (5.0, 1e-3), (50.0, 1e-5)]
)
def test_gaussian_sigma_is_balle_and_wangs_analytic_sigma(epsilon: float, delta: float) -> None:
    peer = gaussian_mechanism.get_sigma_gaussian(epsilon, delta)
    assert gaussian_sigma(epsilon, delta) == pytest.approx(peer, rel=1e-9)
    assert gaussian_sigma(epsilon, delta, 7.5) == pytest.approx(7.5 * peer, rel=1e-9)
    # It meets delta at epsilon by the peer's own accounting.
    assert gaussian_mechanism.get_epsilon_gaussian(gaussian_sigma(epsilon, delta), delta) <= (
        epsilon * (1 + 1e-9)
    )


@pytest.mark.parametrize("epsilon", [0.05, 0.3, 0.9])
def test_gaussian_sigma_is_below_the_classic_bound(epsilon: float) -> None:
    classic = math.sqrt(2 * math.log(1.25 / 1e-5)) / epsilon  # Dwork and Roth, Thm 3.22
    assert gaussian_sigma(epsilon, 1e-5) < classic


def test_laplace_scale_is_sensitivity_over_epsilon() -> None:
    assert laplace_scale(0.25, 3.0) == 12.0


def noise_of(query: StatsQuery, seed: int = 0) -> NDArray[np.float64]:
    """The noise of a histogram over no rows: ``MAX_BINS`` independent draws."""
    release = local_release(np.empty(0), query, rng=np.random.default_rng(seed))
    assert release.histogram is not None
    return np.array(release.histogram)


@pytest.mark.parametrize("epsilon", [0.1, 1.0, 4.0])
def test_laplace_noise_follows_scipys_laplace_of_the_documented_scale(epsilon: float) -> None:
    query = StatsQuery(
        column=0, statistic="histogram", epsilon=epsilon, bounds=(0, 1), bins=MAX_BINS
    )
    drawn = noise_of(query)
    scale = 1.0 / epsilon
    assert scipy.stats.kstest(drawn, scipy.stats.laplace(scale=scale).cdf).pvalue > 0.01
    # The test has the power to see a 10 % error in the scale, or a normal of the same variance.
    assert scipy.stats.kstest(drawn, scipy.stats.laplace(scale=1.1 * scale).cdf).pvalue < 1e-3
    normal = scipy.stats.norm(scale=math.sqrt(2) * scale)
    assert scipy.stats.kstest(drawn, normal.cdf).pvalue < 1e-3


@pytest.mark.parametrize(("epsilon", "delta"), [(0.5, 1e-5), (2.0, 1e-6)])
def test_gaussian_noise_follows_scipys_normal_of_the_analytic_sigma(
    epsilon: float, delta: float
) -> None:
    query = StatsQuery(
        column=0,
        statistic="histogram",
        epsilon=epsilon,
        bounds=(0, 1),
        bins=MAX_BINS,
        mechanism="gaussian",
        delta=delta,
    )
    drawn = noise_of(query, seed=3)
    sigma = gaussian_mechanism.get_sigma_gaussian(epsilon, delta)
    assert scipy.stats.kstest(drawn, scipy.stats.norm(scale=sigma).cdf).pvalue > 0.01
    assert scipy.stats.kstest(drawn, scipy.stats.norm(scale=1.1 * sigma).cdf).pvalue < 1e-3


def test_count_noise_over_many_releases_is_laplace_of_scale_one_over_epsilon() -> None:
    query = StatsQuery(column=0, statistic="count", epsilon=0.7)
    rows = np.arange(25.0)
    noise = [
        local_release(rows, query, rng=np.random.default_rng(seed)).count - 25  # type: ignore[operator]
        for seed in range(3000)
    ]
    assert scipy.stats.kstest(noise, scipy.stats.laplace(scale=1 / 0.7).cdf).pvalue > 0.01


def test_mean_splits_epsilon_and_delta_between_its_sum_and_count() -> None:
    laplace = local_release(
        np.ones(3), StatsQuery(column=0, statistic="mean", epsilon=2.0, bounds=(-4, 10))
    )
    assert laplace.count_scale == 1 / 1.0
    assert laplace.sum_scale == 7 / 1.0  # (upper - lower) / 2 over epsilon / 2
    assert (laplace.epsilon, laplace.delta) == (2.0, 0.0)
    query = StatsQuery(
        column=0, statistic="mean", epsilon=2.0, bounds=(-4, 10), mechanism="gaussian", delta=1e-6
    )
    gaussian = local_release(np.ones(3), query)
    half = gaussian_mechanism.get_sigma_gaussian(1.0, 5e-7)
    assert gaussian.count_scale == pytest.approx(half, rel=1e-9)
    assert gaussian.sum_scale == pytest.approx(7 * half, rel=1e-9)
    assert (gaussian.epsilon, gaussian.delta) == (2.0, 1e-6)


def test_mean_noise_is_of_the_documented_scales() -> None:
    query = StatsQuery(column=0, statistic="mean", epsilon=1.0, bounds=(0, 4))
    rows = np.array([1.0, 3.0])  # centred on 2: a centred sum of 0
    count_noise, centred_noise = [], []
    for seed in range(2000):
        release = local_release(rows, query, rng=np.random.default_rng(seed))
        assert release.count is not None
        assert release.sum is not None
        count_noise.append(release.count - 2)
        centred_noise.append(release.sum - 2 * release.count)
    assert scipy.stats.kstest(count_noise, scipy.stats.laplace(scale=2).cdf).pvalue > 0.01
    assert scipy.stats.kstest(centred_noise, scipy.stats.laplace(scale=4).cdf).pvalue > 0.01


# -- clipping, sensitivity, histograms --------------------------------------------------------


def exact(statistic: str, rows: Any, **fields: Any) -> LocalRelease:
    query = StatsQuery(column=0, statistic=statistic, epsilon=HUGE_EPSILON, **fields)  # type: ignore[arg-type]
    return local_release(np.asarray(rows, dtype=float), query, rng=np.random.default_rng(0))


def test_values_outside_the_bounds_are_clipped() -> None:
    assert exact("sum", [-100, 5, 100], bounds=(-10, 10)).sum == pytest.approx(5, abs=1e-6)
    assert exact("mean", [-100, 5, 100], bounds=(-10, 10)).sum == pytest.approx(5, abs=1e-6)
    assert exact("histogram", [-5, 0.5, 7], bounds=(0, 1), bins=2).histogram == pytest.approx(
        (1, 2), abs=1e-6
    )


@pytest.mark.parametrize("bounds", [(-3.0, 10.0), (-10.0, 3.0), (2.0, 5.0), (-5.0, -2.0)])
def test_sum_sensitivity_is_the_largest_absolute_bound(bounds: tuple[float, float]) -> None:
    release = local_release(
        np.ones(4), StatsQuery(column=0, statistic="sum", epsilon=0.5, bounds=bounds)
    )
    assert release.sum_scale == max(abs(bounds[0]), abs(bounds[1])) / 0.5


@given(
    rows=st.lists(st.floats(-1e6, 1e6), max_size=30),
    extra=st.floats(-1e6, 1e6),
    lower=st.floats(-100, 0),
    width=st.floats(0.5, 200),
)
@settings(max_examples=60, deadline=None)
def test_one_row_moves_the_exact_sum_by_at_most_the_sensitivity(
    rows: list[float], extra: float, lower: float, width: float
) -> None:
    bounds = (lower, lower + width)
    before = exact("sum", rows, bounds=bounds).sum
    after = exact("sum", [*rows, extra], bounds=bounds).sum
    assert before is not None
    assert after is not None
    assert abs(after - before) <= max(abs(bounds[0]), abs(bounds[1])) * (1 + 1e-9) + 1e-6


@given(rows=st.lists(st.floats(-50, 50), max_size=50), bins=st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_equal_width_bins_match_numpy_histogram(rows: list[float], bins: int) -> None:
    release = exact("histogram", rows, bounds=(-20, 30), bins=bins)
    expected, edges = np.histogram(np.clip(rows, -20, 30), bins=bins, range=(-20, 30))
    assert release.histogram == pytest.approx(expected, abs=1e-6)
    query = StatsQuery(column=0, statistic="histogram", epsilon=1, bounds=(-20, 30), bins=bins)
    assert query.edges == tuple(edges)


def test_explicit_edges_match_numpy_histogram() -> None:
    edges = (-1.0, 0.0, 0.5, 2.0, 10.0)
    rows = [-3, -1, -0.5, 0, 0.25, 0.5, 1.9, 2, 9.99, 10, 12, np.nan]
    release = exact("histogram", rows, bounds=(-2, 11), bins=edges)
    clipped = np.clip(np.array(rows)[~np.isnan(rows)], -2, 11)
    expected, _ = np.histogram(clipped, bins=edges)
    assert release.histogram == pytest.approx(expected, abs=1e-6)


# -- columns and generators -------------------------------------------------------------------


def test_column_by_index_name_or_the_column_itself() -> None:
    table = np.array([[1.0, 10.0], [2.0, 20.0], [np.nan, 30.0]])
    records = np.array([(1.0, 10.0), (2.0, 20.0)], dtype=[("a", "f8"), ("b", "f8")])
    assert exact("sum", table, bounds=(0, 100)).sum == pytest.approx(3, abs=1e-6)  # NaN dropped
    second = StatsQuery(column=1, statistic="count", epsilon=HUGE_EPSILON)
    assert local_release(table, second).count == pytest.approx(3, abs=1e-6)
    named = StatsQuery(column="b", statistic="sum", epsilon=HUGE_EPSILON, bounds=(0, 100))
    assert local_release(records, named).sum == pytest.approx(30, abs=1e-6)
    assert local_release(records, second).count == pytest.approx(2, abs=1e-6)
    assert local_release(np.array([5.0, 6.0]), named).sum == pytest.approx(11, abs=1e-6)


@pytest.mark.parametrize(
    ("values", "column"),
    [
        (np.ones((2, 2)), 2),
        (np.ones((2, 2)), "b"),
        (np.ones((2, 2, 2)), 0),
        (np.array([(1.0,)], dtype=[("a", "f8")]), "b"),
        (np.array([(1.0,)], dtype=[("a", "f8")]), 1),
        (np.array([["x"], ["y"]]), 0),
    ],
)
def test_a_column_the_data_lacks_is_an_invalid_job(values: Any, column: int | str) -> None:
    query = StatsQuery(column=column, statistic="count", epsilon=1.0)
    with pytest.raises(InvalidJob) as raised:
        local_release(values, query)
    assert (raised.value.field, raised.value.value) == ("column", column)


def test_the_seed_fixes_the_noise_and_the_generator_overrides_it() -> None:
    query = StatsQuery(column=0, statistic="count", epsilon=1.0, seed=5)
    assert local_release(np.ones(3), query) == local_release(np.ones(3), query)
    drawn = np.random.default_rng(5).laplace(0, 1.0)
    assert local_release(np.ones(3), query).count == 3 + drawn
    other = local_release(np.ones(3), query, rng=np.random.default_rng(6)).count
    assert other == 3 + np.random.default_rng(6).laplace(0, 1.0)


# -- combine ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shards() -> list[NDArray[np.float64]]:
    rows = np.random.default_rng(11).normal(50, 20, size=(300, 2))
    return [rows[:90], rows[90:200], rows[200:]]


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
@pytest.mark.parametrize("statistic", ["count", "sum", "mean", "histogram"])
def test_with_a_huge_epsilon_combine_gives_the_exact_statistic_of_the_union(
    shards: list[NDArray[np.float64]], statistic: str, mechanism: str
) -> None:
    query = StatsQuery(
        column=1,
        statistic=statistic,  # type: ignore[arg-type]
        epsilon=1e9,
        bounds=None if statistic == "count" else (0.0, 100.0),
        bins=7 if statistic == "histogram" else None,
        mechanism=mechanism,  # type: ignore[arg-type]
        delta=1e-6 if mechanism == "gaussian" else None,
    )
    generators = [np.random.default_rng(seed) for seed in range(3)]
    result = combine(
        [local_release(s, query, rng=g) for s, g in zip(shards, generators, strict=True)], query
    )
    union = np.clip(np.concatenate(shards)[:, 1], 0, 100)
    if statistic == "histogram":
        expected, edges = np.histogram(union, bins=7, range=(0, 100))
        assert result.histogram == pytest.approx(expected, abs=1e-4)
        assert result.edges == tuple(edges)
        assert result.value is None
    else:
        value = {"count": union.size, "sum": union.sum(), "mean": union.mean()}[statistic]
        # The Gaussian's sigma shrinks only as 1/sqrt(epsilon): about 2e-3 for the sum here.
        assert result.value == pytest.approx(value, rel=1e-9, abs=2e-2)
        assert result.histogram is None
    assert result.statistic == statistic
    assert result.datasets == 3
    assert (result.epsilon, result.delta) == (1e9, 1e-6 if mechanism == "gaussian" else 0.0)


def test_combined_noise_adds_up_across_datasets(shards: list[NDArray[np.float64]]) -> None:
    query = StatsQuery(column=0, statistic="count", epsilon=1.0)
    totals = [
        combine(
            [
                local_release(s, query, rng=np.random.default_rng([seed, i]))
                for i, s in enumerate(shards)
            ],
            query,
        ).value
        for seed in range(1500)
    ]
    # The sum of three Laplace(1) draws: variance 3 * 2.
    assert np.var(totals) == pytest.approx(6, rel=0.1)
    assert np.mean(totals) == pytest.approx(300, abs=0.3)


def release_for(query: StatsQuery, **fields: Any) -> LocalRelease:
    return LocalRelease(query_digest=query.digest(), epsilon=query.epsilon, delta=0.0, **fields)


def test_the_mean_survives_tiny_and_negative_counts() -> None:
    query = StatsQuery(column=0, statistic="mean", epsilon=0.1, bounds=(0, 10))
    negative = [release_for(query, count=-3.0, sum=-50.0), release_for(query, count=1.5, sum=80.0)]
    assert combine(negative, query).value == 10.0  # 30 / max(-1.5, 1), clipped into the bounds
    tiny = [release_for(query, count=0.01, sum=0.04)]
    assert combine(tiny, query).value == pytest.approx(0.04)  # not 4.0
    below = [release_for(query, count=5.0, sum=-20.0)]
    assert combine(below, query).value == 0.0


def test_combine_refuses_nothing_and_releases_of_another_query() -> None:
    query = StatsQuery(column=0, statistic="count", epsilon=1.0)
    other = StatsQuery(column=0, statistic="count", epsilon=2.0)
    with pytest.raises(InvalidJob) as nothing:
        combine([], query)
    assert (nothing.value.field, nothing.value.value) == ("releases", [])
    with pytest.raises(InvalidJob) as mismatch:
        combine([release_for(query, count=1.0), release_for(other, count=1.0)], query)
    assert (mismatch.value.field, mismatch.value.value) == ("releases", other.digest().hex())


@pytest.mark.parametrize(
    ("statistic", "fields"),
    [
        ("count", {"sum": 1.0}),
        ("sum", {"count": 1.0}),
        ("mean", {"count": 1.0}),
        ("mean", {"sum": 1.0}),
        ("histogram", {"count": 1.0}),
        ("histogram", {"histogram": (1.0, 2.0)}),
    ],
)
def test_combine_refuses_releases_that_lack_the_statistic(
    statistic: str, fields: dict[str, Any]
) -> None:
    query = StatsQuery(
        column=0,
        statistic=statistic,  # type: ignore[arg-type]
        epsilon=1.0,
        bounds=(0, 1),
        bins=3 if statistic == "histogram" else None,
    )
    release = release_for(query, **fields)
    with pytest.raises(InvalidJob) as raised:
        combine([release], query)
    assert (raised.value.field, raised.value.value) == ("releases", release)


def test_result_epsilon_milli_is_what_the_chain_charges() -> None:
    query = StatsQuery(column=0, statistic="count", epsilon=0.0125)
    assert combine([release_for(query, count=4.0)], query).epsilon_milli == 13


# -- the query: validation, JSON and digest ---------------------------------------------------


VALID: dict[str, Any] = {"column": 0, "statistic": "mean", "epsilon": 1.0, "bounds": (0, 1)}


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"column": -1}, "column", -1),
        ({"column": 1.5}, "column", 1.5),
        ({"column": True}, "column", True),
        ({"column": ""}, "column", ""),
        ({"column": None}, "column", None),
        ({"statistic": "median"}, "statistic", "median"),
        ({"epsilon": 0}, "epsilon", 0),
        ({"epsilon": -0.5}, "epsilon", -0.5),
        ({"epsilon": math.inf}, "epsilon", math.inf),
        ({"epsilon": "1"}, "epsilon", "1"),
        ({"epsilon": True}, "epsilon", True),
        ({"mechanism": "exponential"}, "mechanism", "exponential"),
        ({"mechanism": "gaussian"}, "delta", None),
        ({"mechanism": "gaussian", "delta": 0}, "delta", 0),
        ({"mechanism": "gaussian", "delta": 1}, "delta", 1),
        ({"mechanism": "gaussian", "delta": "1e-5"}, "delta", "1e-5"),
        ({"delta": 1e-5}, "delta", 1e-5),
        ({"bounds": None}, "bounds", None),
        ({"bounds": (1, 1)}, "bounds", (1, 1)),
        ({"bounds": (2, 1)}, "bounds", (2, 1)),
        ({"bounds": (0, 1, 2)}, "bounds", (0, 1, 2)),
        ({"bounds": "01"}, "bounds", "01"),
        ({"bounds": (0, math.nan)}, "bounds", math.nan),
        ({"bounds": (0, "1")}, "bounds", "1"),
        ({"bins": 3}, "bins", 3),
        ({"statistic": "sum", "bounds": None}, "bounds", None),
        ({"statistic": "histogram"}, "bins", None),
        ({"statistic": "histogram", "bins": 0}, "bins", 0),
        ({"statistic": "histogram", "bins": MAX_BINS + 1}, "bins", MAX_BINS + 1),
        ({"statistic": "histogram", "bins": (0.5,)}, "bins", (0.5,)),
        ({"statistic": "histogram", "bins": (0, 1, 1)}, "bins", (0, 1, 1)),
        ({"statistic": "histogram", "bins": (0, math.inf)}, "bins", math.inf),
        ({"statistic": "histogram", "bins": 2.0}, "bins", 2.0),
        ({"statistic": "histogram", "bins": True}, "bins", True),
        ({"seed": -1}, "seed", -1),
        ({"seed": 1.0}, "seed", 1.0),
    ],
)
def test_every_bad_field_is_an_invalid_job_naming_it(
    changes: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(InvalidJob) as raised:
        StatsQuery(**{**VALID, **changes})
    error = raised.value
    assert isinstance(error, ValueError)
    assert error.field == field
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(error.value)  # type: ignore[arg-type]
    else:
        assert error.value == value
    assert str(error).startswith(f"{field}={value!r}: ")


def test_the_canonical_json_and_its_digest() -> None:
    query = StatsQuery(
        column="radius",
        statistic="histogram",
        epsilon=0.5,
        bounds=(0, 30),
        bins=[0, 10, 20.5, 30],  # type: ignore[arg-type]
        mechanism="gaussian",
        delta=1e-6,
        seed=3,
    )
    text = (
        '{"bins":[0.0,10.0,20.5,30.0],"bounds":[0.0,30.0],"column":"radius","delta":1e-06,'
        '"epsilon":0.5,"mechanism":"gaussian","statistic":"histogram"}'
    )
    assert query.to_json() == text
    assert query.digest() == hashlib.sha256(text.encode()).digest()
    assert query.bins == (0.0, 10.0, 20.5, 30.0)
    assert StatsQuery.from_json(text) == StatsQuery(**{**query.__dict__, "seed": None})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "params"),
        (b"\xff", "params"),
        ("[1, 2]", "params"),
        ('{"column":0,"statistic":"count","epsilon":1,"seed":4}', "seed"),
        ('{"column":0,"statistic":"count","epsilon":1,"extra":4}', "extra"),
        ('{"statistic":"count","epsilon":1}', "column"),
        ('{"column":0,"epsilon":1}', "statistic"),
        ('{"column":0,"statistic":"count"}', "epsilon"),
        ('{"column":0,"statistic":"count","epsilon":NaN}', "epsilon"),
        ('{"column":0,"statistic":"sum","epsilon":1,"bounds":{"a":1}}', "bounds"),
    ],
)
def test_from_json_refuses_what_is_not_a_stats_job(text: str | bytes, field: str) -> None:
    with pytest.raises(InvalidJob) as raised:
        StatsQuery.from_json(text)
    assert raised.value.field == field


finite = st.floats(-1e9, 1e9, allow_nan=False)
queries = st.builds(
    lambda column, statistic, epsilon, lower, width, bins, gaussian, delta: StatsQuery(
        column=column,
        statistic=statistic,
        epsilon=epsilon,
        bounds=None if statistic == "count" else (lower, lower + width),
        bins=bins if statistic == "histogram" else None,
        mechanism="gaussian" if gaussian else "laplace",
        delta=delta if gaussian else None,
    ),
    st.one_of(st.integers(0, 1000), st.text(min_size=1, max_size=10)),
    st.sampled_from(["count", "sum", "mean", "histogram"]),
    st.floats(1e-6, 1e6),
    finite,
    st.floats(1e-3, 1e9),
    st.integers(1, MAX_BINS),
    st.booleans(),
    st.floats(1e-12, 0.5),
)


@given(queries)
def test_json_round_trips_and_is_canonical(query: StatsQuery) -> None:
    text = query.to_json()
    assert StatsQuery.from_json(text) == query
    assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) == text


def parse(text: str) -> StatsQuery | InvalidJob:
    try:
        return StatsQuery.from_json(text)
    except InvalidJob as error:
        return error


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("bins", "bounds", "column", "delta", "epsilon", "mechanism", "statistic"), json_values
        ),
    )
)
@settings(max_examples=300)
def test_from_json_accepts_only_valid_queries(fields: dict[str, Any]) -> None:
    try:
        text = json.dumps(fields)
    except ValueError:
        return
    outcome = parse(text)
    if isinstance(outcome, InvalidJob):  # only InvalidJob: anything else fails the test
        assert outcome.field in {*fields, "params", "column", "statistic", "epsilon", "bounds"}
    else:
        assert StatsQuery.from_json(outcome.to_json()) == outcome


# -- epsilon on chain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "milli"),
    [(0.1, 100), (0.1234, 124), (1, 1000), (2.5, 2500), (1e-4, 1), (0.0005, 1), (0.3, 300)],
)
def test_epsilon_milli_rounds_the_decimal_up(epsilon: float, milli: int) -> None:
    assert epsilon_milli(epsilon) == milli


@given(st.floats(1e-9, 1e9))
def test_the_chain_never_under_counts(epsilon: float) -> None:
    milli = epsilon_milli(epsilon)
    assert Decimal(milli - 1) < Decimal(repr(epsilon)) * 1000 <= Decimal(milli)
    assert epsilon_from_milli(milli) >= epsilon


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1"])
def test_epsilon_milli_refuses_what_is_not_an_epsilon(bad: Any) -> None:
    with pytest.raises(InvalidJob):
        epsilon_milli(bad)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_epsilon_from_milli_refuses_what_is_not_a_count(bad: Any) -> None:
    with pytest.raises(InvalidJob) as raised:
        epsilon_from_milli(bad)
    assert raised.value.field == "epsilon_milli"
