"""Checks of single values, run before anything is sent (they are the validators of :mod:`helpers.core.models`).

Each ``check_*`` function takes a raw value (as typed into a form or read from a spreadsheet), returns it in the form
the API expects, or raises :class:`CheckError` with one sentence that says what is wrong and how to fix it. A check
of personal data (IBAN, birth date, tax id, phone, ID document number) never repeats the value it was given, and any
quoted input is shortened (:func:`quote`), never the sentence.
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

FieldErrors = dict[str, list[str]]

CURRENCIES = ("EUR",)
MINIMUM_INVESTOR_AGE = 18
MAX_UNITS = 10**15  # far above any product's allocation; bigger numbers are typing mistakes
QUOTE_LENGTH = 40


class CheckError(ValueError):
    """A value that the API would refuse; the message is a sentence meant for the person who typed it."""


class FieldCheckError(CheckError):
    """A rule over several fields of one object that one of them breaks (``field``): shown next to that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UndocumentedValueWarning(UserWarning):
    """A value the public documentation does not mention: sent anyway, as the registry may know it."""


def quote(value: Any, limit: int = QUOTE_LENGTH) -> str:
    """The input as a message quotes it: in quotes, shortened to ``limit`` characters with its length."""
    text = str(value)
    if len(text) <= limit:
        return f"'{text}'"
    return f"'{text[: limit - 1]}…' ({len(text):,} characters)"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


# Unicode's category Cc (invisible, refused by Excel's files) and the line and paragraph separators (U+2028, U+2029:
# line breaks too, from a copy out of a web page or a PDF)
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_CHARACTER_SAID = (
    "This has a line break or another invisible control character (perhaps from a copy); remove it and keep the text "
    "on one line."
)
# Unicode's category Cf (format characters: a zero-width space, a soft hyphen, a byte order mark, a direction mark):
# unseen on a screen, so that 'Ada' with one would not be 'Ada' to the registry. Removed from what is typed or read
# (see visible: every model field, text check and spreadsheet cell), but the zero-width (non-)joiner U+200C and U+200D
# (Persian and Indic names, emoji), the Mongolian vowel separator U+180E, and the tags U+E0020-U+E007F (the flags of
# England, Scotland and Wales), which are part of what a name reads as. Unicode 15's list (tests/test_units.py checks
# it is whole).
FORMAT_CHARACTER = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001]"
)


def visible(text: str) -> str:
    """The text as a screen shows it: without the format characters it does not show (review 89: an IBAN or a
    ledger's name pasted with a zero-width space or a soft hyphen is what it reads as)."""
    return FORMAT_CHARACTER.sub("", text)


def unseen_character(text: str) -> str | None:
    """What is wrong with text that holds a line break or another control character a screen does not show, or
    None (format characters are removed, not refused: see visible)."""
    return CONTROL_CHARACTER_SAID if CONTROL_CHARACTER.search(text) else None


def check_text(value: Any, max_length: int = 255) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise CheckError(f"Enter text here, not {type(value).__name__}.")
    text = visible(_text(value)).strip()
    if not text:
        raise CheckError("This field may not be blank.")
    unseen = unseen_character(text)
    if unseen:
        raise CheckError(unseen)
    if len(text) > max_length:
        raise CheckError(f"Use at most {max_length} characters (this has {len(text):,}).")
    return text


# What shows as an emoji: a character drawn as one by default (regional indicators of flags and skin tones among
# them), any made one by U+FE0F, a keycap (U+20E3), a tag of a subdivision flag; not a sign as ©, ® or ™ (review 91)
EMOJI = r"\p{Emoji_Presentation}|\ufe0f|\u20e3|[\U000e0020-\U000e007f]"


def check_name(value: Any) -> str:
    """A name as an ID document or a register writes it (a person's, a company's, a place's, an authority's): text
    with a letter, without emoji or the angle brackets of markup (review 90: 'Grace 😀' and '<b>Hopper</b>' were sent
    as names)."""
    import regex

    text = check_text(value)
    if regex.search(EMOJI, text):
        raise CheckError("A name has no emoji: write it as the ID document or the register does.")
    if "<" in text or ">" in text:
        raise CheckError("A name has no < or >: write it as the ID document or the register does.")
    if not any(character.isalpha() for character in text):
        raise CheckError("A name has letters: write it as the ID document or the register does.")
    return text


