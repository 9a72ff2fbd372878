"""``troika ipfs car ...``: CAR v1 files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from troika.cli._options import (
    ChunkSizeOption,
    CidVersionOption,
    DereferenceOption,
    HiddenOption,
    ImportPathArgument,
    JsonOption,
    ProfileOption,
    RawLeavesOption,
)

__all__ = ["car_app"]

car_app = typer.Typer(help="CAR v1 files: create and verify.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(1)


@car_app.command("verify")
def car_verify(
    file: Annotated[Path, typer.Argument(help="The CAR file (v1, or v2 with a v1 payload).")],
    as_json: JsonOption = False,
    max_block_size: Annotated[
        int | None,
        typer.Option(
            "--max-block-size", min=1, help="Refuse blocks larger than this (bytes) [4 MiB]."
        ),
    ] = None,
) -> None:
    """Check every block of a CAR against its CID; print its roots and block count.

    Exits 1 with one line on stderr if the file is truncated, malformed or
    tampered with.
    """
    from troika._errors import CARError
    from troika.ipfs import DEFAULT_MAX_BLOCK_SIZE, read_car

    try:
        stream = file.open("rb")
    except OSError as exc:
        raise _fail(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc
    with stream:
        try:
            reader = read_car(stream, max_block_size=max_block_size or DEFAULT_MAX_BLOCK_SIZE)
            blocks = size = 0
            for block in reader:
                blocks += 1
                size += len(block.data)
        except CARError as exc:
            raise _fail(f"{str(file)!r}: {exc}") from exc
        except OSError as exc:
            raise _fail(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc
    roots = [str(root) for root in reader.roots]
    if as_json:
        summary = {
            "file": str(file),
            "version": reader.version,
            "roots": roots,
            "blocks": blocks,
            "block_bytes": size,
        }
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
        return
    lines = [f"{file}: CARv{reader.version}, {blocks} blocks ({size} bytes), all verified"]
    lines += [f"root {root}" for root in roots] or ["no roots"]
    sys.stdout.write("\n".join(lines) + "\n")


@car_app.command("create")
def car_create(
    path: ImportPathArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The CAR file to write.", show_default=False)
    ],
    profile: ProfileOption = "kubo-v0",
    cid_version: CidVersionOption = None,
    raw_leaves: RawLeavesOption = None,
    chunk_size: ChunkSizeOption = None,
    hidden: HiddenOption = False,
    dereference_symlinks: DereferenceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write PATH as a CARv1, the same bytes as `ipfs add` then `ipfs dag export`; print its CID.

    The file appears only when it is complete: a failed import leaves nothing behind.
    """
    from troika.ipfs import car_file

    root = car_file(
        path,
        output,
        profile=profile,
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
        hidden=hidden,
        follow_symlinks=dereference_symlinks,
    )
    if as_json:
        summary = {"cid": str(root), "file": str(output), "bytes": output.stat().st_size}
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    else:
        sys.stdout.write(f"{root}\n")
