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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.background", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("SANDBOX_DB", DEFAULT_DB)))
    parser.add_argument("--stop", action="store_true", help="stop the background sandbox")
    args = parser.parse_args(argv)
    pid_file, log_file = args.db.parent / "sandbox.pid", args.db.parent / "sandbox.log"  # beside the database
    if args.stop:
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
                print("Sandbox stopped.")
            except ProcessLookupError:
                print("The sandbox was not running.")
            pid_file.unlink(missing_ok=True)
        else:
            print("No sandbox was started in the background.")
        return
    if is_up(args.port):
        print(f"The sandbox is already running on http://127.0.0.1:{args.port}/api/external")
        return
    args.db.parent.mkdir(parents=True, exist_ok=True)
    box = SandboxProcess(port=args.port, db_path=args.db)
    box.start(log=log_file, detach=True)
    pid_file.write_text(str(box.process.pid))
    seed = box.health()["seed"]
    print(f"Sandbox running on {box.base_url} (database {args.db}, log {log_file}).")
    print(f"  demo client {seed['client_id']} · product {seed['product_id']} · campaign {seed['campaign_id']}")
    print("  Stop it with: .venv/bin/python -m sandbox.background --stop")


if __name__ == "__main__":
    main()
