"""A table of bad requests: each gets a clear 4xx naming the problem, and none changes anything."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.sandbox_fixtures import SIGNED_AT, Sandbox, identification_body, investor_body
from tests.test_sandbox_api import Api


@pytest.fixture
def sandbox(strict_sandbox: Sandbox) -> Sandbox:
    """These tests pin the strict profile's answers (the drf ones: tests/test_sandbox_profiles.py)."""
    return strict_sandbox


def snapshot(sandbox: Sandbox) -> tuple[int, int]:
    with sqlite3.connect(sandbox.db_path) as db:
        return db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM objects").fetchone()


@pytest.fixture
def world(sandbox: Sandbox, tenant: dict[str, Any]) -> dict[str, Any]:
    api = Api(sandbox, tenant)
    investor_id = api.identified_investor()
    wallet_id = api.post(f"/investors/{investor_id}/wallets/eth-managed/").json()["id"]
    seed = sandbox.health()["seed"]
    investment = api.delivered(investor_id, wallet_id, 10, seed["campaign_id"])
    fresh = api.post("/investors/", json=investor_body("Fresh")).json()["id"]
    return {
        "api": api,
        "investor": investor_id,
        "wallet": wallet_id,
        "fresh": fresh,
        "doc": api.document(),
        "investment": investment["id"],
        **seed,
    }


def investment(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "campaign_id": w["campaign_id"],
        "investor_id": w["investor"],
        "units": 5,
        "signed_at": SIGNED_AT,
        "signed_documents": [{"document_id": w["doc"], "category": "c", "subject": "s"}],
    }
    return {**body, **changes}


def redemption(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "investor_id": w["investor"],
        "product_id": w["product_id"],
        "wallet_id": w["wallet"],
        "units": 1,
        **changes,
    }


