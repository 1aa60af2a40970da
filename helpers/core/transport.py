"""HTTP for every call: OAuth2 client-credentials token (cached, renewed), timeouts, and retries that are safe.

Reads are retried (urllib3's ``Retry``) on connection errors, lost answers, 429 (honouring ``Retry-After``) and
502/503/504. A ``Retry-After`` holds every request of the transport, not only the one refused: concurrent page
fetches and bulk writes all pause until the registry said to come back. Writes are retried only where the request
provably did not take effect: a connection that never opened, 429 and 503. When a write's answer is lost (a reset
connection, a read timeout, 500/502/504) the request may or may not have taken effect: :class:`AmbiguousWrite` is
raised, and the client looks the object up before sending again (the registry may not honour idempotency keys on
every endpoint).
"""

from __future__ import annotations

import json as jsonlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit, urlunsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import InvalidHeader
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from helpers.core.config import Config
from helpers.core.errors import (
    APIConnectionError,
    AuthenticationError,
    CashlinkError,
    ConfigurationError,
    InputError,
    OutcomeUnknown,
    PermissionDeniedError,
    ServerError,
    from_answer,
    jsend,
    personal_values,
    registry_detail,
    scrubbed,
    web_page,
)

log = logging.getLogger("helpers")

READ_RETRY_STATUSES = frozenset({429, 502, 503, 504})
WRITE_RETRY_STATUSES = frozenset({429, 503})  # the registry did not act on the request (503: if it says when)
# A write answered 5xx may have been done (a 500 after the commit, a gateway that lost the answer), but for these:
# 501 (no such method), 505 (no such HTTP version), and a 503 that says when to come back (Retry-After: not taken
# in). A 503 without it may be a gateway's whose upstream reset after committing (Envoy's "upstream connect error
# or disconnect/reset before headers"): it is looked up before anything is sent again, as a 502.
WRITE_NOT_ACTED_STATUSES = frozenset({501, 505})
# A redirect is followed by reads only. requests would send a write on as a read (a 301 or 302 POST becomes a GET of
# the new address, whose answer would be taken for the write's) or with its body to wherever it points (307, 308):
WRITE_NOT_SENT_ON = "a write is not sent on to another address, so nothing was sent there and nothing was made"
TOKEN_NOT_SENT_ON = "a token request holds the client secret and is not sent on to another address"
TOKEN_MARGIN = 60  # seconds before expiry at which the token is renewed
RETRY_AFTER_MAX = 60  # the longest a Retry-After holds a request (a registry asking for hours is asked again)
REQUEST_ID_HEADERS = ("X-Request-ID", "Request-Id", "X-Correlation-ID", "X-Amzn-Trace-Id")
BASE_URL_IS = "It is the address up to /api/external, such as https://demo.cashlink.de/api/external"


class AmbiguousWrite(APIConnectionError):
    """A write whose answer was lost: it may or may not have taken effect."""


class Throttle:
    """The registry's ``Retry-After``, shared by every thread of a transport: after a 429 (or a 503 that says when
    to come back) no new request starts before that time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0  # time.monotonic() before which nothing is sent
        self.holds = 0  # how often the registry asked to wait
        self.waits = 0  # how often a request waited for a hold another request was given

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)
            self.holds += 1

    def wait(self) -> None:
        delay = self._until - time.monotonic()
        if delay > 0:
            with self._lock:
                self.waits += 1
            time.sleep(delay)


class SharedRetry(Retry):
    """urllib3's ``Retry`` that also tells the transport's :class:`Throttle` when the registry says ``Retry-After``."""

    throttle: Throttle | None = None
    for_writes = False  # the writes' session: a 503 is sent again only when it says when (see is_retry)

    def new(self, **changes: Any) -> SharedRetry:
        retry = super().new(**changes)
        retry.throttle, retry.for_writes = self.throttle, self.for_writes
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds or an HTTP date (RFC 9110), else a decimal ('1.5'); what cannot be read is no wait of the
        registry's (the usual backoff applies), never an error: a 429 stays a 429 that is retried."""
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            try:
                seconds = float(retry_after)
            except ValueError:
                return 0.0
            return min(max(seconds, 0.0), self.retry_after_max) if math.isfinite(seconds) else 0.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """A write answered 503 is sent again at once only when the registry says when (``Retry-After``); reads and
        token requests (the reads' session) are sent again in any case."""
        if self.for_writes and status_code == 503 and not has_retry_after:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if seconds and self.throttle is not None:
            self.throttle.hold(seconds)
        return super().sleep_for_retry(response)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """The pause before the request is sent again; not sent again once no one waits for its answer."""
        not_abandoned()
        super().sleep(response)
        not_abandoned()


class RequestAbandoned(Exception):
    """A request of a page no one will read any more (the list was left): not sent again."""


_THIS_THREAD = threading.local()


@contextmanager
def abandoned_when(event: threading.Event) -> Iterator[None]:
    """While inside, in this thread: once ``event`` is set, a request is no longer sent, nor sent again after a
    retry's pause (:class:`RequestAbandoned` instead). For the threads that read pages ahead of their reader."""
    _THIS_THREAD.abandoned = event
    try:
        yield
    finally:
        _THIS_THREAD.abandoned = None