def text_of(max_length: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        return check_text(value, max_length)

    return check


def _iban_problem(exc: Exception) -> str:
    """What is wrong with an IBAN, in our words (schwifty's own messages repeat the IBAN)."""
    from schwifty import exceptions

    problems = (
        (exceptions.InvalidChecksumDigits, "its check digits do not match (a typo?)"),
        (exceptions.InvalidCountryCode, "it does not start with a known country code such as DE"),
        (exceptions.InvalidLength, "it has the wrong length for its country"),
        (exceptions.InvalidStructure, "it contains characters that do not belong in an IBAN of its country"),
        (exceptions.InvalidBankCode, "its bank code is not valid"),
        (exceptions.InvalidAccountCode, "its account number is not valid"),
        (exceptions.InvalidBBANChecksum, "its national check digits do not match (a typo?)"),
    )
    return next((said for kind, said in problems if isinstance(exc, kind)), "its format does not match its country")


def check_iban(value: Any) -> str:
    """An IBAN with a valid checksum and country format, returned compact (as the registry stores it). Never echoes
    the value."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    # as pasted from a statement or a PDF: spaces of any kind, dashes, dots, a zero-width space, an 'IBAN:' before it
    plain = re.sub(r"[\W_]", "", _text(value).upper())
    plain = re.sub(r"^IBAN(?=[A-Z]{2}[0-9]{2})", "", plain)
    if not plain:
        raise CheckError("Enter an IBAN, e.g. DE89 3704 0044 0532 0130 00.")
    if len(plain) > 34:
        raise CheckError(f"An IBAN has at most 34 characters; this one has {len(plain):,}.")
    if not re.match(r"[A-Z]", plain):  # ("123": schwifty says 'characters that do not belong in an IBAN')
        raise CheckError(
            "This is not an IBAN: an IBAN starts with its country's two letters, e.g. DE89 3704 0044 0532 0130 00. "
            "Copy it from the bank's documents."
        )
    if len(plain) < 15:  # the shortest IBANs (Norway's) have 15
        raise CheckError(
            f"This IBAN is too short: {len(plain)} characters, where IBANs have 15 to 34. Check it against the "
            "bank's documents."
        )
    try:
        return IBAN(plain).compact
    except SchwiftyException as exc:
        raise CheckError(
            f"This is not a valid IBAN: {_iban_problem(exc)}. Check it against the bank's documents."
        ) from None


def check_bic(value: Any) -> str:
    """A BIC (SWIFT code) of 8 or 11 characters with a known country."""
    from schwifty import BIC
    from schwifty.exceptions import InvalidCountryCode, InvalidLength, SchwiftyException

    text = _text(value).replace(" ", "").upper()
    if not text:
        raise CheckError("Enter a BIC, e.g. COBADEFFXXX.")
    try:
        return str(BIC(text))
    except SchwiftyException as exc:
        if isinstance(exc, InvalidCountryCode) and re.fullmatch(r"[A-Z0-9]{4}XK[A-Z0-9]{2}(?:[A-Z0-9]{3})?", text):
            return text  # Kosovo (XK): SWIFT's code, which schwifty does not know (review 72)
        if not (text.isascii() and text.isalnum()):
            why = "it has characters other than the letters A to Z and digits"
        elif isinstance(exc, InvalidLength):  # (schwifty's own words, "invalid length '3'", said plainly: review 71)
            why = f"it has {len(text)} characters"
        elif isinstance(exc, InvalidCountryCode):
            why = f"its 5th and 6th characters, {text[4:6]}, are not a country code"
        else:
            why = "its parts are not where a BIC has them: 4 for the bank, 2 letters for the country, 2 for the place"
        raise CheckError(
            f"{quote(text)} is not a valid BIC ({why}): a BIC has 8 or 11 letters and digits, e.g. COBADEFFXXX; copy "
            "it from the bank's details."
        ) from None


def check_country(value: Any) -> str:
    """An ISO 3166-1 alpha-3 country code such as DEU."""
    import pycountry

    text = _text(value).upper()
    if len(text) == 2 and (country := pycountry.countries.get(alpha_2=text)):
        raise CheckError(f"Use the three-letter ISO 3166 code {country.alpha_3} for {country.name}, not '{text}'.")
    if len(text) != 3 or not pycountry.countries.get(alpha_3=text):
        raise CheckError(f"{quote(_text(value))} is not a three-letter ISO 3166 country code such as DEU.")
    return text


POSTCODES = {  # country -> (its letters before a postcode, the pattern, an example, how it reads)
    "DEU": ("D", r"(?!00)[0-9]{5}", "60311", "five digits"),
    "AUT": ("A", r"[1-9][0-9]{3}", "1010", "four digits"),
    "CHE": ("CH", r"[1-9][0-9]{3}", "8001", "four digits"),
    "LIE": ("FL", r"94[89][0-9]", "9490", "four digits"),
    "LUX": ("L", r"[0-9]{4}", "1111", "four digits"),
    "BEL": ("B", r"[1-9][0-9]{3}", "1000", "four digits"),
    "DNK": ("DK", r"[0-9]{4}", "1050", "four digits"),
    "FRA": ("F", r"[0-9]{5}", "75001", "five digits"),
    "ITA": ("I", r"[0-9]{5}", "00118", "five digits"),
    "ESP": ("E", r"[0-9]{5}", "28001", "five digits"),
    "NLD": ("NL", r"[1-9][0-9]{3} ?[A-Z]{2}", "1011 AB", "four digits and two letters"),
    "POL": ("PL", r"[0-9]{2}[- ]?[0-9]{3}", "00-001", "two digits, a dash and three digits"),
}
COUNTRY_NAMES = {"NLD": "the Netherlands"}  # where a sentence needs more than pycountry's name
DASHES = "-‐‑–"  # a hyphen, a non-breaking one, an en dash


def check_valid_to(valid_to: str, valid_from: str | None) -> str:
    """An ID document's last valid day (YYYY-MM-DD), not before its first (``valid_from``, where known)."""
    if valid_from and valid_to < valid_from:
        raise CheckError(
            "The document cannot expire before it is valid ('Valid to' is earlier than 'Valid from'); check both "
            "dates against the document."
        )
    return valid_to


def check_identified_with_a_valid_document(verified_at: str, valid_from: str | None, valid_to: str | None) -> str:
    """The time of an identification, on a day the document was valid (where both its days are known)."""
    identified = verified_at[:10]
    if valid_from and valid_to and not valid_from <= identified <= valid_to:
        raise CheckError(
            "The document was not valid on the day of the identification (the day lies outside 'Valid from' to "
            "'Valid to'). Check the dates, or identify the investor again with a valid document."
        )
    return verified_at


def check_postcode(postcode: str, country: str | None) -> str:
    """A postcode in the form its country uses, for the countries of :data:`POSTCODES` (others as given), however
    written ('D-60311', 'DE-60311', 'CH-8001', '1011AB'); returned as written (a form of its own would make the same
    step, run again, another operation)."""
    code = (country or "").upper()
    form = POSTCODES.get(code)
    text = postcode.strip()
    if form is None:
        return text
    prefix, pattern, example, reads = form
    letters = "|".join(re.escape(p) for p in (prefix, _alpha_2(code)) if p)
    bare = re.sub(rf"^(?:{letters})\s*[{DASHES}]?\s*(?=[0-9])", "", text.upper())
    bare = re.sub(rf"[{DASHES}]", "-", re.sub(r"\s+", " ", bare))
    if code == "NLD":
        bare = re.sub(r"(?<=[0-9])-(?=[A-Z])", " ", bare)
    elif code != "POL":
        bare = bare.replace(" ", "") if re.fullmatch(r"[0-9]{2,3} [0-9]{2,3}", bare) else bare  # '60 311'
    if re.fullmatch(pattern, bare):
        return text  # as written: the same step run again is the same operation (its body decides that)
    dropped_zero = bare.isascii() and bare.isdigit() and example.isdigit() and len(bare) == len(example) - 1
    advice = (
        " Did it lose a leading 0? Type it with the 0 (a spreadsheet drops it from a number: format that column as "
        "text first)."
        if dropped_zero
        else " Check it against the address it belongs to."
    )
    name = COUNTRY_NAMES.get(code) or _country_name(code)
    # (the postcode is not quoted: part of someone's address, in a message that may be logged or kept; review 86)
    raise FieldCheckError("zip", f"A postcode in {name} has {reads}, such as {example}; this one does not.{advice}")


def _alpha_2(alpha_3: str) -> str:
    import pycountry

    country = pycountry.countries.get(alpha_3=alpha_3)
    return str(country.alpha_2) if country else ""


def _country_name(alpha_3: str) -> str:
    import pycountry

    country = pycountry.countries.get(alpha_3=alpha_3.upper())
    return str(getattr(country, "common_name", None) or country.name) if country else alpha_3


def check_currency(value: Any) -> str:
    text = _text(value).upper()
    if text not in CURRENCIES:
        raise CheckError(f"The currency must be one of {', '.join(CURRENCIES)}, not {quote(_text(value))}.")
    return text


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]00:00(:00)?)?", text):  # (a spreadsheet's date cell: midnight)
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    return None


