"""Federated training and evaluation on Flower, with SecAgg+ and optional distributed DP.

A job trains one model (a :class:`~._models.LogisticRegressionModel` or a
one-hidden-layer :class:`~._models.MLPModel`: weights and a spec, never code)
across data owners' nodes: each node reads only its own
shard, trains locally from the global model, and uploads its new parameters
under Flower's SecAgg+ masks, so the coordinator learns only the
example-weighted average and no node's update (``secure=True``, the default).
Optional differential privacy: each node clips its update to ``clip_norm`` (L2)
and adds Gaussian noise *before* masking (see :class:`TrainParams`).

Two runtimes run the very same ServerApp and ClientApp (``_flower_app``):

- ``"simulation"`` (the embedded default): Flower's in-memory LinkState and
  Grid, every node in one process, ClientApps called in threads;
- ``"deployment"``: Flower's deployment engine, a SuperLink and one SuperNode
  per data owner as separate processes (:class:`FlowerDeployment` starts them on
  loopback), the run submitted with ``flwr run`` to the SuperLink's Control API.

Either way, the final model goes back to every node in a last evaluate round;
each node records the digest it received (a receipt), so it can later confirm
on chain the result it actually saw; :attr:`TrainResult.node_digests` holds what
the nodes reported.

SecAgg+ quantizes: each node's ``num_examples / 1000 * parameter`` is clipped to
[-8, 8] and stochastically rounded to 2**22 levels (Flower's defaults), so a
securely aggregated round differs from plain FedAvg by at most
``nodes * 16 / 2**22 / (total_examples / 1000)`` per parameter (about 2.5e-5
for 3 nodes and 455 examples), and repeated secure runs differ by as much.
Shards above 1000 examples overflow that weighting (Flower logs a warning).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from troika._closing import Closing
from troika._errors import ConfigError, InvalidJob, JobFailed
from troika._json import loads

from ._models import LogisticRegressionModel, Model, model_from_bytes

if TYPE_CHECKING:
    from flwr.app import Message

__all__ = [
    "FlowerDeployment",
    "RoundMetrics",
    "SuperNode",
    "TrainParams",
    "TrainResult",
    "evaluate_federated",
    "train_federated",
    "write_shard",
]

Shard = tuple[npt.ArrayLike, npt.ArrayLike]


@dataclass(frozen=True)
class TrainParams:
    """How a federated training job runs; its canonical JSON is hashed on chain.

    Attributes:
        rounds: Federated rounds.
        local_epochs: Passes over its shard each node makes per round.
        learning_rate: Gradient-descent step size.
        batch_size: None for full-batch gradient descent, else mini-batches.
        secure: Aggregate under SecAgg+ (neither the coordinator nor a node sees
            another node's update). Off only for comparisons.
        num_shares: Into how many shares each node's SecAgg+ secret is split
            (3: every node of a 3-node job holds one).
        reconstruction_threshold: How many shares rebuild a secret; SecAgg+
            recovers a round from nodes dropping out down to this many, but
            only those lost after they shared their keys (Flower 1.42 fails a
            round that lost a node in its setup stage), and a training job
            still fails without every node's acknowledgement of the final
            model (see docs/compute.md, "A SuperNode that drops out").
        clip_norm: Distributed DP: each node clips its update (new minus
            received parameters) to this L2 norm. None: no clipping.
        noise_multiplier: Distributed DP: each node adds Gaussian noise of std
            ``noise_multiplier * clip_norm / sqrt(num_nodes)`` to its clipped
            update before masking, so the sum of the updates carries noise of
            std ``noise_multiplier * clip_norm`` and no single node's share is
            enough on its own. (Noise of std ``.../num_nodes`` per node would
            leave the sum only ``1/sqrt(num_nodes)`` of that.) With shards of
            equal size, that is ``noise_multiplier`` times the sensitivity of
            the average to one node. Noise is drawn from the OS, never from
            ``seed``. No privacy accounting (epsilon) is done here.
        seed: Seeds the initial model and mini-batch order.

    Example:
        >>> params = TrainParams(rounds=5)
        >>> params.to_json()[:40]
        '{"batch_size":null,"clip_norm":null,"lea'
        >>> TrainParams.from_json(params.to_json()) == params
        True
    """

    rounds: int = 10
    local_epochs: int = 5
    learning_rate: float = 0.5
    batch_size: int | None = None
    secure: bool = True
    num_shares: int = 3
    reconstruction_threshold: int = 2
    clip_norm: float | None = None
    noise_multiplier: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        positive = {"rounds": self.rounds, "local_epochs": self.local_epochs}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidJob(name, value, "must be an integer of at least 1")
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int) or self.batch_size < 1
        ):
            raise InvalidJob("batch_size", self.batch_size, "must be None or at least 1")
        if not (isinstance(self.learning_rate, int | float) and self.learning_rate > 0):
            raise InvalidJob("learning_rate", self.learning_rate, "must be positive")
        if self.num_shares < 3:
            raise InvalidJob("num_shares", self.num_shares, "SecAgg+ needs at least 3")
        if not 2 <= self.reconstruction_threshold < self.num_shares:
            raise InvalidJob(
                "reconstruction_threshold",
                self.reconstruction_threshold,
                f"must be at least 2 and below num_shares ({self.num_shares})",
            )
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise InvalidJob("clip_norm", self.clip_norm, "must be positive or None")
        if self.noise_multiplier is not None:
            if not self.noise_multiplier >= 0:
                raise InvalidJob("noise_multiplier", self.noise_multiplier, "must be >= 0")
            if self.clip_norm is None:
                raise InvalidJob(
                    "noise_multiplier", self.noise_multiplier, "needs clip_norm (noise scale)"
                )

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TrainParams:
        """Parse :meth:`to_json`'s output."""
        try:
            return cls(**loads(text))  # troika._json: nesting bounded
        except (TypeError, json.JSONDecodeError) as exc:
            raise InvalidJob("params", text, f"not TrainParams JSON ({exc})") from exc

    def digest(self) -> str:
        """Hex sha256 of :meth:`to_json`: the job's on-chain ``paramsDigest``."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


@dataclass(frozen=True)
class RoundMetrics:
    """One round, as the coordinator saw it.

    Attributes:
        round: 1-based.
        accuracy: Example-weighted accuracy, on the nodes' own data, of the
            model the round *started* from (averaged under the same SecAgg+
            masks as the update, so no node's own figure is revealed).
        loss: Likewise, the mean log loss.
        bytes_sent: Message bytes (both ways, all nodes) in this round; None
            where not measured (the deployment runtime).
    """

    round: int
    accuracy: float
    loss: float
    bytes_sent: int | None = None


@dataclass(frozen=True)
class TrainResult:
    """What a training job produced.

    Attributes:
        model: The final global model.
        digest: ``model.digest()``.
        rounds: Per-round metrics.
        node_digests: Digest of the final model each node reports it received
            (by Flower node id); every one equals ``digest`` on success.
        seconds: Wall time of the run.
    """

    model: Model
    digest: str
    rounds: tuple[RoundMetrics, ...]
    node_digests: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# -- shards -------------------------------------------------------------------


def _check_shards(shards: Sequence[Shard]) -> list[tuple[np.ndarray, np.ndarray]]:
    if len(shards) < 3:
        raise InvalidJob("shards", len(shards), "SecAgg+ needs at least 3 data owners")
    checked = []
    width = None
    for index, (x, y) in enumerate(shards):
        features = np.asarray(x, dtype=np.float64)
        labels = np.asarray(y, dtype=np.float64).reshape(-1)
        if features.ndim != 2 or features.shape[0] != labels.shape[0] or not labels.size:
            raise InvalidJob(f"shards[{index}]", features.shape, "need x (n, d) and n labels")
        if width is not None and features.shape[1] != width:
            raise InvalidJob(f"shards[{index}]", features.shape, f"expected {width} features")
        width = features.shape[1]
        checked.append((features, labels))
    return checked


def write_shard(path: Path, x: npt.ArrayLike, y: npt.ArrayLike) -> Path:
    """Write one owner's shard as ``.npz`` (``X``, ``y``) for a node to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        np.savez(stream, X=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.float64))
    return path


# -- the in-process runtime -------------------------------------------------------


def _run_config(
    params: TrainParams, model: Model, mode: str, nodes: int, timeout: float
) -> dict[str, Any]:
    from . import _flower_app as app

    return {
        app.RUN_PARAMS: params.to_json(),
        app.RUN_MODEL: base64.b64encode(model.to_bytes()).decode(),
        app.RUN_MODE: mode,
        app.RUN_NODES: nodes,
        app.RUN_TIMEOUT: float(timeout),
    }


def _run_in_process(
    run_config: dict[str, Any], node_configs: list[dict[str, Any]], timeout: float
) -> tuple[dict[str, Any], dict[str, int]]:
    """Run the ServerApp against one in-memory LinkState; ClientApps in threads.

    Flower's own ``run_simulation`` needs Ray for its only backend; this is the
    same machinery (LinkState, InMemoryGrid, Contexts per node) with the
    ClientApp called directly, and fast polls so that a round costs compute,
    not sleeps. Returns the ServerApp's result and the bytes per round.
    """
    import secrets
    from concurrent.futures import ThreadPoolExecutor

    from flwr.app import Context, Message, RecordDict
    from flwr.app.error import Error
    from flwr.common.constant import (
        HEARTBEAT_INTERVAL_INF,
        NOOP_ACCOUNT_NAME,
        NOOP_FLWR_AID,
        SUPERLINK_NODE_ID,
        ErrorCode,
    )
    from flwr.proto.task_pb2 import Task
    from flwr.server.superlink.linkstate import InMemoryLinkState, LinkStateFactory
    from flwr.server.superlink.linkstate.in_memory_linkstate import RunRecord
    from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID
    from flwr.supercore.object_store import ObjectStoreFactory
    from flwr.supercore.run import Run
    from flwr.supercore.task_identity import TaskIdentity
    from flwr.superlink.federation import NoOpFederationManager
    from flwr.superlink.grid import InMemoryGrid

    from . import _flower_app as app

    bytes_per_round: dict[str, int] = {}
    lock = threading.Lock()

    def meter(_node: int, group: str, size_in: int, size_out: int) -> None:
        with lock:
            bytes_per_round[group] = bytes_per_round.get(group, 0) + size_in + size_out

    client_app = app.make_client_app(meter)
    factory = LinkStateFactory(
        FLWR_IN_MEMORY_DB_NAME, NoOpFederationManager(), ObjectStoreFactory()
    )
    state = factory.state()
    assert isinstance(state, InMemoryLinkState)
    run_id, task_id = secrets.randbits(63), secrets.randbits(63)
    run = Run.create_empty(run_id=run_id)
    run.primary_task_id = task_id
    run.federation_id = NOOP_FEDERATION_ID
    state.run_ids[run_id] = RunRecord(run=run)
    state.task_store[task_id] = Task(task_id=task_id, run_id=run_id)
    # Flower stamps every Message with this process-wide identity (as its
    # run_simulation does); _IN_PROCESS keeps in-process runs one at a time.
    TaskIdentity.task_id, TaskIdentity.run_id = task_id, run_id
    TaskIdentity.node_id = SUPERLINK_NODE_ID
    contexts = {}
    for node_config in node_configs:
        node_id = state.create_node(
            NOOP_FLWR_AID, NOOP_ACCOUNT_NAME, secrets.token_bytes(32), HEARTBEAT_INTERVAL_INF
        )
        state.acknowledge_node_heartbeat(node_id, HEARTBEAT_INTERVAL_INF)
        contexts[node_id] = Context(
            run_id=run_id,
            node_id=node_id,
            node_config=node_config,
            state=RecordDict(),
            run_config=dict(run_config),  # as a SuperNode's ClientApp sees its run's config
        )
    grid = InMemoryGrid(state_factory=factory, pull_interval=0.002)
    grid.set_run(run)
    server_context = Context(
        run_id=run_id, node_id=0, node_config={}, state=RecordDict(), run_config=run_config
    )
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def serve() -> None:
        try:
            outcome["result"] = app.run_job(grid, server_context)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    def handle(message: Message) -> None:
        node_id = message.metadata.dst_node_id
        try:
            # A SuperNode gets its own deserialized copy; in memory, Flower's
            # workflows may hand every node the same RecordDict (SecAgg+ does).
            reply = client_app(message=copy.deepcopy(message), context=contexts[node_id])
        except Exception as exc:  # a node's failure is an error reply, as on a SuperNode
            reason = f"{type(exc).__name__}: {exc}"
            reply = Message(
                Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason), reply_to=message
            )
        # As Flower's simulation worker does: a reply needs an id before it is stored.
        reply.metadata.__dict__["_message_id"] = str(uuid.uuid4())
        state.store_message_res(reply)

    server = threading.Thread(target=serve, name="troika-serverapp", daemon=True)
    server.start()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=len(contexts), thread_name_prefix="troika-node") as pool:
        while not done.is_set():
            idle = True
            for node_id in contexts:
                for message in state.get_message_ins(node_id=node_id, limit=1):
                    idle = False
                    pool.submit(handle, message)
            if time.monotonic() > deadline:
                break
            if idle:
                done.wait(0.002)
    server.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    if "error" in outcome:
        raise outcome["error"]
    if "result" not in outcome:
        raise TimeoutError(f"the job did not finish within {timeout} s")
    return outcome["result"], bytes_per_round