def not_abandoned() -> None:
    event = getattr(_THIS_THREAD, "abandoned", None)
    if event is not None and event.is_set():
        raise RequestAbandoned("no one reads this page any more")


def make_retry(total: int = 6, backoff: float = 0.25, *, writes: bool = False) -> SharedRetry:
    retry = SharedRetry(
        total=total,
        connect=total,
        read=0 if writes else total,
        status=total,
        other=0,
        backoff_factor=backoff,
        backoff_max=8,
        status_forcelist=WRITE_RETRY_STATUSES if writes else READ_RETRY_STATUSES,
        # the reads' session also fetches tokens (a POST that is safe to repeat); writes have their own session
        allowed_methods=frozenset({"POST", "PATCH"} if writes else {"GET", "HEAD", "POST"}),
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
        raise_on_status=False,
    )
    retry.for_writes = writes
    return retry


@dataclass
class Answer:
    """A decoded answer of the registry."""

    status: int
    body: Any
    replayed: bool  # the registry says it replayed an earlier answer (``Idempotent-Replayed: true``)
    request_id: str | None
    sent_at: float  # time.time() when the request was sent
    retry_after: bool = False  # the answer said when to come back (Retry-After)
    location: str | None = None  # where the registry says the object it made is (Location)


def environment_network_settings(url: str) -> tuple[dict[str, str], str | bool]:
    """Proxies and the CA bundle that ``requests`` would take from the environment for ``url`` (``HTTPS_PROXY``,
    ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``), read once instead of on every request."""
    proxies = requests.utils.get_environ_proxies(url)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if urlsplit_scheme(url) == "http" and not proxies:  # no TLS on the way: no bundle to name (requests would look
        return {}, True  # whether it is a folder on every request: a file system call each, 12% of a request's CPU)
    return dict(proxies), (bundle or True)


class PoolChoosingAdapter(HTTPAdapter):
    """requests' adapter, remembering the connection pool it chose for an address with given TLS and proxy settings:
    requests chooses it anew for every request, reading the proxy settings and parsing the URL each time (60 us of
    a write's 1.1-1.4 ms of client CPU). Forgotten when the adapter closes (its session's ``close``), and all at once
    beyond as many addresses as requests keeps pools for (so that no pool it let go is kept open here). (requests
    documents this method as the one to override in a subclass.)"""

    def __init__(self, pool_connections: int, pool_maxsize: int, max_retries: Retry) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=max_retries)
        self._at_most = pool_connections
        self._chosen: dict[tuple[str, str, str, str], HTTPConnectionPool] = {}
        self._closes = 0  # a choice made across a close is not remembered
        self._closing = threading.Lock()

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        address = urlsplit(str(request.url))
        key = (f"{address.scheme}://{address.netloc}", repr(verify), repr(sorted((proxies or {}).items())), repr(cert))
        pool = self._chosen.get(key)
        if pool is None:
            closes = self._closes
            chosen = super().get_connection_with_tls_context(request, verify, proxies, cert)
            assert isinstance(chosen, HTTPConnectionPool)
            with self._closing:
                if closes == self._closes:
                    if len(self._chosen) >= self._at_most:
                        self._chosen.clear()
                    self._chosen[key] = chosen
            pool = chosen
        return pool

    def close(self) -> None:
        with self._closing:
            self._closes += 1
            self._chosen.clear()
        super().close()