def check_date(value: Any) -> str:
    """A calendar date, returned as YYYY-MM-DD."""
    day = _parse_date(value)
    if day is None:
        raise CheckError(_not_a_date(value, "it"))
    return day.isoformat()


def check_past_date(value: Any, today: date | None = None) -> str:
    """A day that has come (today somewhere on earth at the latest): the date of books, which are closed on it."""
    day = check_date(value)
    if date.fromisoformat(day) > (today or (datetime.now(UTC) + LATEST_ZONE).date()):
        raise CheckError("This day has not come yet; books are dated the day they were closed: check the date.")
    return day


def _not_a_date(value: Any, what: str, example: str = "2000-08-10") -> str:
    """Why ``value`` is no date, without repeating it (it may be a birth date)."""
    text = _text(value)
    if written := re.fullmatch(r"\d{4}-(\d{2})-(\d{2})([ T]00:00(:00)?)?", text):
        month, day = int(written.group(1)), int(written.group(2))
        if not 1 <= month <= 12:
            swapped = " (the day and the month swapped?)" if 1 <= day <= 12 else ""
            return f"There is no such month: the month, in the middle, runs from 01 to 12{swapped}; write YYYY-MM-DD."
        return "There is no such day in the calendar (check the month's last day); write an existing date."
    if parts := re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}([ T,].*)?", text):
        first, second = int(parts.group(1)), int(parts.group(2))
        order = "day first" if first > 12 else "month first" if second > 12 else "with the day or the month first"
        return f"This date is written {order}; write it year first, as YYYY-MM-DD, e.g. {example}."
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return (
            f"This looks like a spreadsheet's day number, not a date; format the column as text and write {what} "
            f"as YYYY-MM-DD, e.g. {example}."
        )
    return f"This is not a date; write {what} as YYYY-MM-DD, e.g. {example}."


