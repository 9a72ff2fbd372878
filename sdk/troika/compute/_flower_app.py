"""troika's Flower app: the ServerApp and ClientApp that run a federated job.

The same two apps run in both runtimes: in-process (``_federated``'s simulation
runner) and on Flower's deployment engine, where a SuperLink starts the
ServerApp and each SuperNode starts the ClientApp from a tiny app folder whose
module only re-exports :data:`server_app` and :data:`client_app` from here.

Everything a run needs travels as data:

- the run config (``troika-*`` keys below): the job's :class:`TrainParams` as
  canonical JSON, the starting model's bytes (base64), the mode (``train`` or
  ``evaluate``), how many nodes must take part, a per-stage timeout, and the
  folder where the ServerApp writes ``result.json``;
- each node's own config (``--node-config``): either the path of *its* shard
  (``.npz`` with ``X`` and ``y``) and where to write its receipt (the digest of
  the final model it received), or, on a data owner's :class:`~._node.Node`,
  the path of the node's file (``troika-node``, see :func:`accepted_dataset`);
  and whether it insists on SecAgg+.

A node's ClientApp takes part only in on-chain jobs its node accepted: the run
config names the job (``troika-job``), and the ClientApp looks the job up in the
node's state file, refuses any other (every message, SecAgg+ stages included),
refuses a run whose parameters, label or starting weights differ from what the
node accepted, and reads only that dataset's local CSV. A job's ServerApp first
asks every connected node whether it takes part (a ``troika-ask`` query, which
only the nodes that accepted answer) and runs the job with those alone, so one
SuperLink can serve other nodes too. When the coordinator delivers the
job's result documents with the final model (``troika-deliver``), the ClientApp
hands them, with the digest of the model it received, to its node, which
checks them and confirms on chain.

Secure aggregation is Flower's SecAgg+ on the legacy strategy path (the only
one that has it in Flower 1.42): ``SecAggPlusWorkflow`` inside
``DefaultWorkflow``, a ``LegacyContext`` around a ``FedAvg``, and
``secaggplus_mod`` on the clients. Each node appends the metrics of the model
it received (accuracy and loss on its own data) to the parameters it uploads, so
those are averaged by examples under the same masks as the update.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import Context, Message
from flwr.client import Client, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import (
    EvaluateRes,
    FitRes,
    NDArrays,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.server import ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.compat import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState
from flwr.serverapp import Grid, ServerApp

from troika._json import loads
from troika.assets._crypto import decrypt_bytes, encrypt_bytes

from ._federated import TrainParams
from ._models import Model, model_from_arrays, model_from_bytes
from ._tables import features_and_labels

__all__ = ["accepted_dataset", "client_app", "make_client_app", "server_app"]

RUN_PARAMS = "troika-params"
RUN_MODEL = "troika-model"
RUN_MODE = "troika-mode"
RUN_NODES = "troika-nodes"
RUN_TIMEOUT = "troika-timeout"
RUN_RESULT = "troika-result"
RUN_JOB = "troika-job"
RUN_LABEL = "troika-label"
RUN_DELIVER = "troika-deliver"
#: A run's AES-256 key (base64), which seals the files of its ``troika-result`` folder.
RUN_SEAL = "troika-seal"
NODE_SHARD = "troika-shard"
NODE_RECEIPT = "troika-receipt"
NODE_REQUIRE_SECURE = "troika-require-secure"
NODE_FILE = "troika-node"
#: The query a ServerApp sends to learn which connected nodes take part in its job.
ASK = "troika-ask"

#: The files a deployment run's ServerApp and its coordinator share (``troika-result`` folder).
TRAINED_FILE, DOCUMENTS_FILE, RESULT_FILE = "trained.json", "documents.json", "result.json"

#: The job kinds on chain and the ServerApp's modes that run them.
_MODES = {"federated-train": "train", "evaluate": "evaluate"}

Meter = Callable[[int, str, int, int], None]
"""Called per message a node handles: (node id, round, bytes in, bytes out)."""


class JobHalted(RuntimeError):
    """A round could not be completed (too few nodes, SecAgg+ halted)."""


# -- client side ------------------------------------------------------------------


def _load_shard(path: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as shard:
        return np.asarray(shard["X"], dtype=np.float64), np.asarray(shard["y"], dtype=np.float64)


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([a.reshape(-1) for a in arrays])


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a ``.partial`` sibling, so readers never see half."""
    _write_bytes(path, text.encode())


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` (owner-only, 0600) through a ``.partial`` sibling."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    partial.replace(path)


def _dp_update(
    received: Model,
    trained: Model,
    clip_norm: float | None,
    noise_multiplier: float | None,
    num_nodes: int,
) -> Model:
    """Clip the update to ``clip_norm`` and add this node's share of Gaussian noise.

    Noise comes from the OS's entropy, never from the job's public seed: noise a
    coordinator can regenerate protects nothing.
    """
    if clip_norm is None:
        return trained
    arrays = received.to_arrays()
    start = _flat(arrays)
    update = _flat(trained.to_arrays()) - start
    norm = float(np.linalg.norm(update))
    if norm > clip_norm:
        update *= clip_norm / norm
    if noise_multiplier:
        std = noise_multiplier * clip_norm / np.sqrt(num_nodes)
        update += np.random.default_rng().normal(0.0, std, size=update.shape)
    new = start + update
    offsets = np.cumsum([0] + [a.size for a in arrays])
    arrays = [
        new[lo:hi].reshape(a.shape)
        for lo, hi, a in zip(offsets[:-1], offsets[1:], arrays, strict=True)
    ]
    return model_from_arrays(received.spec, arrays)


def accepted_dataset(node_file: str, run_config: Mapping[str, Any]) -> tuple[int, Path, str]:
    """The dataset a node accepted on chain for the run's job: its id, its
    local data and its label column.

    ``node_file`` is the JSON a :class:`~._node.Node` writes when it starts its
    SuperNode: ``{"state": <the node's state file>, "datasets": {id: <CSV>},
    "folder": <where the ClientApp writes receipts>}``. The state file holds the
    node's decisions (``"<job>:<dataset>"``), each accepted one with the spec it
    accepted (kind, label, parameters) and the checksum of the model token's
    weights (``sha256:...`` from its metadata, committed to on chain).

    Raises:
        PermissionError: the run names no job, a job the node did not accept,
            or parameters, a mode, a label or a starting model other than the
            accepted job's.
    """
    job = run_config.get(RUN_JOB)
    if job is None:
        raise PermissionError("this node takes part only in on-chain jobs; the run names none")
    job = int(job)
    node = json.loads(Path(node_file).read_text(encoding="utf-8"))
    state_path = Path(node["state"])
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
    accepted = [
        (int(dataset), entry.get("spec") or {})
        for key, entry in state.get("decisions", {}).items()
        for job_key, dataset in [key.split(":")]
        if int(job_key) == job and entry.get("accepted") and dataset in node["datasets"]
    ]
    if not accepted:
        raise PermissionError(f"this node has not accepted job {job}")
    if len(accepted) > 1:
        raise PermissionError(
            f"this node accepted job {job} for several datasets; "
            "a deployment needs one SuperNode per dataset"
        )
    (dataset, spec), mode = accepted[0], str(run_config.get(RUN_MODE))
    if _MODES.get(str(spec.get("kind"))) != mode:
        raise PermissionError(f"job {job} is a {spec.get('kind')!r} job, not a {mode!r} run")
    label = str(run_config.get(RUN_LABEL))
    if label != spec.get("label"):
        raise PermissionError(f"job {job}'s label is {spec.get('label')!r}, not {label!r}")
    params = TrainParams.from_json(str(run_config[RUN_PARAMS]))
    if mode == "train":
        expected = TrainParams.from_json(json.dumps(spec.get("params", {})))
        if params != expected:
            raise PermissionError(f"the run's parameters are not job {job}'s: {params}")
    elif not params.secure or params.rounds != 1:
        raise PermissionError(f"an evaluation of job {job} runs once under SecAgg+: {params}")
    checksum = spec.get("model_checksum")
    if checksum is not None:
        weights = base64.b64decode(str(run_config[RUN_MODEL]))
        if f"sha256:{hashlib.sha256(weights).hexdigest()}" != checksum:
            raise PermissionError(f"the run's model is not job {job}'s model token ({checksum})")
    return dataset, Path(node["datasets"][str(dataset)]), label


def _only_accepted_jobs(msg: Message, context: Context, call_next: Any) -> Message:
    """On a node's SuperNode, every message of a run its node did not accept is refused."""
    node_file = context.node_config.get(NODE_FILE)
    if node_file:
        accepted_dataset(str(node_file), context.run_config)
    result: Message = call_next(msg, context)
    return result


def _answer_asks(msg: Message, context: Context, call_next: Any) -> Message:
    """Answer the ServerApp's question whether this node takes part in the run's
    job: reaching here, :func:`_only_accepted_jobs` let the run through."""
    from flwr.app import ConfigRecord, RecordDict
    from flwr.common import MessageType

    if (
        msg.metadata.message_type == MessageType.QUERY
        and msg.has_content()
        and ASK in msg.content.config_records
    ):
        return Message(RecordDict({ASK: ConfigRecord({"accepted": True})}), reply_to=msg)
    result: Message = call_next(msg, context)
    return result


Loader = Callable[[], tuple[np.ndarray, np.ndarray]]


class _Owner(NumPyClient):
    """One data owner: reads only its own data, trains and evaluates locally."""

    def __init__(self, load: Loader, receipt: str | None) -> None:
        self.load = load
        self.receipt = receipt

    def fit(self, parameters: NDArrays, config: dict[str, Scalar]) -> tuple[NDArrays, int, Any]:
        x, y = self.load()
        received = model_from_arrays(loads(str(config["model-spec"])), parameters)
        before = received.evaluate(x, y)
        if config["troika-mode"] == "evaluate":
            return [np.array([before["accuracy"], before["loss"]])], len(y), {}
        batch = int(config["batch-size"])
        trained = received.train(
            x,
            y,
            epochs=int(config["local-epochs"]),
            learning_rate=float(config["learning-rate"]),
            batch_size=batch or None,
            seed=int(config["seed"]) + int(config["round"]),
        )
        clip = float(config["clip-norm"]) or None
        noise = float(config["noise-multiplier"]) or None
        sent = _dp_update(received, trained, clip, noise, int(config["num-nodes"]))
        measured = np.array([before["accuracy"], before["loss"]])
        return [*sent.to_arrays(), measured], len(y), {}

    def evaluate(
        self, parameters: NDArrays, config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        digest = model_from_arrays(loads(str(config["model-spec"])), parameters).digest()
        if self.receipt:
            receipt: dict[str, Any] = {"round": int(config["round"]), "digest": digest}
            # the coordinator's result documents, for the node to check and confirm
            for key in ("result", "report"):
                if f"troika-{key}" in config:
                    receipt[key] = str(config[f"troika-{key}"])
            _write_atomically(Path(self.receipt), json.dumps(receipt))
        return 0.0, 1, {"digest": digest}


def _client_fn(context: Context) -> Client:
    node_file = context.node_config.get(NODE_FILE)
    if node_file:
        dataset, data, label = accepted_dataset(str(node_file), context.run_config)
        folder = Path(json.loads(Path(str(node_file)).read_text(encoding="utf-8"))["folder"])
        job = int(context.run_config[RUN_JOB])
        owner = _Owner(
            lambda: features_and_labels(data, label, dataset), str(folder / f"job-{job}.json")
        )
    else:
        shard, receipt = str(context.node_config[NODE_SHARD]), context.node_config.get(NODE_RECEIPT)
        owner = _Owner(lambda: _load_shard(shard), str(receipt) if receipt else None)
    client: Client = owner.to_client()
    return client


def _is_secagg(msg: Message) -> bool:
    return msg.has_content() and (
        RECORD_KEY_CONFIGS in msg.content.config_records
        and Key.STAGE in msg.content.config_records[RECORD_KEY_CONFIGS]
    )


def _secagg_when_asked(msg: Message, context: Context, call_next: Any) -> Message:
    """SecAgg+ for the train messages that run it; a node may insist on it."""
    if msg.metadata.message_type.startswith("train"):
        if _is_secagg(msg):
            return secaggplus_mod(msg, context, call_next)
        if context.node_config.get(NODE_REQUIRE_SECURE):
            raise PermissionError("this node only trains under SecAgg+")
    result: Message = call_next(msg, context)
    return result


def _message_size(msg: Message) -> int:
    from flwr.common.serde import recorddict_to_proto

    if not msg.has_content():
        return 0
    return int(recorddict_to_proto(msg.content).ByteSize())


def make_client_app(meter: Meter | None = None) -> ClientApp:
    """The ClientApp; ``meter`` (simulation only) is told each message's size."""
    mods: list[Any] = [_only_accepted_jobs, _answer_asks, _secagg_when_asked]
    if meter is not None:

        def measure(msg: Message, context: Context, call_next: Any) -> Message:
            out: Message = call_next(msg, context)
            meter(
                msg.metadata.dst_node_id,
                msg.metadata.group_id,
                _message_size(msg),
                _message_size(out),
            )
            return out

        mods.insert(0, measure)
    return ClientApp(client_fn=_client_fn, mods=mods)


# -- server side ------------------------------------------------------------------


class _Strategy(FedAvg):
    """FedAvg that splits the securely averaged metrics off the parameters."""

    def __init__(
        self,
        params: TrainParams,
        model: Model,
        mode: str,
        nodes: int,
        deliver: Callable[[Model, list[dict[str, float]]], dict[str, str]] | None = None,
    ) -> None:
        self.params = params
        self.deliver = deliver
        self._delivery: dict[str, str] = {}
        self.mode = mode
        self.model = model
        self._spec = json.dumps(model.spec, sort_keys=True)
        self.rounds = params.rounds if mode == "train" else 1
        self.round_metrics: list[dict[str, float]] = []
        self.node_digests: dict[str, str] = {}
        self.completed = 0
        super().__init__(
            fraction_fit=1.0,
            fraction_evaluate=1.0 if mode == "train" or deliver else 0.0,
            min_fit_clients=nodes,
            min_evaluate_clients=nodes,
            min_available_clients=nodes,
            on_fit_config_fn=self._fit_config,
            on_evaluate_config_fn=lambda r: {
                "round": r,
                "model-spec": self._spec,
                **self._delivery,
            },
            fit_metrics_aggregation_fn=lambda _: {},
            accept_failures=params.secure,  # SecAgg+ itself decides what it can recover
            initial_parameters=ndarrays_to_parameters(model.to_arrays()),
        )
        self.nodes = nodes

    def _fit_config(self, server_round: int) -> dict[str, Scalar]:
        p = self.params
        return {
            "troika-mode": self.mode,
            "model-spec": self._spec,
            "round": server_round,
            "local-epochs": p.local_epochs,
            "learning-rate": p.learning_rate,
            "batch-size": p.batch_size or 0,
            "clip-norm": p.clip_norm or 0.0,
            "noise-multiplier": p.noise_multiplier or 0.0,
            "num-nodes": self.nodes,
            "seed": p.seed,
        }

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[Any],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        if not results or (failures and not self.params.secure):
            raise JobHalted(
                f"round {server_round}: {len(failures)} node(s) failed, {len(results)} answered"
            )
        # Replies arrive in any order and float sums are not associative: a
        # canonical order makes the same inputs give the same bytes (and digest).
        results = sorted(results, key=lambda r: (r[1].num_examples, r[1].parameters.tensors))
        aggregated, _ = super().aggregate_fit(server_round, results, failures)
        if aggregated is None:
            raise JobHalted(f"round {server_round}: nothing to aggregate")
        arrays = parameters_to_ndarrays(aggregated)
        accuracy, loss = (float(v) for v in np.asarray(arrays[-1]).reshape(-1)[:2])
        self.round_metrics.append({"round": server_round, "accuracy": accuracy, "loss": loss})
        self.completed = server_round
        if self.mode == "evaluate":
            return ndarrays_to_parameters(self.model.to_arrays()), {}
        self.model = model_from_arrays(self.model.spec, arrays[:-1])
        return ndarrays_to_parameters(self.model.to_arrays()), {}

    def _still_connected(self, server_round: int, client_manager: Any) -> None:
        """Flower's client manager would wait a day for a node that has gone
        (``sample`` waits for ``min_*_clients``): a job's nodes all take part."""
        connected = client_manager.num_available()
        if connected < self.nodes:
            raise JobHalted(
                f"round {server_round}: only {connected} of {self.nodes} nodes are still "
                "connected (a node dropped out)"
            )

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        self._still_connected(server_round, client_manager)
        return super().configure_fit(server_round, parameters, client_manager)

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: Any
    ) -> Any:
        if server_round != self.rounds:
            return []  # only the final model goes back to every node, for its receipt
        self._still_connected(server_round, client_manager)
        if self.deliver is not None:  # with the coordinator's result documents
            self._delivery = self.deliver(self.model, self.round_metrics)
        return super().configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(
        self, server_round: int, results: list[tuple[ClientProxy, EvaluateRes]], failures: list[Any]
    ) -> tuple[float | None, dict[str, Scalar]]:
        if failures:
            raise JobHalted(f"{len(failures)} node(s) did not acknowledge the final model")
        for proxy, res in results:
            self.node_digests[str(proxy.node_id)] = str(res.metrics["digest"])
        return None, {}


class _SecAggPlus(SecAggPlusWorkflow):
    """SecAgg+ that fails the job when a round halts, instead of skipping the round."""

    def __call__(self, grid: Grid, context: Context) -> None:
        assert isinstance(context, LegacyContext)
        state = WorkflowState()
        steps = (
            self.setup_stage,
            self.share_keys_stage,
            self.collect_masked_vectors_stage,
            self.unmask_stage,
        )
        config = context.state.config_records[MAIN_CONFIGS_RECORD]
        current = cast(int, config[WorkflowKey.CURRENT_ROUND])
        lost: list[str] = []  # which nodes each stage lost, and why: named when it halts
        for step in steps:
            asked, failed = set(state.active_node_ids), len(state.failures)
            halted = not step(grid, context, state)
            asked = asked or set(state.sampled_node_ids)  # the setup stage samples them
            errors = [str(error) for error in state.failures[failed:]]
            silent = len(asked - state.active_node_ids) - len(errors)
            if silent > 0:
                lost.append(f"{silent} sent nothing within {self.timeout} s in {step.__name__}")
            if errors:
                lost.append(f"{len(errors)} failed in {step.__name__} ({errors[0][:300]})")
            if halted:
                raise JobHalted(
                    f"round {current}: secure aggregation halted in {step.__name__} with "
                    f"{len(state.active_node_ids)} of {len(state.sampled_node_ids)} nodes "
                    f"active (threshold {state.threshold}); nodes lost: "
                    + ("; ".join(lost) or "none")
                )


def _wait_for_nodes(grid: Grid, nodes: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        connected = len(list(grid.get_node_ids()))
        if connected >= nodes:
            return
        if time.monotonic() > deadline:
            raise JobHalted(f"only {connected} of {nodes} nodes connected within {timeout} s")
        time.sleep(0.2)


class _OnlyNodes(Grid):
    """The grid as a job's workflows see it: only the nodes that take part in the job."""

    def __init__(self, grid: Grid, nodes: set[int]) -> None:
        self._grid, self._nodes = grid, nodes

    def set_run(self, run: Any) -> None:
        self._grid.set_run(run)

    @property
    def run(self) -> Any:
        return self._grid.run

    def create_message(
        self,
        content: Any,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> list[int]:
        return [node for node in self._grid.get_node_ids() if node in self._nodes]

    def push_messages(self, messages: Any) -> Any:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Any) -> Any:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> Any:
        return self._grid.send_and_receive(messages, timeout=timeout)


#: How often a node that said no (or nothing) is asked again: its node may
#: not have recorded its acceptance yet when first asked.
ASK_AGAIN = 2.0


def _taking_part(grid: Grid, job: int, nodes: int, timeout: float) -> set[int]:
    """Ask every connected node whether it takes part in ``job`` until
    ``nodes`` of them do (a SuperLink may serve other nodes too); a node that
    says no is asked again every :data:`ASK_AGAIN` seconds, until ``timeout``."""
    from flwr.app import ConfigRecord, RecordDict
    from flwr.common import MessageType

    deadline = time.monotonic() + timeout
    asked: dict[int, float] = {}  # node -> when last asked
    taking_part: set[int] = set()
    while True:
        now = time.monotonic()
        new = [
            node
            for node in grid.get_node_ids()
            if node not in taking_part and now - asked.get(node, -ASK_AGAIN) >= ASK_AGAIN
        ]
        if new:
            asks = [
                Message(
                    RecordDict({ASK: ConfigRecord({"job": job})}),
                    dst_node_id=node,
                    message_type=MessageType.QUERY,
                )
                for node in new
            ]
            wait = max(1.0, deadline - time.monotonic())
            for reply in grid.send_and_receive(asks, timeout=wait):
                if not reply.has_error() and reply.has_content():
                    taking_part.add(reply.metadata.src_node_id)
            asked.update(dict.fromkeys(new, now))
        if len(taking_part) > nodes:
            raise JobHalted(
                f"{len(taking_part)} nodes take part in job {job}, for {nodes} datasets"
            )
        if len(taking_part) == nodes:
            return taking_part
        if time.monotonic() > deadline:
            raise JobHalted(
                f"only {len(taking_part)} of {nodes} nodes accepted job {job} within {timeout} s "
                f"({len(asked)} asked)"
            )
        time.sleep(0.2)


def _write_result(
    folder: str, result: dict[str, Any], name: str = RESULT_FILE, key: bytes | None = None
) -> None:
    """Write one of the files a run shares with its coordinator: sealed
    (AES-256-GCM under ``key``) when the run has a key, and then only into the
    folder the coordinator made (gone: it stopped waiting)."""
    data = json.dumps(result, sort_keys=True).encode()
    if key is None:
        _write_bytes(Path(folder) / name, data)
    elif Path(folder).is_dir():
        _write_bytes(Path(folder) / name, encrypt_bytes(data, key))


def read_result(path: Path, key: bytes | None = None) -> dict[str, Any]:
    """A file :func:`_write_result` wrote (opened with ``key`` if sealed).

    Raises:
        DecryptionError: sealed under another key, or tampered with.
        ValueError: not a JSON object.
    """
    data = path.read_bytes()
    document = loads(decrypt_bytes(data, key) if key is not None else data)
    if not isinstance(document, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return document


def _seal_key(config: Mapping[str, Any]) -> bytes | None:
    sealed = str(config.get(RUN_SEAL) or "")
    return base64.b64decode(sealed) if sealed else None


def _deliver_through(
    folder: str, timeout: float, key: bytes | None = None
) -> Callable[[Model, list[dict[str, float]]], dict[str, str]]:
    """Hand the final model to the coordinator (``trained.json``) and wait,
    bounded, for the result documents it pins (``documents.json``)."""

    def deliver(model: Model, rounds: list[dict[str, float]]) -> dict[str, str]:
        trained = {
            "status": "ok",
            "model": base64.b64encode(model.to_bytes()).decode(),
            "rounds": rounds,
            "node_digests": {},
            "seconds": 0.0,
        }
        _write_result(folder, trained, TRAINED_FILE, key)
        path = Path(folder) / DOCUMENTS_FILE
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise JobHalted(f"the coordinator sent no result documents within {timeout} s")
            time.sleep(0.1)
        documents = read_result(path, key)
        if documents.get("status") != "ok":
            raise JobHalted(f"the coordinator failed: {documents.get('reason')}")
        return {
            "troika-result": str(documents["result"]),
            "troika-report": str(documents["report"]),
        }

    return deliver


def run_job(grid: Grid, context: Context) -> dict[str, Any]:
    """The ServerApp's body; returns (and writes, if asked) the job's result."""
    config = context.run_config
    params = TrainParams.from_json(str(config[RUN_PARAMS]))
    model = model_from_bytes(base64.b64decode(str(config[RUN_MODEL])))
    mode, nodes, timeout = str(config[RUN_MODE]), int(config[RUN_NODES]), float(config[RUN_TIMEOUT])
    deliver, key = None, _seal_key(config)
    if config.get(RUN_DELIVER) and config.get(RUN_RESULT):
        deliver = _deliver_through(str(config[RUN_RESULT]), timeout, key)
    strategy = _Strategy(params, model, mode, nodes, deliver)
    started = time.perf_counter()
    try:
        if config.get(RUN_JOB) is None:
            _wait_for_nodes(grid, nodes, timeout)
        else:  # only the nodes that accepted the job on chain
            grid = _OnlyNodes(grid, _taking_part(grid, int(config[RUN_JOB]), nodes, timeout))
        legacy = LegacyContext(
            context=context,
            config=ServerConfig(num_rounds=strategy.rounds, round_timeout=timeout),
            strategy=strategy,
        )
        fit_workflow = None
        if params.secure:
            fit_workflow = _SecAggPlus(
                num_shares=params.num_shares,
                reconstruction_threshold=params.reconstruction_threshold,
                timeout=timeout,
            )
        DefaultWorkflow(fit_workflow=fit_workflow)(grid, legacy)
        if strategy.completed != strategy.rounds:
            raise JobHalted(f"only {strategy.completed} of {strategy.rounds} rounds completed")
        if (mode == "train" or deliver) and len(strategy.node_digests) != nodes:
            raise JobHalted("not every node acknowledged the final model")
        result: dict[str, Any] = {
            "status": "ok",
            "model": base64.b64encode(strategy.model.to_bytes()).decode(),
            "rounds": strategy.round_metrics,
            "node_digests": strategy.node_digests,
            "seconds": time.perf_counter() - started,
        }
    except Exception as exc:
        result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        if config.get(RUN_RESULT):
            _write_result(str(config[RUN_RESULT]), result, key=key)
        raise
    if config.get(RUN_RESULT):
        _write_result(str(config[RUN_RESULT]), result, key=key)
    context.state.config_records["troika-result"] = _as_config_record(result)
    return result


def _as_config_record(result: dict[str, Any]) -> Any:
    from flwr.app import ConfigRecord

    return ConfigRecord({"json": json.dumps(result, sort_keys=True)})


server_app = ServerApp()


@server_app.main()
def _main(grid: Grid, context: Context) -> None:
    run_job(grid, context)


client_app = make_client_app()