class Transport:
    """Authenticated JSON over two ``requests`` sessions, one for reads (and tokens), one for writes (thread-safe;
    connection pools sized for concurrent work). A write is sent through its session's urllib3 pool itself (see
    ``_send_write``)."""

    def __init__(
        self, config: Config, retry: Retry | None = None, pool_size: int = 16, write_retry: Retry | None = None
    ) -> None:
        if urlsplit_scheme(config.root_url) == "http" and not config.is_sandbox:
            raise ConfigurationError(
                f"The registry at {config.root_url} is reached over plain http://, which would send the client "
                "secret and investors' data unencrypted. Use its https:// address (plain http is only for a "
                "sandbox on this machine)."
            )
        self.config = config
        proxies, verify = environment_network_settings(config.root_url)
        self.throttle = Throttle()
        self.reads = self._session(self._shared(retry or make_retry()), pool_size, proxies, verify)
        self.writes = self._session(self._shared(write_retry or make_retry(writes=True)), pool_size, proxies, verify)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_scopes: str | None = None
        self._token_lock = threading.Lock()
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self.clock_offset: float | None = None  # the registry's clock less this machine's, s (its Date header)
        self._last_date: str | None = None
        self._slots: threading.BoundedSemaphore | None = None  # see in_flight()
        self._slots_lock = threading.Lock()
        self._slot_users = 0

    def _shared(self, retry: Retry) -> Retry:
        """``retry`` (a copy) reporting ``Retry-After`` to this transport's throttle, when it can."""
        if isinstance(retry, SharedRetry):
            retry = retry.new()
            retry.throttle = self.throttle
        return retry

    @staticmethod
    def _session(retry: Retry, pool_size: int, proxies: dict[str, str], verify: str | bool) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # proxies and CA bundle were read once from the environment (see above)
        session.proxies.update(proxies)
        session.verify = verify
        adapter = PoolChoosingAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": "cashlink-notebook-toolkit/0.2"})
        return session

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.root_url!r}, client_id={self.config.client_id!r})"

    # --- token --------------------------------------------------------------------------------------------------

    def answers_as_sandbox(self) -> bool | None:
        """Whether the registry answers as the local sandbox does: its public ``/_sandbox/health`` names a profile
        and a seed; None when no answer came (asked again next time). One plain request of its own, no credentials
        sent, no retries (only ever asked of a registry on this machine)."""
        with requests.Session() as session:  # (not the registry's pools: no place among an import's requests)
            session.trust_env, session.proxies, session.verify = False, self.reads.proxies, self.reads.verify
            try:
                answer = session.get(
                    f"{self.config.root_url}/_sandbox/health", timeout=(5, self.config.timeout), allow_redirects=False
                )
            except requests.RequestException:
                return None
        try:
            body = answer.json() if answer.status_code == 200 else None
        except ValueError:
            body = None
        return isinstance(body, dict) and "profile" in body and "seed" in body

    def token(self, force: bool = False) -> str:
        """A valid access token, fetched once and renewed shortly before it expires."""
        with self._token_lock:
            if force or not self._token or time.monotonic() >= self._token_expires_at:
                self._token, lifetime = self._fetch_token()
                self._token_expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
            return self._token

    @property
    def granted_scopes(self) -> str | None:
        """The scopes the token endpoint said it granted (None when it did not say)."""
        return self._token_scopes

    def _fetch_token(self) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "scope": self.config.scopes,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value(),
        }
        answer = self._send(self.reads, "POST", self.config.token_url, "get an access token", data=data)
        if 300 <= answer.status < 400:
            raise self._moved(answer, self.config.token_url, "get an access token", TOKEN_NOT_SENT_ON)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status != 200 or not isinstance(body.get("access_token"), str):
            if answer.status == 200:
                raise AuthenticationError(
                    "The registry's token endpoint answered without an access token. Check CASHLINK_BASE_URL.",
                    status=200,
                    request_id=answer.request_id,
                )
            said = body.get("error")  # RFC 6749 (5.2) answers 400 for credentials and scopes too (some servers 401)
            if answer.status == 400 and said == "invalid_client":
                error = from_answer(401, answer.body, "get an access token", answer.request_id)
                error.status = answer.status
                raise error
            if answer.status in (400, 401, 403) and said in ("unauthorized_client", "invalid_scope"):
                raise PermissionDeniedError(
                    "The registry does not let this API client get an access token with its client id and secret "
                    "(unauthorized_client): ask Cashlink to enable the client-credentials grant for "
                    "CASHLINK_CLIENT_ID."
                    if said == "unauthorized_client"
                    else f"The registry refused the scopes asked for ({self.config.scopes or 'none'}; invalid_scope"
                    f"{': ' + registry_detail(answer.body).rstrip('.') if registry_detail(answer.body) else ''}): "
                    "set CASHLINK_SCOPES in .env to the scopes Cashlink granted this API client, or ask Cashlink "
                    "for them.",
                    status=answer.status,
                    body=answer.body,
                    request_id=answer.request_id,
                )
            if answer.status in (404, 405):  # no token endpoint there: the address, not an id, is wrong
                raise ConfigurationError(
                    f"No Cashlink API answers at {self.config.token_url} (it answered {answer.status}): check "
                    f"CASHLINK_BASE_URL (the settings came from {self.config.source}). {BASE_URL_IS}.",
                    status=answer.status,
                    request_id=answer.request_id,
                )
            raise from_answer(answer.status, answer.body, "get an access token", answer.request_id)
        self._token_scopes = body.get("scope") if isinstance(body.get("scope"), str) else None
        log.info("access token obtained for %s (expires in %s s)", self.config.client_id, body.get("expires_in"))
        return body["access_token"], token_lifetime(body.get("expires_in"))

    # --- requests -----------------------------------------------------------------------------------------------

    @contextmanager
    def in_flight(self, limit: int) -> Iterator[None]:
        """While inside: at most ``limit`` requests of this transport on the wire at once, whatever the number of
        threads calling it. A request holds its place from the moment it may leave (after any ``Retry-After``
        pause) to the last byte of its answer, retries included; preparing it and using the answer happen outside,
        so a bulk import with a few more threads than places keeps every place busy while the registry sees
        ``limit`` concurrent requests. Uses that overlap (nested, or from other threads) share the first limit,
        until the last of them ends."""
        with self._slots_lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(max(1, limit))
            self._slot_users += 1
        try:
            yield
        finally:
            with self._slots_lock:
                self._slot_users -= 1
                if self._slot_users == 0:
                    self._slots = None

    def url(self, path: str) -> str:
        """The URL of an API path, or of a link the registry gave (a page's ``next``): only ever on the registry's
        own address, where the access token may go."""
        if not path.startswith(("http://", "https://")):
            return self.config.api_url + path
        link, root = urlsplit(path), urlsplit(self.config.root_url)
        same_host = (link.hostname or "").lower() == (root.hostname or "").lower() and link.username is None
        try:
            port = _port(link)
        except ValueError:  # not a port at all (99999, abc): not the registry's address either
            port = -1
        if same_host and link.scheme == root.scheme and port == _port(root):
            return path
        if same_host and (link.scheme, port, root.scheme) == ("http", 80, "https"):
            # a registry behind a proxy that ends TLS names its own links http://: the same link over https
            return urlunsplit(link._replace(scheme=root.scheme, netloc=root.netloc))
        raise ConfigurationError(
            f"The registry answered with a link to {link.scheme}://{link.netloc.rpartition('@')[2]}"
            f"{' (with credentials in it)' if '@' in link.netloc else ''}, which is not its address "
            f"{self.config.root_url}: the access token is only sent there, so the link was not followed and the "
            "list is incomplete. Check CASHLINK_BASE_URL (it must be the address the registry's links name), or "
            "tell the registry's operator that its page links point elsewhere."
        )

    def get(self, path: str, action: str, params: dict[str, Any] | None = None, *, undecoded: bool = False) -> Answer:
        """``undecoded``: a successful answer's body is left as the bytes received (the caller decodes it)."""
        return self.request("GET", path, action, params=params, undecoded=undecoded)

    def request(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Any = None,
        files: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        undecoded: bool = False,
    ) -> Answer:
        """Send one API call and return the decoded answer; raise a typed error otherwise.

        ``action`` completes the sentence "could not ..." in error messages, e.g. "create the investor".
        """
        writing = method in ("POST", "PATCH", "PUT", "DELETE")
        if writing and not idempotency_key:
            raise ConfigurationError(f"{method} {path} needs an idempotency key, or it could not be retried safely.")
        headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else {}
        url = self.url(path)
        session = self.writes if writing else self.reads
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.token(force=attempt == 2)}"
            answer = self._send(
                session,
                method,
                url,
                action,
                json=json,
                files=files,
                params=params,
                headers=headers,
                writing=writing,
                undecoded=undecoded,
            )
            if not token_refused(answer) or attempt == 2:
                break
            log.info("%s on %s %s: renewing the access token once", answer.status, method, path)
        if 200 <= answer.status < 300 and jsend(answer.body) and answer.body["status"] != "success":
            # JSend's refusal in a 2xx ("fail": what was sent is wrong, "error": the registry's): as its 4xx or 5xx
            data = answer.body.get("data")
            said = answer.body.get("message") or (data if isinstance(data, str) else None)
            if answer.body["status"] == "fail":
                body = {**(data if isinstance(data, dict) else {}), **({"detail": said} if said else {})}
                raise from_answer(400, body, action, answer.request_id, sent=json)
            if writing:
                reason = scrubbed(str(said), values=personal_values(json)).rstrip(".") if said else ""
                raise AmbiguousWrite(
                    f"The registry answered an error while trying to {action}{f' ({reason})' if reason else ''}: it "
                    "may or may not have acted."
                )
            raise ServerError(  # (not "a problem (500)": the answer was a 2xx, and support needs its own; its
                # sentence is not quoted, as a 5xx's is not: it may name a person, of whom a read sent nothing)
                f"The registry answered an error and could not {action}. Running the cell again is safe; if it fails "
                "again, tell Cashlink's support the time and the request id.",
                status=answer.status,
                body=answer.body,
                request_id=answer.request_id,
            )
        if writing and answer.status == 303:  # done, and its result is elsewhere (RFC 9110's See Other)
            return self._see_other(answer, url, action)
        if 300 <= answer.status < 400:  # a write's (a read follows a redirect that says where to)
            raise self._moved(
                answer,
                url,
                action,
                WRITE_NOT_SENT_ON
                if writing
                else "the access token is not sent on to another address"
                if answer.location
                else "it could not be followed",
            )
        if answer.status >= 300:
            not_taken_in = answer.status == 503 and answer.retry_after
            if writing and answer.status >= 500 and answer.status not in WRITE_NOT_ACTED_STATUSES and not not_taken_in:
                who = "The registry's gateway" if answer.status in (502, 503, 504) else "The registry"
                raise AmbiguousWrite(  # a 500 may come after the registry committed (in writing its answer)
                    f"{who} answered {answer.status} while trying to {action}: it may or may not have acted.",
                    status=answer.status,
                )
            if token_refused(answer):  # (twice: the second time with a token just issued for our credentials)
                self._token = None
                said = scrubbed(registry_detail(answer.body), values=personal_values(json)).rstrip(".")
                raise AuthenticationError(
                    f"The registry refused a fresh access token while trying to {action} ({answer.status}, twice"
                    f"{': ' + said if said else ''}), though it had just issued it for our credentials: this is the "
                    "registry's side, not "
                    "CASHLINK_CLIENT_ID or CASHLINK_CLIENT_SECRET. Running it again is safe; if it keeps happening, "
                    "tell Cashlink's support the time and the request id.",
                    status=answer.status,
                    body=answer.body,
                    request_id=answer.request_id,
                )
            raise from_answer(answer.status, answer.body, action, answer.request_id, sent=json)
        return answer

    def _see_other(self, answer: Answer, url: str, action: str) -> Answer:
        """A write answered 303 See Other: done, and its result at ``Location``. It is read there where that is the
        object itself: in the list posted to, or the object updated, on the registry's own address (its time of
        making then says whether it is new). Anywhere else (a task's status, another host, no address), which
        object it is cannot be told: the outcome is unknown, and nothing is sent again."""
        try:
            where = self.url(urljoin(url, answer.location)) if in_place(url, answer.location) else None
        except ConfigurationError:  # not the registry's own address: the access token does not go there
            where = None
        if where is not None:
            try:
                result = self.request("GET", where, action)
                return replace(result, sent_at=answer.sent_at, replayed=answer.replayed, request_id=answer.request_id)
            except CashlinkError as exc:
                log.info("the result of %s at its 303's Location could not be read: %s", action, type(exc).__name__)
        raise OutcomeUnknown(  # done: never sent again blind
            f"The registry answered 303 to '{action}': it was done, and its result is elsewhere, where this client "
            "cannot read which object it is. Nothing more was sent. Look for it in Cashlink Studio; running this "
            "step again looks for it first where the registry can be searched.",
            status=303,
            request_id=answer.request_id,
        )

    def _moved(self, answer: Answer, url: str, action: str, not_sent_on: str) -> ConfigurationError:
        """The error for a redirect answered to a write or a token request, neither of which is sent on
        (``not_sent_on`` says why): where the registry points, and the base URL to set where that is clear."""
        pointed = urlsplit(urljoin(url, answer.location or ""))
        userinfo = "@" in pointed.netloc  # (user:password@): never repeated
        where = (
            pointed._replace(netloc=pointed.netloc.rpartition("@")[2], query="", fragment="").geturl()
            if answer.location
            else ""
        )
        tail = url[len(self.config.root_url) :] if url.startswith(self.config.root_url) else ""
        if where and tail and where.endswith(tail) and where != url:
            advice = f"If that is the registry, set CASHLINK_BASE_URL to {where[: -len(tail)]}"
        else:
            advice = f"Check CASHLINK_BASE_URL. {BASE_URL_IS}"
        return ConfigurationError(
            f"The registry's address answered {answer.status} (a redirect) when asked to {action}, "
            + (f"pointing to {where}" if where else "without saying where to")
            + (" (with a user name and password in the address, not shown)" if userinfo else "")
            + f": {not_sent_on}. {advice} (the settings came from {self.config.source}), then run the step again.",
            status=answer.status,
            request_id=answer.request_id,
        )

    def _note_clock(self, date: str | None) -> None:
        """How far the registry's clock is from this machine's, from an answer's ``Date`` (to a second or so): what
        the registry stamps as ``created_at`` is compared with when a request was sent."""
        if date is not None and date == self._last_date:  # the same second as the last answer: nothing new
            return
        registry = _registry_time(date)
        if registry is not None:
            self.clock_offset, self._last_date = registry - time.time(), date

    def _send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        action: str,
        *,
        writing: bool = False,
        undecoded: bool = False,
        **kwargs: Any,
    ) -> Answer:
        response: requests.Response | None = None
        if writing:
            try:
                url, body, sending = write_request(self.writes.headers, url, **kwargs)
            except (TypeError, ValueError) as exc:  # (NaN in JSON, a line break in a header): before any byte left
                raise InputError(
                    f"Could not {action}: what was to be sent cannot be written as an HTTP request "
                    f"({type(exc).__name__}: {str(exc)[:120]}). Nothing was sent. Correct the values and try again."
                ) from None
        try:
            if not writing:
                prepared = prepare(session, method, url, **kwargs)
            with self._slots or nullcontext():
                self.throttle.wait()  # with its place: a request that waited for one still honours a Retry-After
                not_abandoned()
                started = time.perf_counter()
                sent_at = time.time()
                if writing:
                    raw = self._send_write(method, url, body, sending)
                else:  # a token request is never sent on: see _moved
                    response = session.send(
                        prepared, timeout=(5, self.config.timeout), stream=True, allow_redirects=method == "GET"
                    )
                    raw = response.raw
                content = _read_body(raw, self.config.timeout)
        except AnswerTooSlow:
            slow = f"stopped coming (less than 64 KB in {self.config.timeout:g} s, not yet all of it)"
            if writing:
                raise AmbiguousWrite(
                    f"The answer to '{action}' {slow}: the registry may or may not have acted."
                ) from None
            raise APIConnectionError(
                f"The registry's answer to '{action}' {slow} (CASHLINK_TIMEOUT): the network, or a gateway on the "
                "way, is slow. Running the cell again is safe; on a slow network, set CASHLINK_TIMEOUT higher in "
                ".env."
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
            if writing and not _never_sent(exc):
                raise AmbiguousWrite(
                    f"The answer to '{action}' was lost ({_in_words(exc)}): the registry may or may not have acted."
                ) from None
            if _proxy_failed(exc):
                said = _tunnel_refused(exc)
                raise APIConnectionError(
                    f"Could not reach the registry at {self.config.root_url} to {action}: the proxy on the way "
                    "(HTTPS_PROXY or HTTP_PROXY) "
                    + (
                        f"answered '{said}' instead of connecting to it (407: it asks for credentials; 403: it does "
                        "not let this address through; 502 or 504: it could not reach the registry)"
                        if said
                        else "could not be reached"
                    )
                    + ". Nothing was sent to the registry. Check the proxy's settings (or NO_PROXY), then run the "
                    "cell again."
                ) from None
            if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
                _reason(exc), urllib3.exceptions.ReadTimeoutError
            ):  # reached, but no answer in time
                raise APIConnectionError(
                    f"The registry at {self.config.root_url} did not answer '{action}' within "
                    f"{self.config.timeout:g} s (CASHLINK_TIMEOUT), even after retries: it is busy or slow. Running "
                    "the cell again is safe; if it stays slow, set CASHLINK_TIMEOUT higher in .env."
                ) from None
            where = (  # (on this machine: the sandbox, or a tunnel to a registry)
                "Is the sandbox running (make lab), or the tunnel to the registry open?"
                if self.config.is_sandbox
                else "Is the network up?"
            )
            raise APIConnectionError(
                f"Could not reach the registry at {self.config.root_url} to {action}, even after retries "
                f"({_in_words(exc)}). {where} Running the cell again is safe."
            ) from None
        with self._count_lock:  # pages are fetched from several threads
            self.requests_sent += 1
        if response is not None and response.history:
            hops = [hop.url for hop in response.history] + [response.url]
            if any(map(session.should_strip_auth, hops, hops[1:])):  # a read sent on to another address:
                # requests followed it without the access token (whose 401 would blame the token): said as a redirect
                return Answer(response.history[0].status_code, None, False, None, sent_at, False, response.url)
        status, headers = raw.status, raw.headers
        if (writing or self.clock_offset is None) and 200 <= status < 300:  # the registry's own answer
            self._note_clock(headers.get("Date"))
        log.debug(
            "%s %s -> %s in %.0f ms",
            method,
            url.split("?", maxsplit=1)[0],
            status,
            (time.perf_counter() - started) * 1000,
        )
        request_id = next((headers[h] for h in REQUEST_ID_HEADERS if h in headers), None)
        return Answer(
            status,
            content if undecoded and 200 <= status < 300 else decode_body(content),
            headers.get("Idempotent-Replayed", "").lower() == "true",
            request_id,
            sent_at,
            "Retry-After" in headers,
            headers.get("Location"),
        )

    def _send_write(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> BaseHTTPResponse:
        """A write on the wire, through the writes' urllib3 pool as requests' adapter would send it (its proxies, CA
        bundle, retries and timeouts) and with the writes' cookies (a gateway's sticky session), without requests'
        own layer: a write follows no redirect (see _moved), and that layer took a fifth of a write's CPU. Returns
        once the answer's headers are in."""
        adapter = self.writes.get_adapter(url)
        assert isinstance(adapter, HTTPAdapter)
        target = requests.PreparedRequest()  # (what requests' adapter reads of a request to choose its pool: its URL)
        target.method, target.url = method, url
        if self.writes.cookies:
            target.headers = requests.structures.CaseInsensitiveDict(headers)
            cookie = requests.cookies.get_cookie_header(self.writes.cookies, target)
            if cookie:
                headers = {**headers, "Cookie": cookie}
        pool = adapter.get_connection_with_tls_context(
            target, self.writes.verify, self.writes.proxies, self.writes.cert
        )
        assert isinstance(pool, HTTPConnectionPool)
        answer = pool.urlopen(
            method,
            adapter.request_url(target, self.writes.proxies),
            body=body,
            headers=headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=adapter.max_retries,
            timeout=urllib3.Timeout(connect=5, read=self.config.timeout),
        )
        if "Set-Cookie" in answer.headers:
            target.headers = requests.structures.CaseInsensitiveDict(headers)
            requests.cookies.extract_cookies_to_jar(self.writes.cookies, target, answer)
        return answer


# What registries and their frameworks answer for a refused access token (DRF, SimpleJWT, OAuth servers, gateways):
# whole sentences only, as a refusal of business may name a token too ("the security token is revoked")
TOKEN_REFUSALS = frozenset(
    {
        "authentication credentials were not provided",
        "given token not valid for any token type",
        "token is invalid or expired",
        "invalid token",
        "invalid access token",
        "token expired",
        "token has expired",
        "access token expired",
        "the access token expired",
        "the access token has expired",
        "the token has expired",
        "jwt expired",
        "signature has expired",
    }
)


def token_refused(answer: Answer) -> bool:
    """The access token was refused: 401, or a 403 that says so in an error code or in one of the sentences
    frameworks answer (some answer an expired token so). Renewed once; any other 403 is the registry's refusal."""
    if answer.status == 401:
        return True
    if answer.status != 403 or web_page(answer.body):
        return False
    body = answer.body if isinstance(answer.body, dict) else {}
    if body.get("error") == "invalid_token" or body.get("code") == "token_not_valid":  # RFC 6750; SimpleJWT
        return True
    return registry_detail(answer.body).strip().rstrip(".").lower() in TOKEN_REFUSALS


def in_place(url: str, location: str | None) -> bool:
    """Whether ``location`` (relative to ``url``) is ``url``'s own object or one in it: an object a write made in
    the list posted to, or the object it updated; not a task's status or another list's object."""
    if not location:
        return False
    where, here = urlsplit(urljoin(url, location)).path.rstrip("/"), urlsplit(url).path.rstrip("/")
    return where == here or where.startswith(here + "/")


def token_lifetime(expires_in: Any) -> float:
    """Seconds a token holds, as its answer's ``expires_in`` says: 0 or less, renewed at every use; missing, or not a
    finite number ("NaN"), RFC 6749's usual hour."""
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        return 3600.0
    return max(lifetime, 0.0) if math.isfinite(lifetime) else 3600.0


def _registry_time(date: str | None) -> float | None:
    """The moment an HTTP ``Date`` header names (the middle of its second), or None. A date without a zone (the
    asctime form) is GMT, as HTTP says."""
    try:
        moment = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() + 0.5


def prepare(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: Any = None,
    files: Any = None,
    params: Mapping[str, Any] | str | list[tuple[str, Any]] | None = None,
) -> requests.PreparedRequest:
    """What ``session.prepare_request(requests.Request(...))`` prepares, in under half its time (45 us less per
    request here): the session's headers, parameters, auth, cookies and hooks, the request's own on top (a ``None``
    drops a session's value). Only for a session that does not read the environment (``trust_env`` off, as the
    transport's are: it would look for ``~/.netrc`` credentials)."""
    if session.trust_env or not (isinstance(params, Mapping | None) and isinstance(session.params, Mapping)):
        # the environment, or parameters as a query string or pairs: as requests itself reads them
        return session.prepare_request(
            requests.Request(method, url, headers=headers, json=json, data=data, files=files, params=params)
        )
    merged_headers = requests.structures.CaseInsensitiveDict(session.headers)
    merged_headers.update(headers or {})
    merged_params = requests.sessions.merge_setting(params, session.params) if session.params else (params or {})
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=method,
        url=url,
        headers={name: value for name, value in merged_headers.items() if value is not None},
        data=data,
        files=files,
        json=json,
        params={name: value for name, value in merged_params.items() if value is not None} or None,
        auth=session.auth,
        cookies=requests.cookies.merge_cookies(requests.cookies.RequestsCookieJar(), session.cookies)
        if session.cookies
        else None,
        hooks=session.hooks,
    )
    return prepared


