"""Notebooks saved without widget state: a Jupyter server ``pre_save_hook`` (see ``lab_server_config.py``).

JupyterLab can save the state of every widget with a notebook ("Save Widget State Automatically"): what is typed in
a form and not sent yet, the investor pickers' names, the lookup tables' e-mails and, with "show personal data",
IBANs. The toolkit's notebooks are read by running them, so a saved notebook keeps none of it: each widget's
output becomes a sentence saying to run the cell again. So does an output marked as naming people (its metadata has
``PERSONAL``): the reconciliation report's differences, shown as plain HTML to read without JavaScript."""

from __future__ import annotations

import json
from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PERSONAL = "cashlink_names_people"  # an output's metadata key: it names people (a report's differences)
NOT_SAVED_REPORT = (
    "(This output names people (an investor's card, a report's differences), so it is not saved with the notebook: "
    "run the cell again to show it. A report's files stay where the cell said.)"
)
NOT_SAVED = (
    "(The toolkit's widgets are not saved with the notebook: they may hold what was typed and the people shown. "
    "Run the cell again to show them.)"
)


def without_widget_state(model: dict[str, Any], path: str = "", **_context: Any) -> None:
    """Drop the widget state from a notebook about to be saved, and put a sentence in place of each widget's output
    (else JupyterLab shows 'model not found' once it is reopened). A notebook saved as text (from the text editor)
    too; other files are left as they are."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        _strip(model["content"])
    elif model.get("type") == "file" and str(path).endswith(".ipynb") and model.get("format") == "text":
        try:
            notebook = json.loads(model["content"])
        except (TypeError, ValueError):
            return  # not a notebook's JSON: saved as it is
        if isinstance(notebook, dict):
            _strip(notebook)
            model["content"] = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _strip(notebook: dict[str, Any]) -> None:
    metadata = notebook.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("widgets"), dict):
        metadata["widgets"].pop(WIDGET_STATE, None)
        if not metadata["widgets"]:
            metadata.pop("widgets")
    for cell in notebook.get("cells") or []:
        for output in cell.get("outputs") or [] if isinstance(cell, dict) else []:
            data = output.get("data") if isinstance(output, dict) else None
            if isinstance(data, dict) and WIDGET_VIEW in data:
                output["data"] = {"text/plain": NOT_SAVED}
            elif isinstance(data, dict) and (output.get("metadata") or {}).get(PERSONAL):
                output["data"] = {"text/plain": NOT_SAVED_REPORT}
