"""``troika did ...``: resolve DIDs and serve a resolver."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

__all__ = ["did_app"]

did_app = typer.Typer(help="Decentralized identifiers: resolve, serve.", no_args_is_help=True)


@did_app.command("resolve")
def did_resolve(
    did_url: Annotated[str, typer.Argument(help="The DID (or DID URL) to resolve.")],
    rpc_url: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="JSON-RPC URL for did:ethr; it answers to its chain id "
            "(did:ethr:0x7a69:...) [env: TROIKA_RPC_URL].",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Ask for a fresh copy (the noCache resolution option)."),
    ] = False,
) -> None:
    """Resolve a DID and print the whole resolution result as JSON.

    The result holds didDocument, didResolutionMetadata and didDocumentMetadata,
    as DID Resolution specifies. When it failed (didResolutionMetadata.error is
    set, e.g. invalidDid, notFound, methodNotSupported) the result is printed
    all the same, and the command exits with status 1.
    """
    from troika._config import load_settings
    from troika.did import EthrResolver, Resolver, WebResolver

    settings = load_settings(rpc_url=rpc_url)
    options = {"noCache": True} if no_cache else {}
    with EthrResolver.from_settings(settings) as ethr, WebResolver() as web:
        resolver = Resolver()
        resolver.register("ethr", ethr)
        resolver.register("web", web)
        result = resolver.resolve(did_url, **options)
    sys.stdout.write(result.to_json(indent=2) + "\n")
    if result.error is not None:
        raise typer.Exit(1)