_IN_PROCESS = threading.Lock()


@contextlib.contextmanager
def _quiet_flower() -> Iterator[None]:
    """Flower logs every stage at INFO; in-process runs keep its warnings only."""
    import logging

    logger = logging.getLogger("flwr")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _simulate(
    shards: list[tuple[np.ndarray, np.ndarray]],
    run_config: dict[str, Any],
    timeout: float,
    fail_nodes: Sequence[int] = (),
) -> tuple[dict[str, Any], dict[str, int]]:
    from . import _flower_app as app

    with tempfile.TemporaryDirectory(prefix="troika-fl-") as scratch:
        folder = Path(scratch)
        node_configs = []
        for index, (x, y) in enumerate(shards):
            shard = folder / f"shard-{index}.npz"
            if index not in fail_nodes:
                write_shard(shard, x, y)
            node_configs.append(
                {app.NODE_SHARD: str(shard), app.NODE_RECEIPT: str(folder / f"receipt-{index}")}
            )
        with _IN_PROCESS, _quiet_flower():
            return _run_in_process(run_config, node_configs, timeout)


@contextlib.contextmanager
def _job(job_id: int | None) -> Iterator[None]:
    """Translate a failed run into JobFailed, once, here."""
    from . import _flower_app as app

    try:
        yield
    except JobFailed as exc:
        if exc.job_id is not None or job_id is None:
            raise
        raise JobFailed(job_id, exc.reason) from exc
    except (app.JobHalted, TimeoutError, RuntimeError, OSError, ValueError) as exc:
        if isinstance(exc, InvalidJob):
            raise
        raise JobFailed(job_id, f"{type(exc).__name__}: {exc}") from exc


