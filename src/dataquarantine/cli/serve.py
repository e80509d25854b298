"""``dataquarantine serve``: the review REST API and web UI (uvicorn).

Exit codes: 0 after a graceful shutdown (SIGINT/SIGTERM), 1 when a store cannot be opened,
2 on a bad option or setting.
"""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

from dataquarantine.cli.common import (
    ContractsOpt,
    ContractsUrlOpt,
    PayloadsOpt,
    StoreOpt,
    exit_codes,
)

__all__ = ["serve_command"]


def serve_command(
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address [DQ_HOST].")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port [DQ_PORT].")
    ] = None,
) -> None:
    """Serve the review API (/api/v1, OpenAPI at /docs) and the web UI (/).

    Mutating endpoints need `Authorization: Bearer $DQ_API_TOKEN`; without DQ_API_TOKEN a
    random token is generated and printed.
    """
    from dataquarantine.extras import require_extra

    with exit_codes():
        require_extra("server", "dataquarantine serve")
        import uvicorn

        from dataquarantine.api import ApiSettings, create_app

        overrides = {
            k: v
            for k, v in {
                "store_url": store,
                "payloads_url": payloads,
                "contracts_dir": contracts,
                # --contracts names the folder to use, over DQ_CONTRACTS_URL.
                "contracts_url": contracts_url or (f"file://{contracts}" if contracts else None),
                "host": host,
                "port": port,
            }.items()
            if v is not None
        }
        settings = ApiSettings(**overrides)  # type: ignore[arg-type]
        app = create_app(settings)
        where = f"http://{settings.host}:{settings.port}"
        print(f"DataQuarantine review UI: {where}/  API docs: {where}/docs", file=sys.stderr)
        if app.state.token_generated:
            print(f"DQ_API_TOKEN not set; this run's token: {app.state.api_token}", file=sys.stderr)
        # The objects alive now (modules, contracts, the app) live as long as the process:
        # keep the cyclic collector from scanning them on every collection. Requests allocate
        # many short-lived objects; a larger first generation means fewer collections.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            # None: uvicorn's loggers propagate to the root handler of the command's one
            # setup (JSON or text, credentials masked).
            log_config=None,
            access_log=settings.access_log,
        )
