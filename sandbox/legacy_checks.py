"""Local checks of what the API accepts, run before anything is sent.

Each ``check_*`` function takes a raw value (as typed into a form or read from a spreadsheet), returns the value in
the form the API expects, or raises :class:`CheckError` with one sentence that says what is wrong and how to fix it.

``validate_*`` functions check a whole request body and return field errors keyed by dotted path
(``{"natural_person.birth_date": ["..."]}``); an empty dict means the body is fine. The sandbox uses the same rules,
so a body that passes here is accepted there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from eth_utils import is_checksum_address, to_checksum_address
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

FieldErrors = dict[str, list[str]]

SALUTATIONS = ("MR", "MS", "MRS", "DIVERSE")
DOCUMENT_TYPES = ("IDCARD", "PASSPORT")
IDENTITY_PROVIDERS = ("POSTIDENT", "IDNOW", "WEBID", "OTHER")
CURRENCIES = ("EUR",)
MINIMUM_INVESTOR_AGE = 18


class CheckError(ValueError):
    """A value that the API would refuse; the message is a sentence meant for the person who typed it."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def check_text(value: Any, max_length: int = 255) -> str:
    text = _text(value)
    if not text:
        raise CheckError("This field may not be blank.")
    if len(text) > max_length:
        raise CheckError(f"Use at most {max_length} characters (this has {len(text)}).")
    return text


def check_iban(value: Any) -> str:
    """An IBAN with a valid checksum and country format, returned without spaces."""
    text = _text(value).replace(" ", "").upper()
    if not text:
        raise CheckError("Enter an IBAN, e.g. DE89 3704 0044 0532 0130 00.")
    try:
        return IBAN(text).compact
    except SchwiftyException as exc:
        raise CheckError(f"'{_text(value)}' is not a valid IBAN: {_sentence(exc)}") from None


def check_bic(value: Any) -> str:
    """A BIC (SWIFT code) of 8 or 11 characters with a known country."""
    text = _text(value).replace(" ", "").upper()
    if not text:
        raise CheckError("Enter a BIC, e.g. COBADEFFXXX.")
    try:
        return str(BIC(text))
    except SchwiftyException as exc:
        raise CheckError(f"'{_text(value)}' is not a valid BIC: {_sentence(exc)}") from None


def check_country(value: Any) -> str:
    """An ISO 3166-1 alpha-3 country code such as DEU."""
    text = _text(value).upper()
    if len(text) == 2 and (country := pycountry.countries.get(alpha_2=text)):
        raise CheckError(f"Use the three-letter ISO 3166 code {country.alpha_3} for {country.name}, not '{text}'.")
    if len(text) != 3 or not pycountry.countries.get(alpha_3=text):
        raise CheckError(f"'{_text(value)}' is not a three-letter ISO 3166 country code such as DEU.")
    return text


def check_currency(value: Any) -> str:
    text = _text(value).upper()
    if text not in CURRENCIES:
        raise CheckError(f"The currency must be one of {', '.join(CURRENCIES)}, not '{_text(value)}'.")
    return text


