"""ipywidgets forms built from the models: labelled fields, inline checks, a review step, submit, and the result.

Every field's widget, label, check and placeholder come from :mod:`helpers.core.models`; a form only chooses which
fields it shows. Every form works the same way:

* each field checks its value as it is typed and shows the message next to the field;
* **Review** checks everything, shows what will be sent (as typed: it is your own screen) and enables **Submit**;
* **Submit** sends it once. A second submission is a new operation: when the registry already has an equal or
  near-equal object, the form asks first (use it, update it, or make another one). The result says what happened
  (created now, already existed, replayed). API errors appear next to their fields; nothing typed is cleared until
  it was sent, and then all of it is (a saved notebook keeps no typed value in its widget state).

``form.submit()`` does the same without a click for unattended runs: its identity is its content, so running the
notebook again sends nothing again, and a similar object in the registry is handled as ``on_duplicate`` says.
"""

from __future__ import annotations

import html
import re
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from helpers.core import api, checks, models
from helpers.core.client import CannotReadWarning, Client, ConfirmationRequired, OnDuplicate, made_when
from helpers.core.compare import changed_fields
from helpers.core.errors import (
    CashlinkError,
    NotFoundError,
    NotListed,
    OutcomeUnknown,
    PermissionDeniedError,
    PossibleDuplicate,
    TaskError,
    ValidationError,
    field_label,
    input_error,
    without_sandbox_notes,
)
from helpers.core.records import Record, format_money, html_badge, is_money, money_value
from helpers.core.resources import (
    identification_status,
    investor_name,
    made_after,
    times_known,
    upload_problems,
    upload_type,
)
from helpers.ui import tables

ERROR_STYLE = "color:#b00020;font-size:0.9em"
QUESTION_STYLE = "color:#7a4d00;font-size:0.9em;font-weight:bold"  # a question the buttons answer: no error (amber)
LABEL_WIDTH = "200px"
# Messages wrap instead of being cut, buttons are as wide as their label, inputs keep a sensible width; a long word
# in a table's cell (a name of 150 letters, marked cl-long) wraps within its column instead of widening the table,
# while numbers, dates and ids stay whole.
STYLE = """<style>
.cl-msg .widget-html-content, .cl-msg.widget-html .widget-html-content {white-space: normal !important;
  height: auto !important; line-height: 1.45 !important; overflow: visible !important; overflow-wrap: break-word;}
.cl-msg {height: auto !important; overflow: visible !important;}
.cl-form button, .cl-wizard button, .cl-panel button {width: auto !important; min-width: 7em;}
.cl-form .widget-label, .cl-wizard .widget-label {white-space: normal;}
.cl-id code {font-size: 0.9em;}
.cl-record th, .cl-review-table th {text-align: left; padding-right: 1.5em; font-weight: 600;}
.cl-record td, .cl-review-table td {text-align: left;}
.cl-record td, .cl-review-table td {overflow-wrap: anywhere; max-width: 32em;}
.cl-long {word-break: break-all;}
.cl-msg a, .cl-panel a {color: var(--jp-content-link-color, #1976d2); text-decoration: underline;}
</style>"""


class NotSubmittedYet(Exception):
    """Raised by :meth:`Form.result_or_stop` when the form above has not been submitted yet."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


def _countries() -> list[tuple[str, str]]:
    import pycountry

    return sorted(((f"{c.name} ({c.alpha_3})", c.alpha_3) for c in pycountry.countries), key=lambda p: p[0])


def widget_for(spec: models.FieldSpec, value: Any = None) -> widgets.ValueWidget:
    """The widget the model names for a field, holding ``value`` (or the field's default)."""
    value = spec.default if value is None else value
    kind = spec.meta.widget
    if kind == "country":
        return widgets.Dropdown(options=[("", None), *_countries()], value=value or None)
    if kind == "choice":
        options = list(spec.meta.choices)
        if value and value not in options:
            options.append(str(value))
        return widgets.Dropdown(
            options=([("", None)] if not spec.required else [])
            + [(models.CHOICE_LABELS.get(o, o), o) for o in options],
            value=value if value is not None or not spec.required else options[0],
        )
    if kind == "checkbox":
        return widgets.Checkbox(value=bool(value), indent=False)
    placeholder = {"date": "YYYY-MM-DD"}.get(kind, spec.meta.placeholder)
    return widgets.Text(value="" if value is None else str(value), placeholder=placeholder)


class FormField:
    """One labelled input bound to a model field (or to a form-only value with its own check)."""

    def __init__(
        self,
        path: str,
        label: str,
        widget: widgets.ValueWidget,
        check: Callable[[Any], Any] | None = None,
        required: bool = True,
        group: str | None = None,
        personal: bool = False,
    ) -> None:
        self.path, self.label, self.widget, self.check = path, label, widget, check
        self.required, self.group, self.personal = required, group, personal
        self.when_empty: Callable[[], str] = lambda: "This field is required."  # why a required field is empty
        self.error = widgets.HTML("", layout=widgets.Layout(width="auto"))
        self.error.add_class("cl-msg")
        self.error.add_class("cl-error")
        self.caption = widgets.HTML(
            f"<b>{html.escape(label)}</b>{'' if required else ' <i>(optional)</i>'}",
            layout=widgets.Layout(width=LABEL_WIDTH, min_width=LABEL_WIDTH),
        )
        self.caption.add_class("cl-msg")
        self.widget.layout.width = self.widget.layout.width or "320px"
        self.widget.add_class(f"cl-field-{path.replace('.', '-')}")
        self.row = widgets.HBox([self.caption, widgets.VBox([self.widget, self.error])])
        self.row.add_class(f"cl-row-{path.replace('.', '-')}")
        self.widget.observe(lambda _change: self.check_now(), names="value")

    @classmethod
    def of(cls, spec: models.FieldSpec, value: Any = None, required: bool | None = None) -> FormField:
        """The field as the model defines it."""
        return cls(
            spec.path,
            spec.label,
            widget_for(spec, value),
            lambda v: models.check_field(spec, v),
            spec.required if required is None else required,
            spec.group,
            spec.meta.personal,
        )

    @property
    def value(self) -> Any:
        value = self.widget.value
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, tuple):  # FileUpload
            return value[0] if value else None
        return value

    @property
    def shown(self) -> str:
        """The value as the review shows it: a choice by its label (a name, not an id), a number of units as read
        ('1,500 units'), an uploaded file by its name, anything else as typed."""
        value = self.value
        if isinstance(value, Mapping):
            return str(value.get("name", ""))
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(self.widget, widgets.Dropdown) and self.widget.label:
            return str(self.widget.label)
        if self.path.rsplit(".", 1)[-1] == "units" and value not in (None, ""):
            try:
                units = checks.check_units(value)
            except checks.CheckError:
                return str(value)
            return f"{units:,} unit{'s' if units != 1 else ''}"
        return "" if value is None else str(value)

    def is_empty(self) -> bool:
        return self.value in (None, "")

    def forget(self, keep_message: bool = False) -> None:
        """Forget what was typed or uploaded once it was sent, or once an unattended run stopped on it (a saved or
        executed notebook keeps widget state); choices from a fixed list (a country, a flag, the investor chosen)
        stay. ``keep_message``: the field's error stays (an unattended run's, which says what was wrong)."""
        message = self.error.value
        if isinstance(self.widget, (widgets.Text, widgets.Textarea)):
            self.widget.value = ""
        if isinstance(self.widget, widgets.FileUpload):
            self.widget.value = ()
        self.error.value = message if keep_message else ""  # not 'This field is required.' under an emptied field

    def check_now(self) -> str | None:
        """Check this field alone; show and return the message (None when fine)."""
        message = None
        if self.is_empty():
            message = self.when_empty() if self.required else None
        elif self.check is not None:
            try:
                self.check(self.value)
            except checks.CheckError as exc:
                message = str(exc)
        self.show_error(message)
        return message

    def show_error(self, message: str | None) -> None:
        self.error.value = f"<span style='{ERROR_STYLE}'>⚠ {html.escape(message)}</span>" if message else ""


def model_fields(
    model: type[models.Model],
    defaults: Mapping[str, Any],
    *,
    groups: tuple[str | None, ...] | None = None,
    hide: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
) -> list[FormField]:
    """Form fields for a model's fields (optionally only some groups), with values from ``defaults`` keyed by
    column name or path."""
    fields = []
    for spec in models.fields_of(model):
        if spec.path in hide or (groups is not None and spec.group not in groups):
            continue
        value = defaults.get(spec.path, defaults.get(spec.meta.column or "", None))
        fields.append(FormField.of(spec, value, True if spec.path in required else None))
    return fields


@contextmanager
def notes_of_the_write() -> Iterator[list[str]]:
    """The toolkit's CannotReadWarning of a write (no duplicate look-up, a task not followed), as sentences for
    the form to show beside its result (other
    warnings are shown as usual)."""
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    finally:
        for warning in caught:
            if issubclass(warning.category, CannotReadWarning):
                notes.append(f"Note: {warning.message}")
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


