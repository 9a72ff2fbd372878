"""The story ``troika demo`` tells, end to end, on whatever a :class:`~troika.Troika` is wired to.

1. A person, her device and her AI agent get DIDs (did:ethr; the relayer pays).
2. Three hospitals mint encrypted dataset NFTs from private shards of
   scikit-learn's bundled breast-cancer data; a model owner mints the base model.
3. The hospitals and the model owner license their tokens to the agent.
4. The agent pays for a federated training job under SecAgg+; each
   hospital's node accepts it by policy, budget and licence.
5. The trained model comes back encrypted to the agent, is verified against
   the digests the nodes confirmed on chain, and is minted as a derived
   model NFT whose parents are the datasets and the base model.
6. The payment is split (60 % data owners, 25 % model owner, 15 % nodes) and
   withdrawn; every DID is resolved.

Why three hospitals and not two: SecAgg+ hides each node's update only from
a coalition smaller than the reconstruction threshold, and the aggregate is
revealed. With two nodes, either one subtracts its own update from the
aggregate and learns the other's exactly, so secure aggregation would hide
nothing. Flower refuses an integer ``num_shares`` below 3 and troika's
``TrainParams`` asks for at least three data owners, so the demo uses three.

Everything the story measures comes back as a :class:`DemoSummary`.
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from rich.console import Console

    from troika._client import Troika
    from troika.assets import MintedAsset
    from troika.did import Identity, IdentityKind

__all__ = [
    "DEMO_PAYMENT",
    "DEMO_ROUNDS",
    "DemoDID",
    "DemoJob",
    "DemoPayment",
    "DemoSummary",
    "DemoToken",
    "demo_data",
    "run_demo",
]

#: What the agent pays for the training job: 0.1 ETH.
DEMO_PAYMENT = 10**17
#: Federated rounds of the training job.
DEMO_ROUNDS = 5
#: What the dev account gives each party that pays gas of its own.
_FUNDING = 10**18
#: The hospitals (data owners): three, the fewest SecAgg+ protects (see the module notes).
_HOSPITALS = ("st-mary", "city-general", "northside")
_SPLIT_SEED = 0


@dataclass(frozen=True)
class DemoDID:
    """One identity of the story and what resolving its DID gave."""

    role: str
    name: str
    kind: str
    did: str
    address: str
    controller: str | None
    #: The resolved document's verification methods and key-agreement keys.
    verification_methods: int
    key_agreement: int
    #: The profile's kind as the DID document publishes it.
    profile_kind: str | None


@dataclass(frozen=True)
class DemoToken:
    """A minted token: its id, owner and where its parts are pinned."""

    token_id: int
    kind: str
    name: str
    owner_role: str
    owner: str
    metadata_cid: str
    content_cid: str
    encrypted: bool
    parents: tuple[int, ...] = ()
    rows: int | None = None

    @classmethod
    def of(
        cls, minted: MintedAsset, kind: str, name: str, owner_role: str, **extra: Any
    ) -> DemoToken:
        """The demo's record of a token that ``Assets.mint_*`` returned."""
        return cls(
            token_id=minted.token_id,
            kind=kind,
            name=name,
            owner_role=owner_role,
            owner=minted.owner,
            metadata_cid=str(minted.metadata_cid),
            content_cid=str(minted.content_cid),
            encrypted=minted.envelope_cid is not None,
            **extra,
        )


@dataclass(frozen=True)
class DemoJob:
    """The federated training job as the chain and its result record it."""

    job_id: int
    status: str
    rounds: int
    secure: bool
    num_nodes: int
    num_shares: int
    reconstruction_threshold: int
    payment: int
    result_cid: str
    model_digest: str
    #: The trained model was decrypted with the agent's key and its digest
    #: matched the result the nodes confirmed on chain.
    verified: bool
    seconds: float


