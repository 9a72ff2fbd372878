"""``troika compute``: request jobs, follow them, read results, run a node."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console

from troika.cli._asset import IpfsOption, KeyOption, RpcOption, _assets
from troika.cli._options import HomeOption, JsonOption, PasswordFileOption, emit, fields_table

if TYPE_CHECKING:
    from troika.compute._jobs import ComputeJobs
    from troika.compute._node import Compute, Node

__all__ = ["compute_app"]

compute_app = typer.Typer(
    help="Private compute jobs: request, status, result, and a data owner's node.",
    no_args_is_help=True,
)
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


@contextmanager
def _market(
    rpc: str | None,
    ipfs: str | None,
    home: Path | None,
    key: str | None,
    password_file: Path | None,
    *,
    deploy: bool = False,
) -> Iterator[tuple[ComputeJobs, Compute | None, Any]]:
    """The market on the configured chain, and a requester acting as ``key``."""
    from troika.compute._jobs import ComputeJobs
    from troika.compute._node import Compute

    with _assets(rpc, ipfs, home, key, password_file, deploy=deploy) as assets:
        if deploy:
            jobs = ComputeJobs.at_or_deploy(
                assets.chain, assets.registry.address, sender=assets.sender
            )
        else:
            jobs = ComputeJobs.at(assets.chain)
        yield jobs, Compute(jobs, assets) if assets.identity is not None else None, assets


@compute_app.command("request")
def request(
    kind: Annotated[str, typer.Argument(help="federated-train, evaluate or stats.")],
    dataset: Annotated[
        list[int], typer.Option("--dataset", help="A dataset token (repeat for several).")
    ],
    payment: Annotated[
        int,
        typer.Option("--payment", help="In wei (or the --token's unit), escrowed until settled."),
    ],
    model: Annotated[int, typer.Option("--model", help="The model token (train, evaluate).")] = 0,
    params: Annotated[
        Path | None, typer.Option("--params", help="A JSON file of the kind's parameters.")
    ] = None,
    minutes: Annotated[
        int, typer.Option("--minutes", help="The deadline, in minutes from now.", min=1)
    ] = 60,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Privacy each dataset spends.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Pay in this ERC-20 token (its address) instead of the native coin; "
            "the market is approved for --payment first.",
        ),
    ] = None,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Request a job on licensed datasets (and a model), paying --payment wei
    (or --payment of the ERC-20 --token)."""
    fields: dict[str, Any] = {}
    if params is not None:
        try:
            fields = json.loads(params.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"--params {str(params)!r}: {exc}") from exc
    with _market(rpc, ipfs, home, key, password_file, deploy=True) as (jobs, compute, _):
        if compute is None:
            raise typer.BadParameter("give --key: the requester pays and decrypts the result")
        latest = jobs.chain.block("latest")
        start = latest.timestamp if latest is not None else int(time.time())
        job_id = compute.request(
            kind,
            dataset,
            model=model,
            params=fields,
            payment=payment,
            deadline=start + 60 * minutes,
            epsilon=epsilon,
            payment_token=token,
        )
    data: dict[str, Any] = {"job_id": job_id, "kind": kind}
    if token is not None:
        data["payment_token"] = token
    emit(as_json, data, f"requested job {job_id}")


