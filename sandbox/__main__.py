"""Run the sandbox: ``python -m sandbox [--port 8765] [--db PATH] [--settle-delay SECONDS]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from sandbox import Settings, build


def main(argv: list[str] | None = None) -> None:
    defaults = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=defaults.port, help="port on 127.0.0.1 (env SANDBOX_PORT)")
    parser.add_argument("--db", type=Path, default=defaults.db_path, help="SQLite file (env SANDBOX_DB)")
    parser.add_argument("--settle-delay", type=float, default=defaults.settle_delay,
                        help="seconds credits/redemptions stay 'processing' (env SANDBOX_SETTLE_DELAY)")
    parser.add_argument("--token-ttl", type=int, default=defaults.token_ttl, help="access token lifetime, seconds")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    settings = Settings.from_env(port=args.port, db_path=args.db, settle_delay=args.settle_delay,
                                 token_ttl=args.token_ttl)
    app = build(settings)
    seeded = app.state.seeded
    print(f"Cashlink registry sandbox on http://127.0.0.1:{settings.port}/api/external  (database {settings.db_path})")
    if seeded:
        print(f"  client id     {seeded['client_id']}   secret {seeded['client_secret']}  (demo credentials)")
        print(f"  product id    {seeded['product_id']}")
        print(f"  campaign id   {seeded['campaign_id']}")
        for name, investor_id in seeded["investors"].items():
            print(f"  investor      {investor_id}  ({name})")
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    uvicorn.run(app, host="127.0.0.1", port=settings.port, http="h11", log_level="warning",
                access_log=not args.quiet)


if __name__ == "__main__":
    main()
