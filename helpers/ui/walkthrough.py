"""Guided walkthroughs: each flow as a step-by-step wizard (steps, Back and Next, where am I) in one output.

An analyst completes them without reading or editing code. The mode is chosen without editing code:

* ``"auto"`` (the notebooks' default): *by hand* when a person runs the notebook (JupyterLab, Jupyter Notebook, the
  Voilà app), *unattended* when a program runs it (papermill, nbclient, ``make report``) against the local sandbox;
* ``"by hand"``: empty forms, nothing is sent until a person clicks;
* ``"unattended"``: every step is submitted with the given values (completed by demo values on the local sandbox
  only), and the first error stops the run with a sentence.

On the sandbox the wizard's header also offers the switch between the two, so a person can watch a demo run.

    wizard = walkthrough.Onboarding(client, MODE, walkthrough.parameters(globals()))
    wizard.run()
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import ipywidgets as widgets
from IPython.display import display

from helpers.core import api, checks, models
from helpers.core.client import Client, ConfirmationRequired, OnDuplicate, made_when
from helpers.core.errors import (
    CashlinkError,
    InputError,
    NotListed,
    PermissionDeniedError,
    TaskError,
    input_error,
    without_sandbox_notes,
)
from helpers.core.records import Record, html_badge
from helpers.core.resources import investor_name, made_after
from helpers.data import lookup
from helpers.data.people import person_at_screen
from helpers.ui import demo, forms, tables
from helpers.ui.forms import ERROR_STYLE, STYLE, error_sentence, message_html

Mode = Literal["by hand", "unattended"]
MODES = ("auto", "by hand", "unattended")


def resolve_mode(mode: str | None, client: Client) -> Mode:
    """The mode a walkthrough runs in (see the module documentation)."""
    chosen = (mode or "auto").strip().lower().replace("_", " ").replace("-", " ")
    if chosen in ("by hand", "hand", "manual"):
        return "by hand"
    if chosen == "unattended":
        return "unattended"
    if chosen != "auto":
        raise InputError(f"MODE must be one of {', '.join(repr(m) for m in MODES)}, not {chosen[:40]!r}.")
    if person_at_screen() or not client.is_sandbox:
        return "by hand"
    return "unattended"


def parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """A notebook's parameters (its UPPERCASE names) as lower-case keys, for a walkthrough's ``values``.

    ``VALUES_FILE``: a JSON object of more values (``{"IBAN": "...", "BIRTH_DATE": "..."}``) for those still None.
    papermill writes the values it is given with ``-p`` into the executed notebook; a file's content stays out."""
    values = {
        name.lower(): value
        for name, value in namespace.items()
        if name.isupper() and not name.startswith("_") and name not in ("MODE", "IF_EXISTS", "VALUES_FILE")
    }
    path = namespace.get("VALUES_FILE")
    if path:
        for name, value in _values_file(str(path)).items():
            if values.get(name.lower()) is None:
                values[name.lower()] = value
    return values


def _values_file(path: str) -> dict[str, Any]:
    import json

    from helpers.core.checks import quote
    from helpers.core.errors import input_error

    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise input_error("VALUES_FILE", {"VALUES_FILE": [f"There is no file at {quote(path, 120)}."]}) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise input_error(
            "VALUES_FILE", {"VALUES_FILE": [f"{quote(path, 120)} is not a JSON file ({type(exc).__name__})."]}
        ) from None
    if not isinstance(content, dict):
        raise input_error(
            "VALUES_FILE", {"VALUES_FILE": ['It must hold one JSON object, e.g. {"IBAN": "DE89...", "EMAIL": "..."}.']}
        )
    return {str(name): value for name, value in content.items()}


class Step:
    """One step of a walkthrough: its title, how its screen is built, and how it is done unattended."""

    def __init__(
        self,
        title: str,
        build: Callable[[dict[str, Any]], widgets.Widget],
        *,
        auto: Callable[[widgets.Widget], Record | None] | None = None,
        applies: Callable[[], bool] = lambda: True,
        final: bool = False,
    ) -> None:
        self.title, self.build, self.auto, self.applies, self.final = title, build, auto, applies, final
        self.screen: widgets.Widget | None = None
        self.result: Record | None = None
        self.waiting = False  # gone past with nothing done (an investment that cannot be credited yet): no ✔


