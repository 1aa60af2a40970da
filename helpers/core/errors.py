"""Typed errors whose messages read as sentences and say what to do next; field errors show as a table.

The hierarchy follows stripe-python's::

    CashlinkError
    ├── ValidationError            400/422 from the registry, with field errors
    │   └── InputError             refused locally, before anything was sent
    ├── AuthenticationError        401: wrong client id/secret or token
    ├── PermissionDeniedError      403: a scope is missing
    ├── NotFoundError              404
    │   └── NotListed              a list the registry does not offer (404 or 405 to its first page)
    ├── ConflictError              409, and an idempotency key reused with different data
    │   └── OutcomeUnknown         whether a write was done is unknown, and nothing more was sent
    ├── PossibleDuplicate          the registry already has an equal or near-equal object: asked before sending
    ├── RateLimitError             429 after the retries ran out
    ├── ServerError                5xx after the retries ran out
    ├── APIConnectionError         no answer at all (network) after the retries ran out
    ├── ConfigurationError         settings that cannot work (e.g. a secret over plain HTTP)
    ├── JournalError               the local journal cannot be read
    └── TaskError                  a credit/redemption/transfer that failed, is unknown, or did not finish in time

Every error keeps the HTTP status, the registry's request id (when it sends one) and the time: :meth:`support`.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from helpers.core.checks import FieldErrors, flatten

if TYPE_CHECKING:
    from helpers.core.records import Record

LONG_TOKEN = re.compile(r"\S{61,}")
SANDBOX_NOTE = re.compile(r"\s*\((?:sandbox|set by) [^)]*\)")  # "(sandbox: set by task_outcome)" and the like


def without_sandbox_notes(text: str) -> str:
    """``text`` without the sandbox's notes in brackets, which mean nothing to an analyst."""
    return SANDBOX_NOTE.sub("", text)


def shorten_quoted(text: str) -> str:
    """Shorten what a message quotes (any run of more than 60 characters without a space), never the sentence."""
    return LONG_TOKEN.sub(lambda m: f"{m.group(0)[:40]}…({len(m.group(0)):,} characters)", text)


MASK = "••••"
REGISTRY_MAIL = re.compile(r"@(?:[\w-]+\.)*cashlink\.(?:de|io|com)$", re.IGNORECASE)  # its support: said to write to
EMAIL = re.compile(r"[^\s'\"<>@,;:()\[\]]+@[^\s'\"<>@,;:()\[\]]+\.[A-Za-z]{2,}")


def _numbers(digits: int) -> re.Pattern[str]:
    """What in a message may be a person's number: a date in numbers (not a moment: '2024-03-05T10:15' is when
    something happened), or a run of at least ``digits`` digits, however separated (a phone or an account number)."""
    return re.compile(rf"\b\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}}\b(?!T\d)|\+?\d(?:[\s./()-]*\d){{{digits - 1},}}")


PERSONAL_NUMBER = _numbers(6)  # in a personal field's own message
SEPARATORS = " -\t\u00a0\u2007\u2009\u202f"  # a space (also a tab, a no-break, figure or thin one) or a dash
REGISTRY_ID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")  # a UUID
IBAN_START = re.compile(rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}[0-9]{{2}}(?=[{re.escape(SEPARATORS)}]?[A-Za-z0-9])")
QUOTED = re.compile(r"(['\"‘“])([^'\"‘“’”]+)(['\"’”])")
HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def personal_values(sent: Any, path: str = "", *, identifying: bool = True) -> set[str]:
    """The values of a request body's personal and identifying fields (an IBAN, a birth date, a name, an e-mail):
    what an error message must not repeat, whatever the registry quotes of them. ``identifying=False``: of its
    personal fields only (not names, e-mail, address)."""
    from helpers.core.models import is_identifying, is_personal

    if isinstance(sent, dict):
        return {
            value
            for key, item in sent.items()
            for value in personal_values(item, f"{path}.{key}" if path else str(key), identifying=identifying)
        }
    if isinstance(sent, list):
        return {value for item in sent for value in personal_values(item, path, identifying=identifying)}
    if path and isinstance(sent, str | int) and (is_personal(path) or (identifying and is_identifying(path))):
        text = str(sent).strip()
        return _notations(path, text) if len(text) >= 3 else set()
    return set()


MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "short": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "kurz": "Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez",
}


def _notations(path: str, text: str) -> set[str]:
    """A personal value as a registry may quote it otherwise: a date in other notations, a phone number or an
    IBAN's account number on its own (digits match whatever separates them: see :func:`scrubbed`)."""
    found = {text}
    day = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if day:
        year, month, number = day.groups()
        d, m = int(number), int(month)
        found |= {f"{number}.{month}.{year}", f"{d}.{m}.{year}", f"{number}/{month}/{year}", f"{month}/{number}/{year}"}
        found |= {f"{number}.{month}.{year[2:]}", f"{number}/{month}/{year[2:]}", f"{month}/{number}/{year[2:]}"}
        found |= {f"{year}{month}{number}", f"{number}-{month}-{year}", f"{year}-{m}-{d}", f"{m}/{d}/{year}"}
        found |= {f"{d}.{m}.{year[2:]}", f"{d}/{m}/{year}", f"{d}/{m}/{year[2:]}", f"{m}/{d}/{year[2:]}"}
        ordinal = f"{d}{'th' if 10 <= d % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"
        for names in MONTHS.values():
            name = names.split()[m - 1]
            found |= {f"{d} {name} {year}", f"{d}. {name} {year}", f"{name} {d}, {year}", f"{name} {d} {year}"}
            found |= {f"{number} {name} {year}", f"{d}-{name}-{year}", f"{d} {name}. {year}", f"{d}. {name}. {year}"}
            found |= {f"{d} {name}, {year}", f"{ordinal} {name} {year}", f"{ordinal} of {name} {year}"}
            found |= {f"{name} {ordinal}, {year}", f"{name} {ordinal} {year}"}
    from helpers.core.models import ALIASES

    leaf = path.rsplit(".", 1)[-1]
    leaf = ALIASES.get(leaf, leaf)
    dialled = re.sub(r"^\s*(\+\d{1,3})\s*\(0\)", r"\1", text)  # '+49 (0)69 …' is '+49 69 …'
    digits = re.sub(r"\D", "", dialled)
    if leaf == "phone" and len(digits) >= 6:
        national = digits.lstrip("0")  # '069 …' is '69 …' after '+49'
        found |= {digits, national}
        if text.strip().startswith(("+", "00")):  # with its country code: the national number after it too
            found |= {national[1:], national[2:], national[3:]}
        groups = re.findall(r"\d+", dialled)
        if len(groups) > 2:  # the subscriber's number without the codes before it ('456 789' of '+49 123 456 789')
            found.add("".join(groups[2:]))
        elif len(groups) == 2 and len(groups[1]) >= 6:
            found.add(groups[1])
    if leaf == "iban" and len(digits) >= 10:
        found.add(re.sub(r"\s", "", text)[4:])  # the account's own number (the IBAN after its check digits)
        found.add(digits[-10:].lstrip("0") or digits[-10:])
    return {value for value in found if len(re.sub(r"\W", "", value)) >= 5 or value == text}


def _value_pattern(value: str) -> str:
    """A value as a pattern: one of mostly digits (a phone number, an account number) matches with any spaces,
    dots, dashes, slashes or brackets between its digits, as a registry may write it."""
    if re.fullmatch(r"[\d./ -]+", value) and re.search(r"\d[./-]\d{1,2}[./-]\d", value):
        return re.escape(value)  # a date (10.8.2000) as written: its digits with others between are an amount
    if sum(c.isdigit() for c in value) >= 6 and sum(c.isalpha() for c in value) <= 2:
        return r"[\s./()-]*".join(re.escape(c) for c in re.sub(r"[\s./()-]", "", value))
    return re.escape(value)


def without_values(text: str, values: set[str] | frozenset[str]) -> str:
    """``text`` with each of ``values`` (see :func:`personal_values`) masked, in whatever notation it is quoted."""
    for value in sorted(values, key=len, reverse=True):
        text = re.sub(_value_pattern(value), MASK, text, flags=re.IGNORECASE)
    return text