def check_birth_date(value: Any, today: date | None = None) -> str:
    """A birth date of an adult, in the past. Never echoes the value."""
    born = _parse_date(value)
    if born is None:
        raise CheckError(_not_a_date(value, "the birth date"))
    today = today or date.today()
    if born >= today:
        raise CheckError("The birth date is not in the past; check the year.")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age > 120:
        raise CheckError(f"This birth date makes the investor {age} years old; check the year.")
    if age < MINIMUM_INVESTOR_AGE:
        raise CheckError(
            f"The investor must be at least {MINIMUM_INVESTOR_AGE} years old; this birth date makes them {age}."
        )
    return born.isoformat()


def registry_moment(value: Any) -> datetime | None:
    """A time the registry wrote (ISO 8601, ``Z`` or ``z`` for UTC), in UTC; one without a zone is read as UTC (the
    documentation names none). None when it is no such time."""
    try:
        moment = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", str(value).strip()))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def check_datetime(value: Any) -> str:
    """A point in time with a time zone, in ISO 8601 (``2021-03-12T07:14:13.630308+00:00``).

    A plain date (YYYY-MM-DD, or a spreadsheet's date cell read as YYYY-MM-DD 00:00:00) means noon UTC of that
    day, as forms and spreadsheets give only the day.
    """
    if isinstance(value, datetime):
        moment = value
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00(:00)?)?", _text(value)) and (day := _parse_date(value)):
        moment = datetime.combine(day, time(12), UTC)  # (with 00:00:00: a spreadsheet's date cell, a day)
    else:
        text = _text(value)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text):
                raise CheckError(_not_a_date(text[:10], "it")) from None  # a day that does not exist
            if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}([ T,].*)?|\d{5}(\.0+)?", text):  # day first, ...
                raise CheckError(_not_a_date(text, "the day", "2024-03-12")) from None
            raise CheckError(
                f"{quote(text)} is not a date; write the day as YYYY-MM-DD (e.g. 2024-03-12), or a moment with its "
                "time zone, e.g. 2024-03-12T14:30:00+01:00."
            ) from None
    if moment.tzinfo is None:
        raise CheckError("This time has no time zone; add one, e.g. +00:00 for UTC, or give the day alone.")
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # (the year 1 or 9999 moved past the calendar's end by its offset: review 91)
        raise CheckError("This time lies at the calendar's very end: check the year.") from None


