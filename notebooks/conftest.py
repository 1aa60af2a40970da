"""nbval runs every notebook here top to bottom: ``pytest --nbval-lax notebooks/`` (``make test`` does it).

Its kernels need a sandbox. nbval's cells are plain pytest items that take no fixtures and start their kernel when
the first cell of a notebook is set up, so a hook does the fixture's work: before the first notebook cell it starts
one sandbox on a free loopback port with a temporary database and exports, for the kernels to inherit, where it is
(``CASHLINK_*``, a temporary journal, ``MPLBACKEND=Agg``). Every ``CASHLINK_*`` setting is given, so a developer's
`.env` (read by the notebooks from the project folder) cannot point a test at another API. The sandbox stops at the
end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbval.kernel
import pytest
from jupyter_client.manager import KernelManager
from traitlets import default

from helpers.core.config import GUIDE_SCOPES
from sandbox.runner import SandboxProcess, free_port

_state: dict[str, Any] = {}

# Seconds nbval waits for the next output message of a cell after the kernel's reply (its default, 5 s, is short
# on a busy machine; the kernel's reply itself is awaited up to --nbval-cell-timeout).
OUTPUT_TIMEOUT = 60


class UnixSocketKernelManager(KernelManager):
    """nbval's kernels listen on Unix sockets in a folder of this session instead of TCP ports that another process
    can take between jupyter_client picking them and the kernel binding them (see helpers.report.run_notebook).
    nbval has no setting for its kernel manager, so its module's name for the class is pointed at this one."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        return os.path.join(_state["sockets"], "kernel")  # jupyter_client numbers the socket files after it


def pytest_configure(config: pytest.Config) -> None:
    _state["sockets"] = tempfile.mkdtemp(prefix="nbval-kernels-")
    nbval.kernel.KernelManager = UnixSocketKernelManager


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_state.pop("sockets", ""), ignore_errors=True)


def _is_notebook_item(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_notebook_item(item) and hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start the sandbox before nbval starts the first kernel (once per session)."""
    if not _is_notebook_item(item) or "box" in _state:
        return
    workdir = Path(tempfile.mkdtemp(prefix="nbval-"))
    box = SandboxProcess(port=free_port(), db_path=workdir / "registry.sqlite3")
    box.start()
    environment = {**box.client_environment(workdir / "journal.sqlite3", GUIDE_SCOPES), "MPLBACKEND": "Agg"}
    _state.update(box=box, workdir=workdir, saved={name: os.environ.get(name) for name in environment})
    os.environ.update(environment)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the sandbox and give the environment back."""
    box = _state.pop("box", None)
    if box is None:
        return
    box.stop()
    for name, value in _state.pop("saved").items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(_state.pop("workdir"), ignore_errors=True)
