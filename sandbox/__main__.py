"""Run the sandbox: ``python -m sandbox [--port 8765] [--db PATH] [--profile strict|drf] [--settle-delay S]``.

Every option can also come from the environment (``SANDBOX_PORT``, ``SANDBOX_DB``, ``SANDBOX_PROFILE``, ...).
The start-up lines name no secret. The admin token for ``/_sandbox/*`` is ``SANDBOX_ADMIN_TOKEN`` when set; otherwise
it is random for this start, written beside the database as ``<database>.admin-token`` (readable by you only) and
shown on the terminal when there is one. Stop the sandbox with Ctrl-C (or ``python -m sandbox.background --stop``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from sandbox import build
from sandbox.asgi import ArrivalStampingProtocol
from sandbox.settings import Settings, admin_token_file
from sandbox.store import DatabaseMismatch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (env SANDBOX_PORT, default 8765)")
    parser.add_argument("--db", type=Path, help="SQLite file (env SANDBOX_DB)")
    parser.add_argument("--profile", choices=["strict", "drf"], help="answers to the open points (env SANDBOX_PROFILE)")
    parser.add_argument("--settle-delay", type=float, help="seconds tasks stay 'processing' (env SANDBOX_SETTLE_DELAY)")
    parser.add_argument("--token-ttl", type=int, help="access token lifetime, seconds (env SANDBOX_TOKEN_TTL)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    given: dict[str, Any] = {name: value for name, value in vars(args).items() if value is not None and name != "quiet"}
    settings = Settings(**given)
    generated = settings.admin_token is None
    if generated:
        settings.admin_token = SecretStr(os.urandom(18).hex())
    try:
        app, inner = build(settings)
    except DatabaseMismatch as exc:
        sys.exit(f"sandbox: {exc}")
    seeded = inner.state.sandbox.seeded
    print(
        f"Cashlink registry sandbox ({settings.profile} profile) on http://127.0.0.1:{settings.port}/api/external"
        f"  (database {settings.db})"
    )
    if seeded:
        print(f"  demo client   {seeded['client_id']}  (its secret is in .env.example)")
        print(f"  product id    {seeded['product_id']}")
        print(f"  campaign id   {seeded['campaign_id']}")
        for name, investor_id in seeded["investors"].items():
            print(f"  investor      {investor_id}  ({name})")
    if generated:
        assert settings.admin_token is not None
        token_file = admin_token_file(settings.db)
        token_file.touch(mode=0o600)
        token_file.chmod(0o600)
        token_file.write_text(settings.admin_token.get_secret_value() + "\n")
        print(f"  admin token   random for this start, in {token_file}")
        if sys.stdout.isatty():
            print(f"                {settings.admin_token.get_secret_value()}")
    else:
        print("  admin token   from SANDBOX_ADMIN_TOKEN")
    print("  stop with Ctrl-C", flush=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        access_log=not args.quiet,
        proxy_headers=False,
        http=ArrivalStampingProtocol,
    )


if __name__ == "__main__":
    main()
