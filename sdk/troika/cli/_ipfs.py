"""``troika ipfs ...``: content addressing and IPFS nodes."""

from __future__ import annotations

import typer

__all__ = ["ipfs_app"]

ipfs_app = typer.Typer(
    help="Content addressing (Kubo-identical CIDs) and IPFS nodes.", no_args_is_help=True
)
