"""Federated training and evaluation on real Flower: the in-process runtime, and
the deployment engine (a SuperLink and three SuperNodes as processes on loopback).

The data: sklearn's breast-cancer set, a stratified 80/20 split; the training
part split (stratified) among three owners, each of which standardizes its own
shard with its own statistics (no pooling); the test part, standardized with its
own statistics, plays a fourth party. Only the reference (sklearn's
LogisticRegression) sees the union of the shards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from troika._errors import InvalidJob, JobFailed
from troika.compute import _federated
from troika.compute._federated import (
    FlowerDeployment,
    TrainParams,
    evaluate_federated,
    train_federated,
    write_shard,
)
from troika.compute._flower_app import _dp_update
from troika.compute._models import (
    LogisticRegressionModel,
    MLPModel,
    model_from_arrays,
    model_from_bytes,
)

Array = np.ndarray

# SecAgg+ (Flower's defaults) sends round(n_k / 1000 * 2**22) / 2**22 * params,
# clipped to [-8, 8] and stochastically rounded to 2**22 levels: each node's
# contribution is off by at most one level, 16 / 2**22, and the sum is divided by
# sum(n_k) / 1000. Local gradient descent with a step below 2/L does not expand
# differences, so they add up at most linearly over rounds.
MAX_WEIGHT, CLIP, LEVELS = 1000.0, 8.0, 2**22


def secagg_tolerance(shards: list[tuple[Array, Array]], rounds: int) -> float:
    total = sum(len(y) for _, y in shards)
    per_round = len(shards) * (2 * CLIP / LEVELS) / (total / MAX_WEIGHT)
    return 2 * rounds * per_round  # 2x: the weights' own rounding, and headroom


def _standardize(x: Array) -> Array:
    return (x - x.mean(0)) / x.std(0)


@pytest.fixture(scope="module")
def data() -> tuple[list[tuple[Array, Array]], Array, Array]:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(x_train, y_train)
    shards = [(_standardize(x_train[rows]), y_train[rows].astype(float)) for _, rows in folds]
    return shards, _standardize(x_test), y_test.astype(float)


FAST = TrainParams(rounds=10, local_epochs=5, learning_rate=1.0)


@pytest.fixture(scope="module")
def secure_result(data: tuple[list[tuple[Array, Array]], Array, Array]) -> _federated.TrainResult:
    return train_federated(data[0], FAST)


# -- the model and the parameters, pure ------------------------------------------------


def test_model_bytes_are_deterministic_and_round_trip() -> None:
    model = LogisticRegressionModel.init(30, seed=7)
    again = LogisticRegressionModel.init(30, seed=7)
    assert model.to_bytes() == again.to_bytes()
    assert model.digest() == again.digest() != LogisticRegressionModel.init(30, seed=8).digest()
    back = LogisticRegressionModel.from_bytes(model.to_bytes())
    assert np.array_equal(back.weights, model.weights)
    assert back.bias == model.bias
    assert back.spec == {"kind": "logistic-regression", "n_features": 30}


def test_model_bytes_reject_what_is_not_a_model() -> None:
    with pytest.raises(ValueError, match="not a troika model archive"):
        LogisticRegressionModel.from_bytes(b"not a zip")


def test_params_json_is_canonical_and_digest_stable() -> None:
    params = TrainParams(rounds=3, clip_norm=1.0, noise_multiplier=0.5)
    assert TrainParams.from_json(params.to_json()) == params
    assert json.loads(params.to_json()) == {
        "batch_size": None,
        "clip_norm": 1.0,
        "learning_rate": 0.5,
        "local_epochs": 5,
        "noise_multiplier": 0.5,
        "num_shares": 3,
        "reconstruction_threshold": 2,
        "rounds": 3,
        "secure": True,
        "seed": 0,
    }
    assert params.digest() == TrainParams(rounds=3, clip_norm=1.0, noise_multiplier=0.5).digest()
    assert params.digest() != TrainParams(rounds=4, clip_norm=1.0, noise_multiplier=0.5).digest()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rounds": 0}, "rounds"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"reconstruction_threshold": 3}, "reconstruction_threshold"),
        ({"noise_multiplier": 1.0}, "noise_multiplier"),
        ({"clip_norm": 0.0}, "clip_norm"),
    ],
)
def test_bad_params_are_invalid_jobs(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        TrainParams(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_dp_update_is_clipped_to_the_norm() -> None:
    start = LogisticRegressionModel(np.zeros(4), 0.0)
    far = LogisticRegressionModel(np.full(4, 3.0), 3.0)
    clipped = _dp_update(start, far, clip_norm=1.0, noise_multiplier=None, num_nodes=3)
    update = np.concatenate([clipped.weights, [clipped.bias]])
    assert np.linalg.norm(update) == pytest.approx(1.0)
    # Scaled, not turned: the update (3, ..., 3) of norm sqrt(45) becomes (1, ..., 1) / sqrt(5).
    np.testing.assert_allclose(update, np.full(5, 1 / np.sqrt(5)), rtol=1e-12)
    near = LogisticRegressionModel(np.full(4, 0.1), 0.1)
    assert _dp_update(start, near, 1.0, None, 3).digest() == near.digest()  # within: unchanged


def test_fewer_than_three_owners_is_an_invalid_job(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    with pytest.raises(InvalidJob) as caught:
        train_federated(data[0][:2], FAST)
    assert caught.value.field == "shards"


def test_model_from_bytes_reads_either_kind_by_its_spec() -> None:
    logistic, mlp = LogisticRegressionModel.init(5), MLPModel.init(5, hidden=3)
    assert model_from_bytes(logistic.to_bytes()).digest() == logistic.digest()
    assert isinstance(model_from_bytes(mlp.to_bytes()), MLPModel)
    assert model_from_bytes(mlp.to_bytes()).digest() == mlp.digest()
    assert mlp.spec == {"kind": "mlp", "n_features": 5, "hidden": 3, "activation": "tanh"}
    with pytest.raises(ValueError, match="not an mlp model"):
        MLPModel.from_bytes(logistic.to_bytes())
    with pytest.raises(ValueError, match="arrays of a"):
        model_from_arrays(
            {"kind": "mlp", "n_features": 5, "hidden": 4, "activation": "tanh"}, mlp.to_arrays()
        )


def test_dp_update_noise_has_the_documented_std() -> None:
    # TrainParams: each node adds N(0, (noise_multiplier * clip_norm / sqrt(num_nodes))^2).
    start = LogisticRegressionModel(np.zeros(100_000), 0.0)
    sent = _dp_update(start, start, clip_norm=1.5, noise_multiplier=2.0, num_nodes=9)
    noise = np.concatenate([sent.weights, [sent.bias]])
    # The noise is the OS's (unseeded): thresholds loose enough never to flake, and 100001
    # draws still tell a 10 % error in the std apart by a wide margin.
    assert scipy.stats.kstest(noise, scipy.stats.norm(scale=1.0).cdf).pvalue > 1e-6
    assert scipy.stats.kstest(noise, scipy.stats.norm(scale=1.1).cdf).pvalue < 1e-9


def test_dp_update_keeps_an_mlp_shape() -> None:
    start, far = MLPModel.init(4, hidden=3, seed=0), MLPModel.init(4, hidden=3, seed=1)
    sent = _dp_update(start, far, clip_norm=0.5, noise_multiplier=1.0, num_nodes=3)
    assert isinstance(sent, MLPModel)
    assert sent.spec == start.spec


# -- the in-process runtime -----------------------------------------------------------


def test_secure_training_is_within_a_point_of_centralized_sklearn(
    data: tuple[list[tuple[Array, Array]], Array, Array],
    secure_result: _federated.TrainResult,
) -> None:
    shards, x_test, y_test = data
    union_x = np.vstack([x for x, _ in shards])
    union_y = np.concatenate([y for _, y in shards])
    reference = LogisticRegression(max_iter=5000).fit(union_x, union_y).score(x_test, y_test)
    accuracy = secure_result.model.evaluate(x_test, y_test)["accuracy"]
    assert accuracy >= reference - 0.01, (accuracy, reference)
    assert [r.round for r in secure_result.rounds] == list(range(1, 11))
    assert secure_result.rounds[-1].accuracy > secure_result.rounds[0].accuracy
    assert all(r.bytes_sent for r in secure_result.rounds)


def test_every_node_received_the_final_model(secure_result: _federated.TrainResult) -> None:
    assert secure_result.digest == secure_result.model.digest()
    assert len(secure_result.node_digests) == 3
    assert set(secure_result.node_digests.values()) == {secure_result.digest}


def test_secure_and_plain_fedavg_give_the_same_model(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    shards = data[0]
    params = TrainParams(rounds=10, local_epochs=5, learning_rate=0.5)  # below 2/L
    secure = train_federated(shards, params)
    plain = train_federated(shards, TrainParams(**{**params.__dict__, "secure": False}))
    tolerance = secagg_tolerance(shards, params.rounds)  # about 5e-4 here
    assert np.abs(secure.model.weights - plain.model.weights).max() <= tolerance
    assert abs(secure.model.bias - plain.model.bias) <= tolerance
    # and the quantization is real: a secure round costs more bytes than a plain one
    assert secure.rounds[0].bytes_sent > plain.rounds[0].bytes_sent  # type: ignore[operator]


def test_an_mlp_trains_under_secagg_like_plain_fedavg(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    shards, x_test, y_test = data
    union_x = np.vstack([x for x, _ in shards])
    union_y = np.concatenate([y for _, y in shards])
    reference = LogisticRegression(max_iter=5000).fit(union_x, union_y).score(x_test, y_test)
    model = MLPModel.init(30, hidden=8, seed=0)
    secure = train_federated(shards, FAST, model=model)
    plain = train_federated(shards, TrainParams(**{**FAST.__dict__, "secure": False}), model=model)
    assert isinstance(secure.model, MLPModel)
    assert secure.model.evaluate(x_test, y_test)["accuracy"] >= reference - 0.01
    assert set(secure.node_digests.values()) == {secure.digest}
    tolerance = secagg_tolerance(shards, FAST.rounds)
    for got, want in zip(secure.model.to_arrays(), plain.model.to_arrays(), strict=True):
        assert np.abs(got - want).max() <= tolerance


def test_plain_fedavg_is_deterministic(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    params = TrainParams(rounds=3, secure=False)
    assert train_federated(data[0], params).digest == train_federated(data[0], params).digest


def test_differential_privacy_runs_with_fresh_noise_and_sane_accuracy(
    data: tuple[list[tuple[Array, Array]], Array, Array],
    secure_result: _federated.TrainResult,
) -> None:
    shards, x_test, y_test = data
    params = TrainParams(
        rounds=10, local_epochs=5, learning_rate=1.0, clip_norm=1.0, noise_multiplier=1.0
    )
    first, second = train_federated(shards, params), train_federated(shards, params)
    assert first.digest != second.digest  # the noise is the OS's, not the public seed's
    assert first.digest != secure_result.digest
    for result in (first, second):
        assert 0.85 <= result.model.evaluate(x_test, y_test)["accuracy"] <= 1.0


@pytest.mark.parametrize("secure", [True, False])
def test_evaluate_federated_is_the_example_weighted_mean_of_local_evaluations(
    data: tuple[list[tuple[Array, Array]], Array, Array],
    secure_result: _federated.TrainResult,
    secure: bool,
) -> None:
    shards = data[0]
    model = secure_result.model
    local = [model.evaluate(x, y) for x, y in shards]
    sizes = np.array([len(y) for _, y in shards], dtype=float)
    expected = {k: float(np.dot(sizes, [m[k] for m in local]) / sizes.sum()) for k in local[0]}
    got = evaluate_federated(shards, model, secure=secure)
    tolerance = secagg_tolerance(shards, 1) if secure else 1e-12
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=tolerance)


def test_one_node_dropping_out_is_survived_by_secagg(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    # fault injection: node 1's shard file is missing, so its real ClientApp fails
    shards = _federated._check_shards(data[0])
    model = LogisticRegressionModel.init(30)
    config = _federated._run_config(TrainParams(rounds=2), model, "train", 3, 30.0)
    result, _ = _federated._simulate(shards, config, 30.0, fail_nodes=(1,))
    assert result["status"] == "ok"
    assert len(result["rounds"]) == 2


def test_nodes_dropping_beyond_the_secagg_threshold_fail_the_job_cleanly(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    # fault injection: two of three shard files are missing (threshold 2)
    shards = _federated._check_shards(data[0])
    model = LogisticRegressionModel.init(30)
    config = _federated._run_config(TrainParams(rounds=2), model, "train", 3, 30.0)
    with pytest.raises(JobFailed) as caught, _federated._job(42):
        _federated._simulate(shards, config, 30.0, fail_nodes=(1, 2))
    assert caught.value.job_id == 42
    assert "secure aggregation halted" in caught.value.reason


def test_a_failing_node_fails_a_plain_job(
    data: tuple[list[tuple[Array, Array]], Array, Array],
) -> None:
    shards = _federated._check_shards(data[0])
    model = LogisticRegressionModel.init(30)
    config = _federated._run_config(TrainParams(rounds=1, secure=False), model, "train", 3, 30)
    with pytest.raises(JobFailed, match="1 node"), _federated._job(None):
        _federated._simulate(shards, config, 30.0, fail_nodes=(0,))


def test_a_node_that_insists_on_secagg_refuses_a_plain_job(
    data: tuple[list[tuple[Array, Array]], Array, Array], tmp_path: Path
) -> None:
    from troika.compute import _flower_app as app

    node_configs = [
        {
            app.NODE_SHARD: str(write_shard(tmp_path / f"owner-{i}.npz", x, y)),
            app.NODE_REQUIRE_SECURE: True,
        }
        for i, (x, y) in enumerate(data[0])
    ]
    model = LogisticRegressionModel.init(30)
    config = _federated._run_config(TrainParams(rounds=1, secure=False), model, "train", 3, 30)
    with pytest.raises(JobFailed, match="3 node"), _federated._job(None):
        _federated._run_in_process(config, node_configs, 30.0)


# -- the deployment engine: processes on loopback --------------------------------------


@pytest.fixture
def shard_files(data: tuple[list[tuple[Array, Array]], Array, Array], tmp_path: Path) -> list[Path]:
    return [write_shard(tmp_path / f"owner-{i}.npz", x, y) for i, (x, y) in enumerate(data[0])]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_deployment_engine_gives_the_simulation_model(
    data: tuple[list[tuple[Array, Array]], Array, Array],
    shard_files: list[Path],
    tmp_path: Path,
) -> None:
    params = TrainParams(rounds=1, local_epochs=5, learning_rate=0.5)
    model = LogisticRegressionModel.init(30, params.seed)
    with FlowerDeployment(
        shard_files, folder=tmp_path / "fleet", require_secure=True, run_timeout=180
    ) as fleet:
        deployed = train_federated(
            (), params, model=model, runtime="deployment", deployment=fleet, timeout=60
        )
        receipts = [json.loads(path.read_text()) for path in fleet.receipts]
    simulated = train_federated(data[0], params, model=model)
    tolerance = secagg_tolerance(data[0], params.rounds)
    assert np.abs(deployed.model.weights - simulated.model.weights).max() <= tolerance
    assert abs(deployed.model.bias - simulated.model.bias) <= tolerance
    assert set(deployed.node_digests.values()) == {deployed.digest}
    assert receipts == [{"round": 1, "digest": deployed.digest}] * 3
    assert deployed.rounds[0].accuracy == pytest.approx(simulated.rounds[0].accuracy, abs=1e-3)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_deployment_with_a_node_missing_fails_within_the_timeout(
    shard_files: list[Path], tmp_path: Path
) -> None:
    model = LogisticRegressionModel.init(30)
    with (
        FlowerDeployment(
            shard_files, folder=tmp_path / "fleet", start_nodes=2, run_timeout=90
        ) as fleet,
        pytest.raises(JobFailed, match="only 2 of 3 nodes connected") as caught,
    ):
        train_federated(
            (),
            TrainParams(rounds=1),
            model=model,
            runtime="deployment",
            deployment=fleet,
            job_id=7,
            timeout=10,
        )
    assert caught.value.job_id == 7
