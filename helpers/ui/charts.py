"""Charts for people (matplotlib): statuses and reconciliation categories."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image
from matplotlib.ticker import MaxNLocator

from helpers.core import api
from helpers.data.reconcile import Reconciliation


def status_chart(counts: pd.DataFrame, title: str = "Investments by status") -> plt.Figure | None:
    """A bar per status that has investments; None when there are none (nothing to draw)."""
    shown = counts[counts["investments"] > 0]
    if shown.empty:
        return None
    figure, axes = plt.subplots(figsize=(7, max(1.2, 0.45 * len(shown) + 0.6)))
    axes.barh(shown["status"].map(api.status_label), shown["investments"], color="#3b6ea8")
    axes.invert_yaxis()
    axes.set_xlabel("investments")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 of an investment
    axes.set_title(title)
    for y, value in enumerate(shown["investments"]):
        axes.text(value, y, f" {value}", va="center")
    figure.tight_layout()
    plt.close(figure)
    return figure


def reconciliation_chart(report: Reconciliation) -> plt.Figure:
    summary = report.summary()
    figure, axes = plt.subplots(figsize=(7, 2.8))
    axes.barh(summary["label"], summary["count"], color=["#c0392b" if c else "#95a5a6" for c in summary["count"]])
    axes.invert_yaxis()
    axes.set_xlabel("differences")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Reconciliation: differences by category")
    figure.tight_layout()
    plt.close(figure)
    return figure


def png(figure: plt.Figure) -> Image:
    """The chart as a PNG image: shown as a picture whatever matplotlib's backend (with MPLBACKEND=Agg, as in a
    server or a test, displaying the figure itself shows only its text)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return Image(data=buffer.getvalue(), format="png")