CLOCK_SKEW = timedelta(minutes=5)  # this computer's clock may be a little ahead of the registry's


LATEST_ZONE = timedelta(hours=14)  # the day begins first at UTC+14: 'today' somewhere until then


EARLIEST_YEAR = "2000"  # what a registry of crypto securities records (a signing, an identification, a payment)


def check_past_datetime(value: Any, now: datetime | None = None) -> str:
    """A point in time that has happened (an identification, a signature, a payment): not in the future. A day
    given without a time that is today (somewhere on earth) means now, if noon UTC of it is still to come."""
    moment = check_datetime(value)
    written = _text(value)[:4] if re.match(r"\d{4}-", _text(value)) else moment[:4]  # (the year as written: review 91)
    if written < EARLIEST_YEAR:  # (review 88: a subscription signed in 1900 was sent)
        raise CheckError(
            f"This lies before {EARLIEST_YEAR}, before any security was registered on a blockchain: check the year."
        )
    now = now or datetime.now(UTC)
    day_only = re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00(:00)?)?", _text(value)) is not None
    if day_only and date.fromisoformat(moment[:10]) <= (now + LATEST_ZONE).date():
        return min(datetime.fromisoformat(moment), now).isoformat(timespec="microseconds")
    if datetime.fromisoformat(moment) > now + CLOCK_SKEW:
        raise CheckError("This lies in the future; it has happened already: check the day and the year.")
    return moment


def check_eth_address(value: Any) -> str:
    """An Ethereum address: 0x and 40 hex digits; mixed case must carry a valid EIP-55 checksum."""
    from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

    text = _text(value)
    if not (text.startswith("0x") and is_hex_address(text)):
        raise CheckError(f"{quote(text)} is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits.")
    digits = text[2:]
    if not digits.strip("0"):
        raise CheckError("This is the zero address, which nobody holds: units sent there are lost. Check the address.")
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(text):
        raise CheckError(
            f"'{text}' has a wrong EIP-55 checksum (a typo?); the checksummed form would be "
            f"{to_checksum_address(text)} if the digits are right."
        )
    return str(to_checksum_address(text))


THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?")  # 1,500 and 12,000,000(.00): commas that group thousands
DOTTED_THOUSANDS = re.compile(r"[1-9]\d{0,2}(\.\d{3})+")  # 1.000: a thousand in German, one in English
PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9,]*(\.[0-9]*)?", re.ASCII)


