"""The sandbox over real HTTP: every endpoint's happy path and each convention of the API reference."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import os
import re
import socket
import sqlite3
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.sandbox_fixtures import SIGNED_AT, Sandbox, free_port, identification_body, investor_body


@pytest.fixture
def sandbox(strict_sandbox: Sandbox) -> Sandbox:
    """These tests pin the strict profile's answers (the drf ones: tests/test_sandbox_profiles.py)."""
    return strict_sandbox


def random_address() -> str:
    """A fresh EIP-55 address (addresses are unique across the whole sandbox)."""
    import secrets

    from eth_utils import to_checksum_address

    while True:
        address = to_checksum_address("0x" + secrets.token_hex(20))
        if any(c.isalpha() for c in address[2:]):
            return address


class Api:
    """Raw HTTP against the sandbox, the way the guide script calls it (no helpers)."""

    def __init__(self, sandbox: Sandbox, tenant: dict[str, Any], prefix: str = "/v2") -> None:
        self.url = sandbox.base_url + prefix
        self.headers = {"Authorization": f"Bearer {sandbox.token(tenant['client_id'], tenant['client_secret'])}"}
        self.key_number = 0

    def key(self) -> str:
        self.key_number += 1
        return f"test-key-{self.key_number}-{id(self)}"

    def post(self, path: str, key: str | None = "auto", **kwargs: Any) -> requests.Response:
        headers = dict(self.headers)
        if key:
            headers["X-Idempotency-Key"] = self.key() if key == "auto" else key
        return requests.post(self.url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(
            path if path.startswith("http") else self.url + path, headers=self.headers, timeout=10, **kwargs
        )

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.patch(
            self.url + path, headers={**self.headers, "X-Idempotency-Key": self.key()}, timeout=10, **kwargs
        )

    def document(self, name: str = "doc.pdf") -> str:
        response = self.post("/documents/", files={"file": (name, b"%PDF-1.4 test", "application/pdf")})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def identified_investor(self, surname: str = "Parker") -> str:
        investor = self.post("/investors/", json=investor_body(surname))
        assert investor.status_code == 201, investor.text
        investor_id = investor.json()["id"]
        ident = self.post(f"/investors/{investor_id}/identifications/", json=identification_body(self.document()))
        assert ident.status_code == 201, ident.text
        return investor_id

    def delivered(self, investor_id: str, wallet_id: str, units: int, campaign_id: str) -> dict[str, Any]:
        investment = self.post(
            "/investments/",
            json={
                "campaign_id": campaign_id,
                "investor_id": investor_id,
                "units": units,
                "signed_at": SIGNED_AT,
                "accepted_at": SIGNED_AT,
                "paid_at": SIGNED_AT,
                "wallet": wallet_id,
                "signed_documents": [{"document_id": self.document(), "category": "c", "subject": "s"}],
            },
        )
        assert investment.status_code == 201, investment.text
        assert investment.json()["status"] == "PAID"
        credit = self.post(f"/investments/{investment.json()['id']}/credits/")
        assert credit.status_code == 201 and credit.json()["status"] == "success", credit.text
        return self.get(f"/investments/{investment.json()['id']}/").json()


@pytest.fixture
def raw(sandbox: Sandbox, tenant: dict[str, Any]) -> Api:
    return Api(sandbox, tenant)


@pytest.fixture
def both(any_sandbox: Sandbox) -> Api:
    """A fresh distributor on a sandbox of each profile: for conventions the profiles share."""
    return Api(any_sandbox, any_sandbox.new_client())


@pytest.fixture
def seed(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.health()["seed"]


def test_token_is_rfc6749_shaped(any_sandbox: Sandbox) -> None:
    response = requests.post(
        f"{any_sandbox.base_url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-distributor",
            "client_secret": "demo-secret",
            "scope": "investors:read investors:write",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "investors:read investors:write"


@pytest.mark.parametrize(
    "data, status, error",
    [
        (
            {"grant_type": "client_credentials", "client_id": "demo-distributor", "client_secret": "wrong"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "client_id": "demo-distributor", "client_secret": "demo-secret"},
            400,
            "unsupported_grant_type",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "demo-distributor",
                "client_secret": "demo-secret",
                "scope": "issuers:write",
            },
            400,
            "invalid_scope",
        ),
    ],
)
def test_token_errors(any_sandbox: Sandbox, data: dict[str, str], status: int, error: str) -> None:
    response = requests.post(f"{any_sandbox.base_url}/oauth/token", data=data)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_401_without_or_with_bad_token_and_403_for_missing_scope(any_sandbox: Sandbox) -> None:
    url = f"{any_sandbox.base_url}/v2/investors/"
    assert requests.get(url).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    token = any_sandbox.token(scope="investments:read")
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "investors:read" in response.json()["detail"]


def test_expired_token_is_refused(any_sandbox: Sandbox) -> None:
    any_sandbox.admin("settings", {"token_ttl": -1})
    token = any_sandbox.token()
    response = requests.get(f"{any_sandbox.base_url}/v2/investors/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_full_onboarding_to_redemption_flow(raw: Api, seed: dict[str, Any]) -> None:
    investor_id = raw.identified_investor()
    investor = raw.get(f"/investors/{investor_id}/").json()
    assert investor["kyc_status"] == "SUCCESS"
    assert investor["natural_person"]["is_subject_to_us_tax"] is False
    wallet = raw.post(f"/investors/{investor_id}/wallets/eth-managed/")
    assert wallet.status_code == 201 and re.fullmatch(r"0x[0-9a-fA-F]{40}", wallet.json()["address"])
    wallet_id = wallet.json()["id"]
    first = raw.delivered(investor_id, wallet_id, 300, seed["campaign_id"])
    second = raw.delivered(investor_id, wallet_id, 200, seed["campaign_id"])
    assert first["status"] == "DELIVERED" and first["remaining_units"] == 300
    assert first["investment_amount"] == {"amount": "3000000", "decimals": 2, "currency": "EUR"}
    redemption = raw.post(
        "/redemptions/",
        json={"investor_id": investor_id, "product_id": seed["product_id"], "wallet_id": wallet_id, "units": 350},
    )
    assert redemption.status_code == 201, redemption.text
    assert redemption.json()["status"] == "success"
    # FIFO: the older investment is used up first.
    assert redemption.json()["allocations"] == [
        {"investment_id": first["id"], "units": 300},
        {"investment_id": second["id"], "units": 50},
    ]
    assert raw.get(f"/investments/{first['id']}/").json()["remaining_units"] == 0
    assert raw.get(f"/investments/{second['id']}/").json()["remaining_units"] == 150
    statements = raw.get(f"/investments/{second['id']}/registry-statements/").json()
    assert [s["reason"] for s in statements] == ["ISSUANCE", "REDEMPTION"]
    assert raw.get(f"/redemptions/{redemption.json()['id']}/").json()["units"] == 350
    wallets = raw.get(f"/investors/{investor_id}/wallets/").json()
    assert wallets[0]["balances"] == [{"product_id": seed["product_id"], "units": 150}]
    too_much = raw.post(
        "/redemptions/",
        json={"investor_id": investor_id, "product_id": seed["product_id"], "wallet_id": wallet_id, "units": 151},
    )
    assert too_much.status_code == 400
    assert "holds only 150" in too_much.json()["units"][0]


def test_investment_status_machine(both: Api, seed: dict[str, Any]) -> None:
    investor_id = both.post("/investors/", json=investor_body("Kyc")).json()["id"]
    body = {
        "campaign_id": seed["campaign_id"],
        "investor_id": investor_id,
        "units": 10,
        "signed_at": SIGNED_AT,
        "signed_documents": [{"document_id": both.document(), "category": "c", "subject": "s"}],
    }
    investment = both.post("/investments/", json=body).json()
    assert investment["status"] == "KYC_PENDING"
    both.post(f"/investors/{investor_id}/identifications/", json=identification_body(both.document()))
    assert both.get(f"/investments/{investment['id']}/").json()["status"] == "WAITING_FOR_ACCEPTANCE"
    assert (
        both.patch(f"/investments/{investment['id']}/", json={"accepted_at": SIGNED_AT}).json()["status"] == "ACCEPTED"
    )
    credit_too_early = both.post(f"/investments/{investment['id']}/credits/")
    assert credit_too_early.status_code == 400 and "PAID" in credit_too_early.json()["detail"]
    assert both.patch(f"/investments/{investment['id']}/", json={"paid_at": SIGNED_AT}).json()["status"] == "PAID"
    no_wallet = both.post(f"/investments/{investment['id']}/credits/")
    assert no_wallet.status_code == 400 and "wallet" in no_wallet.json()["detail"]
    wallet_id = both.post(f"/investors/{investor_id}/wallets/eth-managed/").json()["id"]
    both.patch(f"/investments/{investment['id']}/", json={"wallet": wallet_id})
    assert both.post(f"/investments/{investment['id']}/credits/").status_code == 201
    assert both.get(f"/investments/{investment['id']}/").json()["status"] == "DELIVERED"
    again = both.post(f"/investments/{investment['id']}/credits/")
    assert again.status_code == 400 and "already credited" in again.json()["detail"]


def test_legal_person_needs_a_benefiting_person(both: Api, seed: dict[str, Any]) -> None:
    company = both.post(
        "/investors/",
        json={
            "legal_person": {
                "company_name": "Example AG",
                "legal_form": "AG",
                "registration_number": "HRB 1",
                "street": "Weg 1",
                "city": "Berlin",
                "zip": "10115",
                "country": "DEU",
            },
            "tax_information": {"tax_identification_number": "1234"},
            "is_beneficiary": True,
        },
    )
    assert company.status_code == 201, company.text
    company_id = company.json()["id"]
    both.post(f"/investors/{company_id}/identifications/", json=identification_body(both.document()))
    investment = both.post(
        "/investments/",
        json={
            "campaign_id": seed["campaign_id"],
            "investor_id": company_id,
            "units": 5,
            "signed_at": SIGNED_AT,
            "signed_documents": [{"document_id": both.document(), "category": "c", "subject": "s"}],
        },
    ).json()
    assert investment["status"] == "KYC_PENDING"
    person = investor_body()["natural_person"]
    assert both.post(f"/investors/{company_id}/benefiting-persons/", json=person).status_code == 201
    assert both.get(f"/investments/{investment['id']}/").json()["status"] == "WAITING_FOR_ACCEPTANCE"


def test_generic_wallet_checks_eip55_and_address_uniqueness(both: Api) -> None:
    investor_id = both.identified_investor()
    good = random_address()
    assert both.post(f"/investors/{investor_id}/wallets/eth-generic/", json={"address": good}).status_code == 201
    wrong_checksum = good[:-1] + (good[-1].lower() if good[-1].isupper() else good[-1].upper())
    if good[-1].isdigit():
        wrong_checksum = good[:2] + good[2:].swapcase()
    response = both.post(f"/investors/{investor_id}/wallets/eth-generic/", json={"address": wrong_checksum})
    assert response.status_code == 400 and "checksum" in response.json()["address"][0]
    duplicate = both.post(f"/investors/{investor_id}/wallets/eth-generic/", json={"address": good.lower()})
    assert duplicate.status_code == 400 and "already registered" in duplicate.json()["address"][0]
    assert both.post(f"/investors/{investor_id}/wallets/eth-managed/").status_code == 201
    second_managed = both.post(f"/investors/{investor_id}/wallets/eth-managed/")
    assert second_managed.status_code == 400 and "only one" in second_managed.json()["detail"]


def test_wallet_needs_kyc_first(both: Api) -> None:
    investor_id = both.post("/investors/", json=investor_body()).json()["id"]
    response = both.post(f"/investors/{investor_id}/wallets/eth-managed/")
    assert response.status_code == 400 and "identif" in response.json()["detail"]


def test_video_identification_completes_later(raw: Api, sandbox: Sandbox) -> None:
    investor_id = raw.post("/investors/", json=investor_body()).json()["id"]
    ident = raw.post(f"/investors/{investor_id}/identifications/", json={}).json()
    assert ident["status"] == "PENDING" and ident["url"].startswith("https://")
    sandbox.admin(f"identifications/{ident['id']}/complete", {"result": "success"})
    assert raw.get(f"/investors/{investor_id}/").json()["kyc_status"] == "SUCCESS"


def test_products_and_campaigns_are_readable(raw: Api, seed: dict[str, Any]) -> None:
    products = raw.get("/products/").json()
    assert [p["id"] for p in products["results"]] == [seed["product_id"]]
    campaigns = raw.get("/campaigns/", params={"product_id": seed["product_id"]}).json()["results"]
    assert campaigns[0]["id"] == seed["campaign_id"]
    assert raw.get(f"/products/{seed['product_id']}/campaigns/").json()["count"] == 1
    campaign = raw.get(f"/campaigns/{seed['campaign_id']}/").json()
    assert campaign["price_per_unit"] == {"amount": "10000", "decimals": 2, "currency": "EUR"}


def test_transfer_moves_units_to_a_registered_address(raw: Api, sandbox: Sandbox, seed: dict[str, Any]) -> None:
    sender = raw.identified_investor("Sender")
    source = raw.post(f"/investors/{sender}/wallets/eth-managed/").json()
    raw.delivered(sender, source["id"], 40, seed["campaign_id"])
    receiver = raw.identified_investor("Receiver")
    target = raw.post(f"/investors/{receiver}/wallets/eth-managed/").json()
    transfer = raw.post(
        "/transfers/",
        json={
            "product": seed["product_id"],
            "source_wallet": source["id"],
            "target_address": target["address"],
            "amount": 15,
        },
    )
    assert transfer.status_code == 201, transfer.text
    assert transfer.json()["status"] == "succeeded"
    received = raw.get(f"/investments/{transfer.json()['receiver_investment_id']}/").json()
    assert received["investor_id"] == receiver and received["remaining_units"] == 15
    assert raw.get(f"/transfers/{transfer.json()['id']}/").json()["amount"] == 15
    assert raw.get("/transfers/").json()["count"] == 1


def test_idempotency_replays_the_first_answer(raw: Api) -> None:
    first = raw.post("/investors/", key="same-key", json=investor_body())
    again = raw.post("/investors/", key="same-key", json=investor_body())
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert raw.get("/investors/").json()["count"] == 1
    different = raw.post("/investors/", key="same-key", json=investor_body("Other"))
    assert different.status_code == 422 and "different request body" in different.json()["detail"]
    assert raw.get("/investors/").json()["count"] == 1


def test_idempotency_of_uploads_ignores_the_multipart_boundary(raw: Api) -> None:
    files = {"file": ("a.pdf", b"%PDF same", "application/pdf")}
    first = raw.post("/documents/", key="upload-key", files=files)
    second = raw.post("/documents/", key="upload-key", files=files)
    assert first.json()["id"] == second.json()["id"]


@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024])  # stored on the event loop; in the thread pool
def test_an_upload_of_any_size_is_stored_once(raw: Api, size: int) -> None:
    content = b"%PDF-1.4 " + b"x" * size
    files = {"file": ("big.pdf", content, "application/pdf")}
    first = raw.post("/documents/", key=f"upload-{size}", files=files)
    assert first.status_code == 201 and first.json()["size"] == len(content)
    again = raw.post("/documents/", key=f"upload-{size}", files=files)
    assert again.json()["id"] == first.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"


def test_pagination_is_oldest_first_with_full_links(raw: Api, seed: dict[str, Any]) -> None:
    ids = [raw.post("/investors/", json=investor_body(f"P{n}")).json()["id"] for n in range(5)]
    page = raw.get("/investors/", params={"page_size": 2}).json()
    assert page["count"] == 5 and page["previous"] is None
    assert page["next"].startswith("http://127.0.0.1:") and "/api/external/v2/investors/" in page["next"]
    seen = [item["id"] for item in page["results"]]
    while page["next"]:
        page = raw.get(page["next"]).json()
        seen += [item["id"] for item in page["results"]]
    assert seen == ids
    assert page["previous"] and page["next"] is None
    assert raw.get("/investors/", params={"page": 9}).status_code == 404


def test_list_filters(raw: Api, seed: dict[str, Any]) -> None:
    investor_id = raw.identified_investor()
    wallet_id = raw.post(f"/investors/{investor_id}/wallets/eth-managed/").json()["id"]
    raw.delivered(investor_id, wallet_id, 5, seed["campaign_id"])
    other = raw.post("/investors/", json=investor_body("NoKyc")).json()["id"]
    raw.post(
        "/investments/",
        json={
            "campaign_id": seed["campaign_id"],
            "investor_id": other,
            "units": 1,
            "signed_at": SIGNED_AT,
            "signed_documents": [{"document_id": raw.document(), "category": "c", "subject": "s"}],
        },
    )
    assert raw.get("/investments/", params={"status": "DELIVERED"}).json()["count"] == 1
    assert raw.get("/investments/", params={"investor_id": other}).json()["results"][0]["status"] == "KYC_PENDING"
    assert raw.get("/investments/", params={"product_id": seed["product_id"]}).json()["count"] == 2
    assert raw.get("/investments/", params={"colour": "red"}).status_code == 400


def test_distributor_prefix_and_missing_slash_are_the_same_routes(any_sandbox: Sandbox) -> None:
    tenant = any_sandbox.new_client()
    api = Api(any_sandbox, tenant, prefix="/distributor/v2")
    investor = api.post("/investors", json=investor_body())
    assert investor.status_code == 201
    assert Api(any_sandbox, tenant).get(f"/investors/{investor.json()['id']}").status_code == 200
    token = requests.post(
        f"{any_sandbox.base_url}/distributor/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant["client_id"],
            "client_secret": tenant["client_secret"],
        },
    )
    assert token.status_code == 200