class Form(widgets.VBox):
    """A form: fields, Review, Submit, and the result. Subclasses give the fields and :meth:`send`."""

    title = "Form"
    submit_label = "Submit"
    moves_units = False

    def __init__(
        self,
        client: Client,
        fields: list[FormField],
        intro: str = "",
        on_duplicate: OnDuplicate = "ask",
        *,
        above: tuple[widgets.Widget, ...] = (),
        below: tuple[widgets.Widget, ...] = (),
    ) -> None:
        self.client = client
        self.fields = {f.path: f for f in fields}
        self.on_duplicate = on_duplicate
        self.result: Record | None = None
        self.error: CashlinkError | None = None
        self.submission: str | None = None  # the reference of the submission in progress (kept for re-sends)
        self._notes: list[str] = []  # what a write said beside its result (no look for a duplicate was made)
        self.on_done: list[Callable[[Record], None]] = []  # called with the result of each successful submission
        self.general_errors = widgets.HTML("")
        self.general_errors.add_class("cl-msg")
        self.review_button = widgets.Button(
            description="Review", icon="eye", button_style="info", layout=widgets.Layout(width="auto")
        )
        self.submit_button = widgets.Button(
            description=self.submit_label,
            icon="check",
            button_style="success",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.review_button.add_class("cl-review")
        self.submit_button.add_class("cl-submit")
        self.choices = widgets.HBox([])
        self.choices.add_class("cl-choices")
        self.choices.observe(self._submit_style, names="children")
        self._asking = False  # the choices shown answer a question about the values typed (see _ask)
        self._offers: tuple[widgets.Button, ...] = ()  # shown with the form until the step is done (see _offer)
        self._first_offers: tuple[widgets.Button, ...] = ()  # (shown again with the inputs for another one)
        self.review_box = widgets.HTML("")
        self.review_box.add_class("cl-msg")
        self.result_box = widgets.HTML("")
        self.result_box.add_class("cl-msg")
        self.status = widgets.HTML("", layout=widgets.Layout(width="auto"))
        self.status.add_class("cl-status")
        self.status.add_class("cl-msg")
        self.review_button.on_click(lambda _b: self._safely(self.review))
        self.submit_button.on_click(lambda _b: self._safely(self.click_submit))
        for form_field in fields:
            form_field.widget.observe(lambda _c: self._invalidate_review(), names="value")
        self._check_postcodes_as_typed()
        self._errors_placed = self._errors_in_table = False  # where the errors last shown are (see show_errors)
        self.header = widgets.HTML(f"{STYLE}<h3>{html.escape(self.title)} {html_badge(client)}</h3><p>{intro}</p>")
        self.header.add_class("cl-msg")
        self.buttons = widgets.HBox([self.review_button, self.submit_button])
        self.inputs = widgets.VBox([*above, *[f.row for f in fields], *below, self.general_errors, self.buttons])
        self.again_button = widgets.Button(
            description=f"Another {self.what_label()}", icon="plus", layout=widgets.Layout(width="auto", display="none")
        )
        self.again_button.add_class("cl-again")
        self.again_button.on_click(lambda _b: self._safely(self.start_again))
        super().__init__(
            [
                self.header,
                self.inputs,
                self.status,
                self.choices,
                self.review_box,
                self.result_box,
                self.again_button,
            ]
        )
        self.add_class("cl-form")
        self._apply_groups()

    def _choice(self, action: Callable[[], Any]) -> Callable[[Any], None]:
        """A click handler for a button that answers a question: a click that arrives once the result is shown (the
        second click of a double-click) changes nothing."""

        def click(_button: Any) -> None:
            if self.result is not None and self.inputs.layout.display == "none":
                return
            self._safely(action)

        return click

    def _safely(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an unexpected error is shown in the form (a click has no cell to print into)."""
        try:
            action()
        except CashlinkError as exc:  # the registry's answer: its sentence, and its field errors by their fields
            self.error = exc
            self.show_errors(exc.field_errors)
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>{html.escape(error_sentence(exc).rstrip('.'))}. Nothing you typed "
                "was lost.</span>"
            )
        except Exception as exc:  # a fault of this toolkit: shown to the analyst, typed values kept
            self.error = None
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>Something went wrong in this toolkit ({html.escape(type(exc).__name__)}"
                f"): {html.escape(error_sentence(exc).rstrip('.'))}. Nothing you typed was lost; run the cell again, "
                "and if it happens again, tell the toolkit's maintainers.</span>"
            )

    # --- values and checks ------------------------------------------------------------------------------------

    def active_groups(self) -> set[str]:
        return set()

    def active_fields(self) -> list[FormField]:
        hidden_groups = self.variant_groups() - self.active_groups()
        return [f for f in self.fields.values() if f.group not in hidden_groups]

    def variant_groups(self) -> set[str]:
        """Groups shown only when chosen (e.g. natural_person / legal_person)."""
        return set()

    def _apply_groups(self) -> None:
        active = {f.path for f in self.active_fields()}
        for path, form_field in self.fields.items():
            form_field.row.layout.display = None if path in active else "none"

    def body(self) -> dict[str, Any]:
        """The request body built from the visible, filled-in fields."""
        return models.nest_values({f.path: f.value for f in self.active_fields() if not f.is_empty()})

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        """Errors of the whole body (cross-field rules). Field checks already ran."""
        return {}

    def check_all(self) -> checks.FieldErrors:
        errors: checks.FieldErrors = {}
        for form_field in self.active_fields():
            message = form_field.check_now()
            if message:
                errors[form_field.path] = [message]
        for path, messages in self.validate(self.body()).items():
            errors.setdefault(path, messages)
        self.show_errors(errors)
        return errors

    def show_errors(self, errors: checks.FieldErrors, message: str = "") -> None:
        """Show each error next to its field; the ones that belong to no field go above the buttons, as a table."""
        unplaced = {}
        self._errors_placed = False
        for path, form_field in self.fields.items():
            if errors and path not in errors and not any(p.startswith(path + ".") for p in errors):
                form_field.show_error(None)
        active = self.active_fields()
        for path, messages in errors.items():
            target = self.fields.get(path) or next(
                (f for p, f in self.fields.items() if path.startswith(p + ".")), None
            )
            if target is not None and target in active:
                target.show_error(" ".join(messages))
                self._errors_placed = True
            else:
                unplaced[path] = messages
        rows = "".join(
            f"<tr><td>{html.escape(field_label(p))}</td><td>{html.escape(' '.join(m))}</td></tr>"
            for p, m in unplaced.items()
        )
        table = f"<table class='cl-errors'><tr><th>Field</th><th>Problem</th></tr>{rows}</table>" if rows else ""
        text = f"<p style='{ERROR_STYLE}'>{html.escape(message)}</p>" if message else ""
        self.general_errors.value = text + table
        self._errors_in_table = bool(unplaced)

    def _what_to_correct(self) -> str:
        """Where the errors just shown are: next to their fields (⚠), in the table above the buttons, or both."""
        where = [
            *(["the fields marked ⚠ above"] if self._errors_placed else []),
            *(["what the table above the buttons says"] if self._errors_in_table else []),
        ]
        return " and ".join(where) or "the fields marked ⚠ above"

    # --- review and submit ------------------------------------------------------------------------------------

    def _variant_changed(self) -> None:
        self._apply_groups()
        self._invalidate_review()

    def _check_postcodes_as_typed(self) -> None:
        """A postcode is checked against its address's country (the model's rule) as either is typed or chosen, not
        only at Review."""
        for path, postcode in self.fields.items():
            prefix = path[: -len("zip")]
            country = self.fields.get(f"{prefix}country")
            if not path.endswith("zip") or country is None or postcode.check is None:
                continue
            alone = postcode.check
            postcode.check = lambda value, alone=alone, country=country: checks.check_postcode(
                str(alone(value)), country.value if isinstance(country.value, str) else None
            )
            country.widget.observe(
                lambda _c, postcode=postcode: None if postcode.is_empty() else postcode.check_now(), names="value"
            )

    def _ask(self, answers: Sequence[widgets.Button], *, about_the_values: bool = True) -> None:
        """Show the buttons that answer a question (a duplicate, a confirmation, a send as new; a failed task's retry)
        with Submit neutral, so that they stand out; it is green again once they are gone (see
        :meth:`_submit_style`). A question about the values typed goes with Review, which asks anew."""
        self.choices.children = tuple(answers)
        self.submit_button.button_style = ""
        self._asking = about_the_values

    def _offer(self, buttons: Sequence[widgets.Button]) -> None:
        """Buttons that use what the investor has already (an identification, a wallet): shown with the form, and
        again after a question goes, until the step is done (review 88: the first keystroke took them away)."""
        self._offers = self._first_offers = tuple(buttons)
        self.choices.children = self._offers

    def _no_question(self) -> None:
        """The choices without a question: the form's offers while its step is not done."""
        self.choices.children = self._offers

    def _submit_style(self, change: dict[str, Any]) -> None:
        """Submit green once a question's choices are gone, whatever took them away (an answer, a failed one, a
        changed field). An offer shown with a form (an identification or wallet to use) leaves it green."""
        if not change["new"] or tuple(change["new"]) == self._offers:
            self.submit_button.button_style = "success"
            self._asking = False

    def _invalidate_review(self) -> None:
        self.submit_button.disabled = True
        self.review_box.value = ""
        asked = tuple(self.choices.children) not in ((), self._offers)  # a question about the values as they
        self._no_question()  # were: its buttons go with it
        if asked or "please correct" in self.status.value.lower():  # a field changed: the fields say what is wrong
            self.status.value = "Nothing was sent yet; click <b>Review</b> once the fields are right."

    def review(self) -> bool:
        """Check everything; when fine, show what will be sent and enable Submit. A question shown goes (Submit asks
        it again where it still stands)."""
        if self._asking:
            self._no_question()
        errors = self.check_all()
        self.review_box.value = ""
        if errors:
            self.status.value = f"<span style='{ERROR_STYLE}'>Please correct {self._what_to_correct()}.</span>"
            return False
        self.status.value = f"Check the summary below, then click <b>{html.escape(self.submit_label)}</b>."
        self.review_box.value = self.summary_html()
        self.submit_button.disabled = False
        return True

    def summary(self) -> list[tuple[str, str]]:
        """What will be sent, as (label, value) rows, with the same labels as the form, as typed."""
        return [(f.label, f.shown) for f in self.active_fields() if not f.is_empty()]

    def summary_html(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self.summary()
        )
        return f"<table class='cl-review-table'>{rows}</table>"

    def click_submit(self) -> Record | None:
        """A person's Submit: one submission is one operation (sent again only if it has no answer yet). A click
        that arrives once the result is shown (the second click of a double-click) changes nothing."""
        if self.result is not None and self.inputs.layout.display == "none":
            return self.result
        if self.submission is None:
            self.submission = f"form {uuid.uuid4().hex[:12]}"
        return self.submit(raise_errors=False, reference=self.submission, on_duplicate="ask")

    def submit(
        self,
        raise_errors: bool = True,
        *,
        reference: str | None = None,
        on_duplicate: OnDuplicate | None = None,
        confirm_production: bool = False,
    ) -> Record | None:
        """Check, send once, and show the result or the errors (next to their fields). Returns the object."""
        self.error = None
        self._no_question()
        errors = self.check_all()
        if errors:
            self.error = input_error(f"the '{self.title}' form", errors)
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>Nothing was sent: please correct {self._what_to_correct()}.</span>"
            )
            if raise_errors:
                raise self.error
            return None
        self.status.value = "Sending…"
        try:
            with notes_of_the_write() as self._notes:
                record = self.send(
                    self.body(),
                    reference=reference,
                    on_duplicate=on_duplicate or self.on_duplicate,
                    confirm_production=confirm_production,
                )
        except PossibleDuplicate as exc:
            self.error = exc
            self.status.value = f"<span style='{QUESTION_STYLE}'>{html.escape(self.duplicate_question(exc))}</span>"
            self._ask(self.duplicate_choices(exc, reference))
            if raise_errors:
                raise
            return None
        except ConfirmationRequired as exc:
            self.error = exc
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>{html_badge(self.client)} {html.escape(exc.message)}</span>"
            )
            confirm = widgets.Button(
                description="Confirm on production", button_style="danger", layout=widgets.Layout(width="auto")
            )
            confirm.add_class("cl-confirm-production")
            confirm.on_click(
                self._choice(
                    lambda: self.submit(False, reference=reference, on_duplicate=on_duplicate, confirm_production=True)
                )
            )
            self._ask([confirm])
            if raise_errors:
                raise
            return None
        except CashlinkError as exc:
            self.error = exc
            self.show_errors(exc.field_errors)  # each next to its field; the sentence once, below
            self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</span>"
            if isinstance(exc, OutcomeUnknown):  # the person checked the registry: the new data as a new operation
                again = widgets.Button(
                    description=f"Send as a new {self.what_label()}", layout=widgets.Layout(width="auto")
                )
                again.add_class("cl-send-as-new")
                again.on_click(self._choice(self._send_as_new))
                self._ask([again])
            self.after_error(exc)
            if raise_errors:
                raise
            return None
        self.done(record)
        return record

    def _send_as_new(self) -> None:
        self.submission = None  # a new submission: a new operation, checked for duplicates as any other
        self.click_submit()

    def done(self, record: Record) -> None:
        """Show the result once (what happened, then the object), fold the inputs away, and tell the listeners."""
        self.result = record
        self.submission = None  # the next Submit is a new operation
        self._offers = ()  # (the step is done: what it could have used is no longer offered)
        self.choices.children = ()  # the question is answered
        self.submit_button.disabled = True
        self.review_box.value = ""
        self.general_errors.value = ""
        notes = "".join(f"<br><span style='{ERROR_STYLE}'>{html.escape(note)}</span>" for note in self._notes)
        self.status.value = self.success_message(record) + notes
        self._notes = []
        self.result_box.value = ""
        self.result_box.value = record_card(self.result_rows(record))
        for form_field in self.fields.values():
            form_field.forget()
        self.forget_people()
        self.inputs.layout.display = "none"
        self.again_button.layout.display = None if self.repeatable() else "none"
        for listener in self.on_done:
            listener(record)

    def forget_people(self) -> None:
        """Once sent, or once an unattended run stopped at it, an investor picker keeps only the investor chosen, by
        id (none if none was): a saved or executed notebook holds no list of everyone's names (``start_again`` lists
        them again)."""
        picker = getattr(self, "investor", None)
        if isinstance(picker, widgets.Dropdown):
            picker.options = [(f"investor {str(picker.value)[:8]}", picker.value)] if picker.value else []

    def _list_people_again(self) -> None:
        picker = getattr(self, "investor", None)
        if isinstance(picker, widgets.Dropdown):
            chosen, picker.options = picker.value, investor_options(self.client)
            picker.value = chosen if chosen in dict(picker.options).values() else None

    def repeatable(self) -> bool:
        """Whether 'Another …' is offered after a result (forms inside a walkthrough start again there)."""
        return not self.on_done

    def what_label(self) -> str:
        return self.title.lower().removeprefix("new ")

    def start_again(self) -> None:
        """Show the inputs again for a new submission (a new operation); what was typed was forgotten when sent."""
        self.inputs.layout.display = None
        self.again_button.layout.display = "none"
        self.status.value = ""
        self.result_box.value = ""
        self.review_box.value = ""
        self._offers = self._first_offers  # (review 89: the text above still points to them)
        self.choices.children = self._offers
        self._list_people_again()

    def result_rows(self, record: Record) -> list[tuple[str, str]]:
        """What the result card shows: the object's fields for people (formatted, no empty values), personal data
        and what names a person masked (the card stays in the widget's state once the typed values are gone)."""
        return record.rows(mask_identifying=True)

    def duplicate_question(self, exc: PossibleDuplicate) -> str:
        """The duplicate question for a person (the buttons answer it; no code to type)."""
        existing = exc.existing
        kind = "An identical" if exc.equal else "A similar"
        what = self.describe_existing(existing) or exc.what
        return (
            f"{kind} {what} was made {made_when(existing)} (id {existing.get('id')}). Nothing was sent yet. "
            f"Make another one, or use that one?"
        )

    def describe_existing(self, existing: Mapping[str, Any]) -> str:
        units = existing.get("units")
        return f"{self.what_label()} of {api.units_said(units)}" if units is not None else ""

    def duplicate_choices(self, exc: PossibleDuplicate, reference: str | None) -> list[widgets.Button]:
        """Buttons that answer the duplicate question: use the existing object, or make another one."""

        def resend(answer: OnDuplicate) -> Callable[[Any], None]:
            return self._choice(lambda: self.submit(False, reference=reference, on_duplicate=answer))

        use = widgets.Button(  # the safe answer stands out; making another moves or makes it a second time
            description=f"Use the existing {exc.what}", button_style="primary", layout=widgets.Layout(width="auto")
        )
        another = widgets.Button(description=f"Make another {exc.what}", layout=widgets.Layout(width="auto"))
        use.on_click(resend("use"))
        another.on_click(resend("create"))
        use.add_class("cl-use-existing")
        another.add_class("cl-make-another")
        return [use, another]

    def after_error(self, exc: CashlinkError) -> None:
        """Hook: offer what can be done after an error (e.g. retry a failed task)."""

    def success_message(self, record: Record) -> str:
        mark = "✔" if record.outcome == "created" else "ℹ"
        return f"<b>{mark} {html.escape(record.happened(short_id=True))}</b>"

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate, confirm_production: bool
    ) -> Record:
        raise NotImplementedError

    def result_or_stop(self) -> Record:
        """The submitted object; stops a Run-All politely when the form was not submitted yet."""
        if self.result is None:
            raise NotSubmittedYet(
                f"Fill in the '{self.title}' form above and click {self.submit_label}; the next "
                "steps continue from its result."
            )
        return self.result


