"""Reading the registry's webhook calls: ``{"investment_id", "status", "changed_at"}``.

Deliveries are retried until your endpoint answers 2xx, so the same event can arrive more than once: handle it
idempotently, e.g. by remembering :attr:`WebhookEvent.key`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helpers import api, checks
from helpers.errors import input_error


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
    if not isinstance(body, dict):
        raise input_error("the webhook", {"body": ["The body is not a JSON object."]})
    errors: checks.FieldErrors = {}
    values: dict[str, Any] = {}
    for name, check in (("investment_id", checks.check_uuid), ("changed_at", checks.check_datetime),
                        ("status", checks.check_choice(*api.INVESTMENT_STATUSES))):
        try:
            values[name] = check(body.get(name))
        except checks.CheckError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise input_error("the webhook", errors)
    return WebhookEvent(values["investment_id"], values["status"], datetime.fromisoformat(values["changed_at"]))
