"""Models that troika trains: weights plus an architecture spec, never code.

A model is data. Its bytes are a deterministic ``.npz`` archive (fixed member
order and timestamps, little-endian float64, no pickles) holding the weights
and the canonical JSON of its spec, so the same model always has the same
bytes and the same :meth:`~LogisticRegressionModel.digest`, on every node.
The numerics are pure numpy and do no I/O.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from troika._json import loads

__all__ = [
    "FloatArray",
    "LogisticRegressionModel",
    "MLPModel",
    "Model",
    "model_from_arrays",
    "model_from_bytes",
]

FloatArray = npt.NDArray[np.float64]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _npz_bytes(arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    """A deterministic npz: members in the given order, fixed dates, stored uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _sigmoid(z: FloatArray) -> FloatArray:
    # The two branches keep exp() from overflowing for large |z|.
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _as_features(x: npt.ArrayLike, n_features: int) -> FloatArray:
    features = np.asarray(x, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != n_features:
        raise ValueError(f"X must have shape (n, {n_features}), got {features.shape!r}")
    return features


def _as_labels(y: npt.ArrayLike, n: int) -> FloatArray:
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    if labels.shape != (n,) or not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"y must be {n} labels in {{0, 1}}")
    return labels


def _evaluate(p: FloatArray, y: npt.ArrayLike) -> dict[str, float]:
    labels = _as_labels(y, p.shape[0])
    if p.shape[0] == 0:
        raise ValueError("cannot evaluate on no examples")
    eps = 1e-12
    loss = -np.mean(labels * np.log(p + eps) + (1.0 - labels) * np.log(1.0 - p + eps))
    return {"accuracy": float(np.mean((p >= 0.5) == (labels == 1.0))), "loss": float(loss)}


def _batches(
    n: int, epochs: int, batch_size: int | None, seed: int
) -> Iterator[npt.NDArray[np.intp]]:
    """The row indices of each gradient step: full batches in order when
    ``batch_size`` is None, else mini-batches in an order shuffled from ``seed``."""
    if n == 0:
        raise ValueError("cannot train on no examples")
    step = n if batch_size is None else batch_size
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = np.arange(n) if batch_size is None else rng.permutation(n)
        for start in range(0, n, step):
            yield order[start : start + step]


class _BinaryClassifier:
    """The verbs both models share, built on each one's ``predict_proba`` and ``to_bytes``."""

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    def digest(self) -> str:
        """The hex sha256 of :meth:`to_bytes`: what a node confirms on chain."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def predict(self, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The predicted label (0 or 1) for each row of ``x``."""
        return (self.predict_proba(x) >= 0.5).astype(np.int64)

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, float]:
        """Accuracy and mean log loss on ``(x, y)``."""
        return _evaluate(self.predict_proba(x), y)