def test_tenants_are_isolated(any_sandbox: Sandbox) -> None:
    mine = Api(any_sandbox, any_sandbox.new_client())
    investor_id = mine.post("/investors/", json=investor_body()).json()["id"]
    theirs = Api(any_sandbox, any_sandbox.new_client())
    assert theirs.get("/investors/").json()["count"] == 0
    assert theirs.get(f"/investors/{investor_id}/").status_code == 404
    assert theirs.post(f"/investors/{investor_id}/wallets/eth-managed/").status_code == 404
    demo = Api(any_sandbox, {"client_id": "other-distributor", "client_secret": "other-secret"})
    assert demo.get("/investors/").json()["count"] == 0


def test_demo_seed_has_investors_in_various_states(sandbox: Sandbox, seed: dict[str, Any]) -> None:
    demo = Api(sandbox, {"client_id": "demo-distributor", "client_secret": "demo-secret"})
    statuses = {
        i["investor_id"]: i["status"]
        for i in demo.get("/investments/", params={"page_size": 100}).json()["results"]
        if i["investor_id"] in seed["investors"].values()
    }
    assert statuses[seed["investors"]["grace"]] == "PAID"
    assert statuses[seed["investors"]["alan"]] == "KYC_PENDING"
    assert statuses[seed["investors"]["ada"]] == "DELIVERED"
    acme = demo.get(f"/investors/{seed['investors']['acme']}/").json()
    assert acme["legal_person"]["company_name"] == "ACME Holding GmbH"