def message_html(value: str = "") -> widgets.HTML:
    """An HTML widget for a message: it wraps and grows with its text, never cut (see STYLE's .cl-msg)."""
    shown = widgets.HTML(value)
    shown.add_class("cl-msg")
    return shown


class OwnId(str):
    """A card's value that is the id of the object the card shows (whole, to copy); other ids it names are short."""


def record_card(rows: list[tuple[str, str]]) -> str:
    """(label, value) rows as a compact two-column table (values already masked and formatted). The object's own id
    (an 'Id' row, or a value marked :class:`OwnId`: 'Investor id', 'Redemption id') is whole, to copy; the ids of
    others it names ('Investor', 'Investment id', 'Protocol document') are short, whole on hover, as in the tables
    (review 62: a card named its investor, campaign, product and wallet by four whole ids)."""

    def value_html(name: str, value: str) -> str:
        own = name == "Id" or isinstance(value, OwnId)
        return html.escape(value) if own or not checks.is_uuid(value) else tables.short_id(value)

    body = "".join(f"<tr><th>{html.escape(name)}</th><td>{value_html(name, value)}</td></tr>" for name, value in rows)
    return f"<table class='cl-record'>{body}</table>"


def error_sentence(exc: BaseException) -> str:
    """An error's message for a person at a screen: whole (never cut), once, without doubled full stops or sandbox
    jargon; what the core says of a cell ('Running the cell again is safe') said of the button clicked, as running
    the cell would start the screen afresh."""
    message = exc.message if isinstance(exc, CashlinkError) else str(exc)
    message = without_sandbox_notes(message)
    message = message.replace("Running the cell again is safe", "Trying again (the same button) is safe")
    message = message.replace("run the cell again", "try again (the same button)")
    message = re.sub(r"(?<!\.)\.\.(?=\s|$)", ".", message)  # a doubled full stop; '...', '../' and 'a..b.csv' stay
    return re.sub(r" +\.(?=\s|$)", ".", message)  # a space left before a full stop (never before '.xlsx')