def _train_result(result: dict[str, Any], bytes_per_round: Mapping[str, int]) -> TrainResult:
    model = model_from_bytes(base64.b64decode(result["model"]))
    rounds = tuple(
        RoundMetrics(
            round=int(r["round"]),
            accuracy=float(r["accuracy"]),
            loss=float(r["loss"]),
            bytes_sent=bytes_per_round.get(str(r["round"])) if bytes_per_round else None,
        )
        for r in result["rounds"]
    )
    return TrainResult(
        model=model,
        digest=model.digest(),
        rounds=rounds,
        node_digests=dict(result["node_digests"]),
        seconds=float(result["seconds"]),
    )


def train_federated(
    shards: Sequence[Shard],
    params: TrainParams,
    *,
    model: Model | None = None,
    runtime: Literal["simulation", "deployment"] = "simulation",
    deployment: FlowerDeployment | None = None,
    job_id: int | None = None,
    timeout: float = 300.0,
) -> TrainResult:
    """Train a model across data owners' shards with Flower (SecAgg+ by default).

    Args:
        shards: One ``(x, y)`` per data owner (at least 3), labels in {0, 1}. In
            the simulation runtime they are handed to the nodes in-process; for
            ``"deployment"`` pass ``()``: each SuperNode reads its own shard.
        params: The job's parameters.
        model: The starting model (a :class:`LogisticRegressionModel` or an
            :class:`MLPModel`); default ``LogisticRegressionModel.init(d, params.seed)``.
        runtime: ``"simulation"`` (every node in this process) or ``"deployment"``.
        deployment: The running :class:`FlowerDeployment`, for ``"deployment"``.
        job_id: The on-chain job, named in errors.
        timeout: Bound on waiting for nodes and on each SecAgg+ stage; the whole
            run is bounded by it too (simulation) or by ``deployment.run_timeout``.

    Returns:
        The final model, its digest, per-round metrics and what the nodes received.

    Raises:
        InvalidJob: Bad shards or parameters.
        JobFailed: The run failed: too few nodes, SecAgg+ halted, a node failed
            (plain FedAvg), or it did not finish in time.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> x, y = load_breast_cancer(return_X_y=True)
        >>> x = (x - x.mean(0)) / x.std(0)  # fine for an example; owners can't pool
        >>> shards = [(x[i::3], y[i::3]) for i in range(3)]
        >>> result = train_federated(shards, TrainParams(rounds=3))
        >>> result.model.evaluate(x, y)["accuracy"] > 0.95
        True
        >>> set(result.node_digests.values()) == {result.digest}
        True
    """
    if runtime == "deployment":
        if deployment is None:
            raise InvalidJob("deployment", None, "the deployment runtime needs a FlowerDeployment")
        if model is None:
            raise InvalidJob("model", None, "pass the starting model to a deployment run")
        run_config = _run_config(params, model, "train", deployment.nodes, timeout)
        with _job(job_id):
            result = deployment.run(run_config)
        return _train_result(result, {})
    if runtime != "simulation":
        raise InvalidJob("runtime", runtime, "expected 'simulation' or 'deployment'")
    checked = _check_shards(shards)
    if model is None:
        model = LogisticRegressionModel.init(checked[0][0].shape[1], params.seed)
    elif model.n_features != checked[0][0].shape[1]:
        raise InvalidJob("model", model.spec, f"the shards have {checked[0][0].shape[1]} features")
    run_config = _run_config(params, model, "train", len(checked), timeout)
    with _job(job_id):
        result, sizes = _simulate(checked, run_config, timeout)
    return _train_result(result, sizes)


