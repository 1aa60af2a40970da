"""Reading the registry's webhook calls: ``{"investment_id", "status", "changed_at"}``.

Deliveries are retried until your endpoint answers 2xx, so the same event can arrive more than once: handle it
idempotently, e.g. by remembering :attr:`WebhookEvent.key`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helpers.core import api, models
from helpers.core.checks import UndocumentedValueWarning
from helpers.core.errors import input_error


@dataclass(frozen=True)
class WebhookEvent:
    investment_id: str
    status: str
    changed_at: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        """The same for every delivery of one event (use it to ignore repeats)."""
        return self.investment_id, self.status, self.changed_at.isoformat()


def parse_webhook(body: bytes | str | dict[str, Any]) -> WebhookEvent:
    """Check a webhook body and return the event; a malformed one raises an :class:`InputError` naming the field."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            raise input_error("the webhook", {"body": ["The body is not JSON."]}) from None
    event = models.parse(models.Webhook, body, "the webhook")
    if event.status not in api.INVESTMENT_STATUSES:
        warnings.warn(
            f"The webhook names the status {event.status}, which the documentation does not list.",
            UndocumentedValueWarning,
            stacklevel=2,
        )
    return WebhookEvent(event.investment_id, event.status, datetime.fromisoformat(event.changed_at))