def should_auto_submit(auto_submit: bool | None, client: Client) -> bool:
    """The parameters cell's AUTO_SUBMIT: None means 'only against the local sandbox' (never the real API)."""
    return client.is_sandbox if auto_submit is None else bool(auto_submit)


def run(form: Form, auto_submit: bool | None) -> Record | None:
    """Show the form; submit it at once when unattended (see :func:`should_auto_submit`)."""
    display(form)
    if should_auto_submit(auto_submit, form.client):
        return form.submit()
    return None


# --- onboarding -------------------------------------------------------------------------------------------------

INVESTOR_HIDDEN = (
    "natural_person.is_subject_to_us_tax",
    "bank_account.country",
    "bank_account.currency",
    "tax_information.is_subject_to_german_tax",
    "communication.email_confirmed",
    "legal_person.commercial_register_document_id",
)


class InvestorForm(Form):
    """A natural or legal person with bank account, tax data and e-mail. ``defaults`` are keyed by the models'
    column names (as in a spreadsheet or the notebook's parameters) or by field path."""

    title = "New investor"
    submit_label = "Create investor"

    def __init__(
        self, client: Client, defaults: Mapping[str, Any] | None = None, on_duplicate: OnDuplicate = "ask"
    ) -> None:
        d = dict(defaults or {})
        d.setdefault("account_holder", models.default_account_holder(d))
        d.setdefault("is_beneficiary", True)  # most investors act on their own account; untick it otherwise
        self.kind = widgets.ToggleButtons(
            options=[("Natural person", "natural_person"), ("Legal person", "legal_person")],
            value=d.get("kind", "natural_person"),
        )
        fields = model_fields(models.Investor, d, hide=INVESTOR_HIDDEN)
        super().__init__(
            client,
            fields,
            "The investor's personal data, bank account, tax data and e-mail. IBAN and BIC are checked as you type.",
            on_duplicate,
            above=(self.kind,),
        )
        self.kind.observe(lambda _c: self._variant_changed(), names="value")
        self._apply_groups()
        self._changes: list[str] = []  # what the duplicate question found different (labels), for the result

    def variant_groups(self) -> set[str]:
        return {"natural_person", "legal_person"}

    def active_groups(self) -> set[str]:
        return {self.kind.value} if hasattr(self, "kind") else {"natural_person"}

    def body(self) -> dict[str, Any]:
        return models.with_investor_defaults(super().body())

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        return models.validate(models.Investor, body)[1]

    def send(self, body: dict[str, Any], **options: Any) -> Record:
        options.pop("confirm_production", None)
        return self.client.investors.create(body, **options)

    def result_rows(self, record: Record) -> list[tuple[str, str]]:
        """The new investor's id, and the fields that name the investor and the IBAN (masked), picked by path (a
        registry's other name of a field, ``first_name``, counts as that field)."""
        wanted = {*models.INVESTOR_NAMING_FIELDS, "bank_account.iban"}
        picked: dict[str, Any] = {}
        for part, value in record.items():
            if isinstance(value, Mapping):
                for name, item in value.items():
                    if f"{part}.{models.ALIASES.get(name, name)}" in wanted:
                        picked.setdefault(part, {})[name] = item
        return [("Investor id", OwnId(record.get("id", ""))), *Record(picked).rows(mask_identifying=True)]

    def describe_existing(self, existing: Mapping[str, Any]) -> str:
        return "investor"  # by its id in the sentence: a name in a message could end up in a saved notebook

    def duplicate_question(self, exc: PossibleDuplicate) -> str:
        self._changes = [models.label(path) for path in changed_fields(self.body(), exc.existing)]  # said after an
        if bool(exc.existing.get("legal_person")) != ("legal_person" in self.body()):  # a person is no company
            return (
                f"An {self.describe_existing(exc.existing)} (made {made_when(exc.existing)}, id "
                f"{exc.existing.get('id')}) has {exc.reason} as what you typed, but {exc.differs}, so it cannot be "
                "this investor. Nothing was sent yet. Make a new investor (and check the shared details)."
            )
        if not exc.same_party:  # update, whichever way it was chosen
            return (
                f"An {self.describe_existing(exc.existing)} (made {made_when(exc.existing)}, id "
                f"{exc.existing.get('id')}) has {exc.reason} as what you typed, but {exc.differs}: perhaps another "
                "person. Nothing was sent yet. Make a new investor, or, if it is the same person whose details "
                "changed, update that one."
            )
        same = exc.reason or "the same details"  # what is the same, not 'identical': a tax id typed may differ
        differs = (
            f" What you typed differs from it in: {', '.join(dict.fromkeys(self._changes))}."
            if self._changes
            else " What you typed is what it has."
        )
        return (
            f"An investor with {same} is already in the registry (made {made_when(exc.existing)}, id "
            f"{exc.existing.get('id')}).{differs} Nothing was sent yet. "
            + (
                "Use that investor, update it with what you typed, or make another one?"
                if self._changes
                else "Use that investor, or make another one?"
            )
        )

    def success_message(self, record: Record) -> str:
        """What happened; after an update from the duplicate question, which fields it changed (no values)."""
        said = super().success_message(record)
        if record.outcome == "updated" and self._changes:
            said += f" Changed: {html.escape(', '.join(dict.fromkeys(self._changes)))}."
        self._changes = []
        return said

    def duplicate_choices(self, exc: PossibleDuplicate, reference: str | None) -> list[widgets.Button]:
        choices = super().duplicate_choices(exc, reference)
        if bool(exc.existing.get("legal_person")) != ("legal_person" in self.body()):
            return [b for b in choices if "cl-make-another" in b._dom_classes]  # a company is never that person
        if exc.same_party and not self._changes:
            return choices  # what was typed is what it has: nothing to update it with
        if exc.same_party:
            label = "Update the existing investor"
            action: Callable[[], Any] = lambda: self.submit(False, reference=reference, on_duplicate="update")
        else:  # perhaps another person: never 'use'; an update only as this person's own choice
            label = "Same person, details changed: update it"
            action = lambda: self._update_same_person(exc.existing)
            choices = [button for button in choices if "cl-make-another" in button._dom_classes]
        update = widgets.Button(description=label, layout=widgets.Layout(width="auto"))  # ('use' is highlighted)
        update.add_class("cl-update-existing")
        update.on_click(self._choice(action))
        return [update, *choices]

    def _update_same_person(self, existing: Record) -> None:
        """The person said the investor found is them, with changed details: update it to what the form says."""
        self.choices.children = ()
        self.done(self.client.investors.update_to(existing, self.body()))


class BenefitingPersonForm(Form):
    """A natural person who ultimately owns or controls a legal-person investor (at least one is needed before the
    company's investments leave KYC_PENDING)."""

    title = "Benefiting person"
    submit_label = "Add benefiting person"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        self.investor_id = investor_id
        super().__init__(
            client,
            model_fields(models.BenefitingPerson, dict(defaults or {})),
            "The person who ultimately owns or controls the company.",
        )

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        return models.validate(models.BenefitingPerson, body)[1]

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate = "ask", **_options: Any
    ) -> Record:
        return self.client.investors.add_benefiting_person(
            self.investor_id, body, reference=reference, on_duplicate=on_duplicate, repeat=self._as_new
        )

    _as_new = False  # 'Send as a new benefiting person' after a lost answer: the analyst looked, and sends one more

    def _send_as_new(self) -> None:
        self._as_new = True
        super()._send_as_new()


def close_all(widget: widgets.Widget) -> None:
    """Close a widget that is no longer shown, with everything inside it (its children, layout and style): the
    kernel drops it and a saved notebook no longer keeps its state."""
    for child in getattr(widget, "children", ()):
        close_all(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, widgets.Widget):
            part.close()
    widget.close()


_LAST_SHOWN: dict[tuple[type, str], weakref.ref[widgets.Widget]] = {}


