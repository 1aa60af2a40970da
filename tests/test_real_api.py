"""Ready for the real API (issue 10): the client under each plausible answer of the open points (section 6 of the API
reference), played by the sandbox's profiles: ``strict`` (today's answers) and ``drf`` (envelopes everywhere, filters
ignored, 20 per page with page numbers, decimals 3, only documented fields, lenient enums, "lower than" transfers,
idempotency only on some POSTs with keys that expire)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import helpers
from helpers.core.checks import UndocumentedValueWarning
from helpers.core.client import FilterIgnoredWarning
from helpers.core.config import Config
from helpers.data import reconcile
from sandbox.runner import SandboxProcess, free_port
from tests.conftest import SIGNED_AT, identification_body, investor_body

PROFILES = ["strict", "drf"]


@pytest.fixture(scope="module", params=PROFILES)
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    box = SandboxProcess(
        port=free_port(), db_path=tmp_path_factory.mktemp(request.param) / "r.sqlite3", profile=request.param
    )
    box.start()
    yield box
    box.stop()


@pytest.fixture
def api(registry: SandboxProcess, tmp_path: Path) -> helpers.Client:
    """A client of a fresh distributor on the profile's sandbox."""
    tenant = registry.new_client()
    seed = registry.health()["seed"]
    config = Config(
        base_url=registry.base_url,
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        campaign_id=seed["campaign_id"],
        product_id=seed["product_id"],
        journal_path=tmp_path / "journal.sqlite3",
        timeout=10,
        source="test",
    )
    return helpers.Client(config)


def onboard(client: helpers.Client, surname: str) -> tuple[str, str]:
    investor = client.investors.create(investor_body(surname))
    protocol = client.documents.upload(f"%PDF-1.4 protocol {surname}".encode(), "protocol.pdf")
    client.investors.identify(investor.id, {**identification_body(protocol.id), "document_id": f"ID-{surname}"})
    return investor.id, client.investors.create_managed_wallet(investor.id).id


def delivered(client: helpers.Client, investor_id: str, wallet_id: str, units: int) -> str:
    document = client.documents.upload(f"%PDF-1.4 signed {units} {investor_id}".encode(), "signed.pdf")
    investment = client.investments.create(
        investor_id,
        units,
        SIGNED_AT,
        [{"document_id": document.id, "category": "c", "subject": "s"}],
        accepted_at=SIGNED_AT,
        paid_at=SIGNED_AT,
        wallet=wallet_id,
    )
    client.investments.credit(investment.id)
    return investment.id


def test_check_api_reports_what_holds_and_the_client_adapts(registry: SandboxProcess, api: helpers.Client) -> None:
    registry.admin("bulk", {"client_id": api.config.client_id, "investors": 3, "investments": 45})
    rows = {row["check"]: row for row in api.check_api().to_dict("records")}
    assert set(rows) >= {
        "token scopes",
        "API prefix",
        "page size",
        "next links",
        "investment filters",
        "fields",
        "list shape (wallets)",
        "list shape (identifications)",
    }
    assert "/v2" in rows["API prefix"]["finding"] and "/distributor/v2" in rows["API prefix"]["finding"]
    if registry.profile == "strict":
        assert rows["page size"]["finding"] == "page_size=2 honoured"
        assert rows["investment filters"]["finding"].endswith("honoured")
        assert "remaining_units present" in rows["fields"]["finding"]
        assert rows["list shape (wallets)"]["finding"] == "bare array"
    else:
        assert rows["page size"]["finding"] == "page_size=2 ignored (20 per page)"
        assert rows["next links"]["finding"] == "page numbers (?page=N)"
        assert rows["investment filters"]["finding"] == "ignored: investor_id, campaign_id, status"
        assert (
            "remaining_units absent" in rows["fields"]["finding"] and "kyc_status absent" in rows["fields"]["finding"]
        )
        assert "money decimals 3" in rows["fields"]["finding"]
        assert rows["list shape (wallets)"]["finding"] == "page envelope"
    assert api.capabilities["probed"] is True


