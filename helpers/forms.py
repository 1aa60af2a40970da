"""ipywidgets forms for the guided notebooks: labelled fields, inline validation, a review step, submit, result.

Every form works the same way:

* each field checks its value as it is typed (the same checks the client runs before sending) and shows the
  message next to the field;
* **Review** checks everything and shows what will be sent (personal data masked) and enables **Submit**;
* **Submit** sends it once (idempotent: the same content returns the same object), shows the new object with its id,
  or shows the registry's errors next to the fields they concern. Nothing typed is ever cleared.

``form.submit()`` does the same without a click, for notebooks that run unattended.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pycountry
from IPython.display import display

from helpers import checks
from helpers.client import Client
from helpers.errors import CashlinkError, field_label, input_error
from helpers.frames import Record, money_value, to_frame
from helpers.lookup import latest_holder, latest_identified_investor

ERROR_STYLE = "color:#b00020;font-size:0.9em"
LABEL_WIDTH = "190px"
COUNTRIES = sorted(((c.name, c.alpha_3) for c in pycountry.countries), key=lambda pair: pair[0])


class NotSubmittedYet(Exception):
    """Raised by :meth:`Form.result_or_stop` when the form above has not been submitted yet."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


@dataclass
class FormField:
    """One labelled input: where its value goes in the request body, and how it is checked."""

    path: str
    label: str
    widget: widgets.ValueWidget
    check: Callable[[Any], Any] | None = None
    required: bool = True
    group: str | None = None  # fields of one variant (e.g. "legal_person") shown only when it is chosen
    error: widgets.HTML = field(default_factory=lambda: widgets.HTML(""))

    def __post_init__(self) -> None:
        label = widgets.HTML(f"<b>{html.escape(self.label)}</b>{'' if self.required else ' <i>(optional)</i>'}",
                             layout=widgets.Layout(width=LABEL_WIDTH))
        self.widget.layout.width = self.widget.layout.width or "320px"
        self.widget.add_class(f"cl-field-{self.path.replace('.', '-')}")
        self.row = widgets.HBox([label, self.widget, self.error])
        self.widget.observe(lambda _change: self.check_now(), names="value")

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
    def display(self) -> Any:
        """The value as shown in the review (an uploaded file by its name)."""
        value = self.value
        return value.get("name") if isinstance(value, Mapping) else value

    def is_empty(self) -> bool:
        return self.value in (None, "")

    def check_now(self) -> str | None:
        """Check this field alone; show and return the message (None when fine)."""
        message = None
        if self.is_empty():
            message = "This field is required." if self.required else None
        elif self.check is not None:
            try:
                self.check(self.value)
            except checks.CheckError as exc:
                message = str(exc)
        self.show_error(message)
        return message

    def show_error(self, message: str | None) -> None:
        self.error.value = f"<span style='{ERROR_STYLE}'>⚠ {html.escape(message)}</span>" if message else ""


def text(value: Any = "", placeholder: str = "") -> widgets.Text:
    return widgets.Text(value="" if value is None else str(value), placeholder=placeholder)


def date_picker(value: Any = None) -> widgets.DatePicker:
    if isinstance(value, str) and value:
        value = date.fromisoformat(value)
    return widgets.DatePicker(value=value)


def country_dropdown(value: str | None = "DEU") -> widgets.Dropdown:
    return widgets.Dropdown(options=[(f"{name} ({code})", code) for name, code in COUNTRIES], value=value)


def checkbox(value: bool = False, description: str = "") -> widgets.Checkbox:
    return widgets.Checkbox(value=bool(value), description=description, indent=False)


