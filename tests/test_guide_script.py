"""The API guide's full script (its redemption syntax error fixed, nothing else) runs against the sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sandbox.seed import DEMO_CLIENT_SECRET
from tests.sandbox_fixtures import Sandbox

SCRIPT = Path(__file__).resolve().parent / "data" / "guide_full_script.py"


def test_guide_script_runs_unchanged_against_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    seed = sandbox.health()["seed"]
    account = {  # "Remember to insert your account specific information before running the script."
        "URL": sandbox.base_url,
        "CLIENT_ID": seed["client_id"],
        "CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "CAMPAIGN_ID": seed["campaign_id"],
        "PRODUCT_ID": seed["product_id"],
    }
    source = SCRIPT.read_text()
    for name, value in account.items():
        source, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", source, count=1, flags=re.M)
        assert count == 1
    script = tmp_path / "guide.py"
    script.write_text(source)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Successfully created investment with ID [0-9a-f-]{36} \[DELIVERED\]\.", lines[0])
    assert lines[1].startswith("Successfully redeemed investment")