class Walkthrough(widgets.VBox):
    """Steps shown one at a time in one output, with where-am-I, Back and Next, and the registry's badge."""

    title = "Walkthrough"
    intro = ""

    def __init__(
        self,
        client: Client,
        mode: str | None = "auto",
        values: Mapping[str, Any] | None = None,
        if_exists: OnDuplicate = "use",
    ) -> None:
        self.client = client
        self.mode: Mode = resolve_mode(mode, client)
        self.given = dict(values or {})
        self.if_exists = if_exists
        self.steps: list[Step] = self.make_steps()
        self.current = 0
        self._switching = False
        self.header = widgets.HTML()
        self.header.add_class("cl-msg")
        self.where = widgets.HTML()
        self.where.add_class("cl-where")
        self.where.add_class("cl-msg")
        self.body = widgets.VBox([])
        self.back_button, self.next_button = self._navigation()
        self.again_button = widgets.Button(
            description="Start again", icon="refresh", layout=widgets.Layout(width="auto", display="none")
        )
        self.again_button.add_class("cl-start-again")
        self.nav = widgets.HBox([self.back_button, self.next_button, self.again_button])
        self.again_button.on_click(lambda _b: self._start_again())
        self.mode_switch = widgets.ToggleButtons(
            options=[("By hand", "by hand"), ("Demo data (sandbox)", "unattended")],
            value=self.mode,
            style={"button_width": "auto"},
        )
        self.mode_switch.add_class("cl-mode")
        self.mode_switch.observe(lambda change: self._mode_changed(change["new"]), names="value")
        self.error = widgets.HTML()
        self.error.add_class("cl-msg")
        mode_row: list[widgets.Widget] = [widgets.HTML("<b>How:</b>"), self.mode_switch] if client.is_sandbox else []
        super().__init__(
            [
                self.header,
                widgets.HBox(mode_row),
                self.where,
                self.body,
                self.error,
                self.nav,
            ]
        )
        self.add_class("cl-wizard")
        forms.replaces_the_last(self)  # a cell run again: the earlier walkthrough (what was typed in it) is closed
        self._render_header()
        self.go(0)

    # --- to be given by each flow ---------------------------------------------------------------------------------

    def make_steps(self) -> list[Step]:
        raise NotImplementedError

    def demo_values(self) -> dict[str, Any]:
        return {}

    # --- values ---------------------------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the forms start with: nothing by hand; unattended, the parameters and (sandbox only) demo values."""
        if self.mode == "by hand":
            return {}
        return demo.values(self.demo_values(), self.given, self.client.is_sandbox)

    def _acted_on(self, values: Mapping[str, Any], sandbox_default: Callable[[], str | None]) -> str | None:
        """The investor an unattended step acts on: INVESTOR_ID, else the one with INVESTOR_EMAIL. A given e-mail
        that no investor has, that several share, or that names another investor than INVESTOR_ID stops the run
        (never another investor's units); only the sandbox's demo picks one itself (``sandbox_default``) when
        nothing was given."""
        given_id = str(values["investor_id"]).strip() if values.get("investor_id") else None
        # an id in the registry's spelling (lower case), however it was typed
        investor_id = checks.check_uuid(given_id) if given_id and checks.is_uuid(given_id) else given_id
        given = self.given.get("investor_email")
        if given:
            found = lookup.investors_by_email(self.client, str(given))
            problem = (
                "No investor in the registry has this e-mail address"
                if not found
                else "INVESTOR_ID names another investor than the one with this e-mail address"
                if investor_id and investor_id not in found
                else f"{len(found)} investors share this e-mail address (a joint account?)"
                if len(found) > 1 and not investor_id
                else None
            )
            if problem:
                raise input_error(
                    "the investor",
                    {
                        "INVESTOR_EMAIL": [
                            f"{problem}, so nothing was sent. Give the investor's INVESTOR_ID (notebook 03 looks "
                            "investors up)."
                        ]
                    },
                )
            return investor_id or found[0]
        if investor_id:
            return investor_id
        if not self.client.is_sandbox:
            raise input_error(
                "the investor",
                {"INVESTOR_ID": ["Give INVESTOR_ID or INVESTOR_EMAIL: outside the sandbox no investor is picked."]},
            )
        return lookup.investor_by_email(self.client, values.get("investor_email")) or sandbox_default()

    def result(self, title: str) -> Record | None:
        step = next((s for s in self.steps if s.title == title), None)
        return step.result if step else None

    # --- navigation -----------------------------------------------------------------------------------------------

    def visible(self) -> list[int]:
        return [i for i, step in enumerate(self.steps) if step.applies()]

    def _next(self) -> None:
        """Next, once the step shown has its result: the second click of a double-click arrives on the step the
        first one opened, which has none yet, and changes nothing (it skipped a step: the identification)."""
        step = self.steps[self.current]
        if step.result is None and not step.final:
            return
        self.go(self._neighbour(+1))

    def _neighbour(self, direction: int) -> int:
        shown = self.visible()
        position = shown.index(self.current) if self.current in shown else 0
        return shown[max(0, min(len(shown) - 1, position + direction))]

    def _navigation(self) -> tuple[widgets.Button, widgets.Button]:
        """Back and Next for the step about to be shown: new buttons each time, so that the second click of a
        double-click, which arrives on the buttons of the step the first click left, changes nothing (it skipped
        the credit, whose step is done as soon as it is shown when there is nothing to credit)."""
        back = widgets.Button(description="Back", icon="arrow-left", layout=widgets.Layout(width="auto"))
        forward = widgets.Button(
            description="Next", icon="arrow-right", button_style="primary", layout=widgets.Layout(width="auto")
        )
        back.add_class("cl-back")
        forward.add_class("cl-next")
        back.on_click(lambda button: self.go(self._neighbour(-1)) if button is self.back_button else None)
        forward.on_click(lambda button: self._next() if button is self.next_button else None)
        return back, forward

    def go(self, index: int) -> None:
        """Show step ``index`` (building its screen the first time)."""
        if hasattr(self, "nav"):  # (not while the walkthrough is made)
            old = (self.back_button, self.next_button)
            self.back_button, self.next_button = self._navigation()
            self.nav.children = (self.back_button, self.next_button, self.again_button)
            for button in old:
                button.close()
        self.current = index
        step = self.steps[index]
        if step.screen is None:
            step.screen = self._build(step)
        self.body.children = (step.screen,) if step.screen is not None else ()
        self.error.value = ""
        self._render_where()

    def _build(self, step: Step) -> widgets.Widget | None:
        try:
            screen = step.build(self.values())
        except CashlinkError as exc:
            if self.mode == "unattended":
                raise
            self.error.value = f"<p style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</p>"
            return None
        if isinstance(screen, forms.Form):
            screen.on_done.append(self._listener(step))
        return screen

    def _listener(self, step: Step) -> Callable[[Record], None]:
        return lambda record: self._step_done(step, record)

    def _step_done(self, step: Step, record: Record | None) -> None:
        """A step has its result: later steps start afresh (they depend on it), and Next is offered."""
        step.result = record
        later = self.steps.index(step) + 1
        for other in self.steps[later:]:
            self._drop_screen(other)
        self._render_where()

    @staticmethod
    def _drop_screen(step: Step) -> None:
        """Forget a step's screen, closed (a saved notebook keeps no state of it: its pickers list investors)."""
        if step.screen is not None:
            forms.close_all(step.screen)
        step.screen, step.result, step.waiting = None, None, False

    def _render_header(self) -> None:
        self.header.value = (
            f"{STYLE}<h2 style='margin-bottom:0.2em'>{html.escape(self.title)} {html_badge(self.client)}</h2>"
            f"<p>{self.intro}</p>"
        )

    def _render_where(self) -> None:
        shown = self.visible()
        position = shown.index(self.current) + 1 if self.current in shown else 1
        items = []
        for number, index in enumerate(shown, start=1):
            step = self.steps[index]
            done = step.result is not None and not step.waiting
            passed = "–" if step.result is not None and step.result.get("status") in api.FINAL_STATUSES else "…"
            mark = "✔" if done or (step.final and index == self.current) else passed if step.waiting else str(number)
            style = "font-weight:bold;text-decoration:underline" if index == self.current else "color:#555"
            items.append(f"<span style='{style}'>{mark} {html.escape(step.title)}</span>")
        step = self.steps[self.current]
        self.where.value = (
            f"<p><b>Step {position} of {len(shown)}: {html.escape(step.title)}</b>"
            f" &nbsp;·&nbsp; {' → '.join(items)}</p>"
        )
        self.back_button.disabled = position == 1
        last = position == len(shown)
        self.next_button.layout.display = "none" if last else None
        self.again_button.layout.display = None if last else "none"
        self.again_button.description = "Start again" if self.mode == "by hand" else "Start again by hand"
        self.next_button.disabled = step.result is None and not step.final
        next_title = self.steps[shown[position]].title if not last else ""
        self.next_button.description = f"Next: {next_title}" if next_title else "Next"

    # --- modes ----------------------------------------------------------------------------------------------------

    def _mode_changed(self, mode: Mode) -> None:
        if self._switching:
            return
        self.mode = mode
        self.restart()
        if mode == "unattended":
            try:
                self.run_unattended()
            except Exception as exc:  # shown in the step that failed; a click has no cell to print into
                self.error.value = f"<p style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</p>"

    def _start_again(self) -> None:
        """The last step's button: by hand, the first step with empty forms; after the demo, the same by hand."""
        if self.mode == "unattended":
            self.mode_switch.value = "by hand"  # (its observer restarts)
        else:
            self.restart()

    def restart(self) -> None:
        """Back to the first step with every screen built afresh (empty forms by hand)."""
        for step in self.steps:
            self._drop_screen(step)
        self.go(0)

    def run(self) -> None:
        """Show the walkthrough; unattended, go through every step at once (the first error stops the run)."""
        display(self)
        if self.mode == "unattended":
            self.run_unattended()

    def preflight(self, values: Mapping[str, Any]) -> None:
        """Unattended: refuse a run whose later steps would lack a value, before its first step sends anything (a
        program has nobody to ask halfway, and a half-made onboarding is work for a person)."""

    def run_unattended(self) -> None:
        self.preflight(self.values())
        try:
            for index in range(len(self.steps)):
                step = self.steps[index]
                if not step.applies():
                    continue
                self.go(index)
                if step.auto is not None and step.screen is not None:
                    step.result = step.auto(step.screen)
                if step.final:
                    break
        except BaseException:  # nobody will correct it: the executed notebook keeps no values and no list of people
            for built in (step.screen for step in self.steps):
                if isinstance(built, forms.Form):
                    for form_field in built.fields.values():
                        form_field.forget(keep_message=True)
                    built.forget_people()
            raise
        self._render_where()


