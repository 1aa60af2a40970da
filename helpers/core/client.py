"""The core client: lists that tolerate every plausible page shape, and writes whose identity is the analyst's intent.

Every write is an *operation* with an identity (its idempotency key):

* by default, its content: running the same step with the same data again is the same operation, never sent twice;
* ``reference=``: your own id for the operation (a spreadsheet row's reference, a form submission): the same
  reference is the same operation, a new reference a new one;
* ``repeat=True``: a deliberate new operation, even when an identical one exists: one more (the same step run again
  is still that one; for several, give each its own reference).

Before a new operation creates a person or moves units, the registry is searched for an equal or near-equal object
(:class:`~helpers.core.errors.PossibleDuplicate` asks; ``on_duplicate`` answers in advance). Every result says what
happened (:meth:`Record.happened`): created now, already existed, or replayed by the registry.
"""

from __future__ import annotations

import builtins
import itertools
import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

from helpers.core import api, checks, models
from helpers.core.checks import UndocumentedValueWarning
from helpers.core.compare import changed_fields
from helpers.core.config import Config, Environment, load_config
from helpers.core.errors import (
    ENVELOPE_KEYS,
    APIConnectionError,
    CashlinkError,
    ConfigurationError,
    ConflictError,
    InputError,
    NotFoundError,
    NotListed,
    OutcomeUnknown,
    PermissionDeniedError,
    PossibleDuplicate,
    TaskError,
    ValidationError,
    personal_values,
    registry_detail,
    scrubbed,
    without_names,
)
from helpers.core.journal import OWNER_LEASE, AuditLine, Entry, Journal, TwinInFlight, content_hash, derive_key
from helpers.core.records import Outcome, Record, Records
from helpers.core.transport import AmbiguousWrite, Answer, Transport, abandoned_when, decode_body, in_place

if TYPE_CHECKING:
    from helpers.core.resources import (
        Campaigns,
        Documents,
        Investments,
        Investors,
        Products,
        Redemptions,
        Transfers,
    )

log = logging.getLogger("helpers")
OnDuplicate = Literal["ask", "use", "update", "create"]
Progress = Callable[[str, Record, float], None]  # (what, current object, seconds waited)
PageProgress = Callable[[int, int | None], None]  # (objects fetched so far, the registry's count if it gave one)
T = TypeVar("T")
LOST_ANSWER_ATTEMPTS = 4
SETTLE_SECONDS = 1.5  # after a lost answer, a look that finds nothing is made again this much later
SENDING_ELSEWHERE = (
    "Another session (a notebook or Python process sharing this journal) is sending this operation right now. "
    "Nothing was sent. Run it again in a moment: it will find that session's result."
)
LEGACY_JOURNAL = Path("~/.cache/cashlink-toolkit/journal.sqlite3")  # version 0.1: one per machine, bodies in clear
# How far the clock that stamps the registry's created_at may be from the registry's answers' Date (a proxy may add
# its own), or from this machine's clock before any answer: times closer than this are not told apart.
CLOCK_TOLERANCE = timedelta(minutes=5)
FOUND_UNANSWERED = "found: made by an unanswered attempt"  # (the audit trail's outcomes)
FOUND_SINCE_UNANSWERED = "found: made since an unanswered attempt"  # (what a look without sending can tell)


class FilterIgnoredWarning(UserWarning):
    """The registry returned objects that do not match a filter (it does not support it): filtered here instead."""


class ListChangedWarning(UserWarning):
    """Objects were added to or removed from a list while its pages were read."""


class CannotReadWarning(UserWarning):
    """Something the toolkit checks or follows was left unread: these credentials may not read it (no read
    scope), or the registry offers no such list."""


class CannotCompareWarning(CannotReadWarning):
    """A write went without looking for an identical object first: the registry could not be searched (no read
    scope, or no such list)."""


class CannotFollowWarning(CannotReadWarning):
    """A task (a credit, a redemption, a transfer) was sent and how it ends cannot be followed: these credentials
    may not read it. The write's own answer is what is known."""


class _ClaimedElsewhere(Exception):
    """Another session changed the operation's journal row between this one's look and its claim."""


class ConfirmationRequired(CashlinkError):
    """A write that moves units on the production registry, not yet confirmed."""


# --- lists --------------------------------------------------------------------------------------------------------


def page_items(body: Any, action: str) -> tuple[list[Any], int | None, str | None]:
    """The items, total count and next link of one page: a DRF envelope or a bare array (section 6, A)."""
    if isinstance(body, list):
        return body, len(body), None
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        count = body.get("count")
        return body["results"], count if isinstance(count, int) else None, body.get("next") or None
    raise ValidationError(
        f"Could not {action}: the registry answered with neither a list nor a page of results. "
        "Check CASHLINK_BASE_URL and CASHLINK_API_PREFIX."
    )


def numbered_pages(next_url: str | None) -> tuple[str, int] | None:
    """When ``next`` is page-number style (``?page=2``, nothing else that moves), its URL pattern and number."""
    if not next_url:
        return None
    parts = urlsplit(next_url)
    query = parse_qs(parts.query)
    if (
        list(query.get("page", []))
        and len(query["page"]) == 1
        and query["page"][0].isdigit()
        and not ({"after", "cursor", "offset"} & set(query))
    ):
        return next_url, int(query["page"][0])
    return None


NEXT_LINK = re.compile(rb'"next"\s*:\s*("(?:[^"\\]|\\.)*"|null)')


def next_link_ahead(content: bytes) -> str | None:
    """A page's ``next`` link read from its undecoded bytes: DRF puts ``count``, ``next`` and ``previous`` before
    ``results``, so the link is found without decoding the page. None when it is not found there."""
    head = content.find(b'"results"')
    match = NEXT_LINK.search(content, 0, head) if head > 0 else None
    if match is None or match.group(1) == b"null":
        return None
    try:
        link = json.loads(match.group(1))
    except ValueError:
        return None
    return link if isinstance(link, str) and link else None


def _names_an_object(path: str) -> bool:
    """Whether an API path goes through an object's id (``/investors/<id>/wallets/``): a sub-list."""
    return any(checks.is_uuid(part) for part in urlsplit(path).path.split("/"))


def _resolved(page_url: str, link: str | None) -> str | None:
    """A page's ``next`` link as an absolute URL (a registry may give it relative to the page)."""
    return urljoin(page_url, link) if link else None


def with_page(url: str, number: int) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["page"] = [str(number)]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


