"""One model per API request object: the single definition of every field the toolkit sends.

A field's type and check (a ``check_*`` function of :mod:`helpers.core.checks` as its validator), its label, its
spreadsheet column (also the notebooks' parameter name), whether it is personal data, and the widget a form shows
for it live here and nowhere else. Forms, review tables, bulk import columns and their messages, masking and error
labels all read them from these models (:func:`fields_of`, :func:`label`, :data:`PERSONAL_FIELDS`).

    >>> body = parse(Investor, {"natural_person": {...}, ...}, "the investor")   # InputError naming each field
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from helpers.core import checks
from helpers.core.checks import FieldErrors

Widget = Literal["text", "date", "country", "choice", "checkbox", "units", "id", "address"]


@dataclass(frozen=True)
class FieldMeta:
    """What the toolkit knows about a field beyond its type: how people see and enter it."""

    label: str
    column: str | None = None  # spreadsheet column and notebook parameter name
    personal: bool = False  # masked in tables, reprs and messages
    widget: Widget = "text"
    placeholder: str = ""
    choices: tuple[str, ...] = ()  # for widget "choice": the documented (or usual) values
    identifying: bool = False  # names a person (name, e-mail, address): shown on screens, masked in reprs and text
    aliases: tuple[str, ...] = ()  # other names a registry may give it (first_name): labelled and masked alike
    masked_as: Literal["end", "iban", "whole"] = "end"  # personal: the last characters, an IBAN's ends, or nothing


def field(
    label: str,
    *,
    default: Any = ...,
    column: str | None = None,
    personal: bool = False,
    identifying: bool = False,
    widget: Widget = "text",
    placeholder: str = "",
    choices: tuple[str, ...] = (),
    help: str = "",
    aliases: tuple[str, ...] = (),
    masked_as: Literal["end", "iban", "whole"] = "end",
) -> Any:
    """A model field with its :class:`FieldMeta` (read back with :func:`meta`)."""
    info: Any = Field(default, title=label, description=help or None)
    info.metadata.append(
        FieldMeta(label, column, personal, widget, placeholder, choices, identifying, aliases, masked_as)
    )
    return info


def _checked(check: Any, cleans_breaks: bool = False) -> Any:
    """A field's check, after what every text gets: the format characters a screen does not show (a zero-width
    space) removed, and a line break or control character inside it said as such rather than as a malformed value
    (review 88), but where the field's check makes a pasted value whole itself (``cleans_breaks``: an IBAN copied
    across two lines of a statement)."""

    def checked(value: Any) -> Any:
        if isinstance(value, str):
            value = checks.visible(value)
            if not cleans_breaks and checks.CONTROL_CHARACTER.search(value.strip()):
                raise checks.CheckError(checks.CONTROL_CHARACTER_SAID)
        return check(value)

    return BeforeValidator(checked)


Text = Annotated[str, _checked(checks.check_text)]
Name = Annotated[str, _checked(checks.check_name)]  # a person's, a company's, a place's, an authority's
ShortText = Annotated[str, _checked(checks.text_of(16))]
Iban = Annotated[str, _checked(checks.check_iban, cleans_breaks=True)]
Bic = Annotated[str, _checked(checks.check_bic)]
Country = Annotated[str, _checked(checks.check_country)]
Currency = Annotated[str, _checked(checks.check_currency)]


class _Kind:
    """Marks what a field holds where its Python type does not say it: a frame types its column so."""


DAY = _Kind()  # a calendar day (no time, no zone): a date
FLAG = _Kind()  # yes or no: a boolean, missing where not given
Day = Annotated[str, _checked(checks.check_date), DAY]
BirthDate = Annotated[str, _checked(checks.check_birth_date), DAY]
Moment = Annotated[str, _checked(checks.check_datetime)]
PastMoment = Annotated[str, _checked(checks.check_past_datetime)]  # has happened: not in the future
EthAddress = Annotated[str, _checked(checks.check_eth_address)]
Units = Annotated[int, _checked(checks.check_units)]
Email = Annotated[str, _checked(checks.check_email)]
Id = Annotated[str, _checked(checks.check_uuid)]
Flag = Annotated[bool, _checked(checks.check_bool), FLAG]
Phone = Annotated[str, _checked(checks.check_phone)]
TaxId = Annotated[str, _checked(checks.check_tax_id)]
DocumentNumber = Annotated[str, _checked(checks.check_personal_text(64))]

SALUTATIONS = ("MR", "MS", "MRS", "DIVERSE")  # MR [seed]; the others [assumed]
DOCUMENT_TYPES = ("IDCARD", "PASSPORT")  # IDCARD [doc]; PASSPORT [assumed]
IDENTITY_PROVIDERS = ("POSTIDENT", "IDNOW", "WEBID")  # POSTIDENT [doc]; others [assumed]
CHOICE_LABELS = {  # how a form names a choice (the registry's code is what is sent)
    "MR": "Mr",
    "MS": "Ms",
    "MRS": "Mrs",
    "DIVERSE": "Diverse",
    "IDCARD": "ID card",
    "PASSPORT": "Passport",
    "POSTIDENT": "POSTIDENT",
    "IDNOW": "IDnow",
    "WEBID": "WebID",
}
Salutation = Annotated[str, _checked(checks.check_known(*SALUTATIONS, what="salutation"))]
DocumentType = Annotated[str, _checked(checks.check_known(*DOCUMENT_TYPES, what="document type"))]
IdentityProvider = Annotated[str, _checked(checks.check_known(*IDENTITY_PROVIDERS, what="identity provider"))]
NotUSTaxable = Annotated[bool, _checked(checks.not_us_taxable), FLAG]


class Model(BaseModel):
    """Base of the request models: unknown fields pass through (the API ignores what it does not know), and an
    empty value means the field is absent."""

    model_config = ConfigDict(extra="allow", validate_assignment=False)

    def __repr_args__(self) -> Any:
        """Personal data and what names a person hidden (a repr ends up in logs and tracebacks)."""
        for name, value in super().__repr_args__():
            info = type(self).model_fields.get(name) if name else None
            found = meta(info) if info is not None else None
            hidden = found is not None and (found.personal or found.identifying) and value is not None
            yield name, "••••" if hidden else value

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None and value != ""}
        return data

    def body(self) -> dict[str, Any]:
        """The JSON body the API expects: what was given, checked and normalised (defaults are for forms; they are
        not sent unless given, so the same input always gives the same body and the same operation key)."""
        return self.model_dump(mode="json", exclude_none=True, exclude_unset=True)


# --- people -----------------------------------------------------------------------------------------------------
# Pydantic lists the fields of the last base class first, so ``(_Contact, _Address, _Name)`` reads in form order:
# name, then address, then contact.


class _Name(Model):
    salutation: Salutation | None = field(
        "Salutation", default=None, column="salutation", widget="choice", choices=SALUTATIONS
    )
    forename: Name = field(
        "First name", column="forename", identifying=True, aliases=("first_name", "given_name", "firstname")
    )
    surname: Name = field(
        "Last name", column="surname", identifying=True, aliases=("last_name", "family_name", "lastname")
    )
    birth_date: BirthDate = field(
        "Birth date",
        column="birth_date",
        personal=True,
        widget="date",
        aliases=("date_of_birth", "birthdate", "dob"),
        masked_as="whole",  # a year or a day is half of it
    )
    birth_place: Name | None = field(
        "Birth place", default=None, column="birth_place", identifying=True, aliases=("place_of_birth",)
    )
    citizenship: Country = field("Citizenship", column="citizenship", widget="country")


class _Address(Model):
    street: Text = field(
        "Street and number",
        column="street",
        identifying=True,
        aliases=("street_address", "address_line", "address_line_1"),
    )
    zip: ShortText = field("Postcode", column="zip")
    city: Text = field("City", column="city")
    country: Country = field("Country", column="country", widget="country")

    @model_validator(mode="after")
    def _postcode_of_its_country(self) -> Any:
        self.zip = checks.check_postcode(self.zip, self.country)
        return self


class _Contact(Model):
    phone: Phone | None = field(
        "Phone",
        default=None,
        column="phone",
        personal=True,
        placeholder="+49 69 1234567",
        aliases=("phone_number", "mobile", "mobile_phone"),
    )
    is_pep: Flag = field("Politically exposed person", default=False, column="is_pep", widget="checkbox")


class BenefitingPerson(_Contact, _Address, _Name):
    """A natural person who ultimately owns or controls a legal-person investor."""


class NaturalPerson(BenefitingPerson):
    is_subject_to_us_tax: NotUSTaxable = field("Subject to US tax", default=False, widget="checkbox")


class _Company(Model):
    company_name: Name = field("Company name", column="company_name", identifying=True, aliases=("legal_name",))
    legal_form: Text = field("Legal form", column="legal_form", placeholder="GmbH")
    registration_number: Text = field("Registration number", column="registration_number", placeholder="HRB 123456")
    registration_court: Text | None = field("Registration court", default=None, column="registration_court")


class LegalPerson(_Address, _Company):  # (the company's name first, then its address: fields in reverse base order)
    is_custodian_bank: Flag = field("Custodian bank", default=False, widget="checkbox")
    commercial_register_document_id: Id | None = field(
        "Commercial register extract (document id)", default=None, widget="id"
    )


class BankAccount(Model):
    account_holder: Name = field(
        "Account holder", column="account_holder", identifying=True, aliases=("account_owner", "holder_name", "holder")
    )
    iban: Iban = field(
        "IBAN", column="iban", personal=True, placeholder="DE89 3704 0044 0532 0130 00", masked_as="iban"
    )
    bic: Bic = field("BIC", column="bic", placeholder="COBADEFFXXX")
    bank: Text | None = field("Bank", default=None, column="bank")
    country: Country | None = field("Bank's country", default=None, widget="country")
    currency: Currency = field("Currency", widget="choice", choices=checks.CURRENCIES)  # required with IBAN, BIC [doc]


class TaxInformation(Model):
    tax_identification_number: TaxId | None = field(
        "Tax id", default=None, column="tax_id", personal=True, aliases=("tax_id", "tin")
    )
    non_assessment_certificate: Flag = field("Non-assessment certificate", default=False, widget="checkbox")
    is_subject_to_german_tax: Flag | None = field("Subject to German tax", default=None, widget="checkbox")


class Communication(Model):
    email: Email = field(
        "E-mail",
        column="email",
        identifying=True,
        placeholder="name@example.com",
        aliases=("email_address", "e_mail"),
    )
    email_confirmed: Flag = field("E-mail confirmed", default=True, widget="checkbox")


class Investor(Model):
    """``POST /investors/``: a natural or a legal person, with bank account, tax data and e-mail."""

    natural_person: NaturalPerson | None = field("Natural person", default=None)
    legal_person: LegalPerson | None = field("Legal person", default=None)
    is_beneficiary: Flag = field("Acts on own account", widget="checkbox")  # required [doc]
    bank_account: BankAccount = field("Bank account")
    tax_information: TaxInformation | None = field("Tax information", default=None)
    communication: Communication = field("Communication")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "bank_account_information" in data and "bank_account" not in data:
            data = {**data, "bank_account": data["bank_account_information"]}
            data.pop("bank_account_information")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Investor:
        if (self.natural_person is None) == (self.legal_person is None):
            raise ValueError("Give exactly one of natural_person or legal_person.")
        return self

    @property
    def kind(self) -> str:
        return "natural_person" if self.natural_person is not None else "legal_person"


INVESTOR_NAMING_FIELDS: tuple[str, ...] = (
    "natural_person.forename",
    "natural_person.surname",
    "legal_person.company_name",
    "communication.email",
)  # what names an investor and reaches them: searched, on a new investor's card (masked), an empty list's columns


def default_account_holder(values: Mapping[str, Any]) -> str | None:
    """Whose the bank account usually is, from column-keyed values: the company's (a legal person) or the
    person's name; None when neither is known yet."""
    if values.get("kind") == "legal_person" or (values.get("company_name") and not values.get("surname")):
        return str(values.get("company_name") or "").strip() or None
    return f"{values.get('forename') or ''} {values.get('surname') or ''}".strip() or None