def _submit(if_exists: OnDuplicate) -> Callable[[widgets.Widget], Record | None]:
    def auto(screen: widgets.Widget) -> Record | None:
        assert isinstance(screen, forms.Form)
        screen.on_duplicate = if_exists
        return screen.result or screen.submit()

    return auto


# --- onboarding -------------------------------------------------------------------------------------------------


class Onboarding(Walkthrough):
    """The investor, a benefiting person (companies only), the identification, a wallet."""

    title = "Onboard an investor"
    intro = (
        "Fill in each step and click <b>Review</b>, then the step's submit button; the result appears in the step "
        "and <b>Next</b> takes you on. Nothing is sent before you submit."
    )

    def demo_values(self) -> dict[str, Any]:
        return demo.ONBOARDING

    def investor(self) -> Record | None:
        return self.result("Investor")

    def make_steps(self) -> list[Step]:
        auto = _submit(self.if_exists)
        return [
            Step("Investor", self._investor, auto=auto),
            Step(
                "Benefiting person",
                lambda v: forms.BenefitingPersonForm(self.client, self._investor_id(), v),
                auto=auto,
                applies=self._is_company,
            ),
            Step("Identification", self._identification, auto=auto),
            Step("Wallet", self._wallet, auto=auto),
            Step("Done", self._done, final=True),
        ]

    def preflight(self, values: Mapping[str, Any]) -> None:
        """The identification's protocol and the wallet have no demo values outside the sandbox: without
        PROTOCOL_PDF or WALLET_KIND (or WALLET_ADDRESS for an own address), or without TAX_ID (a wallet needs it),
        the run stops before the investor is written."""
        missing: dict[str, list[str]] = {}
        if not values.get("protocol_pdf") and not self.client.is_sandbox:
            missing["PROTOCOL_PDF"] = [
                "Give PROTOCOL_PDF, the path of the identification provider's protocol: placeholders exist only for "
                "the local sandbox."
            ]
        kind = values.get("wallet_kind")
        if not kind:
            missing["WALLET_KIND"] = [
                'Give WALLET_KIND: "eth-managed" (kept by Cashlink), or "eth-generic" with WALLET_ADDRESS (the '
                "investor's own address); the demo's wallet is for the local sandbox only."
            ]
        elif str(kind).strip().lower() not in models.WALLET_KINDS:
            missing["WALLET_KIND"] = [
                f'{checks.quote(kind)} is not a wallet kind: give "eth-managed" (or managed), or "eth-generic" '
                "(or generic) with WALLET_ADDRESS."
            ]
        elif models.wallet_kind(kind) == "eth-generic" and not values.get("wallet_address"):
            missing["WALLET_ADDRESS"] = [
                "Give WALLET_ADDRESS, the investor's own Ethereum address, for an own wallet (WALLET_KIND "
                '"eth-generic"), or make WALLET_KIND "eth-managed".'
            ]
        if not values.get("tax_id") and not values.get("is_custodian_bank"):
            missing["TAX_ID"] = [
                "Give TAX_ID, the investor's tax identification number: the registry makes no wallet for an "
                "investor without it."
            ]
        if missing:
            raise input_error("the parameters", missing)

    def _is_company(self) -> bool:
        """A benefiting person is needed for a company only (the investor's kind, as created or as chosen)."""
        investor, screen = self.investor(), self.steps[0].screen
        if investor is not None:
            return "legal_person" in investor
        if isinstance(screen, forms.InvestorForm):
            return bool(screen.kind.value == "legal_person")
        return bool(self.values().get("kind") == "legal_person")

    def _investor_id(self) -> str:
        investor = self.investor()
        if investor is None:
            raise InputError("Create the investor first (step 1); the next steps continue from it.")
        return investor.id

    def _investor(self, values: dict[str, Any]) -> forms.Form:
        form = forms.InvestorForm(self.client, values, on_duplicate=self.if_exists if values else "ask")
        form.kind.observe(lambda _c: self._render_where(), names="value")  # a company has one step more
        return form

    def _identification(self, values: dict[str, Any]) -> forms.Form:
        investor_id = self._investor_id()
        values = dict(values)
        if values:
            values["protocol"] = self.client.documents.file_or_placeholder(
                values.get("protocol_pdf"), "Identification protocol (sandbox placeholder)"
            )
        return forms.IdentificationForm(self.client, investor_id, values)

    def _wallet(self, values: dict[str, Any]) -> forms.Form:
        investor_id = self._investor_id()
        wanted = {  # (the tax id: asked for here where the investor has none, which a wallet needs)
            "kind": values.get("wallet_kind"),
            "address": values.get("wallet_address"),
            "tax_id": values.get("tax_id"),
        }
        return forms.WalletForm(self.client, investor_id, {k: v for k, v in wanted.items() if v})

    def _done(self, _values: dict[str, Any]) -> widgets.Widget:
        investor = self.client.investors.get(self._investor_id())
        wallet: Mapping[str, Any] = self.result("Wallet") or {}
        rows = [  # no name: the screen stays in the widget's (saved) state
            ("Identification", api.in_words("kyc_status", self.client.investors.kyc_status(investor))),
            ("Wallet", f"{api.in_words('type', wallet.get('type', ''))} {wallet.get('address', '')}".strip()),
            ("Investor id", forms.OwnId(investor.id)),
        ]
        return message_html(
            f"<p><b>✔ The investor {html.escape(investor.id[:8])} is onboarded.</b> Next: an investment for this "
            "investor (<i>2 · Invest and credit</i>).</p>" + forms.record_card(rows)
        )


