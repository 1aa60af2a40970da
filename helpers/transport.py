"""One HTTP session for every call: OAuth2 client-credentials token (cached, refreshed), timeouts, safe retries.

Retries (urllib3's ``Retry``) cover connection errors, lost answers, 429 (honouring ``Retry-After``) and
502/503/504, for GET and for POST/PATCH. Writes are safe to retry only because every one of them carries an
``X-Idempotency-Key``: :meth:`Transport.request` refuses a write without one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from helpers.config import Config
from helpers.errors import APIConnectionError, AuthenticationError, from_response

log = logging.getLogger("helpers")

RETRY_STATUSES = (429, 502, 503, 504)
TOKEN_MARGIN = 60  # seconds before expiry at which the token is renewed


def make_retry(total: int = 6, backoff: float = 0.25) -> Retry:
    return Retry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        backoff_factor=backoff,
        backoff_max=8,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "POST", "PATCH"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class Transport:
    """Authenticated JSON over one ``requests.Session`` (thread-safe; connection pool sized for bulk work)."""

    def __init__(self, config: Config, retry: Retry | None = None, pool_size: int = 16) -> None:
        self.config = config
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry or make_retry(), pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "cashlink-notebook-toolkit/0.1"})
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.base_url!r}, client_id={self.config.client_id!r})"

    # --- token --------------------------------------------------------------------------------------------------

    def token(self, force: bool = False) -> str:
        """A valid access token, fetched once and renewed shortly before it expires."""
        with self._token_lock:
            if force or not self._token or time.monotonic() >= self._token_expires_at:
                self._token, lifetime = self._fetch_token()
                self._token_expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "scope": self.config.scopes,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
        }
        response = self._send("POST", self.config.token_url, "get an access token", data=data)
        if response.status_code != 200:
            raise from_response(response, "get an access token")
        body = response.json()
        log.info("access token obtained for %s (expires in %s s)", self.config.client_id, body.get("expires_in"))
        return body["access_token"], float(body.get("expires_in") or 3600)

    # --- requests -----------------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.config.api_url + path

    def request(self, method: str, path: str, action: str, *, json: Any = None, files: Any = None,
                params: dict[str, Any] | None = None, idempotency_key: str | None = None) -> Any:
        """Send one API call and return the decoded JSON; raise a typed error otherwise.

        ``action`` completes the sentence "could not ..." in error messages, e.g. "create the investor".
        """
        if method in ("POST", "PATCH") and not idempotency_key:
            raise ValueError(f"{method} {path} needs an idempotency key, or it could not be retried safely.")
        headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else {}
        url = self.url(path)
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.token(force=attempt == 2)}"
            response = self._send(method, url, action, json=json, files=files, params=params, headers=headers)
            if response.status_code != 401 or attempt == 2:
                break
            log.info("401 on %s %s: renewing the access token once", method, path)
        if response.status_code >= 300:
            error = from_response(response, action)
            if isinstance(error, AuthenticationError):
                self._token = None
            raise error
        return response.json() if response.content else None

    def _send(self, method: str, url: str, action: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, timeout=(5, self.config.timeout), **kwargs)
        except requests.exceptions.RequestException as exc:
            raise APIConnectionError(
                f"Could not reach the registry at {self.config.base_url} to {action}, even after retries "
                f"({type(exc).__name__}). Is the sandbox running (make lab) or the network up? Running the cell "
                "again is safe."
            ) from None
        self.requests_sent += 1
        log.debug("%s %s -> %s in %.0f ms", method, url.split("?")[0], response.status_code,
                  (time.perf_counter() - started) * 1000)
        return response
