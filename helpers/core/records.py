"""API objects as :class:`Record` (a dict) that never shows personal data unmasked, and what a write did.

Personal fields are those the models mark ``personal`` (IBAN, birth date, tax id, phone, ID document number, the
provider's process id); their values are masked in ``repr()``, ``str()`` and the notebook display. Fields that name a
person (``identifying``: names, e-mail, street, birth place) show on the notebook display, a screen for a person, and
are masked in ``repr()`` and ``str()``, which end up in logs and tracebacks. The dict itself keeps the real values for
code that needs them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

from helpers.core.api import UNIT_FIELDS, in_words, whole_number
from helpers.core.errors import (
    REGISTRY_ID,
    ValidationError,
    _value_pattern,
    holds_someones_data,
    personal_values,
    scrubbed,
    without_name_runs,
)
from helpers.core.models import (
    CHOICE_LABELS,
    INVESTOR_NAMING_FIELDS,
    MASKED_AS,
    is_identifying,
    is_known,
    is_personal,
    label,
)
from helpers.saving import PERSONAL

MASK = "•"
Outcome = Literal["created", "updated", "existed", "replayed"]


def mask(value: Any, field: str) -> Any:
    """Hide most of a personal value, keeping enough to recognise it (the last characters)."""
    if value is None or value == "" or value != value:  # noqa: PLR0124 - value != value is NaN
        return value
    text = str(value)
    style = MASKED_AS.get(field, "end")  # as the model says (a registry's date_of_birth as a birth date)
    if style == "iban":
        return f"{text[:4]} {MASK * 4} {text[-4:]}" if len(text) > 8 else MASK * 4
    if style == "whole":
        return re.sub(r"[^-]", MASK, text) if re.fullmatch(r"[\d-]+", text) else MASK * 4
    return MASK * max(len(text) - 3, 3) + text[-3:] if len(text) > 6 else MASK * 4


CHOICE_FIELDS = frozenset({"salutation", "document_type", "identity_provider"})  # whose codes have labels


def masked(value: Any, path: str = "", *, identifying: bool = False) -> Any:
    """A copy of an API object with every personal field masked (nested objects and lists included); with
    ``identifying``, also what names a person (names, e-mail, address): for text that may end up in a log. What
    those fields hold is masked in the object's other text too (a payment reference 'Peter Parker 2000-08-10'),
    and with ``identifying`` so are e-mail addresses and IBANs anywhere."""
    values = personal_values(value, identifying=identifying) if isinstance(value, Mapping) and not path else set()
    return _masked(value, path, identifying, frozenset(values))


def _masked(value: Any, path: str, identifying: bool, values: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _masked(item, f"{path}.{key}" if path else str(key), identifying, values)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item, path, identifying, values) for item in value]
    if path and identifying and is_identifying(path) and value not in (None, ""):
        return MASK * 4  # a name or an e-mail: nothing of it (a suffix would help guess it)
    if path and is_personal(path):
        return mask(value, path.rsplit(".", 1)[-1])
    if not is_free_text(path, value):
        return value
    return free_text_masked(value, values, identifying=identifying, field=path)


REGISTRY_VALUE = re.compile(  # what the registry itself writes in a field: an id, a time, a date, a number
    rf"{REGISTRY_ID.pattern}"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9:.,]+)?(?:Z|[+-][0-9:]+)?"
    r"|[+-]?[0-9.,]+"
)


def is_free_text(path: str, value: Any) -> bool:
    """A text the models do not describe (a payment reference, a note), where a person's data may be written:
    not a field they know (a city, a status), nor an id, a time or a number of the registry."""
    if not isinstance(value, str) or len(value) < 3 or not path:
        return False
    leaf = path.rsplit(".", 1)[-1]
    if leaf == "id" or leaf.endswith(("_id", "_at", "_date")) or is_known(path):
        return False
    return not REGISTRY_VALUE.fullmatch(value.strip())


# a product's or campaign's own name or description: no one's
OBJECT_NAMES = frozenset({"name", "title", "description", "product_name", "campaign_name"})


def free_text_masked(text: str, values: frozenset[str], *, identifying: bool = False, field: str = "") -> str:
    """A free text of a record (a payment reference, a note, a task's error) without a person's data: what the
    record's personal fields hold, e-mail addresses, IBANs, dates in numbers and phone or account numbers (the
    registry's ids and moments kept); with ``identifying`` (a repr, a card kept in a widget's state), also what
    may be a name (but in a product's or campaign's own name or description, unless it holds someone's data). The
    record need not hold a person: an investment's reference may name one."""
    names = identifying and (field.rsplit(".", 1)[-1] not in OBJECT_NAMES or holds_someones_data(text))
    text = scrubbed(_without_words(text, values))  # (dates, phones and names too, where it holds someone's data)
    return without_name_runs(text) if names else text


def _without_words(text: str, values: frozenset[str]) -> str:
    """``text`` with each of ``values`` masked where it stands as a word of its own ('Ada' in 'Ada Lovelace', not
    in '3f2ada10' or 'Canada')."""
    for value in sorted(values, key=len, reverse=True):
        number = sum(c.isdigit() for c in value) >= 6  # an account's number: also with its leading zeros written
        found = rf"(?<!\w)0*{_value_pattern(value)}(?!\w)" if number else rf"(?<!\w){_value_pattern(value)}(?!\w)"
        text = re.sub(found, MASK * 4, text, flags=re.IGNORECASE)
    return text


def is_money(value: Any) -> bool:
    """A Money object: an amount, its decimals and its currency (and perhaps more a registry says of it)."""
    return isinstance(value, dict) and "amount" in value and "decimals" in value and "currency" in value


WHOLE_AMOUNT = re.compile(r"[+-]?[0-9]+", re.ASCII)
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # scaling by a power of ten never rounds in it


def money_value(value: Mapping[str, Any]) -> Decimal:
    """The exact value of a Money object: ``Decimal(amount) * 10**-decimals``, at any size (no rounding to a
    context's 28 digits). An amount that is no finite number, or decimals that are no whole number, are an error."""
    raw_amount, raw_decimals = value.get("amount"), value.get("decimals")
    decimals = whole_number(raw_decimals) if not isinstance(raw_decimals, bool) else None
    # An amount is a whole number of the smallest unit, written as one: "30000.00" with 2 decimals may be 300.00
    # (cents written with a point) or 30,000.00 (euros). A JSON number is whole below 2**53 (1000000.0: a count
    # that a float carried); beyond, it may have lost digits. Only where no decimals scale it ("5.0" with 0
    # decimals, "12.5" or 12.5) is a number with a point still one reading.
    lossy = isinstance(raw_amount, float) and abs(raw_amount) >= 2**53
    whole_float = isinstance(raw_amount, float) and raw_amount.is_integer() and not lossy
    try:
        if isinstance(raw_amount, float) and whole_float:
            amount = Decimal(int(raw_amount))  # 3000000.0: the count a float carried (not 3000000.0 to one place)
        else:
            amount = Decimal(str(raw_amount).strip()) if len(str(raw_amount)) <= 100 else Decimal("NaN")
    except InvalidOperation:
        amount = Decimal("NaN")
    written_whole = (
        whole_float
        or type(raw_amount) is int
        or (isinstance(raw_amount, str) and WHOLE_AMOUNT.fullmatch(raw_amount.strip()) is not None)
    )
    if (
        decimals is None
        or not 0 <= decimals <= 36
        or not amount.is_finite()
        or not (written_whole or (decimals == 0 and not lossy))
    ):
        if decimals is None or not 0 <= decimals <= 36 or not amount.is_finite():
            why = "an amount is a whole number, and its decimals a whole number from 0 to 36"
        elif lossy:
            why = "a JSON number this large may have lost digits on the way (amounts are sent as text)"
        else:
            why = (
                "an amount counts the currency's smallest unit in whole numbers, so a point in it can be read two ways"
            )
        raise ValidationError(
            f"The registry's amount {str(raw_amount)[:40]!r} with {str(raw_decimals)[:20]!r} decimals is not an "
            f"exact amount: {why}. Nothing was read as money. Run client.check_api() and report the table to the team."
        )
    return amount.scaleb(-decimals, EXACT)


def format_money(value: Mapping[str, Any]) -> str:
    """``{"amount": "4000000", "decimals": 3, "currency": "EUR"}`` -> ``EUR 4,000.00`` (exact; as many decimals as
    the currency is written with, JPY none, more only where they are not zero). An amount that is not exact is shown
    as the registry sent it, and says so."""
    try:
        amount = money_value(value)
    except ValidationError:
        return (
            f"{value.get('currency')} {str(value.get('amount'))[:40]} (not an exact amount: decimals "
            f"{str(value.get('decimals'))[:20]})"
        )
    currency = str(value.get("currency"))
    minor = amount.quantize(Decimal(1).scaleb(-minor_units(currency)), context=EXACT)  # (no rounding at 28 digits)
    return f"{currency} {minor if minor == amount else amount:,}"


@cache
def minor_units(currency: str) -> int:
    """The decimals a currency is written with (ISO 4217, from CLDR: EUR 2, JPY 0, BHD 3); 2 for a code CLDR does not
    know. Babel is imported here, on the first amount shown, not with the package."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency.upper()))


def _when(text: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    if moment.utcoffset() is None:
        return f"{moment:%Y-%m-%d %H:%M}"
    moment = moment.astimezone(UTC)  # (said as UTC: a Berlin time is converted, not labelled)
    if moment.time() == time(12):
        return f"{moment:%Y-%m-%d}"  # a day given without a time (the toolkit sends such a day as noon UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _names_hidden() -> bool:
    return False


# Whether a record's display may show names, e-mail and address: to a person at a screen, not in a file a program
# writes. Told by the data layer (helpers.data.people, which reads the kernel's state); masked until then.
names_shown: Callable[[], bool] = _names_hidden


class Record(dict[str, Any]):
    """An API object (a plain dict) that shows itself masked, and says what a write did (:attr:`outcome`)."""

    outcome: Outcome | None = None  # set on the result of a write
    what: str = "object"  # e.g. "investor", for sentences
    checked: bool = True  # False: an object the journal says exists, which this client could not read
    not_applied: tuple[str, ...] = ()  # labels of fields given that the existing object has otherwise (not sent)
    retry_of: str | None = None  # the id of the failed task this one is a new attempt at (a retried redemption)
    shows: str | None = None  # the object this record is, where the write made another (a credit: the investment)

    @property
    def id(self) -> str:
        return str(self["id"])

    def told_as(self, write: Record) -> Record:
        """This later reading of the object a write made (a task waited for) says what that write did, as the write's
        own record did: its outcome and what was given and not applied (review 85: a redemption used with other units
        said only 'Already existed' once waited for)."""
        self.outcome, self.what, self.not_applied, self.checked = write.outcome, write.what, write.not_applied, True
        return self

    @property
    def replayed(self) -> bool:
        """True when nothing new was created: the object already existed or the registry replayed the answer."""
        return self.outcome in ("existed", "replayed")

    def happened(self, short_id: bool = False) -> str:
        """What the write did, in one sentence, from the registry's answer. ``short_id``: the id's first characters
        (a screen, whose card below shows it whole)."""
        ident = f"id {str(self.get('id'))[:8] if short_id else self.get('id')}"
        created = f"created on {_when(self['created_at'])}, " if self.get("created_at") else ""
        if self.retry_of:  # (the failed one's id whole, as the form's retry names it)
            ident += f", a new attempt at the failed {self.what} {self.retry_of}"
        said = ident  # (what follows the 'what': 'credit of investment id …')
        if self.shows:  # another object than the write made: its id and time of making are not the write's (review 85)
            created, ident = "", f"{self.shows} {ident}"
        if self.outcome == "existed":
            change = (  # (only an investor is updated; an investment's or a task's units stay: review 85)
                "update it to change that" if self.what == "investor" else "the registry's stays as it is"
            )
            differs = (
                f" What was given differs from it in {', '.join(dict.fromkeys(self.not_applied))}, which was not "
                f"applied: {change}."
                if self.not_applied
                else ""
            )
            if self.shows:  # (review 87: 'Already existed' read as of the investment)
                return f"Already existed: the {self.what} was sent before ({ident}); nothing new was sent."
            return f"Already existed ({created}{ident}): nothing new was sent.{differs}"
        if self.outcome == "replayed":
            return (
                f"Replayed by the registry: this operation was already done ({created}{ident}); nothing new "
                "was created."
            )
        if self.outcome == "created":
            return f"Created now: {self.what} {said}."
        if self.outcome == "updated":
            return f"Updated now: {self.what} {said}."
        return f"The {self.what} as the registry has it ({said})."

    def masked(self) -> dict[str, Any]:
        return masked(dict(self))

    def __repr__(self) -> str:  # names and e-mails too: a repr ends up in logs and tracebacks
        return f"Record({masked(dict(self), identifying=True)!r})"

    __str__ = __repr__

    def rows(self, mask_identifying: bool = False) -> list[tuple[str, str]]:
        """(label, value) pairs for people: nested objects flattened, money formatted, personal data masked, empty
        values left out. ``mask_identifying``: names, e-mail and address too (a card kept in a widget's state)."""
        result: list[tuple[str, str]] = []
        paths: list[str] = []  # each row's field, for the order: the name first (review 92: a card began with its id)
        first = [path for path in INVESTOR_NAMING_FIELDS if not path.startswith("communication.")]
        first += [path.rsplit(".", 1)[-1] for path in first]  # (a benefiting person's own forename: review 95)

        def add(path: str, shown: str) -> None:
            result.append((label(path), shown))
            paths.append(path)

        def walk(value: Any, path: str) -> None:
            if is_money(value):
                add(path, format_money(value))
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    walk(item, f"{path}.{key}" if path else str(key))
            elif isinstance(value, list):
                if value:
                    add(path, f"{len(value)} item{'s' if len(value) != 1 else ''}")
            elif value not in (None, ""):
                leaf = path.rsplit(".", 1)[-1]
                shown = mask(value, leaf) if is_personal(path) else value
                if mask_identifying and is_identifying(path):
                    shown = MASK * 4
                if isinstance(shown, bool):
                    shown = "yes" if shown else "no"
                elif leaf.endswith("_at"):
                    shown = _when(shown)
                elif isinstance(shown, int) and leaf in UNIT_FIELDS:
                    shown = f"{shown:,}"  # 1,500 units, as the forms say
                elif isinstance(shown, str) and leaf in CHOICE_FIELDS and shown in CHOICE_LABELS:
                    shown = CHOICE_LABELS[shown]  # ID card, not IDCARD (a surname 'MR' stays MR)
                elif isinstance(shown, str):
                    shown = in_words(leaf, shown)  # Waiting for acceptance, not WAITING_FOR_ACCEPTANCE
                    if is_free_text(path, shown):  # its free text ('Peter Parker 2000-08-10')
                        shown = free_text_masked(shown, values, identifying=mask_identifying, field=path)
                add(path, str(shown))

        values = frozenset(personal_values(dict(self), identifying=mask_identifying))
        walk(dict(self), "")
        names = [first.index(path) if path in first else len(first) for path in paths]  # (by path, not by label)
        return [row for _place, row in sorted(zip(names, result, strict=True), key=lambda pair: pair[0])]

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:  # (in a list or a dict too, whose output is not
        printer.text(self._text(self.rows(mask_identifying=True)))  # marked as naming people: names masked; review 87)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        """A card for a notebook: names, e-mail and address shown to a person at a screen only (masked in a file a
        program writes: :data:`names_shown`), and marked as naming people, so that a notebook is saved without it
        (``helpers.saving``); personal values (birth date, IBAN, tax id) masked always."""
        rows = self.rows(mask_identifying=not names_shown())
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for name, value in rows
        )
        caption = html.escape(self.happened(short_id=True))
        card = f"<table class='cl-record'><caption style='text-align:left'>{caption}</caption>{cells}</table>"
        return {"text/plain": self._text(rows), "text/html": card}, {PERSONAL: True}

    @staticmethod
    def _text(rows: list[tuple[str, str]]) -> str:
        width = max((len(name) for name, _value in rows), default=0)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


class Records(list[Record]):
    """Objects of a list, as a list for code; shown in a notebook as their cards, one after another (review 92: a
    Python list's brackets and commas)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        if not self:
            return {"text/plain": "No objects."}, {}
        cards = [record._repr_mimebundle_()[0] for record in self]
        texts, pages = [card["text/plain"] for card in cards], [card["text/html"] for card in cards]
        return {"text/plain": "\n\n".join(texts), "text/html": "".join(pages)}, {PERSONAL: True}


BADGE_COLOURS = {"sandbox": "#2e7d32", "demo": "#b26a00", "production": "#b00020"}


def badge_text(client: Any) -> str:
    """Which registry writes go to, in two words: ``SANDBOX · 127.0.0.1:8765``, ``PRODUCTION · connect.cashlink.de``
    (the port where the address gives one: two sandboxes on one machine are told apart; review 71). ``client``: a
    :class:`~helpers.core.client.Client` (its ``environment``: a registry on this machine that does not answer as
    the sandbox is production's)."""
    return f"{str(client.environment).upper()} · {urlsplit(client.config.root_url).netloc.rpartition('@')[2]}"


def html_badge(client: Any) -> str:
    """The registry as a coloured mark, shown wherever a write can start."""
    environment = str(client.environment)
    colour = BADGE_COLOURS.get(environment, "#555")
    return (
        f"<span class='cl-badge cl-badge-{html.escape(environment)}' style='background:{colour};"
        f"color:white;border-radius:4px;padding:2px 8px;font-weight:bold;font-size:0.85em'>"
        f"{html.escape(badge_text(client))}</span>"
    )
