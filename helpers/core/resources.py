"""The API's resources: documents, investors (identifications, benefiting persons, wallets), products, campaigns,
investments (credits, registry statements), redemptions and transfers.

Every argument is checked through :mod:`helpers.core.models` before anything is sent (an
:class:`~helpers.core.errors.InputError` names the field), ids are checked as UUIDs before a URL is built, and every
write goes through :meth:`Client.write` (see :mod:`helpers.core.client` for what makes two writes the same).
"""

from __future__ import annotations

import builtins
import hashlib
import mimetypes
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from difflib import SequenceMatcher
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from helpers.core import api, checks, models
from helpers.core.client import (
    ZONELESS_SLACK,
    CannotCompareWarning,
    Client,
    ListResult,
    Match,
    OnDuplicate,
    Operation,
    _created_at,
    is_recent,
    made_when,
    zoneless,
)
from helpers.core.compare import changed_fields, subset_equal, subset_same
from helpers.core.errors import (
    CashlinkError,
    ConfigurationError,
    InputError,
    NotFoundError,
    NotListed,
    PermissionDeniedError,
    PossibleDuplicate,
    TaskError,
    ValidationError,
    input_error,
)
from helpers.core.records import Record, money_value

if TYPE_CHECKING:
    from pandas import DataFrame

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_READ_IDS = "read the identifications"
_READ_WALLETS = "read the wallets"
UPLOAD_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def checked_id(value: Any, name: str, subject: str) -> str:
    """A UUID, or an :class:`InputError` naming the argument (ids are never put into a URL unchecked)."""
    try:
        return checks.check_uuid(value)
    except checks.CheckError as exc:
        raise input_error(subject, {name: [str(exc)]}) from None


def path(template: str, subject: str, **ids: Any) -> str:
    """``/investors/{investor_id}/`` with each id checked and escaped."""
    return template.format(**{name: quote(checked_id(value, name, subject), safe="") for name, value in ids.items()})


def units_share(remaining: Decimal, total: Decimal, units: int) -> Fraction | None:
    """The units ``remaining`` of ``total`` stands for, of an investment of ``units``: a whole number where the
    registry's amounts are rounded to their decimals (1 unit of 3 for EUR 100.000 left as EUR 33.333: review 93),
    else exact (a fraction where the amounts disagree); None when the total is 0 and the remaining amount is not."""
    if total == 0:
        return Fraction(0) if remaining == 0 else None
    share = Fraction(remaining) / Fraction(total) * units
    if share.denominator == 1 or not units:
        return share
    nearest = round(share)
    # the remaining amount, a share of what was paid, rounded (up, down, or by what was taken from it) to its own
    # last decimal: less than one step of it off, and less than half a unit's price (review 94: a step of the
    # coarser amount took 1,000.5 of 3,000 as 1; review 95: a whole step took 1,001 of 3,000 as 1)
    off = abs(Fraction(remaining) - Fraction(total) * nearest / units)
    if 0 <= nearest <= units and off < _step(remaining) and off < Fraction(total) / units / 2:
        return Fraction(nearest)
    return share


def _step(amount: Decimal) -> Fraction:
    """The last decimal place ``amount`` is written to (0.001 for 33.333; 1 for 3000)."""
    exponent = amount.as_tuple().exponent
    return Fraction(10) ** max(exponent if isinstance(exponent, int) else 0, -28)


def remaining_units(investment: Mapping[str, Any]) -> int | None:
    """Units an investment still holds, from documented fields: ``remaining_amount`` against ``investment_amount``
    and ``units`` (section 6, D), or ``remaining_units`` where the registry sends it. None when neither is there."""
    if isinstance(investment.get("remaining_units"), int):
        return int(investment["remaining_units"])
    remaining, total, units = (
        investment.get("remaining_amount"),
        investment.get("investment_amount"),
        investment.get("units"),
    )
    if not (isinstance(remaining, Mapping) and isinstance(total, Mapping) and isinstance(units, int)):
        return None
    if remaining.get("currency") != total.get("currency"):
        raise ValidationError(
            f"The registry's investment {investment.get('id')} gives its remaining amount in "
            f"{remaining.get('currency')} and its investment amount in {total.get('currency')}: the units it still "
            "holds cannot be told from them. Report this investment to Cashlink."
        )
    share = units_share(money_value(remaining), money_value(total), units)
    if share is None:
        return None
    if share.denominator != 1:
        said = format(Decimal(share.numerator) / Decimal(share.denominator), ".6g")
        raise InputError(
            f"The registry's investment {investment.get('id')} has {money_value(remaining)} "
            f"{remaining.get('currency')} left of {money_value(total)} {total.get('currency')} for "
            f"{api.units_said(units)}: {said} units, no whole number even allowing for its rounding. Report this "
            "investment to Cashlink."
        )
    return int(share)


def held_units(investment: Mapping[str, Any]) -> int:
    """Units a delivered investment still holds (:func:`remaining_units`), or an error saying why they cannot be
    told: never 0 for a holding that is unknown."""
    units = remaining_units(investment)
    if units is None:
        raise ValidationError(
            f"The registry's investment {investment.get('id')} says neither how many units it still holds "
            "(remaining_units) nor its remaining_amount with investment_amount and units: its holding cannot be "
            "computed. Run client.check_api() and report the table to the team."
        )
    return units


def status_since(investment: Mapping[str, Any]) -> str | None:
    """When the investment entered its status: ``status_changed_at`` where sent, else the documented timestamp of
    that status (``paid_at`` for PAID, ...; section 6, E)."""
    if investment.get("status_changed_at"):
        return str(investment["status_changed_at"])
    name = api.STATUS_SINCE.get(str(investment.get("status")))
    value = investment.get(name) if name else None
    return str(value) if value else (str(investment["created_at"]) if investment.get("created_at") else None)


def _readable(read: Callable[[str], Record], object_id: str) -> Record | None:
    """The object as the registry has it, or None for a client that may write but not read it (an update then goes
    by its content)."""
    try:
        return read(object_id)
    except PermissionDeniedError:
        return None


class Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _get(self, path_: str, action: str) -> Record:
        return Record(self._client.get(path_, action))


# --- documents ------------------------------------------------------------------------------------------------------


# A bulk import writes an investor's identification and wallet moments after creating it: no other session can
# have added to them yet, so they are not looked up. Later (a form filled in minutes after) they are.
FRESH_INVESTOR_SECONDS = 60.0


def _begins_as(content: bytes, content_type: str) -> bool:
    """Whether ``content`` begins as a file of ``content_type`` does (a PDF may have up to 1 KiB before its mark)."""
    if content_type == "application/pdf":
        return b"%PDF-" in content[:1024]
    if content_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    return content.startswith(b"\xff\xd8\xff")  # JPEG


def upload_type(filename: str, content_type: str | None = None) -> str:
    """The content type a file is uploaded as: the one given where it is a document's (a browser may give another
    spelling, or none), else by its name's ending."""
    if content_type in UPLOAD_TYPES.values():
        return str(content_type)
    return UPLOAD_TYPES.get(Path(filename).suffix.lower()) or content_type or mimetypes.guess_type(filename)[0] or ""


def upload_problems(content: bytes, filename: str, content_type: str) -> builtins.list[str]:
    """What keeps a file from being uploaded as a document (none: it can be): checked before anything is sent, by
    :meth:`Documents.upload` and by a form as the file is chosen."""
    problems = []
    if not content:
        problems.append("The file is empty: choose the document itself.")
    if len(content) > MAX_UPLOAD_BYTES:
        problems.append(
            f"The file has {len(content) / 1048576:.1f} MiB; the limit is 10 MiB: save or scan the document smaller."
        )
    if content_type not in UPLOAD_TYPES.values():
        problems.append(
            f"{checks.quote(filename)} is not a PDF, PNG or JPEG file. Choose the document as one of those (save or "
            "scan it as PDF first)."
        )
    elif content and not _begins_as(content, content_type):
        kind = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}[content_type]
        problems.append(
            f"{checks.quote(filename)} is named as a {kind} file, but its content is not one (a renamed file?). "
            f"Choose the {kind} itself, or save the document as {kind} first."
        )
    return problems


def placeholder_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text``: only for the local sandbox (see :meth:`Documents.placeholder`)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


class Documents(Resource):
    def upload(
        self,
        source: str | Path | bytes,
        filename: str | None = None,
        content_type: str | None = None,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
    ) -> Record:
        """Upload a PDF/PNG/JPEG (a path or bytes) and return the document with its ``id``."""
        subject = "the document"
        if isinstance(source, (str, Path)):
            file = Path(source).expanduser()
            if not file.is_file():
                raise input_error(subject, {"file": [f"There is no file at {checks.quote(file, 120)}."]})
            content, filename = file.read_bytes(), filename or file.name
        elif isinstance(source, (bytes, bytearray, memoryview)):
            content, filename = bytes(source), filename or "document.pdf"
        else:
            raise input_error(
                subject, {"file": [f"Give a file path or the file's bytes, not {type(source).__name__}."]}
            )
        content_type = upload_type(filename, content_type)
        problems = upload_problems(content, filename, content_type)
        if problems:
            raise input_error(subject, {"file": problems})
        fingerprint = {"name": filename, "type": content_type, "sha256": hashlib.sha256(content).hexdigest()}
        return self._client.write(
            Operation(
                "upload document",
                "POST",
                api.DOCUMENTS,
                "upload the document",
                "document",
                content=fingerprint,
                files={"file": (filename, content, content_type)},
                reference=reference,
                key=key,
                repeat=repeat,
            )
        )

    def file_or_placeholder(self, path_: str | Path | None, text: str) -> bytes:
        """The file's bytes; without a path, a placeholder PDF on the local sandbox (refused elsewhere)."""
        if not path_:
            if not self._client.is_sandbox:
                raise input_error(
                    "the parameters",
                    {
                        "file": [
                            "Give the path of the document: generated placeholders exist only for the local sandbox."
                        ]
                    },
                )
            return self.placeholder(text)
        file = Path(path_).expanduser()
        if not file.is_file():
            raise input_error("the parameters", {"file": [f"There is no file at {checks.quote(file.resolve(), 120)}."]})
        return file.read_bytes()

    def placeholder(self, text: str) -> bytes:
        """A generated one-page PDF for demos: refused outside the local sandbox (the registry must get real
        documents)."""
        if not self._client.is_sandbox:
            raise ConfigurationError(
                "Placeholder documents exist only for the local sandbox. Give the path of the "
                "real document (the signed subscription, the provider's protocol)."
            )
        return placeholder_pdf(text)


