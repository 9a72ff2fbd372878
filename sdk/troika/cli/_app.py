"""The ``troika`` command: a thin shell over the public API."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from troika._config import Settings, load_settings
from troika._errors import TroikaError
from troika._version import __version__
from troika.cli import _did_serve  # noqa: F401  (registers `troika did serve`)
from troika.cli._asset import asset_app
from troika.cli._car import car_app
from troika.cli._compute import compute_app
from troika.cli._demo import demo
from troika.cli._did import did_app
from troika.cli._ipfs import ipfs_app
from troika.cli._options import HomeOption, JsonOption, PasswordFileOption, emit, password

__all__ = ["app", "main"]

app = typer.Typer(
    name="troika",
    help="troika: identities, data and model NFTs, and private compute on EVM chains.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks with locals could print a password or key: never.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
chain_app = typer.Typer(help="The chain troika talks to.", no_args_is_help=True)
keys_app = typer.Typer(help="Encrypted keys in the troika home.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(keys_app, name="keys")
app.add_typer(ipfs_app, name="ipfs")
app.add_typer(did_app, name="did")
app.add_typer(asset_app, name="asset")
app.add_typer(compute_app, name="compute")
ipfs_app.add_typer(car_app, name="car")
app.command("demo")(demo)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"troika {__version__}\n")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On a troika error, print its traceback too."),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="TROIKA_LOG_LEVEL",
            help="Log to stderr at DEBUG, INFO, WARNING or ERROR (keys are never logged).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """troika: identities, data and model NFTs, and private compute on EVM chains."""
    _options["debug"] = debug
    if log_level is not None:
        level = logging.getLevelName(log_level.upper())
        if not isinstance(level, int):
            raise typer.BadParameter(f"--log-level {log_level!r}: DEBUG, INFO, WARNING or ERROR")
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


# -- chain -------------------------------------------------------------------


@chain_app.command("info")
def chain_info(
    rpc_url: Annotated[
        str | None,
        typer.Option("--rpc", help="JSON-RPC URL [env: TROIKA_RPC_URL]; unset: embedded EVM."),
    ] = None,
    chain_id: Annotated[
        int | None, typer.Option("--chain-id", help="The chain id the node must serve.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the chain id, latest block and usable accounts."""
    from troika.chain import Chain

    chain = Chain.from_settings(load_settings(rpc_url=rpc_url, chain_id=chain_id))
    balances = {address: chain.balance(address) for address in chain.accounts}
    data = {
        "url": chain.url,
        "embedded": chain.is_embedded,
        "chain_id": chain.chain_id,
        "block": chain.block_number,
        "accounts": [{"address": a, "balance": wei} for a, wei in balances.items()],
    }
    table = Table(title="chain", show_header=False)
    table.add_row("url", chain.url + (" (in-process EVM)" if chain.is_embedded else ""))
    table.add_row("chain id", str(data["chain_id"]))
    table.add_row("block", str(data["block"]))
    for address, wei in balances.items():
        table.add_row("account", f"{address}  {wei / 10**18:,.4f} ETH")
    emit(as_json, data, table)


# -- keys --------------------------------------------------------------------


def _keystore(home: Path | None) -> Any:
    from troika.chain import Keystore

    settings: Settings = load_settings(home=home)
    return Keystore(settings.home)


@keys_app.command("new")
def keys_new(
    name: Annotated[str, typer.Argument(help="A name for the key (a file name).")],
    password_file: PasswordFileOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key, encrypted (keystore v3, scrypt) under the troika home."""
    store = _keystore(home)
    info = store.new(name, password(password_file, confirm=True))
    emit(
        as_json,
        {"name": info.name, "address": info.address, "path": str(info.path)},
        f"created key [bold]{info.name}[/] {info.address}\n  {info.path}",
    )


@keys_app.command("list")
def keys_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the keys in the keystore (addresses only; nothing is decrypted)."""
    infos = _keystore(home).list()
    table = Table(title="keys")
    table.add_column("name")
    table.add_column("address")
    for info in infos:
        table.add_row(info.name, info.address or "(not in the file)")
    emit(as_json, {"keys": [{"name": i.name, "address": i.address} for i in infos]}, table)


@keys_app.command("show")
def keys_show(
    name: Annotated[str, typer.Argument(help="The key's name or address.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a key's address and file (never the key itself)."""
    info = _keystore(home).show(name)
    table = Table(show_header=False)
    table.add_row("name", info.name)
    table.add_row("address", info.address or "(not in the file)")
    table.add_row("file", str(info.path))
    emit(as_json, {"name": info.name, "address": info.address, "path": str(info.path)}, table)


# What the root options asked for, read by main() after the command ran.
_options: dict[str, bool] = {"debug": False}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a troika error prints one line on stderr and exits 1.

    Usage errors (a missing argument, a bad option) exit 2, as typer does.
    """
    try:
        app(args=argv, prog_name="troika", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except TroikaError as exc:
        if _options["debug"]:
            traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0