def running_cell() -> str | None:
    """The id of the notebook cell being run (JupyterLab sends it with each execution), or None elsewhere."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent() if kernel is not None else None
        cell = (parent or {}).get("metadata", {}).get("cellId")
    except Exception:  # no kernel, or one that says nothing of cells: nothing is replaced
        return None
    return str(cell) if cell else None


def replaces_the_last(widget: widgets.Widget) -> None:
    """A notebook's cell run again makes a new walkthrough or panel: the one of the same kind that same cell made
    before is closed, so that what was typed in it (and never sent), its tables and its pickers leave the saved
    widget state. Widgets of other cells, or made outside a notebook's cell, are left alone."""
    cell = running_cell()
    if cell is None:
        return
    earlier_ref = _LAST_SHOWN.get((type(widget), cell))
    earlier = earlier_ref() if earlier_ref is not None else None
    if earlier is not None and earlier is not widget and earlier.comm is not None:
        close_all(earlier)
    _LAST_SHOWN[(type(widget), cell)] = weakref.ref(widget)


def investor_options(client: Client) -> list[tuple[str, str | None]]:
    """Investors for a dropdown: name first, then a short id; the first option asks to choose (nothing chosen)."""
    investors = sorted(client.investors.list(), key=lambda i: investor_name(i).casefold())
    return [
        ("— choose the investor —", None),
        *[(f"{investor_name(i)} · {str(i['id'])[:8]}", str(i["id"])) for i in investors],
    ]


def _whole(value: Any, least: int = 1) -> int | None:
    """A whole number the registry gave (a campaign's minimum, step or units left; as a number or as text: review
    89), at least ``least``, or None."""
    number = api.whole_number(value)
    return number if number is not None and number >= least else None


def _fewest_units(campaign: Mapping[str, Any]) -> tuple[int, int, int]:
    """A campaign's minimum, its step, and the fewest units it takes (a multiple of the step, at least the minimum),
    as its listing gives them (1 where it gives none)."""
    minimum, step = (_whole(campaign.get(name)) or 1 for name in ("min_units", "step_size"))
    return minimum, step, -(-minimum // step) * step


def _campaign_closed(campaign: Mapping[str, Any]) -> str | None:
    """Why a campaign takes no investment now, as its listing says (closed, sold out, fewer units left than the
    fewest it takes: review 89); else None."""
    if campaign.get("active") is False or str(campaign.get("active")).strip().lower() in ("false", "0", "no"):
        return "closed for new investments"
    left, first = api.whole_number(campaign.get("available_units")), _fewest_units(campaign)[2]
    if left is not None and left <= 0:  # (none left, or fewer than none: review 91)
        return "sold out"
    if left is not None and left < first:
        return f"left with {api.units_said(left)}, fewer than the {first:,} it takes at least"
    return None


def _campaign_label(campaign: Mapping[str, Any]) -> str:
    """How a campaign's choice reads: its name, and its units left or why it takes no investment (only its name where
    the registry gives neither)."""
    closed, left = _campaign_closed(campaign), _whole(campaign.get("available_units"), 0)
    said = f"{api.units_said(left)} left" if left is not None else ""
    if closed is not None:
        said = "closed" if closed.startswith("closed") else "sold out" if closed == "sold out" else f"{said}, too few"
    return f"{campaign.get('name') or campaign.get('id')}{' · ' + said if said else ''}"


def count_text(value: Any) -> str:
    """A number of units for people: 9,995,900 (as sent where it is not a whole number)."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value or "?")


def investor_picker(client: Client, wanted: Any) -> widgets.Dropdown | widgets.Text:
    """The investor to choose: a dropdown of the registry's investors, or, where these credentials may not list
    them (no ``investors:read``) or the registry offers no list, a box for the investor's id."""
    try:
        options = investor_options(client)
    except (NotListed, PermissionDeniedError):
        return widgets.Text(value=str(wanted or ""), placeholder="the investor's id (a UUID)")
    return widgets.Dropdown(options=options, value=wanted if wanted in dict(options).values() else None)


def wallet_picker(investor: widgets.ValueWidget, wanted: Any, hint: str) -> widgets.Dropdown | widgets.Text:
    """The investor's wallet: a dropdown filled once the investor is chosen, or, where the investor's id is typed
    (the investors cannot be listed), a box for the wallet's id."""
    if isinstance(investor, widgets.Dropdown):
        return widgets.Dropdown(options=[])
    return widgets.Text(value=str(wanted or ""), placeholder=hint)


def id_check(widget: widgets.ValueWidget) -> Callable[[Any], Any] | None:
    """A typed id is checked as one (a chosen option needs no check)."""
    return checks.check_uuid if isinstance(widget, widgets.Text) else None


def _upload(client: Client, value: Any) -> Record | str:
    """Upload a FileUpload value and return the document; or pass a document id through, checked."""
    if isinstance(value, Mapping):
        return client.documents.upload(bytes(value["content"]), value["name"], value.get("type") or None)
    return checks.check_uuid(value)


def _reused(document: Record | str, made: Record, what: str, chosen: bool) -> list[str]:
    """A note where a person chose a file uploaded before (the same name and content: the registry's document is
    used again) for a new object: perhaps the wrong file (review 90: the ID protocol as the subscription). Not for a
    default document of an unattended run (review 91)."""
    if (
        not chosen
        or not isinstance(document, Record)
        or document.outcome not in ("existed", "replayed")
        or made.outcome != "created"
    ):
        return []
    return [
        f"Note: this file was uploaded before (document {document.id[:8]}), so that document is the {what} of "
        f"{made.what} {made.id[:8]}. If that is the wrong file, the registry holds the wrong document for it: ask "
        f"Cashlink's support to correct it, naming the {made.what}'s id."
    ]


def _check_upload(value: Any) -> Any:
    """A file chosen to upload, checked as the upload will check it (its kind by name and by content, its size):
    said next to the field as it is chosen, and at Review, never only once Save was clicked."""
    if isinstance(value, Mapping):
        name = str(value.get("name", ""))
        content = bytes(value.get("content") or b"")
        problems = upload_problems(content, name, upload_type(name, value.get("type") or None))
        if problems:
            raise checks.CheckError(" ".join(problems))
    return value


class IdentificationForm(Form):
    """An identification performed elsewhere (e.g. POSTIDENT), with the provider's protocol (required): uploaded, or
    given as ``defaults['protocol']`` (the bytes of PROTOCOL_PDF's file in an unattended run; a generated placeholder
    exists only for the local sandbox, :meth:`Documents.file_or_placeholder`)."""

    title = "Identification"
    submit_label = "Save identification"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        self.investor_id = investor_id
        self.protocol_file = widgets.FileUpload(accept=".pdf,.png,.jpg,.jpeg", multiple=False)
        self.default_protocol: bytes | None = d.get("protocol") or None
        fields = model_fields(models.Identification, d, hide=("legitimation_protocol_id",))
        fields.append(
            FormField(
                "legitimation_protocol_id",
                "Protocol document (PDF, PNG or JPEG)",
                self.protocol_file,
                _check_upload,
                required=self.default_protocol is None,
            )
        )
        intro = "The identification you already performed, with the provider's protocol."
        try:
            done = [
                i
                for i in client.investors.identifications(investor_id)
                if identification_status(i) in ("SUCCESS", "PENDING")
            ]
        except (NotFoundError, PermissionDeniedError):
            done = []  # (cannot read them: the duplicate check of the write stands)
        if done:  # an investor onboarded before: the step goes on with what it has
            latest = done[-1]
            intro += (
                f" <b>This investor has an identification already</b> ("
                f"{html.escape(api.in_words('status', identification_status(latest)))}, made "
                f"{html.escape(made_when(latest))}): use it with the button below, or enter another one."
            )
        super().__init__(client, fields, intro)
        self._check_dates_as_typed()
        if done:
            use = widgets.Button(description="Use this identification", layout=widgets.Layout(width="auto"))
            use.add_class("cl-use-identification")
            use.on_click(self._choice(lambda: self._use(done[-1])))
            self._offer([use])

    def _check_dates_as_typed(self) -> None:
        """The document's days against each other and the day of the identification as they are typed or chosen
        (the model's rules), not only at Review (review 62)."""
        valid_from, valid_to, identified = (
            self.fields.get(path) for path in ("document_valid_from", "document_valid_to", "verified_at")
        )
        if valid_from is None or valid_to is None or identified is None:
            return
        from_alone, to_alone, identified_alone = valid_from.check, valid_to.check, identified.check

        def day(field: FormField, alone: Callable[[Any], Any] | None) -> str | None:
            """The field's day where it is given and right on its own, else None (its own message says why)."""
            if field.is_empty() or alone is None:
                return None
            try:
                return str(alone(field.value))[:10]
            except checks.CheckError:
                return None

        def check_valid_to(value: Any) -> str:
            return checks.check_valid_to(str(to_alone(value) if to_alone else value), day(valid_from, from_alone))

        def check_identified(value: Any) -> str:
            return checks.check_identified_with_a_valid_document(
                str(identified_alone(value) if identified_alone else value),
                day(valid_from, from_alone),
                day(valid_to, check_valid_to),  # (a 'Valid to' before 'Valid from' says so itself)
            )

        valid_to.check, identified.check = check_valid_to, check_identified
        for changed, dependents in ((valid_from, (valid_to, identified)), (valid_to, (identified,))):
            changed.widget.observe(
                lambda _change, dependents=dependents: [f.check_now() for f in dependents if not f.is_empty()],
                names="value",
            )

    def _use(self, identification: Record) -> None:
        identification.outcome, identification.what = "existed", "identification"
        self.done(identification)

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        probe = {**body, "legitimation_protocol_id": "00000000-0000-4000-8000-000000000000"}
        return models.validate(models.Identification, probe)[1]

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate, **_options: Any
    ) -> Record:
        protocol = body.get("legitimation_protocol_id")
        chosen = protocol is not None  # (by a person: not the default of an unattended run)
        if protocol is None and self.default_protocol is not None:
            protocol = {"name": "protocol.pdf", "content": self.default_protocol, "type": "application/pdf"}
        if protocol is None:
            raise input_error(
                "the identification", {"legitimation_protocol_id": ["Upload the identification provider's protocol."]}
            )
        document = _upload(self.client, protocol)
        body["legitimation_protocol_id"] = document if isinstance(document, str) else document.id
        made = self.client.investors.identify(self.investor_id, body, reference=reference, on_duplicate=on_duplicate)
        self._notes += _reused(document, made, "provider's protocol", chosen)
        return made