def check_units(value: Any, step_size: int = 1, minimum: int = 1) -> int:
    """A whole number of units (at least ``minimum``, a multiple of the step size). Never a float."""
    if isinstance(value, bool):
        raise CheckError("Units must be a whole number, not true/false.")
    if isinstance(value, float):
        raise CheckError(f"Units must be a whole number; {value!r} is a floating-point number.")
    if isinstance(value, int):
        units = value
    elif isinstance(value, (str, Decimal)):
        text = _text(value)
        if isinstance(value, str) and DOTTED_THOUSANDS.fullmatch(text.lstrip("+-")):
            grouped = int(text.replace(".", ""))  # (with its sign)
            if text.count(".") > 1:
                raise CheckError(
                    f"{quote(text)} groups thousands with dots; enter it without them: {grouped} or {grouped:,}."
                )
            raise CheckError(
                f"{quote(text)} can be read two ways: {grouped:,} (a dot grouping thousands, as in German) or "
                f"{Decimal(text).normalize():f} (a decimal point). Enter it without the dot: {grouped} or "
                f"{grouped:,}."
            )
        if isinstance(value, str) and not PLAIN_NUMBER.fullmatch(text):  # not 1e2, 1_000 or other digits than 0-9
            raise CheckError(f"{quote(text)} is not a number of units; enter a whole number such as 300.")
        if "," in text and not THOUSANDS.fullmatch(text.lstrip("+-")):  # 2,5 is two and a half, never 25
            raise CheckError(
                f"Units must be a whole number; {quote(text)} has a decimal comma. Enter a whole number such as 300 "
                "(1,500 is read as fifteen hundred)."
            )
        text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CheckError(f"{quote(text)} is not a number of units; enter a whole number such as 300.") from None
        if not number.is_finite():
            raise CheckError(f"{quote(text)} is not a number of units; enter a whole number such as 300.")
        if number.adjusted() > 18:
            raise CheckError(f"{quote(text)} is far more units than any product has; check the number.")
        if number != number.to_integral_value():
            raise CheckError(f"Units must be a whole number; {quote(text)} has a fraction.")
        units = int(number)
    else:
        raise CheckError(f"Units must be a whole number, not {type(value).__name__}.")
    if abs(units) > MAX_UNITS:
        raise CheckError(f"{units:,} is far more units than any product has; check the number.")
    if units < minimum:
        raise CheckError(f"Units must be at least {minimum}; got {units}. Enter {minimum} or more.")
    if step_size > 1 and units % step_size:
        lower, upper = units - units % step_size, units - units % step_size + step_size
        nearest = f"{lower} or {upper}" if lower >= max(minimum, 1) else f"{upper}"
        raise CheckError(f"Units must be a multiple of the step size {step_size}; {units} is not: enter {nearest}.")
    return units


def check_ledger_units(value: Any) -> int:
    """Units in a ledger: a whole number, zero allowed (a position fully redeemed)."""
    return check_units(value, minimum=0)


