"""Webhooks from the sandbox to a real HTTP receiver: payload, bearer auth, retries; and the client's parser."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

import helpers
from helpers.core.webhooks import parse_webhook
from tests.conftest import Sandbox
from tests.test_helpers_client import invest, onboard


@pytest.fixture
def sandbox(strict_sandbox: Sandbox) -> Sandbox:
    """Bearer-token webhooks are the strict profile's (OAuth ones: tests/test_sandbox_profiles.py)."""
    return strict_sandbox


class Receiver(HTTPServer):
    """Answers 500 to the first ``failures`` calls, then 200; keeps every call."""

    def __init__(self, failures: int) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures = failures

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.calls.append({"body": json.loads(body), "auth": handler.headers.get("Authorization")})
                handler.send_response(500 if len(self.calls) <= self.failures else 200)
                handler.end_headers()

            def log_message(handler, *_args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def receiver() -> Any:
    server = Receiver(failures=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_status_changes_are_delivered_with_retries(
    client: helpers.Client, sandbox: Sandbox, receiver: Receiver, tenant: dict[str, Any]
) -> None:
    sandbox.admin(
        "webhooks",
        {
            "client_id": tenant["client_id"],
            "url": f"http://127.0.0.1:{receiver.server_port}/",
            "token": "receiver-token",
            "backoff": 0.05,
        },
    )
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 10)
    client.investments.credit(investment.id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = [parse_webhook(call["body"]) for call in receiver.calls]
        if {e.status for e in events} >= {"PAID", "DELIVERED"}:
            break
        time.sleep(0.05)
    assert [e.status for e in events][-2:] == ["PAID", "DELIVERED"]
    assert {e.investment_id for e in events} == {investment.id}
    assert set(receiver.calls[0]["body"]) == {"investment_id", "status", "changed_at"}
    assert all(call["auth"] == "Bearer receiver-token" for call in receiver.calls)
    assert events[0].key == events[1].key, "the first call failed (500) and was delivered again"
    log = sandbox.admin(f"webhooks/{tenant['client_id']}/deliveries", method="GET")
    assert [d["state"] for d in log] == ["delivered", "delivered"] and log[0]["attempts"] == 2
    sandbox.admin("webhooks", {"client_id": tenant["client_id"], "url": None})


@pytest.mark.parametrize(
    "body, text",
    [
        (b"not json", "not JSON"),
        ({"investment_id": "x", "status": "PAID", "changed_at": "2024-01-01T00:00:00+00:00"}, "is not an id"),
        (
            {"investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "PAID", "changed_at": "yesterday"},
            "is not a date;",
        ),
    ],
)
def test_malformed_webhooks_are_explained(body: Any, text: str) -> None:
    with pytest.raises(helpers.InputError, match=text):
        parse_webhook(body)


def test_an_undocumented_status_is_accepted_with_a_warning() -> None:
    from helpers.core.checks import UndocumentedValueWarning

    with pytest.warns(UndocumentedValueWarning, match="DONE"):
        event = parse_webhook(
            {
                "investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "status": "DONE",
                "changed_at": "2024-01-01T00:00:00+00:00",
            }
        )
    assert event.status == "DONE"


def test_the_due_events_are_one_index_seek_per_distributor(tmp_path: Any) -> None:
    """Each tick reads each distributor's first pending event: not every pending event for each pending event (a
    backlog of 16,000 took 35 s per tick, under the store's lock)."""
    from sandbox import webhooks
    from sandbox.store import Store

    store = Store(tmp_path / "due.sqlite3")
    store.db.executescript(webhooks.SCHEMA)
    for tenant in ("a", "b"):
        store.execute(
            f"INSERT INTO webhook_targets VALUES ('{tenant}', 'http://127.0.0.1:9', NULL, NULL, NULL, NULL, 5, 1)"
        )
    store.db.executemany(
        "INSERT INTO webhook_outbox (id, tenant, payload, state, next_at) VALUES (?, ?, '{}', ?, ?)",
        [(f"e{n}", "ab"[n % 2], "delivered" if n < 2 else "pending", 0 if n != 3 else 2e9) for n in range(2000)],
    )
    plan = " | ".join(row[3] for row in store.execute("EXPLAIN QUERY PLAN " + webhooks.DUE, [0]))
    assert "SEARCH e USING INDEX webhook_pending" in plan and "SCAN o" not in plan, plan
    due = store.execute(webhooks.DUE, [1e9])
    assert [(row["tenant"], row["seq"]) for row in due] == [("a", 3)]  # b's first pending event is not due yet


def test_an_event_without_a_status_is_read_and_a_status_in_any_case_is_one_event() -> None:
    """Review 45: an event about an investment that is no status change (a new registry statement: its payload is
    not documented) was refused, so an endpoint would answer non-2xx and the registry send it forever; 'delivered'
    and 'DELIVERED' gave two keys for one event."""
    statement = parse_webhook({"investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "event": "statement"})
    assert statement.status is None and statement.changed_at is None and statement.key[2]
    other = parse_webhook({"investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "event": "statement 2"})
    assert other.key != statement.key
    moment = "2024-01-01T00:00:00+00:00"
    lower = parse_webhook(
        {"investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "delivered", "changed_at": moment}
    )
    upper = parse_webhook(
        {"investment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "DELIVERED", "changed_at": moment}
    )
    assert lower.key == upper.key and lower.status == "DELIVERED"
    with pytest.raises(helpers.InputError) as unreadable:
        parse_webhook(b"not json")
    said = unreadable.value.message
    assert "answer it with 400" in said and "Correct it and try again" not in said and "Nothing was sent" not in said


def test_a_redelivery_of_an_event_without_a_time_is_the_same_event() -> None:
    """Review 47: a redelivery whose body carries an attempt counter got a new key, and 'paid' and 'PAID' without a
    time got two."""
    investment = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    first = parse_webhook({"investment_id": investment, "event": "statement", "attempt": 1})
    again = parse_webhook({"investment_id": investment, "event": "statement", "attempt": 2, "delivery_id": "d2"})
    assert first.key == again.key
    assert parse_webhook({"investment_id": investment, "status": "paid"}).key == (
        parse_webhook({"investment_id": investment, "status": "PAID"}).key
    )


def test_a_time_without_a_zone_is_utc_and_a_send_time_is_no_part_of_the_event() -> None:
    """Review 49: a changed_at without a zone made the call unreadable (sent again forever); a redelivery with its
    own sent_at looked like a new event."""
    investment = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    zoneless = parse_webhook({"investment_id": investment, "status": "PAID", "changed_at": "2024-01-01T10:00:00"})
    zoned = parse_webhook({"investment_id": investment, "status": "PAID", "changed_at": "2024-01-01T10:00:00Z"})
    assert zoneless.key == zoned.key
    first = parse_webhook({"investment_id": investment, "event": "statement", "sent_at": "2024-01-01T10:00:00Z"})
    again = parse_webhook({"investment_id": investment, "event": "statement", "sent_at": "2024-01-01T10:05:00Z"})
    assert first.key == again.key


def test_one_moment_in_any_notation_is_one_key_and_a_field_is_left_out_by_its_name_only() -> None:
    """Review 51: '10:00+01' and '09:00Z' gave two keys, a lowercase z was refused, and consent_at was taken for a
    delivery's sent_at."""
    investment = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    keys = {
        parse_webhook({"investment_id": investment, "status": "PAID", "changed_at": moment}).key
        for moment in ("2024-01-01T10:00:00+01:00", "2024-01-01T09:00:00Z", "2024-01-01T09:00:00z")
    }
    assert len(keys) == 1
    first = parse_webhook({"investment_id": investment, "event": "e", "consent_at": "2024-01-01T10:00:00Z"})
    other = parse_webhook({"investment_id": investment, "event": "e", "consent_at": "2024-02-01T10:00:00Z"})
    assert first.key != other.key
