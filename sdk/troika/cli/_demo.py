"""``troika demo``: the data economy in one command, on the embedded defaults or a node and Kubo."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from troika.cli._options import JsonOption

if TYPE_CHECKING:
    from troika._demo import DemoSummary

__all__ = ["demo"]

#: The scrypt cost of the keys of a temporary home: throwaway keys, deleted when
#: the demo ends, so geth's standard cost (a second a key) would only slow it down.
_THROWAWAY_SCRYPT_N = 2**12


def demo(
    rpc_url: Annotated[
        str | None,
        typer.Option("--rpc", help="JSON-RPC URL (e.g. anvil); unset: the in-process EVM."),
    ] = None,
    ipfs_api: Annotated[
        str | None,
        typer.Option("--ipfs", help="Kubo RPC API URL; unset: a local blockstore."),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Keep the demo's keys and blocks here; unset: a temporary home, deleted after.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run troika's story end to end: DIDs for a person, her device and her AI
    agent; hospitals' encrypted dataset NFTs; a model NFT; a paid, licensed
    federated training job under SecAgg+; the result verified and minted as a
    derived model NFT; the payment split; every DID resolved.

    Needs no set-up and no network. Keys and blocks go to a temporary home
    (deleted at the end) unless --home is given; TROIKA_* settings and
    troika.toml are not read.
    """
    try:
        from troika._demo import run_demo
    except ImportError as exc:  # pragma: no cover - the compute extra is missing
        raise typer.BadParameter(
            f"troika demo needs the compute extra ({exc.name} is missing): "
            "pip install 'troika-sdk[compute]'"
        ) from exc
    from troika._client import Troika
    from troika._config import Settings
    from troika.chain import Keystore

    # With --json, stdout carries one JSON object: the panels go to stderr.
    console = Console(stderr=as_json, highlight=False)
    with tempfile.TemporaryDirectory(prefix="troika-demo-") as scratch:
        temporary = home is None
        base = Path(scratch) / "home" if home is None else home.expanduser()
        values: dict[str, Any] = {
            "home": base,
            "rpc_url": rpc_url,
            "ipfs_api": ipfs_api,
            "chain_id": None,
        }
        settings = Settings(**values)
        keystore = Keystore(base, scrypt_n=_THROWAWAY_SCRYPT_N) if temporary else None
        with Troika(settings, keystore=keystore) as troika:
            summary = run_demo(troika, console=console, workdir=Path(scratch) / "work")
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict(), sort_keys=True) + "\n")
    else:
        console.print(summary_table(summary))


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


def summary_table(summary: DemoSummary) -> Table:
    """The summary as one rich table: tokens, CIDs, the job, accuracy, payments."""
    table = Table(title=f"troika demo: {summary.seconds:.1f} s", show_lines=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    chain = "in-process EVM" if summary.embedded else summary.chain_url
    table.add_row("chain", f"{chain} (chain id {summary.chain_id})")
    table.add_row("ipfs", summary.ipfs)
    for identity in summary.identities:
        table.add_row(f"DID {identity.role}", identity.did)
    for token in (*summary.datasets, summary.model, summary.derived):
        parents = f", parents {list(token.parents)}" if token.parents else ""
        locked = "encrypted" if token.encrypted else "public"
        table.add_row(
            f"token #{token.token_id} {token.kind}",
            f"{token.name} ({token.owner_role}, {locked}{parents})\n"
            f"metadata {token.metadata_cid}\ncontent  {token.content_cid}",
        )
    job = summary.job
    table.add_row(
        f"job #{job.job_id}",
        f"{job.status}, {job.rounds} rounds, SecAgg+ over {job.num_nodes} nodes "
        f"({job.num_shares} shares, threshold {job.reconstruction_threshold}), "
        f"{'verified' if job.verified else 'NOT verified'}\nresult {job.result_cid}",
    )
    table.add_row(
        "accuracy",
        f"federated {summary.accuracy:.3f} vs centralised {summary.baseline_accuracy:.3f} "
        f"({(summary.accuracy - summary.baseline_accuracy) * 100:+.1f} points, "
        f"{summary.test_rows} held-out rows)",
    )
    for payment in summary.payments:
        table.add_row(f"paid {payment.role}", _eth(payment.credited))
    table.add_row("paid in total", f"{_eth(summary.paid_out)} of {_eth(job.payment)}")
    return table