def check_email(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", text) or len(text) > 254:
        raise CheckError("This is not an e-mail address; write one such as name@example.com.")  # not repeated
    local = r'"[^"\r\n]+"|[^@\s.]+(?:\.[^@\s.]+)*'  # (a quoted part may hold any dots: RFC 5322; review 89)
    if not re.fullmatch(rf"(?:{local})@(?:[^@\s.]+\.)+[A-Za-z]{{2,}}", text):  # (review 88)
        raise CheckError(
            "This is not an e-mail address: a dot cannot begin or end the part before or after the @, nor follow "
            "another dot. Write one such as name@example.com."
        )
    return text


def check_uuid(value: Any) -> str:
    text = _text(value)
    try:
        return str(uuid.UUID(text)) if len(text) <= 45 else _bad_uuid(text)
    except ValueError:
        return _bad_uuid(text)


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is an id (a UUID), in any spelling :func:`check_uuid` accepts."""
    try:
        check_uuid(value)
    except CheckError:
        return False
    return True


def _bad_uuid(text: str) -> str:
    """Quoted when it is made of an id's characters (a shortened or mistyped id); otherwise not repeated: an
    e-mail, a name or an IBAN given where an id belongs stays out of the message."""
    like_an_id = re.fullmatch(r"[0-9A-Fa-f-]*", text) and ("-" in text or len(text) <= 12)
    number = sum(c.isdigit() for c in text) >= 6 and not re.search(r"[A-Fa-f]", text)  # a phone's, an account's
    given = quote(text) if like_an_id and not number else "What was given (not repeated here)"
    raise CheckError(f"{given} is not an id (a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6).")


def check_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in {"yes", "y", "true", "1", "ja", "x"}:
        return True
    if text in {"no", "n", "false", "0", "nein"}:
        return False
    raise CheckError(f"Must be yes or no, not {quote(value)}.")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def check_known(*known: str, what: str) -> Callable[[Any], str]:
    """Where the documentation names only some values: a known one, or another one sent with a warning."""

    def check(value: Any) -> str:
        text = check_text(value, 64).upper()
        if not re.fullmatch(r"[A-Z0-9_]+", text):
            raise CheckError(
                f"{quote(text)} is not {_article(what)} {what}; use capital letters, digits and _, e.g. {known[0]}."
            )
        if text not in known:
            warnings.warn(
                f"{text} is not {_article(what)} {what} the documentation names ({', '.join(known)}); it is sent as it "
                "is, and the registry decides.",
                UndocumentedValueWarning,
                stacklevel=2,
            )
        return text

    return check


def check_phone(value: Any) -> str:
    """A phone number in international form. Never echoes the value."""
    text = _text(value)
    if not re.fullmatch(r"\+?[0-9 ()/-]{6,25}", text):
        raise CheckError("This is not a phone number; use digits, spaces and a leading +, e.g. +49 69 1234567.")
    international = re.sub(r"\(0\)", "", text)  # '+49 (0) 69 …': the trunk 0 is not dialled with the country code
    prefix = 3 if international.startswith("011") else 2 if international.startswith("00") else 0  # (dialling prefix)
    digits = sum(c.isdigit() for c in international) - prefix
    if digits > 15:  # E.164: at most 15 digits with the country code (never echoes the value)
        raise CheckError(f"A phone number has at most 15 digits with its country code; this one has {digits}.")
    return text


def check_personal_text(max_length: int) -> Callable[[Any], str]:
    """Free text that is personal data (tax id, ID document number): checked without repeating it."""

    def check(value: Any) -> str:
        text = visible(_text(value)).strip()
        if not text:
            raise CheckError("This field may not be blank.")
        unseen = unseen_character(text)
        if unseen:
            raise CheckError(unseen)
        if len(text) > max_length:
            raise CheckError(f"Use at most {max_length} characters (this has {len(text):,}).")
        if not any(character.isalnum() for character in text):  # ('!!', '--': no number of any kind; review 71)
            raise CheckError("This has no letter or digit: copy it as it is written.")
        return text

    return check


def check_tax_id(value: Any) -> str:
    """A tax identification number: every country's has digits (a German one 11, an Italian codice fiscale 7 among
    its letters), so one without any is a placeholder ('n/a', 'none') or a slip. Never echoes the value."""
    text = check_personal_text(32)(value)
    if not any(character.isdigit() for character in text):
        raise CheckError(
            "A tax id has digits (a German one has 11); this has none. Copy it from the tax office's letter, or "
            "leave it blank if the investor has none."
        )
    return text


def _sentence(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return (text[:1].lower() + text[1:] + ".") if text else "it is malformed."


def not_us_taxable(value: Any) -> bool:
    if check_bool(value):
        raise CheckError("Persons subject to US tax cannot be onboarded as investors.")
    return False


def flatten(errors: Any, prefix: str = "") -> FieldErrors:
    """Turn the API's nested error body into dotted field errors (the inverse of :func:`models.nest_values`)."""
    flat: FieldErrors = {}
    if isinstance(errors, dict):
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
