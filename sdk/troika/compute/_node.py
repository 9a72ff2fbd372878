"""Compute jobs end to end: a requester's :class:`Compute`, a data owner's
:class:`Node`, and the :class:`Coordinator` that runs a job across the nodes.

The flow of a job:

1. The requester pins the job's :class:`JobSpec` (its kind and parameters,
   canonical JSON, one raw block) and sends ``requestJob`` with the spec's
   sha2-256 digest and the payment.
2. Each dataset's :class:`Node` sees the job in the chain's ``JobForDataset``
   logs, fetches and verifies the spec, checks its policy (kinds, models,
   minimum payment, privacy budget) and the requester's licence on chain,
   and accepts: the job's epsilon is spent from the dataset's budget.
3. The :class:`Coordinator` runs the job over the nodes' local data
   (Flower with SecAgg+ for training and evaluation; each node's own
   differentially private release for statistics), pins the result (a
   trained model is encrypted to the requester's DID key) and hands the
   result document to the nodes. In-process by default; on Flower's
   deployment engine when the owners are separate organisations (each
   node runs its own SuperNode, see :meth:`Node.supernode`, and the result
   reaches it with the final model).
4. Each node checks the result against what it saw itself (the digest of
   the final model it received; its own release) and confirms its digest on
   chain. When all have confirmed, the payment is split and paid out by
   withdrawal.
5. The requester fetches the result, verified against the digest on chain
   and decrypted.

No node runs code it was sent: jobs are kinds that troika implements, and
a model is data (weights and an architecture spec).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from troika._errors import (
    BudgetExhausted,
    ComputeError,
    ConfigError,
    InvalidJob,
    IPFSUnavailable,
    JobFailed,
    JobStateError,
    NotLicensed,
    PaymentTokenError,
    PaymentTooLow,
    ResultMismatch,
    RPCUnavailable,
    TransactionTimeout,
    TroikaError,
)
from troika._files import write_json_atomically
from troika._json import loads
from troika.assets._crypto import Envelope, decrypt_bytes, encrypt_bytes, new_content_key
from troika.assets._registry import commitment_cid
from troika.compute._jobs import ComputeJobs, Job, JobKind, JobStatus, Shares, _token_address
from troika.compute._models import Model, model_from_bytes
from troika.compute._privacy import (
    LocalRelease,
    StatsQuery,
    combine,
    gaussian_rounds_epsilon,
    local_release,
)
from troika.compute._tables import features_and_labels, load_table
from troika.ipfs import CID

if TYPE_CHECKING:
    from troika.assets import Assets
    from troika.chain import Sender
    from troika.compute._federated import FlowerDeployment, SuperNode, TrainParams, TrainResult
    from troika.did import Identity
    from troika.ipfs import PinningStore

__all__ = [
    "DEFAULT_SHARES",
    "Compute",
    "Coordinator",
    "DatasetPolicy",
    "FlowerSettings",
    "JobResult",
    "JobSpec",
    "Node",
    "NodeDecision",
]

_log = logging.getLogger("troika.compute")

#: Dataset owners 60 %, the model's owner 25 %, the nodes 15 % (no model: 85 / 0 / 15).
DEFAULT_SHARES = Shares(dataset_owners=6000, model_owner=2500, nodes=1500)
_NO_MODEL_SHARES = Shares(dataset_owners=8500, model_owner=0, nodes=1500)


#: The delta of the (epsilon, delta) a DP training job is accounted at.
TRAINING_DELTA = 1e-5


def training_epsilon(params: TrainParams) -> float:
    """The epsilon each dataset spends on a training job: 0 without DP noise
    (nothing is promised, nothing is counted), else the Rényi-DP accountant's
    figure for its noise multiplier and rounds at :data:`TRAINING_DELTA`.

    Example:
        >>> from troika.compute._federated import TrainParams
        >>> training_epsilon(TrainParams(rounds=3))
        0.0
        >>> round(training_epsilon(TrainParams(rounds=10, clip_norm=1.0, noise_multiplier=2.0)), 2)
        8.08
    """
    if params.noise_multiplier is None or params.noise_multiplier == 0:
        return 0.0
    return gaussian_rounds_epsilon(params.noise_multiplier, params.rounds, TRAINING_DELTA)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _checked_block(document: bytes, digest: bytes, job_id: int) -> bytes:
    if hashlib.sha256(document).digest() != digest:  # a store that lies
        raise ResultMismatch(job_id, commitment_cid(digest), "does not hash to the digest on chain")
    return document


def _fetch_block(store: PinningStore, digest: bytes, job_id: int) -> bytes:
    """The raw block a job's on-chain digest names, checked against the digest."""
    return _checked_block(store.get(commitment_cid(digest)), digest, job_id)


#: Outages a later poll may not meet: a node retries rather than refuse for good.
_TRANSIENT = (IPFSUnavailable, RPCUnavailable, TransactionTimeout)


