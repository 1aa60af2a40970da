"""Start the sandbox in the background unless it already answers: ``python -m sandbox.background [--port 8765]``.

Used by ``make lab``; ``--stop`` stops the one it started.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from sandbox.runner import SandboxProcess, is_up
from sandbox.settings import DEFAULT_DB, DEFAULT_PORT

PID_FILE = DEFAULT_DB.parent / "sandbox.pid"
LOG_FILE = DEFAULT_DB.parent / "sandbox.log"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.background", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("SANDBOX_DB", DEFAULT_DB)))
    parser.add_argument("--stop", action="store_true", help="stop the background sandbox")
    args = parser.parse_args(argv)
    if args.stop:
        if PID_FILE.is_file():
            try:
                os.kill(int(PID_FILE.read_text()), signal.SIGTERM)
                print("Sandbox stopped.")
            except ProcessLookupError:
                print("The sandbox was not running.")
            PID_FILE.unlink(missing_ok=True)
        return
    if is_up(args.port):
        print(f"The sandbox is already running on http://127.0.0.1:{args.port}/api/external")
        return
    args.db.parent.mkdir(parents=True, exist_ok=True)
    box = SandboxProcess(port=args.port, db_path=args.db)
    box.start(log=LOG_FILE, detach=True)
    PID_FILE.write_text(str(box.process.pid))
    seed = box.health()["seed"]
    print(f"Sandbox running on {box.base_url} (database {args.db}, log {LOG_FILE}).")
    print(f"  demo client {seed['client_id']} · product {seed['product_id']} · campaign {seed['campaign_id']}")
    print("  Stop it with: .venv/bin/python -m sandbox.background --stop")


if __name__ == "__main__":
    main()