def write_request(
    session_headers: Mapping[str, str | bytes],
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[str, bytes | None, dict[str, str]]:
    """A write's URL, body and headers as ``requests`` prepares them (a test compares them): the session's headers
    with the request's on top (a ``None`` drops one), and its JSON, form fields or files (multipart) as the body."""
    merged = requests.structures.CaseInsensitiveDict(session_headers)
    merged.update(headers or {})
    sent = {
        name: value if isinstance(value, str) else value.decode() for name, value in merged.items() if value is not None
    }
    if any("\r" in value or "\n" in value for value in sent.values()):
        raise ValueError("a header's value holds a line break")
    body: bytes | None = None
    if files:
        body, sent["Content-Type"] = urllib3.encode_multipart_formdata({**(data or {}), **files})
    elif data:
        body, sent["Content-Type"] = urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    elif json is not None:
        body, sent["Content-Type"] = jsonlib.dumps(json, allow_nan=False).encode(), "application/json"
    query = urlencode({name: value for name, value in (params or {}).items() if value is not None}, doseq=True)
    return (f"{url}{'&' if '?' in url else '?'}{query}" if query else url), body, sent


def decode_body(content: bytes) -> Any:
    """An answer's body: its JSON, or its first 500 characters as text when it is no JSON (an HTML error page).

    Read by orjson where it reads it as the standard library does: orjson reads an integer beyond 64 bits as a float
    (units would lose their exactness), so a body with a number of 19 digits or more is read by the standard library,
    as is what orjson refuses and the standard library reads (NaN, UTF-16, a lone surrogate). A page of 500
    investments: orjson in half the standard library's time, three quarters with that check."""
    if not content:
        return None
    if not _long_number(content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return jsonlib.loads(content)
    except ValueError:
        return content[:500].decode("utf-8", "replace")


def _long_number(content: bytes) -> bool:
    """Whether a number of 19 digits or more may be in the body: 19 digits in a row where a number may start (after
    ':', ',', '[' or JSON's whitespace, or at the start, perhaps after a minus). Digits in text follow letters (an
    IBAN's 20 digits) or are found where a number may start (a false alarm: only the standard library's time). In C,
    about half of orjson's time."""
    tokens = content.translate(NUMBER_TOKENS)
    if LONG_DIGITS not in tokens:  # (most bodies: one search)
        return False
    return any(start + LONG_DIGITS in tokens for start in (b":", b":-")) or tokens.startswith(
        (LONG_DIGITS, b"-" + LONG_DIGITS)
    )


def _token_byte(byte: int) -> int:
    char = chr(byte)
    return ord(
        "9" if char.isascii() and char.isdigit() else ":" if char in ":,[ \t\r\n" else "-" if char == "-" else "x"
    )


NUMBER_TOKENS = bytes(map(_token_byte, range(256)))  # digits as 9, where a number may start as ':'
LONG_DIGITS = b"9" * 19  # (the largest 64-bit integer has 19 digits)


class AnswerTooSlow(urllib3.exceptions.HTTPError):
    """The rest of an answer did not come within the timeout of its first bytes."""


STEADY_BYTES = 64 * 1024  # an answer that keeps coming brings at least this much (or its end) every timeout


def _read_body(raw: BaseHTTPResponse, seconds: float) -> bytes:
    """The whole body, read as it arrives as long as it keeps coming: at least 64 KB, or its end, within each
    ``seconds``. A timeout of each read of the socket alone would let a gateway that sends a few bytes at a time
    hold the call as long as it likes; a large page over a slow line still arrives. Read in pieces of up to 1 MB
    (``requests``' ``response.content`` reads 10 KB pieces, which costs a tenth of the time of a large page); a body
    cut short raises urllib3's error. The connection goes back to the pool once the body is read."""
    deadline, since, late = time.monotonic() + seconds, 0, False
    parts = []
    plain = "Content-Encoding" not in raw.headers  # (encoded: the decoder may hold a last piece)
    while part := raw.read1(1 << 20, decode_content=True):
        if late:  # more came after the time was up (a piece that was the end reads as b"": the answer is whole)
            raw.close()
            raw.release_conn()  # (closed: the pool opens a new connection in its place)
            raise AnswerTooSlow(f"the answer stopped coming: less than 64 KB in {seconds:g} s")
        parts.append(part)
        if plain and raw.length_remaining == 0:  # all its Content-Length: no read for the end
            break
        since += len(part)
        if since >= STEADY_BYTES:
            deadline, since = time.monotonic() + seconds, 0
        else:
            late = time.monotonic() > deadline
    raw.release_conn()
    return b"".join(parts)


def _never_sent(exc: requests.exceptions.RequestException | urllib3.exceptions.HTTPError) -> bool:
    """True when the registry cannot have acted on a write: the connection to it, or to the proxy on the way, never
    opened, the proxy refused the tunnel, or no connection could be taken from the pool (urllib3's errors: writes
    are sent through it, see ``Transport._send_write``)."""
    reason = _reason(exc)
    if isinstance(exc, urllib3.exceptions.ClosedPoolError | urllib3.exceptions.EmptyPoolError):
        # raised as a connection is taken from the pool, before this attempt's first byte; an attempt before it in
        # the same call made nothing (urllib3 tries a write again only after a 429 or 503 that says when to come
        # back, or a connection that never opened: review 80)
        return True
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError) or _proxy_failed(exc)


def _proxy_failed(exc: requests.exceptions.RequestException | urllib3.exceptions.HTTPError) -> bool:
    """The proxy on the way could not be reached, or refused the tunnel (407, 403): before anything left. (urllib3
    also says ProxyError of a forwarded request whose connection the proxy dropped after it went on: not this.)"""
    reason = _reason(exc)
    if not isinstance(reason, urllib3.exceptions.ProxyError):
        return False
    return bool(_tunnel_refused(exc)) or isinstance(reason.original_error, urllib3.exceptions.ConnectTimeoutError)


def _tunnel_refused(exc: requests.exceptions.RequestException | urllib3.exceptions.HTTPError) -> str | None:
    """What the proxy answered instead of a tunnel ('407 Proxy Authentication Required'), or None."""
    reason = _reason(exc)
    cause = reason.original_error if isinstance(reason, urllib3.exceptions.ProxyError) else None
    said = str(cause) if isinstance(cause, OSError) else ""
    if not said.startswith("Tunnel connection failed:"):
        return None
    return said.removeprefix("Tunnel connection failed:").strip()[:80] or "no reason"


def _in_words(exc: requests.exceptions.RequestException | urllib3.exceptions.HTTPError) -> str:
    """What went wrong with a connection, in words for a person (review 88: a class name reached the screen)."""
    reason = _reason(exc)
    said = str(reason).lower()
    if isinstance(reason, urllib3.exceptions.NameResolutionError) or "name resolution" in said:
        return "the registry's host name could not be looked up"
    if "refused" in said:
        return "the connection was refused"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # (a ConnectTimeoutError to urllib3)
        return "the connection could not be opened"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return "the connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return "no answer came in time"
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(reason, urllib3.exceptions.SSLError):
        return "the secure connection (TLS) could not be made"
    if "reset" in said or "aborted" in said or "disconnected" in said or "broken" in said:
        return "the connection broke off"
    return "the connection failed"


def _reason(exc: BaseException) -> BaseException | None:
    """urllib3's error under ``exc``: a MaxRetryError's reason, also wrapped in requests' error."""
    inner = exc.args[0] if isinstance(exc, requests.exceptions.RequestException) and exc.args else exc
    return inner.reason if isinstance(inner, urllib3.exceptions.MaxRetryError) else inner


def _port(url: SplitResult) -> int | None:
    """The port of a URL, the scheme's default when it names none."""
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def urlsplit_scheme(url: str) -> str:
    return url.split(":", 1)[0].lower()