def with_investor_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """A new investor's body with what the toolkit fills in when it is not given, in one place (form, walkthrough,
    bulk import): the investor acts on their own account, the e-mail counts as confirmed (the analyst has it from
    the investor), the account is in EUR and, by default, in the country of the investor's address."""
    body.setdefault("is_beneficiary", True)
    body.setdefault("communication", {}).setdefault("email_confirmed", True)
    account = body.setdefault("bank_account", {})
    account.setdefault("currency", "EUR")
    person = body.get("natural_person") or body.get("legal_person") or {}
    if person.get("country"):
        account.setdefault("country", person["country"])
    return body


class InvestorUpdate(Model):
    """``PATCH /investors/{id}/``: a partial update; only the parts given change."""

    natural_person: dict[str, Any] | None = None
    legal_person: dict[str, Any] | None = None
    bank_account: dict[str, Any] | None = None
    tax_information: dict[str, Any] | None = None
    communication: dict[str, Any] | None = None


# --- identification and wallets --------------------------------------------------------------------------------


class Identification(Model):
    """An identification performed elsewhere (variant A), imported with the provider's protocol."""

    document_type: DocumentType = field(
        "ID document", column="id_document_type", widget="choice", choices=DOCUMENT_TYPES
    )
    document_id: DocumentNumber = field(
        "Document number",
        column="id_document_number",
        personal=True,
        aliases=("document_number", "id_document_number", "id_number", "passport_number"),
    )
    document_issuer: Name = field("Issued by", column="id_issuer", placeholder="Bürgeramt Frankfurt")
    document_valid_from: Day = field("Valid from", column="id_valid_from", widget="date")
    document_valid_to: Day = field("Valid to", column="id_valid_to", widget="date")
    identity_provider: IdentityProvider = field(
        "Identified by", column="identity_provider", widget="choice", choices=IDENTITY_PROVIDERS
    )
    legitimation_process_id: DocumentNumber = field("Provider's process id", column="id_process_id", personal=True)
    legitimation_protocol_id: Id = field("Protocol document", widget="id")
    verified_at: PastMoment = field("Identified on", column="identified_on", widget="date")

    @field_validator("document_valid_to")
    @classmethod
    def _expires_after_it_is_valid(cls, valid_to: str, info: ValidationInfo) -> str:
        return checks.check_valid_to(valid_to, info.data.get("document_valid_from"))  # (the form: as they are typed)

    @field_validator("verified_at")
    @classmethod
    def _identified_with_a_valid_document(cls, verified_at: str, info: ValidationInfo) -> str:
        valid_from, valid_to = info.data.get("document_valid_from"), info.data.get("document_valid_to")
        return checks.check_identified_with_a_valid_document(verified_at, valid_from, valid_to)