# --- investing and crediting ------------------------------------------------------------------------------------


class CreditScreen(widgets.VBox):
    """Credit a paid investment to its wallet and watch it until DELIVERED (a sentence, not a progress bar)."""

    def __init__(self, client: Client, investment: Record, timeout: float = 120) -> None:
        self.client, self.investment, self.timeout = client, investment, timeout
        self.result: Record | None = None
        self.on_done: list[Callable[[Record], None]] = []
        self.on_changed: list[Callable[[Record], None]] = []  # the investment read again, in another status
        self.status = message_html("")
        self.status.add_class("cl-status")
        self.button = widgets.Button(
            description="Credit the securities",
            icon="check",
            button_style="success",
            layout=widgets.Layout(width="auto"),
        )
        self.button.add_class("cl-credit")
        self.button.on_click(self._clicked)
        self.choices = widgets.HBox([])
        self.intro = message_html("")
        self._explain()
        super().__init__(
            [
                message_html(f"{STYLE}<h3>Credit {html_badge(client)}</h3>"),
                self.intro,
                self.button,
                self.status,
                self.choices,
            ]
        )
        self.add_class("cl-credit-screen")

    def _earlier_credit(self) -> str:
        """What the investment's earlier credits say, where the registry lists them (reviews 71-75). A credit whose
        outcome is unknown, whenever it was made, may have moved the units: it is named, with a failure made after
        it, and the button goes (the sandbox's registry refuses a new credit beside it). Otherwise the
        latest failure is named (a new attempt can be sent), and nothing is said while a credit is under way."""
        try:
            tasks = self.client.investments.credit_tasks(str(self.investment.get("id")))
        except CashlinkError:  # (said when the credit is sent, if it matters then)
            return ""

        def latest(status: api.Statuses) -> Record | None:
            chosen = [task for task in tasks if task.get("status") in status]
            when = [checks.registry_moment(task.get("created_at")) for task in chosen]
            if not chosen or None in when:
                return chosen[-1] if chosen else None  # (no times to tell: as listed)
            return max(zip(when, range(len(chosen)), chosen, strict=True))[2]

        def named(task: Record) -> str:
            return f"{html.escape(made_when(task))}, task {tables.short_id(task.get('id'))}"

        unknown, failed = latest(api.TASK_UNKNOWN), latest(api.TASK_FAILED)
        if unknown is not None:
            self.button.layout.display = "none"
            return (
                f" A credit of it ({named(unknown)}) ended as 'unknown': the blockchain has not said whether the units "
                "moved."
                + (
                    f" A later one failed ({named(failed)})."
                    if failed is not None and made_after(failed, unknown)
                    else ""
                )
                + " Do not credit it again until Cashlink has checked it on the blockchain."
            )
        if failed is None or any(task.get("status") in api.TASK_PROCESSING for task in tasks):
            return ""  # (none failed, or one under way: the status line follows it)
        reason = without_sandbox_notes(self.client.task_reason(failed)).rstrip(".")
        return (
            f" An earlier credit of it failed ({named(failed)}: {html.escape(reason)}); crediting again sends a new "
            "attempt."
        )

    def _explain(self) -> None:
        """What can be done with the investment in its status: credit it (PAID), nothing (DELIVERED), or check again
        later (any other status)."""
        status = self.investment.get("status")
        self.button.layout.display = None
        if status == "DELIVERED":
            intro = "The investment is already <b>delivered</b>: nothing to credit."
            self.button.layout.display = "none"
        elif status == "PAID":
            intro = (
                f"The investment of <b>{api.units_said(self.investment.get('units'))}</b> is <b>paid</b>. "
                "Crediting moves the digital securities to the investor's wallet; this page shows the registry's "
                "status until it is delivered." + self._earlier_credit()
            )
            self.button.description, self.button.icon = "Credit the securities", "check"
        elif status in api.FINAL_STATUSES:
            intro = (
                f"The investment is <b>{html.escape(api.status_phrase(status))}</b>: it has ended and can no longer "
                "be credited."
            )
            self.button.layout.display = "none"
        else:
            waits, todo = api.WAITING_FOR.get(str(status), (api.status_phrase(status), ""))
            then = (
                "Once the money arrived and it is marked paid (in Cashlink Studio), click <b>Check again</b>."
                if status == "ACCEPTED"
                else f"{html.escape(todo or 'Wait until the issuer accepted it and the money arrived.')} Then click "
                "<b>Check again</b>."
            )
            intro = (
                f"The investment is <b>{html.escape(waits)}</b>: only a paid investment with a wallet can be "
                f"credited. {then}"
            )
            self.button.description, self.button.icon = "Check again", "refresh"
        self.intro.value = f"<p>{intro}</p>"

    def _progress(self, what: str, current: Record, waited: float) -> None:
        self.status.value = (
            f"Waiting for the registry: the {html.escape(what)} is "
            f"<b>{html.escape(api.status_phrase(current.get('status')))}</b> "
            f"({waited:.0f} s so far; it usually takes a few seconds)…"
        )

    def _clicked(self, button: widgets.Button, confirm_production: bool = False) -> None:
        """A click on a button this screen offers now. The second click of a double-click arrives once the first
        has ended, on a button no longer offered (hidden, or replaced by 'Credit again'): it changes nothing, so a
        failed credit is never sent again by it."""
        if button.layout.display == "none" or (button is not self.button and button not in self.choices.children):
            return
        self._click(confirm_production)

    def _offer(self, description: str, style: str, css: str, confirm_production: bool = False) -> None:
        """The one button that goes on from here (in place of 'Credit the securities', which is hidden)."""
        self.button.layout.display = "none"
        offered = widgets.Button(description=description, button_style=style, layout=widgets.Layout(width="auto"))
        offered.add_class(css)
        offered.on_click(lambda button: self._clicked(button, confirm_production))
        self.choices.children = (offered,)

    def _click(self, confirm_production: bool = False) -> None:
        self.choices.children = ()
        try:
            self.credit(confirm_production=confirm_production)
        except ConfirmationRequired as exc:
            self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(exc.message)}</span>"
            self._offer("Confirm on production", "danger", "cl-confirm-production", confirm_production=True)
        except TaskError as exc:
            if exc.task.get("status") not in api.TASK_FAILED:  # unknown, or not ended in time: a click again sends
                self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</span>"
                return  # nothing (the journal has its answer) and looks again
            reason = without_sandbox_notes(self.client.task_reason(exc.task)).rstrip(".")
            self.status.value = (
                f"<span style='{ERROR_STYLE}'>The credit {html.escape(str(exc.task.get('id', ''))[:8])} failed: "
                f"{html.escape(reason)}. No units moved. Once the cause is fixed, click <b>Credit again</b>: a failed "
                "credit is sent as a new attempt.</span>"
            )
            self._offer("Credit again", "warning", "cl-credit-again", confirm_production)
        except Exception as exc:  # shown here: a click has no cell to print into
            said = error_sentence(exc)
            refused = isinstance(exc, InputError) or (isinstance(exc, CashlinkError) and exc.status in (400, 409, 422))
            if refused and self._changed_since():
                said = (
                    "Nothing was credited: the investment is "
                    f"{api.status_phrase(self.investment.get('status'))} now (it changed in the registry)."
                )
            self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(said)}</span>"
            if self.button.layout.display == "none" and self.investment.get("status") == "PAID":  # (after 'Credit
                self._offer("Try again", "warning", "cl-credit-again", confirm_production)  # again'): a way on

    def _changed_since(self) -> bool:
        """After a refusal: whether the investment's status changed in the registry since this screen read it (then
        the screen says what it is now, and what can be done)."""
        try:
            fresh = self.client.investments.get(self.investment.id)
        except CashlinkError:
            return False
        if fresh.get("status") == self.investment.get("status"):
            return False
        self.investment = fresh
        self._explain()
        for listener in self.on_changed:
            listener(fresh)
        return True

    def credit(self, confirm_production: bool = False) -> Record:
        """Credit a PAID investment and wait until it is DELIVERED; in another status, read it again (it may have
        been paid since) and say what can be done now."""
        notes: list[str] = []  # what the credit could not check (credentials that may not read the investment)
        if self.investment.get("status") != "PAID":
            self.investment = self.client.investments.get(self.investment.id)
            self._explain()
            status = self.investment.get("status")
            if status != "DELIVERED":
                phrase = html.escape(api.status_phrase(status))
                self.status.value = f"Checked at {datetime.now(UTC):%H:%M:%S} UTC: the investment is <b>{phrase}</b>."
                return self.investment
            record = self.investment
        else:
            self.button.disabled = True
            previous, self.client.progress = self.client.progress, self._progress
            try:
                with forms.notes_of_the_write() as notes:
                    record = self.client.investments.credit(
                        self.investment.id, timeout=self.timeout, confirm_production=confirm_production
                    )
            finally:
                self.client.progress = previous
                self.button.disabled = False
        self.result = record
        self.button.layout.display = "none"
        if record.get("status") == "DELIVERED":  # no longer 'is PAID'
            self.intro.value = f"<p>The investment of <b>{api.units_said(record.get('units'))}</b> is credited.</p>"
        if "units" in record:
            self.status.value = (
                f"<b>✔ The investment is {html.escape(api.status_phrase(record.get('status')))}</b>: "
                f"{api.units_said(record.get('units'))} "
                f"in wallet {tables.short_id(record.get('wallet')) or '(none)'} "  # (short, as its id: review 71)
                f"(investment {tables.short_id(record.get('id'))})."
            )
        else:  # the credit task (these credentials may not read the investment): what is known, and what is not
            said = " ".join(notes) or "Whether the investment is delivered is not checked here."
            self.status.value = (
                f"<b>✔ The credit was sent</b> (task {html.escape(str(record.get('id')))}). "
                f"<span style='{ERROR_STYLE}'>{html.escape(said)}</span>"
            )
        for listener in self.on_done:
            listener(record)
        return record


