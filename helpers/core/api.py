"""What our client assumes about the API where the public documentation is silent ([assumed] in
`cashlink-api.md`), and what it knows from it ([doc]). Kept in this one place so that adapting to the real API is a
one-file change. The client survives every variant of section 6 of the reference (see ``Client.check_api``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from itertools import repeat
from typing import Any

# Paths relative to the API prefix (/v2 or /distributor/v2). [doc] unless marked.
INVESTORS = "/investors/"
INVESTOR = "/investors/{investor_id}/"
IDENTIFICATIONS = "/investors/{investor_id}/identifications/"
BENEFITING_PERSONS = "/investors/{investor_id}/benefiting-persons/"
WALLETS_OF_INVESTOR = "/investors/{investor_id}/wallets/"  # GET list: [assumed]
MANAGED_WALLET = "/investors/{investor_id}/wallets/eth-managed/"
GENERIC_WALLET = "/investors/{investor_id}/wallets/eth-generic/"
DOCUMENTS = "/documents/"
PRODUCTS = "/products/"  # [assumed]
PRODUCT = "/products/{product_id}/"  # [assumed]
CAMPAIGNS = "/campaigns/"  # [assumed], filter product_id
CAMPAIGN = "/campaigns/{campaign_id}/"  # [assumed]
INVESTMENTS = "/investments/"
INVESTMENT = "/investments/{investment_id}/"
CREDITS = "/investments/{investment_id}/credits/"  # [seed]
REGISTRY_STATEMENTS = "/investments/{investment_id}/registry-statements/"
REDEMPTIONS = "/redemptions/"  # [seed]
REDEMPTION = "/redemptions/{redemption_id}/"  # GET: [assumed]
TRANSFERS = "/transfers/"
TRANSFER = "/transfers/{transfer_id}/"  # GET: [assumed]

# Pagination: DRF pages {count, next, previous, results} [doc]; a bare array is accepted too (section 6, A). We only
# follow `next` (or, when it carries page numbers, fetch the remaining pages concurrently); page_size is asked for
# and may be ignored (section 6, C).
PAGE_SIZE_PARAM = "page_size"


# Task statuses [doc]: redemptions say "success", transfers "succeeded"; "unknown" must never be retried.
class Statuses(frozenset[str]):
    """Task statuses, compared without regard to case: a registry may send 'SUCCESS' for 'success' (section 6).
    (Not read one way in :func:`read_object`: identifications spell 'SUCCESS' in capitals as their own status.)"""

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and super().__contains__(value.strip().casefold())

    def __or__(self, other: frozenset[str]) -> Statuses:  # type: ignore[override]
        return Statuses(frozenset(self) | frozenset(other))


TASK_SUCCESS = Statuses({"success", "succeeded"})
TASK_FAILED = Statuses({"failed"})
TASK_UNKNOWN = Statuses({"unknown"})
TASK_PROCESSING = Statuses({"processing"})  # not ended yet [seed]
TASK_STATUSES = TASK_SUCCESS | TASK_FAILED | TASK_UNKNOWN | TASK_PROCESSING  # every one documented

# Investment statuses [doc]; final ones never change again.
FINAL_STATUSES = frozenset(
    {"DELIVERED", "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING"}
)
INVESTMENT_STATUSES = (
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
)

STATUS_LABELS = {  # how a screen names an investment status (the meaning in section 3.1 of the reference)
    "KYC_PENDING": "Identification pending",
    "REVIEW_PENDING": "Review pending",
    "WAITING_FOR_ACCEPTANCE": "Waiting for acceptance",
    "ACCEPTED": "Accepted",
    "PAID": "Paid",
    "DELIVERED": "Delivered",
    "KYC_INSUFFICIENT": "Identification insufficient",
    "ABORTION": "Aborted by the investor",
    "REJECTION": "Rejected by the issuer",
    "CANCELLATION": "Cancelled by the investor",
    "PAYMENT_MISSING": "Payment missing",
}


def status_label(status: object) -> str:
    """An investment status as a person reads it ('Waiting for acceptance'); one the toolkit does not know, as the
    registry sent it."""
    return STATUS_LABELS.get(str(status), "" if status is None else str(status))


OTHER_STATUS_WORDS = {  # an identification's, a KYC's or a task's status, as a screen says it
    "SUCCESS": "successful",
    "PENDING": "pending",
    "FAILED": "failed",
    "NONE": "not started",
    "success": "successful",
    "succeeded": "successful",
    "processing": "processing",
    "failed": "failed",
    "unknown": "unknown (ask Cashlink)",
}
DOCUMENTED_STATUSES = frozenset(  # in capitals: a registry may write a documented one in either case
    status.upper() for status in (*INVESTMENT_STATUSES, *OTHER_STATUS_WORDS, *TASK_STATUSES)
)
WALLET_WORDS = {"eth-managed": "managed by Cashlink", "eth-generic": "the investor's own address"}


def task_stage(status: object) -> str:
    """Where a task (a redemption, a credit) stands, for what to do about it: 'successful', 'failed', 'unknown' (ask
    Cashlink), 'running' (processing, pending, not started or no status yet: look again later) or 'other' (a status
    not documented)."""
    if status in TASK_SUCCESS:
        return "successful"
    if status in TASK_FAILED:
        return "failed"
    if status in TASK_UNKNOWN:
        return "unknown"
    if status is None or status in TASK_PROCESSING or str(status).strip().lower() in ("", "pending", "none"):
        return "running"
    return "other"


def task_word(status: object) -> str:
    """A task's status (a redemption's, a credit's) as a sentence says it: 'successful', 'failed', 'processing',
    'unknown' (also for no status); a code not known here in lower case, in words ('in review')."""
    text = "" if status is None else str(status).strip().lower()
    if text in ("", "none", "unknown"):  # (no status, or 'unknown': the sentences say whom to ask)
        return "unknown" if text != "none" else "not started"
    return OTHER_STATUS_WORDS.get(text, text.replace("_", " "))


def in_words(field: str, value: object) -> str:
    """A registry's code as a screen says it ('Waiting for acceptance', 'successful', 'managed by Cashlink',
    'Germany'), by the field it is in (``status``, ``kyc_status``, ``type`` of a wallet, ``country``); anything else
    as it is."""
    text = "" if value is None else str(value)
    if field in ("status", "kyc_status"):
        return STATUS_LABELS.get(text) or OTHER_STATUS_WORDS.get(text, text)
    if field == "type":
        return WALLET_WORDS.get(text, text)
    if field in ("country", "citizenship") and re.fullmatch(r"[A-Z]{3}", text):  # Germany, not DEU
        import pycountry

        country = pycountry.countries.get(alpha_3=text)
        return str(getattr(country, "common_name", None) or country.name) if country is not None else text
    if field == "reason" and re.fullmatch(r"[A-Z]{5,}(?:_[A-Z]+)*|[A-Z]+(?:_[A-Z]+)+", text):  # Issuance (not AML)
        return text.replace("_", " ").capitalize()
    if field == "product_type" and re.fullmatch(r"[A-Z]+(?:_[A-Z]+)*", text):  # Bond, Subordinated loan
        return text.replace("_", " ").capitalize()
    return text


def status_phrase(status: object) -> str:
    """An investment status inside a sentence ('The investment is waiting for acceptance')."""
    label = status_label(status)
    return label[:1].lower() + label[1:] if str(status) in STATUS_LABELS else label


WAITING_FOR = {  # status -> (what an investment in it waits for, what to do): the report's and the credit step's
    "PAID": ("paid but not yet credited", "Credit it (notebook 2, step Credit)."),
    "ACCEPTED": ("accepted, waiting for the payment", "Mark it paid once the money arrived, then credit it."),
    "WAITING_FOR_ACCEPTANCE": ("waiting for the issuer's acceptance", "Ask the issuer to accept it."),
    "REVIEW_PENDING": ("waiting for Cashlink's review", "Ask Cashlink about the review."),
    "KYC_PENDING": (
        "waiting for the investor's identification",
        "Complete the identification, and for a company add a benefiting person (notebook 1).",
    ),
}

# When an investment entered its status, from documented fields (section 6, E: `status_changed_at` may be absent).
STATUS_SINCE = {
    "DELIVERED": "delivered_at",
    "PAID": "paid_at",
    "ACCEPTED": "accepted_at",
    "WAITING_FOR_ACCEPTANCE": "signed_at",
    "REVIEW_PENDING": "signed_at",
    "KYC_PENDING": "signed_at",
    "KYC_INSUFFICIENT": "cancellation_date",
    "ABORTION": "cancellation_date",
    "REJECTION": "cancellation_date",
    "CANCELLATION": "cancellation_date",
    "PAYMENT_MISSING": "cancellation_date",
}

# How far back a new write looks for an equal object before it is sent (section 6: "never rely on an idempotency
# key alone for a money-moving write older than a day").
DUPLICATE_WINDOW_DAYS = 7


# How the toolkit reads what the registry answers, whatever its spelling (section 6): ids in capitals, units as text
# ("5") or as whole floats (5.0), investment statuses in another case. Read one way here, so that every comparison
# (duplicate look-ups, filters, holdings, reconciliation) compares like with like; task statuses: see Statuses.
ID_FIELDS = (
    "id",
    "investor_id",
    "product_id",
    "campaign_id",
    "wallet_id",
    "investment_id",
    "redemption_id",
    "transfer_id",
    "wallet",
    "source_wallet",
    "target_wallet",
    "product",
    "investor",
)
UNIT_FIELDS = ("units", "remaining_units", "available_units", "total_units")
_KNOWN_STATUSES = {status.casefold(): status for status in INVESTMENT_STATUSES}  # (tasks: see Statuses)
_SPELLED_STATUSES = frozenset(_KNOWN_STATUSES.values())


def read_object(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (changed in place, and returned) with its ids, units and status in the toolkit's one spelling: a
    UUID in lower case, whole units as an int, an investment status in its documented case, a KYC status in
    capitals. Anything else is left as the registry sent it (a fractional unit stays a fraction: it is refused where
    it is used)."""
    read_objects([item])
    return item