# -- the job's specification ----------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """What a job computes, pinned and committed to on chain by its digest.

    Attributes:
        kind: ``federated-train``, ``evaluate`` or ``stats``.
        params: The kind's parameters: :class:`TrainParams` fields for
            training, ``{}`` for evaluation, :class:`StatsQuery` fields for
            statistics.
        requester: The requester's DID: a trained model is encrypted to its key.
        label: The label column of the datasets (training and evaluation).

    Example:
        >>> query = {"column": "age", "statistic": "count", "epsilon": 1.0}
        >>> spec = JobSpec("stats", query, "did:ethr:0x1:0x" + "11" * 20)
        >>> JobSpec.from_json(spec.to_json()) == spec, len(spec.digest())
        (True, 32)
    """

    kind: str
    params: Mapping[str, Any]
    requester: str
    label: str = "label"

    def __post_init__(self) -> None:
        JobKind.parse(self.kind)
        object.__setattr__(self, "params", dict(self.params))

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys, compact, UTF-8)."""
        return _canonical(
            {
                "kind": self.kind,
                "label": self.label,
                "params": dict(self.params),
                "requester": self.requester,
                "version": 1,
            }
        )

    def digest(self) -> bytes:
        """The sha2-256 digest of :meth:`to_json`: the job's ``paramsDigest``."""
        return hashlib.sha256(self.to_json()).digest()

    @classmethod
    def from_json(cls, data: bytes) -> JobSpec:
        """Parse a spec; anything malformed raises :class:`InvalidJob`."""
        try:
            raw = loads(data)  # troika._json: nesting bounded (a hostile spec)
            if not isinstance(raw, dict) or raw.get("version") != 1:
                raise InvalidJob("spec", data[:80], "not a troika job spec (version 1)")
            return cls(
                kind=str(raw["kind"]),
                params=dict(raw["params"]),
                requester=str(raw["requester"]),
                label=str(raw.get("label", "label")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, InvalidJob):
                raise
            raise InvalidJob("spec", data[:80], f"not a troika job spec: {exc}") from exc

    @property
    def job_kind(self) -> JobKind:
        """The kind as the contract numbers it."""
        return JobKind.parse(self.kind)

    def train_params(self) -> TrainParams:
        """The training parameters (``federated-train``)."""
        from troika.compute._federated import TrainParams

        return TrainParams.from_json(json.dumps(self.params))

    def stats_query(self) -> StatsQuery:
        """The statistics query (``stats``)."""
        return StatsQuery.from_json(json.dumps(self.params))


# -- a data owner's node --------------------------------------------------------------


@dataclass(frozen=True)
class DatasetPolicy:
    """What a node lets jobs do with one of its datasets.

    Attributes:
        dataset_id: The dataset's token.
        data: The local, decrypted data: a CSV file with a header of column
            names and numeric values (the owner prepares it; it never leaves).
        kinds: The job kinds allowed.
        models: The model tokens allowed (None: any the requester may use).
        min_payment: The least payment (wei) of a job paid in the native coin
            this node accepts.
        max_epsilon: The most epsilon one job may spend (None: the budget's rest).
        min_token_payments: The ERC-20 tokens this node accepts a job paid
            in, each with its least payment (in the token's smallest unit). A
            job paid in a token not listed is refused (PaymentTokenError):
            a token's worth is the owner's judgement, so none is accepted by
            default, and ``min_payment`` never applies to a token.
    """

    dataset_id: int
    data: Path
    kinds: frozenset[JobKind] = frozenset(JobKind)
    models: frozenset[int] | None = None
    min_payment: int = 0
    max_epsilon: float | None = None
    # not hashed (a dict): a policy stays hashable, as before the field
    min_token_payments: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for token, minimum in self.min_token_payments.items():
            try:
                _token_address(token)
            except InvalidJob:
                raise ConfigError(
                    "min_token_payments",
                    token,
                    "a token is a non-zero 0x-prefixed address of 40 hex digits",
                ) from None
            if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
                raise ConfigError(
                    f"min_token_payments[{token}]",
                    minimum,
                    "a least payment is a whole number >= 0",
                )


@dataclass(frozen=True)
class NodeDecision:
    """What a node decided about a job for one of its datasets."""

    job_id: int
    dataset_id: int
    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class FlowerSettings:
    """How a node joins a coordinator's Flower deployment (separate organisations).

    Attributes:
        superlink: The coordinator's SuperLink, ``host:port``.
        root_certificates: TLS: the CA certificate (PEM) that signed the
            SuperLink's; None for plain HTTP (loopback, or a trusted network).
        require_secure: The node's ClientApp refuses to train outside SecAgg+
            (besides refusing any run whose parameters are not the accepted spec's).

    Example:
        >>> FlowerSettings("127.0.0.1:9092").superlink
        '127.0.0.1:9092'
    """

    superlink: str
    root_certificates: Path | None = None
    require_secure: bool = False

    def __post_init__(self) -> None:
        host, _, port = self.superlink.rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")  # an IPv6 address
        if (
            not host
            or any(c.isspace() for c in host)
            or (":" in host and not bracketed)
            or not port.isdigit()
            or not 0 < int(port) < 65536
        ):
            raise ConfigError(
                "superlink", self.superlink, "expected host:port (an IPv6 host in brackets)"
            )


class Node:
    """A data owner's compute node for one or more of its datasets.

    Args:
        jobs: The :class:`ComputeJobs` market.
        assets: An :class:`~troika.assets.Assets` on the same chain and store
            (licences are checked through its registry; specs are read from its store).
        policies: One per dataset the node serves.
        sender: Who accepts and confirms: the datasets' owner or the node
            account it registered for them.
        state: A JSON file where the node keeps the last block it read and
            its decisions, so that a restarted node resumes where it stopped
            and decides nothing twice; in memory if None.
        confirmations: How many blocks deep a job's request must be before
            the node decides on it, so that a reorganisation of the newest
            blocks cannot show it a job that then vanishes (or moves): 0 (the
            default) suits a chain that never reorganises (the embedded EVM,
            anvil); a public chain wants more (say 12 on Ethereum).
        flower: Join a coordinator's Flower deployment: :meth:`supernode`
            runs a SuperNode whose ClientApp reads only this node's data, and
            only for jobs this node accepted (needs ``state``, which the
            ClientApp reads); :meth:`confirm_delivered` confirms the results
            it delivers.

    Example: see ``docs/compute.md``.
    """

    def __init__(
        self,
        jobs: ComputeJobs,
        assets: Assets,
        policies: Sequence[DatasetPolicy],
        *,
        sender: Sender,
        state: str | os.PathLike[str] | None = None,
        confirmations: int = 0,
        flower: FlowerSettings | None = None,
    ) -> None:
        if not policies:
            raise InvalidJob("policies", policies, "a node serves at least one dataset")
        if confirmations < 0:
            raise InvalidJob("confirmations", confirmations, "a whole number of blocks, 0 or more")
        self.confirmations = confirmations
        if flower is not None and state is None:
            raise InvalidJob("state", None, "a node on a Flower deployment keeps a state file")
        self.jobs = jobs
        self.assets = assets
        self.policies = {policy.dataset_id: policy for policy in policies}
        self.sender = sender
        self.address = sender if isinstance(sender, str) else sender.address
        self._state_path = Path(state).resolve() if state is not None else None
        self.flower = flower
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"block": None, "decisions": {}, "confirmed": []}
        if self._state_path is not None and self._state_path.is_file():
            self._state = json.loads(self._state_path.read_text(encoding="utf-8"))
        self._supernode: SuperNode | None = None
        self._revived = -10.0
        #: Digests of the final models this node received, by job.
        self.received: dict[int, str] = {}
        #: This node's own stats releases, by job and dataset.
        self.releases: dict[tuple[int, int], LocalRelease] = {}

    def __repr__(self) -> str:
        return f"Node({self.address!r}, datasets={sorted(self.policies)})"

    def _save(self) -> None:
        if self._state_path is None:
            return
        write_json_atomically(self._state_path, self._state)

    def decisions(self) -> list[NodeDecision]:
        """Every decision this node made, oldest first."""
        return [
            NodeDecision(int(job), int(dataset), bool(entry["accepted"]), str(entry["reason"]))
            for key, entry in self._state["decisions"].items()
            for job, dataset in [key.split(":")]
        ]

    # -- watching and accepting ---------------------------------------------------

    def poll(self) -> list[NodeDecision]:
        """Read the chain since the last poll and decide on every new job for
        this node's datasets; returns the new decisions."""
        with self._lock:
            head = self.jobs.chain.block_number - self.confirmations
            start = self._state["block"]
            start = self.jobs.deployed_at if start is None else int(start) + 1
            if head < start:  # nothing new is deep enough yet
                return []
            made: list[NodeDecision] = []
            for dataset_id in sorted(self.policies):
                for job_id in self.jobs.jobs_for_dataset(
                    dataset_id, from_block=start, to_block=head
                ):
                    key = f"{job_id}:{dataset_id}"
                    if key in self._state["decisions"]:
                        continue
                    decision, runnable = self._decide(job_id, dataset_id)
                    entry: dict[str, Any] = {
                        "accepted": decision.accepted,
                        "reason": decision.reason,
                    }
                    if runnable is not None:  # what this node's ClientApp will agree to run
                        entry["spec"] = runnable
                    self._state["decisions"][key] = entry
                    self._save()
                    made.append(decision)
            self._state["block"] = head
            self._save()
            return made

    def _decide(self, job_id: int, dataset_id: int) -> tuple[NodeDecision, dict[str, Any] | None]:
        job = self.jobs.job(job_id)
        if self.jobs.participant_of(job_id, dataset_id).lower() == self.address.lower():
            # Accepted before a crash lost the decision: record it, send nothing.
            try:
                block = _fetch_block(self.assets.store, job.params_digest, job_id)
                runnable = self._runnable(job, JobSpec.from_json(block))
            except ComputeError as unrunnable:  # accepted, but this node cannot take part
                _log.warning("job %d, dataset %d: cannot run: %s", job_id, dataset_id, unrunnable)
                return NodeDecision(job_id, dataset_id, True, str(unrunnable)), None
            return NodeDecision(job_id, dataset_id, True), runnable
        try:
            spec = self.check(job, dataset_id)
            runnable = self._runnable(job, spec)
        except ComputeError as refused:
            _log.info("job %d, dataset %d: refused: %s", job_id, dataset_id, refused)
            return NodeDecision(job_id, dataset_id, False, str(refused)), None
        self.jobs.accept(job_id, dataset_id, sender=self.sender)
        _log.info("job %d, dataset %d: accepted", job_id, dataset_id)
        return NodeDecision(job_id, dataset_id, True), runnable

    def _runnable(self, job: Job, spec: JobSpec) -> dict[str, Any] | None:
        """What this node's ClientApp will agree to run for an accepted job (on
        a Flower deployment; None for a node without one): the spec's kind,
        label and parameters, and the checksum of the model token's weights,
        from its public metadata (checked against the token's commitment on chain).

        Raises:
            InvalidJob: the model token's metadata is unreadable or has no checksum.
            IPFSUnavailable, RPCUnavailable, TransactionTimeout: an outage; the
                caller decides nothing, and the next poll asks again.
        """
        if self.flower is None:
            return None
        runnable: dict[str, Any] = {
            "kind": spec.kind,
            "label": spec.label,
            "params": dict(spec.params),
        }
        if job.model:
            try:
                checksum = self.assets.asset(job.model).metadata.properties.checksum
            except _TRANSIENT:
                raise  # an outage, not a verdict on the job: the next poll retries
            except TroikaError as exc:
                raise InvalidJob("model", job.model, f"its metadata cannot be read: {exc}") from exc
            if checksum is None:
                raise InvalidJob("model", job.model, "its metadata names no checksum")
            runnable["model_checksum"] = checksum
        return runnable

    def check(self, job: Job, dataset_id: int) -> JobSpec:
        """Everything the node checks before it accepts; the job's spec if all holds.

        Raises:
            JobStateError: the job is not open for acceptance.
            InvalidJob: a kind or model the policy refuses, a bad spec, or a
                training outside SecAgg+ on a node whose ``flower`` settings
                ``require_secure``.
            PaymentTooLow: below the policy's minimum (for the job's coin or token).
            PaymentTokenError: paid in a token the policy does not list.
            BudgetExhausted: more epsilon than the policy or the budget allows.
            NotLicensed: the requester's licence ended since the request.
        """
        policy = self.policies[dataset_id]
        if job.status is not JobStatus.REQUESTED:
            raise JobStateError(job.job_id, job.status.label, "no longer open for acceptance")
        if job.deadline <= self._now():
            raise JobStateError(job.job_id, job.status.label, "its deadline has passed")
        if job.kind not in policy.kinds:
            raise InvalidJob("kind", job.kind.label, f"dataset {dataset_id} does not run it")
        if policy.models is not None and job.model not in policy.models:
            raise InvalidJob("model", job.model, f"dataset {dataset_id} does not serve it")
        _check_payment(job, policy)
        if job.epsilon > 0:
            total, spent = self.jobs.budget(dataset_id)
            limit = total - spent
            if policy.max_epsilon is not None:
                limit = min(limit, policy.max_epsilon)
            if job.epsilon > limit + 1e-9:
                raise BudgetExhausted(dataset_id, job.epsilon, max(limit, 0.0))
        registry = self.assets.registry
        if not registry.has_access(dataset_id, job.requester):
            raise NotLicensed(dataset_id, job.requester)
        if job.model and not registry.has_access(job.model, job.requester):
            raise NotLicensed(job.model, job.requester)
        spec = JobSpec.from_json(_fetch_block(self.assets.store, job.params_digest, job.job_id))
        if spec.job_kind is not job.kind:
            raise InvalidJob("spec", spec.kind, f"the job on chain is {job.kind.label}")
        if job.kind is JobKind.STATS:
            query = spec.stats_query()
            if abs(query.epsilon - job.epsilon) > 1e-3:
                raise InvalidJob("epsilon", job.epsilon, f"the spec spends {query.epsilon}")
        elif job.kind is JobKind.FEDERATED_TRAIN:
            flower = self.flower
            if flower is not None and flower.require_secure and not spec.train_params().secure:
                raise InvalidJob("secure", False, f"dataset {dataset_id} trains only under SecAgg+")
            needed = training_epsilon(spec.train_params())
            if needed > job.epsilon + 1e-3:
                raise InvalidJob(
                    "epsilon",
                    job.epsilon,
                    f"the training's noise spends {needed:.3f} at delta {TRAINING_DELTA}",
                )
        return spec

    def _now(self) -> int:
        latest = self.jobs.chain.block("latest")
        return latest.timestamp if latest is not None else int(time.time())

    # -- computing on the local data ------------------------------------------------

    def shard(
        self, dataset_id: int, label: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The dataset's features and labels, from its local data."""
        return features_and_labels(self.policies[dataset_id].data, label, dataset_id)

    def release(self, job_id: int, dataset_id: int, query: StatsQuery) -> LocalRelease:
        """This node's differentially private release of its dataset for a stats job."""
        header, values = load_table(self.policies[dataset_id].data)
        column = query.column
        if isinstance(column, str):
            if column not in header:
                raise InvalidJob("column", column, f"not a column of dataset {dataset_id}")
            column = header.index(column)
        release = local_release(values[:, column], query)
        self.releases[(job_id, dataset_id)] = release
        return release

    # -- confirming -----------------------------------------------------------------

    def confirm(self, job_id: int, result: bytes, report: bytes) -> None:
        """Check the coordinator's result against what this node saw, then confirm it on chain.

        Raises:
            ResultMismatch: the result is not what this node computed or received.
        """
        try:
            document = loads(result)  # troika._json: nesting bounded
        except ValueError as exc:  # not UTF-8, not JSON, or nested too deep
            raise ResultMismatch(job_id, CID.of(result), f"is not JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise ResultMismatch(job_id, CID.of(result), "is not a JSON object")
        if document.get("job") != job_id:
            raise ResultMismatch(job_id, CID.of(result), "names another job")
        model = document.get("model")
        if "model" in document and (
            not isinstance(model, dict) or model.get("digest") != self.received.get(job_id)
        ):
            raise ResultMismatch(
                job_id, CID.of(result), "is not the model this node received in the last round"
            )
        releases = document.get("releases")
        for (job, dataset), release in self.releases.items():
            if job != job_id:
                continue
            if not isinstance(releases, dict) or releases.get(str(dataset)) != _release_json(
                release
            ):
                raise ResultMismatch(
                    job_id, CID.of(result), f"misstates dataset {dataset}'s release"
                )
        with self._lock:
            if job_id in self._state["confirmed"]:
                return
            digests = hashlib.sha256(result).digest(), hashlib.sha256(report).digest()
            try:
                self.jobs.submit_result(job_id, *digests, sender=self.sender)
            except JobStateError:
                # Killed after its confirmation was mined but before it was
                # recorded, this node finds it on chain when restarted.
                if not self._submitted(job_id, digests):
                    raise
                _log.info("job %d: this node's confirmation is on chain already", job_id)
            self._state["confirmed"].append(job_id)
            self._save()

    def _submitted(self, job_id: int, digests: tuple[bytes, bytes]) -> bool:
        """True when this node's ``ResultSubmitted`` of these digests is on chain."""
        return any(
            (bytes(event.args["resultDigest"]), bytes(event.args["reportDigest"])) == digests
            for event in self.jobs.events("ResultSubmitted", jobId=job_id, node=self.address)
        )

    # -- on a Flower deployment ------------------------------------------------------

    @property
    def flower_folder(self) -> Path:
        """Where this node's SuperNode keeps its log, and its ClientApp the
        digests and result documents it received (``job-<id>.json``)."""
        if self._state_path is None:
            raise InvalidJob("state", None, "a node on a Flower deployment keeps a state file")
        return self._state_path.with_name(self._state_path.stem + ".flower")

    @contextlib.contextmanager
    def supernode(self) -> Iterator[SuperNode]:
        """Run this node's Flower SuperNode (a child process) while the block runs.

        The SuperNode connects to the coordinator's SuperLink
        (``flower.superlink``). Its ClientApp is told only the path of a file
        naming this node's state file and its datasets' local CSVs: it takes
        part only in jobs this node accepted on chain, with the accepted
        spec's parameters, reads only that dataset, and sends only what SecAgg+
        masks (or, for a plain job, the update). Nothing decrypted is written.

        Raises:
            InvalidJob: the node has no ``flower`` settings.

        Example: see ``docs/compute.md`` (separate organisations).
        """
        from troika.compute._federated import SuperNode

        if self.flower is None:
            raise InvalidJob("flower", None, "give the node FlowerSettings to join a deployment")
        folder = self.flower_folder
        folder.mkdir(parents=True, exist_ok=True)
        assert self._state_path is not None
        with self._lock:
            self._save()  # the ClientApp reads the state, which must exist
        node_file = folder / "node.json"
        write_json_atomically(
            node_file,
            {
                "state": str(self._state_path),
                "datasets": {
                    str(dataset): str(Path(policy.data).resolve())
                    for dataset, policy in self.policies.items()
                },
                "folder": str(folder),
            },
        )
        with SuperNode(
            self.flower.superlink,
            node_file,
            folder,
            root_certificates=self.flower.root_certificates,
            require_secure=self.flower.require_secure,
        ) as running:
            self._supernode = running
            try:
                yield running
            finally:
                self._supernode = None

    def revive_supernode(self) -> int | None:
        """Start this node's SuperNode again if it exited (at most every 10 s);
        the exit code it had, or None if it is running (or not started)."""
        running = self._supernode
        if running is None or time.monotonic() - self._revived < 10.0:
            return None
        code = running.ensure_running()
        if code is not None:
            self._revived = time.monotonic()
            _log.warning("the SuperNode exited with %d; started again", code)
        return code

    def confirm_delivered(self) -> list[int]:
        """Confirm on chain the results the coordinator delivered through this
        node's SuperNode, each checked by :meth:`confirm` against the digest of
        the final model this node's ClientApp received; the jobs confirmed now.

        A result that fails the check, or a delivery that is not one (bad
        JSON or base64, a field missing), is refused once and for all
        (logged); a failed transaction is retried on the next call.
        """
        if self.flower is None or self._state_path is None:
            return []
        confirmed = []
        for path in sorted(self.flower_folder.glob("job-*.json")):
            job_id = int(path.stem.removeprefix("job-"))
            with self._lock:
                done = set(self._state["confirmed"]) | set(self._state.get("refused", []))
            if job_id in done:
                continue
            try:
                delivered = loads(path.read_text(encoding="utf-8"))
                if "result" not in delivered:
                    continue  # the receipt alone: the documents come with the final model
                self.received[job_id] = str(delivered["digest"])
                self.confirm(
                    job_id,
                    base64.b64decode(delivered["result"], validate=True),
                    base64.b64decode(delivered["report"], validate=True),
                )
            except (ResultMismatch, JobStateError, ValueError, KeyError, TypeError) as refused:
                _log.warning("job %d: not confirmed: %s", job_id, refused)
                with self._lock:
                    self._state.setdefault("refused", []).append(job_id)
                    self._save()
                continue
            except ComputeError as exc:  # a transaction that failed: next time
                _log.warning("job %d: confirming failed: %s", job_id, exc)
                continue
            confirmed.append(job_id)
        return confirmed

    def withdraw(self, *, token: str | None = None) -> int:
        """Collect what the market owes this node's account in the native coin,
        or in the ERC-20 ``token`` (0 if nothing).

        Raises:
            InvalidJob: ``token`` is not an address.
            PaymentTokenError: the token failed the transfer (the credit stays).
        """
        if self.jobs.owed(self.address, token=token) == 0:
            return 0
        return self.jobs.withdraw(sender=self.sender, token=token)

    def run_forever(self, stop: threading.Event, *, interval: float = 2.0) -> None:
        """Poll until ``stop`` is set (the CLI sets it on SIGTERM)."""
        while not stop.is_set():
            try:
                self.poll()
                self.revive_supernode()
                self.confirm_delivered()
            except (ComputeError, *_TRANSIENT) as exc:  # keep watching; the next poll retries
                _log.warning("poll failed: %s", exc)
            stop.wait(interval)


def _release_json(release: LocalRelease) -> dict[str, Any]:
    return {
        "count": release.count,
        "sum": release.sum,
        "histogram": list(release.histogram) if release.histogram is not None else None,
        "epsilon": release.epsilon,
        "delta": release.delta,
    }


# -- running a job across the nodes -------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    """A finished job's result, verified against the digest its nodes confirmed on chain."""

    job_id: int
    kind: JobKind
    document: Mapping[str, Any]
    metrics: Mapping[str, float] = field(default_factory=dict)
    model: Model | None = None
    value: float | None = None
    histogram: tuple[float, ...] | None = None


class Coordinator:
    """Runs a job across its nodes and hands them the result to confirm.

    It acts for the requester: it reads the job's model with the requester's
    licence (``assets`` of the requester's identity), learns only aggregates
    (SecAgg+ for training and evaluation, noisy releases for statistics), and
    encrypts a trained model to the requester's DID key.

    Args:
        jobs: The market.
        assets: The requester's :class:`~troika.assets.Assets`.
        runtime: ``"simulation"``: every node's Flower client runs in this
            process (the embedded default; each reads only its own data).
            ``"deployment"``: the job runs on Flower's deployment engine,
            ``deployment``'s SuperLink with one SuperNode per dataset, each
            run by its owner's :class:`Node` (separate organisations); the
            nodes confirm the result on chain themselves.
        deployment: The running :class:`~troika.compute.FlowerDeployment`
            (its SuperLink) for ``"deployment"``.
        timeout: Bound on waiting for nodes and on each SecAgg+ stage.
    """

    def __init__(
        self,
        jobs: ComputeJobs,
        assets: Assets,
        *,
        runtime: Literal["simulation", "deployment"] = "simulation",
        deployment: FlowerDeployment | None = None,
        timeout: float = 300.0,
    ) -> None:
        if runtime not in ("simulation", "deployment"):
            raise InvalidJob("runtime", runtime, "expected 'simulation' or 'deployment'")
        if runtime == "deployment" and deployment is None:
            raise InvalidJob("deployment", None, "the deployment runtime needs a FlowerDeployment")
        self.jobs = jobs
        self.assets = assets
        self.runtime = runtime
        self.deployment = deployment
        self.timeout = timeout

    def run(self, job_id: int, nodes: Sequence[Node] = ()) -> tuple[bytes, bytes]:
        """Run the job and have every participating node confirm it; the pinned
        result and report documents.

        In the ``"simulation"`` runtime, ``nodes`` are the job's nodes and are
        handed the result here. On a deployment, ``nodes`` is unused: each
        owner's node receives the result documents with the final model
        (through its SuperNode) and confirms them itself, so the job is
        completed on chain once every node has (see :meth:`Node.confirm_delivered`).

        Raises:
            JobStateError: the job is not running (not every dataset accepted).
            InvalidJob: a stats job on a deployment (statistics are the
                nodes' own releases, not a Flower run).
            JobFailed: the computation failed; the nodes confirm nothing, and
                the requester is refunded after the deadline.
        """
        job = self.jobs.job(job_id)
        if job.status is not JobStatus.RUNNING:
            raise JobStateError(job_id, job.status.label, "every dataset must accept first")
        spec = JobSpec.from_json(_fetch_block(self.assets.store, job.params_digest, job.job_id))
        started = time.monotonic()
        if self.runtime == "deployment":
            return self._deployed(job, spec, started)
        serving = {dataset: node for node in nodes for dataset in node.policies}
        missing = [dataset for dataset in job.datasets if dataset not in serving]
        if missing:
            raise JobFailed(job_id, f"no node serves datasets {missing}")
        if job.kind is JobKind.STATS:
            result, report = self._stats(job, spec, serving)
        else:
            result, report = self._federated(job, spec, serving)
        result_bytes, report_bytes = self._pin(result, report, started)
        for node in {id(n): n for n in (serving[d] for d in job.datasets)}.values():
            node.confirm(job_id, result_bytes, report_bytes)
        return result_bytes, report_bytes

    def _pin(
        self, result: dict[str, Any], report: dict[str, Any], started: float
    ) -> tuple[bytes, bytes]:
        report["seconds"] = round(time.monotonic() - started, 3)
        result_bytes, report_bytes = _canonical(result), _canonical(report)
        self.assets.pin_block(result_bytes)
        self.assets.pin_block(report_bytes)
        return result_bytes, report_bytes

    def _deployed(self, job: Job, spec: JobSpec, started: float) -> tuple[bytes, bytes]:
        """Run a training or evaluation job on the deployment; the documents
        go to the nodes with the final model, for them to check and confirm."""
        from troika.compute import _flower_app as app
        from troika.compute._federated import TrainParams, _job, _run_config, _train_result

        assert self.deployment is not None
        if job.kind is JobKind.STATS:
            raise InvalidJob("kind", job.kind.label, "statistics do not run on a Flower deployment")
        weights = self._model_bytes(job)
        base = model_from_bytes(weights)
        train = job.kind is JobKind.FEDERATED_TRAIN
        params = spec.train_params() if train else TrainParams(rounds=1)
        mode = "train" if train else "evaluate"
        run_config = _run_config(params, base, mode, len(job.datasets), self.timeout)
        run_config |= {app.RUN_JOB: job.job_id, app.RUN_LABEL: spec.label}
        # the weights as minted, so that each node can check them against the token's checksum
        run_config[app.RUN_MODEL] = base64.b64encode(weights).decode()
        documents: list[tuple[bytes, bytes]] = []

        def deliver(trained: dict[str, Any]) -> tuple[bytes, bytes]:
            outcome = _train_result(trained, {})
            if train:
                result, report = self._training_documents(job, spec, outcome)
            else:
                metrics = {"accuracy": outcome.rounds[0].accuracy, "loss": outcome.rounds[0].loss}
                result, report = self._evaluation_documents(job, base, metrics)
            documents.append(self._pin(result, report, started))
            return documents[-1]

        with _job(job.job_id):
            final = self.deployment.run(run_config, deliver=deliver)
        if not documents:
            raise JobFailed(job.job_id, "the run finished without result documents")
        expected = json.loads(documents[-1][0])["model"]["digest"]
        received = set(final["node_digests"].values())
        if received != {expected}:
            raise JobFailed(job.job_id, f"the nodes received {sorted(received)}, not {expected}")
        return documents[-1]

    def _model(self, job: Job) -> Model:
        return model_from_bytes(self._model_bytes(job))

    def _model_bytes(self, job: Job) -> bytes:
        """The model token's weights file, as minted (its checksum is in its metadata)."""
        with tempfile.TemporaryDirectory() as folder:
            return self.assets.fetch(job.model, Path(folder) / "model").read_bytes()

    def _federated(
        self, job: Job, spec: JobSpec, serving: Mapping[int, Node]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from troika.compute._federated import evaluate_federated, train_federated

        shards = [serving[d].shard(d, spec.label) for d in job.datasets]
        base = self._model(job)
        if job.kind is JobKind.EVALUATE:
            metrics = evaluate_federated(shards, base, job_id=job.job_id, timeout=self.timeout)
            for dataset in job.datasets:
                serving[dataset].received[job.job_id] = base.digest()
            return self._evaluation_documents(job, base, metrics)
        params = spec.train_params()
        trained = train_federated(
            shards, params, model=base, job_id=job.job_id, timeout=self.timeout
        )
        # In this runtime every node's client ran here: what each received is
        # what the coordinator recorded for it, in node order.
        for dataset, received in zip(job.datasets, trained.node_digests.values(), strict=False):
            serving[dataset].received[job.job_id] = received
        return self._training_documents(job, spec, trained)

    @staticmethod
    def _evaluation_documents(
        job: Job, base: Model, metrics: Mapping[str, float]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        result = {"job": job.job_id, "kind": job.kind.label, "metrics": dict(metrics)}
        result["model"] = {"digest": base.digest(), "token": job.model}
        return result, {"job": job.job_id, "datasets": list(job.datasets)}

    def _training_documents(
        self, job: Job, spec: JobSpec, trained: TrainResult
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The trained model, pinned encrypted to the requester, and the documents naming it."""
        params = spec.train_params()
        requester = self.assets.key_of(spec.requester)
        key = new_content_key()
        sealed = encrypt_bytes(trained.model.to_bytes(), key)
        content = self.assets.pin_bytes(sealed)
        envelope = self.assets.pin_bytes(Envelope.seal(key, [requester]).to_json())
        last = trained.rounds[-1] if trained.rounds else None
        result = {
            "job": job.job_id,
            "kind": job.kind.label,
            "model": {
                "content": str(content),
                "envelope": str(envelope),
                "digest": trained.digest,
                "spec": trained.model.spec,
                "parents": [*job.datasets, job.model],
            },
            "metrics": {"accuracy": last.accuracy, "loss": last.loss} if last else {},
        }
        report = {
            "job": job.job_id,
            "rounds": [
                {"round": r.round, "accuracy": r.accuracy, "loss": r.loss, "bytes": r.bytes_sent}
                for r in trained.rounds
            ],
            "secure": params.secure,
            "epsilon": job.epsilon,
        }
        return result, report

    def _stats(
        self, job: Job, spec: JobSpec, serving: Mapping[int, Node]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        query = spec.stats_query()
        releases = {d: serving[d].release(job.job_id, d, query) for d in job.datasets}
        combined = combine(list(releases.values()), query)
        result = {
            "job": job.job_id,
            "kind": job.kind.label,
            "statistic": combined.statistic,
            "value": combined.value,
            "histogram": list(combined.histogram) if combined.histogram is not None else None,
            "edges": list(combined.edges) if combined.edges is not None else None,
            "releases": {str(d): _release_json(r) for d, r in releases.items()},
        }
        report = {"job": job.job_id, "epsilon": combined.epsilon, "delta": combined.delta}
        return result, report


def _check_payment(job: Job, policy: DatasetPolicy) -> None:
    """The job's payment against the policy's minimum for its coin or token."""
    if job.payment_token is None:
        if job.payment < policy.min_payment:
            raise PaymentTooLow(job.payment, policy.min_payment)
        return
    token = job.payment_token.lower()
    minimums = {str(t).lower(): int(m) for t, m in policy.min_token_payments.items()}
    if token not in minimums:
        raise PaymentTokenError(
            job.payment_token, f"dataset {policy.dataset_id} does not accept payment in it"
        )
    if job.payment < minimums[token]:
        raise PaymentTooLow(job.payment, minimums[token], job.payment_token)


# -- the requester's side ----------------------------------------------------------------


# -- the requester's side, with no I/O: shared by Compute and AsyncCompute ----------------


def _job_spec(
    kind: str | JobKind,
    params: TrainParams | StatsQuery | Mapping[str, Any] | None,
    identity: Identity,
    label: str,
    epsilon: float | None,
) -> tuple[JobKind, JobSpec, float]:
    """The job's kind, its spec (to pin) and the epsilon each dataset spends."""
    job_kind = kind if isinstance(kind, JobKind) else JobKind.parse(kind)
    fields: Mapping[str, Any]
    if params is None:
        fields = {}
    elif isinstance(params, Mapping):
        fields = params
    else:
        fields = json.loads(params.to_json())
    spec = JobSpec(job_kind.label, fields, str(identity.did), label)
    if job_kind is JobKind.STATS:
        epsilon = spec.stats_query().epsilon if epsilon is None else epsilon
    elif job_kind is JobKind.FEDERATED_TRAIN and epsilon is None:
        epsilon = training_epsilon(spec.train_params())
    return job_kind, spec, epsilon or 0.0


def _default_shares(model: int) -> Shares:
    return DEFAULT_SHARES if model else _NO_MODEL_SHARES


def _completed(job: Job) -> Job:
    if job.status is not JobStatus.COMPLETED:
        raise JobStateError(job.job_id, job.status.label, "its result is not confirmed yet")
    return job


def _model_cids(document: Mapping[str, Any]) -> tuple[CID, CID]:
    """Where a training result keeps the model's envelope and its encrypted weights."""
    entry = document["model"]
    return CID.parse(entry["envelope"]), CID.parse(entry["content"])


def _trained_model(
    job_id: int, document: Mapping[str, Any], envelope: bytes, content: bytes, identity: Identity
) -> Model:
    """The trained model, decrypted with the requester's key and checked against
    the digest in the confirmed result."""
    entry = document["model"]
    key = Envelope.from_json(envelope).open(identity.key_agreement())
    model = model_from_bytes(decrypt_bytes(content, key))
    if model.digest() != entry["digest"]:
        raise ResultMismatch(job_id, entry["content"], "decrypts to another model")
    return model


def _job_result(job: Job, document: Mapping[str, Any], model: Model | None) -> JobResult:
    histogram = document.get("histogram")
    return JobResult(
        job_id=job.job_id,
        kind=job.kind,
        document=document,
        metrics=document.get("metrics", {}),
        model=model,
        value=document.get("value"),
        histogram=tuple(histogram) if histogram is not None else None,
    )


class Compute:
    """Request jobs, follow them, and fetch their results (the requester's side).

    Args:
        jobs: The market.
        assets: The requester's :class:`~troika.assets.Assets` (its identity
            pays, and decrypts the results).

    Example: see ``docs/compute.md``.
    """

    def __init__(self, jobs: ComputeJobs, assets: Assets) -> None:
        if assets.identity is None:
            raise InvalidJob(
                "assets", assets, "the requester needs an identity (it decrypts results)"
            )
        self.jobs = jobs
        self.assets = assets
        self.identity: Identity = assets.identity

    def request(
        self,
        kind: str | JobKind,
        datasets: Sequence[int],
        *,
        model: int = 0,
        params: TrainParams | StatsQuery | Mapping[str, Any] | None = None,
        payment: int,
        deadline: int,
        epsilon: float | None = None,
        shares: Shares | None = None,
        label: str = "label",
        payment_token: str | None = None,
    ) -> int:
        """Pin the job's spec and request it on chain, paying ``payment`` wei (or
        ``payment`` of the ERC-20 ``payment_token``); its id.

        Args:
            kind: ``"federated-train"``, ``"evaluate"`` or ``"stats"``.
            datasets: The dataset tokens (the requester needs a licence for each).
            model: The model token (training and evaluation).
            params: :class:`TrainParams` or :class:`StatsQuery` (or their fields).
            payment: In wei, escrowed until the result is confirmed or refunded.
            deadline: Unix time; past it, an unfinished job is refunded.
            epsilon: The privacy each dataset spends; a stats query's own by default.
            shares: The payment's split; :data:`DEFAULT_SHARES` by default.
            label: The label column (training and evaluation).
            payment_token: An ERC-20 token's address to pay in (None: the
                native coin); the market is approved for ``payment`` first if
                its allowance is smaller, and must receive exactly that (no
                fee-on-transfer tokens). Nodes accept only the tokens their
                policy lists (:attr:`DatasetPolicy.min_token_payments`).

        Raises:
            InvalidJob: a bad kind or parameters.
            NotLicensed: the requester may not use a token.
            JobPermissionDenied: the requester cannot pay.
            PaymentTokenError: the token failed or shortchanged the transfer.
        """
        job_kind, spec, epsilon = _job_spec(kind, params, self.identity, label, epsilon)
        self.assets.pin_block(spec.to_json())
        if payment_token is not None:
            payer = self.assets.sender
            if self.jobs.payment_allowance(payment_token, self.assets.sender_address) < payment:
                self.jobs.approve_payment(payment_token, payment, sender=payer)
        return self.jobs.request_job(
            job_kind,
            datasets,
            model=model,
            params_digest=spec.digest(),
            deadline=deadline,
            epsilon=epsilon,
            payment=payment,
            shares=shares or _default_shares(model),
            sender=self.assets.sender,
            payment_token=payment_token,
        )

    def status(self, job_id: int) -> Job:
        """The job as the chain records it."""
        return self.jobs.job(job_id)

    def result(self, job_id: int) -> JobResult:
        """The job's result, verified against the digest on chain; a trained
        model is decrypted with the requester's key.

        Raises:
            JobStateError: the job is not completed.
            ResultMismatch: the store's result is not the one confirmed on chain.
        """
        job = _completed(self.jobs.job(job_id))
        document = loads(_fetch_block(self.assets.store, job.result_digest, job_id))
        model = None
        if job.kind is JobKind.FEDERATED_TRAIN:
            envelope, content = _model_cids(document)
            model = _trained_model(
                job_id,
                document,
                self.assets.read_bytes(envelope),
                self.assets.read_bytes(content),
                self.identity,
            )
        return _job_result(job, document, model)

    def refund(self, job_id: int) -> None:
        """Credit an unfinished job's payment back, once its deadline has passed,
        in the coin or token it was paid in (then :meth:`withdraw` it, with the
        job's ``payment_token`` for a token)."""
        self.jobs.refund(job_id, sender=self.assets.sender)

    def withdraw(self, *, token: str | None = None) -> int:
        """Collect what the market owes the requester (refunds, rounding dust)
        in the native coin, or in the ERC-20 ``token``."""
        return self.jobs.withdraw(sender=self.assets.sender, token=token)