NO_TAX_ID_YET = (
    " The investor has no tax id yet, which a wallet needs: enter it here; it is added to the investor first."
)


class WalletForm(Form):
    title = "Wallet"
    submit_label = "Create wallet"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        """``defaults['kind']``: ``eth-managed`` or ``eth-generic``, or the spreadsheet's ``managed``/``generic``."""
        d = dict(defaults or {})
        self.investor_id = investor_id
        self.kind = widgets.ToggleButtons(
            options=[("Managed by Cashlink", "eth-managed"), ("Investor's own address", "eth-generic")],
            value=models.wallet_kind(d.get("kind") or "eth-managed"),
        )
        fields = model_fields(
            models.GenericWallet, {"wallet_address": d.get("address"), **d}, hide=("receiving_enabled",)
        )
        for form_field in fields:
            form_field.group = "eth-generic"
        intro = (
            "A managed wallet is kept in Cashlink's custody. An own address is checked as typed: one in mixed case "
            "must carry its EIP-55 checksum (an all-lowercase address has none, so check it twice)."
        )
        if self._lacks_tax_id(client, investor_id):  # the registry makes no wallet without it [doc]
            spec = next(s for s in models.fields_of(models.Investor) if s.name == "tax_identification_number")
            fields.insert(0, FormField.of(spec, d.get("tax_id"), required=True))
            intro += NO_TAX_ID_YET
        existing = self._existing_wallets(client, investor_id)
        if existing:  # asked first: an investor onboarded before keeps the wallet it has (a second is a choice)
            listed = "; ".join(
                html.escape(
                    f"{api.in_words('type', wallet.get('type', ''))} "
                    f"{str(wallet.get('address') or '')[:10] + '…' if wallet.get('address') else ''}"
                    f" (id {str(wallet.get('id', ''))[:8]}, made {made_when(wallet)})".replace("  ", " ")
                )
                for wallet in existing
            )
            intro += (
                f" <b>This investor has {len(existing)} wallet{'s' if len(existing) > 1 else ''} already</b>: "
                f"{listed}. Use {'it' if len(existing) == 1 else 'one'} with the button below, or create another."
            )
        super().__init__(client, fields, intro, above=(self.kind,))
        self.kind.observe(lambda _c: self._variant_changed(), names="value")
        self._apply_groups()
        uses = []
        for wallet in existing:
            use = widgets.Button(
                description=f"Use wallet {str(wallet.get('id', ''))[:8]}", layout=widgets.Layout(width="auto")
            )
            use.add_class("cl-use-wallet")
            use.on_click(self._choice(partial(self._use, wallet)))
            uses.append(use)
        self._offer(uses)

    @staticmethod
    def _existing_wallets(client: Client, investor_id: str) -> list[Record]:
        try:
            return client.investors.wallets(investor_id)
        except (NotFoundError, PermissionDeniedError):
            return []  # (cannot read them: the registry's own checks stand)

    def _use(self, wallet: Record) -> None:
        """The analyst chose a wallet the investor has: the step's result, nothing sent."""
        wallet.outcome, wallet.what = "existed", "wallet"
        self.done(wallet)

    @staticmethod
    def _lacks_tax_id(client: Client, investor_id: str) -> bool:
        try:
            investor = client.investors.get(investor_id)
        except (NotFoundError, PermissionDeniedError):
            return False  # the registry says so when the wallet is asked for
        custodian = bool((investor.get("legal_person") or {}).get("is_custodian_bank"))
        return not custodian and not (investor.get("tax_information") or {}).get("tax_identification_number")

    def variant_groups(self) -> set[str]:
        return {"eth-generic"}

    def active_groups(self) -> set[str]:
        return {self.kind.value} if hasattr(self, "kind") else {"eth-managed"}

    def summary(self) -> list[tuple[str, str]]:
        kind = "Managed by Cashlink" if self.kind.value == "eth-managed" else "Investor's own address"
        return [("Wallet", kind), *super().summary()]

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate, **_options: Any
    ) -> Record:
        if body.get("tax_information"):
            self.client.investors.update(self.investor_id, {"tax_information": body["tax_information"]})
            self._notes.append("Note: the tax id was added to the investor first.")
            self.header.value = self.header.value.replace(NO_TAX_ID_YET, "")  # it has one now
        if self.kind.value == "eth-managed":
            return self.client.investors.create_managed_wallet(
                self.investor_id, reference=reference, on_duplicate=on_duplicate
            )
        return self.client.investors.create_generic_wallet(
            self.investor_id, body["address"], reference=reference, on_duplicate=on_duplicate
        )

    def after_error(self, exc: CashlinkError) -> None:
        """The wallet failed after the tax id was added: that it was is said too (the investor has it now)."""
        if any("tax id was added" in note for note in self._notes):
            self.status.value += (
                f"<br><span style='{ERROR_STYLE}'>Note: the tax id was added to the investor before the wallet "
                "was asked for; it stays, and a new attempt sends only the wallet.</span>"
            )

    def duplicate_choices(self, exc: PossibleDuplicate, reference: str | None) -> list[widgets.Button]:
        """Only 'use it': the registry keeps one managed wallet per investor, and an address once."""
        return [
            button for button in super().duplicate_choices(exc, reference) if "cl-use-existing" in button._dom_classes
        ]

    def duplicate_question(self, exc: PossibleDuplicate) -> str:
        existing = exc.existing
        which = (
            "a managed wallet (the registry keeps one per investor)"
            if existing.get("type") == "eth-managed"
            else "this address registered"
        )
        return (
            f"This investor has {which} already: wallet id {existing.get('id')}, made {made_when(existing)}. "
            "Nothing was sent. Use that wallet?"
        )


# --- investing --------------------------------------------------------------------------------------------------