def evaluate_federated(
    shards: Sequence[Shard],
    model: Model,
    *,
    secure: bool = True,
    runtime: Literal["simulation", "deployment"] = "simulation",
    deployment: FlowerDeployment | None = None,
    job_id: int | None = None,
    timeout: float = 300.0,
) -> dict[str, float]:
    """A model's accuracy and loss over every owner's data, computed locally.

    Each node evaluates ``model`` on its own shard; the example-weighted means
    are aggregated through SecAgg+ when ``secure`` (the coordinator learns the
    totals only), else in the clear.

    Args:
        shards: One ``(x, y)`` per owner (``()`` for ``"deployment"``).
        model: The model to evaluate.
        secure: Aggregate under SecAgg+.
        runtime: ``"simulation"`` or ``"deployment"``.
        deployment: The running :class:`FlowerDeployment`, for ``"deployment"``.
        job_id: The on-chain job, named in errors.
        timeout: As for :func:`train_federated`.

    Returns:
        ``{"accuracy": ..., "loss": ...}``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0, 0, 1, 1])
        >>> model = LogisticRegressionModel(np.array([1.0]), 0.0)
        >>> metrics = evaluate_federated([(x, y), (x[:2], y[:2]), (x[2:], y[2:])], model)
        >>> round(metrics["accuracy"], 2)  # SecAgg+ quantizes (see the module docs)
        1.0
    """
    params = TrainParams(rounds=1, secure=secure)
    if runtime == "deployment":
        if deployment is None:
            raise InvalidJob("deployment", None, "the deployment runtime needs a FlowerDeployment")
        run_config = _run_config(params, model, "evaluate", deployment.nodes, timeout)
        with _job(job_id):
            result = deployment.run(run_config)
    else:
        checked = _check_shards(shards)
        run_config = _run_config(params, model, "evaluate", len(checked), timeout)
        with _job(job_id):
            result, _ = _simulate(checked, run_config, timeout)
    (only,) = result["rounds"]
    return {"accuracy": float(only["accuracy"]), "loss": float(only["loss"])}


