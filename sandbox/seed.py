"""The demo data created on first start: two distributors (clients), one issuer's product and campaign, and a few
investors in various states. Ids are fixed, so `.env.example` and the sample ledger can name them."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from decimal import Decimal
from typing import Any, Literal

from eth_utils import to_checksum_address

from sandbox.errors import ApiError
from sandbox.models import GenericWalletCreate, IdentificationCreate, InvestmentCreate, InvestorCreate, RedemptionCreate
from sandbox.registry import Registry, money, now_iso, times
from sandbox.store import SHARED, Store

NAMESPACE = uuid.UUID("5f1c2a4e-8b7d-4c1e-9a53-0c5b3e2f7d10")

DEMO_CLIENT_ID = "demo-distributor"
DEMO_CLIENT_SECRET = "demo-secret"
OTHER_CLIENT_ID = "other-distributor"
OTHER_CLIENT_SECRET = "other-secret"
ALL_SCOPES = "investors:read investors:write investments:read investments:write documents:write products:read"


def fixed_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


ISSUER_ID = fixed_id("issuer:solar")
PRODUCT_ID = fixed_id("product:solar-bond-2030")
CAMPAIGN_ID = fixed_id("campaign:solar-bond-2030-public")
PRICE = Decimal("100.00")  # EUR per unit


def add_client(store: Store, client_id: str, secret: str, tenant: str, scopes: str) -> None:
    store.execute(
        "INSERT OR REPLACE INTO clients VALUES (?, ?, ?, ?)",
        [client_id, hashlib.sha256(secret.encode()).hexdigest(), tenant, scopes],
    )


def demo_investor(forename: str, surname: str, birth_date: str, iban: str, email: str) -> dict[str, Any]:
    return {
        "natural_person": {
            "salutation": "MS" if forename in ("Ada", "Grace", "Katherine") else "MR",
            "forename": forename,
            "surname": surname,
            "birth_date": birth_date,
            "birth_place": "London",
            "citizenship": "DEU",
            "street": "Hauptstr. 1",
            "city": "Frankfurt",
            "zip": "60316",
            "country": "DEU",
            "phone": "+49 69 1234567",
            "is_pep": False,
        },
        "bank_account": {
            "account_holder": f"{forename} {surname}",
            "iban": iban,
            "bic": "COBADEFFXXX",
            "bank": "Commerzbank",
            "country": "DEU",
            "currency": "EUR",
        },
        "tax_information": {"tax_identification_number": "12345678901", "non_assessment_certificate": False},
        "communication": {"email": email, "email_confirmed": True},
        "is_beneficiary": True,
    }


def _identify(registry: Registry, tenant: str, investor_id: str) -> None:
    protocol = registry.upload_document(tenant, "protocol.pdf", "application/pdf", b"%PDF-1.4 demo protocol")
    registry.create_identification(
        tenant,
        investor_id,
        IdentificationCreate.model_validate(
            {
                "document_type": "IDCARD",
                "document_id": "L01X00T47",
                "document_issuer": "Buergeramt Frankfurt",
                "document_valid_from": "2022-01-01",
                "document_valid_to": "2032-01-01",
                "identity_provider": "POSTIDENT",
                "legitimation_process_id": "demo",
                "legitimation_protocol_id": protocol["id"],
                "verified_at": "2024-01-15T10:00:00+00:00",
            }
        ),
    )


def _invest(
    registry: Registry, tenant: str, investor_id: str, units: int, wallet: str | None, paid: bool
) -> dict[str, Any]:
    document = registry.upload_document(tenant, "subscription.pdf", "application/pdf", b"%PDF-1.4 signed")
    body: dict[str, Any] = {
        "investor_id": investor_id,
        "campaign_id": CAMPAIGN_ID,
        "units": units,
        "signed_at": "2024-02-01T09:00:00+00:00",
        "accepted_at": "2024-02-01T09:00:00+00:00",
        "signed_documents": [{"document_id": document["id"], "category": "subscription", "subject": "Solar Bond"}],
    }
    if paid:
        body["paid_at"] = "2024-02-03T09:00:00+00:00"
    if wallet:
        body["wallet"] = wallet
    return registry.create_investment(tenant, InvestmentCreate.model_validate(body))


def ensure_seed(store: Store, registry: Registry) -> dict[str, Any]:
    """Create the demo data once (on an empty database) and return the ids worth knowing."""
    ids = {
        "client_id": DEMO_CLIENT_ID,
        "other_client_id": OTHER_CLIENT_ID,
        "product_id": PRODUCT_ID,
        "campaign_id": CAMPAIGN_ID,
        "investors": {name: fixed_id(f"investor:{name}") for name in ("ada", "grace", "alan", "acme", "katherine")},
    }
    if store.get_meta("seeded"):
        return ids
    delay, registry.settings.settle_delay = registry.settings.settle_delay, 0  # the seed's credits settle at once,
    try:  # whatever delay the start asked for (its redemptions need the units delivered)
        _seed(store, registry)
    finally:
        registry.settings.settle_delay = delay
    return ids


def _seed(store: Store, registry: Registry) -> None:
    price = money(PRICE, registry.profile.money_decimals)
    add_client(store, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, "demo", ALL_SCOPES)
    add_client(store, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, "other", ALL_SCOPES)
    store.insert(
        "product",
        SHARED,
        {
            "id": PRODUCT_ID,
            "issuer_id": ISSUER_ID,
            "name": "Solar Bond 2030",
            "product_type": "BOND",
            "ewpg": True,
            "isin": "DE000A3E5SB1",
            "provide_nominal_value": True,
            "nominal_value": price,
            "issuance_price": price,
            "max_issuable_amount": 10_000_000,
            "step_size": 1,
            "agio_percent": "0",
            "payment_deadline": 14,
            "cancellation_deadline": 14,
            "network": "POLYGON-AMOY",
            "created_at": now_iso(),
        },
    )
    store.insert(
        "campaign",
        SHARED,
        {
            "id": CAMPAIGN_ID,
            "product_id": PRODUCT_ID,
            "name": "Solar Bond 2030 - public offering",
            "allocation": 10_000_000,
            "available_units": 10_000_000,
            "min_units": 1,
            "step_size": 1,
            "price_per_unit": price,
            "active": True,
            "created_at": now_iso(),
        },
        product_id=PRODUCT_ID,
    )
    investor = InvestorCreate.model_validate
    tenant = "demo"
    ada = registry.create_investor(
        tenant,
        investor(demo_investor("Ada", "Lovelace", "1985-12-10", "DE89370400440532013000", "ada@example.com")),
        fixed_id("investor:ada"),
    )
    _identify(registry, tenant, ada["id"])
    wallet = registry.create_wallet(tenant, ada["id"], "eth-managed", None, fixed_id("wallet:ada"))
    first = _invest(registry, tenant, ada["id"], 500, wallet["id"], paid=True)
    registry.credit(tenant, first["id"])
    second = _invest(registry, tenant, ada["id"], 200, wallet["id"], paid=True)
    registry.credit(tenant, second["id"])
    registry.create_redemption(
        tenant, RedemptionCreate(investor_id=ada["id"], product_id=PRODUCT_ID, wallet_id=wallet["id"], units=100)
    )
    outcomes: list[tuple[Literal["failed", "unknown"], int]] = [("failed", 50), ("unknown", 25)]
    for outcome, units in outcomes:  # the ledger said no, or never answered
        registry.settings.task_outcome = outcome
        registry.create_redemption(
            tenant, RedemptionCreate(investor_id=ada["id"], product_id=PRODUCT_ID, wallet_id=wallet["id"], units=units)
        )
    registry.settings.task_outcome = "success"
    grace = registry.create_investor(
        tenant,
        investor(demo_investor("Grace", "Hopper", "1976-12-09", "DE02120300000000202051", "grace@example.com")),
        fixed_id("investor:grace"),
    )
    _identify(registry, tenant, grace["id"])
    generic = registry.create_wallet(
        tenant, grace["id"], "eth-generic", GenericWalletCreate(address=to_checksum_address("0x" + "5a" * 20))
    )
    paid = _invest(registry, tenant, grace["id"], 300, generic["id"], paid=True)  # PAID, never credited
    registry.force_status(paid["id"], "PAID", "2024-02-03T09:00:00+00:00")
    alan = registry.create_investor(
        tenant,
        investor(demo_investor("Alan", "Turing", "1982-06-23", "DE44500105175407324931", "alan@example.com")),
        fixed_id("investor:alan"),
    )
    pending = _invest(registry, tenant, alan["id"], 50, None, paid=False)  # KYC_PENDING: never identified
    registry.force_status(pending["id"], "KYC_PENDING", "2024-02-01T09:00:00+00:00")
    katherine = registry.create_investor(
        tenant,
        investor(
            demo_investor("Katherine", "Johnson", "1978-08-26", "DE52500105175819276415", "katherine@example.com")
        ),
        fixed_id("investor:katherine"),
    )
    _identify(registry, tenant, katherine["id"])
    custody = registry.create_wallet(tenant, katherine["id"], "eth-managed", None, fixed_id("wallet:katherine"))
    registry.credit(tenant, _invest(registry, tenant, katherine["id"], 150, custody["id"], paid=True)["id"])
    registry.create_investor(
        tenant,
        investor(
            {
                "legal_person": {
                    "company_name": "ACME Holding GmbH",
                    "legal_form": "GmbH",
                    "registration_number": "HRB 123456",
                    "registration_court": "Amtsgericht Frankfurt",
                    "street": "Mainzer Landstr. 50",
                    "city": "Frankfurt",
                    "zip": "60325",
                    "country": "DEU",
                },
                "bank_account": {
                    "account_holder": "ACME Holding GmbH",
                    "iban": "DE75512108001245126199",
                    "bic": "SOGEDEFFXXX",
                    "bank": "Societe Generale",
                    "country": "DEU",
                    "currency": "EUR",
                },
                "tax_information": {"tax_identification_number": "04329876543"},
                "communication": {"email": "treasury@acme.example.com", "email_confirmed": True},
                "is_beneficiary": True,
            }
        ),
        fixed_id("investor:acme"),
    )
    store.set_meta("seeded", now_iso())


def bulk_delivered(
    store: Store, registry: Registry, client_id: str, investors: int, investments: int
) -> dict[str, Any]:
    """Insert many identified investors with managed wallets and delivered investments, directly and quickly."""
    rows = store.execute("SELECT tenant FROM clients WHERE client_id = ?", [client_id])
    if not rows:
        raise ApiError(404, {"client_id": [f"No client has the id {client_id!r}."]})
    tenant = rows[0]["tenant"]
    created = now_iso()
    price = money(PRICE, registry.profile.money_decimals)
    people: list[tuple[dict[str, Any], dict[str, Any]]] = []
    wallets: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for number in range(investors):
        body = demo_investor(
            "Bulk", f"Investor {number:05d}", "1980-01-01", "DE89370400440532013000", f"bulk{number}@example.com"
        )
        investor = {
            "id": str(uuid.uuid4()),
            **{k: body[k] for k in ("natural_person", "bank_account", "tax_information", "communication")},
            "kyc_status": "SUCCESS",
            "benefiting_persons": None,
            "created_at": created,
        }
        investor["natural_person"].update(is_subject_to_us_tax=False, salutation="MR")
        people.append((investor, {"status": "SUCCESS"}))
        address = to_checksum_address("0x" + secrets.token_hex(20))
        wallet = {
            "id": str(uuid.uuid4()),
            "type": "eth-managed",
            "address": address,
            "receiving_enabled": True,
            "frozen": False,
            "investor_id": investor["id"],
            "created_at": created,
        }
        wallets.append((wallet, {"parent_id": investor["id"], "status": "eth-managed", "address": address}))
    delivered: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for number in range(investments):
        owner, units = number % investors, 10 + number % 90
        investment = {
            "id": str(uuid.uuid4()),
            "investor_id": people[owner][0]["id"],
            "campaign_id": CAMPAIGN_ID,
            "product_id": PRODUCT_ID,
            "status": "DELIVERED",
            "units": units,
            "remaining_units": units,
            "investment_amount": times(units, price),
            "remaining_amount": times(units, price),
            "signed_at": created,
            "accepted_at": created,
            "paid_at": created,
            "delivered_at": created,
            "cancellation_date": None,
            "cancellation_reason": None,
            "signed_documents": [],
            "wallet": wallets[owner][0]["id"],
            "created_at": created,
            "status_changed_at": created,
        }
        delivered.append(
            (
                investment,
                {
                    "investor_id": investment["investor_id"],
                    "product_id": PRODUCT_ID,
                    "campaign_id": CAMPAIGN_ID,
                    "wallet_id": investment["wallet"],
                    "status": "DELIVERED",
                },
            )
        )
    store.insert_many("investor", tenant, people)
    store.insert_many("wallet", tenant, wallets)
    store.insert_many("investment", tenant, delivered)
    return {"tenant": tenant, "investors": investors, "investments": investments}