# (name, method, path, body builder, expected status, text expected in the answer)
CASES = [
    (
        "iban checksum",
        "POST",
        "/investors/",
        lambda w: investor_body(bank_account__iban="DE53500105173569146252"),
        400,
        "not a valid IBAN",
    ),
    ("bic", "POST", "/investors/", lambda w: investor_body(bank_account__bic="XX"), 400, "not a valid BIC"),
    (
        "alpha-2 country",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__country="DE"),
        400,
        "three-letter ISO 3166 code DEU",
    ),
    (
        "unknown country",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__citizenship="XYZ"),
        400,
        "not a three-letter ISO 3166 country code",
    ),
    (
        "birth date format",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__birth_date="10.08.2000"),
        400,
        "write it as YYYY-MM-DD",
    ),
    (
        "minor",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__birth_date="2020-01-01"),
        400,
        "at least 18",
    ),
    (
        "us taxable",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__is_subject_to_us_tax=True),
        400,
        "subject to US tax",
    ),
    (
        "missing surname",
        "POST",
        "/investors/",
        lambda w: investor_body(natural_person__surname=""),
        400,
        "This field is required",
    ),
    (
        "both persons",
        "POST",
        "/investors/",
        lambda w: {**investor_body(), "legal_person": {"company_name": "x"}},
        400,
        "exactly one of natural_person or legal_person",
    ),
    ("not json", "POST", "/investors/", lambda w: "{not json", 400, "JSON parse error"),
    ("json list", "POST", "/investors/", lambda w: [1, 2], 400, "Expected a JSON object"),
    (
        "unknown protocol document",
        "POST",
        "/investors/{fresh}/identifications/",
        lambda w: identification_body("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        400,
        "No uploaded document",
    ),
    (
        "validity reversed",
        "POST",
        "/investors/{fresh}/identifications/",
        lambda w: {**identification_body(w["doc"]), "document_valid_to": "2019-01-01"},
        400,
        "cannot expire",
    ),
    (
        "unknown investor",
        "POST",
        "/investors/3fa85f64-5717-4562-b3fc-2c963f66afa6/identifications/",
        lambda w: identification_body(w["doc"]),
        404,
        "Investor not found",
    ),
    (
        "address too short",
        "POST",
        "/investors/{investor}/wallets/eth-generic/",
        lambda w: {"address": "0x1234"},
        400,
        "40 hexadecimal digits",
    ),
    ("wallet type", "POST", "/investors/{investor}/wallets/btc/", lambda w: {}, 404, "eth-managed or eth-generic"),
    ("fractional units", "POST", "/investments/", lambda w: investment(w, units=2.5), 400, "floating-point"),
    ("zero units", "POST", "/investments/", lambda w: investment(w, units=0), 400, "at least 1"),
    (
        "no signed_at",
        "POST",
        "/investments/",
        lambda w: {k: v for k, v in investment(w).items() if k != "signed_at"},
        400,
        "Web-based subscriptions",
    ),
    (
        "naive signed_at",
        "POST",
        "/investments/",
        lambda w: investment(w, signed_at="2021-03-12T07:14:13"),
        400,
        "no time zone",
    ),
    (
        "no documents",
        "POST",
        "/investments/",
        lambda w: investment(w, signed_documents=[]),
        400,
        "at least one signed document",
    ),
    (
        "unknown campaign",
        "POST",
        "/investments/",
        lambda w: investment(w, campaign_id="3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        400,
        "No campaign",
    ),
    (
        "someone else's wallet",
        "POST",
        "/investments/",
        lambda w: investment(w, investor_id=w["fresh"], wallet=w["wallet"]),
        400,
        "has no wallet with the id",
    ),
    ("too many units", "POST", "/investments/", lambda w: investment(w, units=10**9), 400, "units are left"),
    ("patch units", "PATCH", "/investments/{investment}/", lambda w: {"units": 3}, 400, "cannot be changed"),
    (
        "patch delivered",
        "PATCH",
        "/investments/{investment}/",
        lambda w: {"paid_at": SIGNED_AT},
        400,
        "DELIVERED and can no longer be changed",
    ),
    ("redeem too much", "POST", "/redemptions/", lambda w: redemption(w, units=11), 400, "holds only 10"),
    ("redeem negative", "POST", "/redemptions/", lambda w: redemption(w, units=-1), 400, "at least 1"),
    (
        "redeem other wallet",
        "POST",
        "/redemptions/",
        lambda w: redemption(w, investor_id=w["fresh"]),
        400,
        "has no wallet",
    ),
    (
        "transfer to unknown",
        "POST",
        "/transfers/",
        lambda w: {
            "product": w["product_id"],
            "source_wallet": w["wallet"],
            "target_address": "0x" + "1" * 40,
            "amount": 1,
        },
        400,
        "No wallet registered",
    ),
    ("credit twice", "POST", "/investments/{investment}/credits/", lambda w: None, 400, "already credited"),
    ("page zero", "GET", "/investments/?page=0", lambda w: None, 400, "positive whole number"),
]


@pytest.mark.parametrize("name, method, path, build, status, text", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(
    sandbox: Sandbox, world: dict[str, Any], name: str, method: str, path: str, build: Any, status: int, text: str
) -> None:
    api: Api = world["api"]
    before = snapshot(sandbox)
    body = build(world)
    url = path.format(**world)
    if method == "GET":
        response = api.get(url)
    elif isinstance(body, str):
        response = _post_raw(api, url, body)
    elif method == "POST":
        response = api.post(url, json=body)
    else:
        response = api.patch(url, json=body)
    assert response.status_code == status, response.text
    assert text in response.text, response.text
    assert snapshot(sandbox) == before


def _post_raw(api: Api, url: str, body: str) -> Any:
    import requests

    return requests.post(
        api.url + url,
        data=body,
        timeout=10,
        headers={**api.headers, "Content-Type": "application/json", "X-Idempotency-Key": api.key()},
    )


@pytest.mark.parametrize(
    "files, status, text",
    [
        ({"file": ("x.exe", b"MZ", "application/octet-stream")}, 400, "are not accepted"),
        ({"file": ("empty.pdf", b"", "application/pdf")}, 400, "empty"),
        ({"other": ("a.pdf", b"%PDF", "application/pdf")}, 400, "No file was submitted"),
    ],
)
def test_bad_uploads(sandbox: Sandbox, world: dict[str, Any], files: Any, status: int, text: str) -> None:
    before = snapshot(sandbox)
    response = world["api"].post("/documents/", files=files)
    assert response.status_code == status and text in response.text
    assert snapshot(sandbox) == before


def test_upload_size_limit(sandbox: Sandbox, world: dict[str, Any]) -> None:
    sandbox.admin("settings", {"max_upload_bytes": 1024})
    try:
        before = snapshot(sandbox)
        response = world["api"].post("/documents/", files={"file": ("big.pdf", b"x" * 2048, "application/pdf")})
        assert response.status_code == 413 and "limit" in response.text
        assert snapshot(sandbox) == before
    finally:
        sandbox.admin("settings", {"max_upload_bytes": 10 * 1024 * 1024})