WALLET_KINDS = {  # the API's names, the template's, and the words the screens use ('the investor's own address')
    "eth-managed": "eth-managed",
    "managed": "eth-managed",
    "managed by cashlink": "eth-managed",
    "eth-generic": "eth-generic",
    "generic": "eth-generic",
    "own": "eth-generic",
    "own address": "eth-generic",
    "the investor's own address": "eth-generic",
    "investor's own address": "eth-generic",
}


def wallet_kind(value: Any) -> str:
    """A wallet's kind as the API names it (``eth-managed``, ``eth-generic``), given in either spelling: the API's,
    as notebook 01 takes it, or the spreadsheet's ``managed``/``generic``."""
    kind = WALLET_KINDS.get(str(value).strip().lower())
    if kind is None:
        raise checks.CheckError(
            f"{checks.quote(value)} is not a wallet type; use managed (or eth-managed) for a wallet kept by "
            "Cashlink, or own (generic, eth-generic) with the investor's own address in wallet_address."
        )
    return kind


class GenericWallet(Model):
    address: EthAddress = field("Ethereum address", column="wallet_address", widget="address", placeholder="0x…")
    receiving_enabled: Flag = field("Receives transfers", default=True, widget="checkbox")


# --- investments and tasks --------------------------------------------------------------------------------------


