"""Widgets for people: forms, panels, walkthroughs and the tables they show.

Importing it makes the toolkit's own warnings (:class:`~helpers.core.client.FilterIgnoredWarning`,
``ListChangedWarning``, ``CannotReadWarning``, ``UndocumentedValueWarning``, ``SettingIgnoredWarning``) print as a
sentence: in a notebook or a Voilà app, Python's default
shows a file path and a line of code with them. An ignored filter asks nothing of anyone (what is shown is right):
its note goes to the output, not to the red stream of errors."""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

from helpers.core.checks import UndocumentedValueWarning
from helpers.core.client import CannotReadWarning, FilterIgnoredWarning, ListChangedWarning
from helpers.core.config import SettingIgnoredWarning


def _warnings_as_sentences() -> None:
    previous = warnings.showwarning
    if getattr(previous, "toolkit", False):
        return

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, FilterIgnoredWarning):  # nothing to do (what is shown is right): no red box
            print(f"Note: {message}", file=file or sys.stdout)
        elif issubclass(
            category, (ListChangedWarning, CannotReadWarning, UndocumentedValueWarning, SettingIgnoredWarning)
        ):
            print(f"Note: {message}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    show.toolkit = True  # type: ignore[attr-defined]
    warnings.showwarning = show


_warnings_as_sentences()