class InvestmentForm(Form):
    title = "New investment"
    submit_label = "Create investment"

    def __init__(
        self, client: Client, defaults: Mapping[str, Any] | None = None, on_duplicate: OnDuplicate = "ask"
    ) -> None:
        d = dict(defaults or {})
        try:
            listed: list[Record] | None = client.campaigns.list().to_list()
        except (NotListed, PermissionDeniedError):  # these credentials may not read campaigns: the id is typed
            listed = None
        campaigns = [(_campaign_label(c), str(c["id"])) for c in listed or []]
        self.campaigns = {str(c["id"]): c for c in listed or []}  # their rules, checked before sending
        open_ids = [str(c["id"]) for c in listed or [] if _campaign_closed(c) is None]
        self.campaign_names = {str(c["id"]): str(c["name"]) for c in listed or [] if c.get("name")}  # for the card
        self.investor = investor_picker(client, d.get("investor_id"))
        self.wallet = wallet_picker(self.investor, d.get("wallet"), "the wallet's id (optional)")
        self.document_file = widgets.FileUpload(accept=".pdf", multiple=False)
        self.default_document: bytes | None = d.get("document") if client.is_sandbox else None
        spec = {s.path: s for s in models.fields_of(models.Investment)}
        campaign_ids = [value for _label, value in campaigns]
        fields = [
            FormField("investor_id", spec["investor_id"].label, self.investor, id_check(self.investor)),
            FormField(
                "campaign_id",
                spec["campaign_id"].label,
                widgets.Dropdown(
                    options=campaigns,
                    value=d.get("campaign_id")
                    if d.get("campaign_id") in campaign_ids
                    else (
                        client.config.campaign_id
                        if client.config.campaign_id in campaign_ids
                        else next(iter(open_ids or campaign_ids), None)  # (an open one, where there is one)
                    ),
                )
                if listed is not None
                else widgets.Text(
                    value=str(d.get("campaign_id") or client.config.campaign_id or ""),
                    placeholder="the campaign's id (a UUID)",
                ),
                None if listed is not None else checks.check_uuid,
            ),
            FormField(
                "units",
                spec["units"].label,
                widgets.Text(value="" if d.get("units") is None else str(d["units"]), placeholder="300"),
                checks.check_units,
            ),
            FormField.of(spec["signed_at"], d.get("signed_at")),
            FormField(
                "accepted",
                "Accepted by the issuer (on the signing day)",
                widgets.Checkbox(value=bool(d.get("accepted", False)), indent=False),  # ticked by a person only
                required=False,
            ),
            FormField(
                "paid",
                "Payment received (on the signing day)",
                widgets.Checkbox(value=bool(d.get("paid", False)), indent=False),
                required=False,
            ),
            FormField("wallet", spec["wallet"].label, self.wallet, id_check(self.wallet), required=False),
            FormField(
                "signed_document",
                "Signed subscription (PDF)",
                self.document_file,
                _check_upload,
                required=self.default_document is None,
            ),
        ]
        super().__init__(
            client,
            fields,
            "A signed subscription: the investor, the campaign, how many units, and "
            "when it was signed. Tick accepted and paid only when the issuer has accepted it and the payment has "
            "arrived: then it can be credited at once.",
            on_duplicate,
        )
        self.investor.observe(lambda _c: self._load_wallets(), names="value")
        self._load_wallets(d.get("wallet"))

    def _load_wallets(self, preferred: str | None = None) -> None:
        if isinstance(self.wallet, widgets.Text):
            return  # typed, as the investor's id is (the investors cannot be listed here)
        options: list[tuple[str, str | None]] = [("none: set it later, before the credit", None)]
        if self.investor.value:
            options += [
                (f"{api.in_words('type', w.get('type'))} · {str(w.get('address', ''))[:10]}…", str(w["id"]))
                for w in self.client.investors.wallets(self.investor.value)
            ]
        self.wallet.options = options
        ids = [value for _label, value in options]
        self.wallet.value = preferred if preferred is not None and preferred in ids else ids[-1]

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        """The campaign's rules, as far as the registry lists them, are checked here, before the subscription is
        uploaded (review 88): open, not sold out, the units at least its minimum, in its steps, and at most what it
        has left."""
        campaign: Mapping[str, Any] = self.campaigns.get(str(body.get("campaign_id"))) or {}
        closed = _campaign_closed(campaign)
        if closed:
            return {"campaign_id": [f"This campaign is {closed}: choose another campaign."]}
        try:
            units = checks.check_units(body.get("units"))
        except checks.CheckError:
            return {}  # the units field says why
        minimum, step, first = _fewest_units(campaign)
        if units < minimum or units % step:
            steps = f", in steps of {step:,}" if step > 1 else ""
            examples = (
                ", ".join(f"{first + step * n:,}" for n in range(3)) + " …" if step > 1 else f"{first:,} or more."
            )
            return {"units": [f"This campaign takes at least {api.units_said(minimum)}{steps}: enter {examples}"]}
        left = _whole(campaign.get("available_units"), 0)
        if left is not None and units > left:
            return {"units": [f"The campaign has {api.units_said(left)} left; enter at most {left:,}."]}
        return {}

    def body(self) -> dict[str, Any]:
        raw = super().body()
        body: dict[str, Any] = {
            k: raw[k] for k in ("investor_id", "campaign_id", "units", "signed_at", "wallet") if k in raw
        }
        if raw.get("accepted"):
            body["accepted_at"] = raw.get("signed_at")
        if raw.get("paid"):
            body["paid_at"] = raw.get("signed_at")
        return body

    def summary(self) -> list[tuple[str, str]]:
        """The fields, plus the exact amount the units cost at the campaign's price, and a word where the investor
        is not identified yet (the investment then waits in KYC_PENDING)."""
        rows = super().summary()
        body = self.body()
        try:
            identification = self.client.investors.kyc_status(str(body["investor_id"]))
        except (NotFoundError, NotListed, PermissionDeniedError):  # not readable here: the registry says it later
            identification = "SUCCESS"
        if identification != "SUCCESS":
            said = {"PENDING": "still pending", "FAILED": "failed", "NONE": "not started"}.get(identification, "open")
            rows.append(
                (
                    "Identification",
                    f"{said}: the investment waits (identification pending) until the investor is identified "
                    "(notebook 01)",
                )
            )
        try:
            price = self.client.campaigns.get(body["campaign_id"]).get("price_per_unit")
        except (NotFoundError, PermissionDeniedError):  # not readable here: the registry prices it
            return rows
        if isinstance(price, Mapping) and is_money(price):
            try:
                total = money_value(price) * checks.check_units(body["units"])  # exact: never int() of an amount
            except ValidationError:
                rows.append(("Price per unit", format_money(price)))
            else:
                rows.append(("Investment amount", format_money({**price, "amount": str(total), "decimals": 0})))
        return rows

    def result_rows(self, record: Record) -> list[tuple[str, str]]:
        """The card, without what it still holds before it is delivered (0 then, which reads as 'nothing left'); the
        campaign and the product by name, as the form showed them (review 71: short ids after named choices)."""
        names = dict(self.campaign_names)
        try:
            names.update({str(p["id"]): str(p["name"]) for p in self.client.products.list() if p.get("name")})
        except CashlinkError:  # (the products cannot be read here, or not now: their short ids; review 72)
            pass
        rows = [(name, names.get(str(value), value)) for name, value in super().result_rows(record)]
        if record.get("status") == "DELIVERED":
            return rows
        return [(name, value) for name, value in rows if not name.startswith(("Remaining units", "Remaining amount"))]

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate, **_options: Any
    ) -> Record:
        document = self.fields["signed_document"].value
        chosen = document is not None  # (by a person: not the default of an unattended run)
        if document is None and self.default_document is not None:
            document = {"name": "subscription.pdf", "content": self.default_document, "type": "application/pdf"}
        if document is None:
            raise input_error("the investment", {"signed_document": ["Upload the signed subscription (PDF)."]})
        uploaded = _upload(self.client, document)
        document_id = uploaded if isinstance(uploaded, str) else uploaded.id
        made = self.client.investments.create(
            body["investor_id"],
            body["units"],
            body["signed_at"],
            [{"document_id": document_id, "category": "subscription", "subject": "Signed subscription"}],
            campaign_id=body["campaign_id"],
            accepted_at=body.get("accepted_at"),
            paid_at=body.get("paid_at"),
            wallet=body.get("wallet"),
            reference=reference,
            on_duplicate=on_duplicate,
        )
        self._notes += _reused(uploaded, made, "signed subscription", chosen)
        return made


