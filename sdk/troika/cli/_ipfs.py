"""``troika ipfs ...``: content addressing and IPFS nodes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ipfs_app"]

ipfs_app = typer.Typer(
    help="Content addressing (Kubo-identical CIDs) and IPFS nodes.", no_args_is_help=True
)


@ipfs_app.command("cid")
def ipfs_cid(
    path: Annotated[Path, typer.Argument(help="A file, symlink or folder (imported recursively).")],
    profile: Annotated[
        str, typer.Option("--profile", help="kubo-v0 (Kubo's default) or v1-2025.")
    ] = "kubo-v0",
    cid_version: Annotated[
        int | None,
        typer.Option(
            "--cid-version",
            help="0 or 1 [default: the profile's]; 1 implies --raw-leaves, as in Kubo.",
            show_default=False,
        ),
    ] = None,
    raw_leaves: Annotated[
        bool | None,
        typer.Option(
            "--raw-leaves/--no-raw-leaves",
            help="Leaves as raw blocks or dag-pb nodes [default: the profile's].",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size", help="Bytes per chunk [default: the profile's].", show_default=False
        ),
    ] = None,
    hidden: Annotated[
        bool, typer.Option("--hidden", help="Include entries whose names start with a dot.")
    ] = False,
    dereference_symlinks: Annotated[
        bool,
        typer.Option(
            "--dereference-symlinks", help="Import what symlinks point to, not the links."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the CID that `ipfs add --only-hash` gives for PATH, computed by troika."""
    from troika.ipfs import cid_of

    root = cid_of(
        path,
        profile=profile,
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
        hidden=hidden,
        follow_symlinks=dereference_symlinks,
    )
    if as_json:
        sys.stdout.write(json.dumps({"cid": str(root), "path": str(path), "profile": profile}))
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"{root}\n")