class Investing(Walkthrough):
    """A signed investment, its credit to the wallet, and the registry's statements."""

    title = "Invest and credit"
    intro = (
        "Import a signed subscription for an identified investor, then credit the digital securities to the "
        "investor's wallet. Submitting the same subscription again never creates a second investment."
    )

    def demo_values(self) -> dict[str, Any]:
        return demo.INVESTMENT

    def make_steps(self) -> list[Step]:
        return [
            Step("Investment", self._investment, auto=_submit(self.if_exists)),
            Step(
                "Credit",
                self._credit,
                auto=lambda screen: screen.credit() if isinstance(screen, CreditScreen) else None,
            ),
            Step("Done", self._done, final=True),
        ]

    def _investment(self, values: dict[str, Any]) -> forms.Form:
        if not values:
            return forms.InvestmentForm(self.client)
        values = dict(values)
        values["document"] = self.client.documents.file_or_placeholder(
            values.get("signed_pdf"), f"Subscription {api.units_said(values.get('units'))} (sandbox placeholder)"
        )
        values["investor_id"] = self._acted_on(values, lambda: lookup.latest_identified_investor(self.client))
        return forms.InvestmentForm(self.client, values, on_duplicate=self.if_exists)

    def _credit(self, values: dict[str, Any]) -> widgets.Widget:
        investment = self.result("Investment")
        if investment is None:
            raise InputError("Create the investment first (step 1); the credit continues from it.")
        screen = CreditScreen(
            self.client, self.client.investments.get(investment.id), values.get("credit_timeout") or 120
        )
        screen.on_done.append(self._credited)
        screen.on_changed.append(self._credit_changed)
        status = screen.investment.get("status")
        self.steps[1].waiting = status not in ("PAID", "DELIVERED")  # gone past as it is, not ticked
        if status != "PAID":  # the registry's status now, not the form's answer
            self.steps[1].result = screen.investment  # nothing to credit now: the step is passed as it is
        return screen

    def _credit_changed(self, investment: Record) -> None:
        """The registry changed the investment while its credit step was shown (ended, or not paid any more): the
        step is passed as it is, so Next goes on (it was a dead end)."""
        if investment.get("status") != "PAID":
            self.steps[1].waiting = investment.get("status") != "DELIVERED"
            self._step_done(self.steps[1], investment)

    def _credited(self, record: Record) -> None:
        self.steps[1].waiting = record.get("status") not in ("DELIVERED", None)  # (a task: sent, not waiting)
        self._step_done(self.steps[1], record)

    def _done(self, _values: dict[str, Any]) -> widgets.Widget:
        investment = self.result("Credit") or self.result("Investment")
        assert investment is not None
        try:  # its status as it is now (it may have moved on, or ended, since the credit step)
            investment = self.client.investments.get(investment.id)
        except CashlinkError:
            pass
        statements = self.client.investments.registry_statements(investment.id)
        frame = tables.people_frame(tables.of_investment(statements, investment), tables.STATEMENT_COLUMNS)
        status = investment.get("status")
        waits = api.WAITING_FOR.get(str(status), ("", ""))[0]
        units = html.escape(api.units_said(investment.get("units")))
        if status == "DELIVERED":
            said = f"<b>✔ Investment of {units}: {html.escape(api.status_phrase(status))}.</b>"
        elif waits:
            said = (
                f"<b>Investment of {units}: not credited yet, {html.escape(waits)}.</b> "
                f"{html.escape(api.WAITING_FOR[str(status)][1])}"
            )
        else:  # ended (or a status the toolkit does not know): never credited, and said without a tick
            said = f"<b>Investment of {units}: {html.escape(api.status_phrase(status))}, not credited.</b>"
        head = message_html(f"<p>{said} Registry statements (one per change of the holding):</p>")
        return widgets.VBox(
            [head, tables.interactive(frame) if len(frame) else message_html(tables.empty_note("statements yet"))]
        )