@dataclass(frozen=True, eq=False)
class LogisticRegressionModel(_BinaryClassifier):
    """Binary logistic regression: ``p(y=1|x) = sigmoid(x @ weights + bias)``.

    Immutable: training returns a new model. Two models are the same model when
    their :meth:`digest` is.

    Attributes:
        weights: One float64 weight per feature, shape ``(n_features,)``.
        bias: The intercept.

    Example:
        >>> import numpy as np
        >>> x = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0, 0, 1, 1])
        >>> model = LogisticRegressionModel.init(1).train(x, y, epochs=50, learning_rate=0.5)
        >>> model.evaluate(x, y)["accuracy"]
        1.0
        >>> LogisticRegressionModel.from_bytes(model.to_bytes()).digest() == model.digest()
        True
    """

    KIND: ClassVar[str] = "logistic-regression"

    weights: FloatArray
    bias: float

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float64).reshape(-1)
        weights.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", float(self.bias))
        if not (np.isfinite(weights).all() and np.isfinite(self.bias)):
            raise ValueError("a model's weights and bias must be finite")

    # -- construction and bytes ------------------------------------------------

    @classmethod
    def init(cls, n_features: int, seed: int = 0) -> LogisticRegressionModel:
        """A fresh model: small random weights drawn from ``seed``, zero bias.

        Args:
            n_features: How many features each example has.
            seed: Seeds the initial weights, so every run starts from the same model.
        """
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features!r}")
        rng = np.random.default_rng(seed)
        return cls(rng.normal(0.0, 0.01, size=n_features), 0.0)

    @property
    def n_features(self) -> int:
        """How many features the model takes."""
        return int(self.weights.shape[0])

    @property
    def spec(self) -> dict[str, Any]:
        """The architecture, as data: ``{"kind": "logistic-regression", "n_features": n}``."""
        return {"kind": self.KIND, "n_features": self.n_features}

    def to_arrays(self) -> list[FloatArray]:
        """The parameters as Flower sends them: ``[weights, [bias]]``."""
        return [self.weights.copy(), np.array([self.bias], dtype=np.float64)]

    @classmethod
    def from_arrays(cls, arrays: list[npt.NDArray[Any]]) -> LogisticRegressionModel:
        """The inverse of :meth:`to_arrays`."""
        if len(arrays) != 2 or np.asarray(arrays[1]).size != 1:
            raise ValueError("expected [weights, [bias]]")
        return cls(np.asarray(arrays[0], dtype=np.float64), float(np.asarray(arrays[1])[0]))

    def to_bytes(self) -> bytes:
        """The model as deterministic ``.npz`` bytes (weights, bias and spec)."""
        return _npz_bytes(
            {
                "spec": np.frombuffer(_canonical_json(self.spec), dtype=np.uint8),
                "weights": self.weights.astype("<f8"),
                "bias": np.array([self.bias], dtype="<f8"),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LogisticRegressionModel:
        """Read bytes written by :meth:`to_bytes` (never unpickles anything).

        Raises:
            ValueError: The bytes are not such a model.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                spec = loads(archive["spec"].tobytes())  # troika._json: nesting bounded
                weights, bias = archive["weights"], archive["bias"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a troika model archive: {exc}") from exc
        if spec != {"kind": cls.KIND, "n_features": int(weights.shape[0])}:
            raise ValueError(f"not a {cls.KIND} model: spec {spec!r}")
        return cls(weights, float(bias[0]))

    # -- numerics ----------------------------------------------------------------

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """``p(y=1|x)`` for each row of ``X``."""
        return _sigmoid(_as_features(x, self.n_features) @ self.weights + self.bias)

    def train(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        epochs: int,
        learning_rate: float,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> LogisticRegressionModel:
        """Gradient descent on the mean log loss; returns the trained model.

        Args:
            x: Features, shape ``(n, n_features)``.
            y: Labels in {0, 1}.
            epochs: Passes over the data.
            learning_rate: The step size.
            batch_size: None for full-batch gradient descent (deterministic);
                otherwise mini-batches in an order shuffled from ``seed``.
            seed: Seeds the mini-batch order.
        """
        features = _as_features(x, self.n_features)
        labels = _as_labels(y, features.shape[0])
        weights, bias = self.weights.copy(), self.bias
        for rows in _batches(features.shape[0], epochs, batch_size, seed):
            error = _sigmoid(features[rows] @ weights + bias) - labels[rows]
            weights -= learning_rate * (features[rows].T @ error) / rows.size
            bias -= learning_rate * float(error.mean())
        return LogisticRegressionModel(weights, bias)


@dataclass(frozen=True, eq=False)
class MLPModel(_BinaryClassifier):
    """A binary classifier with one hidden layer: ``sigmoid(tanh(x @ w1 + b1) @ w2 + b2)``.

    The same verbs as :class:`LogisticRegressionModel`; its spec is
    ``{"kind": "mlp", "n_features": d, "hidden": h, "activation": "tanh"}``.

    Attributes:
        w1: ``(n_features, hidden)`` weights of the hidden layer.
        b1: ``(hidden,)`` its biases.
        w2: ``(hidden,)`` weights of the output.
        b2: The output's bias.

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]) * 2 - 1
        >>> y = np.array([0, 1, 1, 0])  # XOR: no linear model separates it
        >>> model = MLPModel.init(2, hidden=8, seed=1).train(x, y, epochs=2000, learning_rate=0.5)
        >>> model.evaluate(x, y)["accuracy"]
        1.0
        >>> MLPModel.from_bytes(model.to_bytes()).digest() == model.digest()
        True
    """

    KIND: ClassVar[str] = "mlp"

    w1: FloatArray
    b1: FloatArray
    w2: FloatArray
    b2: float

    def __post_init__(self) -> None:
        w1 = np.array(self.w1, dtype=np.float64)
        if w1.ndim != 2:
            raise ValueError(f"w1 must be (n_features, hidden), got {w1.shape!r}")
        hidden = w1.shape[1]
        b1 = np.array(self.b1, dtype=np.float64).reshape(-1)
        w2 = np.array(self.w2, dtype=np.float64).reshape(-1)
        if b1.shape != (hidden,) or w2.shape != (hidden,):
            raise ValueError(f"b1 and w2 must have {hidden} entries")
        for name, array in (("w1", w1), ("b1", b1), ("w2", w2)):
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "b2", float(self.b2))
        if not all(np.isfinite(a).all() for a in (w1, b1, w2)) or not np.isfinite(self.b2):
            raise ValueError("a model's weights and biases must be finite")

    @classmethod
    def init(cls, n_features: int, hidden: int = 16, seed: int = 0) -> MLPModel:
        """A fresh model: Glorot-scaled random weights drawn from ``seed``, zero biases."""
        if n_features < 1 or hidden < 1:
            raise ValueError(f"need n_features and hidden >= 1, got {n_features!r}, {hidden!r}")
        rng = np.random.default_rng(seed)
        w1 = rng.normal(0.0, np.sqrt(2.0 / (n_features + hidden)), size=(n_features, hidden))
        w2 = rng.normal(0.0, np.sqrt(2.0 / (hidden + 1)), size=hidden)
        return cls(w1, np.zeros(hidden), w2, 0.0)

    @property
    def n_features(self) -> int:
        """How many features the model takes."""
        return int(self.w1.shape[0])

    @property
    def spec(self) -> dict[str, Any]:
        """The architecture, as data."""
        return {
            "kind": self.KIND,
            "n_features": self.n_features,
            "hidden": int(self.w1.shape[1]),
            "activation": "tanh",
        }

    def to_arrays(self) -> list[FloatArray]:
        """The parameters as Flower sends them: ``[w1, b1, w2, [b2]]``."""
        return [self.w1.copy(), self.b1.copy(), self.w2.copy(), np.array([self.b2])]

    @classmethod
    def from_arrays(cls, arrays: list[npt.NDArray[Any]]) -> MLPModel:
        """The inverse of :meth:`to_arrays`."""
        if len(arrays) != 4 or np.asarray(arrays[3]).size != 1:
            raise ValueError("expected [w1, b1, w2, [b2]]")
        return cls(arrays[0], arrays[1], arrays[2], float(np.asarray(arrays[3]).reshape(-1)[0]))

    def to_bytes(self) -> bytes:
        """The model as deterministic ``.npz`` bytes (weights and spec)."""
        named = dict(zip(("w1", "b1", "w2", "b2"), self.to_arrays(), strict=True))
        spec = np.frombuffer(_canonical_json(self.spec), dtype=np.uint8)
        return _npz_bytes({"spec": spec, **{k: v.astype("<f8") for k, v in named.items()}})

    @classmethod
    def from_bytes(cls, data: bytes) -> MLPModel:
        """Read bytes written by :meth:`to_bytes` (never unpickles anything)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                spec = loads(archive["spec"].tobytes())  # troika._json: nesting bounded
                if not isinstance(spec, dict) or spec.get("kind") != cls.KIND:
                    raise TypeError
                model = cls.from_arrays([archive[k] for k in ("w1", "b1", "w2", "b2")])
        except TypeError:
            raise ValueError(f"not an {cls.KIND} model: spec {spec!r}") from None
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a troika model archive: {exc}") from exc
        if spec != model.spec:
            raise ValueError(f"not an {cls.KIND} model: spec {spec!r}")
        return model

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """``p(y=1|x)`` for each row of ``x``."""
        hidden = np.tanh(_as_features(x, self.n_features) @ self.w1 + self.b1)
        return _sigmoid(hidden @ self.w2 + self.b2)

    def train(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        epochs: int,
        learning_rate: float,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> MLPModel:
        """Gradient descent (backpropagation) on the mean log loss; see
        :meth:`LogisticRegressionModel.train` for the arguments."""
        features = _as_features(x, self.n_features)
        labels = _as_labels(y, features.shape[0])
        w1, b1, w2, b2 = self.w1.copy(), self.b1.copy(), self.w2.copy(), self.b2
        for rows in _batches(features.shape[0], epochs, batch_size, seed):
            xb = features[rows]
            hidden = np.tanh(xb @ w1 + b1)
            error = (_sigmoid(hidden @ w2 + b2) - labels[rows]) / rows.size
            back = np.outer(error, w2) * (1.0 - hidden**2)
            w2 = w2 - learning_rate * (hidden.T @ error)
            b2 -= learning_rate * float(error.sum())
            w1 = w1 - learning_rate * (xb.T @ back)
            b1 = b1 - learning_rate * back.sum(axis=0)
        return MLPModel(w1, b1, w2, b2)


Model = LogisticRegressionModel | MLPModel
"""Every kind of model troika trains."""

_KINDS: dict[str, type[LogisticRegressionModel] | type[MLPModel]] = {
    LogisticRegressionModel.KIND: LogisticRegressionModel,
    MLPModel.KIND: MLPModel,
}


def model_from_bytes(data: bytes) -> Model:
    """Read any troika model's bytes, whichever its kind (from the spec inside).

    Raises:
        ValueError: Not a troika model, or of an unknown kind.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            kind = loads(archive["spec"].tobytes())["kind"]  # nesting bounded
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a troika model archive: {exc}") from exc
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(_KINDS)}")
    return _KINDS[kind].from_bytes(data)


def model_from_arrays(spec: dict[str, Any], arrays: list[npt.NDArray[Any]]) -> Model:
    """A model of ``spec``'s kind from Flower's arrays; the arrays must match the spec."""
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(_KINDS)}")
    model = _KINDS[kind].from_arrays(arrays)
    if model.spec != spec:
        raise ValueError(f"arrays of a {model.spec!r} model, not {spec!r}")
    return model