@dataclass(frozen=True)
class DemoPayment:
    """What one party was credited by the job, and withdrew."""

    role: str
    address: str
    credited: int
    withdrawn: int


@dataclass(frozen=True)
class DemoSummary:
    """Every figure of a demo run (``troika demo --json`` prints :meth:`to_dict`)."""

    chain_url: str
    chain_id: int
    embedded: bool
    ipfs: str
    identities: tuple[DemoDID, ...]
    datasets: tuple[DemoToken, ...]
    model: DemoToken
    derived: DemoToken
    job: DemoJob
    #: Accuracy on the same held-out split: the federated model, and
    #: scikit-learn's LogisticRegression trained on the union of the shards.
    accuracy: float
    baseline_accuracy: float
    test_rows: int
    payments: tuple[DemoPayment, ...]
    #: What rounding left over (credited back to the agent).
    dust: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def paid_out(self) -> int:
        """The wei credited to every party, dust included; equals the payment."""
        return sum(p.credited for p in self.payments)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        data = asdict(self)
        data["paid_out"] = self.paid_out
        return data


# -- the data (no I/O but writing the shards) -----------------------------------------


def demo_data(
    shards: int = len(_HOSPITALS),
) -> tuple[
    list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    tuple[str, ...],
]:
    """scikit-learn's bundled breast-cancer data (569 rows, 30 features, no
    network): private shards of a stratified 80 % training split, the 20 %
    held-out test split, and the feature names.

    Features are standardised with the whole table's mean and deviation,
    stand-ins for published reference ranges that every hospital knows.

    Example:
        >>> train, (x_test, y_test), names = demo_data()
        >>> [len(y) for _, y in train], len(y_test), len(names)
        ([152, 152, 151], 114, 30)
    """
    from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    table = load_breast_cancer()
    features, labels = table.data, table.target.astype("float64")
    features = (features - features.mean(0)) / features.std(0)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, stratify=labels, random_state=_SPLIT_SEED
    )
    names = tuple(f"f{i}" for i in range(features.shape[1]))
    parts = [(x_train[i::shards], y_train[i::shards]) for i in range(shards)]
    return parts, (x_test, y_test), names


def _write_csv(
    path: Path,
    names: tuple[str, ...],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*names, "label"])
        writer.writerows([*map(float, row), float(label)] for row, label in zip(x, y, strict=True))
    return path


# -- telling it ------------------------------------------------------------------------


