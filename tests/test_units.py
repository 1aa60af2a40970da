"""Pure functions: checks, money and frames, configuration, error sentences (no network)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from helpers import checks, load_config
from helpers.errors import field_label, input_error
from helpers.frames import mask, money_value, to_frame


@pytest.mark.parametrize("check, raw, expected", [
    (checks.check_iban, "de89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    (checks.check_bic, "cobadeffxxx", "COBADEFFXXX"),
    (checks.check_country, "deu", "DEU"),
    (checks.check_date, date(2000, 8, 10), "2000-08-10"),
    (checks.check_datetime, "2020-08-10T14:06:22.134Z", "2020-08-10T14:06:22.134000+00:00"),
    (checks.check_datetime, "2021-03-12T08:14:13+01:00", "2021-03-12T07:14:13.000000+00:00"),
    (checks.check_eth_address, "0x52908400098527886e0f7030069857d2e4169ee7",
     "0x52908400098527886E0F7030069857D2E4169EE7"),
    (checks.check_units, "1_000", 1000),
    (checks.check_units, Decimal("300"), 300),
    (checks.check_units, "300.0", 300),
])
def test_checks_normalise(check, raw, expected) -> None:
    assert check(raw) == expected


@pytest.mark.parametrize("check, raw, message", [
    (checks.check_country, "AT", "three-letter ISO 3166 code AUT for Austria"),
    (checks.check_units, True, "not true/false"),
    (checks.check_units, 0.1 + 0.2, "floating-point"),
    (lambda v: checks.check_units(v, step_size=10), 15, "multiple of the step size 10"),
    (lambda v: checks.check_birth_date(v, today=date(2026, 1, 1)), "2010-01-01", "at least 18 years old"),
    (checks.check_datetime, "2021-03-12 07:14", "no time zone"),
    (checks.check_uuid, "123", "is not an id"),
])
def test_checks_explain_themselves(check, raw, message) -> None:
    with pytest.raises(checks.CheckError, match=message):
        check(raw)


def test_money_is_exact() -> None:
    assert money_value({"amount": "40000000", "decimals": 3, "currency": "EUR"}) == Decimal("40000.000")
    frame = to_frame([{"id": "a", "price": {"amount": "10", "decimals": 2, "currency": "EUR"}, "units": 3}])
    assert frame.loc[0, "price"] == Decimal("0.10") and frame.loc[0, "price_currency"] == "EUR"
    assert frame["units"].dtype == "Int64" and frame["price"].dtype == object


def test_masking() -> None:
    assert mask("DE89370400440532013000", "iban") == "DE89 •••• 3000"
    assert mask("12345678901", "tax_identification_number") == "••••••••901"
    assert mask(None, "iban") is None


def test_nested_errors_round_trip() -> None:
    errors = {"natural_person.zip": ["Too long."], "signed_documents.0.document_id": ["Unknown."]}
    assert checks.flatten(checks.nest(errors)) == errors
    assert field_label("natural_person.birth_date") == "birth date (natural person)"
    assert field_label("signed_documents.0.document_id") == "document id of item 1 (signed documents)"
    assert str(input_error("the investor", {"iban": ["Bad."]})) == \
        "Nothing was sent: 1 field of the investor needs attention. iban: Bad."


def test_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CASHLINK_BASE_URL=https://demo.cashlink.de/api/external\nCASHLINK_CLIENT_ID=from-file\n"
                        "CASHLINK_CLIENT_SECRET=s3cret\n")
    monkeypatch.delenv("CASHLINK_BASE_URL", raising=False)
    monkeypatch.setenv("CASHLINK_CLIENT_ID", "from-environment")
    config = load_config(env_file)
    assert config.client_id == "from-environment" and config.base_url.startswith("https://demo")
    assert not config.is_sandbox and config.token_url == "https://demo.cashlink.de/api/external/oauth/token"
    assert "s3cret" not in repr(config)
    monkeypatch.chdir(tmp_path / "..")
    defaults = load_config(tmp_path / "missing.env")
    assert defaults.is_sandbox and defaults.source in ("environment", "built-in sandbox defaults")


def test_empty_frame() -> None:
    assert to_frame([]).empty and isinstance(to_frame([]), pd.DataFrame)
