"""``troika did serve``: the resolver service (registered on ``did_app``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from troika.cli._did import did_app

__all__ = ["did_app"]

_NEEDS_EXTRA = "the resolver service needs Starlette and uvicorn: pip install 'troika-sdk[service]'"


@did_app.command("serve")
def did_serve(
    host: Annotated[
        str, typer.Option("--host", help="The address to listen on (loopback unless you say so).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The TCP port.", min=0, max=65535)] = 8080,
    rpc_url: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="JSON-RPC URL of the node for did:ethr (env TROIKA_RPC_URL); unset: none.",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="The troika home, where deployments are recorded (env TROIKA_HOME).",
            show_default=False,
        ),
    ] = None,
    cache_size: Annotated[
        int, typer.Option("--cache-size", help="Results kept in the cache.", min=1)
    ] = 4096,
    cache_ttl: Annotated[
        float, typer.Option("--cache-ttl", help="Seconds a result stays cached.", min=0.001)
    ] = 60.0,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn's log level (access logs stay off).")
    ] = "info",
) -> None:
    """Serve DID resolution over HTTP as a DIF Universal Resolver driver
    (GET /1.0/identifiers/{did}): did:key, did:pkh, did:web, and did:ethr on the node."""
    try:
        import uvicorn

        from troika.did._service import create_app
    except ImportError as exc:
        sys.stderr.write(f"error: {_NEEDS_EXTRA} ({exc})\n")
        raise typer.Exit(1) from exc
    from troika._config import load_settings
    from troika.did import ResolutionCache

    settings = load_settings(rpc_url=rpc_url, home=home)
    cache = ResolutionCache(cache_ttl, max_size=cache_size)
    uvicorn.run(
        create_app(settings=settings, cache=cache),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # one log line per request costs more than a cached answer
        timeout_graceful_shutdown=5,
    )