def read_objects(items: list[Any]) -> list[Any]:
    """:func:`read_object` on every object of ``items`` (changed in place, and returned; what is no object is left
    as it is). It goes field by field over the whole list: a page already in the toolkit's spelling, as most are, is
    checked without a Python step per object (a page of 500 investments: about 0.6 ms instead of 1.0)."""
    objects = [item for item in items if isinstance(item, dict)]
    if not objects:
        return items
    for name in ID_FIELDS:
        _read_column(objects, name, _id_spelled, (), _ids_read)
    for name in UNIT_FIELDS:
        _read_column(objects, name, whole_number, (int,), None)
    _read_column(objects, "status", _status_spelled, (), _SPELLED_STATUSES.issuperset)
    _read_column(objects, "kyc_status", _kyc_spelled, (), None)  # an investor's identification status
    for allocations in map(dict.get, objects, repeat("allocations")):  # a redemption's investments, with their units
        if allocations and isinstance(allocations, (list, tuple)):
            read_objects(list(allocations))
    return items


def _read_column(
    objects: list[dict[str, Any]],
    name: str,
    spelled: Callable[[Any], Any],
    already: tuple[type, ...],
    all_read: Callable[[list[Any]], bool] | None,
) -> None:
    """Each object's ``name`` as ``spelled`` gives it (None: left as it is). Values of the types ``already`` are
    read as they are; ``all_read`` says at once of a column of text that all of it is."""
    values = list(map(dict.get, objects, repeat(name)))
    if values.count(None) == len(values):  # (a field these objects do not have)
        return
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds <= set(already) or (all_read is not None and kinds == {str} and all_read(list(filter(None, values)))):
        return
    for item, value in zip(objects, values):  # (a column to change: value by value)
        if (new := _changed(value, spelled)) is not None:
            item[name] = new


