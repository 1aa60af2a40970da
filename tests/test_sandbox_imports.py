"""The sandbox is written from the API reference alone: its tests (and the fixtures they use) load nothing from
``helpers``, so a client bug cannot hide a sandbox bug, nor the other way round."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_TESTS = [*sorted(path.stem for path in (ROOT / "tests").glob("test_sandbox*.py")), "test_guide_script"]


def test_the_sandbox_tests_load_no_helpers_module() -> None:
    modules = ["tests.conftest", *(f"tests.{name}" for name in SANDBOX_TESTS)]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'helpers' or m.startswith('helpers.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"the sandbox's tests loaded {done.stdout.strip()}"
