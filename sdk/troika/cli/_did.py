"""``troika did ...``: resolve DIDs and serve a resolver."""

from __future__ import annotations

import typer

__all__ = ["did_app"]

did_app = typer.Typer(help="Decentralized identifiers: resolve, serve.", no_args_is_help=True)
