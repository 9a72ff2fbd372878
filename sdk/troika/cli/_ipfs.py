"""``troika ipfs ...``: content addressing and IPFS nodes."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

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

__all__ = ["ipfs_app"]

ipfs_app = typer.Typer(
    help="Content addressing (Kubo-identical CIDs) and IPFS nodes.", no_args_is_help=True
)


@ipfs_app.command("cid")
def ipfs_cid(
    path: ImportPathArgument,
    profile: ProfileOption = "kubo-v0",
    cid_version: CidVersionOption = None,
    raw_leaves: RawLeavesOption = None,
    chunk_size: ChunkSizeOption = None,
    hidden: HiddenOption = False,
    dereference_symlinks: DereferenceOption = False,
    as_json: JsonOption = False,
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


def _progress_bar(enabled: bool) -> Any:
    """A rich progress bar on stderr, or None when it would only get in the way."""
    if not enabled or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _kubo_url(api: str | None) -> str:
    from troika._config import load_settings
    from troika._errors import ConfigError

    url = api or load_settings().ipfs_api
    if url is None:
        raise ConfigError("ipfs_api", None, "pass --api URL or set TROIKA_IPFS_API")
    return url


ApiOption = Annotated[
    str | None,
    typer.Option("--api", help="Kubo RPC API URL [env: TROIKA_IPFS_API].", show_default=False),
]


@ipfs_app.command("add")
def ipfs_add(
    path: Annotated[Path, typer.Argument(help="A file, symlink or folder (added recursively).")],
    to: Annotated[
        str, typer.Option("--to", help="local (the troika home), kubo or service.")
    ] = "local",
    api: ApiOption = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--service",
            help="Pinning service endpoint [env: TROIKA_PINNING_ENDPOINT]; the token "
            "comes from env TROIKA_PINNING_TOKEN.",
            show_default=False,
        ),
    ] = None,
    profile: ProfileOption = "kubo-v0",
    cid_version: CidVersionOption = None,
    raw_leaves: RawLeavesOption = None,
    chunk_size: ChunkSizeOption = None,
    hidden: HiddenOption = False,
    dereference_symlinks: DereferenceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add PATH (CID as `ipfs add` computes it), store it and pin it; print the CID.

    With --to service, PATH goes into the Kubo node (--api) and the pinning
    service pins it from there.
    """
    import os

    from troika._errors import ConfigError
    from troika.ipfs import KuboStore, PinningService, add, default_store

    if to not in ("local", "kubo", "service"):
        raise ConfigError("--to", to, "expected local, kubo or service")
    service: PinningService | None = None
    if to == "service":
        endpoint = endpoint or os.environ.get("TROIKA_PINNING_ENDPOINT")
        token = os.environ.get("TROIKA_PINNING_TOKEN")
        if not endpoint:
            raise ConfigError(
                "pinning endpoint", None, "pass --service or set TROIKA_PINNING_ENDPOINT"
            )
        if not token:
            raise ConfigError("pinning token", None, "set TROIKA_PINNING_TOKEN")
        service = PinningService(endpoint, token)
    bar = _progress_bar(not as_json)
    task = None

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            bar.update(task, completed=done, total=total)

    options = {
        "profile": profile,
        "cid_version": cid_version,
        "raw_leaves": raw_leaves,
        "chunk_size": chunk_size,
        "hidden": hidden,
        "follow_symlinks": dereference_symlinks,
    }
    try:
        with bar if bar is not None else nullcontext():
            if bar is not None:
                task = bar.add_task(f"adding {path.name}", total=None)
            if to == "local":
                root = add(path, store=default_store(), progress=progress, **options)  # type: ignore[arg-type]
            else:
                with KuboStore(_kubo_url(api)) as node:
                    root = add(path, store=node, progress=progress, service=service, **options)  # type: ignore[arg-type]
    finally:
        if service is not None:
            service.close()
    if as_json:
        sys.stdout.write(json.dumps({"cid": str(root), "path": str(path), "to": to}) + "\n")
    else:
        sys.stdout.write(f"{root}\n")


@ipfs_app.command("get")
def ipfs_get(
    cid: Annotated[str, typer.Argument(help="The CID to fetch.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write it.")],
    source: Annotated[
        str, typer.Option("--from", help="local (the troika home), kubo or gateway.")
    ] = "local",
    api: ApiOption = None,
    gateway_url: Annotated[
        str | None,
        typer.Option("--gateway", help="Trustless gateway URL (with --from gateway)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write CID (file or folder) to OUTPUT, every block verified against its CID."""
    from troika._errors import ConfigError
    from troika.ipfs import CID, DEFAULT_GATEWAY_URL, Gateway, KuboStore, default_store, get_to

    root = CID.parse(cid)
    if source == "local":
        written = get_to(root, output, source=default_store())
    elif source == "kubo":
        with KuboStore(_kubo_url(api)) as node:
            written = get_to(root, output, source=node)
    elif source == "gateway":
        with Gateway(gateway_url or DEFAULT_GATEWAY_URL) as gateway:
            written = get_to(root, output, source=gateway)
    else:
        raise ConfigError("--from", source, "expected local, kubo or gateway")
    if as_json:
        sys.stdout.write(json.dumps({"cid": str(root), "path": str(written)}) + "\n")
    else:
        sys.stdout.write(f"{written}\n")