@dataclass(repr=False)
class ListResult:
    """All objects of a list endpoint, fetched page by page only as they are iterated.

    Filters are sent to the registry and applied again here: an object that does not match is dropped, and a
    :class:`FilterIgnoredWarning` says once that the registry ignored the filter (section 6, B).

    Pages come in the registry's order, each fetched once. Nothing beyond the first page is fetched until it is
    asked for (``first()`` sends one request). After that, the next page is fetched while the current one is being
    used; when ``next`` carries page numbers and the first page gave the count, the remaining pages are fetched
    concurrently (``config.concurrency`` at a time, at most twice that many pages held at once). ``progress`` (if
    set) is called after every page with the objects fetched so far and the registry's count.
    """

    client: Client
    path: str
    action: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    local_filters: Mapping[str, Callable[[Record], bool]] = field(default_factory=dict)
    count: int | None = None  # the registry's count, known after the first page
    progress: PageProgress | None = None
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # an object as the toolkit reads it (aliases)

    def __repr__(self) -> str:
        """The list and the names of its filters, never their values (an e-mail searched for ends up in a log)."""
        named = {key for key, value in self.filters.items() if value not in (None, "")} | set(self.local_filters)
        filters = ", ".join(sorted(named))
        known = f", count={self.count}" if self.count is not None else ""
        return f"ListResult({self.path!r}{', filtered by ' + filters if filters else ''}{known})"

    def _params(self) -> dict[str, Any]:
        params = {key: value for key, value in self.filters.items() if value not in (None, "")}
        params[api.PAGE_SIZE_PARAM] = self.client.config.page_size
        return params

    def raw_pages(self) -> Iterator[list[Any]]:
        """The registry's pages as lists of plain objects, unfiltered, in order. A list that changed while it was
        read (its count then differs from what was read) is said with a :class:`ListChangedWarning`."""
        read = 0
        for items in self._pages():
            read += len(items)
            yield items
        if self.count is not None and read != self.count:
            answer = self.client.transport.get(self.path, self.action, self._params())
            now = page_items(answer.body, self.action)[1]
            if now == self.count:  # the same count before and after: it is the count that is off, not the list
                warnings.warn(
                    f"The registry counts {self.count:,} for this list ({self.action}), but its pages held {read:,}, "
                    "from the first page to the one that said it was the last. What its pages held was read. If "
                    "something seems missing, tell Cashlink's support that the list's count and its pages disagree.",
                    ListChangedWarning,
                    stacklevel=_caller_level(),
                )
                return
            warnings.warn(
                f"The list changed while it was read ({self.action}: {self.count} when it started, "
                f"{now if now is not None else 'an unknown number'} now, {read} read): what was read may mix the "
                "two states. Run it again for one state.",
                ListChangedWarning,
                stacklevel=_caller_level(),
            )

    def _pages(self) -> Iterator[list[Any]]:
        transport = self.client.transport
        try:
            first = transport.get(self.path, self.action, self._params())
        except CashlinkError as exc:
            if isinstance(exc, NotListed) or exc.status not in (404, 405):
                raise
            if exc.status == 404 and _names_an_object(self.path) and not self._parent_exists():
                raise  # the object the list belongs to is missing (an investor not found), not the list
            raise NotListed(
                f"Could not {self.action}: the registry does not offer this list (it answered {exc.status} to "
                f"GET {self.path}). Writes go on without looking for an identical object there (their idempotency "
                "key still guards a re-run); to read these objects, ask the registry's operator for the list, or "
                "check CASHLINK_API_PREFIX.",
                status=exc.status,
                body=exc.body,
                request_id=exc.request_id,
            ) from None
        items, self.count, next_url = page_items(first.body, self.action)
        next_url = _resolved(transport.url(self.path), next_url)
        if next_url and self.count is not None and self.count <= len(items):
            self.count = None  # a next page, yet no more than this one counted: the page's count, not the list's
        fetched = len(items)
        self._report(fetched)
        yield items
        if not next_url:
            return
        numbered = numbered_pages(next_url)
        workers = self.client.config.concurrency
        if numbered and self.count and items and workers > 1:
            pattern, start = numbered
            last = -(-self.count // len(items))
            urls = (with_page(pattern, number) for number in range(start, last + 1))
            next_url = None
            for items, following in in_order(self._fetch_numbered, urls, workers, 2 * workers):
                if not items:  # the list shrank while it was read (or the page is missing: then an error)
                    self._shrank_since(fetched)
                    return
                next_url = following
                fetched += len(items)
                self._report(fetched)
                yield items
                if not following:  # the registry says this page is its last: beyond it, only what its count says
                    return
            if not next_url:
                return
            # the list grew while it was read: what follows the counted pages, one by one
        try:
            for items in self._following(next_url):
                fetched += len(items)
                self._report(fetched)
                yield items
        except NotFoundError as exc:  # a page its own list linked to is missing: never a short list
            if isinstance(exc, NotListed):
                raise
            raise self._page_missing(
                f"a page the list linked to answered 'not found' after {fetched} objects were read"
            ) from None

    def _parent_exists(self) -> bool:
        """Whether the object a sub-list belongs to (``/investors/<id>/`` of ``/investors/<id>/wallets/``) is there."""
        parts = urlsplit(self.path).path.split("/")
        last_id = max(index for index, part in enumerate(parts) if checks.is_uuid(part))
        try:
            self.client.transport.get("/".join(parts[: last_id + 1]) + "/", self.action)
        except NotFoundError:
            return False
        return True

    def _fetch(self, url: str) -> tuple[list[Any], str | None]:
        items, _count, next_url = page_items(self.client.transport.get(url, self.action).body, self.action)
        return items, _resolved(self.client.transport.url(url), next_url)

    def _shrank_since(self, fetched: int) -> None:
        """A counted page came back empty or not found: fine if the list shrank since it was counted; otherwise the
        page could not be read, and a short list would pass for the whole one."""
        answer = self.client.transport.get(self.path, self.action, self._params())
        _items, count, _next = page_items(answer.body, self.action)
        if count is not None and count > fetched:
            raise self._page_missing(
                f"a page of the list answered 'not found' although the registry counts {count} and {fetched} were read"
            )

    def _page_missing(self, what: str) -> NotFoundError:
        return NotFoundError(
            f"Could not {self.action}: {what}, so nothing is returned rather than an incomplete list. Run it again; if "
            "it happens again, check CASHLINK_BASE_URL and CASHLINK_API_PREFIX (the pages' links must lead back to "
            "the registry).",
            status=404,
        )

    def _fetch_numbered(self, url: str) -> tuple[list[Any], str | None]:
        try:
            return self._fetch(url)
        except NotFoundError:  # a page past the end ("Invalid page."): the list shrank since the count
            return [], None

    def _fetch_undecoded(self, url: str) -> bytes:
        content: bytes = self.client.transport.get(url, self.action, undecoded=True).body
        return content

    def _following(self, url: str) -> Iterator[list[Any]]:
        """Follow ``next`` from ``url``. A page thread reads ahead: as soon as a page's bytes are in, it reads its
        ``next`` from them and asks for that page, so the registry prepares it while this one is decoded and used
        (the decoded link is the one that counts: should it differ, the pages are read again from it)."""
        reader = _ReadAhead(self._read_ahead, url)
        try:
            while (page := reader.next()) is not None:
                here, content, ahead = page
                items, _count, next_url = page_items(decode_body(content), self.action)
                next_url = _resolved(here, next_url)
                if next_url != ahead:
                    reader.stop()
                    reader = _ReadAhead(self._read_ahead, next_url)
                yield items
        finally:
            reader.stop()

    def _read_ahead(self, url: str | None, ahead: _ReadAhead) -> None:
        """In the page thread: each page's bytes from ``url`` on, with where it is and its ``next`` link ahead of
        decoding, handed to ``ahead``, and the next page asked for at once (as many ahead as it has room for)."""
        while url and ahead.room():
            content = self._fetch_undecoded(url)
            here = self.client.transport.url(url)  # links may be relative to the page they are on
            url = _resolved(here, next_link_ahead(content))
            ahead.put((here, content, url))

    def _report(self, fetched: int) -> None:
        if self.progress is not None:
            self.progress(fetched, self.count)

    def plain_pages(self) -> Iterator[list[dict[str, Any]]]:
        """The pages as plain objects (dicts), with the filters applied here too."""
        checks_ = self._checks()
        for items in self.raw_pages():
            items = api.read_objects(items)
            if self.shape is not None:
                items = [self.shape(item) if isinstance(item, dict) else item for item in items]
            if checks_:
                kept = []
                for item in items:
                    failed = next((name for name, check in checks_.items() if not check(item)), None)
                    if failed is None:
                        kept.append(item)
                    elif self.filters.get(failed) not in (None, ""):  # sent, and the registry sent it back anyway
                        self.client.note_ignored_filter(self.path, failed)
                items = kept
            yield items

    def pages(self) -> Iterator[list[Record]]:
        for items in self.plain_pages():
            yield [Record(item) for item in items]

    def _checks(self) -> dict[str, Callable[[Mapping[str, Any]], bool]]:
        result = {name: _on_record(check) for name, check in self.local_filters.items()}
        for name, value in self.filters.items():
            if value not in (None, "") and name not in result:
                result[name] = _matches(name, value, self.action)
        return result

    def __iter__(self) -> Iterator[Record]:
        for page in self.pages():
            yield from page

    def to_list(self) -> Records:
        """Every object, every page, as a list (shown in a notebook as their cards)."""
        return Records(self)

    def first(self) -> Record | None:
        return next(iter(self), None)

    def frame(self, **options: Any) -> Any:
        """Every object as a DataFrame (needs the data layer: ``helpers.connect()`` gives a client that has it).
        ``progress=False`` hides the progress bar a long list shows."""
        return self.client.tabulate(self, **options)


class _ReadAhead:
    """Pages a thread reads ahead of the one using them: at most ``PAGES_AHEAD`` waiting, so the next request leaves
    as soon as a page is in (from the thread that read it, with no wait for another thread) while memory stays
    bounded. ``read(url, self)`` runs in that thread; its error is raised by :meth:`next`. The thread is a daemon: a
    list left half read (never closed) does not hold up the end of Python while it waits for its reader; until the
    list is closed or deleted, it holds that thread and up to two pages."""

    PAGES_AHEAD = 2

    def __init__(self, read: Callable[[str | None, _ReadAhead], None], url: str | None) -> None:
        self._pages: queue.SimpleQueue[tuple[str, bytes, str | None] | None] = queue.SimpleQueue()
        self._free = threading.Semaphore(self.PAGES_AHEAD)
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(read, url), name="helpers-page", daemon=True)
        self._thread.start()

    def _run(self, read: Callable[[str | None, _ReadAhead], None], url: str | None) -> None:
        try:
            with abandoned_when(self._stopped):  # once stopped, its request is not sent again after a pause
                read(url, self)
        except BaseException as exc:  # raised in the reader's thread, by next()
            self._error = exc
        finally:
            self._pages.put(None)  # the end, or an error

    def room(self) -> bool:
        """Wait for room for one more page; False once the reader is stopped."""
        self._free.acquire()
        return not self._stopped.is_set()

    def put(self, page: tuple[str, bytes, str | None]) -> None:
        self._pages.put(page)

    def next(self) -> tuple[str, bytes, str | None] | None:
        """The next page (where it is, its bytes, its ``next`` read ahead), or None after the last one."""
        page = self._pages.get()
        if page is None:
            if self._error is not None:
                raise self._error
            return None
        self._free.release()
        return page

    def stop(self) -> None:
        """No more pages. Returns at once: the thread ends by itself once the request it may be waiting for is
        answered (or at the end of a retry's pause: it is not sent again), and what it read is dropped. No one waits
        for a page no one needs, nor for a Retry-After's pause; the garbage collector, closing a list in its own page
        thread, does not wait for that thread."""
        self._stopped.set()
        self._free.release()  # (a thread waiting for room sees it stopped)


