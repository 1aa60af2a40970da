"""Demo values for unattended runs against the local sandbox (never shown in a form a person fills in, never sent to
a real registry). Notebook parameters left at None take these values; a person's forms start empty."""

from __future__ import annotations

from typing import Any

ONBOARDING: dict[str, Any] = {
    "kind": "natural_person",
    "company_name": "Parker Industries GmbH",
    "legal_form": "GmbH",
    "registration_number": "HRB 123456",
    "forename": "Peter",
    "surname": "Parker",
    "birth_date": "2000-08-10",
    "birth_place": "New York",
    "citizenship": "DEU",
    "street": "Hauptstr. 37",
    "zip": "60316",
    "city": "Frankfurt",
    "country": "DEU",
    "email": "peter.parker@example.com",
    "iban": "DE53500105173569146251",
    "bic": "GENODEF1ERG",
    "bank": "Commerzbank Frankfurt",
    "tax_id": "12345678",
    "id_document_type": "IDCARD",
    "id_document_number": "ID123456",
    "id_issuer": "Buergeramt Frankfurt",
    "id_valid_from": "2020-08-10",
    "id_valid_to": "2030-08-10",
    "identity_provider": "POSTIDENT",
    "id_process_id": "DEMO-PROCESS-0001",
    "identified_on": "2024-08-10",
    "wallet_kind": "eth-managed",
}

INVESTMENT: dict[str, Any] = {
    "investor_email": "peter.parker@example.com",
    "units": 300,
    "signed_at": "2021-03-12T07:14:13.630308+00:00",
    "accepted": True,
    "paid": True,
}

REDEMPTION: dict[str, Any] = {"investor_email": "peter.parker@example.com", "units": 100}


def values(demo: dict[str, Any], given: dict[str, Any], sandbox: bool) -> dict[str, Any]:
    """The values of an unattended run: what the parameters give, completed by the demo values on the sandbox."""
    return {**(demo if sandbox else {}), **{k: v for k, v in given.items() if v is not None and v != ""}}
