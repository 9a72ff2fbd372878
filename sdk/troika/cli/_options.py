"""Options that several ``troika`` commands share, defined once."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = [
    "ChunkSizeOption",
    "CidVersionOption",
    "DereferenceOption",
    "HiddenOption",
    "HomeOption",
    "ImportPathArgument",
    "JsonOption",
    "PasswordFileOption",
    "ProfileOption",
    "RawLeavesOption",
    "emit",
    "fields_table",
    "password",
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

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="The troika home [env: TROIKA_HOME].", show_default=False),
]


def password(password_file: Path | None, *, confirm: bool) -> str:
    """A key's password: ``--password-file``, else env ``TROIKA_KEY_PASSWORD``, else a prompt."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read password file {str(password_file)!r}: {exc.strerror}"
            ) from exc
    from_env = os.environ.get("TROIKA_KEY_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise typer.BadParameter(
            "no password: pass --password-file, set TROIKA_KEY_PASSWORD, or run in a terminal"
        )
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from this file [else env TROIKA_KEY_PASSWORD, else a prompt].",
        show_default=False,
    ),
]


_out = Console(highlight=False)


def emit(as_json: bool, data: Mapping[str, Any], rendered: Table | str) -> None:
    """Print ``data`` as one JSON object for scripts, else ``rendered`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    else:
        _out.print(rendered)


def fields_table(
    title: str, data: Mapping[str, Any], *, show: Callable[[str, Any], str] | None = None
) -> Table:
    """A two-column table of ``data``'s fields (``show(name, value)`` renders a value)."""
    table = Table(title=title, show_header=False)
    for name, value in data.items():
        table.add_row(name, show(name, value) if show is not None else str(value))
    return table
