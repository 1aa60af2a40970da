"""Start the sandbox in the background unless it already answers: ``python -m sandbox.background [--port 8765]``.

``--env-file .env`` makes the toolkit's settings point at that port: the file is written from `.env.example` when
it is missing, and a local sandbox address with another port is moved to this one (an address elsewhere, the real
API, is left alone). ``--then COMMAND ...`` runs a command with the sandbox and stops the sandbox afterwards if
this call started it (``make report``). ``--stop`` stops the one started in the background (``make stop``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from sandbox.runner import ROOT, SandboxProcess, is_up
from sandbox.settings import DEFAULT_DB, DEFAULT_PORT, ProfileName, admin_token_file

LOCAL_URL = re.compile(
    r"^(?P<head>\s*CASHLINK_BASE_URL\s*=\s*[\"']?https?://(?:127\.0\.0\.1|localhost|\[::1\]))"
    r"(?::(?P<port>\d+))?(?P<tail>[/\"'\s].*)?$",
    re.MULTILINE,
)


def point_env_file_at(env_file: Path, port: int, example: Path = ROOT / ".env.example") -> str:
    """Make ``env_file`` target the local sandbox on ``port``; returns one line that says what was done."""
    if not env_file.is_file():  # readable by you only: it holds the client secret
        text = example.read_text(encoding="utf-8")
        os.close(os.open(env_file, os.O_CREAT | os.O_WRONLY, 0o600))
        env_file.write_text(LOCAL_URL.sub(lambda m: f"{m['head']}:{port}{m['tail'] or ''}", text), encoding="utf-8")
        return (
            f"Wrote {env_file} from {example.name} (readable by you only): the toolkit uses the sandbox on port {port}."
        )
    text = env_file.read_text(encoding="utf-8")
    match = LOCAL_URL.search(text)
    if match is None:
        return f"{env_file} points at an API that is not on this machine; it is left as it is."
    if match["port"] == str(port):
        return f"{env_file} already points at the sandbox on port {port}."
    was = f"port {match['port']}" if match["port"] else "no port"
    env_file.write_text(LOCAL_URL.sub(lambda m: f"{m['head']}:{port}{m['tail'] or ''}", text), encoding="utf-8")
    return f"{env_file} pointed at a local sandbox with {was}; it now uses port {port}."


def stop(pid_file: Path) -> str:
    """Stop the background sandbox whose pid is in ``pid_file``."""
    if not pid_file.is_file():
        return "No sandbox was started in the background."
    try:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        message = "Sandbox stopped."
    except ProcessLookupError:
        message = "The sandbox was not running."
    pid_file.unlink(missing_ok=True)
    return message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.background", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("SANDBOX_DB", DEFAULT_DB)))
    parser.add_argument("--profile", choices=["strict", "drf"], help="env SANDBOX_PROFILE, default strict")
    parser.add_argument("--env-file", type=Path, help="make this .env point at the sandbox's port")
    parser.add_argument("--stop", action="store_true", help="stop the background sandbox")
    parser.add_argument(
        "--then",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="run COMMAND, then stop the sandbox if this call started it",
    )
    args = parser.parse_args(argv)
    # beside the database: the process id, the log (no secrets in it) and the admin token (readable by you only)
    pid_file, log_file = args.db.parent / "sandbox.pid", args.db.parent / "sandbox.log"
    token_file = admin_token_file(args.db)
    if args.stop:
        print(stop(pid_file))
        return 0
    if args.env_file:
        print(point_env_file_at(args.env_file, args.port))
    started = False
    if is_up(args.port):
        print(f"The sandbox is already running on http://127.0.0.1:{args.port}/api/external")
    else:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        profile: ProfileName | None = args.profile
        box = SandboxProcess(port=args.port, db_path=args.db, profile=profile)
        token_file.touch(mode=0o600)
        token_file.chmod(0o600)
        token_file.write_text(box.admin_token + "\n")
        box.start(log=log_file, detach=True)
        assert box.process is not None
        pid_file.write_text(str(box.process.pid))
        started = True
        seed = box.health()["seed"]
        print(f"Sandbox ({box.profile} profile) running on {box.base_url} (database {args.db}, log {log_file}).")
        print(f"  admin token for /_sandbox/* in {token_file}")
        print(f"  demo client {seed['client_id']} · product {seed['product_id']} · campaign {seed['campaign_id']}")
        if not args.then:
            print("  Stop it with: make stop   (or .venv/bin/python -m sandbox.background --stop)")
    if not args.then:
        return 0
    try:
        return subprocess.run(args.then, check=False).returncode
    finally:
        if started:
            print(stop(pid_file))


if __name__ == "__main__":
    sys.exit(main())