# -- the deployment runtime ------------------------------------------------------

_APP_MODULE = '''"""troika's federated job: Flower loads these two names (the code is troika's)."""
from troika.compute._flower_app import client_app, server_app

__all__ = ["client_app", "server_app"]
'''

_APP_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "troikajob"
version = "1.0.0"
description = "troika federated job"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "troika"

[tool.flwr.app.components]
serverapp = "troikajob.app:server_app"
clientapp = "troikajob.app:client_app"

[tool.flwr.app.config]
{config}
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise JobFailed(None, f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.1)
    raise JobFailed(None, f"nothing listened on {host}:{port} within {timeout} s")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


#: Secrets of troika's own that Flower's processes never see (``/proc/<pid>/environ``).
_SECRET_ENV = ("TROIKA_KEY_PASSWORD", "TROIKA_PINNING_TOKEN")


class _Processes(Closing):
    """Flower's processes started with troika's environment (less its secrets),
    logs in :attr:`folder`, stopped together (each in its own session, so its
    helpers stop with it)."""

    def __init__(self, folder: Path | None) -> None:
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.folder = Path(folder) if folder is not None else Path()
        self._given_folder = folder is not None
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []
        self._log_of: dict[int, Any] = {}  # by process id

    def _open_folder(self) -> None:
        if not self._given_folder:
            self._scratch = tempfile.TemporaryDirectory(prefix="troika-flower-")
            self.folder = Path(self._scratch.name)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _bin(self, name: str) -> str:
        found = Path(sys.executable).parent / name
        return str(found) if found.exists() else (shutil.which(name) or name)

    def _env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _SECRET_ENV}
        # Flower starts its helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["FLWR_HOME"] = str(self.folder / "flwr-home")
        env["FLWR_TELEMETRY_ENABLED"] = "0"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        self._logs.append(log)
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            cwd=self.folder,
            start_new_session=True,
        )
        self._processes.append(process)
        self._log_of[process.pid] = log
        return process

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s) and close the logs."""
        for process in reversed(self._processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self._processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        self._log_of.clear()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


class FlowerDeployment(_Processes):
    """A SuperLink, and optionally one SuperNode per shard file, as processes.

    Without shard files it is the coordinator's side of a deployment whose
    SuperNodes run at the data owners (each started by its
    :class:`~troika.compute.Node`, see :class:`SuperNode`): give the owners
    :attr:`address`. With shard files (tests, benchmarks) it starts a SuperNode
    per shard on loopback, each given only its own shard's path (and where to
    write its receipt) through ``--node-config``; a node may insist on SecAgg+.
    Runs are submitted with ``flwr run`` against the SuperLink's Control API,
    from an app folder written here whose module re-exports troika's ServerApp
    and ClientApp; the SuperLink runs without installing dependencies (troika's
    environment). Everything is stopped, and logs kept in :attr:`folder`, on exit.

    Args:
        shard_paths: One ``.npz`` shard (``X``, ``y``) per node; see :func:`write_shard`.
        folder: Where logs and receipts go, and each run's own folder
            (0700, removed when the run ends); a temporary folder if None.
        start_nodes: How many of the SuperNodes to start (default: all); fewer
            lets a test show that a missing node fails the job.
        require_secure: Nodes refuse to train outside SecAgg+.
        run_timeout: Bound on one run, from submission to result.
        host: Where the SuperLink listens: loopback by default; ``0.0.0.0``
            (with ``certificates``) for SuperNodes on other machines.
        port: The SuperLink's port (one HTTP port for the Fleet and Control
            APIs in Flower 1.42); a free one if None.
        certificates: TLS: the CA certificate, the SuperLink's certificate and
            its key (PEM files); insecure (plain HTTP) if None, on loopback only.

    Raises:
        ConfigError: a ``host`` other than loopback without ``certificates``.

    Example:
        ``with FlowerDeployment(paths) as fleet: train_federated((), params,
        model=m, runtime="deployment", deployment=fleet)``; for a coordinator:
        ``with FlowerDeployment() as link: Coordinator(jobs, assets,
        runtime="deployment", deployment=link).run(job_id)``
    """

    def __init__(
        self,
        shard_paths: Sequence[Path] = (),
        *,
        folder: Path | None = None,
        start_nodes: int | None = None,
        require_secure: bool = False,
        run_timeout: float = 300.0,
        host: str = "127.0.0.1",
        port: int | None = None,
        certificates: tuple[Path, Path, Path] | None = None,
    ) -> None:
        if certificates is None and not _loopback(host):
            raise ConfigError("host", host, "a SuperLink beyond loopback needs certificates (TLS)")
        super().__init__(folder)
        self.shard_paths = [Path(p).resolve() for p in shard_paths]
        self.nodes = len(self.shard_paths)
        self.start_nodes = self.nodes if start_nodes is None else start_nodes
        self.require_secure = require_secure
        self.run_timeout = run_timeout
        self.host = host
        self.port = port or 0
        self.certificates = certificates

    @property
    def address(self) -> str:
        """``host:port``, the SuperLink's address for SuperNodes (``[flower] superlink``);
        for a SuperLink on ``0.0.0.0``, the owners use this machine's name and :attr:`port`."""
        return f"{self.host}:{self.port}"

    @property
    def receipts(self) -> list[Path]:
        """Where each node writes the digest of the final model it received."""
        return [self.folder / f"node-{i}" / "receipt.json" for i in range(self.nodes)]

    def __enter__(self) -> FlowerDeployment:
        self._open_folder()
        try:
            self.port = self.port or _free_port()
            if self.certificates is None:
                security = ["--insecure"]
            else:
                ca, cert, key = self.certificates
                security = [
                    "--ssl-ca-certfile", str(ca), "--ssl-certfile", str(cert),
                    "--ssl-keyfile", str(key),
                ]  # fmt: skip
            link = self._start(
                "superlink",
                [
                    self._bin("flower-superlink"),
                    *security,
                    "--disable-runtime-dependency-installation",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ],
            )
            local = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
            _wait_port(local, self.port, link, 60)
            home = self.folder / "flwr-home"
            home.mkdir(exist_ok=True)
            trust = (
                "insecure = true"
                if self.certificates is None
                else f"root-certificates = {json.dumps(str(self.certificates[0]))}"
            )
            (home / "config.toml").write_text(
                '[superlink]\ndefault = "troika"\n\n[superlink.troika]\n'
                f'address = "{local}:{self.port}"\n{trust}\n'
            )
            for index in range(self.start_nodes):
                node_folder = self.folder / f"node-{index}"
                node_folder.mkdir(exist_ok=True)
                config = (
                    f'troika-shard="{self.shard_paths[index]}" '
                    f'troika-receipt="{self.receipts[index]}"'
                )
                if self.require_secure:
                    config += " troika-require-secure=true"
                self._start(
                    f"supernode-{index}",
                    [
                        self._bin("flower-supernode"),
                        "--insecure",
                        "--superlink",
                        f"127.0.0.1:{self.port}",
                        "--port",
                        str(_free_port()),
                        "--node-config",
                        config,
                    ],
                )
        except BaseException:
            self.close()
            raise
        return self

    def log(self, name: str = "superlink") -> str:
        """The captured output of ``superlink`` or ``supernode-<i>``."""
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def _flwr(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [self._bin("flwr"), *args],
            capture_output=True,
            env=self._env(),
            cwd=self.folder,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise JobFailed(
                None,
                f"flwr {' '.join(args[:1])} failed: {done.stdout.decode()[-2000:]}"
                f"{done.stderr.decode()[-2000:]}",
            )
        return done.stdout.decode()

    def run(
        self,
        run_config: dict[str, Any],
        *,
        deliver: Callable[[dict[str, Any]], tuple[bytes, bytes]] | None = None,
    ) -> dict[str, Any]:
        """Submit one run with ``flwr run`` and wait (bounded) for its result.

        The starting model reaches Flower through a 0600 run-config file,
        deleted as soon as ``flwr run`` returns; the trained model and the
        documents the ServerApp and this process exchange are sealed under a
        key of the run's own; the run's folder is removed when it ends.

        Args:
            run_config: The ``troika-*`` run config (see ``_flower_app``).
            deliver: Called with the trained model (the ServerApp's result
                before the final round) to make the job's result and report
                documents; the ServerApp sends them to every node with the
                final model, so that each node can check and confirm them.
        """
        from . import _flower_app as app

        # Named by job and a random suffix: a coordinator restarted on the same
        # folder starts no run where an old one was. Owner-only (0700), and
        # removed as soon as the run ends, whatever its outcome.
        job = self.folder / f"run-{run_config.get(app.RUN_JOB, 'local')}-{uuid.uuid4().hex[:12]}"
        job.mkdir(mode=0o700, parents=True)
        job.chmod(0o700)  # whatever the umask
        try:
            return self._run(job, run_config, deliver)
        finally:
            shutil.rmtree(job, ignore_errors=True)

    def _run(
        self,
        job: Path,
        run_config: dict[str, Any],
        deliver: Callable[[dict[str, Any]], tuple[bytes, bytes]] | None,
    ) -> dict[str, Any]:
        from troika.assets._crypto import new_content_key

        from . import _flower_app as app

        package = job / "app" / "troikajob"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "app.py").write_text(_APP_MODULE)
        result_dir = job / "result"
        result_dir.mkdir(mode=0o700)
        key = new_content_key()  # seals the files the ServerApp and this process share
        config = {**run_config, app.RUN_RESULT: str(result_dir)}
        if deliver is not None:
            config[app.RUN_DELIVER] = True
        # The secrets (the starting model, decrypted from the requester's
        # licence, and the run's key) go in an override file, not in the app's
        # defaults: those are packed into the FAB that Flower installs under
        # flwr-home; the override stays in the SuperLink's memory.
        secret = {app.RUN_MODEL: str(config[app.RUN_MODEL]), app.RUN_SEAL: _b64(key)}
        config |= dict.fromkeys(secret, "")
        lines = "\n".join(f"{k} = {_toml_value(v)}" for k, v in config.items())
        (job / "app" / "pyproject.toml").write_text(_APP_PYPROJECT.format(config=lines))
        overrides = job / "run-config.toml"
        descriptor = os.open(overrides, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(f"{k} = {_toml_value(v)}" for k, v in secret.items()) + "\n")
        try:
            out = self._flwr(
                "run", str(job / "app"), "troika", "--run-config", str(overrides),
                "--format", "json",
            )  # fmt: skip
        finally:  # the SuperLink holds the run now
            overrides.unlink(missing_ok=True)
            shutil.rmtree(job / "app", ignore_errors=True)
        submitted = json.loads(out[out.index("{") :]) if "{" in out else {}
        if "run-id" not in submitted:  # `flwr run --format json` exits 0 on its errors too
            raise JobFailed(None, f"flwr run failed: {submitted.get('error-message', out)}")
        run_id = submitted["run-id"]
        deadline = time.monotonic() + self.run_timeout
        result_file = result_dir / app.RESULT_FILE
        trained_file, documents_file = (
            result_dir / app.TRAINED_FILE,
            result_dir / app.DOCUMENTS_FILE,
        )
        checked = time.monotonic()
        while time.monotonic() < deadline:
            if result_file.exists():
                result = app.read_result(result_file, key)
                if result["status"] != "ok":
                    raise JobFailed(None, f"run {run_id}: {result['reason']}")
                return result
            if deliver is not None and trained_file.exists() and not documents_file.exists():
                try:
                    result_bytes, report_bytes = deliver(app.read_result(trained_file, key))
                except BaseException as exc:  # the ServerApp stops waiting, and halts
                    failed = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
                    app._write_result(str(result_dir), failed, app.DOCUMENTS_FILE, key)
                    raise
                finally:  # the trained model: in this process's memory only from now
                    trained_file.unlink(missing_ok=True)
                documents = {
                    "status": "ok",
                    "result": base64.b64encode(result_bytes).decode(),
                    "report": base64.b64encode(report_bytes).decode(),
                }
                app._write_result(str(result_dir), documents, app.DOCUMENTS_FILE, key)
            # `flwr ls` is a process that imports Flower: ask it now and then only
            if time.monotonic() - checked > 5.0:
                checked = time.monotonic()
                if self._run_failed(run_id):
                    raise JobFailed(None, f"run {run_id} failed; see {self.folder}/superlink.log")
            time.sleep(0.2)
        with contextlib.suppress(JobFailed, subprocess.TimeoutExpired):
            self._flwr("stop", str(run_id), "troika", timeout=30)
        raise JobFailed(None, f"run {run_id} did not finish within {self.run_timeout} s")

    def _run_failed(self, run_id: str) -> bool:
        try:
            out = self._flwr("ls", "--run-id", str(run_id), "troika", "--format", "json")
        except (JobFailed, subprocess.TimeoutExpired):
            return False
        return '"finished:failed"' in out or '"finished:stopped"' in out


