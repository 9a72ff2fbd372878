"""Differential privacy for compute jobs: noisy statistics and the epsilon they spend.

Two jobs spend privacy budget:

- ``stats``: a count, sum, mean or histogram of one column across datasets.
  Each data owner's node runs :func:`local_release` on its own rows and
  publishes only the noisy partial aggregates; :func:`combine` adds them up.
  The epsilon is per dataset (each release sees one dataset), which is what
  the chain charges against each dataset's budget.
- ``federated-train`` with clipping and Gaussian noise: every round each
  dataset's update is clipped to an L2 norm ``C`` and the sum gets Gaussian
  noise of standard deviation ``z * C``. :func:`gaussian_rounds_epsilon`
  accounts ``T`` such rounds (every dataset in every round) and
  :func:`noise_for_epsilon` finds the ``z`` for a target epsilon.

Neighbouring datasets differ by adding or removing one row (``stats``) or one
whole dataset (``federated-train``, whose epsilon protects each data owner).

The chain keeps epsilon as an integer number of thousandths:
:func:`epsilon_milli` rounds up, so the chain never under-counts.

Formulas:

- Laplace: scale ``b = sensitivity / epsilon`` (pure epsilon-DP, delta 0).
- Gaussian: the analytic Gaussian mechanism of Balle and Wang (2018,
  arXiv:1805.06530, Theorem 8): the smallest ``sigma`` with
  ``Phi(D/(2s) - e*s/D) - exp(e) * Phi(-D/(2s) - e*s/D) <= delta``
  (``D`` the L2 sensitivity, ``s`` sigma, ``e`` epsilon), found by bisection.
  Valid for every epsilon, and never above the classic
  ``sqrt(2 ln(1.25/delta)) * D / epsilon`` (which holds only for epsilon < 1).
- Rounds: the Gaussian mechanism is ``(alpha, alpha / (2 z^2))``-RDP
  (Mironov 2017); ``T`` rounds compose to ``rho * alpha`` with
  ``rho = T / (2 z^2)``, converted to ``(epsilon, delta)`` with the improved
  conversion (Balle et al. 2020, arXiv:2004.00010 Proposition 12; Canonne,
  Kamath and Steinke 2020): ``epsilon = min over alpha > 1 of rho * alpha +
  log(1 - 1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)``, minimised over
  a continuous alpha rather than a fixed list of orders.

The noise is numpy's floating-point sampling: like most libraries, troika does
not defend against attacks on the low bits of floating-point noise (Mironov
2012, the snapping mechanism).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from troika._errors import InvalidJob
from troika._json import loads

__all__ = [
    "MAX_BINS",
    "LocalRelease",
    "StatsQuery",
    "StatsResult",
    "combine",
    "epsilon_from_milli",
    "epsilon_milli",
    "gaussian_rounds_epsilon",
    "gaussian_sigma",
    "laplace_scale",
    "local_release",
    "noise_for_epsilon",
]

Statistic = Literal["count", "sum", "mean", "histogram"]
Mechanism = Literal["laplace", "gaussian"]

STATISTICS: tuple[Statistic, ...] = ("count", "sum", "mean", "histogram")
MECHANISMS: tuple[Mechanism, ...] = ("laplace", "gaussian")
MAX_BINS = 10_000
"""The most histogram bins a query may ask for (each is released)."""

_BISECTION_STEPS = 200
_JSON_FIELDS = ("bins", "bounds", "column", "delta", "epsilon", "mechanism", "statistic")


# -- parameters -------------------------------------------------------------------------------


def _positive_finite(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJob(field, value, "must be a number")
    if not math.isfinite(value) or value <= 0:
        raise InvalidJob(field, value, "must be a finite number above 0")
    return float(value)


def _delta(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJob("delta", value, "must be a number")
    if not 0 < value < 1:
        raise InvalidJob("delta", value, "must be strictly between 0 and 1")
    return float(value)


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidJob(field, value, "must hold finite numbers")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class StatsQuery:
    """The parameters of a ``stats`` job: one statistic of one column, with its privacy.

    Validated when made: a bad field raises
    :class:`~troika._errors.InvalidJob` naming it. Values are clipped into
    ``bounds`` before anything is added up, which is what bounds the
    sensitivity.

    Attributes:
        column: The column, by index or by name.
        statistic: ``"count"``, ``"sum"``, ``"mean"`` or ``"histogram"``.
        epsilon: Spent on each dataset; above 0.
        bounds: ``(lower, upper)`` with ``lower < upper``; required for
            sum, mean and histogram, optional (and unused) for count.
        bins: Histogram only: a number of equal-width bins over ``bounds``
            (1 to :data:`MAX_BINS`) or explicit, strictly increasing edges
            (``numpy.histogram``'s convention: the last bin is closed).
        mechanism: ``"laplace"`` (pure epsilon-DP) or ``"gaussian"``.
        delta: Gaussian only, strictly between 0 and 1; spent on each dataset.
        seed: Fixes the noise, for tests. Never part of the job's JSON: a
            requester who chose the seed could subtract the noise.

    Example:
        >>> query = StatsQuery(column="age", statistic="mean", epsilon=1.0, bounds=(0, 120))
        >>> query.bounds
        (0.0, 120.0)
        >>> query.to_json()
        '{"bounds":[0.0,120.0],"column":"age","epsilon":1.0,"mechanism":"laplace","statistic":"mean"}'
        >>> StatsQuery(column=0, statistic="sum", epsilon=1.0)
        Traceback (most recent call last):
        ...
        troika._errors.InvalidJob: bounds=None: a sum needs (lower, upper) bounds to clip into
    """

    column: int | str
    statistic: Statistic
    epsilon: float
    bounds: tuple[float, float] | None = None
    bins: int | tuple[float, ...] | None = None
    mechanism: Mechanism = "laplace"
    delta: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise once, here
        column: object = self.column
        if isinstance(column, bool) or not isinstance(column, int | str):
            raise InvalidJob("column", column, "must be a column index or name")
        if isinstance(column, int) and column < 0:
            raise InvalidJob("column", column, "must be an index of 0 or more")
        if isinstance(column, str) and not column:
            raise InvalidJob("column", column, "must not be empty")
        if self.statistic not in STATISTICS:
            raise InvalidJob("statistic", self.statistic, f"must be one of {STATISTICS}")
        set_field(self, "epsilon", _positive_finite("epsilon", self.epsilon))
        if self.mechanism not in MECHANISMS:
            raise InvalidJob("mechanism", self.mechanism, f"must be one of {MECHANISMS}")
        if self.mechanism == "gaussian":
            if self.delta is None:
                raise InvalidJob("delta", None, "the Gaussian mechanism needs a delta")
            set_field(self, "delta", _delta(self.delta))
        elif self.delta is not None:
            raise InvalidJob("delta", self.delta, "the Laplace mechanism spends no delta")
        set_field(self, "bounds", self._checked_bounds())
        set_field(self, "bins", self._checked_bins())
        seed: object = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InvalidJob("seed", seed, "must be an integer of 0 or more")

    def _checked_bounds(self) -> tuple[float, float] | None:
        bounds: object = self.bounds
        if bounds is None:
            if self.statistic != "count":
                raise InvalidJob(
                    "bounds", None, f"a {self.statistic} needs (lower, upper) bounds to clip into"
                )
            return None
        if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
            raise InvalidJob("bounds", bounds, "must be a pair (lower, upper)")
        lower, upper = (_number("bounds", side) for side in bounds)
        if not lower < upper:
            raise InvalidJob("bounds", bounds, "lower must be below upper")
        return (lower, upper)

    def _checked_bins(self) -> int | tuple[float, ...] | None:
        bins: object = self.bins
        if self.statistic != "histogram":
            if bins is not None:
                raise InvalidJob("bins", bins, f"only a histogram has bins, not a {self.statistic}")
            return None
        if isinstance(bins, int) and not isinstance(bins, bool):
            if not 1 <= bins <= MAX_BINS:
                raise InvalidJob("bins", bins, f"must be from 1 to {MAX_BINS} bins")
            return bins
        if not isinstance(bins, Sequence) or isinstance(bins, str):
            raise InvalidJob("bins", bins, "must be a number of bins or a list of bin edges")
        if not 2 <= len(bins) <= MAX_BINS + 1:
            raise InvalidJob("bins", bins, f"must be from 2 to {MAX_BINS + 1} edges")
        edges = tuple(_number("bins", edge) for edge in bins)
        if any(right <= left for left, right in itertools.pairwise(edges)):
            raise InvalidJob("bins", bins, "edges must be strictly increasing")
        return edges

    @property
    def edges(self) -> tuple[float, ...] | None:
        """The histogram's bin edges (equal-width over the bounds for a number of bins).

        Example:
            >>> StatsQuery(
            ...     column=0, statistic="histogram", epsilon=1, bounds=(0, 1), bins=4
            ... ).edges
            (0.0, 0.25, 0.5, 0.75, 1.0)
        """
        if isinstance(self.bins, int):
            assert self.bounds is not None
            return tuple(float(edge) for edge in np.linspace(*self.bounds, self.bins + 1))
        return self.bins

    def to_json(self) -> str:
        """The canonical JSON of the job's parameters (sorted keys, no spaces, no seed).

        Example:
            >>> StatsQuery(column=2, statistic="count", epsilon=0.5).to_json()
            '{"column":2,"epsilon":0.5,"mechanism":"laplace","statistic":"count"}'
        """
        fields: dict[str, Any] = {
            "column": self.column,
            "statistic": self.statistic,
            "epsilon": self.epsilon,
            "mechanism": self.mechanism,
        }
        if self.bounds is not None:
            fields["bounds"] = list(self.bounds)
        if self.bins is not None:
            fields["bins"] = self.bins if isinstance(self.bins, int) else list(self.bins)
        if self.delta is not None:
            fields["delta"] = self.delta
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)

    def digest(self) -> bytes:
        """The SHA-256 of :meth:`to_json`: the job's ``paramsDigest`` on chain.

        Example:
            >>> query = StatsQuery(column=2, statistic="count", epsilon=0.5)
            >>> query.digest() == hashlib.sha256(query.to_json().encode()).digest()
            True
        """
        return hashlib.sha256(self.to_json().encode()).digest()

    @classmethod
    def from_json(cls, text: str | bytes) -> StatsQuery:
        """Parse a job's parameters, as a node reads them.

        Raises:
            InvalidJob: Not a JSON object, an unknown key (``seed`` among them:
                a job may not fix the noise), or a bad field.

        Example:
            >>> text = '{"column":2,"epsilon":0.5,"mechanism":"laplace","statistic":"count"}'
            >>> StatsQuery.from_json(text).to_json() == text
            True
        """
        try:
            fields = loads(text)  # troika._json: nesting bounded
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJob("params", text, f"not JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise InvalidJob("params", fields, "must be a JSON object")
        for key in fields:
            if key not in _JSON_FIELDS:
                raise InvalidJob(key, fields[key], "not a parameter of a stats job")
        for key in ("column", "statistic", "epsilon"):
            if key not in fields:
                raise InvalidJob(key, None, "is required")
        bounds = fields.get("bounds")
        bins = fields.get("bins")
        return cls(
            column=fields["column"],
            statistic=fields["statistic"],
            epsilon=fields["epsilon"],
            bounds=tuple(bounds) if isinstance(bounds, list) else bounds,
            bins=tuple(bins) if isinstance(bins, list) else bins,
            mechanism=fields.get("mechanism", "laplace"),
            delta=fields.get("delta"),
        )


# -- mechanisms -------------------------------------------------------------------------------


def laplace_scale(epsilon: float, sensitivity: float) -> float:
    """The Laplace mechanism's scale ``b = sensitivity / epsilon``.

    Example:
        >>> laplace_scale(0.5, 10.0)
        20.0
    """
    return _positive_finite("sensitivity", sensitivity) / _positive_finite("epsilon", epsilon)


def _log_normal_cdf(x: float) -> float:
    """``log Phi(x)``, accurate in both tails."""
    if x > 0:
        return math.log1p(-0.5 * math.erfc(x / math.sqrt(2)))
    if x > -30:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2)))
    # Below -30 erfc underflows; its asymptotic series is exact to double precision here.
    inverse_square = 1 / (x * x)
    series = 1 - inverse_square * (1 - 3 * inverse_square * (1 - 5 * inverse_square))
    return -x * x / 2 - math.log(-x) - 0.5 * math.log(2 * math.pi) + math.log(series)


def _gaussian_log_delta(sigma: float, epsilon: float) -> float:
    """``log delta`` of the Gaussian mechanism with L2 sensitivity 1 (Balle and Wang, Thm 8)."""
    t = epsilon * sigma + 1 / (2 * sigma)
    first = _log_normal_cdf(1 / sigma - t)
    second = epsilon + _log_normal_cdf(-t)
    return first + math.log(-math.expm1(second - first)) if second < first else -math.inf


def gaussian_sigma(epsilon: float, delta: float, sensitivity: float = 1.0) -> float:
    """The analytic Gaussian mechanism's sigma for ``(epsilon, delta)``-DP (Balle and Wang 2018).

    The smallest sigma (to about 1e-12 relative, rounded up) whose privacy
    profile stays within ``delta`` at ``epsilon``; for epsilon below 1 it is
    below the classic ``sqrt(2 ln(1.25/delta)) * sensitivity / epsilon``.

    Args:
        epsilon: Above 0.
        delta: Strictly between 0 and 1.
        sensitivity: The L2 sensitivity of the released value.

    Example:
        >>> round(gaussian_sigma(1.0, 1e-5), 4)
        3.7306
        >>> gaussian_sigma(0.5, 1e-5) < math.sqrt(2 * math.log(1.25 / 1e-5)) / 0.5
        True
    """
    epsilon = _positive_finite("epsilon", epsilon)
    sensitivity = _positive_finite("sensitivity", sensitivity)
    log_delta = math.log(_delta(delta))
    low, high = 0.1, 1.0
    while _gaussian_log_delta(low, epsilon) <= log_delta:
        low, high = low / 10, low
    while _gaussian_log_delta(high, epsilon) > log_delta:
        low, high = high, high * 10
    for _ in range(_BISECTION_STEPS):  # in log space: relative precision
        middle = math.sqrt(low * high)
        if _gaussian_log_delta(middle, epsilon) > log_delta:
            low = middle
        else:
            high = middle
        if high / low - 1 < 1e-13:
            break
    return high * sensitivity  # the side that meets delta


# -- releases ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LocalRelease:
    """What one dataset's node publishes for a stats query: noisy partial aggregates.

    Counts are not rounded or clamped (that would bias the sums across
    datasets), so they can be fractional or negative.

    Attributes:
        query_digest: The query's :meth:`StatsQuery.digest`.
        count: The noisy row count (count and mean).
        sum: The noisy sum of the clipped values (sum and mean).
        histogram: The noisy count of each bin (histogram).
        count_scale: The noise's scale on each count or bin (Laplace ``b`` or
            Gaussian sigma), public as it follows from the query.
        sum_scale: The same for the sum.
        epsilon: Spent on this dataset.
        delta: Spent on this dataset (0 for Laplace).
    """

    query_digest: bytes
    count: float | None = None
    sum: float | None = None
    histogram: tuple[float, ...] | None = None
    count_scale: float | None = None
    sum_scale: float | None = None
    epsilon: float
    delta: float


def _column(values: NDArray[Any], column: int | str) -> NDArray[np.float64]:
    names = values.dtype.names
    if names is not None:
        if isinstance(column, int):
            if column >= len(names):
                raise InvalidJob("column", column, f"the data has {len(names)} columns")
            column = names[column]
        if column not in names:
            raise InvalidJob("column", column, f"not a column of the data: {names}")
        picked = values[column]
    elif values.ndim == 1:
        picked = values  # the column itself
    elif values.ndim == 2:
        if isinstance(column, str):
            raise InvalidJob("column", column, "the data's columns have no names: use an index")
        if column >= values.shape[1]:
            raise InvalidJob("column", column, f"the data has {values.shape[1]} columns")
        picked = values[:, column]
    else:
        raise InvalidJob("column", column, f"data of shape {values.shape} has no columns")
    try:
        numbers = np.asarray(picked, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidJob("column", column, f"not numeric: {exc}") from exc
    return numbers[~np.isnan(numbers)]  # a missing value is no row


def local_release(
    values: NDArray[Any], query: StatsQuery, *, rng: np.random.Generator | None = None
) -> LocalRelease:
    """One dataset's noisy partial aggregates for ``query``, and the privacy it spends.

    ``values`` is the dataset: a 2-D array (``query.column`` an index), a
    structured array (an index or a field name), or a 1-D array that is the
    column itself. Missing values (NaN) are dropped; the rest are clipped
    into ``query.bounds``.

    Sensitivities, neighbours differing by one row added or removed:

    - count, and each histogram bin: 1 (a row falls in one bin);
    - sum: ``max(|lower|, |upper|)``;
    - mean: a noisy count and a noisy sum, each with half the epsilon (and
      half the delta). The sum is of the values centred on the middle of the
      bounds, sensitivity ``(upper - lower) / 2``, and the middle times the
      noisy count is added back (post-processing, no privacy cost), so that
      ``sum`` is still an estimate of the plain sum.

    Args:
        values: The dataset's rows.
        query: The statistic and its privacy.
        rng: The noise's generator; by default ``query.seed``'s (which is
            the OS's entropy when the seed is None).

    Example:
        >>> query = StatsQuery(column=0, statistic="sum", epsilon=1.0, bounds=(0, 10), seed=7)
        >>> release = local_release(np.array([[1.0], [4.0], [99.0]]), query)
        >>> release.sum_scale, release.epsilon, release.delta  # 99 clipped to 10: 15 plus noise
        (10.0, 1.0, 0.0)
        >>> abs(release.sum - 15.0) < 200
        True
    """
    column = _column(np.asarray(values), query.column)
    if query.bounds is not None:
        column = np.clip(column, *query.bounds)
    rng = np.random.default_rng(query.seed) if rng is None else rng
    delta = query.delta or 0.0
    digest = query.digest()

    def noise(sensitivity: float, share: float, size: int | None = None) -> tuple[Any, float]:
        """Noise for ``share`` of the query's epsilon (and delta), and its scale."""
        if query.mechanism == "laplace":
            scale = laplace_scale(query.epsilon * share, sensitivity)
            return rng.laplace(0.0, scale, size), scale
        sigma = gaussian_sigma(query.epsilon * share, delta * share, sensitivity)
        return rng.normal(0.0, sigma, size), sigma

    if query.statistic == "count":
        drawn, scale = noise(1.0, 1.0)
        return LocalRelease(
            query_digest=digest,
            count=column.size + float(drawn),
            count_scale=scale,
            epsilon=query.epsilon,
            delta=delta,
        )
    assert query.bounds is not None
    lower, upper = query.bounds
    if query.statistic == "sum":
        drawn, scale = noise(max(abs(lower), abs(upper)), 1.0)
        return LocalRelease(
            query_digest=digest,
            sum=float(column.sum()) + float(drawn),
            sum_scale=scale,
            epsilon=query.epsilon,
            delta=delta,
        )
    if query.statistic == "mean":
        middle = (lower + upper) / 2
        count_noise, count_scale = noise(1.0, 0.5)
        sum_noise, sum_scale = noise((upper - lower) / 2, 0.5)
        count = column.size + float(count_noise)
        centred = float((column - middle).sum()) + float(sum_noise)
        return LocalRelease(
            query_digest=digest,
            count=count,
            sum=centred + middle * count,
            count_scale=count_scale,
            sum_scale=sum_scale,
            epsilon=query.epsilon,
            delta=delta,
        )
    edges = query.edges
    assert edges is not None
    exact, _ = np.histogram(column, bins=np.asarray(edges))
    drawn, scale = noise(1.0, 1.0, exact.size)
    return LocalRelease(
        query_digest=digest,
        histogram=tuple(float(bin_) for bin_ in exact + drawn),
        count_scale=scale,
        epsilon=query.epsilon,
        delta=delta,
    )


@dataclass(frozen=True, kw_only=True)
class StatsResult:
    """A stats job's answer across datasets, and the privacy spent on each.

    Attributes:
        statistic: As the query's.
        value: The count, sum or mean (None for a histogram).
        histogram: The noisy count of each bin (histogram only).
        edges: The histogram's bin edges.
        datasets: How many datasets were combined.
        epsilon: Spent on each dataset.
        delta: Spent on each dataset.
    """

    statistic: Statistic
    value: float | None = None
    histogram: tuple[float, ...] | None = None
    edges: tuple[float, ...] | None = None
    datasets: int
    epsilon: float
    delta: float

    @property
    def epsilon_milli(self) -> int:
        """The epsilon spent on each dataset as the chain counts it (see :func:`epsilon_milli`)."""
        return epsilon_milli(self.epsilon)


def combine(releases: Sequence[LocalRelease], query: StatsQuery) -> StatsResult:
    """Add up the datasets' releases into the statistic of their union.

    Counts, sums and bins add. The mean is the total noisy sum over the total
    noisy count; with a count below 1 (a few rows drowned in noise) the
    count is taken as 1, and the mean is clipped into the bounds.

    Raises:
        InvalidJob: No releases, a release made for another query, or one
            that lacks what the statistic adds up.

    Example:
        >>> query = StatsQuery(column=0, statistic="mean", epsilon=1e6, bounds=(0, 10), seed=1)
        >>> shards = [np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])]
        >>> result = combine([local_release(shard, query) for shard in shards], query)
        >>> round(result.value, 3), result.datasets, result.epsilon_milli
        (3.0, 2, 1000000000)
    """
    if not releases:
        raise InvalidJob("releases", releases, "there is nothing to combine")
    digest = query.digest()
    needed = {
        "count": ("count",),
        "sum": ("sum",),
        "mean": ("count", "sum"),
        "histogram": ("histogram",),
    }[query.statistic]
    edges = query.edges
    for release in releases:
        if release.query_digest != digest:
            raise InvalidJob(
                "releases", release.query_digest.hex(), f"released for another query than {query}"
            )
        for name in needed:
            if getattr(release, name) is None:
                raise InvalidJob("releases", release, f"a {query.statistic} release needs a {name}")
        if edges is not None and len(release.histogram or ()) != len(edges) - 1:
            raise InvalidJob("releases", release, f"a histogram of {len(edges) - 1} bins expected")
    value: float | None = None
    histogram: tuple[float, ...] | None = None
    if query.statistic == "histogram":
        bins = np.sum([release.histogram or () for release in releases], axis=0)
        histogram = tuple(float(bin_) for bin_ in bins)
    else:
        counts = math.fsum(release.count or 0.0 for release in releases)
        sums = math.fsum(release.sum or 0.0 for release in releases)
        if query.statistic == "count":
            value = counts
        elif query.statistic == "sum":
            value = sums
        else:
            assert query.bounds is not None
            lower, upper = query.bounds
            value = min(max(sums / max(counts, 1.0), lower), upper)
    return StatsResult(
        statistic=query.statistic,
        value=value,
        histogram=histogram,
        edges=edges,
        datasets=len(releases),
        epsilon=query.epsilon,
        delta=query.delta or 0.0,
    )


# -- accounting for federated rounds ----------------------------------------------------------


def _rounds(rounds: object) -> int:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidJob("rounds", rounds, "must be a whole number of rounds, 1 or more")
    return rounds


def _epsilon_at_orders(rho: float, delta: float, orders: NDArray[np.float64]) -> NDArray[Any]:
    """The improved RDP-to-DP conversion of ``rho * alpha``-RDP at each order ``alpha > 1``."""
    minus_one = orders - 1
    return cast(
        NDArray[Any],
        rho * orders
        + np.log(minus_one / orders)
        - (math.log(delta) + np.log1p(minus_one)) / minus_one,
    )


# Orders alpha with alpha - 1 from 1e-3 to 1e7: built once, not on every call of the bisection.
_ORDERS = 1 + np.geomspace(1e-3, 1e7, 2001)
_ORDERS.setflags(write=False)


def gaussian_rounds_epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """The epsilon of ``rounds`` Gaussian rounds with every dataset in each, by Rényi DP.

    Each round adds Gaussian noise of ``noise_multiplier`` times the L2 clip
    norm to the sum of the clipped updates: ``alpha / (2 z^2)``-RDP at every
    order ``alpha``, so ``rounds * alpha / (2 z^2)`` in all, converted with the
    improved conversion of Balle et al. 2020 (see the module's docstring),
    minimised over a continuous ``alpha``.

    Args:
        noise_multiplier: ``z``, the noise's standard deviation over the clip norm; above 0.
        rounds: ``T``, 1 or more.
        delta: Strictly between 0 and 1.

    Example:
        >>> round(gaussian_rounds_epsilon(1.1, 100, 1e-5), 3)
        83.072
    """
    noise_multiplier = _positive_finite("noise_multiplier", noise_multiplier)
    rho = _rounds(rounds) / (2 * noise_multiplier**2)
    delta = _delta(delta)
    if -math.expm1(-rho) < delta * delta:
        return 0.0  # within delta by the KL divergence (rho) alone
    # A dense grid of orders, then golden-section search in the best cell.
    grid = _ORDERS
    epsilons = _epsilon_at_orders(rho, delta, grid)
    best = int(np.argmin(epsilons))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(_BISECTION_STEPS):
        if high - low < 1e-12 * high:
            break
        left, right = high - golden * (high - low), low + golden * (high - low)
        at = _epsilon_at_orders(rho, delta, np.array([left, right]))
        if at[0] < at[1]:
            high = right
        else:
            low = left
    at_best = float(epsilons[best])
    refined = float(_epsilon_at_orders(rho, delta, np.array([(low + high) / 2]))[0])
    return max(0.0, min(at_best, refined))


def noise_for_epsilon(epsilon: float, rounds: int, delta: float) -> float:
    """The smallest noise multiplier whose ``rounds`` spend at most ``epsilon`` (bisection).

    The inverse of :func:`gaussian_rounds_epsilon`, rounded up (to about
    1e-10 relative) so the epsilon it gives never exceeds the target.

    Example:
        >>> z = noise_for_epsilon(8.0, 100, 1e-5)
        >>> round(z, 3), gaussian_rounds_epsilon(z, 100, 1e-5) <= 8.0
        (6.377, True)
    """
    epsilon = _positive_finite("epsilon", epsilon)
    rounds = _rounds(rounds)
    delta = _delta(delta)
    low, high = 1e-3, 1.0
    while gaussian_rounds_epsilon(high, rounds, delta) > epsilon:
        low, high = high, high * 10
        if high > 1e12:
            raise InvalidJob("epsilon", epsilon, "too small for any usable noise multiplier")
    if gaussian_rounds_epsilon(low, rounds, delta) <= epsilon:
        return low  # the least noise looked for already meets the target
    for _ in range(_BISECTION_STEPS):
        middle = math.sqrt(low * high)
        if gaussian_rounds_epsilon(middle, rounds, delta) > epsilon:
            low = middle
        else:
            high = middle
        if high / low - 1 < 1e-10:
            break
    return high


# -- epsilon on chain -------------------------------------------------------------------------


def epsilon_milli(epsilon: float) -> int:
    """Epsilon in the chain's thousandths, rounded up so the chain never under-counts.

    The float's shortest decimal form is what is rounded, so ``0.1`` is
    100, not 101.

    Example:
        >>> epsilon_milli(0.1), epsilon_milli(0.1234), epsilon_milli(2)
        (100, 124, 2000)
    """
    epsilon = _positive_finite("epsilon", epsilon)
    return int((Decimal(repr(epsilon)) * 1000).to_integral_value(ROUND_CEILING))


def epsilon_from_milli(milli: int) -> float:
    """The epsilon that the chain's integer of thousandths stands for.

    Example:
        >>> epsilon_from_milli(124)
        0.124
    """
    if isinstance(milli, bool) or not isinstance(milli, int) or milli < 0:
        raise InvalidJob("epsilon_milli", milli, "must be a whole number of 0 or more")
    return milli / 1000