def nest_values(values: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for path, value in values.items():
        node = body
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return body


class Form(widgets.VBox):
    """A form: fields, Review, Submit, and the result. Subclasses define ``fields`` and :meth:`send`."""

    title = "Form"
    submit_label = "Submit"

    def __init__(self, client: Client, fields: list[FormField], intro: str = "") -> None:
        self.client = client
        self.fields = {f.path: f for f in fields}
        self.result: Record | None = None
        self.error: CashlinkError | None = None
        self.general_errors = widgets.HTML("")
        self.review_button = widgets.Button(description="Review", icon="eye", button_style="info")
        self.submit_button = widgets.Button(description=self.submit_label, icon="check", button_style="success",
                                            disabled=True)
        self.review_button.add_class("cl-review")
        self.submit_button.add_class("cl-submit")
        self.review_box = widgets.Output()
        self.result_box = widgets.Output()
        self.status = widgets.HTML("")
        self.review_button.on_click(lambda _b: self._safely(self.review))
        self.submit_button.on_click(lambda _b: self._safely(lambda: self.submit(raise_errors=False)))
        for form_field in fields:
            form_field.widget.observe(lambda _c: self._invalidate_review(), names="value")
        header = widgets.HTML(f"<h3>{html.escape(self.title)}</h3><p>{intro}</p>")
        super().__init__([header, *[f.row for f in fields], self.general_errors,
                          widgets.HBox([self.review_button, self.submit_button]), self.status, self.review_box,
                          self.result_box])
        self.add_class("cl-form")
        self._apply_groups()

    def _safely(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an unexpected error is shown in the form (a click has no cell to print into)."""
        try:
            action()
        except Exception as exc:  # shown to the analyst, typed values kept
            self.error = exc if isinstance(exc, CashlinkError) else None
            self.status.value = (f"<span style='{ERROR_STYLE}'>Something went wrong: {html.escape(type(exc).__name__)}"
                                 f": {html.escape(str(exc))}. Nothing you typed was lost; try again.</span>")

    # --- values and checks ------------------------------------------------------------------------------------

    def active_fields(self) -> list[FormField]:
        return [f for f in self.fields.values() if f.group is None or f.group in self.active_groups()]

    def active_groups(self) -> set[str]:
        return set()

    def _apply_groups(self) -> None:
        active = self.active_groups()
        for form_field in self.fields.values():
            visible = form_field.group is None or form_field.group in active
            form_field.row.layout.display = None if visible else "none"

    def body(self) -> dict[str, Any]:
        """The request body built from the visible, filled-in fields."""
        return nest_values({f.path: f.value for f in self.active_fields() if not f.is_empty()})

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        """Errors of the whole body (subclasses add cross-field rules). Field checks already ran."""
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
        for path, form_field in self.fields.items():  # fields that are fine now lose their old message
            if errors and path not in errors and not any(p.startswith(path + ".") for p in errors):
                form_field.show_error(None)
        for path, messages in errors.items():
            target = self.fields.get(path) or next((f for p, f in self.fields.items() if path.startswith(p + ".")),
                                                   None)
            if target is not None and target in self.active_fields():
                target.show_error(" ".join(messages))
            else:
                unplaced[path] = messages
        rows = "".join(f"<tr><td>{html.escape(field_label(p))}</td><td>{html.escape(' '.join(m))}</td></tr>"
                       for p, m in unplaced.items())
        table = f"<table><tr><th>Field</th><th>Problem</th></tr>{rows}</table>" if rows else ""
        text = f"<p style='{ERROR_STYLE}'>{html.escape(message)}</p>" if message else ""
        self.general_errors.value = text + table

    # --- review and submit ------------------------------------------------------------------------------------

    def _invalidate_review(self) -> None:
        self.submit_button.disabled = True
        self.review_box.clear_output()

    def review(self) -> bool:
        """Check everything; when fine, show what will be sent and enable Submit."""
        errors = self.check_all()
        self.review_box.clear_output()
        if errors:
            self.status.value = f"<span style='{ERROR_STYLE}'>Please correct the fields marked ⚠ above.</span>"
            return False
        self.status.value = "Check the summary below, then click <b>Submit</b>."
        with self.review_box:
            display(self.summary())
        self.submit_button.disabled = False
        return True

    def summary(self) -> pd.DataFrame:
        """What will be sent, one row per field, personal data masked."""
        shown = nest_values({f.path: f.display for f in self.active_fields() if not f.is_empty()})
        row = to_frame([shown]).iloc[0]
        return pd.DataFrame({"field": [field_label(p) for p in row.index], "value": row.values})

    def submit(self, raise_errors: bool = True) -> Record | None:
        """Check, send once, and show the result or the errors (next to their fields). Returns the new object."""
        self.error = None
        errors = self.check_all()
        if errors:
            self.error = input_error(f"the '{self.title}' form", errors)
            self.status.value = f"<span style='{ERROR_STYLE}'>Nothing was sent: please correct the fields " \
                                f"marked ⚠ above.</span>"
            if raise_errors:
                raise self.error
            return None
        self.status.value = "Sending…"
        try:
            record = self.send(self.body())
        except CashlinkError as exc:
            self.error = exc
            self.show_errors(exc.field_errors, exc.message)
            self.status.value = f"<span style='{ERROR_STYLE}'>{html.escape(exc.message)}</span>"
            if raise_errors:
                raise
            return None
        self.result = record
        self.submit_button.disabled = True
        self.review_box.clear_output()
        self.status.value = self.success_message(record)
        self.result_box.clear_output()
        with self.result_box:
            display(record)
        return record

    def success_message(self, record: Record) -> str:
        if record.replayed:
            return f"✔ Already done earlier: nothing new was created (id <code>{record.get('id')}</code>)."
        return f"✔ Created: id <code>{html.escape(str(record.get('id')))}</code>."

    def send(self, body: dict[str, Any]) -> Record:
        raise NotImplementedError

    def result_or_stop(self) -> Record:
        """The submitted object; stops a Run-All politely when the form was not submitted yet."""
        if self.result is None:
            raise NotSubmittedYet(f"Fill in the '{self.title}' form above and click Submit, then run the next cell.")
        return self.result


def should_auto_submit(auto_submit: bool | None, client: Client) -> bool:
    """The parameters cell's AUTO_SUBMIT: None means 'only against the local sandbox' (never the real API)."""
    return client.config.is_sandbox if auto_submit is None else bool(auto_submit)


def run(form: Form, auto_submit: bool | None) -> Record | None:
    """Show the form; submit it at once when unattended (see :func:`should_auto_submit`)."""
    display(form)
    if should_auto_submit(auto_submit, form.client):
        return form.submit()
    return None


# --- onboarding -------------------------------------------------------------------------------------------------


def address_fields(prefix: str, d: Mapping[str, Any], group: str | None = None) -> list[FormField]:
    return [
        FormField(f"{prefix}street", "Street and number", text(d.get("street")), checks.check_text, group=group),
        FormField(f"{prefix}zip", "Postcode", text(d.get("zip")), checks.check_text, group=group),
        FormField(f"{prefix}city", "City", text(d.get("city")), checks.check_text, group=group),
        FormField(f"{prefix}country", "Country", country_dropdown(d.get("country", "DEU")), checks.check_country,
                  group=group),
    ]


def person_fields(prefix: str, d: Mapping[str, Any], group: str | None = None) -> list[FormField]:
    """The fields of a natural person (an investor or a legal person's benefiting person)."""
    return [
        FormField(f"{prefix}salutation", "Salutation", widgets.Dropdown(
            options=[("Mr", "MR"), ("Ms", "MS"), ("Mrs", "MRS"), ("Diverse", "DIVERSE")],
            value=d.get("salutation", "MR")), group=group),
        FormField(f"{prefix}forename", "First name", text(d.get("forename")), checks.check_text, group=group),
        FormField(f"{prefix}surname", "Last name", text(d.get("surname")), checks.check_text, group=group),
        FormField(f"{prefix}birth_date", "Birth date", date_picker(d.get("birth_date")), checks.check_birth_date,
                  group=group),
        FormField(f"{prefix}birth_place", "Birth place", text(d.get("birth_place")), checks.check_text,
                  required=False, group=group),
        FormField(f"{prefix}citizenship", "Citizenship", country_dropdown(d.get("citizenship", "DEU")),
                  checks.check_country, group=group),
        FormField(f"{prefix}is_pep", "Politically exposed", checkbox(d.get("is_pep", False)), required=False,
                  group=group),
        *address_fields(prefix, d, group),
        FormField(f"{prefix}phone", "Phone", text(d.get("phone"), "+49 69 1234567"), checks.check_phone,
                  required=False, group=group),
    ]


class InvestorForm(Form):
    title = "New investor"
    submit_label = "Create investor"

    def __init__(self, client: Client, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        self.kind = widgets.ToggleButtons(options=[("Natural person", "natural_person"),
                                                   ("Legal person", "legal_person")],
                                          value=d.get("kind", "natural_person"))
        n, lp = "natural_person", "legal_person"
        fields = [
            *person_fields(f"{n}.", d, group=n),
            FormField(f"{lp}.company_name", "Company name", text(d.get("company_name")), checks.check_text, group=lp),
            FormField(f"{lp}.legal_form", "Legal form", text(d.get("legal_form"), "GmbH, AG, ..."),
                      checks.check_text, group=lp),
            FormField(f"{lp}.registration_number", "Register number", text(d.get("registration_number"),
                                                                          "HRB 123456"), checks.check_text, group=lp),
            FormField(f"{lp}.registration_court", "Register court", text(d.get("registration_court")),
                      checks.check_text, required=False, group=lp),
            *address_fields(f"{lp}.", d, group=lp),
            FormField("communication.email", "E-mail", text(d.get("email"), "name@example.com"),
                      checks.check_email),
            FormField("bank_account.account_holder", "Account holder", text(d.get("account_holder")),
                      checks.check_text),
            FormField("bank_account.iban", "IBAN", text(d.get("iban"), "DE89 3704 0044 0532 0130 00"),
                      checks.check_iban),
            FormField("bank_account.bic", "BIC", text(d.get("bic"), "COBADEFFXXX"), checks.check_bic),
            FormField("bank_account.bank", "Bank name", text(d.get("bank")), checks.check_text, required=False),
            FormField("tax_information.tax_identification_number", "Tax id", text(d.get("tax_id")),
                      checks.check_text, required=False),
            FormField("tax_information.non_assessment_certificate", "Non-assessment certificate",
                      checkbox(d.get("non_assessment_certificate", False)), required=False),
            FormField("is_beneficiary", "Acts on own account", checkbox(d.get("is_beneficiary", True)),
                      required=False),
        ]
        super().__init__(client, fields, "Personal data, bank account and tax data of the investor. The IBAN, BIC, "
                                         "dates and countries are checked as you type.")
        self.children = (self.children[0], self.kind, *self.children[1:])
        self.kind.observe(lambda _c: (self._apply_groups(), self._invalidate_review()), names="value")

    def active_groups(self) -> set[str]:
        return {self.kind.value} if hasattr(self, "kind") else {"natural_person"}

    def body(self) -> dict[str, Any]:
        body = super().body()
        body.setdefault("is_beneficiary", False)
        body.setdefault("communication", {})["email_confirmed"] = True
        body.setdefault("bank_account", {}).update(currency="EUR")
        if "country" in body.get(self.kind.value, {}):
            body["bank_account"].setdefault("country", body[self.kind.value]["country"])
        return body

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        return checks.validate_investor(body)[1]

    def send(self, body: dict[str, Any]) -> Record:
        return self.client.investors.create(body)


class BenefitingPersonForm(Form):
    """A natural person who ultimately owns or controls a legal-person investor (at least one is needed before the
    company's investments leave KYC_PENDING)."""

    title = "Benefiting person"
    submit_label = "Add benefiting person"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        self.investor_id = investor_id
        super().__init__(client, person_fields("", dict(defaults or {})),
                         "The person who ultimately owns or controls the company.")

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        return checks.clean(body, checks.BENEFITING_PERSON)[1]

    def send(self, body: dict[str, Any]) -> Record:
        return self.client.investors.add_benefiting_person(self.investor_id, body)


def _investor_options(client: Client) -> list[tuple[str, str]]:
    options = []
    for investor in client.investors.list():
        person = investor.get("natural_person") or {}
        name = investor.get("legal_person", {}).get("company_name") if "legal_person" in investor else \
            f"{person.get('forename', '')} {person.get('surname', '')}".strip()
        options.append((f"{name} · {investor.get('kyc_status', '')} · {investor['id'][:8]}", investor["id"]))
    return options


def _upload(client: Client, value: Any) -> str:
    """Upload a FileUpload value (or pass through a document id) and return the document id."""
    if isinstance(value, Mapping):
        return client.documents.upload(bytes(value["content"]), value["name"], value.get("type") or None).id
    return checks.check_uuid(value)


def _check_upload(value: Any) -> Any:
    if isinstance(value, Mapping):
        name = str(value.get("name", ""))
        if not name.lower().endswith((".pdf", ".png", ".jpg", ".jpeg")):
            raise checks.CheckError(f"'{name}' is not a PDF, PNG or JPEG file.")
        if value.get("size", 0) > 10 * 1024 * 1024:
            raise checks.CheckError("The file is larger than 10 MiB.")
    return value


class IdentificationForm(Form):
    title = "Identification"
    submit_label = "Save identification"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        self.investor_id = investor_id
        self.protocol_file = widgets.FileUpload(accept=".pdf,.png,.jpg,.jpeg", multiple=False)
        fields = [
            FormField("document_type", "ID document", widgets.Dropdown(
                options=[("ID card", "IDCARD"), ("Passport", "PASSPORT")], value=d.get("document_type", "IDCARD"))),
            FormField("document_id", "Document number", text(d.get("document_id")), checks.check_text),
            FormField("document_issuer", "Issued by", text(d.get("document_issuer")), checks.check_text),
            FormField("document_valid_from", "Valid from", date_picker(d.get("document_valid_from")),
                      checks.check_date),
            FormField("document_valid_to", "Valid to", date_picker(d.get("document_valid_to")), checks.check_date),
            FormField("identity_provider", "Identified by", widgets.Dropdown(
                options=list(checks.IDENTITY_PROVIDERS), value=d.get("identity_provider", "POSTIDENT"))),
            FormField("legitimation_process_id", "Provider's process id", text(d.get("legitimation_process_id")),
                      checks.check_text),
            FormField("verified_at", "Identified on", date_picker(d.get("verified_on")), checks.check_date),
            FormField("legitimation_protocol_id", "Protocol document", self.protocol_file, _check_upload,
                      required="protocol" not in d),
        ]
        self.default_protocol: bytes | None = d.get("protocol")
        super().__init__(client, fields, "The identification you already performed (e.g. POSTIDENT), with the "
                                         "provider's protocol as a PDF.")

    def body(self) -> dict[str, Any]:
        body = super().body()
        if "verified_at" in body:
            body["verified_at"] = datetime.combine(date.fromisoformat(body["verified_at"]), time(12),
                                                   timezone.utc).isoformat()
        return body

    def validate(self, body: dict[str, Any]) -> checks.FieldErrors:
        probe = {**body, "legitimation_protocol_id": "00000000-0000-0000-0000-000000000000"}
        return checks.validate_identification(probe)[1]

    def send(self, body: dict[str, Any]) -> Record:
        protocol = body.get("legitimation_protocol_id")
        if protocol is None and self.default_protocol is not None:
            protocol = {"name": "protocol.pdf", "content": self.default_protocol, "type": "application/pdf"}
        body["legitimation_protocol_id"] = _upload(self.client, protocol)
        return self.client.investors.identify(self.investor_id, body)


class WalletForm(Form):
    title = "Wallet"
    submit_label = "Create wallet"

    def __init__(self, client: Client, investor_id: str, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        self.investor_id = investor_id
        self.kind = widgets.ToggleButtons(options=[("Managed by Cashlink", "eth-managed"),
                                                   ("Investor's own address", "eth-generic")],
                                          value=d.get("kind", "eth-managed"))
        fields = [FormField("address", "Ethereum address", text(d.get("address"), "0x…"), checks.check_eth_address,
                            group="eth-generic")]
        super().__init__(client, fields, "A managed wallet is kept in Cashlink's custody; an own address must carry "
                                         "a valid EIP-55 checksum.")
        self.children = (self.children[0], self.kind, *self.children[1:])
        self.kind.observe(lambda _c: (self._apply_groups(), self._invalidate_review()), names="value")

    def active_groups(self) -> set[str]:
        return {self.kind.value} if hasattr(self, "kind") else {"eth-managed"}

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"field": ["wallet type", "address"],
                             "value": [self.kind.value, self.body().get("address", "(generated by Cashlink)")]})

    def send(self, body: dict[str, Any]) -> Record:
        if self.kind.value == "eth-managed":
            return self.client.investors.create_managed_wallet(self.investor_id)
        return self.client.investors.create_generic_wallet(self.investor_id, body["address"])


# --- investing --------------------------------------------------------------------------------------------------


class InvestmentForm(Form):
    title = "New investment"
    submit_label = "Create investment"

    def __init__(self, client: Client, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        campaigns = [(f"{c['name']} · {c['available_units']} units left", c["id"]) for c in client.campaigns.list()]
        self.investor = widgets.Dropdown(options=_investor_options(client),
                                         value=d.get("investor_id") or latest_identified_investor(client))
        self.wallet = widgets.Dropdown(options=[])
        self.document_file = widgets.FileUpload(accept=".pdf", multiple=False)
        fields = [
            FormField("investor_id", "Investor", self.investor),
            FormField("campaign_id", "Campaign", widgets.Dropdown(
                options=campaigns, value=d.get("campaign_id") or client.config.campaign_id)),
            FormField("units", "Units", widgets.IntText(value=d.get("units", 0)), checks.check_units),
            FormField("signed_at", "Signed at (UTC)", text(d.get("signed_at"), "2024-03-12T09:30:00+00:00"),
                      checks.check_datetime),
            FormField("accepted", "Accepted by the issuer", checkbox(d.get("accepted", True)), required=False),
            FormField("paid", "Payment received", checkbox(d.get("paid", True)), required=False),
            FormField("wallet", "Delivery wallet", self.wallet, required=False),
            FormField("signed_document", "Signed subscription (PDF)", self.document_file, _check_upload,
                      required="document" not in d),
        ]
        self.default_document: bytes | None = d.get("document")
        super().__init__(client, fields, "A signed subscription: the investor, the campaign, how many units, and "
                                         "when it was signed. Accepted and paid investments can be credited at once.")
        self.investor.observe(lambda _c: self._load_wallets(), names="value")
        self._load_wallets(d.get("wallet"))

    def _load_wallets(self, preferred: str | None = None) -> None:
        options: list[tuple[str, str | None]] = [("(none yet)", None)]
        if self.investor.value:
            options += [(f"{w['type']} · {w['address'][:10]}…", w["id"])
                        for w in self.client.investors.wallets(self.investor.value)]
        self.wallet.options = options
        ids = [value for _label, value in options]
        self.wallet.value = preferred if preferred is not None and preferred in ids else ids[-1]

    def body(self) -> dict[str, Any]:
        raw = super().body()
        body = {k: raw[k] for k in ("investor_id", "campaign_id", "units", "signed_at", "wallet") if k in raw}
        if raw.get("accepted"):
            body["accepted_at"] = raw.get("signed_at")
        if raw.get("paid"):
            body["paid_at"] = raw.get("signed_at")
        return body

    def summary(self) -> pd.DataFrame:
        """The fields, plus the exact amount the units cost at the campaign's price."""
        frame = super().summary()
        body = self.body()
        price = self.client.campaigns.get(body["campaign_id"])["price_per_unit"]
        total = money_value(price) * body["units"]
        frame.loc[len(frame)] = ["investment amount", f"{total:,.2f} {price['currency']}"]
        return frame

    def send(self, body: dict[str, Any]) -> Record:
        document = self.fields["signed_document"].value
        if document is None and self.default_document is not None:
            document = {"name": "subscription.pdf", "content": self.default_document, "type": "application/pdf"}
        document_id = _upload(self.client, document)
        return self.client.investments.create(
            body["investor_id"], body["units"], body["signed_at"],
            [{"document_id": document_id, "category": "subscription", "subject": "Signed subscription"}],
            campaign_id=body["campaign_id"], accepted_at=body.get("accepted_at"), paid_at=body.get("paid_at"),
            wallet=body.get("wallet"))


class RedemptionForm(Form):
    title = "Redemption"
    submit_label = "Redeem"

    def __init__(self, client: Client, defaults: Mapping[str, Any] | None = None) -> None:
        d = dict(defaults or {})
        self.product_id = d.get("product_id") or client.config.product_id
        self.investor = widgets.Dropdown(options=_investor_options(client),
                                         value=d.get("investor_id") or latest_holder(client, self.product_id))
        self.wallet = widgets.Dropdown(options=[])
        self.balance = widgets.HTML("")
        self.units = widgets.IntText(value=d.get("units", 0))
        fields = [
            FormField("investor_id", "Investor", self.investor),
            FormField("wallet_id", "Wallet", self.wallet),
            FormField("units", "Units to redeem", self.units, self._check_units),
        ]
        self.holdings = pd.DataFrame()
        super().__init__(client, fields, "Units are taken from the investor's oldest investments first (FIFO). "
                                         "You cannot redeem more than the wallet holds.")
        self.children = (*self.children[:4], self.balance, *self.children[4:])
        self.investor.observe(lambda _c: self._load_wallets(), names="value")
        self.wallet.observe(lambda _c: self._show_balance(), names="value")
        self._load_wallets(d.get("wallet_id"))

    def _load_wallets(self, preferred: str | None = None) -> None:
        if not self.investor.value:
            self.wallet.options = []
            return
        self.holdings = self.client.holdings(investor_id=self.investor.value, product_id=self.product_id)
        wallets = self.client.investors.wallets(self.investor.value)
        self.wallet.options = [(f"{w['type']} · {w['address'][:10]}… · {self.held(w['id'])} units", w["id"])
                               for w in wallets]
        ids = [w["id"] for w in wallets]
        self.wallet.value = preferred if preferred in ids else (ids[0] if ids else None)
        self._show_balance()

    def held(self, wallet_id: str | None) -> int:
        if self.holdings.empty or wallet_id is None:
            return 0
        return int(self.holdings.loc[self.holdings["wallet_id"] == wallet_id, "units"].sum())

    def _show_balance(self) -> None:
        self.balance.value = f"<p>The wallet holds <b>{self.held(self.wallet.value)}</b> units of the product.</p>"
        if hasattr(self, "fields"):
            self.fields["units"].check_now()

    def _check_units(self, value: Any) -> int:
        units = checks.check_units(value)
        held = self.held(self.wallet.value)
        if units > held:
            raise checks.CheckError(f"The wallet holds only {held} units; you cannot redeem {units}.")
        return units

    def send(self, body: dict[str, Any]) -> Record:
        return self.client.redemptions.create(body["investor_id"], body["wallet_id"], body["units"],
                                              product_id=self.product_id)

    def submit(self, raise_errors: bool = True) -> Record | None:
        record = super().submit(raise_errors)
        if record is not None:  # show the balance after the redemption
            self._load_wallets(self.wallet.value)
        return record

    def success_message(self, record: Record) -> str:
        return super().success_message(record) + f" Status: <b>{html.escape(str(record.get('status')))}</b>."
