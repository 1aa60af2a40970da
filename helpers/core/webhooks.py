"""Reading the registry's webhook calls: ``{"investment_id", "status", "changed_at"}``.

Deliveries are retried until your endpoint answers 2xx, so the same event can arrive more than once: handle it
idempotently, e.g. by remembering :attr:`WebhookEvent.key`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helpers.core import api, checks, models
from helpers.core.checks import UndocumentedValueWarning
from helpers.core.errors import InputError

DELIVERY_WORDS = (
    "attempt",
    "retry",
    "retries",
    "delivery",
    "delivered_at",
    "sent_at",
)  # of a delivery, not of the event


@dataclass(frozen=True)
class WebhookEvent:
    investment_id: str
    status: str | None  # None: an event that is no status change (a new registry statement)
    changed_at: datetime | None
    digest: str = ""  # of the body (what is of the delivery aside): tells apart events that give no time; two whose
    # bodies are the same cannot be told apart (the registry's documentation gives events no id)

    @property
    def key(self) -> tuple[str, str, str]:
        """The same for every delivery of one event (use it to ignore repeats)."""
        return self.investment_id, self.status or "", self.changed_at.isoformat() if self.changed_at else self.digest


def parse_webhook(body: bytes | str | dict[str, Any]) -> WebhookEvent:
    """Check a webhook body and return the event; one that cannot be read raises an :class:`InputError` naming the
    field. A status is read in its documented case ('delivered' is DELIVERED); an event without a status is one
    about the investment that is no status change (answer it 2xx, or the registry sends it again and again)."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            raise _unreadable({"body": ["The body is not JSON."]}) from None
    try:
        event = models.parse(models.Webhook, body, "the webhook")
    except InputError as exc:
        raise _unreadable(exc.field_errors) from None
    status = api.read_status(event.status) if event.status else None
    if status is not None and status not in api.INVESTMENT_STATUSES:
        warnings.warn(
            f"The webhook names the status {status}, which the documentation does not list.",
            UndocumentedValueWarning,
            stacklevel=2,
        )
    event_only = {  # what a redelivery changes (its attempt) is no part of the event; a status in any case is one
        key: (status if key == "status" else value)
        for key, value in (body.items() if isinstance(body, dict) else ())
        if not any(word in str(key).lower().split("_") or str(key).lower() == word for word in DELIVERY_WORDS)
    }
    digest = hashlib.sha256(json.dumps(event_only, sort_keys=True, default=str).encode()).hexdigest()[:16]
    changed_at = _changed_at(event.changed_at) if event.changed_at else None
    return WebhookEvent(event.investment_id, status, changed_at, digest)


def _changed_at(text: str) -> datetime:
    """The event's time; one without a zone is read as UTC, as the client reads the registry's times elsewhere (an
    event refused for it would be sent again and again)."""
    moment = checks.registry_moment(text)  # (in UTC: one key per moment, whatever its offset)
    if moment is None:
        raise _unreadable({"changed_at": [f"{checks.quote(text)} is not a date; the documentation gives ISO 8601."]})
    return moment


def _unreadable(problems: dict[str, list[str]]) -> InputError:
    said = "; ".join(f"{field}: {' '.join(messages).rstrip('.')}" for field, messages in problems.items())
    return InputError(
        f"This webhook call cannot be read ({said}). It is not the registry's documented payload: answer it with "
        "400, keep its body for Cashlink, and check who sends it.",
        field_errors=problems,
    )
