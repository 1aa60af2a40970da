"""Notebooks saved without widget state: a Jupyter server ``pre_save_hook`` (see ``jupyter_server_config.py``).

JupyterLab can save the state of every widget with a notebook ("Save Widget State Automatically"): what is typed in
a form and not sent yet, the investor pickers' names, the lookup tables' e-mails and, with "show personal data",
IBANs. The toolkit's notebooks are read by running them, so a saved notebook keeps none of it; the outputs' widget
views stay (they show "run the cell again" once reopened)."""

from __future__ import annotations

from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def without_widget_state(model: dict[str, Any], **_context: Any) -> None:
    """Drop the widget state from a notebook about to be saved (other files are left as they are)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    metadata = model["content"].get("metadata")
    if isinstance(metadata, dict):
        widgets = metadata.get("widgets")
        if isinstance(widgets, dict):
            widgets.pop(WIDGET_STATE, None)
            if not widgets:
                metadata.pop("widgets")