class SignedDocument(Model):
    document_id: Id = field("Document", widget="id")
    category: Text = field("Category", default="subscription")
    subject: Text = field("Subject", default="Signed subscription")


class Investment(Model):
    """``POST /investments/``: a signed subscription imported into the registry."""

    investor_id: Id = field("Investor", widget="id")
    campaign_id: Id = field("Campaign", widget="id")
    units: Units = field("Units", widget="units")
    signed_at: PastMoment = field("Signed at", placeholder="2024-03-12T09:30:00+00:00")
    accepted_at: PastMoment | None = field("Accepted by the issuer at", default=None)
    paid_at: PastMoment | None = field("Paid at", default=None)
    signed_documents: list[SignedDocument] = field("Signed documents")
    wallet: Id | None = field("Delivery wallet", default=None, widget="id")

    @model_validator(mode="after")
    def _documents(self) -> Investment:
        if not self.signed_documents:
            raise ValueError("Attach at least one signed document as {document_id, category, subject}.")
        return self


class InvestmentUpdate(Model):
    """``PATCH /investments/{id}/``: accept, mark as paid, or set the delivery wallet later."""

    accepted_at: PastMoment | None = field("Accepted by the issuer at", default=None)
    paid_at: PastMoment | None = field("Paid at", default=None)
    wallet: Id | None = field("Delivery wallet", default=None, widget="id")

    @model_validator(mode="after")
    def _something(self) -> InvestmentUpdate:
        if not self.body():
            raise ValueError("Give accepted_at, paid_at or wallet.")
        return self


