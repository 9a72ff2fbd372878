"""``troika asset``: mint, show, list, license and fetch data and model assets.

The commands act as one key of the troika keystore (``--key``), on the chain
of the settings (``--rpc``; the embedded EVM lasts one command only, so use a
node to keep what you mint) and on the IPFS store of the settings (``--ipfs``
for a Kubo node, else the local store under the troika home).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from troika.cli._ipfs import _progress_bar
from troika.cli._options import (
    HomeOption,
    JsonOption,
    PasswordFileOption,
    emit,
    fields_table,
    password,
)

if TYPE_CHECKING:
    from troika.assets import Assets, MintProgress

__all__ = ["asset_app"]

asset_app = typer.Typer(
    help="Data and model NFTs: mint, show, list, license, fetch.", no_args_is_help=True
)
mint_app = typer.Typer(help="Pin a file (encrypted by default) and mint it.", no_args_is_help=True)
license_app = typer.Typer(help="Licences to use an asset.", no_args_is_help=True)
asset_app.add_typer(mint_app, name="mint")
asset_app.add_typer(license_app, name="license")

_out = Console(highlight=False)

RpcOption = Annotated[
    str | None,
    typer.Option("--rpc", help="JSON-RPC URL [env: TROIKA_RPC_URL]; unset: embedded EVM."),
]
IpfsOption = Annotated[
    str | None,
    typer.Option("--ipfs", help="Kubo RPC API URL [env: TROIKA_IPFS_API]; unset: the local store."),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--key", help="The keystore key that acts (signs, owns, decrypts)."),
]
TokenArgument = Annotated[int, typer.Argument(help="The token id.", min=1)]


@contextmanager
def _assets(
    rpc: str | None,
    ipfs: str | None,
    home: Path | None,
    key: str | None,
    password_file: Path | None,
    *,
    deploy: bool = False,
) -> Iterator[Assets]:
    """An :class:`Assets` on the configured chain and store, acting as ``key``;
    with ``deploy``, the registry is deployed if the chain has none recorded."""
    from troika._config import load_settings
    from troika.assets import AssetRegistry, Assets
    from troika.chain import Chain, Keystore
    from troika.did import Identity
    from troika.ipfs import KuboStore, LocalStore

    settings = load_settings(home=home, rpc_url=rpc, ipfs_api=ipfs)
    chain = Chain.from_settings(settings)
    identity = None
    if key is not None:
        signer = Keystore(settings.home).unlock(key, password(password_file, confirm=False))
        identity = Identity.of(signer, chain.chain_id, name=key)
    store = (
        KuboStore(settings.ipfs_api) if settings.ipfs_api else LocalStore(settings.home / "ipfs")
    )
    try:
        with chain:
            yield Assets(
                chain,
                store,
                None if deploy else AssetRegistry.at(chain),
                identity=identity,
                journal=settings.home / "assets" / f"journal-{chain.chain_id}.json",
            )
    finally:
        if isinstance(store, KuboStore):
            store.close()


def _expiry(text: str) -> dt.datetime:
    """An ISO date or datetime (UTC unless it says otherwise)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"--until {text!r}: expected an ISO date, e.g. 2027-01-31"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _mint(
    kind: str,
    path: Path,
    fields: dict[str, Any],
    *,
    encrypt: bool,
    royalty: int,
    parents: list[int],
    connection: dict[str, Any],
    as_json: bool,
) -> None:
    from troika.assets import DatasetMetadata, ModelMetadata

    model = DatasetMetadata if kind == "dataset" else ModelMetadata
    metadata: Any = model.model_validate(fields)
    bar = _progress_bar(not as_json)
    task: Any = None

    def progress(event: MintProgress) -> None:
        if bar is None:
            return
        if event.stage == "pin":
            bar.update(task, completed=event.bytes_done, total=event.bytes_total)
        else:
            bar.update(task, description=f"minting {path.name}")

    with _assets(**connection, deploy=True) as assets, bar if bar is not None else nullcontext():
        if bar is not None:
            task = bar.add_task(f"pinning {path.name}", total=None)
        if kind == "dataset":
            minted = assets.mint_dataset(
                path, metadata, encrypt=encrypt, royalty_bps=royalty, progress=progress
            )
        else:
            minted = assets.mint_model(
                path,
                metadata,
                encrypt=encrypt,
                royalty_bps=royalty,
                parents=parents,
                progress=progress,
            )
    data = {
        "token_id": minted.token_id,
        "owner": minted.owner,
        "metadata": str(minted.metadata_cid),
        "content": str(minted.content_cid),
        "envelope": str(minted.envelope_cid) if minted.envelope_cid else None,
        "tx_hash": minted.tx_hash,
    }
    table = fields_table(
        f"minted {kind} {minted.token_id}",
        data,
        show=lambda name, value: (
            "(already minted)" if value is None and name == "tx_hash" else str(value)
        ),
    )
    emit(as_json, data, table)


NameOption = Annotated[str, typer.Option("--name", help="The asset's name.")]
DescriptionOption = Annotated[str, typer.Option("--description", help="What it is.")]
MediaTypeOption = Annotated[
    str, typer.Option("--media-type", help="The content's media type, e.g. text/csv.")
]
EncryptOption = Annotated[
    bool,
    typer.Option(
        "--encrypt/--public", help="Encrypt the content to the owner's DID key before pinning."
    ),
]
RoyaltyOption = Annotated[
    int, typer.Option("--royalty", help="ERC-2981 royalty in basis points.", min=0, max=10_000)
]


