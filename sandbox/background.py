"""Start the sandbox in the background unless it already answers: ``python -m sandbox.background [--port 8765]``.

Used by ``make lab``; ``--stop`` stops the one it started.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from sandbox.runner import SandboxProcess, is_up
from sandbox.settings import DEFAULT_DB, DEFAULT_PORT, ProfileName


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.background", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("SANDBOX_DB", DEFAULT_DB)))
    parser.add_argument("--profile", choices=["strict", "drf"], help="env SANDBOX_PROFILE, default strict")
    parser.add_argument("--stop", action="store_true", help="stop the background sandbox")
    args = parser.parse_args(argv)
    # beside the database: the process id, the log (no secrets in it) and the admin token (readable by you only)
    pid_file, log_file = args.db.parent / "sandbox.pid", args.db.parent / "sandbox.log"
    token_file = args.db.parent / "admin-token"
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
    profile: ProfileName | None = args.profile
    box = SandboxProcess(port=args.port, db_path=args.db, profile=profile)
    token_file.touch(mode=0o600)
    token_file.chmod(0o600)
    token_file.write_text(box.admin_token + "\n")
    box.start(log=log_file, detach=True)
    assert box.process is not None
    pid_file.write_text(str(box.process.pid))
    seed = box.health()["seed"]
    print(f"Sandbox ({box.profile} profile) running on {box.base_url} (database {args.db}, log {log_file}).")
    print(f"  admin token for /_sandbox/* in {token_file}")
    print(f"  demo client {seed['client_id']} · product {seed['product_id']} · campaign {seed['campaign_id']}")
    print("  Stop it with: .venv/bin/python -m sandbox.background --stop")


if __name__ == "__main__":
    main()
