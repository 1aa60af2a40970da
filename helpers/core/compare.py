"""How the registry's values compare with what was given: whether a write would change anything, which of its
fields differ, and what a duplicate check counts as the same. The registry normalises some values (case of codes and
e-mails, spaces in numbers, a phone's spacing, a postcode kept as a number): they count as the same here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from helpers.core import api, models

PHONE_FIELDS = frozenset({"phone", *(alias for alias, name in models.ALIASES.items() if name == "phone")})
COMPACT_FIELDS = frozenset({"tax_identification_number", "document_id", "registration_number", "zip"})  # spaces
CODE_FIELDS = frozenset({"country", "citizenship", "bic", "salutation", "currency"})  # the registry upper-cases


def subset_equal(wanted: Any, have: Any, field: str = "") -> bool:
    """True when every field of ``wanted`` has the same value in ``have`` (fields the registry adds are ignored)."""
    if isinstance(wanted, Mapping):
        return isinstance(have, Mapping) and all(subset_equal(v, have.get(k), k) for k, v in wanted.items())
    if isinstance(wanted, str) and isinstance(have, int | float) and not isinstance(have, bool):
        return same_number(wanted, have)  # a postcode kept as a number
    if isinstance(wanted, str) and isinstance(have, str):
        if field in PHONE_FIELDS:
            return phone_digits(wanted) == phone_digits(have)
        mine, theirs = (unicodedata.normalize("NFC", text.replace(" ", "")).casefold() for text in (wanted, have))
        return mine == theirs
    return bool(wanted == have)


def same_number(wanted: str, have: float) -> bool:
    """Whether text and the number a registry keeps for it are the same ('01067' and 1067, '60311' and 60311.0)."""
    digits = wanted.strip()
    if not digits.isascii() or not digits.isdigit():
        return False
    return float(have).is_integer() and int(digits) == int(have)


def phone_digits(phone: str) -> str:
    """A phone number as its digits and a leading +: '+49 (69) 123-4' is '+49691234', and the trunk zero written
    after a country code ('+49 (0)69 …', as is usual in Germany) is left out."""
    digits = re.sub(r"[^0-9+]", "", re.sub(r"^(\+\d{1,3})\s*\(0\)", r"\1", phone.strip()))
    return "+" + digits[2:] if digits.startswith("00") else digits  # 0049 is +49


def subset_same(wanted: Any, have: Any, field: str = "", *, kept_only: bool = False) -> bool:
    """Like :func:`subset_equal`, but exact, as an update must be (a capital letter in a name is a change); only
    surrounding spaces, how Unicode composes a letter ('ö' as one character or two), a number kept as a number,
    an IBAN's spaces, a phone number's spacing ('+49 69 123' is '+4969123') and the case of an
    e-mail or a code (country, BIC) do not count, as the registry normalises them or they say the same.
    ``kept_only``: a field the registry does not keep (absent from ``have``) is ignored."""
    if isinstance(wanted, Mapping):
        return isinstance(have, Mapping) and all(
            (kept_only and k not in have) or subset_same(v, have.get(k), k, kept_only=kept_only)
            for k, v in wanted.items()
        )
    if isinstance(wanted, list) and isinstance(have, list):  # items the registry adds fields to are the same
        return len(wanted) == len(have) and all(
            subset_same(mine, theirs, field, kept_only=kept_only) for mine, theirs in zip(wanted, have, strict=True)
        )
    numbers = isinstance(wanted, int | float | str) and isinstance(have, int | float | str)
    if numbers and not isinstance(wanted, bool) and not isinstance(have, bool) and not isinstance(wanted, type(have)):
        given, kept = api.whole_number(wanted), api.whole_number(have)  # '50', 50, '50.0', 50.0, '01067' and 1067
        if given is not None and kept is not None:
            return given == kept
    if isinstance(wanted, str) and isinstance(have, int | float) and not isinstance(have, bool):
        return same_number(wanted, have)  # a registry that keeps a postcode as a number: '01067' is 1067
    if isinstance(wanted, str) and isinstance(have, str):
        mine, theirs = (re.sub(r"\s+", " ", unicodedata.normalize("NFC", text.strip())) for text in (wanted, have))
        if field in COMPACT_FIELDS:  # a number the registry may keep without its spaces
            mine, theirs = mine.replace(" ", ""), theirs.replace(" ", "")
        if field == "iban":
            mine, theirs = mine.replace(" ", ""), theirs.replace(" ", "")
        if field in PHONE_FIELDS:
            mine, theirs = phone_digits(mine), phone_digits(theirs)
        if field == "bic":  # an 11-character BIC ending XXX is its 8-character head office
            mine, theirs = (re.sub(r"(?i)^(.{8})XXX$", r"\1", text.replace(" ", "")) for text in (mine, theirs))
        if field in CODE_FIELDS or field in ("iban", "email"):
            return mine.casefold() == theirs.casefold()
        return mine == theirs
    return bool(wanted == have)


def changed_fields(
    wanted: Mapping[str, Any], have: Mapping[str, Any], prefix: str = "", *, unseen: bool = True
) -> list[str]:
    """The paths of ``wanted``'s fields whose value ``have`` does not have (as :func:`subset_same` compares):
    what an update would change, or what a write kept as the registry has it did not apply. A field the registry's
    object leaves out inside a part it shows is not counted (it may not keep it); a part it leaves out entirely
    (``tax_information``) counts as its fields, which cannot be seen to be the same (``unseen=False``: not counted
    either, where only what is seen to differ may be named). Values are never returned."""
    paths: list[str] = []
    for key, value in wanted.items():
        path = f"{prefix}{key}"
        theirs = have.get(key) if isinstance(have, Mapping) else None
        if isinstance(value, Mapping):
            if isinstance(theirs, Mapping):
                paths += changed_fields(value, theirs, path + ".", unseen=unseen)
            elif unseen:  # the part is not shown at all: what was given in it cannot be seen to be the same
                paths += [f"{path}.{name}" for name, item in value.items() if item not in (None, "", False)]
        elif value not in (None, "") and key in have and not subset_same(value, theirs, key):
            paths.append(path)
    return paths