@mint_app.command("dataset")
def mint_dataset(
    path: Annotated[Path, typer.Argument(help="The dataset: one file.")],
    name: NameOption,
    description: DescriptionOption = "",
    media_type: MediaTypeOption = "application/octet-stream",
    encrypt: EncryptOption = True,
    royalty: RoyaltyOption = 0,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pin a dataset (encrypted to the key's DID unless --public) and mint it to the key."""
    fields = {
        "name": name,
        "description": description,
        "properties": {"kind": "dataset", "media_type": media_type},
    }
    connection = {
        "rpc": rpc,
        "ipfs": ipfs,
        "home": home,
        "key": key,
        "password_file": password_file,
    }
    _mint(
        "dataset",
        path,
        fields,
        encrypt=encrypt,
        royalty=royalty,
        parents=[],
        connection=connection,
        as_json=as_json,
    )


@mint_app.command("model")
def mint_model(
    path: Annotated[Path, typer.Argument(help="The model's weights: one file (data, not code).")],
    name: NameOption,
    framework: Annotated[str, typer.Option("--framework", help="e.g. numpy, pytorch.")],
    task: Annotated[str, typer.Option("--task", help="e.g. classification.")],
    description: DescriptionOption = "",
    media_type: MediaTypeOption = "application/octet-stream",
    parent: Annotated[
        list[int] | None,
        typer.Option("--parent", help="A token it derives from (repeat for several)."),
    ] = None,
    encrypt: EncryptOption = True,
    royalty: RoyaltyOption = 0,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pin a model (encrypted to the key's DID unless --public) and mint it to the key."""
    fields = {
        "name": name,
        "description": description,
        "properties": {
            "kind": "model",
            "media_type": media_type,
            "framework": framework,
            "task": task,
        },
    }
    connection = {
        "rpc": rpc,
        "ipfs": ipfs,
        "home": home,
        "key": key,
        "password_file": password_file,
    }
    _mint(
        "model",
        path,
        fields,
        encrypt=encrypt,
        royalty=royalty,
        parents=parent or [],
        connection=connection,
        as_json=as_json,
    )


@asset_app.command("show")
def show(
    token_id: TokenArgument,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a token: owner, kind, metadata (verified against the chain) and content."""
    with _assets(rpc, ipfs, home, None, None) as assets:
        asset = assets.asset(token_id)
    properties = asset.metadata.properties
    data = {
        "token_id": asset.token_id,
        "kind": asset.kind.name.lower(),
        "owner": asset.owner,
        "name": asset.metadata.name,
        "metadata": str(asset.metadata_cid),
        "content": properties.content,
        "size": properties.size,
        "checksum": properties.checksum,
        "encrypted": asset.encrypted,
        "parents": list(asset.parents),
        "royalty_bps": asset.royalty_bps,
        "royalty_receiver": asset.royalty_receiver,
    }
    emit(as_json, data, fields_table(f"asset {token_id}", data))


@asset_app.command("list")
def list_assets(
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="An address or DID [default: the --key's address]."),
    ] = None,
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the tokens an account holds (from the registry's Transfer events)."""
    with _assets(rpc, ipfs, home, key if owner is None else None, password_file) as assets:
        who: Any = owner if owner is not None else assets.identity
        if who is None:
            raise typer.BadParameter("give --owner, or --key to list your own")
        tokens = assets.assets_of(who)
        address = assets.account_of(who)
    table = Table(title=f"assets of {address}")
    table.add_column("token")
    for token in tokens:
        table.add_row(str(token))
    emit(as_json, {"owner": address, "tokens": tokens}, table)


@license_app.command("grant")
def license_grant(
    token_id: TokenArgument,
    licensee: Annotated[str, typer.Argument(help="The licensee: a DID or an address.")],
    until: Annotated[str, typer.Option("--until", help="ISO date or datetime (UTC by default).")],
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let LICENSEE use the token until --until; private content's key is wrapped to its DID."""
    expiry = _expiry(until)
    with _assets(rpc, ipfs, home, key, password_file) as assets:
        tx_hash = assets.grant_license(token_id, licensee, expiry)
    data = {
        "token_id": token_id,
        "licensee": licensee,
        "until": expiry.isoformat(),
        "tx_hash": tx_hash,
    }
    emit(as_json, data, f"licensed token {token_id} to {licensee} until {expiry.isoformat()}")


@license_app.command("revoke")
def license_revoke(
    token_id: TokenArgument,
    licensee: Annotated[str, typer.Argument(help="The licensee: a DID or an address.")],
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """End LICENSEE's licence now (a key it already fetched cannot be taken back)."""
    with _assets(rpc, ipfs, home, key, password_file) as assets:
        tx_hash = assets.revoke_license(token_id, licensee)
    data = {"token_id": token_id, "licensee": licensee, "tx_hash": tx_hash}
    emit(as_json, data, f"revoked the licence of {licensee} on token {token_id}")


@asset_app.command("fetch")
def fetch(
    token_id: TokenArgument,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the content.")],
    key: KeyOption = None,
    password_file: PasswordFileOption = None,
    rpc: RpcOption = None,
    ipfs: IpfsOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the token's content to OUTPUT, verified, and decrypted with the --key's DID key."""
    with _assets(rpc, ipfs, home, key, password_file) as assets:
        written = assets.fetch(token_id, output)
    emit(as_json, {"token_id": token_id, "path": str(written)}, str(written))
