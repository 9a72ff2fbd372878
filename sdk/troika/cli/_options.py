"""Options that several ``troika`` commands share, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "ChunkSizeOption",
    "CidVersionOption",
    "DereferenceOption",
    "HiddenOption",
    "ImportPathArgument",
    "JsonOption",
    "ProfileOption",
    "RawLeavesOption",
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]

# How `ipfs add` turns a path into blocks: the same knobs as Kubo's.
ImportPathArgument = Annotated[
    Path, typer.Argument(help="A file, symlink or folder (imported recursively).")
]
ProfileOption = Annotated[
    str, typer.Option("--profile", help="kubo-v0 (Kubo's default) or v1-2025.")
]
CidVersionOption = Annotated[
    int | None,
    typer.Option(
        "--cid-version",
        help="0 or 1 [default: the profile's]; 1 implies --raw-leaves, as in Kubo.",
        show_default=False,
    ),
]
RawLeavesOption = Annotated[
    bool | None,
    typer.Option(
        "--raw-leaves/--no-raw-leaves",
        help="Leaves as raw blocks or dag-pb nodes [default: the profile's].",
        show_default=False,
    ),
]
ChunkSizeOption = Annotated[
    int | None,
    typer.Option(
        "--chunk-size", help="Bytes per chunk [default: the profile's].", show_default=False
    ),
]
HiddenOption = Annotated[
    bool, typer.Option("--hidden", help="Include entries whose names start with a dot.")
]
DereferenceOption = Annotated[
    bool,
    typer.Option("--dereference-symlinks", help="Import what symlinks point to, not the links."),
]