def scrubbed(text: str, path: str = "", values: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` of the registry (a field's message, its sentence) without a person's data in it: the values this
    request sent in personal fields, e-mail addresses and IBANs wherever they are, and what a personal field's
    message quotes. A personal field's message, an identifying field's (a name, an address) and any message that holds
    someone's data (a birth date, a phone number, an e-mail, an IBAN: 'exists: Ada Lovelace, born 10.12.1985') also
    lose what may be a name, and their numbers where they may be a person's; the registry's ids, moments and own
    dates stay whole."""
    from helpers.core.models import is_identifying, is_personal

    personal_field = bool(path) and is_personal(path)
    # a name's or an address's field may quote another person's; any message may hold someone's data (review 86: a
    # sentence under 'non_field_errors' or 'investor_id' kept the name and birth date masked under 'detail')
    someones = personal_field or (bool(path) and is_identifying(path)) or holds_someones_data(text)
    text = without_values(text, values)
    text = _without_ibans(text)
    if personal_field:  # a personal field's own message: any number in it may be (part of) the value
        text = without_numbers(text, PERSONAL_NUMBER)
    elif someones:
        text = without_dates_and_phones(text)
    if someones:
        text = without_name_runs(text)
    text = EMAIL.sub(lambda m: m.group(0) if REGISTRY_MAIL.search(m.group(0)) else f"{MASK}@{MASK}", text)
    if path and (is_personal(path) or is_identifying(path)):
        text = QUOTED.sub(
            lambda match: (
                match.group(0) if FORMAT_HINT.fullmatch(match.group(2)) else f"{match.group(1)}{MASK}{match.group(3)}"
            ),
            text,
        )
    return text


WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*(?![\w])")  # letters only: 'DE000A1EWWW0' is none
_COMMON = (  # capitalised in a registry's sentence, but no one's name ('Please Contact Support')
    "a an and the of for to in on at by from with without not no is are was be please contact support limit "
    "exceeded error failed failure transfer transfers allowed insufficient balance wallet wallets smart contract "
    "reverted target source account invalid unknown internal server request denied blocked frozen redemption "
    "investor investment credit task ledger blockchain token tokens units amount address network timeout retry "
    "later again rejected refused not-allowed receiving enabled disabled issuer product campaign cashlink studio "
    "gmbh ag kg se ltd inc llc bank"
)
COMMON_WORDS = frozenset(_COMMON.split())
NAME_LINKS = frozenset({"von", "van", "de", "der", "den", "zu", "da", "di", "del", "la", "le", "du", "al", "bin"})


def _names_in(text: str) -> list[tuple[int, int]]:
    """Where ``text`` may name a person: runs of two or more capitalised words, in any alphabet ('Łukasz Żółć',
    'Jean-Luc Picard', 'MÜLLER, Hans', 'Anna von Berg'), as (start, end)."""
    words = list(WORD.finditer(text))
    runs: list[tuple[int, int]] = []
    start = end = None
    count = 0
    for word in words:
        gap = text[end : word.start()] if end is not None else ""
        joined = end is not None and re.fullmatch(r",?\s+", gap) is not None
        capital = word.group(0)[0].isupper() and word.group(0).casefold() not in COMMON_WORDS
        link = word.group(0) in NAME_LINKS and joined
        if (capital or link) and (joined or start is None):
            start = word.start() if start is None else start
            end, count = word.end(), count + (1 if capital else 0)
            continue
        if start is not None and count >= 2:
            runs.append((start, end or start))
        start, end, count = (word.start(), word.end(), 1) if capital else (None, None, 0)
    if start is not None and count >= 2:
        runs.append((start, end or start))
    return runs


MOMENT = re.compile(  # a moment (when something failed) or a wallet's address: no one's, kept whole
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b\d{1,2}\.\d{1,2}\.\d{4},? \d{1,2}:\d{2}(?::\d{2})?"
    r"|\b0x[0-9a-fA-F]{40}\b"
)
SOMEONES_NUMBER = _numbers(8)  # in a reason of someone unknown: six digits there are an amount


def without_numbers(text: str, numbers: re.Pattern[str] = SOMEONES_NUMBER) -> str:
    """``text`` with what ``numbers`` finds (dates in numbers, long runs of digits) masked, but the registry's ids,
    moments and wallet addresses kept whole: they are no one's."""
    kept_or_masked = re.compile(f"({REGISTRY_ID.pattern}|{MOMENT.pattern})|{numbers.pattern}")
    return kept_or_masked.sub(lambda found: found.group(1) or MASK, text)


MONTH_NAMES = (  # English and German, full or short: '10 Dec 1985', 'December 10, 1985', '10. Dezember 1985'
    r"(?:jan(?:uary|uar)?|feb(?:ruary|ruar)?|m(?:ar(?:ch)?|ärz|aerz)|apr(?:il)?|ma[iy]|june?|juni|july?|juli|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?)\.?"
)
PERSONS_NUMBER = re.compile(  # what may be a person's number in a sentence: a date (its year checked below) or a
    r"(?<![\w.+-])(?:"  # phone number, with its + or its leading 0; never a part of a longer token (an order number)
    r"(?P<d1>\d{1,2})[./-](?P<m1>\d{1,2})[./-](?P<y1>\d{4}|\d{2})"
    r"|(?P<y2>\d{4})[-/.](?P<m2>[01]\d)[-/.](?P<d2>[0-3]\d)"
    r"(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"  # (with a time: a moment of that day)
    rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?[.\s-]*{MONTH_NAMES}[\s-]+(?P<y3>\d{{4}})"  # '10th December 1985'
    rf"|{MONTH_NAMES}\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})"
    r"|(?P<phone>\+\d(?:[\s./()-]*\d){7,}|0\d(?:[\s./()-]*\d){7,})"  # (a national number: 9 digits or more)
    r")(?![\w-]|[./]\d)",
    re.IGNORECASE,
)
ADULT_YEARS = 14  # a date at least this many years ago may be a person's birth date; a later one is the registry's


def _someones_number(found: re.Match[str]) -> bool:
    """Whether a :data:`PERSONS_NUMBER` match may be a person's: a phone number, or a date old enough to be a birth
    date (a closing date, a deadline or a moment of the registry's is recent or to come)."""
    if found.group("phone"):
        return True
    year = next(int(found.group(name)) for name in ("y1", "y2", "y3", "y4") if found.group(name))
    if year < 100:  # a two-digit year: the century that makes it not later than next year
        year += 1900 if year > datetime.now(UTC).year % 100 + 1 else 2000
    return year <= datetime.now(UTC).year - ADULT_YEARS


def without_dates_and_phones(text: str) -> str:
    """``text`` without what may be a person's number: a phone number, or a date old enough to be a birth date (the
    registry's own dates, ids, order numbers and moments are kept)."""
    return PERSONS_NUMBER.sub(lambda found: MASK if _someones_number(found) else found.group(0), text)


def without_name_runs(text: str) -> str:
    """``text`` with what may name a person (runs of capitalised words) masked."""
    for start, end in reversed(_names_in(text)):
        text = text[:start] + MASK + text[end:]
    return text


def holds_someones_data(text: str) -> bool:
    """Whether ``text`` holds what only a person's data looks like: a date old enough to be a birth date, a phone
    number, an e-mail address (not the registry's own) or an IBAN."""
    if any(not REGISTRY_MAIL.search(found.group(0)) for found in EMAIL.finditer(text)):
        return True
    return any(_someones_number(found) for found in PERSONS_NUMBER.finditer(text)) or _without_ibans(text) != text


def without_names(text: str) -> str:
    """``text`` of someone unknown (a failed transfer's reason, which names no investor of its own) without what
    may name a person: runs of capitalised words (a title-case phrase too: privacy first), dates and long numbers.
    When anything was left out, it says where the whole reason is."""
    clean = without_numbers(without_name_runs(scrubbed(text)))
    if clean != text:
        clean = (
            clean.rstrip(". ") + " (what may name a person is left out here; Cashlink Studio shows the whole reason)"
        )
    return clean


def _without_ibans(text: str) -> str:
    """``text`` with what is an IBAN of a country (its length, give or take two characters for a typo; spaced,
    dashed, in any case) masked but for its first and last four characters. A reference of no country (RF..., an
    ISIN of 12 characters, an order number) is kept, and so is an id of the registry (a UUID such as
    'de12a4f0-55c1-…', whose letters and digits may begin as an IBAN does)."""
    from schwifty import registry
    from schwifty.exceptions import InvalidCountryCode

    out, position = [], 0
    ids = [found.span() for found in REGISTRY_ID.finditer(text)]
    for start in IBAN_START.finditer(text):
        if start.start() < position or any(begin <= start.start() < end for begin, end in ids):
            continue
        try:
            length = registry.get_iban_spec(start.group(0)[:2].upper()).iban_length
        except InvalidCountryCode:  # no IBAN country (RF references, order numbers)
            continue
        compact, end = "", start.start()
        while end < len(text) and len(compact) < length:
            if text[end].isalnum():
                compact += text[end]
            elif text[end] in SEPARATORS:  # more of it only if what follows is a group of it: it fits in its
                after = end + 1  # length and has a digit or is in capitals ('NWBK'), unlike a sentence's next word
                while after < len(text) and text[after].isalnum():
                    after += 1
                group = text[end + 1 : after]
                if not group or len(compact) + len(group) > length:
                    break
                if not any(c.isdigit() for c in group) and not group.isupper():
                    break
            else:
                break
            end += 1
        if not compact.isascii() or len(compact) < length - 2:
            continue
        out += [text[position : start.start()], f"{compact[:4].upper()} {MASK} {compact[-4:]}"]
        position = end
    return "".join(out) + text[position:]


FORMAT_HINT = re.compile(r"[-+:./ T\[\]]*(?:YYYY|YY|MM|DD|hh|mm|ss)(?:[-+:./ T\[\]]|YYYY|YY|MM|DD|hh|mm|ss|Z)*")


def web_page(body: Any) -> str | None:
    """What a gateway's HTML page says (its title), where an error answer is one rather than the registry's JSON."""
    if not isinstance(body, str) or not re.search(r"<(?:!doctype html|html|body|head)\b", body, re.IGNORECASE):
        return None
    title = HTML_TITLE.search(body)
    said = re.sub(r"\s+", " ", html.unescape(title.group(1))).strip()[:80] if title else ""
    return f"a web page{f' ({said!r})' if said else ''} came back instead of the registry's answer"


def field_label(path: str) -> str:
    from helpers.core.models import label

    return label(path)


# What a message asks support to be told: replaced, in the message, by the time and the registry's request id
SUPPORT_ASKS = "the time and the request id"


class CashlinkError(Exception):
    """Base of every error the toolkit raises."""

    def __init__(
        self,
        message: str,
        *,
        field_errors: FieldErrors | None = None,
        status: int | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        self.at = datetime.now(UTC)
        self.ticket_said = SUPPORT_ASKS in message  # said where it is asked for: a form or panel shows only the
        if self.ticket_said:  # sentence (review 88)
            message = message.replace(SUPPORT_ASKS, self._ticket(request_id))
        super().__init__(message)
        self.message = message
        self.field_errors: FieldErrors = field_errors or {}
        self.status = status
        self.body = body
        self.request_id = request_id

    def _ticket(self, request_id: str | None) -> str:
        when = f"the time, {self.at:%Y-%m-%d %H:%M:%S} UTC"
        return (
            f"{when}, and the request id, {request_id}" if request_id else f"{when} (the registry sent no request id)"
        )

    def __str__(self) -> str:
        if not self.field_errors:
            return self.message
        details = " ".join(
            f"{field_label(path)}: {' '.join(msgs)}"
            + ("" if " ".join(msgs).rstrip().endswith((".", "?", "!")) else ".")
            for path, msgs in self.field_errors.items()
        )
        return f"{self.message} {details}"

    def support(self) -> str:
        """What a support ticket needs: HTTP status, the registry's request id, and when it happened."""
        parts = [f"at {self.at:%Y-%m-%d %H:%M:%S} UTC"]
        if self.status is not None:
            parts.insert(0, f"HTTP {self.status}")
        if self.request_id:
            parts.insert(1 if self.status is not None else 0, f"request id {self.request_id}")
        return f"{type(self).__name__}: " + ", ".join(parts)

    def rows(self) -> list[tuple[str, str, str]]:
        """The field errors as (field, label, message) rows."""
        return [
            (path, field_label(path), message) for path, messages in self.field_errors.items() for message in messages
        ]

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the sentence, then the field errors as a table."""
        lines = [f"\033[1;31m{type(self).__name__}\033[0m: {self.message}"]
        if self.field_errors:
            width = max(len(field_label(path)) for path in self.field_errors)
            lines += [
                f"  {field_label(path):<{width}}  {' '.join(messages)}" for path, messages in self.field_errors.items()
            ]
        if self.status is not None and not self.ticket_said:  # (said once)
            lines.append(f"  ({self.support()})")
        return lines

    def _repr_html_(self) -> str:
        head = f"<p><strong>{html.escape(type(self).__name__)}</strong>: {html.escape(self.message)}</p>"
        if not self.field_errors:
            return head
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td>{html.escape(message)}</td></tr>"
            for _path, label, message in self.rows()
        )
        return (
            f"{head}<table class='cl-errors'><thead><tr><th>Field</th><th>Problem</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


class ValidationError(CashlinkError):
    """The registry refused the request because of its content."""


class InputError(ValidationError):
    """Refused locally before sending: nothing reached the registry."""


class AuthenticationError(CashlinkError):
    pass


class PermissionDeniedError(CashlinkError):
    pass


class NotFoundError(CashlinkError):
    pass


class NotListed(NotFoundError):
    """The registry offers no such list (its first page answered 404 or 405): nothing can be looked up there."""


class ConflictError(CashlinkError):
    pass


class OutcomeUnknown(ConflictError):
    """Whether a write was done is unknown, and nothing more was sent: its answer was lost where nothing can look for
    the object (a benefiting person), an earlier attempt under the same reference was never answered and new data
    came (the new data's duplicate check could not find what it made), or the registry refused it sent again after
    a lost answer. Look in the registry; send it again only as a new operation (repeat=True, a new reference, or a
    form's 'Send as a new …')."""


class RateLimitError(CashlinkError):
    pass


class ServerError(CashlinkError):
    pass


class APIConnectionError(CashlinkError):
    pass


class ConfigurationError(CashlinkError):
    pass


class JournalError(CashlinkError):
    pass


class PossibleDuplicate(CashlinkError):
    """The registry already holds an equal or near-equal object; the write was not sent.

    ``existing`` is that object; ``equal`` is True when it matches exactly (not only e-mail, IBAN or name).
    """

    def __init__(
        self,
        message: str,
        existing: Record,
        *,
        equal: bool,
        what: str,
        same_party: bool = True,
        reason: str = "",
        differs: str = "",
    ) -> None:
        super().__init__(message)
        self.existing = existing
        self.equal = equal
        self.what = what
        self.same_party = same_party  # False: perhaps another person; 'use' and 'update' do not apply
        self.reason = reason  # what it has in common, e.g. "the same IBAN"
        self.differs = differs  # what is not the same, e.g. "another e-mail and IBAN"


class ImportIncomplete(CashlinkError):
    """A bulk import left rows out: they failed, never started, or had problems, or its file could not be read
    (said to a program that ran it unattended)."""


class TaskError(CashlinkError):
    """A task (credit, redemption, transfer) that failed, ended 'unknown', or did not finish in time."""

    def __init__(self, message: str, task: dict[str, Any] | None = None) -> None:
        super().__init__(message, body=task)
        self.task = task or {}


def input_error(subject: str, errors: FieldErrors) -> InputError:
    """A local refusal: ``subject`` names what was checked, e.g. "the investor"."""
    count = len(errors)
    fields = "1 field" if count == 1 else f"{count} fields"
    verb = "needs" if count == 1 else "need"
    return InputError(
        f"Nothing was sent: {fields} of {subject} {verb} attention. Correct "
        f"{'it' if count == 1 else 'them'} and try again.",
        field_errors=errors,
    )


GENERAL_KEYS = ("detail", "message", "error_description", "error")  # the registry's sentence (DRF, others, OAuth)


def _standardized(body: Any) -> bool:
    """The drf-standardized-errors body: ``{"type": "validation_error", "errors": [{"code", "detail", "attr"}]}``."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("type"), str)
        and isinstance(body.get("errors"), list)
        and all(isinstance(error, dict) and "detail" in error and "attr" in error for error in body["errors"])
    )


def _problem(body: Any) -> bool:
    """An RFC 7807 body (``application/problem+json``): a ``title`` or ``detail`` with ``type`` or ``status``."""
    return (
        isinstance(body, dict)
        and (isinstance(body.get("title"), str) or isinstance(body.get("detail"), str))
        and ("type" in body or "status" in body)
    )


def _problem_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A problem body's field errors, from the members that carry them: ``invalid_params`` (RFC 7807's example:
    ``[{"name", "reason"}]``, or ``{"field": "reason"}``) and ``errors`` (``{"field": ["message"]}``, or RFC 9457's
    ``[{"detail", "pointer"}]``). Other extension members (a balance, an account) are facts, not fields."""
    fields: dict[str, list[str]] = {}

    def add(name: Any, said: Any) -> None:
        if name not in (None, ""):
            path = str(name).lstrip("#/").replace("/", ".")
            fields.setdefault(path, []).append(str(said) if said not in (None, "") else "is not valid")

    for member in ("invalid_params", "errors"):
        value = body.get(member)
        if isinstance(value, dict):
            for name, said in flatten(value).items():
                for one in said:
                    add(name, one)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    add(
                        item.get("name", item.get("pointer", item.get("field", item.get("attr")))),
                        item.get("reason", item.get("detail", item.get("message"))),
                    )
    return fields


def _fastapi(body: Any) -> bool:
    """FastAPI's (and pydantic's) validation body: ``{"detail": [{"loc": [...], "msg": "...", ...}]}``."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("detail"), list)
        and bool(body["detail"])
        and all(isinstance(e, dict) and isinstance(e.get("loc"), list) and "msg" in e for e in body["detail"])
    )


def _field_list(body: dict[str, Any]) -> bool:
    """``{"errors": [{"field": ..., "message": ...}]}``: each error names its field."""
    errors = body.get("errors")
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and any(k in e for k in ("field", "name", "pointer", "attr")) for e in errors)
    )


def _sentences(value: Any) -> str:
    """A reason given as text or as a list of texts (None and other values are no reason)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return " ".join(item.rstrip(".") + "." for item in value)
    return ""


def registry_detail(body: Any) -> str:
    """The registry's own sentence in an error answer (detail, message, error_description or error; a problem
    body's detail or title; in the drf-standardized-errors body, the errors of no field), shortened."""
    if _standardized(body):
        return shorten_quoted(
            " ".join(str(e["detail"]) for e in body["errors"] if e["attr"] is None and e["detail"] is not None)
        )
    if isinstance(body, dict):
        for key in (*GENERAL_KEYS, *(("title",) if _problem(body) else ())):
            if said := _sentences(body.get(key)):
                return shorten_quoted(said)
    return ""


def registry_field_errors(body: Any) -> FieldErrors:
    """The field errors of an error answer, by dotted path: DRF's ``{"field": ["message"]}`` (and
    ``non_field_errors``), or drf-standardized-errors' ``attr``. The registry's sentence is no field."""
    errors: FieldErrors = {}
    if _standardized(body):
        for error in body["errors"]:
            if error["attr"] is not None:
                said = error["detail"] if error["detail"] is not None else error.get("code") or "is not valid"
                errors.setdefault(str(error["attr"]), []).append(str(said))
    elif _problem(body):
        errors = flatten(_problem_fields(body))
    elif _fastapi(body):  # {"detail": [{"loc": ["body", "bank_account", "iban"], "msg": "..."}]}
        for error in body["detail"]:
            where = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
            errors.setdefault(".".join(where) or "request", []).append(str(error["msg"]))
    elif isinstance(body, dict) and set(body) <= {"errors", "message", "status", "code"} and _field_list(body):
        errors = flatten(_problem_fields({"errors": body["errors"]}))  # {"errors": [{"field": ..., "message": ...}]}
    elif isinstance(body, dict):
        reason_given = any(_sentences(body.get(key)) for key in GENERAL_KEYS)
        errors = flatten(
            {
                k: v
                for k, v in body.items()
                if not (k in GENERAL_KEYS and (_sentences(v) or v in (None, [], "")))
                and not (k == "code" and (reason_given or "detail" in body))  # DRF's code of its detail: no field
            }
        )
    elif body is not None:
        errors = flatten(body)
    return {path: [shorten_quoted(m) for m in messages] for path, messages in errors.items()}


ENVELOPE_KEYS = frozenset({"status", "success", "data", "result", "message", "code", "meta", "links"})


def jsend(body: Any) -> bool:
    """An answer in JSend's envelope: ``{"status": "success" | "fail" | "error", "data": ..., "message": ...}``
    (with no member of an object's or a task's own)."""
    return (
        isinstance(body, dict) and body.get("status") in ("success", "fail", "error") and body.keys() <= ENVELOPE_KEYS
    )


def from_answer(status: int, body: Any, action: str, request_id: str | None = None, sent: Any = None) -> CashlinkError:
    """The error that a non-2xx answer means, with a sentence that names the action and what to do next. What the
    registry says repeats no personal value (``sent``: the request's body, whose personal values it may quote);
    the answer's body stays as it came in ``body``."""
    values = personal_values(sent)
    detail = scrubbed(web_page(body) or registry_detail(body), values=values).rstrip(".")
    reason = f": {detail}." if detail else "."
    extra = {"status": status, "body": body, "request_id": request_id}
    if status == 401:
        return AuthenticationError(
            f"The registry did not accept our credentials while trying to {action}{reason} Check "
            "CASHLINK_CLIENT_ID and CASHLINK_CLIENT_SECRET in .env.",
            **extra,
        )
    if status == 403 and web_page(body):  # a page, not the registry's answer: a gateway or firewall refused
        return PermissionDeniedError(
            f"Something in front of the registry (a gateway or firewall) refused to {action} (403{reason[:-1]}): "
            "most likely not a missing scope. Check that this machine may reach the registry (VPN, firewall, proxy "
            "settings), or ask your network administrator.",
            **extra,
        )
    if status == 413:
        return ValidationError(
            f"The registry refused to {action}: what was sent is too large (413{reason[:-1]}). Send a smaller file "
            "(a scan at a lower resolution, or a PDF of fewer pages) and try again.",
            **extra,
        )
    if status == 403:
        return PermissionDeniedError(
            f"Our API client is not allowed to {action}{reason} Ask Cashlink for the missing scope or add it to "
            "CASHLINK_SCOPES.",
            **extra,
        )
    if status == 404:
        return NotFoundError(f"Could not {action}: the registry has no such object{reason} Check the id.", **extra)
    if status == 409 or (status == 422 and "idempotency" in detail.lower()):
        return ConflictError(f"Could not {action}{reason} Nothing new was created.", **extra)
    if status == 429:
        return RateLimitError(
            f"The registry is throttling us; could not {action} after several retries. Wait a "
            "minute and run the cell again.",
            **extra,
        )
    if status >= 500:
        retried = status in (502, 503, 504)  # (the transport's READ_RETRY_STATUSES: a 500 is not tried again)
        return ServerError(
            f"The registry had a problem ({status}) and could not {action}{', even after retries' if retried else ''}"
            ". Running the cell again is safe; if it fails again, tell Cashlink's support the time and the request id.",
            **extra,
        )
    errors = {
        path: [scrubbed(message, path, values) for message in messages]
        for path, messages in ({} if web_page(body) else registry_field_errors(body)).items()
    }
    hint = " Correct the fields listed and try again." if errors else " Check the request and try again."
    return ValidationError(
        f"The registry refused to {action}{reason if detail else '.'}{hint}", field_errors=errors, **extra
    )