def test_every_page_every_filter_right_whatever_the_registry_honours(
    registry: SandboxProcess, api: helpers.Client
) -> None:
    registry.admin("bulk", {"client_id": api.config.client_id, "investors": 120, "investments": 1203})
    frame = api.investments.frame()
    assert len(frame) == 1203 and frame["id"].is_unique
    one = str(frame.loc[7, "investor_id"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine = api.investments.list(investor_id=one).to_list()
        again = api.investments.list(investor_id=one).to_list()
    assert {i["investor_id"] for i in mine} == {one} and len(mine) == len(again) == (frame["investor_id"] == one).sum()
    ignored = [w for w in caught if issubclass(w.category, FilterIgnoredWarning)]
    assert len(ignored) == (1 if registry.profile == "drf" else 0)  # said once, and only where it is true
    holdings = api.holdings()
    assert int(holdings["units"].sum()) == int(frame["units"].sum())
    assert len(holdings) == 120


def test_holdings_money_and_kyc_from_documented_fields(registry: SandboxProcess, api: helpers.Client) -> None:
    investor_id, wallet_id = onboard(api, "Documented")
    investment_id = delivered(api, investor_id, wallet_id, 300)
    api.redemptions.create(investor_id, wallet_id, 120)
    assert api.holdings(investor_id=investor_id)["units"].tolist() == [180]
    investment = api.investments.get(investment_id)
    assert ("remaining_units" in investment) == (registry.profile == "strict")
    money = investment["remaining_amount"]
    assert money["decimals"] == (2 if registry.profile == "strict" else 3)
    frame = api.investments.frame(investor_id=investor_id)
    assert frame.loc[0, "remaining_amount"] == Decimal("18000")  # 180 units at EUR 100, exact
    assert api.investors.kyc_status(investor_id) == "SUCCESS"
    statements = api.investments.registry_statements(investment_id)
    assert len(statements) == 2 and api.investors.wallets(investor_id)[0]["id"] == wallet_id


def test_stuck_investments_are_found_from_documented_timestamps(registry: SandboxProcess, api: helpers.Client) -> None:
    investor_id, wallet_id = onboard(api, "Stuck")
    document = api.documents.upload(b"%PDF-1.4 stuck", "signed.pdf")
    paid = api.investments.create(
        investor_id,
        40,
        SIGNED_AT,
        [{"document_id": document.id, "category": "c", "subject": "s"}],
        accepted_at=SIGNED_AT,
        paid_at=SIGNED_AT,
        wallet=wallet_id,
    )
    ledger = reconcile.read_ledger(
        f"investor_id,product_id,units\n{investor_id},{api.config.product_id},40\n".encode(), "ledger.csv"
    )
    report = reconcile.reconcile(api, ledger, now=datetime.now(UTC) + timedelta(days=10))
    stuck = report.differences[report.differences["category"] == "stuck"]
    assert stuck["investment_id"].tolist() == [paid.id]


def test_values_the_documentation_does_not_name_are_sent_with_a_warning(
    registry: SandboxProcess, api: helpers.Client
) -> None:
    investor = api.investors.create(investor_body("Enum"))
    protocol = api.documents.upload(b"%PDF-1.4 enum", "protocol.pdf")
    body = {**identification_body(protocol.id), "identity_provider": "NECT"}
    with pytest.warns(UndocumentedValueWarning, match="NECT is not an identity provider the documentation names"):
        if registry.profile == "drf":
            assert api.investors.identify(investor.id, body)["identity_provider"] == "NECT"
        else:
            with pytest.raises(helpers.ValidationError, match="refused to create the identification"):
                api.investors.identify(investor.id, body)


def test_a_transfer_must_be_lower_than_the_balance(registry: SandboxProcess, api: helpers.Client) -> None:
    sender, source = onboard(api, "Sender")
    delivered(api, sender, source, 30)
    receiver, target = onboard(api, "Receiver")
    address = next(w["address"] for w in api.investors.wallets(receiver) if w["id"] == target)
    with pytest.raises(helpers.InputError, match="a transfer must be lower than that"):
        api.transfers.create(source, address, 30, investor_id=sender)
    assert api.transfers.create(source, address, 29, investor_id=sender)["status"] == "succeeded"
    assert api.holdings(investor_id=receiver)["units"].tolist() == [29]


def test_expired_keys_and_lost_answers_never_make_a_second_object(
    registry: SandboxProcess, api: helpers.Client, tmp_path: Path
) -> None:
    investor_id, wallet_id = onboard(api, "Expired")
    delivered(api, investor_id, wallet_id, 100)
    first = api.redemptions.create(investor_id, wallet_id, 60)
    registry.admin("settings", {"idempotency_retention": 0})  # every key the registry kept is forgotten
    try:
        elsewhere = helpers.Client(api.config.replace(journal_path=tmp_path / "lost.sqlite3"))
        assert elsewhere.redemptions.create(investor_id, wallet_id, 60).id == first.id
        assert elsewhere.investors.create(investor_body("Expired")).id == investor_id
        registry.faults(queue=["drop"])  # the identification's answer is lost (drf: no idempotency there)
        protocol = elsewhere.documents.upload(b"%PDF-1.4 second", "protocol.pdf")
        registry.faults(queue=["drop"])
        other = elsewhere.investors.create(investor_body("Dropped"))
        registry.faults(queue=["drop"])
        elsewhere.investors.identify(other.id, {**identification_body(protocol.id), "document_id": "ID-Dropped"})
    finally:
        registry.admin("settings", {"idempotency_retention": None})
        registry.reset_faults()
    assert len(api.investors.identifications(other.id)) == 1
    assert len(api.redemptions.list(investor_id=investor_id).to_list()) == 1
    assert len([i for i in api.investors.list() if i["id"] in (investor_id, other.id)]) == 2


def test_random_faults_over_a_whole_flow_end_with_exactly_n(registry: SandboxProcess, api: helpers.Client) -> None:
    api.check_connection()
    registry.faults(error_rate=0.1, rate_limit_rate=0.05, drop_rate=0.1, retry_after=0, seed=3)
    try:
        investor_id, wallet_id = onboard(api, "Faulty")
        for units in (10, 20, 30):
            delivered(api, investor_id, wallet_id, units)
        api.redemptions.create(investor_id, wallet_id, 25)
    finally:
        registry.reset_faults()
    assert len(api.investors.list().to_list()) == 1
    assert len(api.investments.list().to_list()) == 3 and len(api.redemptions.list().to_list()) == 1
    assert len(api.investors.identifications(investor_id)) == 1 and len(api.investors.wallets(investor_id)) == 1
    assert api.holdings(investor_id=investor_id)["units"].tolist() == [35]