class Redemption(Model):
    investor_id: Id = field("Investor", widget="id")
    product_id: Id = field("Product", widget="id")
    wallet_id: Id = field("Wallet", widget="id")
    units: Units = field("Units to redeem", widget="units")

    @model_validator(mode="before")
    @classmethod
    def _amount_alias(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "units" not in data and "amount" in data:
            data = {**data, "units": data["amount"]}
            data.pop("amount")
        return data


class Transfer(Model):
    product: Id = field("Product", widget="id")
    source_wallet: Id = field("From wallet", widget="id")
    target_address: EthAddress = field("To address", widget="address")
    amount: Units = field("Units to transfer", widget="units")


class Webhook(Model):
    """The documented webhook payload. Events about an investment that are no status change (a new registry
    statement, whose payload is not documented) may come without a status or a time."""

    investment_id: Id = field("Investment", widget="id")
    status: Text | None = field("Status", default=None)
    changed_at: Text | None = field("Changed at", default=None)  # read by parse_webhook (a time without a zone: UTC)


# --- reading the models -----------------------------------------------------------------------------------------

M = TypeVar("M", bound=Model)
REQUEST_MODELS: tuple[type[Model], ...] = (
    Investor,
    Identification,
    BenefitingPerson,
    GenericWallet,
    Investment,
    InvestmentUpdate,
    Redemption,
    Transfer,
)


def meta(info: FieldInfo) -> FieldMeta | None:
    return next((m for m in info.metadata if isinstance(m, FieldMeta)), None)


@dataclass(frozen=True)
class FieldSpec:
    """A field of a model, reached by its dotted path (``natural_person.birth_date``)."""

    path: str
    info: FieldInfo
    meta: FieldMeta

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def required(self) -> bool:
        return self.info.is_required()

    @property
    def label(self) -> str:
        return self.meta.label

    @property
    def default(self) -> Any:
        return None if self.info.is_required() else self.info.get_default(call_default_factory=True)

    @property
    def group(self) -> str | None:
        """The top-level part a field belongs to (``natural_person``), or None for a top-level field."""
        return self.path.split(".", 1)[0] if "." in self.path else None


def _nested_model(annotation: Any) -> type[Model] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Model):
            return candidate
    return None


