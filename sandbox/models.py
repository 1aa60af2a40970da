"""Request and response bodies of the API, written from the API reference (section 2).

Requests ignore unknown fields (as the API does). Responses list the documented fields; fields marked
"strict profile only" are sandbox extras the ``drf`` profile leaves out (section 6, D-F).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, model_validator

from sandbox.checks import (
    Bic,
    BirthDate,
    Bool,
    Country,
    Currency,
    Date,
    EthAddress,
    Iban,
    Id,
    OptBool,
    OptCountry,
    OptId,
    OptPhone,
    OptSalutation,
    OptTaxId,
    OptText,
    OptTimestamp,
    Text,
    Units,
    Zip,
    strict_bool,
)

EXTRA = "Sandbox extra: strict profile only."
InvestmentStatus = Literal[
    "KYC_PENDING",
    "REVIEW_PENDING",
    "WAITING_FOR_ACCEPTANCE",
    "ACCEPTED",
    "PAID",
    "DELIVERED",
    "KYC_INSUFFICIENT",
    "ABORTION",
    "REJECTION",
    "CANCELLATION",
    "PAYMENT_MISSING",
]
TaskStatus = Literal["processing", "success", "succeeded", "failed", "unknown"]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _not_us_taxable(value: Any) -> bool:
    if value is None or value == "":
        return False
    if strict_bool(value):
        raise ValueError("Persons subject to US tax cannot be onboarded as investors.")
    return False


# --- requests -----------------------------------------------------------------------------------------------------


class Address(Body):
    street: Text
    city: Text
    zip: Zip
    country: Country


class NaturalPerson(Address):
    salutation: OptSalutation = None
    forename: Text
    surname: Text
    birth_date: BirthDate
    birth_place: OptText = None
    citizenship: Country
    phone: OptPhone = None
    is_pep: Bool = False
    is_subject_to_us_tax: Annotated[bool, BeforeValidator(_not_us_taxable)] = False


class BenefitingPersonCreate(Address):
    salutation: OptSalutation = None
    forename: Text
    surname: Text
    birth_date: BirthDate
    birth_place: OptText = None
    citizenship: Country
    phone: OptPhone = None
    is_pep: Bool = False


class LegalPerson(Address):
    company_name: Text
    legal_form: Text
    registration_number: Text
    registration_court: OptText = None
    is_custodian_bank: Bool = False
    commercial_register_document_id: OptId = None


class BankAccount(Body):
    account_holder: Text
    iban: Iban
    bic: Bic
    bank: OptText = None
    country: OptCountry = None
    currency: Currency


class TaxInformation(Body):
    tax_identification_number: OptTaxId = None
    non_assessment_certificate: OptBool = None
    is_subject_to_german_tax: OptBool = None


class Communication(Body):
    email: Text  # the registry only requires it to be there (the guide's own script sends '...')
    email_confirmed: OptBool = None


class InvestorCreate(Body):
    natural_person: NaturalPerson | None = None
    legal_person: LegalPerson | None = None
    is_beneficiary: Bool
    bank_account: BankAccount | None = None
    tax_information: TaxInformation | None = None
    communication: Communication | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_person(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "bank_account_information" in data and "bank_account" not in data:  # the name in one doc's list
            data = {**data, "bank_account": data["bank_account_information"]}
        if len([kind for kind in ("natural_person", "legal_person") if data.get(kind)]) != 1:
            raise ValueError("Give exactly one of natural_person or legal_person.")
        return data


class BankAccountChange(Body):
    account_holder: OptText = None
    iban: Annotated[Iban | None, BeforeValidator(lambda v: v or None)] = None
    bic: Annotated[Bic | None, BeforeValidator(lambda v: v or None)] = None
    bank: OptText = None
    country: OptCountry = None
    currency: Annotated[Currency | None, BeforeValidator(lambda v: v or None)] = None


class CommunicationChange(Body):
    email: OptText = None
    email_confirmed: OptBool = None


class InvestorUpdate(BaseModel):
    """PATCH: the given parts are merged into the stored ones; other fields cannot be changed."""

    model_config = ConfigDict(extra="allow")

    natural_person: dict[str, Any] | None = None  # partial: merged, then checked as a whole person
    legal_person: dict[str, Any] | None = None
    bank_account: BankAccountChange | None = None
    tax_information: TaxInformation | None = None
    communication: CommunicationChange | None = None


class IdentificationCreate(Body):
    """Variant A (all fields: an identification done elsewhere) or variant B (empty body: video identification)."""

    document_type: OptText = Field(default=None, examples=["IDCARD"])
    document_id: OptText = None
    document_issuer: OptText = None
    document_valid_from: Annotated[Date | None, BeforeValidator(lambda v: v or None)] = None
    document_valid_to: Annotated[Date | None, BeforeValidator(lambda v: v or None)] = None
    identity_provider: OptText = Field(default=None, examples=["POSTIDENT"])
    legitimation_process_id: OptText = None
    legitimation_protocol_id: OptId = None
    verified_at: OptTimestamp = None


class GenericWalletCreate(Body):
    address: EthAddress
    receiving_enabled: OptBool = None


def _signed_documents(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise ValueError("Attach at least one signed document as {document_id, category, subject}.")
    return value


class SignedDocument(Body):
    document_id: Id
    category: Text
    subject: Text


class InvestmentCreate(Body):
    investor_id: Id
    campaign_id: Id
    units: Units
    signed_at: OptTimestamp = None
    accepted_at: OptTimestamp = None
    paid_at: OptTimestamp = None
    signed_documents: Annotated[list[SignedDocument], BeforeValidator(_signed_documents)]
    wallet: OptId = None


class InvestmentUpdate(BaseModel):
    """PATCH: ``accepted_at``, ``paid_at`` and ``wallet`` can be set later; nothing else."""

    model_config = ConfigDict(extra="allow")

    accepted_at: OptTimestamp = None
    paid_at: OptTimestamp = None
    wallet: OptId = None


class RedemptionCreate(Body):
    investor_id: Id
    product_id: Id
    wallet_id: Id
    units: Units

    @model_validator(mode="before")
    @classmethod
    def _amount_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "units" not in data and "amount" in data:
            return {**data, "units": data["amount"]}
        return data


class TransferCreate(Body):
    product: Id
    source_wallet: Id
    target_address: EthAddress
    amount: Units


# --- responses ----------------------------------------------------------------------------------------------------


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Money(Out):
    amount: str = Field(examples=["40000000"], description="an integer as text; value = amount * 10^-decimals")
    decimals: int
    currency: str


class Document(Out):
    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: str


class Investor(Out):
    id: str
    natural_person: dict[str, Any] | None = None
    legal_person: dict[str, Any] | None = None
    bank_account: dict[str, Any] | None = None
    tax_information: dict[str, Any] | None = None
    communication: dict[str, Any] | None = None
    created_at: str
    kyc_status: Literal["PENDING", "SUCCESS", "FAILED"] | None = Field(default=None, description=EXTRA)


class Identification(Out):
    id: str
    investor_id: str
    status: Literal["PENDING", "SUCCESS", "FAILED"]
    url: str | None = Field(default=None, description="video identification (variant B): the link for the investor")
    created_at: str


class BenefitingPerson(Out):
    id: str
    investor_id: str
    created_at: str


class Balance(Out):
    product_id: str
    units: int


class Wallet(Out):
    id: str
    type: Literal["eth-generic", "eth-managed"]
    address: str
    receiving_enabled: bool
    frozen: bool
    investor_id: str
    created_at: str
    balances: list[Balance] | None = Field(default=None, description=EXTRA)


class Product(Out):
    id: str
    name: str
    created_at: str


class Campaign(Out):
    id: str
    product_id: str
    name: str
    allocation: int
    available_units: int
    min_units: int
    step_size: int
    price_per_unit: Money
    active: bool
    created_at: str


class Investment(Out):
    id: str
    investor_id: str
    campaign_id: str
    product_id: str
    status: InvestmentStatus
    units: int
    investment_amount: Money
    remaining_amount: Money
    signed_at: str | None
    accepted_at: str | None
    paid_at: str | None
    delivered_at: str | None
    cancellation_date: str | None
    cancellation_reason: str | None
    signed_documents: list[SignedDocument]
    wallet: str | None
    created_at: str
    remaining_units: int | None = Field(default=None, description=EXTRA)
    status_changed_at: str | None = Field(default=None, description=EXTRA)


class Task(Out):
    id: str
    status: TaskStatus
    error: str | None = None
    created_at: str


class Credit(Task):
    investment_id: str


class Redemption(Task):
    investor_id: str
    product_id: str
    wallet_id: str
    units: int


class Transfer(Task):
    product: str
    source_wallet: str
    target_address: str
    amount: int


class RegistryStatement(Out):
    id: str
    investment_id: str
    reason: Literal["ISSUANCE", "TRANSFER", "REDEMPTION", "YEARLY"]
    remaining_amount: Money
    document_id: str | None
    created_at: str


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """A page of a list, oldest first; ``next``/``previous`` are full URLs or null at the ends."""

    count: int
    next: str | None
    previous: str | None
    results: list[Item]


class Token(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str | None = None


class Error(RootModel[dict[str, Any]]):
    """DRF-style error: ``{"detail": "..."}`` or field errors ``{"field": ["message"], "nested": {...}}``."""


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": description}
    for status, description in (
        (400, "invalid input (field errors) or a refused state change"),
        (401, "no or an invalid access token"),
        (403, "the token lacks a scope"),
        (404, "not found"),
        (413, "body too large"),
        (415, "unsupported content type"),
        (422, "idempotency key reused with a different body"),
        (429, "throttled (sandbox fault)"),
        (503, "unavailable (sandbox fault)"),
    )
}