class _Narrator:
    """Rich panels for each step (nothing if there is no console), and step timings."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.steps: dict[str, float] = {}
        self._started = time.monotonic()

    @contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        lines: list[str] = []
        started = time.monotonic()
        if self.console is not None:
            with self.console.status(f"{title}..."):
                yield lines
        else:
            yield lines
        seconds = time.monotonic() - started
        self.steps[title] = round(seconds, 3)
        if self.console is not None:
            from rich.panel import Panel

            self.console.print(
                Panel(
                    "\n".join(lines) or "done",
                    title=f"[bold]{title}[/]",
                    subtitle=f"{seconds:.1f} s",
                    title_align="left",
                    subtitle_align="right",
                )
            )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started


def _short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


def _fresh_name(taken: Callable[[str], bool], base: str) -> str:
    # A reused --home keeps the keys of earlier runs: never clobber one.
    name, n = base, 1
    while taken(name):
        n += 1
        name = f"{base}-{n}"
    return name


def run_demo(
    troika: Troika,
    *,
    console: Console | None = None,
    workdir: Path,
    rounds: int = DEMO_ROUNDS,
) -> DemoSummary:
    """Tell the whole story on ``troika`` and return every figure.

    Args:
        troika: What to run on (the embedded defaults, or anvil and Kubo).
        console: Where the progress panels go; None for none.
        workdir: Where the hospitals' shards and the model files are written.
        rounds: Federated rounds of the training job.

    Raises:
        TroikaError: any step failed (the message says which call).
    """
    from troika._errors import KeyNotFound
    from troika.assets import (
        DatasetMetadata,
        DatasetProperties,
        ModelMetadata,
        ModelProperties,
        commitment_cid,
    )
    from troika.compute import DatasetPolicy, LogisticRegressionModel, TrainParams
    from troika.compute._jobs import JobStatus

    workdir.mkdir(parents=True, exist_ok=True)
    narrator = _Narrator(console)
    password = secrets.token_urlsafe(16)  # the demo's keys are never reused
    chain = troika.chain

    def taken(name: str) -> bool:
        try:
            troika.keystore.show(name)
        except KeyNotFound:
            return False
        return True

    with narrator.step("the set-up") as lines:
        store = type(troika.store).__name__
        where = "in-process EVM" if chain.is_embedded else chain.url
        lines.append(f"chain      {where} (chain id {chain.chain_id})")
        lines.append(f"ipfs       {store} ({troika.settings.ipfs_api or troika.settings.home})")
        lines.append(f"DIDs       ERC-1056 registry {troika.did_registry.address}")
        lines.append(f"assets     AssetRegistry {troika.registry.address}")
        lines.append(f"compute    ComputeJobs {troika.jobs.address}")

    roles: dict[str, Identity] = {}

    def create(role: str, base: str, kind: IdentityKind, controller: Identity | None = None) -> str:
        identity = troika.identities.create(
            _fresh_name(taken, base), password, kind=kind, controller=controller
        )
        roles[role] = identity
        owner = f", of {controller.name}" if controller is not None else ""
        return f"{role:<12} {_short(str(identity.did), 18)}  {identity.kind}{owner}"

    with narrator.step("identities: a person, her device and her AI agent") as lines:
        lines.append(create("person", "alice", "person"))
        lines.append(create("device", "alice-watch", "device", roles["person"]))
        lines.append(create("agent", "alice-agent", "agent", roles["person"]))
        for hospital in _HOSPITALS:
            lines.append(create(hospital, hospital, "person"))
        lines.append(create("model owner", "modelworks", "person"))
        lines.append("every DID change was signed by its key and relayed by the dev account")
        for role in (*_HOSPITALS, "model owner", "agent"):
            troika.fund(roles[role], _FUNDING)
        lines.append(f"funded the hospitals, the model owner and the agent with {_eth(_FUNDING)}")

    shards, (x_test, y_test), names = demo_data(len(_HOSPITALS))
    datasets: list[DemoToken] = []
    policies: dict[str, DatasetPolicy] = {}
    with narrator.step("three hospitals mint encrypted dataset NFTs") as lines:
        for hospital, (x, y) in zip(_HOSPITALS, shards, strict=True):
            shard = _write_csv(workdir / f"{hospital}.csv", names, x, y)
            metadata = DatasetMetadata(
                name=f"{hospital} tumour biopsies",
                description="breast-cancer biopsies, 30 standardised features and a label",
                properties=DatasetProperties(media_type="text/csv", rows=len(y)),
            )
            minted = troika.assets(roles[hospital]).mint_dataset(shard, metadata)
            datasets.append(DemoToken.of(minted, "dataset", metadata.name, hospital, rows=len(y)))
            policies[hospital] = DatasetPolicy(minted.token_id, shard)
            lines.append(
                f"#{minted.token_id} {hospital:<12} {len(y)} rows, encrypted to its DID key: "
                f"{_short(str(minted.content_cid))}"
            )

    with narrator.step("a model owner mints the base model") as lines:
        weights = workdir / "base-model.npz"
        weights.write_bytes(LogisticRegressionModel.init(len(names), seed=1).to_bytes())
        base_metadata = ModelMetadata(
            name="tumour classifier",
            description="logistic regression, untrained",
            properties=ModelProperties(framework="numpy", task="binary-classification"),
        )
        minted_model = troika.assets(roles["model owner"]).mint_model(weights, base_metadata)
        model = DemoToken.of(minted_model, "model", base_metadata.name, "model owner")
        lines.append(f"#{model.token_id} {model.name}  metadata {_short(model.metadata_cid)}")

    agent = roles["agent"]
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    with narrator.step("licences to the AI agent") as lines:
        for token in (*datasets, model):
            troika.assets(roles[token.owner_role]).grant_license(token.token_id, agent, until)
            lines.append(
                f"#{token.token_id} {token.owner_role:<12} → agent until {until:%Y-%m-%d}, "
                "key re-wrapped to it"
            )

    nodes = []
    for hospital in _HOSPITALS:
        policy = policies[hospital]
        troika.jobs.set_budget(policy.dataset_id, 3.0, sender=roles[hospital].signer)
        nodes.append(troika.node(roles[hospital], [policy]))
    compute = troika.compute(agent)
    params = TrainParams(rounds=rounds)
    with narrator.step("the agent pays for federated training; the nodes accept") as lines:
        latest = chain.block("latest")
        now = latest.timestamp if latest is not None else int(time.time())
        job_id = compute.request(
            "federated-train",
            [token.token_id for token in datasets],
            model=model.token_id,
            params=params,
            payment=DEMO_PAYMENT,
            deadline=now + 3600,
        )
        lines.append(
            f"job #{job_id}: {_eth(DEMO_PAYMENT)} escrowed, {rounds} rounds, SecAgg+ "
            f"({len(nodes)} nodes, {params.num_shares} shares, "
            f"threshold {params.reconstruction_threshold})"
        )
        for hospital, node in zip(_HOSPITALS, nodes, strict=True):
            for decision in node.poll():
                verdict = "accepted" if decision.accepted else f"refused: {decision.reason}"
                lines.append(f"{hospital:<12} node {verdict} job #{decision.job_id}")

    started = time.monotonic()
    with narrator.step("training under SecAgg+; the nodes confirm the result") as lines:
        troika.coordinator(agent, timeout=120).run(job_id, nodes)
        job = compute.status(job_id)
        lines.append(
            f"job #{job_id} {job.status.label}: {job.confirmed}/{job.nodes} nodes confirmed"
        )
    training_seconds = time.monotonic() - started

    with narrator.step("the model comes back encrypted to the agent, verified") as lines:
        result = compute.result(job_id)  # checked against the digest on chain, then decrypted
        trained = result.model
        if trained is None:  # pragma: no cover - a training job always has one
            raise AssertionError("the training job returned no model")
        document = dict(result.document)
        verified = (
            job.status is JobStatus.COMPLETED and trained.digest() == document["model"]["digest"]
        )
        accuracy = trained.evaluate(x_test, y_test)["accuracy"]
        result_cid = str(commitment_cid(job.result_digest))
        lines.append(f"result {_short(result_cid)} hashes to the digest the nodes confirmed")
        lines.append(f"model {_short(document['model']['content'])} decrypted with the agent's key")
        lines.append(f"accuracy on the held-out split: {accuracy:.3f}")

    with narrator.step("the trained model becomes a derived model NFT") as lines:
        trained_path = workdir / "trained-model.npz"
        trained_path.write_bytes(trained.to_bytes())
        parents = [*(token.token_id for token in datasets), model.token_id]
        derived_metadata = ModelMetadata(
            name="tumour classifier, federated",
            description=f"trained by job #{job_id} across three hospitals under SecAgg+",
            properties=ModelProperties(
                framework="numpy",
                task="binary-classification",
                datasets=tuple(token.token_id for token in datasets),
                base_model=model.token_id,
                metrics={"accuracy": round(float(accuracy), 4)},
            ),
        )
        agent_assets = compute.assets
        minted_derived = agent_assets.mint_model(trained_path, derived_metadata, parents=parents)
        on_chain = agent_assets.asset(minted_derived.token_id)  # metadata checked against chain
        fetched = agent_assets.fetch(minted_derived.token_id, workdir / "fetched-model.npz")
        verified = verified and fetched.read_bytes() == trained.to_bytes()
        derived = DemoToken.of(
            minted_derived, "model", derived_metadata.name, "agent", parents=on_chain.parents
        )
        lines.append(
            f"#{derived.token_id} {derived.name}, parents "
            + ", ".join(f"#{p}" for p in derived.parents)
        )

    payments: list[DemoPayment] = []
    with narrator.step("the payment is split and withdrawn") as lines:
        payees = [*_HOSPITALS, "model owner", "agent"]
        credited = {role: troika.jobs.owed(roles[role].address) for role in payees}
        for role in payees:
            withdrawn = 0
            if credited[role]:
                withdrawn = troika.jobs.withdraw(sender=roles[role].signer)
            payments.append(DemoPayment(role, roles[role].address, credited[role], withdrawn))
            lines.append(
                f"{role:<12} {_eth(credited[role]):>14} credited, {_eth(withdrawn)} withdrawn"
            )
        dust = credited["agent"]
        lines.append(
            "dataset owners 60 %, model owner 25 %, nodes 15 % (each hospital runs its own "
            "node); rounding dust back to the agent"
        )
        lines.append(f"total {_eth(sum(credited.values()))} of {_eth(DEMO_PAYMENT)}")

    identities: list[DemoDID] = []
    with narrator.step("every DID resolves") as lines:
        for role, identity in roles.items():
            resolved = troika.did.resolve_document(identity.did)
            methods = resolved.verification_method or ()
            profile = next(
                (s.service_endpoint for s in resolved.service or () if s.type == "TroikaProfile"),
                None,
            )
            identities.append(
                DemoDID(
                    role=role,
                    name=identity.name,
                    kind=identity.kind,
                    did=str(identity.did),
                    address=identity.address,
                    controller=str(identity.controller) if identity.controller else None,
                    verification_methods=len(methods),
                    key_agreement=len(resolved.methods_for("keyAgreement")),
                    profile_kind=profile.get("kind") if isinstance(profile, dict) else None,
                )
            )
            agreement = "X25519 key agreement" if identities[-1].key_agreement else "no X25519"
            lines.append(
                f"{role:<12} {_short(str(identity.did), 20)}  {len(methods)} keys, {agreement}"
            )

    with narrator.step("the centralised baseline") as lines:
        import numpy as np
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        x_union = np.concatenate([x for x, _ in shards])
        y_union = np.concatenate([y for _, y in shards])
        baseline = LogisticRegression(max_iter=5000).fit(x_union, y_union)
        baseline_accuracy = float(baseline.score(x_test, y_test))
        lines.append(
            f"scikit-learn on the union of the shards: {baseline_accuracy:.3f}; "
            f"federated: {accuracy:.3f} ({(accuracy - baseline_accuracy) * 100:+.1f} points)"
        )

    return DemoSummary(
        chain_url=chain.url,
        chain_id=chain.chain_id,
        embedded=chain.is_embedded,
        ipfs=troika.settings.ipfs_api or str(troika.settings.home / "ipfs"),
        identities=tuple(identities),
        datasets=tuple(datasets),
        model=model,
        derived=derived,
        job=DemoJob(
            job_id=job_id,
            status=job.status.label,
            rounds=params.rounds,
            secure=params.secure,
            num_nodes=job.nodes,
            num_shares=params.num_shares,
            reconstruction_threshold=params.reconstruction_threshold,
            payment=job.payment,
            result_cid=result_cid,
            model_digest=trained.digest(),
            verified=verified,
            seconds=round(training_seconds, 3),
        ),
        accuracy=float(accuracy),
        baseline_accuracy=baseline_accuracy,
        test_rows=len(y_test),
        payments=tuple(payments),
        dust=dust,
        seconds=round(narrator.elapsed, 3),
        steps=narrator.steps,
    )