@cache
def fields_of(model: type[Model], prefix: str = "") -> tuple[FieldSpec, ...]:
    """Every leaf field of ``model`` (nested models walked), in form order."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation) if get_origin(info.annotation) is not list else None
        if nested is not None:
            specs += fields_of(nested, f"{prefix}{name}.")
            continue
        found = meta(info)
        if found is not None:
            specs.append(FieldSpec(f"{prefix}{name}", info, found))
    return tuple(specs)


def _all_specs() -> Iterator[FieldSpec]:
    for model in REQUEST_MODELS:
        yield from fields_of(model)


@cache
def _labels() -> dict[str, str]:
    labels: dict[str, str] = {f"signed_documents.{spec.path}": spec.label for spec in fields_of(SignedDocument)}
    for spec in _all_specs():
        labels.setdefault(spec.path, spec.label)
        labels.setdefault(spec.name, spec.label)
        for alias in spec.meta.aliases:
            labels.setdefault(alias, spec.label)
    return labels


def _in_words(name: str) -> str:
    """A field the models do not know, named for people: ``remaining_units`` -> ``Remaining units``."""
    words = " ".join(ACRONYMS.get(word, word) for word in name.replace("_", " ").split())  # 'KYC status'
    return words[:1].upper() + words[1:]


ACRONYMS = {"kyc": "KYC", "aml": "AML", "iban": "IBAN", "bic": "BIC", "url": "URL", "eth": "ETH", "isin": "ISIN"}


def label(path: str) -> str:
    """How a field is named to people: its model label, else its name in words.

    ``natural_person.birth_date`` -> ``Birth date``; ``signed_documents.0.document_id`` -> ``Document (item 1 of
    signed documents)``; an unknown ``foo_bar`` -> ``Foo bar``.
    """
    parts = [p for p in path.split(".") if p and p != "non_field_errors"]
    if not parts:
        return "The request as a whole"
    labels = _labels()
    items = [int(p) + 1 for p in parts if p.isdigit()]
    named = [p for p in parts if not p.isdigit()]
    text = labels.get(".".join(named)) or labels.get(named[-1]) or _in_words(named[-1])
    if items:
        return f"{text} (item {items[-1]} of {named[0].replace('_', ' ')})"
    return text


ALIASES: dict[str, str] = {alias: spec.name for spec in _all_specs() for alias in spec.meta.aliases}
MASKED_AS: dict[str, str] = {
    name: spec.meta.masked_as for spec in _all_specs() if spec.meta.personal for name in (spec.name, *spec.meta.aliases)
}  # how a personal field's value is masked, by its name (or another name a registry gives it)
IDENTIFYING_FIELDS: frozenset[str] = frozenset(
    name for spec in _all_specs() if spec.meta.identifying for name in (spec.name, *spec.meta.aliases)
)
PERSONAL_PATHS: frozenset[str] = frozenset(spec.path for spec in _all_specs() if spec.meta.personal)
PERSONAL_FIELDS: frozenset[str] = frozenset(path.rsplit(".", 1)[-1] for path in PERSONAL_PATHS) | frozenset(
    alias for spec in _all_specs() if spec.meta.personal for alias in spec.meta.aliases
)
_NOT_ALWAYS_PERSONAL = (
    frozenset(spec.name for spec in (*_all_specs(), *fields_of(SignedDocument)) if not spec.meta.personal)
    & PERSONAL_FIELDS
)  # e.g. a signed document's id


def is_personal(path: str) -> bool:
    """Whether the field at ``path`` (``natural_person.birth_date``, ``0.iban``, ``bank_account.iban``) is personal
    data: by its full path, else by its name where that name is personal wherever it appears."""
    named = ".".join(part for part in path.split(".") if not part.isdigit())
    leaf = named.rsplit(".", 1)[-1]
    if named in PERSONAL_PATHS or any(named.endswith("." + known) for known in PERSONAL_PATHS if "." in known):
        return True
    return leaf in PERSONAL_FIELDS and leaf not in _NOT_ALWAYS_PERSONAL


def _marked(info: FieldInfo, kind: _Kind) -> bool:
    """Whether a field's type carries ``kind`` (also inside ``X | None``)."""
    annotations, seen = [info.annotation], list(info.metadata)
    while annotations:
        for argument in get_args(annotations.pop()):
            seen.append(argument)
            annotations.append(argument)
    return any(item is kind for item in seen)