def in_order(fetch: Callable[[str], T], urls: Iterable[str], workers: int, window: int) -> Iterator[T]:
    """``fetch(url)`` for every url with ``workers`` threads, yielded in the order of ``urls``; at most ``window``
    results are fetched or held ahead of the consumer (memory stays bounded however long the list). Once the consumer
    stops, it goes on at once: what has not started is not sent, and what has is not sent again after a retry's
    pause."""
    pending: deque[Future[T]] = deque()
    remaining = iter(urls)
    stopped = threading.Event()

    def fetch_until_stopped(url: str) -> T:
        with abandoned_when(stopped):
            return fetch(url)

    pool = ThreadPoolExecutor(workers, thread_name_prefix="helpers-pages")
    try:
        for url in itertools.islice(remaining, max(window, 1)):
            pending.append(pool.submit(fetch_until_stopped, url))
        while pending:
            result = pending.popleft().result()
            following = next(remaining, None)
            if following is not None:
                pending.append(pool.submit(fetch_until_stopped, following))
            yield result
    finally:
        stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)  # (a fetch under way ends by itself, sent no more)


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package (the analyst's code), however
    deep in pages, iterators and frames the list was read."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _on_record(check: Callable[[Record], bool]) -> Callable[[Mapping[str, Any]], bool]:
    return lambda item: check(item if isinstance(item, Record) else Record(item))


def _matches(name: str, value: Any, action: str) -> Callable[[Mapping[str, Any]], bool]:
    """A filter applied here: the object's field equals the value. An object without an id or status field
    (``*_id``, ``*status``) it is filtered by cannot be told apart: an error, never a list that quietly holds others'
    objects (or none). Other parameters (``page_size``, a search) need not be fields: objects without them are
    kept."""
    field_filter = name.endswith(("_id", "status"))
    if field_filter and isinstance(value, str):  # spelled as the registry's objects are read (api.read_object)
        value = _read_like(name, value)

    def check(record: Mapping[str, Any]) -> bool:
        if name not in record:
            if not field_filter:
                return True
            raise ValidationError(
                f"Could not {action} by {name}: the registry's objects carry no field '{name}', so they cannot be "
                "filtered by it here and nothing is shown rather than others' objects. Run client.check_api() and "
                "report its table to the team (the registry names its fields otherwise)."
            )
        got = record[name]
        if str(got) == str(value):
            return True
        return field_filter and isinstance(got, str) and _read_like(name, got) == value

    return check


def _read_like(name: str, value: str) -> str:
    return api.read_id(value) if name.endswith("_id") else api.read_status(value)


# --- operations -----------------------------------------------------------------------------------------------------


@dataclass
class Match:
    """An object in the registry equal or near-equal to what a write would create."""

    existing: Record
    equal: bool  # the same content, not only the same e-mail, IBAN or name
    reason: str  # e.g. "the same e-mail and IBAN"
    same_party: bool = True  # False: only an e-mail or IBAN in common (a joint account), another name or birth date
    differs: str = ""  # what is not the same, e.g. "another e-mail and IBAN"


def _a(what: str) -> str:
    """'an investor', 'a wallet'."""
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


KEY_IN_USE_WORDS = ("in progress", "being processed", "processing", "in use", "concurrent")


def _key_in_use(error: CashlinkError) -> bool:
    """A 409 that says a request under the same idempotency key is still being processed (as Stripe's): it passes,
    and the same request sent again then gets its answer."""
    said = registry_detail(error.body).lower()
    return error.status == 409 and "key" in said and any(words in said for words in KEY_IN_USE_WORDS)


def _uuid_or_none(value: Any) -> str | None:
    """``value`` as a UUID (the only thing put into a URL), or None."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _key_label(key: str) -> str:
    """How the audit trail names an operation sent under a raw key (no reference of a person's)."""
    return f"key {key[:12]}"


def _did_not_act(error: CashlinkError) -> bool:
    """The registry made nothing: it answered a redirect (not followed; a 303 says it was done: an OutcomeUnknown,
    a conflict), 4xx (not a conflict with an earlier request) or 503 with a Retry-After (a 503 without one is a lost
    answer: see transport.WRITE_NOT_ACTED_STATUSES), or the request never left (the transport says
    APIConnectionError for a write only when the connection never opened)."""
    status = error.status or 0
    if isinstance(error, InputError):  # refused here, before sending
        return True
    if isinstance(error, APIConnectionError):
        return not isinstance(error, AmbiguousWrite)
    return not isinstance(error, ConflictError) and (300 <= status < 500 or status == 503)


SEND_AS_NEW = "give it a reference of its own (reference='…'; in a form, the button 'Send as a new …')"


@dataclass
class Operation:
    """One write, as the client sends it (see the module documentation)."""

    name: str  # e.g. "create investor" (journal and audit)
    method: str
    path: str
    action: str  # completes "could not ...": "create the investor"
    what: str  # "investor"
    body: Any = field(default=None, repr=False)  # (what is sent names a person: never in a repr or a traceback)
    files: Any = field(default=None, repr=False)
    content: Any = field(default=None, repr=False)  # what identifies the content without a JSON body (an upload's)
    reference: str | None = None
    key: str | None = None
    repeat: bool = False
    on_duplicate: OnDuplicate = "ask"
    moves_units: bool = False
    confirm_production: bool = False
    similar: Callable[[], Match | None] | None = None
    looked_at: datetime | None = None  # when ``similar`` read the registry, if before the write (a bulk import's list)
    resend_unseen: bool = True  # after a lost answer, send again though nothing can look for the object first
    holds: Callable[[Record], bool] | None = None  # a done operation's object still shows its effect (an update)
    same_party: Callable[[Record], bool] | None = None  # new data under a used reference describes the same party
    differs: Callable[[Record], str] | None = None  # what of the new data differs from that object, in words
    sent: Callable[[datetime], builtins.list[Record]] | None = None  # identical objects made since (lost answers)
    identical_now: Callable[[], Iterable[str]] | None = None  # ids of identical objects there now (default: sent)
    made_nothing: Callable[[Record], bool] | None = None  # an answer that made nothing lasting (a failed credit task)
    verify: Callable[[str], Record] | None = None
    before_send: Callable[[], None] | None = None
    update: Callable[[Record], Record] | None = None
    describe: Callable[[], str] | None = None  # "a redemption of 50 units" for questions
    send_again: str = SEND_AS_NEW  # how to send it again as a new operation, after "to send it again,"
    correct: str = ""  # how to correct what its reference made, where no update can (after "to change it,")
    if_unknown: str = ""  # what to do once looked in Cashlink Studio, where the outcome is unknown (whole sentences)

    @property
    def identity_content(self) -> Any:
        return self.body if self.content is None else self.content

    @property
    def explicit(self) -> bool:
        """True when the caller named the operation (reference, key, repeat), not only its content."""
        return bool(self.reference or self.key or self.repeat)


INVESTMENT_STATUSES = frozenset(status.upper() for status in api.INVESTMENT_STATUSES)


def makes_an_object(operation: Operation) -> bool:
    """A create or an upload: its answer is the object it made, with its id (a credit's answer is a task or a status,
    and may have none)."""
    return operation.method == "POST" and operation.name.startswith(("create", "upload"))


def unwrapped(body: Any) -> Any:
    """A write's answer as the object (or task) it names, where the registry wrapped it: its ``data`` or ``result``
    member, the one member of a wrapper of another name, an envelope's (``{"status": "success", "data": {...}}``,
    JSend's, with ``meta`` or ``message`` too), or the one item of a list. An answer with an id, or a status and
    members of its own (a task: ``{"task_id", "status", "result"}``), is the object itself."""
    if isinstance(body, dict):
        if body.get("id") or (body.get("status") and not body.keys() <= ENVELOPE_KEYS):  # an object; a task
            return body
        inner = [body[name] for name in ("data", "result") if name in body] or (
            list(body.values()) if len(body) == 1 else []
        )
    else:
        inner = [body] if isinstance(body, list) else []
    for candidate in inner:
        if isinstance(candidate, list) and len(candidate) == 1:
            candidate = candidate[0]
        if isinstance(candidate, dict) and (candidate.get("id") or candidate.get("status")):
            return candidate
    return body


def _made_object(body: dict[str, Any], location: str | None, posted_to: str) -> dict[str, Any] | None:
    """The object a create's answer names by its id in ``Location`` only (a 201 with an empty body), where that lies
    in the list posted to (a task's address is not the object's). None when it does not name it."""
    if not in_place(posted_to, location):
        return None
    last = urlsplit(urljoin(posted_to, location or "")).path.rstrip("/").rsplit("/", 1)[-1]
    return (
        {**{k: v for k, v in body.items() if k != "result"}, "id": api.read_id(last)} if checks.is_uuid(last) else None
    )


def _known(match: Match) -> Callable[[], Match | None]:
    """A duplicate check that finds ``match`` (the object an identical write of another session made)."""
    return lambda: match


def _checks_duplicates(operation: Operation) -> bool:
    """True when the registry is searched for an equal or similar object before ``operation`` is sent."""
    return not operation.repeat and operation.on_duplicate != "create" and operation.similar is not None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


ZONELESS_SLACK = timedelta(hours=14)  # a time given without a zone may be in any of them (UTC-12 to UTC+14)


def _created_at(record: Mapping[str, Any]) -> datetime | None:
    """When the registry made ``record``, from ``created_at`` (a time without a zone read as UTC: see
    :func:`zoneless`)."""
    return checks.registry_moment(record.get("created_at"))


def zoneless(record: Mapping[str, Any]) -> bool:
    """True when ``created_at`` is a time without a zone: read as UTC, it may be hours off (the documentation
    names none), so comparisons with it allow :data:`ZONELESS_SLACK` either way."""
    try:
        return datetime.fromisoformat(str(record.get("created_at")).replace("Z", "+00:00")).tzinfo is None
    except ValueError:
        return False


def is_recent(record: Mapping[str, Any], days: int = api.DUPLICATE_WINDOW_DAYS) -> bool:
    created = _created_at(record)
    return created is None or created >= datetime.now(UTC) - timedelta(days=days)


def made_when(record: Mapping[str, Any]) -> str:
    """'today at 10:02 UTC' or 'on 2024-02-03 at 10:02 UTC' (or 'earlier'), from the record's ``created_at``."""
    created = _created_at(record)
    if created is None:
        return "earlier"
    today = datetime.now(UTC).date()
    day = "today" if created.date() == today else f"on {created:%Y-%m-%d}"
    if zoneless(record):  # the registry's own clock, which it does not name
        return f"{day} at {created:%H:%M} (the registry names no time zone)"
    return f"{day} at {created:%H:%M} UTC"


class Client:
    """A connection to the registry API: one transport, one token, one journal (core: no pandas, no widgets)."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        journal: Journal | None = None,
        transport: Transport | None = None,
        progress: Progress | None = None,
    ) -> None:
        from helpers.core import resources

        self.config = config or load_config()
        self.transport = transport or Transport(self.config)
        self._journal = journal
        self._journal_opening = threading.Lock()  # a bulk import's workers may all ask for it at once
        self._sandbox: bool | None = None  # see is_sandbox
        self.namespace = self.config.namespace
        self.progress = progress
        self.capabilities: dict[str, Any] = {}
        self._ignored_filters: set[tuple[str, str]] = set()
        # investors this client created, and when (time.monotonic()): moments later they have no sub-objects yet
        self.created_here: dict[str, float] = {}
        self._ends_audited: set[str] = set()  # tasks whose failed or unknown end this client audited
        self.written_lists: set[str] = set()  # their sub-lists written to since (no longer known empty)
        self.documents: Documents = resources.Documents(self)
        self.investors: Investors = resources.Investors(self)
        self.products: Products = resources.Products(self)
        self.campaigns: Campaigns = resources.Campaigns(self)
        self.investments: Investments = resources.Investments(self)
        self.redemptions: Redemptions = resources.Redemptions(self)
        self.transfers: Transfers = resources.Transfers(self)

    @property
    def is_sandbox(self) -> bool:
        """True when the registry is the local sandbox: on this machine and answering as the sandbox (asked once).
        A registry reached through a tunnel on this machine (ssh, kubectl port-forward) is not: no placeholder
        document, demo value or sample ledger is offered to it, and its writes are confirmed as production's
        (review 86)."""
        if not self.config.is_sandbox:
            return False
        if self._sandbox is None:  # (two threads asking at once both ask: the same answer)
            self._sandbox = self.transport.answers_as_sandbox()  # (no answer: asked again next time; review 87)
        return bool(self._sandbox)

    @property
    def environment(self) -> Environment:
        """Which registry writes go to (the badge's word): one on this machine that does not answer as the sandbox
        is taken for production (what lies at a tunnel's far end is not known)."""
        if self.config.is_sandbox and not self.is_sandbox:
            return "production"
        return self.config.environment

    @property
    def journal(self) -> Journal:
        """The journal, opened on first use (so read-only work never touches the disk)."""
        with self._journal_opening:
            if self._journal is None:
                journal = Journal(self.config.journal_file, self.config.journal_days)
                if self.config.journal_path is None:  # the default place: adopt version 0.1's machine-wide journal
                    journal.adopt(LEGACY_JOURNAL)
                self._journal = journal
            return self._journal

    def __repr__(self) -> str:
        return f"Client(base_url={self.config.root_url!r}, client_id={self.config.client_id!r})"

    def describe(self) -> str:
        where = {"sandbox": "the local sandbox", "demo": "a demo registry", "production": "the PRODUCTION registry"}[
            self.environment
        ]
        return (
            f"Connected to {where} at {self.config.root_url} as {self.config.client_id} "
            f"(settings: {self.config.source})."
        )

    # --- reads ----------------------------------------------------------------------------------------------------

    def get(self, path: str, action: str, params: Mapping[str, Any] | None = None) -> Any:
        body = self.transport.get(path, action, dict(params or {})).body
        return api.read_object(body) if isinstance(body, dict) else body

    def items(self, path: str, action: str) -> builtins.list[Record]:
        """A sub-resource list (wallets, identifications, ...): a bare array or pages, every page."""
        return ListResult(self, path, action).to_list()

    def list(
        self,
        path: str,
        action: str,
        filters: Mapping[str, Any] | None = None,
        local_filters: Mapping[str, Callable[[Record], bool]] | None = None,
        shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> ListResult:
        return ListResult(self, path, action, dict(filters or {}), dict(local_filters or {}), shape=shape)

    def note_ignored_filter(self, path: str, name: str) -> None:
        if (path, name) in self._ignored_filters:
            return
        self._ignored_filters.add((path, name))
        self.capabilities.setdefault("filters_ignored", set()).add(f"{path}?{name}")
        warnings.warn(
            f"The registry does not filter {path.strip('/').split('/')[-1] or 'this list'} by "
            f"{name.replace('_', ' ')} (an undocumented filter there: {name} on {path}); the toolkit filtered them "
            "itself, so what is shown is right.",
            FilterIgnoredWarning,
            stacklevel=_caller_level(),
        )

    def tabulate(self, records: Any, **options: Any) -> Any:
        raise ConfigurationError(
            "DataFrames come from the data layer: use helpers.connect() or helpers.Client (not helpers.core's client)."
        )

    # --- writes ---------------------------------------------------------------------------------------------------

    def key_of(self, operation: Operation) -> str:
        """The idempotency key: from the raw key, the reference, the content marked as a repeat, or the content."""
        if operation.key:
            return operation.key
        op = f"{operation.method} {operation.path}"
        if operation.reference:
            return self.identity_of_reference(operation.method, operation.path, operation.reference)
        if operation.repeat:  # one more than the identical ones: the same one again when its step runs again (the
            return derive_key(self.namespace, op, {"repeat": operation.identity_content})  # key sent: _first_key)
        return derive_key(self.namespace, op, operation.identity_content)

    def identity_of_reference(self, method: str, path: str, reference: str) -> str:
        """The journal's identity of the operation ``reference`` names (as :meth:`key_of` makes it)."""
        return derive_key(self.namespace, f"{method} {path}", {"reference": reference})

    def _reference_label(self, operation: Operation, key: str) -> str:
        if operation.reference:
            return checks.quote(operation.reference, 60).strip("'")
        if operation.key:
            return _key_label(key)
        return f"{'repeat' if operation.repeat else 'content'} {key[:8]}"

    def done_id(self, key: str) -> str | None:
        """The registry's id of what the operation under ``key`` (its explicit key) made or found, as this journal
        recorded it; None where it is not done."""
        entry = self.journal.get(key)
        return entry.registry_id if entry is not None and entry.state == "done" else None

    def settle_unanswered(self, key: str, sent: Callable[[datetime], builtins.list[Record]]) -> Record | None:
        """A step a bulk import finds done instead of writing it (the investor has its identification or wallet),
        where this journal holds that step's attempt under ``key`` whose answer never came (a run killed while it
        was sent): what that attempt made is looked for as after a lost answer (``sent(since)``: the objects like
        the one it sent, made since), and recorded as its object, with the audit line 'found: made since an
        unanswered attempt' (whether the attempt made it, or left at all, nothing here can tell). Nothing is sent.
        None where there is no such attempt, nothing like it is found (whatever the investor has otherwise is no
        answer to it), or another session claimed it meanwhile."""
        entry = self.journal.get(key)
        if entry is None or entry.state != "sent" or self.journal.sending_elsewhere(entry):
            return None
        try:
            made = self._found_since(sent, key, self._since(entry), set(entry.before))
        except (NotListed, PermissionDeniedError):
            return None
        if made is None:
            return None
        line = self._audit_line_of(entry.operation, _key_label(key), made.get("id"), FOUND_SINCE_UNANSWERED)
        return made if self.journal.settle(entry, made.get("id"), line) else None  # (claimed since: not settled)

    def write(self, operation: Operation) -> Record:
        """Send ``operation`` at most once per identity, and return the registry's object with its outcome."""
        if operation.moves_units and self.environment == "production" and not operation.confirm_production:
            what = operation.describe() if operation.describe else operation.what
            raise ConfirmationRequired(
                f"This would make {what} on the PRODUCTION registry {self.config.host}: real units move. Nothing was "
                "sent. Confirm with confirm_production=True (forms ask with a second button)."
            )
        identity = self.key_of(operation)
        hashed = content_hash(self.namespace, operation.identity_content)
        for _look in range(3):
            entry = self.journal.get(identity)
            if entry is not None and self.journal.sending_elsewhere(entry):  # wait for that session's answer
                entry = self.journal.wait_while_sending(entry)
                if entry is not None and self.journal.sending_elsewhere(entry):
                    raise ConflictError(
                        f"Another session sharing this journal is sending this operation: "
                        f"{self.journal.describe_sender(entry)}. Nothing was sent. Run it again once that session is "
                        "done; if it was stopped (a restarted kernel or container), run it again after that time: "
                        "it then looks for what that session's attempt made before sending anything."
                    )
            try:
                return self._write(operation, identity, hashed, entry)
            except _ClaimedElsewhere:  # another session claimed it between the look and the claim: look again
                continue
            except TwinInFlight as twin:  # the same write, sent now under another reference: wait for its object
                after = self.journal.wait_while_sending(twin.entry) or twin.entry
                if self.journal.sending_elsewhere(after):
                    raise ConflictError(
                        f"Another session sharing this journal is sending an identical {operation.what} under another "
                        f"reference: {self.journal.describe_sender(twin.entry)}. Nothing was sent. Run this again "
                        "once that session is done: it then asks whether to make a second one."
                    ) from None
                made = self._verify(operation, after.registry_id) if after.state == "done" else None
                if made is not None and made.get("status") not in api.TASK_FAILED:  # asked about, as any identical
                    operation = replace(  # (a list read before may not show it yet)
                        operation,
                        similar=_known(Match(made, True, "the same data, sent a moment ago by another session")),
                    )
                else:  # gone, or a task that failed: not what this write would make; look again from now on
                    operation = replace(operation, looked_at=datetime.now(UTC))
                continue
            except BaseException:
                self.journal.release(identity)  # if this call claimed it and got no answer: found unanswered later
                raise
        raise ConflictError(SENDING_ELSEWHERE)

    def _write(self, operation: Operation, identity: str, hashed: str, entry: Entry | None) -> Record:
        found, entry = self._earlier_attempt(operation, identity, hashed, entry)
        if found is not None:
            return found
        unanswered = entry is not None and entry.state == "sent" and entry.content_hash == hashed and not entry.fresh
        if unanswered and entry is not None and operation.sent is not None:  # what did that attempt make?
            made = self._made_by_unanswered(operation, identity, entry)
            if made is not None:
                return made
        elif unanswered and entry is not None and not operation.resend_unseen:
            if not operation.repeat:  # nothing can look for its object: the analyst looks, then says repeat
                what = operation.describe() if operation.describe else f"the {operation.what}"
                raise OutcomeUnknown(
                    f"Could not {operation.action}: an attempt on {entry.created_at[:10]} was never answered, and "
                    f"nothing here can look for {what} in the registry. Nothing was sent. Look for it in Cashlink "
                    f"Studio; to send it again, {operation.send_again}."
                )
            entry, unanswered = self._new_attempt(identity, hashed, entry), False  # under a key of its own
        looked_at = operation.looked_at or datetime.now(UTC)  # the same write done since is not in what it read
        if _checks_duplicates(operation):
            try:  # (what an unanswered attempt made was looked for above: an equal object here is another one)
                resolved = self._resolve_duplicate(operation, identity, unanswered and operation.sent is None)
            except PossibleDuplicate:
                if self._row_changed(identity, entry):  # another session sent it meanwhile: what did it make?
                    raise _ClaimedElsewhere from None
                raise
            if resolved is not None:
                return resolved
        if operation.before_send is not None and not unanswered:
            try:
                operation.before_send()
            except (PermissionDeniedError, NotListed):  # cannot read the balance: the registry checks it itself
                log.info("cannot check %s before sending (no read scope)", operation.what)
        key, since, before = self._claim(operation, identity, hashed, entry, unanswered, looked_at)
        try:
            answer, record, retried = self._send(operation, key, identity, unanswered, since, before)
        except CashlinkError:
            raise  # said in the audit trail by _send (refused, answer lost)
        except BaseException:
            self._audit(operation, key, None, "interrupted: outcome unknown")
            raise
        return self._answered(operation, identity, key, answer, record, retried, before)

    def _earlier_attempt(
        self, operation: Operation, identity: str, hashed: str, entry: Entry | None
    ) -> tuple[Record | None, Entry | None]:
        """What the journal's row of an earlier attempt settles: the object it made (still there and as wanted), a
        correction, or the row to go on with (a new attempt where the earlier one is done with)."""
        if entry is not None and entry.content_hash != hashed:
            corrected = self._corrected(operation, identity, hashed, entry)
            if corrected is not None:
                return corrected, entry
            entry = self._new_attempt(identity, hashed, entry)
        elif entry is not None and entry.state == "done":
            found = self._verify(operation, entry.registry_id)
            if found is not None and (operation.holds is None or not found.checked or operation.holds(found)):
                if operation.on_duplicate == "create" and not operation.explicit:  # asked for, but not that way
                    warnings.warn(
                        f"This same step made {operation.what} {found.get('id')} before, so nothing new was sent: "
                        "on_duplicate='create' answers the question about an identical one made otherwise. To make "
                        "one more, pass repeat=True or a reference of its own.",
                        stacklevel=5,
                    )
                elif operation.repeat and not operation.reference and not operation.key:
                    warnings.warn(
                        f"repeat=True made {operation.what} {found.get('id')} before in this step, so nothing new was "
                        "sent (a step run again is that one). To make yet another, give it a reference of its own "
                        "(reference='…', on_duplicate='create').",
                        stacklevel=5,
                    )
                return found, entry  # (an object this client cannot read: the journal is trusted)
            # gone from the registry (e.g. a reset sandbox), or changed since (an update made again)
            entry = self._new_attempt(identity, hashed, entry)
        elif entry is not None and entry.state == "refused":
            # the registry made nothing: a new attempt, under a key of its own (a registry may keep its refusal
            # under the first key and answer it again to the same key, even once the cause was put right)
            entry = self._new_attempt(identity, hashed, entry)
        return None, entry

    def _made_by_unanswered(self, operation: Operation, identity: str, entry: Entry) -> Record | None:
        """The object an unanswered attempt made, looked for in the registry (recorded as done), or None when it
        made none and the operation may be sent again under its key."""
        assert operation.sent is not None
        try:
            made = self._made_since(operation, identity, self._since(entry), set(entry.before), self._until(entry))
        except (NotListed, PermissionDeniedError) as exc:  # it cannot look: never sent again unasked
            if not operation.repeat:
                raise self._cannot_look(operation, entry.created_at[:10], exc) from None
            return None  # the analyst looked, and says send it again (under its key)
        if made is not None and not entry.sent_at and operation.on_duplicate != "use":
            # recorded by a version that kept no list of what was there before: it may be an earlier one
            if not (operation.repeat or operation.on_duplicate == "create"):
                raise PossibleDuplicate(
                    f"An attempt on {entry.created_at[:10]} was never answered, and the registry has an identical "
                    f"{operation.what} made since (id {made.get('id')}, made {made_when(made)}), which may be "
                    "what it made or another one. Nothing was sent. If it is what it made, keep it "
                    "(on_duplicate='use'); if not, send this one (on_duplicate='create').",
                    made,
                    equal=True,
                    what=operation.what,
                )
            return None  # 'create': sent again under its key (the registry replays it if it knows the key)
        if made is not None:
            made.outcome, made.what = "existed", operation.what
            line = self._audit_line(operation, entry.key, made.get("id"), FOUND_UNANSWERED)
            self.journal.record_done(identity, made.get("id"), line)
        return made

    def _unanswered_twin(self, operation: Operation, existing: Record) -> Entry | None:
        """This journal's attempt at the same write under another identity (a form submitted again after its kernel
        stopped, another reference), sent and never answered, no session sending it now, that ``existing`` may have
        been made by: not there before that attempt, and made after it was sent (by the registry's clock, within the
        tolerance), where the registry gives a time."""
        hashed = content_hash(self.namespace, operation.identity_content)
        entry = self.journal.latest_twin(self._twin(operation, hashed))
        if entry is None or entry.state != "sent" or self.journal.sending_elsewhere(entry):
            return None
        made = _created_at(existing)  # (a registry that gives no time, or none with a zone: not said to be it)
        if str(existing.get("id")) in entry.before or made is None or zoneless(existing):
            return None
        return entry if self._since(entry) <= made <= self._until(entry) else None

    def _twin(self, operation: Operation, hashed: str) -> str:
        """What every row of the same write shares, whatever its reference: the registry, the method and path, and
        the content."""
        return content_hash(self.namespace, {"write": f"{operation.method} {operation.path}", "content": hashed})

    def done_before(self, operation: Operation) -> Match | None:
        """The object this journal made with the same write under another reference or key (for a ``similar`` where
        the registry offers no list to look in), or None."""
        hashed = content_hash(self.namespace, operation.identity_content)
        entry = self.journal.latest_twin(self._twin(operation, hashed))
        if entry is not None and entry.state == "sent":
            what = operation.describe() if operation.describe else f"the {operation.what}"
            raise OutcomeUnknown(
                f"Could not {operation.action}: the same was sent from this journal on {entry.created_at[:10]} under "
                "another reference, and its answer never came, so whether it made "
                f"{what} is unknown. Nothing was sent. Look for it in Cashlink Studio; to send it all the same, "
                "pass repeat=True."
            )
        if entry is None or not entry.registry_id:
            return None
        made = Record({"id": entry.registry_id, "created_at": entry.created_at})
        return Match(made, True, "the same data, sent from this journal")

    def _claim(
        self,
        operation: Operation,
        identity: str,
        hashed: str,
        entry: Entry | None,
        unanswered: bool,
        looked_at: datetime,
    ) -> tuple[str, datetime, set[str]]:
        """Record in the journal that this session sends the operation now (compare-and-set on the row as read):
        its key, from when what it makes is stamped, and the identical objects there before it. A write that asks
        about duplicates first meets the same write of another session in flight, or done since its duplicate check
        read the registry (``looked_at``): :class:`TwinInFlight`, and nothing is claimed."""
        key = entry.key if entry is not None else self._first_key(operation, identity)
        twin = self._twin(operation, hashed)
        twins_since = looked_at if _checks_duplicates(operation) else None
        if unanswered and entry is not None:  # sent again under its key: what was there before its first attempt
            since, before = self._since(entry), set(entry.before)
            claimed = self.journal.claim(
                identity, key, self.namespace, operation.name, hashed, entry, twin=twin, twins_since=twins_since
            )
        else:
            if self.transport.clock_offset is None:
                self.transport.token()  # an answer of the registry's first, to read its clock (its Date)
            sent_at = self._registry_now()  # what the write makes is stamped after this, by the registry's clock
            since = sent_at - CLOCK_TOLERANCE
            before = self._identical_now(operation, since)  # never taken for what this write makes
            if entry is not None and entry.previous is not None:  # a new attempt: only if the row is still as read
                claimed = self.journal.record_new_attempt(
                    identity, entry.previous, key, hashed, before, sent_at, twin=twin, twins_since=twins_since
                )
            else:
                claimed = self.journal.claim(
                    identity, key, self.namespace, operation.name, hashed, entry, before, sent_at, twin, twins_since
                )
        if not claimed:
            raise _ClaimedElsewhere
        return key, since, before

    def _first_key(self, operation: Operation, identity: str) -> str:
        """The idempotency key of an operation's first attempt: its identity, but for a deliberate repeat a key of
        its own (its identity is the same in every journal of this distributor, and a registry that kept another
        journal's repeat would answer that one)."""
        if operation.repeat and not operation.reference and not operation.key:
            return derive_key(self.namespace, "repeat", uuid.uuid4().hex)
        return identity

    def _answered(
        self,
        operation: Operation,
        identity: str,
        key: str,
        answer: Answer | None,
        record: Record,
        retried: bool,
        before: set[str],
    ) -> Record:
        """The registry's answer: what happened (created, updated, replayed), in the record and the journal.
        ``before``: the ids of identical objects there before the write was sent (a deliberate one's): an answer
        with one of them is a replay, however recent (a registry without ``Idempotent-Replayed``)."""
        outcome: Outcome = "updated" if operation.method == "PATCH" else "created"
        if answer is not None and (
            (  # a replay of this call's own attempt, whose answer was lost, is what it made
                not retried
                and (answer.replayed or (operation.method == "POST" and self._older_than_request(record, answer)))
            )
            or (operation.method == "POST" and str(record.get("id")) in before)
        ):
            outcome = "replayed"
        record.outcome, record.what = outcome, operation.what
        if outcome == "created" and operation.name == "create investor" and record.get("id"):
            self.created_here[str(record["id"])] = time.monotonic()
        if operation.made_nothing is not None and operation.made_nothing(record):  # a re-run makes a new attempt
            self._audit(operation, key, record.get("id"), outcome)  # the task's end has a line of its own
            self.journal.record_refused(identity, key)
            return record
        self.journal.record_done(
            identity, record.get("id"), self._audit_line(operation, key, record.get("id"), outcome)
        )
        return record

    def _registry_now(self) -> datetime:
        """Now, by the registry's clock as far as its answers' ``Date`` told it (this machine's before any)."""
        return datetime.now(UTC) + timedelta(seconds=self.transport.clock_offset or 0)

    def _until(self, entry: Entry) -> datetime:
        """Until when an unanswered attempt may have made its object, by the registry's clock: its last sending (the
        journal's claim, by this machine's clock) and as long as a send with its retries lasts, plus the tolerance.
        An object made later is another one (review 87: an identical payout another journal made days after an
        attempt that never went out was taken for that attempt's)."""
        try:
            claimed = _aware(datetime.fromisoformat(entry.updated_at))
        except ValueError:
            return datetime.max.replace(tzinfo=UTC)
        return claimed + (self._registry_now() - datetime.now(UTC)) + OWNER_LEASE + CLOCK_TOLERANCE

    def _since(self, entry: Entry) -> datetime:
        """From when an unanswered attempt may have made its object, by the registry's clock: its first sending
        (recorded by that clock), less the tolerance. An attempt recorded before version 4: from its intent."""
        if entry.sent_at:
            try:
                return _aware(datetime.fromisoformat(entry.sent_at)) - CLOCK_TOLERANCE
            except ValueError:
                pass
        try:
            intent = _aware(datetime.fromisoformat(entry.created_at))  # this machine's clock
        except ValueError:
            return self._registry_now() - timedelta(days=api.DUPLICATE_WINDOW_DAYS)
        return intent + (self._registry_now() - datetime.now(UTC)) - CLOCK_TOLERANCE

    def _row_changed(self, identity: str, entry: Entry | None) -> bool:
        """The journal's row of the operation is no longer as this write read it (another session wrote it)."""
        read = entry.previous if entry is not None and entry.previous is not None else entry
        now = self.journal.get(identity)
        if read is None or now is None:
            return (read is None) != (now is None)
        return (now.key, now.state, now.updated_at, now.owner) != (read.key, read.state, read.updated_at, read.owner)

    def _new_attempt(self, identity: str, hashed: str, entry: Entry) -> Entry:
        """The operation's next attempt, under a key derived from the last one (the same every run, so a crash
        before the answer sends the same key again). Recorded only when it is sent, compare-and-set on the row as
        read now: if another session changed it meanwhile, that session is sending it and nothing is sent here."""
        key = derive_key(self.namespace, "new attempt", [identity, hashed, entry.key])
        return Entry(identity, key, entry.operation, hashed, "sent", None, entry.created_at, fresh=True, previous=entry)

    def _corrected(self, operation: Operation, identity: str, hashed: str, entry: Entry) -> Record | None:
        """The operation's reference (or key) was used before for other content: a correction.

        Made before: offered as an update (or kept); a failed task may be sent again. Refused before: sent again
        (None: the caller makes a new attempt). Unanswered: refused here, because the earlier attempt may have made
        something that the new content's duplicate check cannot find."""
        made = entry.created_at[:10]
        what = operation.describe() if operation.describe else _a(operation.what)
        if operation.method == "PATCH":  # a corrected change is the next change: sent, whatever came of the last
            return None
        if entry.state == "sent":
            raise OutcomeUnknown(
                f"Could not {operation.action}: an attempt on {made} under the same reference (or key) sent other "
                "data, and whether the registry acted on it is unknown (its answer never came, or it is still being "
                "sent from another session). Nothing was sent. "
                f"Look in the registry for the {operation.what} as first sent (with the earlier data): if it is "
                "there, update or keep it; if not, send the "
                "new data as a new operation (a new reference; in a form, the button 'Send as a new …')."
            )
        if entry.state != "done" or operation.repeat:
            return None
        existing = self._verify(operation, entry.registry_id) if entry.registry_id else None
        if existing is None or existing.get("status") in api.TASK_FAILED:  # gone, or a task that failed: send again
            return None
        if operation.same_party is not None and not existing.checked:
            raise ConflictError(
                f"Could not {operation.action}: this reference made {operation.what} {existing.get('id')} on {made} "
                "with other data than now, and this client cannot read it (no read scope) to tell a correction "
                f"from another person. Nothing was sent for {what}. Give it a new reference to create it; to "
                "correct that one, use a client that may read it (e.g. scope investors:read)."
            )
        if operation.same_party is not None and not operation.same_party(existing):
            differs = operation.differs(existing) if operation.differs else "other data"
            raise PossibleDuplicate(
                f"This reference made {operation.what} {existing.get('id')} on {made}, and the new data describes "
                f"someone else ({differs}): perhaps the reference was reused. Nothing was sent for {what}. Give this "
                "one a new reference to create it; if it is the same person, whose details changed, update that one: "
                f"client.investors.update_to('{existing.get('id')}', the new data).",
                existing,
                equal=False,
                what=operation.what,
                same_party=False,
                reason="the same reference",
                differs=differs,
            )
        if operation.on_duplicate == "use":  # keep what the reference made, as it is, and say what was not applied
            existing.outcome, existing.what = "existed", operation.what
            if isinstance(operation.body, Mapping):
                existing.not_applied = tuple(
                    models.label(path) for path in changed_fields(operation.body, existing, unseen=False)
                )
            return existing
        if operation.update is not None:
            if operation.on_duplicate == "update":
                updated = operation.update(existing)
                self.journal.record_corrected(identity, hashed)  # a re-run of the corrected data: already existed
                return updated
            if operation.on_duplicate == "ask":
                raise PossibleDuplicate(
                    f"This {operation.what} was made on {made} under the same reference (id {existing.get('id')}), "
                    f"with other data than now. Nothing was sent for {what}. Update it with the new data "
                    "(on_duplicate='update'), or keep it as it is (on_duplicate='use').",
                    existing,
                    equal=False,
                    what=operation.what,
                )
        raise ConflictError(
            f"Could not {operation.action}: its reference made {operation.what} {existing.get('id')} on {made}, with "
            "other data than now. Nothing was sent. To keep that one as it is, pass on_duplicate='use'; "
            + (
                "to change it, update it (on_duplicate='update')"
                if operation.update is not None
                else operation.correct or "it cannot be changed here"
            )
            + ". To make another one as well, give it a new reference."
        )

    def _updated_object(self, operation: Operation) -> dict[str, Any]:
        """The object an update changed, read now, where the registry's answer to it was not the object (an empty 200,
        or 204 No Content); only its id (the end of the path it was sent to) where it cannot be read."""
        object_id = api.read_id(operation.path.rstrip("/").rsplit("/", 1)[-1])
        now = self._verify(operation, object_id)
        return dict(now) if now is not None else {"id": object_id}

    def _verify(self, operation: Operation, registry_id: str | None) -> Record | None:
        """An operation the journal says is done: its object as the registry has it now (None if it is gone;
        ``checked`` False when it cannot be read, e.g. without read scope)."""
        record = Record({"id": registry_id} if registry_id else {})
        record.checked = False
        if operation.verify is not None and registry_id:
            try:
                record = Record(operation.verify(registry_id))
                record.checked = True
            except NotFoundError:  # the registry no longer knows it (e.g. a reset sandbox): send again
                return None
            except (PermissionDeniedError, CashlinkError) as exc:  # cannot check (no read scope): trust the journal
                log.info("could not check %s %s in the registry: %s", operation.what, registry_id, type(exc).__name__)
        record.outcome, record.what = "existed", operation.what
        return record

    def _resolve_duplicate(self, operation: Operation, key: str, was_sent: bool) -> Record | None:
        try:
            match = operation.similar() if operation.similar else None
        except (PermissionDeniedError, NotListed) as exc:  # cannot look (no scope, no such list)
            log.info("cannot look for an existing %s (%s)", operation.what, type(exc).__name__)
            warnings.warn(
                f"The registry could not be searched for an identical {operation.what} ({exc.message.rstrip('.')}), "
                "so none was looked for before sending; a re-run of this same step sends nothing once it was "
                "answered.",
                CannotCompareWarning,
                stacklevel=_caller_level(),
            )
            return None
        if match is None:
            return None
        same_operation = match.equal and (not operation.explicit or was_sent)
        if not match.same_party and not same_operation:
            # 'use' or 'update' would file this person under another one: asked, whatever was chosen in advance
            raise PossibleDuplicate(
                f"{_a(operation.what).capitalize()} with {match.reason} exists (id {match.existing.get('id')}, made "
                f"{made_when(match.existing)}), but with {match.differs}: perhaps another person. Nothing was sent for "
                f"{operation.describe() if operation.describe else 'it'}. Create it anyway (on_duplicate='create'); "
                f"if it is the same person, whose details changed, update that one: "
                f"client.investors.update_to('{match.existing.get('id')}', the new data), or the investor form's "
                "button.",
                match.existing,
                equal=False,
                what=operation.what,
                same_party=False,
                reason=match.reason,
                differs=match.differs,
            )
        unanswered = self._unanswered_twin(operation, match.existing) if match.equal else None
        if same_operation or operation.on_duplicate == "use":
            record = match.existing
            record.outcome, record.what = "existed", operation.what
            if unanswered is not None:  # that attempt's object, most likely: its row done, its write audited
                line = self._audit_line_of(
                    unanswered.operation, _key_label(unanswered.key), record.get("id"), FOUND_UNANSWERED
                )
                self.journal.settle(unanswered, record.get("id"), line)
            self.journal.record_intent(
                key, key, self.namespace, operation.name, content_hash(self.namespace, operation.identity_content)
            )
            self.journal.record_done(key, record.get("id"))
            return record
        if operation.on_duplicate == "update" and operation.update is not None:
            updated = operation.update(match.existing)  # a write of its own: outcome "updated", audited
            self.journal.record_intent(
                key, key, self.namespace, operation.name, content_hash(self.namespace, operation.identity_content)
            )
            self.journal.record_done(key, match.existing.get("id"))  # this operation is that investor now
            return updated
        what = operation.describe() if operation.describe else _a(operation.what)
        # an investor is 'equal' by what identifies them: a tax id or an address may still differ
        kind = ("An identical" if operation.update is None else "A matching") if match.equal else "A similar"
        existing = match.existing
        advice = (
            "Update that investor instead (on_duplicate='update'), use it (on_duplicate='use'), or create "
            "another one anyway (on_duplicate='create')."
            if operation.update is not None
            else "Make another one anyway with repeat=True (one more: running the same step again does not make a "
            "third; for several, give each its own reference=), or use that one (on_duplicate='use')."
        )
        own = (  # (review 85: after a kernel stopped mid-write, the question did not say it was most likely its own)
            f" This journal sent an identical {operation.what} "
            f"{made_when({'created_at': unanswered.sent_at or unanswered.created_at})} whose answer never came (the "
            "kernel or the connection stopped): this is most likely that one, so use it."
            if unanswered is not None
            else ""
        )
        raise PossibleDuplicate(
            f"{kind} {operation.what} ({match.reason}) was made {made_when(existing)} (id {existing.get('id')}).{own} "
            f"Nothing was sent for {what}. {advice}",
            existing,
            equal=match.equal,
            what=operation.what,
            reason=match.reason,
            differs=match.differs,
        )

    def _send(
        self, operation: Operation, key: str, identity: str, may_have_acted: bool, started: datetime, before: set[str]
    ) -> tuple[Answer | None, Record, bool]:
        """Send with the same key until there is an answer; after a lost answer, first look for the object (made
        since ``started``, not one of ``before``). The flag: an earlier attempt of this call lost its answer."""
        json_body = operation.body if operation.files is None else None
        last: AmbiguousWrite | None = None
        others = False  # the registry said another request under this key was still being processed
        for attempt in range(LOST_ANSWER_ATTEMPTS):
            if attempt and operation.sent is not None:
                found = self._looked_up(operation, identity, key, started, before, last)
                if found is not None:
                    return None, found, True
            elif attempt and not operation.resend_unseen:  # nothing to look for it by: never sent blind again
                assert last is not None
                self._audit(operation, key, None, "answer lost")
                raise OutcomeUnknown(  # as a re-run says it: whether it was done is unknown
                    f"{last.message} Nothing more was sent, as nothing here can look for it: look in Cashlink Studio "
                    "whether it was done. Running this again sends nothing until you say; to send it again, "
                    f"{operation.send_again}.",
                    status=last.status,
                )
            try:
                answer = self.transport.request(
                    operation.method,
                    operation.path,
                    operation.action,
                    json=json_body,
                    files=operation.files,
                    idempotency_key=key,
                )
            except AmbiguousWrite as exc:
                log.info("lost answer for %s (attempt %d)", operation.name, attempt + 1)
                last = exc
                time.sleep(min(0.2 * 2**attempt, 2))
                continue
            except CashlinkError as exc:
                if _key_in_use(exc) and attempt + 1 < LOST_ANSWER_ATTEMPTS:  # the registry is still at a request
                    log.info("the key of %s is still being processed (attempt %d)", operation.name, attempt + 1)
                    others = others or (last is None and not may_have_acted)  # not ours: another session's
                    time.sleep(min(0.5 * 2**attempt, 4))  # under this key; its answer is replayed once it is done
                    continue
                if _key_in_use(exc):  # still at it: neither refused nor known to be done (the row stays unanswered)
                    self._audit(operation, key, None, "key still being processed: outcome unknown")
                    raise OutcomeUnknown(
                        f"Could not {operation.action} yet: the registry is still processing an earlier request "
                        f"under the same key (it said so {LOST_ANSWER_ATTEMPTS} times), so whether it is done is "
                        "unknown. Nothing more was sent. Run this again in a minute: it sends the same request "
                        "under the same key, and gets that request's answer.",
                        status=exc.status,
                        request_id=exc.request_id,
                    ) from exc
                earlier = last is not None or may_have_acted  # an attempt whose answer was lost may have acted
                refusal = 400 <= (exc.status or 0) < 500 and exc.status not in (401, 403, 408, 429)
                if earlier and refusal:  # e.g. 'already credited': look once more for what the earlier one made
                    found = self._looked_up(operation, identity, key, started, before, last or exc)
                    if found is not None:
                        return None, found, True
                self._audit(
                    operation,
                    key,
                    None,
                    ("refused after a lost answer: " if earlier else "refused: ")
                    + type(exc).__name__
                    + (f" {exc.status}" if exc.status else ""),
                )
                if (earlier and refusal) or (_did_not_act(exc) and not earlier):  # made nothing (none was found)
                    self.journal.record_refused(identity, key)
                if earlier and refusal:
                    quoted = scrubbed(registry_detail(exc.body), values=personal_values(operation.body))
                    said = (quoted or "see the fields below").rstrip(".")
                    raise OutcomeUnknown(
                        f"Could not {operation.action}: the answer to an earlier attempt was lost, and the registry "
                        f"refused the same request sent again ({said}). Nothing more was sent, and "
                        + (
                            "nothing the earlier attempt made was found"
                            if operation.sent
                            else "the object as it is now shows whether the earlier attempt changed it"
                            if operation.method == "PATCH"
                            else "nothing here can look for what the earlier attempt made"
                        )
                        + ". If the registry's reason says it was done already, it was; if not, correct what it names "
                        "and run this again: it is sent as a new attempt.",
                        field_errors=exc.field_errors,
                        status=exc.status,
                        body=exc.body,
                        request_id=exc.request_id,
                    ) from exc
                raise
            named = unwrapped(answer.body)
            body = api.read_object(dict(named)) if isinstance(named, dict) else {"result": answer.body}
            if not body.get("id"):  # its id in Location only (a 201 with an empty body)?
                body = _made_object(body, answer.location, self.transport.url(operation.path)) or body
            if not body.get("id") and (  # a create that names nothing it made, or a credit answered with nothing
                makes_an_object(operation)  # at all (an empty 202, no Location): looked for
                or (operation.method == "POST" and operation.sent is not None and answer.body in (None, "", {}, []))
            ):
                unnamed = (
                    f"The registry answered {answer.status} to '{operation.action}' but named no id of what it made "
                    "(no id in its answer, no Location)"
                )
                if operation.sent is None:  # nothing to look for it by: never sent blind again
                    self._audit(operation, key, None, "answered without an id: outcome unknown")
                    raise OutcomeUnknown(
                        f"{unnamed}, and nothing here can look for it: which {operation.what} it made cannot be told, "
                        "so the next step could not name it. Nothing more was sent. Look for it in Cashlink Studio, "
                        "and tell Cashlink's support the time and the request id; "
                        + (
                            "running this again sends the same request under the same key."
                            if operation.resend_unseen
                            else f"to send it again, {operation.send_again}."
                        ),
                        status=answer.status,
                        request_id=answer.request_id,
                    )
                log.info("an answer without an id for %s (attempt %d)", operation.name, attempt + 1)
                last = AmbiguousWrite(  # what it made is looked for, as after a lost answer
                    f"{unnamed}: whether and what it made cannot be told from it.",
                    status=answer.status,
                    request_id=answer.request_id,
                )
                time.sleep(min(0.2 * 2**attempt, 2))
                continue
            if operation.method == "PATCH" and not body.get("id"):  # an update answered without the object (204)
                body = self._updated_object(operation)
            if others and last is None:  # the answer to another session's request under this key
                answer = replace(answer, replayed=True)
            return answer, Record(body), last is not None
        self._audit(operation, key, None, "answer lost")
        assert last is not None
        raise AmbiguousWrite(  # what to do next: the same step again is safe
            f"{last.message.rstrip('.')}. Running the same step again is safe: it looks in the registry for what "
            "this made before sending anything again.",
            field_errors=last.field_errors,
            status=last.status,
            body=last.body,
            request_id=last.request_id,
        ) from last

    def _made_since(
        self, operation: Operation, identity: str, since: datetime, before: set[str], until: datetime | None = None
    ) -> Record | None:
        """After a lost answer: the object the write made, if the registry shows one (none without read scope).
        Never one that was there before it (``before``), nor one the journal says another operation made, nor one
        made after ``until`` (see :meth:`_until`)."""
        if operation.sent is None:
            return None
        return self._found_since(operation.sent, identity, since, before, until)

    def _found_since(
        self,
        sent: Callable[[datetime], builtins.list[Record]],
        identity: str,
        since: datetime,
        before: set[str],
        until: datetime | None = None,
    ) -> Record | None:
        """The first of ``sent(since)`` that was not there before the write, nor made by another operation, nor
        made after ``until`` (a time without a zone, hours off perhaps, is not taken for later)."""
        found = [
            item
            for item in sent(since)  # may not look: raises
            if str(item.get("id")) not in before
            and (until is None or zoneless(item) or (_created_at(item) or until) <= until)
        ]
        others = self.journal.made_by_others(identity, [str(item.get("id")) for item in found])
        found = [item for item in found if str(item.get("id")) not in others]
        return Record(found[0]) if found else None

    def _looked_up(
        self,
        operation: Operation,
        identity: str,
        key: str,
        since: datetime,
        before: set[str],
        lost: CashlinkError | None,
    ) -> Record | None:
        """:meth:`_made_since` after this call lost an answer: if the look-up fails too, the write's outcome is
        unknown, and said so (in the audit trail as well)."""
        try:
            found = self._made_since(operation, identity, since, before)
            if found is None:  # a gateway's lost answer often comes while the registry still works on it, or before
                time.sleep(SETTLE_SECONDS)  # its lists show it (a replica behind): one more look before sending
                found = self._made_since(operation, identity, since, before)
            return found
        except (NotListed, PermissionDeniedError) as exc:  # it cannot look: the analyst looks, then says repeat
            self._audit(operation, key, None, "answer lost")
            raise self._cannot_look(operation, "today", exc) from None
        except CashlinkError as exc:
            self._audit(operation, key, None, "answer lost")
            looked = re.split(r"(?<=[.!?])\s", exc.message, maxsplit=1)[0].rstrip(".")  # its reason, not its advice
            raise AmbiguousWrite(
                f"Could not {operation.action}: the answer was lost, and looking in the registry for what it made "
                f"failed too. {looked}. Whether it was done is unknown. Nothing more was sent; running this again "
                "looks again before sending anything.",
                status=lost.status if lost is not None else None,
            ) from exc

    @staticmethod
    def _cannot_look(operation: Operation, when: str, exc: CashlinkError) -> OutcomeUnknown:
        """An attempt whose answer was lost, where nothing here can look for what it made (no read scope, no list)."""
        what = operation.describe() if operation.describe else f"the {operation.what}"
        if isinstance(exc, PermissionDeniedError):
            why = "this client may not read the registry"
            there = (
                "run this step once with a client that may read the registry (its scopes with :read): it finds it "
                "and records it"
            )
        else:
            why, there = "the registry offers no list to look in", "it was done, and there is nothing more to do"
        return OutcomeUnknown(
            f"Could not {operation.action}: an attempt {'on ' + when if when != 'today' else 'just now'} was never "
            f"answered, and {why}, so whether it made {what} is unknown. Nothing more was sent: sending it again "
            f"could make a second one. Look for {what} in Cashlink Studio. "
            + (
                operation.if_unknown
                or f"If it is there, {there}. If it is not there, send it as a new operation: {operation.send_again}."
            ),
            status=exc.status,
        )

    def _identical_now(self, operation: Operation, since: datetime) -> set[str]:
        """The ids of objects identical to what a write made deliberately (repeat, on_duplicate='create') would make,
        there before it is sent: after a lost answer, the look-up never takes one of them for what it made."""
        if not (operation.repeat or operation.on_duplicate == "create") or operation.sent is None:
            return set()  # otherwise the duplicate check found none, or the operation's own object
        try:
            if operation.identical_now is not None:
                return {str(found) for found in operation.identical_now()}
            return {str(item.get("id")) for item in operation.sent(since)}
        except (PermissionDeniedError, NotListed):  # cannot read: after a lost answer nothing is sent unasked
            return set()

    def _older_than_request(self, record: Record, answer: Answer) -> bool:
        """A create answered with an object made well before the request (by the registry's clock): the registry
        replayed an earlier answer (for registries that do not send ``Idempotent-Replayed``)."""
        created = _created_at(record)
        sent = datetime.fromtimestamp(answer.sent_at, UTC) + timedelta(seconds=self.transport.clock_offset or 0)
        # (a time without a zone is read as UTC: a registry east of UTC, as Cashlink's, stamps it later than it was,
        # so a fresh object is never taken for a replay; a replay made less than its offset ago reads 'created')
        return created is not None and created < sent - CLOCK_TOLERANCE

    def _audit_line(self, operation: Operation, key: str, registry_id: str | None, outcome: str) -> AuditLine:
        return self._audit_line_of(operation.name, self._reference_label(operation, key), registry_id, outcome)

    def _audit_line_of(self, name: str, reference: str, registry_id: str | None, outcome: str) -> AuditLine:
        return AuditLine(self.config.root_url, self.config.client_id, name, reference, registry_id, outcome)

    def _audit(self, operation: Operation, key: str, registry_id: str | None, outcome: str) -> None:
        self.journal.audit(self._audit_line(operation, key, registry_id, outcome))

    def audit(self) -> builtins.list[dict[str, Any]]:
        """Every write this toolkit sent to this registry: time, client, operation, reference, id, outcome."""
        return self.journal.audit_rows(self.config.root_url)

    # --- waiting for tasks ----------------------------------------------------------------------------------------

    def wait(
        self,
        fetch: Callable[[], Record],
        what: str,
        *,
        done: Callable[[Record], bool],
        failed: Callable[[Record], bool],
        timeout: float = 60,
        interval: float = 0.25,
        answer: Record | None = None,
    ) -> Record:
        """Poll ``fetch`` until ``done`` (returned) or ``failed``/timeout (raised as :class:`TaskError`). Where
        these credentials may not read it, ``answer`` (the write's own answer) is judged instead and, unless it
        says how it ended, returned with a :class:`CannotFollowWarning`."""
        started = time.monotonic()
        while True:
            try:
                current, unreadable = fetch(), False
            except PermissionDeniedError as exc:
                if answer is None:
                    raise
                current, unreadable, reason = answer, True, exc
            waited = time.monotonic() - started
            if self.progress is not None:
                self.progress(what, current, waited)
            if done(current):
                return current
            if failed(current):
                error = self.task_reason(current)
                raise TaskError(
                    f"The {what} {current.get('id')} ended as {current.get('status')}: "
                    f"{str(error).rstrip('.')}. It is not done; see the registry's answer above.",
                    current,
                )
            if unreadable:
                warnings.warn(
                    CannotFollowWarning(
                        f"The {what} {current.get('id')} was sent (the registry answered "
                        f"'{current.get('status') or 'started'}'); what it leads to is not checked here "
                        f"({reason.message.rstrip('.')}). Check it in Cashlink Studio, or with credentials that "
                        "may read it."
                    ),
                    stacklevel=3,
                )
                return current
            if waited >= timeout:
                status = current.get("status")
                undocumented = status is not None and str(status).upper() not in api.DOCUMENTED_STATUSES
                raise TaskError(
                    f"The {what} has not ended after {timeout:g} s (the registry says "
                    f"{api.status_phrase(status).lower() or 'nothing of it'}). "
                    + (
                        f"'{status}' is a status the registry's documentation does not name, so whether it is done "
                        "cannot be told here: look at it in Cashlink Studio, and ask Cashlink what the status means "
                        if undocumented
                        else "It goes on in the registry; check again later "
                    )
                    + f"(id {current.get('id')}).",
                    current,
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)

    def wait_for_task(
        self,
        fetch: Callable[[], Record],
        what: str,
        *,
        timeout: float = 60,
        retry_hint: str = "",
        answer: Record | None = None,
    ) -> Record:
        """Wait for a credit/redemption/transfer task. 'unknown' is raised, never retried (the docs forbid it)."""
        try:
            return self.wait(
                fetch,
                what,
                timeout=timeout,
                done=lambda t: t.get("status") in api.TASK_SUCCESS,
                failed=lambda t: t.get("status") in api.TASK_FAILED | api.TASK_UNKNOWN,
                answer=answer,
            )
        except TaskError as exc:
            task = exc.task
            ended = task.get("status") in api.TASK_FAILED | api.TASK_UNKNOWN
            if ended and str(task.get("id")) not in self._ends_audited:  # the audit trail says how it ended, once
                self._ends_audited.add(str(task.get("id")))
                self.journal.audit(
                    AuditLine(
                        self.config.root_url,
                        self.config.client_id,
                        f"{what} task",
                        "",
                        str(task.get("id")),
                        f"ended {task.get('status')}",
                    )
                )
            if task.get("status") in api.TASK_UNKNOWN:
                raise TaskError(
                    f"The {what} {task.get('id')} ended as 'unknown': the blockchain has not said whether it "
                    "happened, so it may still move the units. Do not retry it; ask Cashlink to check it "
                    "on the blockchain.",
                    task,
                ) from None
            if task.get("status") in api.TASK_FAILED:
                error = self.task_reason(task).rstrip(".")
                raise TaskError(
                    f"The {what} {task.get('id')} failed: {error}. It is not done. Once the cause is "
                    f"fixed, {retry_hint or 'make it again with a reference of its own (reference=…)'}.",
                    task,
                ) from None
            raise

    # --- views across resources -----------------------------------------------------------------------------------

    def task_reason(self, task: Mapping[str, Any]) -> str:
        """A failed task's reason, without the personal data of its investor (a registry may name them in it): the
        investor is read (through the task's investment where it names none) to know what to mask, and a reason
        is withheld when its investor cannot be read. A task of no investor (a transfer) loses what may name
        someone: capitalised names and numbers."""
        said = str(task.get("error") or "").strip()
        if not said:
            return "the registry gives no reason"
        try:
            investor = self._investor_of(task)
        except CashlinkError:
            return "the registry's reason is not shown, as it may name the investor, whom this client cannot read"
        if investor is None:  # a task of no investor (a transfer to an address): whoever it names is unknown
            return without_names(said)
        return scrubbed(said, values=personal_values(investor))

    def _investor_of(self, task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The investor a task is about (its own ``investor_id``, else its investment's), or None when it names
        neither."""
        investor_id = _uuid_or_none(task.get("investor_id"))
        investment_id = _uuid_or_none(task.get("investment_id"))
        if investor_id is None and investment_id is not None:
            investment = self.get(api.INVESTMENT.format(investment_id=investment_id), "read the investment")
            investor_id = _uuid_or_none(investment.get("investor_id"))
        if investor_id is None:
            return None
        investor: Mapping[str, Any] = self.get(api.INVESTOR.format(investor_id=investor_id), "read the investor")
        return investor

    def holding_rows(
        self, *, investor_id: str | None = None, product_id: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Units held per investor, wallet and product, from delivered investments' remaining holdings (documented
        ``remaining_amount``; ``remaining_units`` where the registry sends it)."""
        from helpers.core.resources import held_units

        totals: dict[tuple[str, str | None, str], int] = {}
        unknown: dict[str, int] = {}  # an undocumented status: how many investments are in it
        for investment in self.investments.list(investor_id=investor_id, product_id=product_id):
            status = str(investment.get("status") or "").upper()
            if status != "DELIVERED":
                if status not in INVESTMENT_STATUSES:  # perhaps holding units: never counted as none in silence
                    said = str(investment["status"]) if investment.get("status") else "no status"
                    unknown[said] = unknown.get(said, 0) + 1
                continue
            units = held_units(investment)
            if "investor_id" not in investment or "product_id" not in investment:
                raise ValidationError(
                    f"The registry's investment {investment.get('id')} names no investor_id or product_id: whose "
                    "holding it is cannot be told. Run client.check_api() and report the table to the team."
                )
            where = (str(investment["investor_id"]), investment.get("wallet"), str(investment["product_id"]))
            totals[where] = totals.get(where, 0) + units
        if unknown:
            count = sum(unknown.values())
            warnings.warn(
                UndocumentedValueWarning(
                    f"{count} investment{'s are' if count > 1 else ' is'} in a status the documentation does not "
                    f"name ({', '.join(sorted(unknown))}): {'their' if count > 1 else 'its'} units are not counted "
                    "as held here, though they may be. Look at them in Cashlink Studio, and ask Cashlink what the "
                    "status means."
                ),
                stacklevel=3,
            )
        return [{"investor_id": i, "wallet_id": w, "product_id": p, "units": u} for (i, w, p), u in totals.items()]

    def balance(self, investor_id: str, wallet_id: str, product_id: str) -> int:
        wallet_id = api.read_id(str(wallet_id))
        return sum(
            row["units"]
            for row in self.holding_rows(investor_id=investor_id, product_id=product_id)
            if row["wallet_id"] == wallet_id
        )

    def check_connection(self) -> None:
        """Fetch a token now, so that wrong credentials show up at once rather than at the first call."""
        self.transport.token()

    def check_api(self) -> builtins.list[dict[str, str]]:
        """Probe the registry read-only and say what holds there; the client adapts to what it finds."""
        from helpers.core.probe import probe

        return probe(self)


__all__ = ["Client", "ConfirmationRequired", "FilterIgnoredWarning", "ListResult", "Match", "Operation"]