@compute_app.command("status")
def status(
    job_id: Annotated[int, typer.Argument(help="The job id.", min=1)],
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a job as the chain records it."""
    with _market(rpc, ipfs, home, None, None) as (jobs, _, _):
        job = jobs.job(job_id)
    data = {
        "job_id": job.job_id,
        "kind": job.kind.label,
        "status": job.status.label,
        "requester": job.requester,
        "datasets": list(job.datasets),
        "model": job.model,
        "payment": job.payment,
        "payment_token": job.payment_token,
        "epsilon": job.epsilon,
        "deadline": job.deadline,
        "accepted": job.accepted,
        "confirmed": job.confirmed,
        "result_digest": job.result_digest.hex(),
    }
    emit(as_json, data, fields_table(f"job {job_id}", data))


@compute_app.command("result")
def result(
    job_id: Annotated[int, typer.Argument(help="The job id.", min=1)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write a trained model here.")
    ] = None,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch a completed job's result, verified against the chain and decrypted."""
    with _market(rpc, ipfs, home, key, password_file) as (_, compute, _):
        if compute is None:
            raise typer.BadParameter("give --key: the requester's key decrypts the result")
        outcome = compute.result(job_id)
    data: dict[str, Any] = {
        "job_id": job_id,
        "kind": outcome.kind.label,
        "metrics": dict(outcome.metrics),
        "value": outcome.value,
        "histogram": list(outcome.histogram) if outcome.histogram is not None else None,
    }
    if outcome.model is not None and output is not None:
        output.write_bytes(outcome.model.to_bytes())
        output.chmod(0o600)
        data["model"] = str(output)
    emit(as_json, data, fields_table(f"job {job_id} result", data))


@compute_app.command("withdraw")
def withdraw(
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Collect the credits in this ERC-20 token (its address) instead of the "
            "native coin.",
        ),
    ] = None,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Collect what the market owes the --key's account (a requester's refunds
    and dust, a dataset owner's or a node's payments): in the native coin, or
    in the ERC-20 --token; 0 if nothing is owed."""
    with _market(rpc, ipfs, home, key, password_file) as (jobs, _, assets):
        if assets.identity is None or assets.sender is None:
            raise typer.BadParameter("give --key: the market pays the key's account")
        account = assets.identity.address
        amount = 0
        if jobs.owed(account, token=token) > 0:
            amount = jobs.withdraw(sender=assets.sender, token=token)
    data: dict[str, Any] = {"account": account, "amount": amount, "token": token}
    unit = f"of token {token}" if token is not None else "wei"
    emit(as_json, data, f"withdrew {amount} {unit} to {account}")


class _DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: int = Field(gt=0)
    data: Path
    kinds: list[str] = ["federated-train", "evaluate", "stats"]
    models: list[int] | None = None
    min_payment: int = Field(0, ge=0)
    max_epsilon: float | None = Field(None, gt=0)
    # ERC-20 token address -> least payment in it; a token not listed is refused
    min_token_payments: dict[str, Annotated[int, Field(ge=0)]] = {}


class _FlowerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    superlink: str  # checked by FlowerSettings
    root_certificates: Path | None = None
    require_secure: bool = False


class _NodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    password_file: Path | None = None
    rpc: str | None = None
    ipfs: str | None = None
    home: Path | None = None
    state: Path | None = None
    interval: float = Field(2.0, gt=0)
    confirmations: int = Field(0, ge=0)
    datasets: list[_DatasetEntry] = Field(min_length=1)
    flower: _FlowerEntry | None = None


def _node_config(path: Path) -> _NodeConfig:
    from troika._errors import ConfigError

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("--config", str(path), f"not a readable TOML file: {exc}") from exc
    try:
        config = _NodeConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(where, first.get("input"), first["msg"]) from exc
    base = path.parent
    for entry in config.datasets:
        if not entry.data.is_absolute():
            entry.data = base / entry.data
    certificates = config.flower.root_certificates if config.flower is not None else None
    if config.flower is not None and certificates is not None and not certificates.is_absolute():
        config.flower.root_certificates = base / certificates
    return config


@compute_app.command("node")
def node(
    config: Annotated[Path, typer.Option("--config", help="The node's TOML configuration.")],
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
) -> None:
    """Run a data owner's node: watch the chain for jobs on its datasets,
    check policy, budget and licences, and accept; with a flower section,
    run a Flower SuperNode for the coordinator's SuperLink and confirm the
    results it delivers. Stops cleanly (the SuperNode too) on SIGTERM."""
    from troika._errors import ConfigError
    from troika.compute._jobs import JobKind
    from troika.compute._node import DatasetPolicy, FlowerSettings, Node

    settings = _node_config(config)
    policies = [
        DatasetPolicy(
            entry.token,
            entry.data,
            kinds=frozenset(JobKind.parse(kind) for kind in entry.kinds),
            models=frozenset(entry.models) if entry.models is not None else None,
            min_payment=entry.min_payment,
            max_epsilon=entry.max_epsilon,
            min_token_payments=dict(entry.min_token_payments),
        )
        for entry in settings.datasets
    ]
    flower = None
    if settings.flower is not None:
        try:
            flower = FlowerSettings(
                settings.flower.superlink,
                root_certificates=settings.flower.root_certificates,
                require_secure=settings.flower.require_secure,
            )
        except ConfigError as exc:  # named as in the file
            raise ConfigError(f"flower.{exc.field}", exc.value, "expected host:port") from exc
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        _err.print(f"troika compute node: {signal.Signals(number).name}, stopping")
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with _market(
            settings.rpc, settings.ipfs, settings.home, settings.key, settings.password_file
        ) as (jobs, _, assets):
            worker = Node(
                jobs,
                assets,
                policies,
                sender=assets.sender,
                state=settings.state or (config.parent / f"{config.stem}.state.json"),
                confirmations=settings.confirmations,
                flower=flower,
            )
            _err.print(f"troika compute node {worker.address}: datasets {sorted(worker.policies)}")
            with worker.supernode() if flower is not None else nullcontext():
                if flower is not None:
                    _err.print(f"troika compute node: SuperNode for SuperLink {flower.superlink}")
                _watch(worker, stop, settings.interval, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _err.print("troika compute node: stopped")


def _watch(worker: Node, stop: threading.Event, interval: float, *, once: bool) -> None:
    """Poll the chain (and confirm delivered results) until ``stop`` is set."""
    from troika._errors import ComputeError
    from troika.compute._node import _TRANSIENT

    while not stop.is_set():
        try:
            decisions = worker.poll()
        except (ComputeError, *_TRANSIENT) as exc:  # an outage: the next poll retries
            _err.print(f"poll failed: {exc}")
            decisions = []
        for decision in decisions:
            verdict = "accepted" if decision.accepted else f"refused: {decision.reason}"
            sys.stdout.write(
                json.dumps(
                    {
                        "job_id": decision.job_id,
                        "dataset": decision.dataset_id,
                        "accepted": decision.accepted,
                        "reason": decision.reason,
                    }
                )
                + "\n"
            )
            sys.stdout.flush()
            _err.print(f"job {decision.job_id}, dataset {decision.dataset_id}: {verdict}")
        exited = worker.revive_supernode()
        if exited is not None:
            _err.print(f"troika compute node: the SuperNode exited with {exited}; started again")
        try:
            for job_id in worker.confirm_delivered():
                _err.print(f"job {job_id}: result confirmed on chain")
        except (ComputeError, *_TRANSIENT) as exc:  # keep watching; the next round retries
            _err.print(f"job results: {exc}")
        if once:
            break
        stop.wait(interval)
