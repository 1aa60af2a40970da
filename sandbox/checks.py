"""Field types of the API's request bodies: what the registry accepts, each with a sentence when it does not.

Written from the API reference (section 2), independently of the client library: IBAN and BIC through schwifty,
countries through pycountry, Ethereum addresses through eth-utils. Each type is an ``Annotated`` pydantic type whose
validator normalises the value (``"deu"`` -> ``"DEU"``) or raises ``ValueError`` with the sentence.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import pycountry
from eth_utils import is_checksum_address, to_checksum_address
from pydantic import BeforeValidator, WithJsonSchema
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

REQUIRED = "This field is required."
MINIMUM_AGE = 18
MAX_UNITS = 10**12


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("Expected a text value, not a list or an object.")
    if isinstance(value, bool):
        raise ValueError("Expected a text value, not true/false.")
    return str(value).strip()


def text(max_length: int = 255) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        result = _scalar(value)
        if not result:
            raise ValueError(REQUIRED)
        if len(result) > max_length:
            raise ValueError(f"Use at most {max_length} characters (this has {len(result)}).")
        return result

    return check


def blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def iban(value: Any) -> str:
    raw = _scalar(value)
    try:
        return IBAN(raw.replace(" ", "").upper()).compact
    except SchwiftyException as exc:
        raise ValueError(f"'{raw}' is not a valid IBAN: {str(exc).rstrip('.')}.") from None


def bic(value: Any) -> str:
    raw = _scalar(value)
    try:
        return str(BIC(raw.replace(" ", "").upper()))
    except SchwiftyException as exc:
        raise ValueError(f"'{raw}' is not a valid BIC: {str(exc).rstrip('.')}.") from None


def country(value: Any) -> str:
    raw = _scalar(value).upper()
    if len(raw) == 2 and (found := pycountry.countries.get(alpha_2=raw)):
        raise ValueError(f"Use the three-letter ISO 3166 code {found.alpha_3} for {found.name}, not '{raw}'.")
    if len(raw) != 3 or not pycountry.countries.get(alpha_3=raw):
        raise ValueError(f"'{raw}' is not a three-letter ISO 3166 country code such as DEU.")
    return raw


def currency(value: Any) -> str:
    raw = _scalar(value).upper()
    if raw != "EUR":
        raise ValueError(f"The currency must be EUR, not '{raw}'.")
    return raw


def calendar_date(value: Any) -> str:
    raw = _scalar(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise ValueError(f"'{raw}' is not a date; write it as YYYY-MM-DD, e.g. 2000-08-10.")


def birth_date(value: Any) -> str:
    iso = calendar_date(value)
    born, today = date.fromisoformat(iso), date.today()
    if born >= today:
        raise ValueError(f"The birth date {iso} is not in the past.")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MINIMUM_AGE:
        raise ValueError(f"The investor must be at least {MINIMUM_AGE} years old (born {iso}, so {age}).")
    return iso


def timestamp(value: Any) -> str:
    """ISO 8601 with a time zone (``Z`` or an offset), returned as UTC with microseconds."""
    raw = _scalar(value)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{raw}' is not a date and time; write it as ISO 8601, e.g. 2021-03-12T07:14:13+00:00."
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"'{raw}' has no time zone; add one, e.g. +00:00 for UTC.")
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:
        raise ValueError(f"'{raw}' is out of range.") from None


def object_id(value: Any) -> str:
    raw = _scalar(value)
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ValueError(f"'{raw}' is not an id (a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6).") from None


def eth_address(value: Any) -> str:
    raw = _scalar(value)
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", raw):
        raise ValueError(f"'{raw}' is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits.")
    digits = raw[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(raw):
        raise ValueError(f"'{raw}' has a wrong EIP-55 checksum; check the address for a typo.")
    return to_checksum_address(raw)


def units(value: Any) -> int:
    """A whole, positive number of units; never a float (JSON numbers with a fraction or exponent)."""
    if isinstance(value, bool):
        raise ValueError("Units must be a whole number, not true/false.")
    if isinstance(value, float):
        raise ValueError(f"Units must be a whole number; {value!r} is a floating-point number.")
    if isinstance(value, int):
        number = value
    else:
        raw = _scalar(value)
        try:
            parsed = Decimal(raw)
            if not parsed.is_finite() or parsed != parsed.to_integral_value():
                raise ValueError(f"Units must be a whole number; {raw} is not.")
        except InvalidOperation:
            raise ValueError(f"'{raw}' is not a number of units; send a whole number such as 300.") from None
        number = int(parsed)
    if number < 1:
        raise ValueError(f"Units must be at least 1; got {number}.")
    if number > MAX_UNITS:
        raise ValueError(f"Units must be at most {MAX_UNITS}; got {number}.")
    return number


def strict_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"Must be true or false, not {value!r}.")


def choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        raw = _scalar(value).upper()
        if raw not in choices:
            raise ValueError(f"'{raw}' is not one of {', '.join(choices)}.")
        return raw

    return check


def phone(value: Any) -> str:
    raw = _scalar(value)
    if not re.fullmatch(r"\+?[0-9 ()/-]{6,25}", raw):
        raise ValueError(f"'{raw}' is not a phone number; use digits, spaces and a leading +.")
    return raw


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", **schema})


Text = Annotated[str, BeforeValidator(text()), _schema(minLength=1, maxLength=255)]
Zip = Annotated[str, BeforeValidator(text(16)), _schema(minLength=1, maxLength=16)]
TaxId = Annotated[str, BeforeValidator(text(32)), _schema(minLength=1, maxLength=32)]
Iban = Annotated[str, BeforeValidator(iban), _schema(examples=["DE89370400440532013000"])]
Bic = Annotated[str, BeforeValidator(bic), _schema(examples=["COBADEFFXXX"])]
Country = Annotated[str, BeforeValidator(country), _schema(pattern="^[A-Z]{3}$", examples=["DEU"])]
Currency = Annotated[str, BeforeValidator(currency), _schema(enum=["EUR"])]
Date = Annotated[str, BeforeValidator(calendar_date), _schema(format="date")]
BirthDate = Annotated[str, BeforeValidator(birth_date), _schema(format="date")]
Timestamp = Annotated[str, BeforeValidator(timestamp), _schema(format="date-time")]
Id = Annotated[str, BeforeValidator(object_id), _schema(format="uuid")]
EthAddress = Annotated[str, BeforeValidator(eth_address), _schema(pattern="^0x[0-9a-fA-F]{40}$")]
Phone = Annotated[str, BeforeValidator(phone), _schema(examples=["+49 69 1234567"])]
Salutation = Annotated[
    str, BeforeValidator(choice("MR", "MS", "MRS", "DIVERSE")), _schema(enum=["MR", "MS", "MRS", "DIVERSE"])
]
Units = Annotated[int, BeforeValidator(units), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_UNITS})]
Bool = Annotated[bool, BeforeValidator(strict_bool), WithJsonSchema({"type": "boolean"})]

# Optional fields: null and "" both mean "not given".
BLANK = BeforeValidator(blank_to_none)
OptText = Annotated[Text | None, BLANK]
OptTaxId = Annotated[TaxId | None, BLANK]
OptCountry = Annotated[Country | None, BLANK]
OptTimestamp = Annotated[Timestamp | None, BLANK]
OptId = Annotated[Id | None, BLANK]
OptPhone = Annotated[Phone | None, BLANK]
OptSalutation = Annotated[Salutation | None, BLANK]
OptBool = Annotated[Bool | None, BLANK]

DOCUMENT_TYPES = ("IDCARD", "PASSPORT")
IDENTITY_PROVIDERS = ("POSTIDENT", "IDNOW", "WEBID", "OTHER")
