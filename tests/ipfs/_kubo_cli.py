"""The ``ipfs`` CLI as the reference for CIDs: ``ipfs add --only-hash`` on a repo with no daemon.

On a repo without a daemon the CLI chunks and hashes in its own process, so
what it prints is Kubo's own importer at work, with the repo's ``Import.*``
configuration (which a profile such as ``unixfs-v1-2025`` sets).
"""

from __future__ import annotations

from pathlib import Path

from tests._services import Kubo


def standalone_repo(kubo: Kubo, path: Path, *profiles: str) -> Path:
    """A repo at ``path``, ``ipfs init --profile test[,profiles]``, that no daemon uses."""
    kubo.cli("init", "--profile", ",".join(("test", *profiles)), ipfs_path=path)
    return path


def add_options(
    *,
    cid_version: int | None = None,
    raw_leaves: bool | None = None,
    chunk_size: int | None = None,
    hidden: bool = False,
    follow_symlinks: bool = False,
) -> list[str]:
    """``ipfs add`` flags for troika's knobs; None leaves Kubo's (or the repo's) default."""
    args = []
    if cid_version is not None:
        args.append(f"--cid-version={cid_version}")
    if raw_leaves is not None:
        args.append(f"--raw-leaves={str(raw_leaves).lower()}")
    if chunk_size is not None:
        args.append(f"--chunker=size-{chunk_size}")
    if hidden:
        args.append("--hidden")
    if follow_symlinks:
        args.append("--dereference-symlinks")
    return args


def cli_add_only_hash(
    kubo: Kubo, data: bytes, cid_version: int, raw_leaves: bool | None, repo: Path | None
) -> str:
    """The CID of ``data`` (from stdin) by ``ipfs add --only-hash`` on ``repo`` (None: the
    daemon's own, so the CLI acts as an RPC client of the daemon)."""
    args = [
        "add",
        "-Q",
        "--only-hash",
        *add_options(cid_version=cid_version, raw_leaves=raw_leaves),
    ]
    return kubo.cli(*args, input=data, ipfs_path=repo)


def only_hash(kubo: Kubo, repo: Path, target: Path, *options: str) -> str:
    """The root CID of ``ipfs add -r -Q --only-hash OPTIONS TARGET`` on ``repo``."""
    return kubo.cli("add", "-r", "-Q", "--only-hash", *options, str(target), ipfs_path=repo)


def only_hash_each(kubo: Kubo, repo: Path, folder: Path, *options: str) -> dict[str, str]:
    """The CID of every entry under ``folder`` (relative paths, folder itself as ``""``)."""
    out = kubo.cli("add", "-r", "--only-hash", *options, str(folder), ipfs_path=repo)
    cids = {}
    for line in out.splitlines():
        _added, cid, name = line.split(" ", 2)
        relative = name.split("/", 1)[1] if "/" in name else ""
        cids[relative] = cid
    return cids