def _names_of(kind: _Kind) -> frozenset[str]:
    """The fields whose type carries ``kind``, by path and by name."""
    return frozenset(
        name for spec in _all_specs() if _marked(spec.info, kind) for name in (spec.path, spec.name, *spec.meta.aliases)
    )


DAY_FIELDS, FLAG_FIELDS = _names_of(DAY), _names_of(FLAG)


def is_day(path: str) -> bool:
    """Whether the field at ``path`` holds a calendar day (a birth date, an ID's validity), not a moment."""
    named = ".".join(part for part in path.split(".") if not part.isdigit())
    return named in DAY_FIELDS or named.rsplit(".", 1)[-1] in DAY_FIELDS


def is_flag(path: str) -> bool:
    """Whether the field at ``path`` holds yes or no (``natural_person.is_pep``)."""
    named = ".".join(part for part in path.split(".") if not part.isdigit())
    return named in FLAG_FIELDS or named.rsplit(".", 1)[-1] in FLAG_FIELDS


def is_known(path: str) -> bool:
    """Whether the models describe the field at ``path`` (by its full path, list indexes aside, or its name)."""
    named = ".".join(part for part in path.split(".") if not part.isdigit())
    return named in _labels() or named.rsplit(".", 1)[-1] in _labels()


def is_identifying(path: str) -> bool:
    """Whether the field at ``path`` names a person (a name, an e-mail, an address): what a screen shows, and a
    repr, a log line or a message never does."""
    return path.rsplit(".", 1)[-1] in IDENTIFYING_FIELDS


def columns(model: type[Model], groups: tuple[str | None, ...] | None = None) -> dict[str, FieldSpec]:
    """The spreadsheet columns (and notebook parameter names) of a model: column -> field. ``groups`` keeps only
    the fields of those parts (``natural_person``, ``bank_account``, ... ; None for top-level fields); a column
    name used by two parts (``street`` of a natural and of a legal person) names the first."""
    found: dict[str, FieldSpec] = {}
    for spec in fields_of(model):
        if spec.meta.column and (groups is None or spec.group in groups):
            found.setdefault(spec.meta.column, spec)
    return found


def from_columns(
    model: type[Model], values: Mapping[str, Any], groups: tuple[str | None, ...] | None = None
) -> dict[str, Any]:
    """A nested body from values keyed by column (as in a spreadsheet row or a notebook's parameters)."""
    return nest_values(
        {
            spec.path: values[column]
            for column, spec in columns(model, groups).items()
            if values.get(column) not in (None, "")
        }
    )


def nest_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    body: dict[str, Any] = {}
    for path, value in values.items():
        node = body
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return body