# --- investors ------------------------------------------------------------------------------------------------------


def _person_key(investor: Mapping[str, Any]) -> tuple[str, ...] | None:
    person = investor.get("natural_person") or {}
    if person.get("surname"):
        return (
            "natural",
            str(person.get("forename", "")).casefold(),
            str(person["surname"]).casefold(),
            _day(person.get("birth_date")),
        )
    company = investor.get("legal_person") or {}
    if company.get("company_name"):
        return (
            "legal",
            str(company["company_name"]).casefold(),
            _shown(company.get("registration_number"), NUMBER_SHOWN),
        )
    return None


def _check_postcodes(changes: Mapping[str, Any], investor: Mapping[str, Any]) -> None:
    """An update's postcode against the country of its address (the one it changes to, else the investor's): the
    model's rule, which a partial update does not go through."""
    errors: checks.FieldErrors = {}
    for part in ("natural_person", "legal_person"):
        given = changes.get(part)
        if not isinstance(given, Mapping) or given.get("zip") in (None, ""):
            continue
        country = given.get("country") or (investor.get(part) or {}).get("country")
        try:
            checks.check_postcode(str(given["zip"]), str(country) if country else None)
        except checks.CheckError as exc:
            errors[f"{part}.zip"] = [str(exc)]
    if errors:
        raise input_error("the investor update", errors)


def _ended_at(identification: Mapping[str, Any]) -> datetime:
    """When an identification's outcome reached the registry: the later of its ``created_at`` (an identification
    done elsewhere is imported with its outcome, perhaps long after its ``verified_at``) and its ``verified_at`` (a
    video identification ends after it was made); the earliest time where it gives neither."""
    moments = [checks.registry_moment(identification.get(name)) for name in ("created_at", "verified_at")]
    return max((moment for moment in moments if moment is not None), default=datetime.min.replace(tzinfo=UTC))


def identification_status(identification: Mapping[str, Any]) -> str:
    """SUCCESS, PENDING or FAILED (upper case): the identification's ``status``, or, where the registry sends none,
    SUCCESS once it has ``verified_at``."""
    return str(identification.get("status") or ("SUCCESS" if identification.get("verified_at") else "PENDING")).upper()


def investor_name(investor: Mapping[str, Any]) -> str:
    """``Peter Parker`` or ``ACME Holding GmbH``."""
    company = (investor.get("legal_person") or {}).get("company_name")
    if company:
        return str(company)
    person = investor.get("natural_person") or {}
    return f"{person.get('forename', '')} {person.get('surname', '')}".strip() or str(investor.get("id", ""))


MASK_SIGNS = re.compile(r"[•●·∙◦…]|\*{2,}|\.{3}|[xX]{3,}|(?:[xX]+[\s./-]+){2}")  # '••', '***', 'XXXX', 'XX.XX.'
DAY_SHOWN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].*)?")
EMAIL_SHOWN = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
IBAN_SHOWN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}")
EMAIL_MASK = re.compile(r"[•●·∙◦…]|\*{2,}|^\*|\*$|_{3,}|#{2,}|\.{3}|^[xX]{3,}$")  # 'p***', 'p*', 'p___', '…'
MASK_WORDS = frozenset({"hidden", "redacted", "masked", "anonymized", "anonymised"})  # 'hidden@hidden.com
NUMBER_SHOWN = re.compile(r".*[0-9].*")  # a register number has a digit ('REDACTED' has none)


def _shown(value: Any, looks: re.Pattern[str] | None = None) -> str:
    """A value as the registry shows it, or "" where it hides it: left out, null, masked ('••••', 'p***@…',
    'XXXX', '2000-XX-XX'), or anything that is no such value at all ('REDACTED', 'n/a', '—': ``looks`` is the
    form a shown value has). What is hidden is unknown, never another value."""
    text = "" if value is None else str(value).strip()
    if not text or (looks is not None and not looks.fullmatch(text)):
        return ""
    return "" if MASK_SIGNS.search(text) else text


def _email(investor: Mapping[str, Any]) -> str:
    email = str((investor.get("communication") or {}).get("email") or "").strip()
    local, _at, domain = email.partition("@")
    if not EMAIL_SHOWN.fullmatch(email) or EMAIL_MASK.search(local) or EMAIL_MASK.search(domain.split(".")[0]):
        return ""
    if local.casefold() in MASK_WORDS or domain.casefold().endswith(".invalid"):  # 'hidden@hidden.com'
        return ""
    return email.casefold()


def _iban(investor: Mapping[str, Any]) -> str:
    compact = re.sub(r"\s", "", str((investor.get("bank_account") or {}).get("iban") or "")).upper()  # (any space)
    return _shown(compact, IBAN_SHOWN) if not re.search(r"X{4,}", compact[4:]) else ""


def _day(value: Any) -> str:
    """A birth date the registry shows, as its day (YYYY-MM-DD, a time after it aside), or "" where it is hidden or
    no real day ('0000-00-00')."""
    text = _shown(value, DAY_SHOWN)[:10]
    try:
        return date.fromisoformat(text).isoformat() if text else ""
    except ValueError:
        return ""