class SuperNode(_Processes):
    """A data owner's Flower SuperNode, connected to a coordinator's SuperLink.

    A :class:`~troika.compute.Node` starts one (see :meth:`Node.supernode
    <troika.compute.Node.supernode>`) with the path of the node's file: the
    ClientApp it starts for each message reads that file to learn the node's
    state (which jobs it accepted on chain, for which dataset) and its
    datasets' local CSVs, and writes, per job, the digest of the final model it
    received and the result documents the coordinator sent with it.

    Args:
        superlink: The coordinator's SuperLink, ``host:port``.
        node_file: The node's JSON file (see ``_flower_app.accepted_dataset``).
        folder: Where the SuperNode's log and Flower's home go.
        root_certificates: TLS: the CA certificate (PEM) that signed the
            SuperLink's; insecure (plain HTTP) if None, as on loopback.
        require_secure: Refuse to train outside SecAgg+.

    Example:
        ``with SuperNode("127.0.0.1:9092", node_file, folder): ...``
    """

    def __init__(
        self,
        superlink: str,
        node_file: Path,
        folder: Path,
        *,
        root_certificates: Path | None = None,
        require_secure: bool = False,
    ) -> None:
        super().__init__(folder)
        self.superlink = superlink
        self.node_file = Path(node_file)
        self.root_certificates = root_certificates
        self.require_secure = require_secure
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SuperNode:
        self._open_folder()
        try:
            self._launch()
        except BaseException:
            self.close()
            raise
        return self

    def _launch(self) -> None:
        config = f'troika-node="{self.node_file.resolve()}"'
        if self.require_secure:
            config += " troika-require-secure=true"
        security = (
            ["--insecure"]
            if self.root_certificates is None
            else ["--root-certificates", str(self.root_certificates)]
        )
        self.process = self._start(
            "supernode",
            [
                self._bin("flower-supernode"),
                *security,
                "--superlink",
                self.superlink,
                "--port",
                str(_free_port()),
                "--node-config",
                config,
            ],
        )

    def ensure_running(self) -> int | None:
        """Start the SuperNode again if it exited; the exit code it had, or None
        if it was running. (Its log is appended to, not replaced.)"""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self._processes.remove(self.process)
        log = self._log_of.pop(self.process.pid)  # the dead process's: not one fd per restart
        self._logs.remove(log)
        log.close()
        self._launch()
        return code

    def log(self) -> str:
        """The SuperNode's captured output."""
        return (self.folder / "supernode.log").read_text(errors="replace")