# --- redeeming --------------------------------------------------------------------------------------------------


class Redeeming(Walkthrough):
    """A redemption (never more than the wallet holds), then where its units came from (FIFO)."""

    title = "Redeem units"
    intro = (
        "A redemption takes units from the investor's investments <b>first in, first out</b> (the one made first in "
        "the registry first) and burns them. The form shows the wallet's balance and refuses more than it holds, "
        "before anything is sent."
    )

    def demo_values(self) -> dict[str, Any]:
        return demo.REDEMPTION

    def make_steps(self) -> list[Step]:
        return [
            Step("Redemption", self._redemption, auto=_submit(self.if_exists)),
            Step("Done", self._done, final=True),
        ]

    def _redemption(self, values: dict[str, Any]) -> forms.Form:
        if not values:
            return forms.RedemptionForm(self.client)
        values = dict(values)
        wanted = api.whole_number(values.get("units")) or 1
        picked: list[tuple[str, str, int]] = []  # the sandbox's demo: a wallet that holds units, where none is given

        def demo_holder() -> str | None:
            holding = lookup.latest_holding(self.client, self.client.config.product_id, at_least=wanted)
            picked.extend([holding] if holding else [])
            return holding[0] if holding else None

        values["investor_id"] = self._acted_on(values, demo_holder)
        for _investor, wallet_id, units in picked:  # (from that wallet, no more than it holds: reviews 96-97)
            values["wallet_id"], values["units"] = wallet_id, min(wanted, units)
        return forms.RedemptionForm(self.client, values, on_duplicate=self.if_exists)

    def _done(self, _values: dict[str, Any]) -> widgets.Widget:
        redemption = self.result("Redemption")
        assert redemption is not None
        allocations = redemption.get("allocations") or []
        names = {
            str(redemption.get("investor_id")): investor_name(self.client.investors.get(str(redemption["investor_id"])))
        }
        try:
            investments = self.client.investments.list(investor_id=str(redemption["investor_id"])).to_list()
        except (NotListed, PermissionDeniedError):  # the redemption is made; only this table cannot be shown
            investments = None
        headline = (
            f"<b>Redemption of {api.units_said(redemption.get('units'))}: "
            f"{html.escape(api.in_words('status', redemption.get('status')))}.</b>"
        )
        parts: list[widgets.Widget] = (
            [
                message_html(
                    f"<p>{headline} Where the units came from, in the order the registry took them (first in, first "
                    "out: the investment made first in the registry first, whatever its signing day):</p>"
                ),
                tables.interactive(
                    tables.people_frame(
                        allocations, tables.allocation_columns({str(i.get("id")): i for i in investments or []})
                    ),
                    names_people=True,
                ),
            ]
            if allocations
            else [  # (a registry that does not say which investments the units came from)
                message_html(
                    f"<p>{headline} The registry does not say which investments the units came from; the "
                    "investments below show what each holds now.</p>"
                )
            ]
        )
        parts += [
            message_html("<p>The investor's investments now:</p>"),
            tables.interactive(tables.people_frame(investments, tables.investment_columns(names)), names_people=True)
            if investments is not None
            else message_html("<p>The registry's investments cannot be read here to show them.</p>"),
        ]
        return widgets.VBox(parts)