def _identifying(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an investor that make two of them the same data (an equal investor)."""
    return {k: v for k, v in body.items() if k in ("natural_person", "legal_person", "bank_account", "communication")}


class InvestorIndex:
    """Investors by e-mail, IBAN, and name and birth date (company and register number): finds the one a new
    investor would duplicate without comparing it with every investor."""

    def __init__(self, investors: Iterable[Mapping[str, Any]] = ()) -> None:
        self._keys: builtins.list[dict[Any, builtins.list[tuple[int, Mapping[str, Any]]]]] = [{}, {}, {}]
        self._names: dict[str, int] = {}  # a name (no birth date): how many investors have it
        # investors whose birth date (a company's register number) the registry does not show, by name alone: one
        # with the name of a new investor may be that person (asked about, never taken for another)
        self._unshown: dict[tuple[str, ...], builtins.list[tuple[int, Mapping[str, Any]]]] = {}
        self._count = 0
        self.read_at: datetime | None = None  # when the registry's investors were read into it
        for investor in investors:
            self.add(investor)

    def has_name_of(self, body: Mapping[str, Any]) -> bool:
        """True when an investor has ``body``'s name (a person's first and last name, or a company's), whatever
        else: a namesake, which is no match (perhaps another person) but worth saying."""
        name = investor_name(body).casefold()
        return bool(name) and name in self._names

    @staticmethod
    def _key_values(investor: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        return _email(investor), _iban(investor), _person_key(investor)

    def add(self, investor: Mapping[str, Any]) -> None:
        """Count ``investor`` in (an investor made since the index was built)."""
        if (investor.get("natural_person") or investor.get("legal_person")) and (name := investor_name(investor)):
            self._names[name.casefold()] = self._names.get(name.casefold(), 0) + 1
        values = self._key_values(investor)
        for index, value in zip(self._keys, values):
            if value:
                index.setdefault(value, []).append((self._count, investor))
        if values[2] and not values[2][-1]:
            self._unshown.setdefault(values[2][:-1], []).append((self._count, investor))
        self._count += 1

    def _candidates(self, values: tuple[Any, Any, Any]) -> dict[int, Mapping[str, Any]]:
        found = {
            position: investor
            for index, value in zip(self._keys, values)
            if value
            for position, investor in index.get(value, [])
        }
        if values[2]:
            found.update(self._unshown.get(values[2][:-1], []))
        return found

    def sharing(self, body: Mapping[str, Any]) -> builtins.list[Mapping[str, Any]]:
        """Every investor with the same e-mail, IBAN, or name and birth date (company and register number) as
        ``body``, in the order they were added: those :meth:`match` chooses from."""
        return [i for _p, i in sorted(self._candidates(self._key_values(body)).items())]

    def identical(self, body: Mapping[str, Any]) -> builtins.list[Mapping[str, Any]]:
        """Every investor equal to ``body`` (the same data, not only an e-mail, IBAN or name in common)."""
        wanted = _identifying(body)
        return [i for i in self.sharing(body) if subset_equal(wanted, i)]

    def match(self, body: Mapping[str, Any]) -> Match | None:
        """The investor ``body`` would duplicate: one with the same e-mail, IBAN, or name and birth date (an equal one
        first, then the one with most of these in common, then the earliest). It is the same person (``same_party``)
        when the name and birth date (company and register number) match and so does the e-mail or the IBAN."""
        values = self._key_values(body)
        candidates = self._candidates(values)
        if not candidates:
            return None
        wanted = _identifying(body)

        def in_common(investor: Mapping[str, Any]) -> list[bool]:
            return [bool(mine) and mine == theirs for mine, theirs in zip(values, self._key_values(investor))]

        def rank(candidate: tuple[int, Mapping[str, Any]]) -> tuple[bool, int, int]:
            position, investor = candidate
            return (not subset_equal(wanted, investor), -sum(in_common(investor)), position)

        _position, investor = min(candidates.items(), key=rank)
        email, iban, person = in_common(investor)
        parts = _parts_same(investor, body)  # each part on its own: 'another birth date', not 'name and birth date'
        order = ("e-mail", "IBAN", "name", "birth date", "register number")
        reasons = [part for part in order if parts.get(part)]
        return Match(
            Record(investor),
            subset_equal(wanted, investor),
            "the same " + _listed(reasons),
            same_party=person and (email or iban),
            differs=_other_kind(investor, body) or _differences_in_words(parts, order),
        )


def _is_same_party(existing: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether new data under the reference that made ``existing`` can be a correction of it: the same person by
    the one rule (name and birth date, or company and register number, and the e-mail or the IBAN), or a typo with
    the e-mail and IBAN the same: in the birth date (the same name), or in the name (the same birth date, a name
    nearly the same: 'Petre' for 'Peter', not 'Lena' for 'Anna'). Anything else (a namesake with another e-mail
    and IBAN, a joint account, a twin) is asked about; ``update_to`` applies the data when it is the same person."""
    same = _parts_same(existing, body)
    born = "birth date" if "birth date" in same else "register number"
    if same["name"] and same[born] and (same["e-mail"] or same["IBAN"]):
        return True
    if not (same["e-mail"] and same["IBAN"]):
        return False
    return bool(same["name"] or (same[born] and _names_close(existing, body)))


def _names_close(existing: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """The whole names differ as a typo does (nine tenths of the letters in place)."""
    mine, theirs = _person_key(body) or (), _person_key(existing) or ()
    return SequenceMatcher(None, " ".join(mine[1:-1]), " ".join(theirs[1:-1])).ratio() >= 0.9


def _parts_same(existing: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, bool | None]:
    """Which of what identifies an investor ``body`` shares with ``existing``: True (the same), False (another),
    None where the registry does not show it of ``existing`` (left out or masked: unknown, not another)."""
    mine, theirs = _person_key(body) or (), _person_key(existing) or ()
    comparable = bool(mine) and bool(theirs) and mine[0] == theirs[0]

    def same(given: str, shown: str) -> bool | None:
        return None if given and not shown else bool(given) and given == shown

    return {
        "name": comparable and mine[1:-1] == theirs[1:-1],
        "birth date" if mine[:1] == ("natural",) else "register number": same(mine[-1], theirs[-1])
        if comparable
        else False,
        "e-mail": same(_email(body), _email(existing)),
        "IBAN": same(_iban(body), _iban(existing)),
    }


def _listed(parts: builtins.list[str]) -> str:
    """'e-mail, IBAN and name'."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _differences_in_words(parts: Mapping[str, bool | None], order: Iterable[str]) -> str:
    """What differs, and what the registry does not show ("another IBAN; its birth date is not shown"), in words."""

    differ = [part for part in order if parts.get(part, True) is False]
    hidden = [part for part in order if part in parts and parts[part] is None]
    said = ["another " + _listed(differ)] if differ else []
    if hidden:
        said.append(f"its {_listed(hidden)} not shown by the registry")
    return "; ".join(said)


def _differs(existing: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """What identifies ``body`` and differs from ``existing``, in words ("another birth date and IBAN")."""
    parts = _parts_same(existing, body)
    other = _other_kind(existing, body)
    return other or _differences_in_words(parts, parts) or "the same name, e-mail and IBAN"


def _other_kind(existing: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """'it is a company, not a person' where one is a company and the other a person (a company has no birth
    date to differ in); else empty."""
    mine, theirs = _person_key(body), _person_key(existing)
    if mine is None or theirs is None or mine[0] == theirs[0]:
        return ""
    return "it is a company, not a person" if theirs[0] == "legal" else "it is a person, not a company"


def similar_investor(candidates: Iterable[Mapping[str, Any]], body: Mapping[str, Any]) -> Match | None:
    """The first investor with the same e-mail, IBAN, or name and birth date (company and register number)."""
    return InvestorIndex(candidates).match(body)


def _changes(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of ``wanted`` that differ from ``have``, as a PATCH body (changed sections only)."""
    return {
        section: value
        for section, value in wanted.items()
        if section in ("natural_person", "legal_person", "bank_account", "tax_information", "communication")
        and not subset_same(value, have.get(section))
    }


KYC_FILTERS = ("SUCCESS", "PENDING", "FAILED")  # what a kyc_status filter takes


def _email_of(investor: Mapping[str, Any]) -> str:
    """An investor's e-mail address (``communication.email``), or "" where it has none."""
    communication = investor.get("communication")
    return str(communication.get("email") or "") if isinstance(communication, Mapping) else ""


class Investors(Resource):
    def create(
        self,
        body: Mapping[str, Any] | models.Investor,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
        known_investors: InvestorIndex | None = None,
    ) -> Record:
        """Create an investor (natural or legal person). Running the same call again returns the same investor;
        an investor with the same e-mail, IBAN, or name and birth date is found first (see ``on_duplicate``).

        ``known_investors``: the registry's investors, read once for many creates (a bulk import), instead of
        being read again for each one."""
        investor = models.parse(models.Investor, body, "the investor").body()
        made = self._client.write(
            Operation(
                "create investor",
                "POST",
                api.INVESTORS,
                "create the investor",
                "investor",
                body=investor,
                reference=reference,
                key=key,
                repeat=repeat,
                on_duplicate=on_duplicate,
                similar=lambda: (known_investors or InvestorIndex(self.list())).match(investor),
                looked_at=known_investors.read_at if known_investors is not None else None,
                sent=lambda since: self._created_since(investor, since),
                identical_now=lambda: [
                    str(i.get("id")) for i in (known_investors or InvestorIndex(self.list())).identical(investor)
                ],
                verify=self.get,
                update=lambda existing: self.update_to(existing, investor),
                same_party=lambda existing: _is_same_party(existing, investor),
                differs=lambda existing: _differs(existing, investor),
                describe=lambda: f"the investor {reference}" if reference else "this investor",  # never a name
            )
        )
        if made.outcome in ("existed", "replayed") and made.checked:  # say what was given and not applied
            made.not_applied = tuple(models.label(path) for path in changed_fields(investor, made))
        return made

    def update_to(
        self,
        investor: str | Mapping[str, Any],
        body: Mapping[str, Any] | models.Investor,
        *,
        reference: str | None = None,
    ) -> Record:
        """Change an investor to what ``body`` (a whole investor, as for :meth:`create`) says: the sections that
        differ are sent (PATCH); nothing when none does (outcome 'existed'). For the same person whose details
        changed (a new surname), which a create would ask about."""
        investor_id = investor if isinstance(investor, str) else str(investor["id"])
        wanted = models.parse(models.Investor, body, "the investor").body()
        current = self.get(investor_id)
        return self.update(investor_id, _changes(wanted, current), reference=reference, current=current)

    def _created_since(self, body: Mapping[str, Any], since: datetime) -> builtins.list[Record]:
        recent = [i for i in self.list() if _created_after(i, since)]
        return [i for i in recent if (match := similar_investor([i], body)) is not None and match.equal]

    def index(self) -> InvestorIndex:
        """The registry's investors, read once, to compare many new ones with (a bulk import). Empty, with a
        :class:`CannotCompareWarning`, where the registry cannot be searched (no such list, no read scope)."""
        read_at = datetime.now(UTC)
        try:
            index = InvestorIndex(self.list().to_list())
        except (NotListed, PermissionDeniedError) as exc:
            warnings.warn(
                f"The registry's investors could not be read ({exc.message.rstrip('.')}), so new investors are not "
                "compared with them; a re-import of the same rows is still never sent twice.",
                CannotCompareWarning,
                stacklevel=2,
            )
            return InvestorIndex()
        index.read_at = read_at
        return index

    def find_similar(self, body: Mapping[str, Any] | models.Investor) -> Match | None:
        """The registry's investor that a new ``body`` would duplicate (same e-mail, IBAN, or name and birth
        date), if any."""
        investor = models.parse(models.Investor, body, "the investor").body()
        return similar_investor(self.list().to_list(), investor)

    def get(self, investor_id: str) -> Record:
        """One investor, by id (a :class:`NotFoundError` where the registry has none)."""
        return self._get(path(api.INVESTOR, "the investor", investor_id=investor_id), "read the investor")

    def update(
        self,
        investor_id: str,
        changes: Mapping[str, Any],
        *,
        reference: str | None = None,
        key: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> Record:
        """Change parts of an investor (PATCH): e.g. ``{"communication": {"email": ...}}``. The investor is read
        first: changes it already has send nothing (outcome 'existed'), and an operation is the change from what it
        is now (changing a value back and forth sends each change)."""
        target = path(api.INVESTOR, "the investor update", investor_id=investor_id)
        body = models.parse(models.InvestorUpdate, changes, "the investor update").body() if changes else {}
        if not body and current is None:
            raise input_error(
                "the investor update",
                {
                    "non_field_errors": [
                        "Give the parts to change: natural_person, legal_person, bank_account, tax_information or "
                        "communication."
                    ]
                },
            )
        wrong = models.change_errors(models.Investor, body)
        if wrong:
            raise input_error("the investor update", wrong)
        now = Record(current) if current is not None else _readable(self.get, investor_id)  # None: no read scope
        _check_postcodes(body, now or {})
        if now is not None and (not body or subset_same(body, now)):  # it has them already: nothing to send
            now.outcome, now.what = "existed", "investor"
            return now
        before: Mapping[str, Any] = now if now is not None else {}

        def change(repeat: bool = False) -> Operation:
            return Operation(
                "update investor",
                "PATCH",
                target,
                "update the investor",
                "investor",
                body=body,
                reference=None if repeat else reference,  # a change of its own: a fresh key, even with a reference
                key=None if repeat else key,
                repeat=repeat,
                content={"investor": investor_id, "changes": body, "from": {k: before.get(k) for k in body}},
                verify=self.get,
                holds=lambda record: subset_same(body, record, kept_only=True),  # done while the investor has it
            )

        updated = self._client.write(change())
        if updated.outcome == "replayed" and not subset_same(
            body, _readable(self.get, investor_id) or {}, kept_only=True
        ):
            # the registry answered an earlier identical change (another journal's, made before a change back):
            # this one is a change of its own
            updated = self._client.write(change(repeat=True))
        return updated

    def list(self, *, kyc_status: str | None = None, email: str | None = None) -> ListResult:
        """Every investor, every page. ``email`` is matched here (case aside), never sent. ``kyc_status`` (SUCCESS,
        PENDING or FAILED; PENDING takes in an investor not identified yet) is asked of the registry and checked
        here; where the registry sends none, it is read from the identifications of each investor with that e-mail,
        or of every investor (a request each: section 6, F)."""
        local: dict[str, Callable[[Record], bool]] = {}
        if email:  # (first: the cheap check, before any identification is read)
            address = str(email).strip().casefold()
            local["email"] = lambda investor: _email_of(investor).casefold() == address
        wanted = str(kyc_status).strip().upper() if kyc_status else None
        if wanted and wanted not in KYC_FILTERS:
            raise InputError(
                f"kyc_status is {', '.join(KYC_FILTERS[:-1])} or {KYC_FILTERS[-1]}, not {kyc_status!r}; nothing was "
                "listed."
            )
        if wanted:  # (a registry's 'no identification yet' is PENDING: review 94)
            local["kyc_status"] = lambda investor: self.kyc_status(investor).replace("NONE", "PENDING") == wanted
        return self._client.list(api.INVESTORS, "list the investors", {"kyc_status": wanted}, local)

    def frame(
        self,
        *,
        kyc_status: str | None = None,
        email: str | None = None,
        show_personal_data: bool = False,
        progress: bool = True,
    ) -> DataFrame:
        """Every investor as a DataFrame, filtered as :meth:`list` is (personal data masked unless
        ``show_personal_data=True``; ``progress=False`` hides the bar a long list shows)."""
        listed = self.list(kyc_status=kyc_status, email=email)
        return listed.frame(show_personal_data=show_personal_data, progress=progress)

    def kyc_status(self, investor: str | Mapping[str, Any]) -> str:
        """SUCCESS, PENDING, FAILED or NONE: the investor's ``kyc_status`` where the registry sends it, else from
        its identifications (section 6, F): the outcome of the latest that ended, PENDING while only open ones
        exist, NONE without any."""
        record = self.get(investor) if isinstance(investor, str) else investor
        if isinstance(record.get("kyc_status"), str):
            return str(record["kyc_status"]).strip().upper()
        identifications = self.identifications(str(record["id"]))
        ended = [  # the latest outcome counts, as a registry's own kyc_status says it (review 95: any SUCCESS won),
            (_ended_at(i), order, identification_status(i))  # by when it ended in the registry (review 97)
            for order, i in enumerate(identifications)
            if identification_status(i) in ("SUCCESS", "FAILED")
        ]
        if ended:
            return max(ended)[2]
        return "PENDING" if identifications else "NONE"

    def identify(
        self,
        investor_id: str,
        identification: Mapping[str, Any] | models.Identification | None = None,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
    ) -> Record:
        """Import an identification done elsewhere (with an uploaded protocol), or start a video identification
        (``identification=None``). One with the same ID document is asked about (see ``on_duplicate``)."""
        target = path(api.IDENTIFICATIONS, "the identification", investor_id=investor_id)
        body = (
            models.parse(models.Identification, identification, "the identification").body() if identification else {}
        )

        def same(item: Record) -> bool:
            return bool(body) and _same_document(body, item)

        def equal(item: Record) -> bool:  # the same identification, its number shown, not only the same document
            return subset_equal({k: v for k, v in body.items() if k != "legitimation_protocol_id"}, item)

        return self._writing_to(
            target,
            lambda: self._client.write(
                Operation(
                    "create identification",
                    "POST",
                    target,
                    "create the identification",
                    "identification",
                    body=body,
                    reference=reference,
                    key=key,
                    repeat=repeat,
                    on_duplicate=on_duplicate,
                    similar=lambda: self._existing(investor_id, target, same, "the same ID document", equal),
                    sent=lambda since: self._all(target, lambda i: same(i) and _created_after(i, since), _READ_IDS),
                    verify=lambda ident_id: self._find_required(target, lambda i: i.get("id") == ident_id, _READ_IDS),
                )
            ),
        )

    def settle_unanswered_identification(
        self, investor_id: str, identification: Mapping[str, Any], key: str
    ) -> Record | None:
        """The identification of ``identification``'s ID document that an attempt under ``key`` made, where its
        answer never came (a bulk import killed while it was sent), recorded in the journal and the audit trail;
        nothing is sent (see :meth:`Client.settle_unanswered`)."""
        target = path(api.IDENTIFICATIONS, "the identification", investor_id=investor_id)
        return self._client.settle_unanswered(
            key,
            lambda since: self._all(
                target, lambda i: _same_document(identification, i) and _created_after(i, since), _READ_IDS
            ),
        )

    def settle_unanswered_wallet(self, investor_id: str, key: str, address: str | None = None) -> Record | None:
        """The wallet (the managed one, or the one of ``address``) that an attempt under ``key`` made, where its
        answer never came, recorded as :meth:`settle_unanswered_identification` does."""
        wallets = path(api.WALLETS_OF_INVESTOR, "the investor", investor_id=investor_id)
        same = _the_wallet(address)
        return self._client.settle_unanswered(
            key, lambda since: self._all(wallets, lambda w: same(w) and _created_after(w, since), _READ_WALLETS)
        )

    def _existing(
        self,
        investor_id: str,
        listing: str,
        same: Callable[[Record], bool],
        reason: str,
        equal: Callable[[Record], bool] = lambda _item: True,
    ) -> Match | None:
        """An object of the investor's sub-list like the one a write would create (``equal``: the same, not only
        alike). None for an investor this client created moments ago (a bulk import's row) that nothing was written
        to yet: it has none."""
        created = self._client.created_here.get(investor_id)
        fresh = created is not None and time.monotonic() - created < FRESH_INVESTOR_SECONDS
        if fresh and listing not in self._client.written_lists:  # (another session had no time to add to it)
            return None
        found = self._find(listing, same, "read the investor's objects")
        return Match(found, equal(found), reason) if found is not None else None

    def _writing_to(self, listing: str, write: Callable[[], Record]) -> Record:
        """A write that may add to an investor's sub-list: later ones look in it (whatever came of this one)."""
        try:
            return write()
        finally:
            self._client.written_lists.add(listing)

    def identifications(self, investor_id: str) -> builtins.list[Record]:
        """The investor's identifications (every page; ``client.tabulate(...)`` makes a DataFrame of them)."""
        return self._client.items(
            path(api.IDENTIFICATIONS, "the investor", investor_id=investor_id), "read the identifications"
        )

    def add_benefiting_person(
        self,
        investor_id: str,
        person: Mapping[str, Any] | models.BenefitingPerson,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
    ) -> Record:
        """A natural person who owns or controls a legal-person investor (needed before its investments leave
        KYC_PENDING). ``repeat=True``: send it although an earlier attempt's answer never came, or as one more.
        The same person sent from this journal under another reference is asked about (``on_duplicate``)."""
        target = path(api.BENEFITING_PERSONS, "the benefiting person", investor_id=investor_id)
        body = models.parse(models.BenefitingPerson, person, "the benefiting person").body()
        operation = Operation(
            "add benefiting person",
            "POST",
            target,
            "add the benefiting person",
            "benefiting person",
            body=body,
            reference=reference,
            key=key,
            repeat=repeat,
            on_duplicate=on_duplicate,
            resend_unseen=False,  # no documented list of them; a second one would be a second owner
            describe=lambda: "this benefiting person",
            send_again="pass repeat=True (client.investors.add_benefiting_person(…, repeat=True); in a form, the "
            "button 'Send as a new …')",
        )
        operation.similar = lambda: self._client.done_before(operation)  # (no list: what this journal made)
        return self._client.write(operation)

    def wallets(self, investor_id: str) -> builtins.list[Record]:
        """The investor's wallets (every page; ``client.tabulate(...)`` makes a DataFrame of them)."""
        return self._client.items(
            path(api.WALLETS_OF_INVESTOR, "the investor", investor_id=investor_id), "read the wallets"
        )

    def create_managed_wallet(
        self,
        investor_id: str,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
    ) -> Record:
        """The investor's wallet in Cashlink's custody (at most one per investor; re-runs return it, and an existing
        one is asked about: ``on_duplicate='use'`` takes it)."""
        target = path(api.MANAGED_WALLET, "the wallet", investor_id=investor_id)
        wallets = path(api.WALLETS_OF_INVESTOR, "the investor", investor_id=investor_id)
        managed = _the_wallet(None)

        def create() -> Record:
            return self._writing_to(
                wallets,
                lambda: self._client.write(
                    Operation(
                        "create managed wallet",
                        "POST",
                        target,
                        "create the managed wallet",
                        "wallet",
                        reference=reference,
                        key=key,
                        repeat=repeat,
                        on_duplicate=on_duplicate,
                        similar=lambda: self._existing(
                            investor_id, wallets, managed, "a managed wallet: there is one at most"
                        ),
                        sent=lambda since: self._all(wallets, managed, _READ_WALLETS),
                        verify=lambda wallet_id: self._find_required(
                            wallets, lambda w: w.get("id") == wallet_id, _READ_WALLETS
                        ),
                    )
                ),
            )

        try:
            return create()
        except ValidationError:  # refused: perhaps another session made the investor's one meanwhile
            try:
                made_meanwhile = bool(self._all(wallets, managed, _READ_WALLETS))
            except (PermissionDeniedError, NotListed):
                made_meanwhile = False
            if not made_meanwhile:
                raise
            self._client.written_lists.add(wallets)  # looked for now, and asked about as any existing one
            return create()

    def create_generic_wallet(
        self,
        investor_id: str,
        address: str,
        receiving_enabled: bool = True,
        *,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
    ) -> Record:
        """Register the investor's own Ethereum address (checked for its EIP-55 checksum before sending); one the
        investor has already is asked about (``on_duplicate='use'`` takes it)."""
        target = path(api.GENERIC_WALLET, "the wallet", investor_id=investor_id)
        wallets = path(api.WALLETS_OF_INVESTOR, "the investor", investor_id=investor_id)
        body = models.parse(
            models.GenericWallet, {"address": address, "receiving_enabled": receiving_enabled}, "the wallet"
        ).body()
        same = _the_wallet(body["address"])

        return self._writing_to(
            wallets,
            lambda: self._client.write(
                Operation(
                    "create generic wallet",
                    "POST",
                    target,
                    "register the wallet",
                    "wallet",
                    body=body,
                    reference=reference,
                    key=key,
                    repeat=repeat,
                    on_duplicate=on_duplicate,
                    similar=lambda: self._existing(investor_id, wallets, same, "the same address"),
                    sent=lambda since: self._all(wallets, same, _READ_WALLETS),
                    verify=lambda wallet_id: self._find_required(
                        wallets, lambda w: w.get("id") == wallet_id, _READ_WALLETS
                    ),
                )
            ),
        )

    def _find(self, path_: str, wanted: Callable[[Record], bool], action: str) -> Record | None:
        return next((item for item in self._client.items(path_, action) if wanted(item)), None)

    def _all(self, path_: str, wanted: Callable[[Record], bool], action: str) -> builtins.list[Record]:
        return [item for item in self._client.items(path_, action) if wanted(item)]

    def _find_required(self, path_: str, wanted: Callable[[Record], bool], action: str) -> Record:
        found = self._find(path_, wanted, action)
        if found is None:
            raise NotFoundError(f"Could not {action}: the object is no longer there.")
        return found


def _the_wallet(address: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a wallet of the registry's is the investor's managed one (``address`` None: one at most), or the one
    of ``address`` (in any case)."""
    if address is None:
        return lambda wallet: wallet.get("type") == "eth-managed"
    return lambda wallet: str(wallet.get("address", "")).lower() == address.lower()


def _made_since(listing: Iterable[Record], same: Callable[[Record], bool], since: datetime) -> builtins.list[Record]:
    """The objects of ``listing`` equal to what a write sent (``same``) and made after ``since``: among them, the
    object a write whose answer was lost created, if it did."""
    return [item for item in listing if same(item) and _created_after(item, since)]


MASK_RUN = re.compile(r"[•●·∙◦*#…]+|[xX]{2,}")  # how a registry may hide part of a number ('••••T47', 'XX-XX-T47')
MASK_MARK = re.compile(r"[•●·∙◦*#…]|[xX]{3}|(?:[xX]+[\s-]+){2}")  # what only a mask has (an ID number may hold 'XX')
DOCUMENT_SHOWN = ("document_issuer", "document_valid_from", "document_valid_to")  # what tells one card from the next


def _same_document(sent: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether an identification of the registry's is of the ID document ``sent`` names. A registry may show the
    document number masked ('••••T47') or not at all. Shown whole, it decides (dashes and case aside); masked, what
    it shows must fit and what it shows of the card's issuer and validity must be the same; left out, two of those
    must be there and the same. A document type shown must be the same in any case."""
    number, shown = sent.get("document_id"), item.get("document_id")
    kind = item.get("document_type")
    if "document_type" in sent and kind is not None and str(kind).upper() != str(sent["document_type"]).upper():
        return False
    others = {name: sent[name] for name in DOCUMENT_SHOWN if name in sent and item.get(name) is not None}
    if isinstance(shown, str) and shown.strip() and not MASK_MARK.search(shown):  # shown whole (dashes aside)
        return isinstance(number, str) and _compact(shown) == _compact(number)
    if isinstance(shown, str) and shown.strip():  # masked: what it shows must fit, and what else it shows too
        pattern = ".*".join(re.escape(_compact(part)) for part in MASK_RUN.split(shown))
        fits = isinstance(number, str) and re.fullmatch(pattern, _compact(number), re.IGNORECASE) is not None
        return fits and subset_equal(others, item)
    return len(others) >= 2 and subset_equal(others, item)  # left out: the card's issuer and validity decide


def _compact(number: str) -> str:
    """A document number without its spaces and dashes, in capitals ('l99-1234 t4' is 'L991234T4')."""
    return re.sub(rf"[\s{re.escape(checks.DASHES)}]", "", number).upper()


def _created_after(record: Mapping[str, Any], since: datetime) -> bool:
    """True when ``record`` may have been made at ``since`` or later (a time without a zone: within hours of it)."""
    created = _created_at(record)
    return created is None or created >= since - (ZONELESS_SLACK if zoneless(record) else timedelta(0))


# --- products and campaigns -----------------------------------------------------------------------------------------


class Products(Resource):
    def list(self) -> ListResult:
        """Every product these credentials see, every page."""
        return self._client.list(api.PRODUCTS, "list the products")

    def get(self, product_id: str) -> Record:
        """One product, by id."""
        return self._get(path(api.PRODUCT, "the product", product_id=product_id), "read the product")

    def frame(self, *, show_personal_data: bool = False, progress: bool = True) -> DataFrame:
        """Every product as a DataFrame (``progress=False`` hides the bar a long list shows)."""
        return self.list().frame(show_personal_data=show_personal_data, progress=progress)


class Campaigns(Resource):
    def list(self, product_id: str | None = None) -> ListResult:
        """Every campaign (of one product, with ``product_id``), every page."""
        if product_id:
            product_id = checked_id(product_id, "product_id", "the campaign filter")
        return self._client.list(api.CAMPAIGNS, "list the campaigns", {"product_id": product_id})

    def get(self, campaign_id: str) -> Record:
        """One campaign, by id."""
        return self._get(path(api.CAMPAIGN, "the campaign", campaign_id=campaign_id), "read the campaign")

    def frame(
        self, product_id: str | None = None, *, show_personal_data: bool = False, progress: bool = True
    ) -> DataFrame:
        """Every campaign (of one product, with ``product_id``) as a DataFrame."""
        return self.list(product_id).frame(show_personal_data=show_personal_data, progress=progress)


# --- investments ----------------------------------------------------------------------------------------------------


def _status_filter(status: str | None) -> str | None:
    if status and status not in api.INVESTMENT_STATUSES:
        raise input_error(
            "the investment filter",
            {
                "status": [
                    f"{checks.quote(status)} is not an investment status; use one of "
                    f"{', '.join(api.INVESTMENT_STATUSES)}."
                ]
            },
        )
    return status


class Investments(Resource):
    def create(
        self,
        investor_id: str,
        units: int | str,
        signed_at: str | datetime,
        signed_documents: builtins.list[Mapping[str, str]],
        *,
        campaign_id: str | None = None,
        accepted_at: str | datetime | None = None,
        paid_at: str | datetime | None = None,
        wallet: str | None = None,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
    ) -> Record:
        """Import a signed investment. ``signed_at`` is the binding order time (required: without it the registry
        would start a web-based subscription). Running the same call again returns the same investment."""
        body = models.parse(
            models.Investment,
            {
                "investor_id": investor_id,
                "campaign_id": campaign_id or self._client.config.campaign_id,
                "units": units,
                "signed_at": signed_at,
                "accepted_at": accepted_at,
                "paid_at": paid_at,
                "signed_documents": signed_documents,
                "wallet": wallet,
            },
            "the investment",
        ).body()
        _check_after_signing(body, body)

        def same(item: Record) -> bool:
            _comparable(item, ("investor_id", "units"), "investments")
            return (
                item.get("investor_id") == body["investor_id"]
                and item.get("units") == body["units"]
                and item.get("campaign_id", body["campaign_id"]) == body["campaign_id"]
                and item.get("status") not in ("ABORTION", "CANCELLATION", "REJECTION")
            )

        def similar() -> Match | None:
            for item in self.list(investor_id=body["investor_id"]):
                if same(item) and is_recent(item):
                    equal = _same_moment(item.get("signed_at"), body["signed_at"])
                    return Match(item, equal, "the same investor, campaign and units")
            return None

        return self._client.write(
            Operation(
                "create investment",
                "POST",
                api.INVESTMENTS,
                "create the investment",
                "investment",
                body=body,
                reference=reference,
                key=key,
                repeat=repeat,
                on_duplicate=on_duplicate,
                similar=similar,
                sent=lambda since: _made_since(self.list(investor_id=body["investor_id"]), same, since),
                verify=self.get,
                describe=lambda: f"an investment of {api.units_said(body['units'])}",
                correct="its acceptance, payment and wallet can be set with client.investments.update(id, "
                "accepted_at=…, paid_at=…, wallet=…); its units, product and signing cannot be changed: cancel it in "
                "Cashlink Studio, then make the corrected one under a new reference",
            )
        )

    def get(self, investment_id: str) -> Record:
        """One investment, by id."""
        return self._get(path(api.INVESTMENT, "the investment", investment_id=investment_id), "read the investment")

    def update(
        self,
        investment_id: str,
        *,
        accepted_at: str | datetime | None = None,
        paid_at: str | datetime | None = None,
        wallet: str | None = None,
        key: str | None = None,
    ) -> Record:
        """Accept, mark as paid, or set the delivery wallet later (PATCH). The investment is read first: changes it
        already has send nothing (outcome 'existed'), and an operation is the change from what it is now (a value
        changed back and forth sends each change)."""
        target = path(api.INVESTMENT, "the investment update", investment_id=investment_id)
        body = models.parse(
            models.InvestmentUpdate,
            {"accepted_at": accepted_at, "paid_at": paid_at, "wallet": wallet},
            "the investment update",
        ).body()

        def has(record: Mapping[str, Any]) -> bool:
            return all(
                _same_moment(record.get(name), value) if name.endswith("_at") else record.get(name) == value
                for name, value in body.items()
            )

        now = _readable(self.get, investment_id)  # None: no read scope (the PATCH then goes by its content)
        if now is not None and has(now):
            now.outcome, now.what = "existed", "investment"
            return now
        _check_after_signing(body, now or {})
        before: Mapping[str, Any] = now if now is not None else {}

        def change(repeat: bool = False) -> Operation:
            return Operation(
                "update investment",
                "PATCH",
                target,
                "update the investment",
                "investment",
                body=body,
                key=None if repeat else key,  # a change of its own: a fresh key
                repeat=repeat,
                content={"investment": investment_id, "changes": body, "from": {k: before.get(k) for k in body}},
                verify=self.get,
                holds=has,  # done while the investment has it
            )

        updated = self._client.write(change())
        if updated.outcome == "replayed" and not has(_readable(self.get, investment_id) or {}):
            # the registry answered an earlier identical change (perhaps changed back since, or unreadable here):
            # this one is a change of its own, harmless to make again
            updated = self._client.write(change(repeat=True))
        return updated

    def list(
        self,
        *,
        product_id: str | None = None,
        campaign_id: str | None = None,
        investor_id: str | None = None,
        status: str | None = None,
    ) -> ListResult:
        """Every investment, every page, filtered by the registry where it can and here always (section 6, B)."""
        ids = {
            name: checked_id(value, name, "the investment filter")
            for name, value in (("product_id", product_id), ("campaign_id", campaign_id), ("investor_id", investor_id))
            if value
        }
        return self._client.list(api.INVESTMENTS, "list the investments", {**ids, "status": _status_filter(status)})

    def frame(
        self,
        *,
        product_id: str | None = None,
        campaign_id: str | None = None,
        investor_id: str | None = None,
        status: str | None = None,
        show_personal_data: bool = False,
        progress: bool = True,
    ) -> DataFrame:
        """Every investment as a DataFrame, filtered as :meth:`list` is (``remaining_units`` in every row where it
        can be told; ``progress=False`` hides the bar a long list shows)."""
        listed = self.list(product_id=product_id, campaign_id=campaign_id, investor_id=investor_id, status=status)
        return listed.frame(show_personal_data=show_personal_data, progress=progress)

    def credit(
        self,
        investment_id: str,
        *,
        wait: bool = True,
        timeout: float = 60,
        key: str | None = None,
        repeat: bool = False,
        confirm_production: bool = False,
    ) -> Record:
        """Start crediting the digital securities to the investment's wallet; by default wait until DELIVERED.

        Returns the investment (when waiting) or the credit task; its ``outcome`` says whether the credit was sent
        now. A credit task that failed is reported, and running this again sends a new attempt (``repeat=True``
        sends one whatever the journal says: for a failure seen only in Cashlink Studio)."""
        target = path(api.CREDITS, "the credit", investment_id=investment_id)
        try:
            investment: Mapping[str, Any] = self.get(investment_id)
        except PermissionDeniedError:  # these credentials may only write: the registry checks the wallet itself
            investment = {}
        status = investment.get("status")
        if status == "DELIVERED" and repeat:
            said = "The investment is delivered already: there is nothing to credit."
            raise InputError(f"Nothing was sent. {said}")  # (no field to correct: the sentence is all)
        if status in api.INVESTMENT_STATUSES and status not in ("PAID", "DELIVERED"):  # refused for sure: not sent
            if status in api.FINAL_STATUSES:
                said = f"The investment is {api.status_phrase(status)}: it has ended and can no longer be credited."
            else:
                waits, todo = api.WAITING_FOR.get(str(status), (api.status_phrase(status), ""))
                paid = f" (client.investments.update('{investment_id}', paid_at=…))" if status == "ACCEPTED" else ""
                said = f"The investment is {waits}: only a paid investment can be credited. {todo.rstrip('.')}{paid}."
            raise InputError(f"Nothing was sent. {said}")  # (no field to correct: the sentence is all)
        if "wallet" in investment and not investment["wallet"] and investment.get("status") != "DELIVERED":
            raise input_error(
                "the credit",
                {
                    "wallet": [
                        "The investment has no delivery wallet yet: set it first with client.investments.update("
                        f"'{investment_id}', wallet=WALLET_ID) (the investor's wallet id), then credit it."
                    ]
                },
            )
        hint = (
            f"credit it again (client.investments.credit('{investment_id}'), or the button 'Credit the securities'): "
            "a failed credit is sent as a new attempt"
        )

        def task(task_id: str) -> Record:
            """The credit task as the registry has it now (only its id when the registry lists no tasks)."""
            tasks = self._credit_tasks(investment_id)
            if tasks is None:
                return Record({"id": task_id})
            found = next((item for item in tasks if item.get("id") == task_id), None)
            if found is None:
                raise NotFoundError(f"Could not read the credit task {task_id}: the registry no longer has it.")
            return found

        def sent(since: datetime) -> builtins.list[Record]:
            """After a lost answer: a credit task started since (still processing, or done), or the delivery. With
            no list of tasks, an investment not delivered yet may have a credit under way: that cannot be told, and
            nothing is sent again unasked."""
            tasks = self._credit_tasks(investment_id)
            if tasks is not None:
                return [t for t in tasks if t.get("status") not in api.TASK_FAILED and _created_after(t, since)]
            current = self.get(investment_id)
            if current.get("status") == "DELIVERED":
                return [current]
            raise NotListed(
                "The registry lists no credit tasks, and the investment is not delivered yet: a credit may be under "
                "way.",
                status=404,
            )

        def already() -> Match | None:
            current = self.get(investment_id)
            if current.get("status") == "DELIVERED":
                return Match(current, True, "the investment is already delivered")
            return None

        started = self._client.write(
            Operation(
                "credit investment",
                "POST",
                target,
                "credit the investment",
                "credit",
                key=key,
                repeat=repeat,
                moves_units=True,
                confirm_production=confirm_production,
                similar=already,
                sent=sent,
                verify=task,
                holds=lambda found: found.get("status") not in api.TASK_FAILED,  # a failed credit is sent again
                made_nothing=lambda answer: answer.get("status") in api.TASK_FAILED,  # so a re-run sends it again
                describe=lambda: (
                    f"a credit of {api.units_said(investment['units'])}" if "units" in investment else "a credit"
                ),
                send_again=f"credit it with repeat=True (client.investments.credit('{investment_id}', repeat=True))",
                if_unknown="If the investment shows delivered, it was credited: running this step again says so. If "
                "a credit of it is still running there, wait for it to end. If there is none, or it failed, credit it "
                f"again: client.investments.credit('{investment_id}', repeat=True).",
            )
        )
        if started.get("status") in api.TASK_FAILED | api.TASK_UNKNOWN:  # said in words, with what to do next
            self._client.wait_for_task(lambda: started, "credit", timeout=0, retry_hint=hint)
        if not wait:
            return started
        if started.get("status") in api.TASK_PROCESSING and self._credit_tasks(investment_id) is not None:
            self._client.wait_for_task(lambda: task(started.id), "credit", timeout=timeout, retry_hint=hint)
        try:
            final = self.wait_for_status(investment_id, "DELIVERED", timeout=timeout, answer=started, what="credit")
        except TaskError as exc:
            if "status" in started or exc.task.get("status") != "PAID":
                raise
            tasks = self._credit_tasks(investment_id)
            named = started.get("id") or started.get("task_id")  # the answer's task, without its status
            failed = next((t for t in tasks or [] if named and t.get("id") == named), None)
            if failed is not None and failed.get("status") in api.TASK_FAILED:  # the registry's list says how it ended
                raise TaskError(
                    f"The credit of the investment failed ({self._client.task_reason(failed).rstrip('.')}): it is "
                    f"still paid, not delivered. Credit it again with client.investments.credit('{investment_id}', "
                    "repeat=True) (one more attempt; its first answer named no task, so it is not sent again "
                    "unasked).",
                    failed,
                ) from None
            if tasks is not None:
                raise
            raise TaskError(  # a credit started earlier, and no task list to say how it ended
                f"The investment is still paid, not delivered, after {timeout:g} s. A credit of it was started "
                f"earlier (task {started.get('id')}), and this registry does not list credit tasks, so whether that "
                "credit failed or is still being processed cannot be checked here. Look at it in Cashlink Studio: if "
                f"it failed, credit again with client.investments.credit('{investment_id}', repeat=True) (one more "
                "attempt); if not, run this again later.",
                exc.task,
            ) from None
        final.outcome, final.what, final.shows = started.outcome, "credit of investment", "investment"
        return final

    def credit_tasks(self, investment_id: str) -> builtins.list[Record]:
        """The investment's credit tasks as the registry lists them (none where it lists none): a failed one is
        credited again as a new attempt; one whose outcome is unknown never."""
        return self._credit_tasks(investment_id) or []

    def _credit_tasks(self, investment_id: str) -> builtins.list[Record] | None:
        """The investment's credit tasks, or None when the registry does not list them (not documented)."""
        try:
            return self._client.items(path(api.CREDITS, "the credit", investment_id=investment_id), "read the credits")
        except (NotFoundError, PermissionDeniedError):
            return None
        except CashlinkError as exc:
            if exc.status in (405, 501):
                return None
            raise

    def wait_for_status(
        self,
        investment_id: str,
        statuses: set[str] | str = "DELIVERED",
        *,
        timeout: float = 60,
        answer: Record | None = None,
        what: str = "investment",
    ) -> Record:
        """The investment once it has one of ``statuses``. ``answer``: what a write (a credit) answered, returned
        with a CannotFollowWarning where these credentials may not read the investment."""
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        return self._client.wait(
            lambda: self.get(investment_id),
            what,
            timeout=timeout,
            done=lambda inv: inv.get("status") in wanted,
            failed=lambda inv: inv.get("status") in api.FINAL_STATUSES - wanted,
            answer=answer,
        )

    def registry_statements(self, investment_id: str) -> builtins.list[Record]:
        """The investment's registry statements (every page; ``client.tabulate(...)`` makes a DataFrame of them)."""
        return self._client.items(
            path(api.REGISTRY_STATEMENTS, "the investment", investment_id=investment_id), "read the registry statements"
        )


def _check_after_signing(body: Mapping[str, Any], investment: Mapping[str, Any]) -> None:
    """An acceptance or a payment dated more than a year before the investment was signed is a typo in the year:
    refused before anything is sent. (Paying first is not forbidden, so nothing closer is refused.)"""
    signed = _moment(investment.get("signed_at"))
    if signed is None:
        return
    errors = {}
    for name in ("accepted_at", "paid_at"):
        given = _moment(body.get(name)) if name in body else None
        if given is not None and given < signed - timedelta(days=366):
            errors[name] = [
                f"{given:%Y-%m-%d} is more than a year before the investment was signed ({signed:%Y-%m-%d}); check "
                "the year."
            ]
    if errors:
        raise input_error("the investment" if "signed_at" in body else "the investment update", errors)


def _moment(value: Any) -> datetime | None:
    """A time of the registry or of a caller, in UTC (one without a zone read as UTC), or None."""
    if value in (None, ""):
        return None
    moment = checks.registry_moment(value)
    if moment is None:  # a caller's plain date ('2021-03-12': noon UTC) or a spreadsheet's date cell
        try:
            moment = checks.registry_moment(checks.check_datetime(value))
        except checks.CheckError:
            return None
    return moment


def _same_moment(a: Any, b: Any) -> bool:
    try:
        return checks.check_datetime(a) == checks.check_datetime(b)
    except checks.CheckError:
        return False


# --- tasks: redemptions and transfers -------------------------------------------------------------------------------


def _comparable(item: Mapping[str, Any], names: tuple[str, ...], what: str) -> None:
    """Refuse to write when the registry's objects lack a field that tells an identical one (it would be made
    again, never recognised)."""
    missing = [name for name in names if name not in item]
    if missing:
        raise ValidationError(
            f"The registry's {what} carry no {' or '.join(missing)}, so an identical one cannot be recognised and "
            "nothing was sent. Run client.check_api() and report its table to the team (the registry names its "
            "fields otherwise)."
        )


def times_known(*records: Mapping[str, Any]) -> bool:
    """Whether the registry gave each record its time of making (to tell which came first)."""
    return all(_created_at(record) is not None for record in records)


def made_after(later: Mapping[str, Any], earlier: Mapping[str, Any]) -> bool:
    """Whether the registry's times say ``later`` was made after ``earlier``: not where a time is missing, nor at
    the same time (as a registry that writes times to the minute says of two made within it)."""
    first, then = _created_at(earlier), _created_at(later)
    return first is not None and then is not None and then > first


def with_units(redemption: dict[str, Any]) -> dict[str, Any]:
    """A redemption as the toolkit reads it: its units under ``units``, also where the registry names them
    ``amount`` (the documentation says "redemption amount"; section 5, 11), and its task status in the documented
    lower case ('FAILED' -> 'failed'), so that lists, reports and corrections compare like with like."""
    status = redemption.get("status")
    if isinstance(status, str) and status in api.TASK_STATUSES and status != status.strip().casefold():
        redemption = {**redemption, "status": status.strip().casefold()}
    if "units" not in redemption and (units := api.whole_number(redemption.get("amount"))) is not None:
        return {**redemption, "units": units}
    return redemption


class Redemptions(Resource):
    def create(
        self,
        investor_id: str,
        wallet_id: str,
        units: int | str,
        *,
        product_id: str | None = None,
        wait: bool = True,
        timeout: float = 60,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
        confirm_production: bool = False,
    ) -> Record:
        """Redeem units of a product from a wallet. The registry takes them from the oldest investments first (FIFO).

        More units than the wallet holds are refused here, before anything is sent. Running the same call again
        returns the same redemption; an identical redemption made recently is found first (see ``on_duplicate``)."""
        body = models.parse(
            models.Redemption,
            {
                "investor_id": investor_id,
                "product_id": product_id or self._client.config.product_id,
                "wallet_id": wallet_id,
                "units": units,
            },
            "the redemption",
        ).body()

        def same(item: Record) -> bool:
            _comparable(item, ("investor_id", "product_id", "wallet_id", "units"), "redemptions")
            return (
                all(item.get(name) == body[name] for name in ("investor_id", "product_id", "wallet_id", "units"))
                and item.get("status") not in api.TASK_FAILED
            )

        def similar() -> Match | None:
            found = next((r for r in self.list(investor_id=body["investor_id"]) if same(r) and is_recent(r)), None)
            return Match(found, True, f"{api.units_said(body['units'])} from the same wallet") if found else None

        def enough() -> None:
            held = self._client.balance(body["investor_id"], body["wallet_id"], body["product_id"])
            if not held and body["wallet_id"] not in {
                str(w.get("id")) for w in self._client.investors.wallets(body["investor_id"])
            }:
                raise input_error(
                    "the redemption",
                    {"wallet_id": ["The investor has no wallet with this id; choose one of the investor's wallets."]},
                )
            if body["units"] > held:
                raise input_error(
                    "the redemption",
                    {
                        "units": [  # (review 88: as the form's own check says it)
                            f"The wallet now holds {held:,} unit{'' if held == 1 else 's'} of this product, fewer "
                            f"than {body['units']:,}: enter at most {held:,}."
                            if held
                            else "The wallet now holds no units of this product: nothing can be redeemed from it."
                        ]
                    },
                )

        task = self._client.write(
            Operation(
                "create redemption",
                "POST",
                api.REDEMPTIONS,
                "create the redemption",
                "redemption",
                body=body,
                reference=reference,
                key=key,
                repeat=repeat,
                on_duplicate=on_duplicate,
                moves_units=True,
                confirm_production=confirm_production,
                similar=similar,
                before_send=enough,
                sent=lambda since: _made_since(self.list(investor_id=body["investor_id"]), same, since),
                verify=self.get,
                describe=lambda: f"a redemption of {api.units_said(body['units'])}",
            )
        )
        return self._settled(task, wait, timeout)

    def _settled(self, task: Record, wait: bool, timeout: float) -> Record:
        if task.outcome in ("existed", "replayed") and task.get("status") in api.TASK_FAILED:
            task = self.latest_attempt(task)  # the step run again after its retry: what the retry did
        hint = f"retry it with client.redemptions.retry('{task.get('id')}') (or the form's Retry button)"
        if task.get("status") in api.TASK_FAILED | api.TASK_UNKNOWN or wait:
            final = (
                self._client.wait_for_task(
                    lambda: self.get(task.id), "redemption", timeout=timeout, retry_hint=hint, answer=task
                )
                if wait
                else task
            )
            return final.told_as(task)
        return task

    def retry(
        self,
        redemption_id: str,
        *,
        wait: bool = True,
        timeout: float = 60,
        on_duplicate: OnDuplicate = "ask",
        confirm_production: bool = False,
    ) -> Record:
        """A new attempt at a failed redemption (a new operation, made once). An 'unknown' one is never retried.
        One of the same units from the same wallet made since (by hand, or another journal's retry) is asked about
        first: :class:`PossibleDuplicate`; ``on_duplicate='create'`` retries all the same."""
        failed = self.get(redemption_id)
        status = failed.get("status")
        if status in api.TASK_UNKNOWN:
            raise TaskError(
                f"The redemption {redemption_id} ended as 'unknown': it may still move the units, so it "
                "is not retried. Ask Cashlink to check it on the blockchain; if they confirm it failed, make "
                "a new redemption with a reference of its own (reference='…', on_duplicate='create').",
                failed,
            )
        if status not in api.TASK_FAILED:
            raise input_error(
                "the retry",
                {
                    "redemption_id": [
                        f"The redemption's status is {api.task_word(status)}, not failed: there is nothing to retry"
                        + {
                            "successful": ".",
                            "running": "; look at it again once it has ended.",
                        }.get(
                            api.task_stage(status), "; ask Cashlink what that status means if its units did not move."
                        )
                    ]
                },
            )
        retried_here = self.latest_attempt(failed).get("id") != failed.get("id")  # (then this returns that retry)
        since = None if retried_here or on_duplicate == "create" else self.done_again(failed, paired=False)
        if since is not None:
            made = (
                f"was made after the failed one ({made_when(since)}, "
                if times_known(failed, since)
                else "is in the registry, which gives no times to tell whether it was made after the failed one ("
            )
            raise PossibleDuplicate(
                f"A redemption of {api.units_said(failed.get('units'))} from the same wallet {made}id "
                f"{str(since.get('id'))[:8]}, {api.task_word(since.get('status'))}): it may be this one done again. "
                "Nothing was sent. If it is another one, retry all the same (on_duplicate='create'; in the form, "
                "'Retry all the same').",
                since,
                equal=True,
                what="redemption",
            )
        try:
            retried = self.create(
                str(failed["investor_id"]),
                str(failed["wallet_id"]),
                int(failed["units"]),
                product_id=str(failed["product_id"]),
                wait=wait,
                timeout=timeout,
                reference=f"retry of {redemption_id}",
                on_duplicate="create",
                confirm_production=confirm_production,
            )
        except TaskError as exc:  # (review 87: a retry that failed too did not say it was the retry)
            said = exc.message[:1].lower() + exc.message[1:]
            raise TaskError(f"The new attempt at the failed redemption {redemption_id}: {said}", exc.task) from None
        retried.retry_of = str(failed.get("id"))  # (said by its sentence: a new attempt at that one; review 85)
        return retried

    def done_again(
        self, failed: Record, among: Iterable[Record] | None = None, *, paired: bool = True
    ) -> Record | None:
        """A redemption of the same units from the same wallet, made after ``failed`` and not failed: perhaps the
        failed one done again (by hand, or by another journal's retry), which a retry would make a second time.
        Each such redemption answers for one failed one at most (the earliest before it, or made at the same time
        and listed before it, still unanswered), and a retry this journal made of another failed one is that one's.
        ``among``: the investor's redemptions, where they were just read. Where the registry gives no time of
        making (of the failed one or of another), the order cannot be told: one that is not failed counts as
        perhaps made after it (a person is asked rather than the units redeemed twice). ``paired=False`` (before a
        retry): any such redemption made after it counts, even one paired with another failed one (it may be this
        one's redo: asked, never redeemed twice)."""
        same = ("investor_id", "product_id", "wallet_id", "units")
        listing = self.list(investor_id=str(failed["investor_id"])) if among is None else among
        group = [r for r in listing if all(r.get(name) == failed.get(name) for name in same)]

        def when(record: Record) -> datetime:
            return _created_at(record) or datetime.min.replace(tzinfo=UTC)

        group.sort(key=when)  # made first first; at the same time (a registry's time to the minute): as listed
        order = {id(record): position for position, record in enumerate(group)}

        def after(record: Record, earlier: Record) -> bool:
            if _created_at(record) is None or _created_at(earlier) is None:
                return True  # no time to tell: perhaps after
            return order[id(record)] > order[id(earlier)]

        failures = [r for r in group if r.get("status") in api.TASK_FAILED]
        retried = {str(f.get("id")): set(self._retry_chain(str(f.get("id")))) for f in failures}
        taken = {retry for retries in retried.values() for retry in retries}
        free = [
            r
            for r in group
            if r.get("status") not in api.TASK_FAILED
            and str(r.get("id")) not in taken
            and r.get("id") != failed.get("id")
        ]  # (never the one asked about: an unknown one is not failed; review 72)
        if not paired:  # perhaps after it: no time to tell, or the same time (a registry's time to the minute, in
            return next(  # any listing order), or later
                (r for r in free if _created_at(r) is None or _created_at(failed) is None or when(r) >= when(failed)),
                None,
            )
        for earlier in failures:
            if retried[str(earlier.get("id"))]:
                continue  # settled by its own retry
            later = next((r for r in free if after(r, earlier)), None)
            if later is not None:
                free.remove(later)
            if earlier.get("id") == failed.get("id"):
                return later
        return None

    def _retry_chain(self, redemption_id: str) -> builtins.list[str]:
        """The ids of the retries this journal made of a failed redemption, and of their retries in turn, in order."""
        chain: builtins.list[str] = []
        for _depth in range(10):
            entry = self._client.journal.get(
                self._client.identity_of_reference("POST", api.REDEMPTIONS, f"retry of {redemption_id}")
            )
            if entry is None or entry.state != "done" or not entry.registry_id:
                break
            redemption_id = str(entry.registry_id)
            chain.append(redemption_id)
        return chain

    def latest_attempt(self, failed: Record) -> Record:
        """A failed redemption, or the last of the retries made of it with :meth:`retry` (recorded in this client's
        journal): running the step again after a retry that worked says it is done."""
        for retry_id in self._retry_chain(str(failed.get("id"))):
            retried = self.get(retry_id)
            retried.outcome, retried.what = failed.outcome, failed.what
            failed = retried
            if failed.get("status") not in api.TASK_FAILED:
                break
        return failed

    def get(self, redemption_id: str) -> Record:
        """One redemption, by id (its units as ``units`` whatever the registry names them)."""
        found = self._get(path(api.REDEMPTION, "the redemption", redemption_id=redemption_id), "read the redemption")
        return Record(with_units(dict(found)))

    def wait(self, redemption_id: str, *, timeout: float = 60) -> Record:
        """The redemption once its task has ended (successful, failed or unknown; up to ``timeout`` seconds): a
        :class:`TaskError` says a failure, with the call that tries it again."""
        hint = f"retry it with client.redemptions.retry('{redemption_id}') (or the form's Retry button)"
        return self._client.wait_for_task(
            lambda: self.get(redemption_id), "redemption", timeout=timeout, retry_hint=hint
        )

    def list(
        self, *, investor_id: str | None = None, product_id: str | None = None, status: str | None = None
    ) -> ListResult:
        """Every redemption, every page, filtered by the registry where it can and here always (section 6, B)."""
        ids = {
            name: checked_id(value, name, "the redemption filter")
            for name, value in (("investor_id", investor_id), ("product_id", product_id))
            if value
        }
        return self._client.list(api.REDEMPTIONS, "list the redemptions", {**ids, "status": status}, shape=with_units)

    def frame(
        self,
        *,
        investor_id: str | None = None,
        product_id: str | None = None,
        status: str | None = None,
        show_personal_data: bool = False,
        progress: bool = True,
    ) -> DataFrame:
        """Every redemption as a DataFrame, filtered as :meth:`list` is (``progress=False`` hides the bar a long
        list shows)."""
        listed = self.list(investor_id=investor_id, product_id=product_id, status=status)
        return listed.frame(show_personal_data=show_personal_data, progress=progress)


class Transfers(Resource):
    def create(
        self,
        source_wallet: str,
        target_address: str,
        amount: int | str,
        *,
        product_id: str | None = None,
        investor_id: str | None = None,
        wait: bool = True,
        timeout: float = 60,
        reference: str | None = None,
        key: str | None = None,
        repeat: bool = False,
        on_duplicate: OnDuplicate = "ask",
        confirm_production: bool = False,
    ) -> Record:
        """Move units from a managed wallet to a registered address. The amount must be lower than the wallet's
        available balance (the documentation says "lower than")."""
        body = models.parse(
            models.Transfer,
            {
                "product": product_id or self._client.config.product_id,
                "source_wallet": source_wallet,
                "target_address": target_address,
                "amount": amount,
            },
            "the transfer",
        ).body()

        def same(item: Record) -> bool:
            return (
                all(item.get(name) == body[name] for name in ("product", "source_wallet", "amount"))
                and str(item.get("target_address", "")).lower() == body["target_address"].lower()
                and item.get("status") not in api.TASK_FAILED
            )

        def similar() -> Match | None:
            found = next((t for t in self.list() if same(t) and is_recent(t)), None)
            return Match(found, True, f"{api.units_said(body['amount'])} to the same address") if found else None

        def enough() -> None:
            if investor_id is None:
                return
            held = self._client.balance(investor_id, body["source_wallet"], body["product"])
            if body["amount"] >= held:
                raise input_error(
                    "the transfer",
                    {
                        "amount": [
                            f"The wallet holds {api.units_said(held)}; a transfer must be lower than that (the "
                            f"documented rule), so at most {held - 1}."
                        ]
                    },
                )

        task = self._client.write(
            Operation(
                "create transfer",
                "POST",
                api.TRANSFERS,
                "create the transfer",
                "transfer",
                body=body,
                reference=reference,
                key=key,
                repeat=repeat,
                on_duplicate=on_duplicate,
                moves_units=True,
                confirm_production=confirm_production,
                similar=similar,
                before_send=enough,
                sent=lambda since: _made_since(self.list(), same, since),
                verify=self.get,
                describe=lambda: f"a transfer of {api.units_said(body['amount'])}",
            )
        )
        if not wait:
            return task
        final = self._client.wait_for_task(lambda: self.get(task.id), "transfer", timeout=timeout, answer=task)
        return final.told_as(task)

    def get(self, transfer_id: str) -> Record:
        """One transfer, by id."""
        return self._get(path(api.TRANSFER, "the transfer", transfer_id=transfer_id), "read the transfer")

    def list(
        self,
        *,
        product_id: str | None = None,
        wallet_id: str | None = None,
        investor_id: str | None = None,
        status: str | None = None,
    ) -> ListResult:
        """Transfers, filtered by the registry where it can and here always: a transfer names its ``product`` and
        ``source_wallet`` (not ``product_id``, ``wallet_id``), and an investor's are those from its wallets."""
        ids = {
            name: checked_id(value, name, "the transfer filter")
            for name, value in (("product_id", product_id), ("wallet_id", wallet_id), ("investor_id", investor_id))
            if value
        }
        local: dict[str, Callable[[Record], bool]] = {}
        if "product_id" in ids:
            local["product_id"] = lambda transfer: str(transfer.get("product")) == ids["product_id"]
        if "wallet_id" in ids:
            local["wallet_id"] = lambda transfer: str(transfer.get("source_wallet")) == ids["wallet_id"]
        if "investor_id" in ids:
            wallets = {str(w.get("id")) for w in self._client.investors.wallets(ids["investor_id"])}
            local["investor_id"] = lambda transfer: str(transfer.get("source_wallet")) in wallets
        return self._client.list(api.TRANSFERS, "list the transfers", {**ids, "status": status}, local)
