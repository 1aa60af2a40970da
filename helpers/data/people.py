"""Who sees an output: a person at a screen, or a file a program writes (papermill, ``nbconvert --execute``), which
keeps every output and every widget's state. Tables and records that name people are shown to a person only.

Importing this module tells the core's records (:data:`helpers.core.records.names_shown`), whose display masks names
until then (the core imports nothing of IPython).
"""

from __future__ import annotations

import os
from typing import Any

from helpers.core import records

NAMES_UNATTENDED = "CASHLINK_NAMES_UNATTENDED"  # "1": tables naming people are shown in a program's run too (the
# report command sets it for its kernel: its files name investors on purpose, readable by you only)


_PERSON_SEEN: list[bool] = []  # once a person's front end ran a cell in this kernel, the kernel is theirs


def _kernel_message() -> dict[str, Any] | None:
    """The message the kernel is answering (a cell's execute request, a widget's event), or None outside a kernel
    (a plain Python session)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        return (kernel.get_parent("shell") or {}) if kernel is not None else None
    except Exception:  # no IPython at all
        return None


def person_at_screen() -> bool:
    """True when a person's front end runs this code: the Voilà app, a cell executed from JupyterLab (a notebook or a
    console) or Jupyter Notebook (their execute requests carry ``deletedCells``, ``recordTiming`` or ``cellId``
    metadata; nbclient's and papermill's carry none), a widget's event (a click: only a front end sends one), or
    anything later in a kernel a person used. Outside a kernel nobody is at a screen."""
    if os.environ.get("VOILA_SERVER_URL") or os.environ.get("VOILA_BASE_URL") or os.environ.get("VOILA_KERNEL_ID"):
        return True
    parent = _kernel_message()
    if parent is None:
        return False
    metadata = parent.get("metadata") or {}
    data = (parent.get("content") or {}).get("data") or {}  # a widget's event: a click, a value typed or chosen
    changed = set(data.get("state") or {}) - {"outputs", "msg_id"}  # (not an Output widget's sync, which nbclient
    clicked = (parent.get("header") or {}).get("msg_type") == "comm_msg" and (  # sends itself)
        data.get("method") == "custom" or (data.get("method") == "update" and bool(changed))
    )
    if clicked or {"deletedCells", "recordTiming", "cellId"} & set(metadata):  # (cellId: a JupyterLab console too)
        _PERSON_SEEN[:] = [True]
    return bool(_PERSON_SEEN)


def names_may_show() -> bool:
    """Whether a table that names people is shown: in a Python session, to a person at a screen, or in the report
    command's run; not in a notebook a program runs (papermill, nbconvert --execute), whose file keeps every output
    and every widget's state."""
    return os.environ.get(NAMES_UNATTENDED) == "1" or _kernel_message() is None or person_at_screen()


records.names_shown = names_may_show