def field_errors(error: ValidationError) -> FieldErrors:
    """A pydantic error as the toolkit's field errors: dotted path -> sentences (never pydantic's jargon)."""
    errors: FieldErrors = {}
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, checks.FieldCheckError):  # a rule over several fields, shown at the one it names
            location.append(cause.field)
        path = ".".join(location) or "non_field_errors"
        kind = item["type"]
        if kind in ("value_error", "assertion_error") and item.get("ctx", {}).get("error") is not None:
            message = str(item["ctx"]["error"])
        elif kind == "missing":
            message = "This field is required."
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = f"Give this as an object of fields (a dict), not {_kind_of(item.get('input'))}."
        elif kind == "list_type":
            message = f"Give this as a list, not {_kind_of(item.get('input'))}."
        elif kind == "too_short":
            message = "Give at least one."
        else:
            message = f"{item['msg']}."
        errors.setdefault(path, []).append(message)
    return errors


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def validate(model: type[M], data: Any) -> tuple[M | None, FieldErrors]:
    """``model`` checked from ``data`` (a mapping, or an instance), or None and the field errors: every one at once,
    the postcode-against-country rule too (pydantic runs a model's rules only once all its fields passed)."""
    if isinstance(data, model):
        data = data.model_dump(exclude_none=True)
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors = field_errors(exc)
        return None, {**errors, **_postcode_errors(data, errors)}


def _postcode_errors(data: Any, errors: FieldErrors) -> FieldErrors:
    """The postcode-against-country rule for each person's address in ``data`` whose postcode and country have no
    error of their own (review 62: a bulk row's wrong postcode was said only once its other cells were right)."""
    found: FieldErrors = {}
    for part in ("natural_person", "legal_person"):
        address = data.get(part) if isinstance(data, Mapping) else None
        if not isinstance(address, Mapping) or {f"{part}.zip", f"{part}.country", part} & set(errors):
            continue
        postcode, country = address.get("zip"), address.get("country")
        if not isinstance(postcode, str) or not isinstance(country, str) or not postcode.strip():
            continue
        try:
            checks.check_postcode(postcode, checks.check_country(country))
        except checks.CheckError as exc:
            found[f"{part}.zip"] = [str(exc)]
    return found


def parse(model: type[M], data: Any, subject: str) -> M:
    """``model`` from ``data``, or an :class:`~helpers.core.errors.InputError` naming every bad field."""
    from helpers.core.errors import input_error

    checked, errors = validate(model, data)
    if checked is None:
        raise input_error(subject, errors)
    return checked


@cache
def _adapter(spec: FieldSpec) -> Any:
    from pydantic import TypeAdapter

    annotation: Any = spec.info.annotation
    validators = [m for m in spec.info.metadata if not isinstance(m, FieldMeta)]
    return TypeAdapter(Annotated[(annotation, *validators)] if validators else annotation)


def check_field(spec: FieldSpec, value: Any) -> Any:
    """Check one field's value alone, as the model would: the cleaned value, or a :class:`CheckError`."""
    if value is None or value == "":
        if spec.required:
            raise checks.CheckError("This field is required.")
        return None
    try:
        return _adapter(spec).validate_python(value)
    except ValidationError as exc:
        raise checks.CheckError(" ".join(" ".join(m) for m in field_errors(exc).values())) from None


def change_errors(model: type[Model], changes: Mapping[str, Any]) -> FieldErrors:
    """What is wrong with a partial change (a PATCH body) of ``model``, field by field, by each field's own check:
    a value to clear (None or empty) is refused, as the registry's documentation gives no way to remove one."""
    specs = {spec.path: spec for spec in fields_of(model)}
    aliases = {
        f"{spec.path.rpartition('.')[0]}.{alias}".lstrip("."): spec
        for spec in specs.values()
        for alias in spec.meta.aliases
    }
    errors: FieldErrors = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
            return
        spec = specs.get(path)
        if spec is None and path in aliases:  # the registry knows it by its own name: sent as given, it is ignored
            errors[path] = [
                f"The registry calls this field {aliases[path].name} ({aliases[path].label}); write "
                f"{aliases[path].path} instead."
            ]
            return
        if spec is None:  # a field the models do not know: the registry checks it
            return
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[path] = [
                "A value cannot be removed here: the registry's documentation gives no way to clear a field, so the "
                "registry would keep it. Leave the field out to keep it as it is, or give its new value."
            ]
            return
        try:
            check_field(spec, value)
        except checks.CheckError as exc:
            errors[path] = [str(exc)]

    walk(changes, "")
    return errors