class RedemptionForm(Form):
    title = "Redemption"
    submit_label = "Redeem"
    moves_units = True

    def __init__(
        self, client: Client, defaults: Mapping[str, Any] | None = None, on_duplicate: OnDuplicate = "ask"
    ) -> None:
        d = dict(defaults or {})
        self.product_id = d.get("product_id") or client.config.product_id
        self.investor = investor_picker(client, d.get("investor_id"))
        self.wallet = wallet_picker(self.investor, d.get("wallet_id"), "the wallet's id (a UUID)")
        self.balance = widgets.HTML("")
        self.earlier = widgets.VBox()  # the investor's redemptions that failed: each can be tried again
        self.earlier.add_class("cl-failed-earlier")
        self.units = widgets.Text(value="" if d.get("units") is None else str(d["units"]), placeholder="100")
        spec = {s.path: s for s in models.fields_of(models.Redemption)}
        fields = [
            FormField("investor_id", spec["investor_id"].label, self.investor, id_check(self.investor)),
            FormField("wallet_id", spec["wallet_id"].label, self.wallet, id_check(self.wallet)),
            FormField("units", spec["units"].label, self.units, self._check_units),
        ]
        self.holdings: list[dict[str, Any]] | None = []  # None: the registry's investments cannot be read here
        self.unreadable = ""  # why the holdings cannot be read (a sentence), where it is not a missing scope
        super().__init__(
            client,
            fields,
            "Units are taken from the investor's investments first in, first out (the one made first in the registry "
            "first). "
            "You cannot redeem more than the wallet holds.",
            on_duplicate,
            below=(self.balance, self.earlier),
        )
        self.fields["wallet_id"].when_empty = lambda: (
            "This investor has no wallet yet (see below)." if self._walletless() else "This field is required."
        )
        self.investor.observe(lambda _c: self._load_wallets(), names="value")
        self.wallet.observe(lambda _c: self._show_balance(), names="value")
        self._load_wallets(d.get("wallet_id"))

    def _load_wallets(self, preferred: str | None = None) -> None:
        if isinstance(self.wallet, widgets.Text):  # ids typed: the investors cannot be listed here
            self.holdings = None
            self._show_balance()
            return
        if not self.investor.value:
            self.wallet.options = []
            return
        self.unreadable = ""
        try:
            self.holdings = self.client.holding_rows(investor_id=self.investor.value, product_id=self.product_id)
        except (NotListed, PermissionDeniedError):  # no holdings to show: the registry checks the balance itself
            self.holdings = None
        except CashlinkError as exc:  # e.g. an amount that cannot be read: said here (a callback prints nowhere)
            self.holdings, self.unreadable = None, error_sentence(exc)
        wallets = self.client.investors.wallets(self.investor.value)
        self.wallet.options = [
            (
                f"{api.in_words('type', w.get('type'))} · {str(w.get('address', ''))[:10]}…"
                + (f" · {api.units_said(self.held(str(w['id'])))}" if self.holdings is not None else ""),
                str(w["id"]),
            )
            for w in wallets
        ]
        ids = [str(w["id"]) for w in wallets]
        holding = [wallet_id for wallet_id in ids if self.held(wallet_id) > 0]  # the wallet with units, first
        self.wallet.value = preferred if preferred in ids else next(iter(holding or ids), None)
        self._show_balance()
        self._show_failed()

    def _show_failed(self) -> None:
        """The chosen investor's redemptions of the product that failed (the last attempt of each, as far as this
        journal retried them), each with a button that tries it again: what the reconciliation report says to do;
        and those whose outcome is unknown, which may have moved units the balance above still shows (review 71)."""
        self.earlier.children = ()
        if not self.investor.value:
            return
        try:
            redemptions = self.client.redemptions.list(investor_id=self.investor.value, product_id=self.product_id)
            failed = [r for r in redemptions if r.get("status") in api.TASK_FAILED]
            latest = {str(attempt["id"]): attempt for attempt in map(self.client.redemptions.latest_attempt, failed)}
        except (NotListed, PermissionDeniedError):  # the registry's redemptions cannot be read here
            return
        unknown = [r for r in redemptions if r.get("status") in api.TASK_UNKNOWN]
        unknown_said = tuple(widgets.HTML(self._unknown_said(r, redemptions)) for r in unknown[-3:])
        rows: list[widgets.Widget] = []
        for redemption_id, attempt in latest.items():
            if attempt.get("status") not in api.TASK_FAILED:
                continue  # retried from here, and the retry did not fail
            said = without_sandbox_notes(self.client.task_reason(attempt)).rstrip(".")  # (nothing personal)
            units = html.escape(api.units_said(attempt.get("units")))
            since = self.client.redemptions.done_again(attempt, among=redemptions, paired=False)  # (as a retry asks)
            sentence = widgets.HTML(
                f"<p>A redemption of {units} made {html.escape(made_when(attempt))} failed ({html.escape(said)}): no "
                "units moved. "
                + (
                    f"One of the same {units} from the same wallet "
                    + (
                        f"was made since ({html.escape(made_when(since))}, "
                        if times_known(attempt, since)
                        else "is in the registry, which gives no times to tell whether it was made since ("
                    )
                    + f"{html.escape(api.task_word(since.get('status')))}): if that was this one done again, there is "
                    "nothing to retry.</p>"
                    if since is not None
                    else "Once the cause is fixed, try it again here (it is not made a second time if it was already "
                    "retried from this journal).</p>"
                )
            )
            again = widgets.Button(
                description=f"Retry the redemption of {api.units_said(attempt.get('units'))} all the same"
                if since is not None
                else f"Try the redemption of {api.units_said(attempt.get('units'))} again",
                button_style="warning",
                layout=widgets.Layout(width="auto"),
            )
            again.add_class("cl-retry-earlier")
            choice: OnDuplicate = "create" if since is not None else "ask"
            again.on_click(self._choice(partial(self._retry, redemption_id, choice)))
            rows += [sentence, again]
        self.earlier.children = unknown_said + tuple(rows[-6:])  # the last three of each

    def _unknown_said(self, redemption: Record, redemptions: Iterable[Record]) -> str:
        """A redemption whose outcome is unknown: its units may have moved (review 71). A later one of the same units
        from the same wallet is said, never taken to settle it unless it succeeded after it (reviews 73-75: one
        redemption may answer for another one, be unknown or under way itself, or be made in the same minute)."""
        units = html.escape(api.units_said(redemption.get("units")))
        said = (
            f"A redemption of {units} made {html.escape(made_when(redemption))} (id "
            f"{tables.short_id(redemption.get('id'))}) from wallet {tables.short_id(redemption.get('wallet_id'))} "
            f"ended as 'unknown': the blockchain has not said whether they moved, so that wallet may hold {units} "
            "fewer than the registry shows. Do not redeem them again; ask Cashlink to check it on the blockchain."
        )
        since = self.client.redemptions.done_again(redemption, among=redemptions, paired=False)
        if since is not None and since.get("status") in api.TASK_SUCCESS and made_after(since, redemption):
            said += (
                f" One of the same {units} from that wallet succeeded since ({html.escape(made_when(since))}): "
                "if that was this one done again once Cashlink said it failed, nothing is left to do."
            )
        elif since is not None:
            said += (
                f" Another redemption of the same {units} from that wallet is in the registry "
                f"({html.escape(api.task_word(since.get('status')))}): whether it is this one done again cannot be "
                "told here; ask Cashlink about both."
            )
        return f"<p style='{ERROR_STYLE}'>{said}</p>"

    def held(self, wallet_id: str | None) -> int:
        holdings = self.holdings or []
        return sum(row["units"] for row in holdings if row["wallet_id"] == wallet_id) if wallet_id else 0

    def _walletless(self) -> bool:
        """An investor is chosen, and has no wallet to choose."""
        return bool(self.investor.value) and not isinstance(self.wallet, widgets.Text) and not self.wallet.options

    def _balance_html(self) -> str:
        if self._walletless():
            return (
                "<p>This investor has no wallet yet, so nothing can be redeemed: create one in notebook 01 (the "
                "step Wallet), or choose another investor.</p>"
            )
        if self.holdings is None and self.unreadable:
            return (
                f"<p style='{ERROR_STYLE}'>The wallet's balance cannot be shown: {html.escape(self.unreadable)} The "
                "registry checks the balance when the redemption is sent.</p>"
            )
        if self.holdings is None:
            return (
                "<p>The registry's investments cannot be read here, so the wallet's balance is not shown; the "
                "registry checks it when the redemption is sent.</p>"
            )
        held = self.held(self.wallet.value)
        return f"<p>The wallet holds <b>{held:,}</b> unit{'' if held == 1 else 's'} of the product.</p>"

    def _show_balance(self) -> None:
        self.balance.value = self._balance_html()
        if hasattr(self, "fields") and not self.fields["units"].is_empty():  # (not 'required' before any typing)
            self.fields["units"].check_now()

    def _check_units(self, value: Any) -> int:
        units = checks.check_units(value)
        held = self.held(self.wallet.value)
        if self._walletless():
            raise checks.CheckError("This investor has no wallet to redeem from (see above).")
        if self.holdings is not None and units > held:
            others = [
                (option, wallet_id)
                for option, wallet_id in getattr(self.wallet, "options", ())
                if wallet_id != self.wallet.value and self.held(wallet_id) >= units
            ]
            if held == 0:
                raise checks.CheckError(
                    "This wallet holds none of the product's units: choose "
                    + (f"the wallet {others[0][0]}" if others else "another wallet or investor")
                    + " above."
                )
            raise checks.CheckError(
                f"The wallet holds only {held:,} unit{'' if held == 1 else 's'}; you cannot redeem {units:,}. Enter at "
                f"most {held:,}" + (f", or choose the wallet {others[0][0]} above." if others else ".")
            )
        return units

    def send(
        self, body: dict[str, Any], *, reference: str | None, on_duplicate: OnDuplicate, confirm_production: bool
    ) -> Record:
        return self.client.redemptions.create(
            body["investor_id"],
            body["wallet_id"],
            body["units"],
            product_id=self.product_id,
            reference=reference,
            on_duplicate=on_duplicate,
            confirm_production=confirm_production,
        )

    def _refresh_balance(self) -> None:
        """The balance after a redemption (or its failure), without touching what is chosen."""
        if self.investor.value and self.holdings is not None:
            self.holdings = self.client.holding_rows(investor_id=self.investor.value, product_id=self.product_id)
        self.balance.value = self._balance_html()

    def done(self, record: Record) -> None:
        self._refresh_balance()
        super().done(record)

    def start_again(self) -> None:
        super().start_again()
        self._load_wallets(self.wallet.value)

    def submit(self, raise_errors: bool = True, **options: Any) -> Record | None:
        try:
            record = super().submit(raise_errors, **options)
        finally:
            if self.result is None or self.error is not None:
                self._refresh_balance()
        return record

    def after_error(self, exc: CashlinkError) -> None:
        task = exc.task if isinstance(exc, TaskError) else {}
        if task.get("status") in api.TASK_UNKNOWN:
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>The redemption {html.escape(str(task.get('id')))} ended as "
                "'unknown': the blockchain has not said whether the units moved. Do not redeem again; ask Cashlink "
                "to check it on the blockchain.</span>"
            )
        if task.get("status") in api.TASK_FAILED and task.get("id"):
            reason = error_sentence(TaskError(self.client.task_reason(task))).rstrip(".")
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>The redemption {html.escape(str(task['id']))} failed: "
                f"{html.escape(reason)}. No units moved. Once the cause is fixed, click "
                "<b>Try this redemption again</b>.</span>"
            )
            retry = widgets.Button(
                description="Try this redemption again", button_style="warning", layout=widgets.Layout(width="auto")
            )
            retry.add_class("cl-retry")
            retry.on_click(self._choice(lambda: self._retry(str(task["id"]))))
            self._ask([retry], about_the_values=False)

    def _retry(self, redemption_id: str, on_duplicate: OnDuplicate = "ask") -> None:
        self.choices.children = ()
        try:
            record = self.client.redemptions.retry(redemption_id, on_duplicate=on_duplicate)
        except CashlinkError as exc:
            self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</span>"
            self.after_error(exc)
            return
        finally:
            self._show_failed()
        self.error = None
        self.done(record)

    def result_rows(self, record: Record) -> list[tuple[str, str]]:
        rows = [
            ("Units redeemed", count_text(record.get("units"))),
            ("Status", api.in_words("status", record.get("status"))),
        ]
        allocations = record.get("allocations") or []
        if allocations:
            rows.append(
                (
                    "Taken from",
                    f"{len(allocations)} investment{'s' if len(allocations) != 1 else ''}, first in, first out",
                )
            )
        if self.holdings is not None:  # (unknown where the registry's investments cannot be read)
            rows.append(("Wallet now holds", f"{api.units_said(self.held(str(record.get('wallet_id'))))}"))
        return [*rows, ("Redemption id", OwnId(record.get("id", "")))]
