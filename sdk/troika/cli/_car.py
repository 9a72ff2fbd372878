"""``troika ipfs car ...``: CAR v1 files."""

from __future__ import annotations

import typer

__all__ = ["car_app"]

car_app = typer.Typer(help="CAR v1 files: create and verify.", no_args_is_help=True)