def _changed(value: Any, spelled: Callable[[Any], Any]) -> Any:
    """``value`` as ``spelled`` gives it, or None where that leaves it as it is."""
    if value is None:
        return None
    new = spelled(value)
    return None if new is None or (new == value and type(new) is type(value)) else new


def _ids_read(values: list[str]) -> bool:
    """Whether ids are all in the toolkit's spelling: lower case, no braces, no urn: prefix."""
    text = "\n".join(values)
    return text == text.lower() and "{" not in text and "urn:" not in text


def _id_spelled(value: Any) -> Any:
    if type(value) is str and (value != value.lower() or value.startswith(("{", "urn:"))):
        return read_id(value)  # capitals, braces ({...}), urn:uuid: (32 digits without hyphens: as sent)
    return None


def _status_spelled(value: Any) -> Any:
    return read_status(value) if type(value) is str and value not in _SPELLED_STATUSES else None


def _kyc_spelled(value: Any) -> Any:
    return value.strip().upper() if type(value) is str else None


def read_id(value: str) -> str:
    """A UUID in lower case, however the registry (or a person) spelled it; anything else as it is."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value  # not an id (an address, a name): as sent


def read_status(value: str) -> str:
    """An investment status in its documented case (``delivered`` -> ``DELIVERED``); anything else as it is."""
    return _KNOWN_STATUSES.get(value.strip().casefold(), value)


def whole_number(value: Any) -> int | None:
    """``value`` as an int where it is exactly a whole number (5, "5", " 5 ", 5.0, "5.0"); None otherwise (a float
    beyond 2**53 is not exact: 1e300 is no count of units)."""
    if type(value) is int:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= EXACT_FLOAT else None
    if isinstance(value, str):  # digits, perhaps '.0': no exponent ('1e1000000' would take minutes), no '_'
        match = WHOLE_TEXT.fullmatch(value.strip())
        return int(match.group(1)) if match else None
    return None


def units_said(value: Any) -> str:
    """A number of units in words: '1 unit', '1,500 units' ('2.5 units', '? units' as sent where it is no whole
    number: review 96's '1 units' on every screen)."""
    number = None if isinstance(value, bool) else whole_number(value)
    if number is not None:
        return f"{number:,} unit{'' if number == 1 else 's'}"
    return f"{'?' if value is None or value == '' else value} units"


EXACT_FLOAT = 2**53  # every whole number up to it is a float exactly; beyond, floats skip whole numbers
WHOLE_TEXT = re.compile(r"([+-]?[0-9]{1,40})(?:\.0*)?", re.ASCII)