def test_settlement_delay_shows_processing(raw: Api, sandbox: Sandbox, seed: dict[str, Any]) -> None:
    investor_id = raw.identified_investor()
    wallet_id = raw.post(f"/investors/{investor_id}/wallets/eth-managed/").json()["id"]
    raw.delivered(investor_id, wallet_id, 10, seed["campaign_id"])
    sandbox.admin("settings", {"settle_delay": 0.3})
    redemption = raw.post(
        "/redemptions/",
        json={"investor_id": investor_id, "product_id": seed["product_id"], "wallet_id": wallet_id, "units": 10},
    ).json()
    assert redemption["status"] == "processing"
    over = raw.post(
        "/redemptions/",
        json={"investor_id": investor_id, "product_id": seed["product_id"], "wallet_id": wallet_id, "units": 1},
    )
    assert over.status_code == 400, "units held back by a pending redemption cannot be redeemed twice"
    import time

    time.sleep(0.35)
    assert raw.get(f"/redemptions/{redemption['id']}/").json()["status"] == "success"


def test_state_survives_a_restart(tmp_path: Any) -> None:
    box = Sandbox(port=free_port(), db_path=tmp_path / "r.sqlite3")
    box.start()
    try:
        api = Api(box, {"client_id": "demo-distributor", "client_secret": "demo-secret"})
        investor_id = api.post("/investors/", json=investor_body()).json()["id"]
    finally:
        box.stop()
    box.start()
    try:
        api = Api(box, {"client_id": "demo-distributor", "client_secret": "demo-secret"})
        assert api.get(f"/investors/{investor_id}/").status_code == 200
        demo_investors = len(box.health()["seed"]["investors"])
        assert api.get("/investors/").json()["count"] == demo_investors + 1  # the demo seeded once, and ours
    finally:
        box.stop()
    with sqlite3.connect(tmp_path / "r.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM objects WHERE kind = 'product'").fetchone()[0] == 1


