"""Typed errors whose messages read as sentences, and that show their field errors as a table in a notebook.

The hierarchy follows stripe-python's::

    CashlinkError
    ├── ValidationError            400/422 from the registry, with field errors
    │   └── InputError             refused locally, before anything was sent
    ├── AuthenticationError        401: wrong client id/secret or token
    ├── PermissionDeniedError      403: a scope is missing
    ├── NotFoundError              404
    ├── ConflictError              409, and an idempotency key reused with a different body
    ├── RateLimitError             429 after the retries ran out
    ├── ServerError                5xx after the retries ran out
    ├── APIConnectionError         no answer at all (network) after the retries ran out
    └── TaskError                  a credit/redemption/transfer that failed, is unknown, or did not finish in time
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import requests

from helpers.checks import FieldErrors, flatten


def field_label(path: str) -> str:
    """``natural_person.birth_date`` -> ``birth date (natural person)``."""
    parts = [part for part in path.split(".") if part != "non_field_errors"]
    if not parts:
        return "the request as a whole"
    words = [part.replace("_", " ") for part in parts]
    leaf, parents = words[-1], [w for w in words[:-1] if not w.isdigit()]
    if words[:-1] and words[-2].isdigit():
        leaf = f"{leaf} of item {int(words[-2]) + 1}"
    return f"{leaf} ({', '.join(parents)})" if parents else leaf


class CashlinkError(Exception):
    """Base of every error the toolkit raises."""

    def __init__(self, message: str, *, field_errors: FieldErrors | None = None, status: int | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: FieldErrors = field_errors or {}
        self.status = status
        self.body = body

    def __str__(self) -> str:
        if not self.field_errors:
            return self.message
        details = "; ".join(f"{field_label(path)}: {' '.join(msgs)}" for path, msgs in self.field_errors.items())
        return f"{self.message} {details}"

    def to_frame(self) -> pd.DataFrame:
        """The field errors as a table: field, message."""
        rows = [(path, field_label(path), message) for path, messages in self.field_errors.items()
                for message in messages]
        return pd.DataFrame(rows, columns=["field", "label", "message"])

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the sentence, then the field errors as a table."""
        lines = [f"\033[1;31m{type(self).__name__}\033[0m: {self.message}"]
        if self.field_errors:
            width = max(len(field_label(path)) for path in self.field_errors)
            lines += [f"  {field_label(path):<{width}}  {' '.join(messages)}"
                      for path, messages in self.field_errors.items()]
        return lines

    def _repr_html_(self) -> str:
        head = f"<p><strong>{html.escape(type(self).__name__)}</strong>: {html.escape(self.message)}</p>"
        if not self.field_errors:
            return head
        rows = "".join(
            f"<tr><td>{html.escape(field_label(path))}</td><td>{html.escape(msg)}</td></tr>"
            for path, msgs in self.field_errors.items() for msg in msgs
        )
        return f"{head}<table><thead><tr><th>Field</th><th>Problem</th></tr></thead><tbody>{rows}</tbody></table>"


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


class ConflictError(CashlinkError):
    pass


class RateLimitError(CashlinkError):
    pass


class ServerError(CashlinkError):
    pass


class APIConnectionError(CashlinkError):
    pass


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
    return InputError(f"Nothing was sent: {fields} of {subject} {verb} attention.", field_errors=errors)


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("detail", "error_description", "error"):
            if isinstance(body.get(key), str):
                return body[key]
    return ""


def from_response(response: requests.Response, action: str) -> CashlinkError:
    """The error that a non-2xx answer means, with a sentence that names the action."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    detail = _detail(body).rstrip(".")
    reason = f": {detail}." if detail else "."
    if status == 401:
        return AuthenticationError(
            f"The registry did not accept our credentials while trying to {action}{reason} Check CASHLINK_CLIENT_ID "
            "and CASHLINK_CLIENT_SECRET in .env.", status=status, body=body)
    if status == 403:
        return PermissionDeniedError(
            f"Our API client is not allowed to {action}{reason} Ask Cashlink for the missing scope or add it to "
            "CASHLINK_SCOPES.", status=status, body=body)
    if status == 404:
        return NotFoundError(f"Could not {action}: the registry has no such object{reason}", status=status, body=body)
    if status == 409 or (status == 422 and "idempotency" in detail.lower()):
        return ConflictError(f"Could not {action}{reason}", status=status, body=body)
    if status == 429:
        return RateLimitError(f"The registry is throttling us; could not {action} after several retries. "
                              "Wait a minute and run the cell again.", status=status, body=body)
    if status >= 500:
        return ServerError(f"The registry had a problem ({status}) and could not {action}, even after retries. "
                           "Running the cell again is safe.", status=status, body=body)
    field_errors = {} if detail and isinstance(body, dict) and set(body) <= {"detail"} else flatten(body)
    message = f"The registry refused to {action}{reason if detail else '.'}"
    return ValidationError(message, field_errors=field_errors, status=status, body=body)