def check_date(value: Any) -> str:
    """A calendar date, returned as YYYY-MM-DD."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    try:
        return date.fromisoformat(text).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else _bad_date(text)
    except ValueError:
        return _bad_date(text)


def _bad_date(text: str) -> str:
    raise CheckError(f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2000-08-10.")


def check_birth_date(value: Any, today: date | None = None) -> str:
    iso = check_date(value)
    born, today = date.fromisoformat(iso), today or date.today()
    if born >= today:
        raise CheckError(f"The birth date {iso} is not in the past.")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MINIMUM_INVESTOR_AGE:
        raise CheckError(f"The investor must be at least {MINIMUM_INVESTOR_AGE} years old (born {iso}, so {age}).")
    return iso


def check_datetime(value: Any) -> str:
    """A point in time with a time zone, returned in ISO 8601 (``2021-03-12T07:14:13.630308+00:00``)."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise CheckError(
                f"'{text}' is not a date and time; write it as ISO 8601, e.g. 2021-03-12T07:14:13+00:00."
            ) from None
    if moment.tzinfo is None:
        raise CheckError(f"'{value}' has no time zone; add one, e.g. +00:00 for UTC.")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def check_eth_address(value: Any) -> str:
    """An Ethereum address: 0x and 40 hex digits; mixed case must carry a valid EIP-55 checksum."""
    text = _text(value)
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise CheckError(f"'{text}' is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits.")
    digits = text[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(text):
        raise CheckError(
            f"'{text}' has a wrong EIP-55 checksum (a typo?); the checksummed form would be "
            f"{to_checksum_address(text)} if the digits are right."
        )
    return to_checksum_address(text)


def check_units(value: Any, step_size: int = 1, minimum: int = 1) -> int:
    """A whole, positive number of units that is a multiple of the step size. Never a float."""
    if isinstance(value, bool):
        raise CheckError("Units must be a whole number, not true/false.")
    if isinstance(value, float):
        raise CheckError(f"Units must be a whole number; {value!r} is a floating-point number.")
    if isinstance(value, int):
        units = value
    else:
        text = _text(value).replace("_", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CheckError(f"'{text}' is not a number of units; enter a whole number such as 300.") from None
        if number != number.to_integral_value():
            raise CheckError(f"Units must be a whole number; {text} has a fraction.")
        units = int(number)
    if units < minimum:
        raise CheckError(f"Units must be at least {minimum}; got {units}.")
    if step_size > 1 and units % step_size:
        raise CheckError(f"Units must be a multiple of the step size {step_size}; {units} is not.")
    return units


def check_email(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", text):
        raise CheckError(f"'{text}' is not an e-mail address.")
    return text


def check_uuid(value: Any) -> str:
    text = _text(value)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CheckError(f"'{text}' is not an id (a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6).") from None


def check_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise CheckError(f"Must be true or false, not {value!r}.")


def check_choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _text(value).upper()
        if text not in choices:
            raise CheckError(f"'{_text(value)}' is not one of {', '.join(choices)}.")
        return text

    return check


def check_phone(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"\+?[0-9 ()/-]{6,25}", text):
        raise CheckError(f"'{text}' is not a phone number; use digits, spaces and a leading +, e.g. +49 69 1234567.")
    return text


def _sentence(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return (text[:1].lower() + text[1:] + ".") if text else "it is malformed."


# --- body schemas -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    check: Callable[[Any], Any]
    required: bool = True


Schema = Mapping[str, "Field | Nested"]


@dataclass(frozen=True)
class Nested:
    schema: Schema
    required: bool = True


def clean(body: Mapping[str, Any], schema: Schema, prefix: str = "") -> tuple[dict[str, Any], FieldErrors]:
    """Check ``body`` against ``schema``; return the normalised body and the field errors (empty when valid).

    Unknown fields are kept untouched, as the API ignores them.
    """
    if not isinstance(body, Mapping):
        return {}, {prefix.rstrip(".") or "non_field_errors": ["Expected an object of fields."]}
    cleaned: dict[str, Any] = dict(body)
    errors: FieldErrors = {}
    for name, rule in schema.items():
        path = f"{prefix}{name}"
        value = body.get(name)
        if value is None or value == "":
            cleaned.pop(name, None)
            if rule.required:
                errors[path] = ["This field is required."]
            continue
        if isinstance(rule, Nested):
            cleaned[name], sub_errors = clean(value, rule.schema, f"{path}.")
            errors.update(sub_errors)
            continue
        try:
            cleaned[name] = rule.check(value)
        except CheckError as exc:
            errors[path] = [str(exc)]
    return cleaned, errors


def _not_us_taxable(value: Any) -> bool:
    if check_bool(value):
        raise CheckError("Persons subject to US tax cannot be onboarded as investors.")
    return False


_ADDRESS: dict[str, Field] = {
    "street": Field(check_text),
    "city": Field(check_text),
    "zip": Field(lambda v: check_text(v, 16)),
    "country": Field(check_country),
}

NATURAL_PERSON: Schema = {
    "salutation": Field(check_choice(*SALUTATIONS), required=False),
    "forename": Field(check_text),
    "surname": Field(check_text),
    "birth_date": Field(check_birth_date),
    "birth_place": Field(check_text, required=False),
    "citizenship": Field(check_country),
    **_ADDRESS,
    "phone": Field(check_phone, required=False),
    "is_pep": Field(check_bool, required=False),
    "is_subject_to_us_tax": Field(_not_us_taxable, required=False),
}

LEGAL_PERSON: Schema = {
    "company_name": Field(check_text),
    "legal_form": Field(check_text),
    "registration_number": Field(check_text),
    "registration_court": Field(check_text, required=False),
    **_ADDRESS,
    "is_custodian_bank": Field(check_bool, required=False),
    "commercial_register_document_id": Field(check_uuid, required=False),
}

BANK_ACCOUNT: Schema = {
    "account_holder": Field(check_text),
    "iban": Field(check_iban),
    "bic": Field(check_bic),
    "bank": Field(check_text, required=False),
    "country": Field(check_country, required=False),
    "currency": Field(check_currency),
}

TAX_INFORMATION: Schema = {
    "tax_identification_number": Field(lambda v: check_text(v, 32), required=False),
    "non_assessment_certificate": Field(check_bool, required=False),
    "is_subject_to_german_tax": Field(check_bool, required=False),
}

COMMUNICATION: Schema = {
    "email": Field(check_email),
    "email_confirmed": Field(check_bool, required=False),
}
# The registry itself only requires an e-mail to be present (the guide's own script sends '...'); the client checks
# the format too, because a typo there means the investor never gets the registry's mails.
LENIENT_COMMUNICATION: Schema = {**COMMUNICATION, "email": Field(check_text)}


def validate_investor(body: Mapping[str, Any], strict: bool = True) -> tuple[dict[str, Any], FieldErrors]:
    """Check an investor body (natural or legal person, bank account, tax data, communication).

    ``strict=False`` is what the registry enforces; ``strict=True`` (the client's pre-flight) also checks formats
    that the registry lets through, such as the e-mail address.
    """
    body = dict(body)
    if "bank_account_information" in body and "bank_account" not in body:
        body["bank_account"] = body.pop("bank_account_information")
    kinds = [k for k in ("natural_person", "legal_person") if body.get(k)]
    schema: dict[str, Field | Nested] = {
        "is_beneficiary": Field(check_bool),
        "bank_account": Nested(BANK_ACCOUNT, required=False),
        "tax_information": Nested(TAX_INFORMATION, required=False),
        "communication": Nested(COMMUNICATION if strict else LENIENT_COMMUNICATION, required=False),
    }
    if len(kinds) != 1:
        cleaned, errors = clean(body, schema)
        errors["non_field_errors"] = ["Give exactly one of natural_person or legal_person."]
        return cleaned, errors
    schema[kinds[0]] = Nested(NATURAL_PERSON if kinds[0] == "natural_person" else LEGAL_PERSON)
    return clean(body, schema)


BENEFITING_PERSON: Schema = {key: rule for key, rule in NATURAL_PERSON.items() if key != "is_subject_to_us_tax"}

IDENTIFICATION: Schema = {
    "document_type": Field(check_choice(*DOCUMENT_TYPES)),
    "document_id": Field(check_text),
    "document_issuer": Field(check_text),
    "document_valid_from": Field(check_date),
    "document_valid_to": Field(check_date),
    "identity_provider": Field(check_choice(*IDENTITY_PROVIDERS)),
    "legitimation_process_id": Field(check_text),
    "legitimation_protocol_id": Field(check_uuid),
    "verified_at": Field(check_datetime),
}


def validate_identification(body: Mapping[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    """Check an imported identification (variant A). An empty body asks for a video identification instead."""
    if not body:
        return {}, {}
    cleaned, errors = clean(body, IDENTIFICATION)
    valid_from, valid_to = cleaned.get("document_valid_from"), cleaned.get("document_valid_to")
    if not errors and valid_from and valid_to and valid_to < valid_from:
        errors["document_valid_to"] = [f"The document cannot expire ({valid_to}) before it is valid ({valid_from})."]
    return cleaned, errors


GENERIC_WALLET: Schema = {
    "address": Field(check_eth_address),
    "receiving_enabled": Field(check_bool, required=False),
}


def _check_signed_documents(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise CheckError("Attach at least one signed document as {document_id, category, subject}.")
    documents = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise CheckError(f"Signed document {position} must be an object with document_id, category and subject.")
        try:
            documents.append(
                {
                    "document_id": check_uuid(item.get("document_id")),
                    "category": check_text(item.get("category")),
                    "subject": check_text(item.get("subject")),
                }
            )
        except CheckError as exc:
            raise CheckError(f"Signed document {position}: {exc}") from None
    return documents


INVESTMENT: Schema = {
    "investor_id": Field(check_uuid),
    "campaign_id": Field(check_uuid),
    "units": Field(check_units),
    "signed_at": Field(check_datetime),
    "accepted_at": Field(check_datetime, required=False),
    "paid_at": Field(check_datetime, required=False),
    "signed_documents": Field(_check_signed_documents),
    "wallet": Field(check_uuid, required=False),
}

INVESTMENT_UPDATE: Schema = {
    "accepted_at": Field(check_datetime, required=False),
    "paid_at": Field(check_datetime, required=False),
    "wallet": Field(check_uuid, required=False),
}

REDEMPTION: Schema = {
    "investor_id": Field(check_uuid),
    "product_id": Field(check_uuid),
    "wallet_id": Field(check_uuid),
    "units": Field(check_units),
}

TRANSFER: Schema = {
    "product": Field(check_uuid),
    "source_wallet": Field(check_uuid),
    "target_address": Field(check_eth_address),
    "amount": Field(check_units),
}


def validate_redemption(body: Mapping[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    body = dict(body)
    if "units" not in body and "amount" in body:
        body["units"] = body.pop("amount")
    return clean(body, REDEMPTION)


def nest(errors: FieldErrors) -> dict[str, Any]:
    """Turn dotted field errors into the API's nested shape: ``{"natural_person": {"zip": ["..."]}}``."""
    nested: dict[str, Any] = {}
    for path, messages in errors.items():
        node = nested
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = list(messages)
    return nested


def flatten(errors: Any, prefix: str = "") -> FieldErrors:
    """Turn the API's nested error body into dotted field errors (the inverse of :func:`nest`)."""
    flat: FieldErrors = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            flat.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        flat[prefix.rstrip(".") or "non_field_errors"] = list(errors)
    elif isinstance(errors, list):
        for position, item in enumerate(errors):
            flat.update(flatten(item, f"{prefix}{position}."))
    else:
        flat[prefix.rstrip(".") or "non_field_errors"] = [str(errors)]
    return flat