def test_fault_knobs_do_what_they_say(raw: Api, sandbox: Sandbox) -> None:
    sandbox.faults(queue=["error", "429", "drop"], retry_after=2)
    assert raw.get("/investors/").status_code == 503
    throttled = raw.get("/investors/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    with pytest.raises(requests.ConnectionError):
        raw.post("/investors/", key="dropped", json=investor_body())
    # The dropped request was committed: the same key now replays it.
    assert raw.get("/investors/").json()["count"] == 1
    assert raw.post("/investors/", key="dropped", json=investor_body()).headers["Idempotent-Replayed"] == "true"


def server_timing_items(header: str) -> list[tuple[str, float]]:
    return [(name, float(ms)) for name, ms in (part.strip().split(";dur=") for part in header.split(","))]


def server_timing(answer: requests.Response) -> dict[str, float]:
    return dict(server_timing_items(answer.headers["Server-Timing"]))


def test_latency_is_timed_and_a_drop_still_cuts_the_connection(raw: Api, sandbox: Sandbox) -> None:
    sandbox.faults(latency=0.05)
    timing = server_timing(raw.get("/investors/"))
    # a response time: never shorter than asked, with the sandbox's work inside it
    assert timing["latency"] >= 50 and 0 <= timing["app"] <= timing["latency"]
    sandbox.faults(latency=0.001)  # shorter than storing 3 MB: the answer comes when the work is done, not 1 ms later
    files = {"file": ("big.pdf", b"%PDF-1.4 " + b"x" * 3 * 1024 * 1024, "application/pdf")}
    timing = server_timing(raw.post("/documents/", key="held upload", files=files))
    assert timing["latency"] >= max(1, timing["app"])
    sandbox.faults(latency=0.05)
    sandbox.faults(queue=["drop"])
    with pytest.raises(requests.ConnectionError):  # not a 502: the connection itself is cut
        raw.post("/investors/", key="dropped late", json=investor_body())
    sandbox.faults(latency=0)
    assert "Server-Timing" not in raw.get("/investors/").headers


def test_latency_counts_from_a_requests_arrival_not_from_when_the_sandbox_takes_it_in(
    raw: Api, sandbox: Sandbox
) -> None:
    """Two requests sent at once on one connection: the second is taken in only once the first is answered, 0.2 s
    later. Its latency counts from its arrival, as a client far away would see it, so its wait is within it (the
    sandbox's queue, as its work): it is answered at once, and its Server-Timing shows that wait as the sandbox's."""
    sandbox.faults(latency=0.2)
    address = urlsplit(sandbox.base_url)
    host, port = address.hostname or "", address.port or 80
    request = (
        f"GET {address.path}/v2/products/ HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {raw.headers['Authorization']}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request * 2)
        answers = connection.makefile("rb")
        timings = []
        for _ in range(2):
            assert answers.readline().split()[1] == b"200"
            headers = http.client.parse_headers(answers)
            answers.read(int(headers["Content-Length"]))
            timings.append(dict(server_timing_items(headers["Server-Timing"])))
    first, second = timings
    assert first["latency"] >= 200 and second["latency"] >= 200
    assert second["app"] >= first["latency"] - 1, timings  # (its arrival was within a millisecond of the first's)


def test_an_answer_is_held_to_its_moment_never_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's clock (a timerfd on Linux, asyncio's timers elsewhere): waits end in the order of their moments,
    none before its moment, whether waited for alone, at the same time as others, or after a cancelled one."""
    from sandbox import clock

    async def main() -> list[tuple[int, float, float]]:
        woken: list[tuple[int, float, float]] = []

        async def wait(number: int, moment: float) -> None:
            await clock.sleep_until(moment)
            woken.append((number, moment, time.perf_counter()))

        start = time.perf_counter()
        moments = [start + offset / 1000 for offset in (40, 5, 25, 10, 0, -1, 15)]
        cancelled = asyncio.ensure_future(clock.sleep_until(start + 0.008))  # armed for, then cancelled
        waits = [asyncio.ensure_future(wait(number, moment)) for number, moment in enumerate(moments)]
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(*waits)
        await wait(len(moments), time.perf_counter() + 0.003)  # alone, once the others are done
        return woken

    import uvloop

    timerfd = clock.LIBC
    for libc, loop_factory in itertools.product((timerfd, None), (asyncio.new_event_loop, uvloop.new_event_loop)):
        monkeypatch.setattr(clock, "LIBC", libc)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            woken = runner.run(main())
            assert (runner.get_loop() in clock._alarms) == (libc is not None)
        assert all(at >= moment for _, moment, at in woken), woken
        assert [number for number, _, _ in woken] == [4, 5, 1, 3, 6, 2, 0, 7]  # (4 and 5: past, in the order asked)


def test_the_clock_keeps_no_timerfd_of_a_loop_that_is_gone() -> None:
    """Review 70: each event loop's alarm held its loop, so neither (nor the alarm's timerfd) was ever freed; a
    TestClient used without `with` makes a loop per request. 50 loops come and go: none of their timerfds stays."""
    import gc

    import uvloop

    from sandbox import clock

    def timerfds() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(FileNotFoundError):  # (the listing's own descriptor, closed since)
                count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[timerfd]"
        return count

    gc.collect()
    before = timerfds()
    for number in range(50):
        loop_factory = uvloop.new_event_loop if number % 2 else asyncio.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(clock.sleep_until(time.perf_counter() + 0.001))
    gc.collect()
    assert timerfds() == before and not clock._alarms


@pytest.mark.parametrize("filters", [{}, {"status": "DELIVERED"}, {"investor_id": "x"}, {"product_id": "x"}])
def test_following_next_is_an_index_seek_not_a_scan(tmp_path: Any, filters: dict[str, str]) -> None:
    """Page 500 must cost what page 1 costs: the list query searches an index and needs no sort."""
    from sandbox.store import Store

    store = Store(tmp_path / "plan.sqlite3")
    where, params = store._where("investment", "tenant", filters)
    plan = " ".join(
        row[3]
        for row in store.execute(
            f"EXPLAIN QUERY PLAN SELECT seq, data FROM objects WHERE {where} AND seq > ? ORDER BY seq LIMIT ?",
            [*params, 10_000, 20],
        )
    )
    assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
    assert "SCAN objects" not in plan, plan


def test_a_database_of_the_previous_version_gets_partial_indexes_and_keeps_its_data(tmp_path: Any) -> None:
    """Version 2 indexed every object in every reference index; opening it rebuilds those indexes, data unchanged."""
    from sandbox.store import PARTIAL_SINCE_3, Store

    path = tmp_path / "v2.sqlite3"
    store = Store(path)
    store.insert("investor", "tenant", {"id": "i1"}, status="PENDING")
    store.insert("document", "tenant", {"id": "d1"})
    for name in PARTIAL_SINCE_3:  # as version 2 had them: no WHERE
        sql = store.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name])[0][0]
        store.db.executescript(f"DROP INDEX {name}; {sql.split(' WHERE ')[0]};")
    store.set_meta("schema_version", "2")
    store.close()

    reopened = Store(path)
    indexes = dict(reopened.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    assert all(" IS NOT NULL" in indexes[name] for name in PARTIAL_SINCE_3), indexes
    assert reopened.get_meta("schema_version") == "3"
    assert [row["id"] for row in reopened.all("investor", "tenant", status="PENDING")] == ["i1"]
    assert reopened.get("document", "d1", "tenant") == {"id": "d1"}


@pytest.mark.parametrize(
    ("kind", "filters", "index"),
    [
        ("wallet", {"parent_id": "x", "status": "eth-managed"}, "objects_parent"),  # an investor's managed wallet
        ("investment", {"investor_id": "x", "status": "KYC_PENDING"}, "objects_investor"),
        ("investment", {"wallet_id": "x", "product_id": "p", "status": "DELIVERED"}, "objects_wallet"),
        ("investment", {"investor_id": "x", "product_id": "p", "status": "DELIVERED"}, "objects_investor"),
        ("credit", {"parent_id": "x", "campaign_id": "c"}, "objects_parent"),
        ("investment", {"wallet_id": "x"}, "objects_wallet"),  # a custodian's wallet: in order, no sort
        ("investment", {"product_id": "p", "status": "PAID"}, "objects_product_status"),
    ],
)
def test_a_look_up_by_an_identifier_seeks_on_its_index(
    tmp_path: Any, kind: str, filters: dict[str, str], index: str
) -> None:
    """A write's look-ups (an investor's managed wallet, its pending investments) must not read every object of the
    distributor with that status: with 50,000 managed wallets that took 9 ms per wallet created."""
    from sandbox.store import Store

    store = Store(tmp_path / "plan.sqlite3")
    where, params = store._where(kind, "tenant", filters)
    plan = " ".join(
        row[3]
        for row in store.execute(f"EXPLAIN QUERY PLAN SELECT data FROM objects WHERE {where} ORDER BY seq", params)
    )
    assert f"USING INDEX {index} " in plan and "TEMP B-TREE" not in plan, plan
    store.db.execute(
        "INSERT INTO objects (kind, id, tenant, pos, data, status, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [kind, "a", "tenant", 1, "{}", filters.get("status"), filters.get("parent_id")],
    )
    assert len(store.all(kind, "tenant", **filters)) == (1 if set(filters) <= {"parent_id", "status"} else 0)


def test_background_start_used_by_make_lab(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox import background
    from sandbox.runner import is_up

    port, db = free_port(), tmp_path / "bg" / "registry.sqlite3"
    background.main(["--port", str(port), "--db", str(db)])
    try:
        assert is_up(port)
        background.main(["--port", str(port), "--db", str(db)])  # a second start finds it running
        assert "already running" in capsys.readouterr().out
    finally:
        background.main(["--port", str(port), "--db", str(db), "--stop"])
    import time

    deadline = time.monotonic() + 10
    while is_up(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_up(port)


def test_counts_of_a_list_and_of_a_product_are_its_last_position(tmp_path: Any) -> None:
    """Unfiltered and per product, the count is the last dense position (a seek), and equals COUNT(*)."""
    from sandbox.store import Store

    store = Store(tmp_path / "count.sqlite3")
    rows = [({"id": f"i{n}"}, {"product_id": f"p{n % 3}", "status": "PAID"}) for n in range(100)]
    store.insert_many("investment", "tenant", rows)
    store.insert("investment", "tenant", {"id": "last"}, product_id="p1", status="PAID")
    store.insert("investment", "other", {"id": "elsewhere"}, product_id="p1", status="PAID")
    for filters in ({}, {"product_id": "p1"}, {"product_id": "p9"}, {"product_id": "p1", "status": "PAID"}):
        where, params = store._where("investment", "tenant", filters)
        exact = store.execute(f"SELECT COUNT(*) FROM objects WHERE {where}", params)[0][0]
        assert store.count("investment", "tenant", filters) == exact, filters
