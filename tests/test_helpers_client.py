"""The helpers client against the real sandbox over HTTP: flows, idempotent re-runs, faults, tokens, pages."""

from __future__ import annotations

import logging
import socket
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

import helpers
from helpers.core import api
from helpers.core.config import Config
from helpers.core.records import badge_text
from helpers.core.resources import remaining_units
from tests.conftest import SIGNED_AT, Sandbox, identification_body, investor_body


def onboard(client: helpers.Client, surname: str = "Parker") -> tuple[str, str]:
    investor = client.investors.create(investor_body(surname))
    protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    client.investors.identify(investor.id, identification_body(protocol.id))
    wallet = client.investors.create_managed_wallet(investor.id)
    return investor.id, wallet.id


def invest(client: helpers.Client, investor_id: str, wallet_id: str | None, units: int) -> helpers.Record:
    document = client.documents.upload(b"%PDF-1.4 signed " + str(units).encode(), "signed.pdf")
    return client.investments.create(
        investor_id,
        units,
        SIGNED_AT,
        [{"document_id": document.id, "category": "c", "subject": "s"}],
        accepted_at=SIGNED_AT,
        paid_at=SIGNED_AT,
        wallet=wallet_id,
    )


def failed_redemption(
    client: helpers.Client, sandbox: Any, investor_id: str, wallet_id: str, units: int, reference: str | None = None
) -> helpers.TaskError:
    """A redemption the ledger refuses (the sandbox's task outcome 'failed' for it alone): the error it raised."""
    sandbox.admin("settings", {"task_outcome": "failed"})
    try:
        with pytest.raises(helpers.TaskError) as failed:
            client.redemptions.create(investor_id, wallet_id, units, reference=reference)
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    return failed.value


def counts(client: helpers.Client) -> dict[str, int]:
    lists = {
        "investors": client.investors.list(),
        "investments": client.investments.list(),
        "redemptions": client.redemptions.list(),
    }
    result = {}
    for name, listing in lists.items():
        next(listing.pages())
        result[name] = listing.count
    return result


def test_onboarding_to_redemption(client: helpers.Client) -> None:
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 300)
    assert investment["status"] == "PAID"
    delivered = client.investments.credit(investment.id)
    assert delivered["status"] == "DELIVERED"
    holdings = client.holdings(investor_id=investor_id)
    assert holdings["units"].tolist() == [300]
    redemption = client.redemptions.create(investor_id, wallet_id, 120)
    assert redemption["status"] == "success"
    assert remaining_units(client.investments.get(investment.id)) == 180  # documented remaining_amount
    frame = client.investments.frame(investor_id=investor_id)
    assert frame.loc[0, "remaining_amount"] == Decimal("18000.00")
    assert frame["units"].dtype == "Int64"
    assert isinstance(frame["created_at"].dtype, pd.DatetimeTZDtype)


def test_running_the_same_calls_again_creates_nothing(client: helpers.Client, config: Config) -> None:
    def run() -> list[str]:
        investor_id, wallet_id = onboard(client)
        investment = invest(client, investor_id, wallet_id, 50)
        client.investments.credit(investment.id)
        redemption = client.redemptions.create(investor_id, wallet_id, 50)
        return [investor_id, wallet_id, investment.id, redemption.id]

    first = run()
    before = counts(client)
    assert run() == first
    # A new kernel with a new client (same journal) behaves the same.
    assert helpers.Client(config).investors.create(investor_body()).replayed
    assert counts(client) == before == {"investors": 1, "investments": 1, "redemptions": 1}


def test_a_deliberate_repeat_is_explicit(client: helpers.Client) -> None:
    first = client.investors.create(investor_body())
    second = client.investors.create(investor_body(), repeat=True)
    assert first.id != second.id and not second.replayed


def test_the_journal_is_not_needed_for_safety(client: helpers.Client, config: Config, tmp_path: Path) -> None:
    """Without the journal (another machine), the derived key still makes the registry replay the first answer."""
    first = client.investors.create(investor_body())
    other = helpers.Client(config.replace(journal_path=tmp_path / "elsewhere.sqlite3"))
    assert other.investors.create(investor_body()).id == first.id
    assert counts(client)["investors"] == 1


@pytest.mark.parametrize("fault", ["error", "429", "drop"])
def test_faults_are_retried_without_duplicates(client: helpers.Client, sandbox: Sandbox, fault: str) -> None:
    client.check_connection()
    sandbox.faults(queue=[fault, fault], retry_after=0)
    investor = client.investors.create(investor_body())
    assert counts(client)["investors"] == 1
    assert client.investors.get(investor.id)["natural_person"]["surname"] == "Parker"


def test_random_faults_over_a_whole_flow(client: helpers.Client, sandbox: Sandbox) -> None:
    sandbox.faults(error_rate=0.15, rate_limit_rate=0.1, drop_rate=0.15, retry_after=0, seed=7)
    investor_id, wallet_id = onboard(client)
    investments = [invest(client, investor_id, wallet_id, units) for units in (10, 20, 30)]
    for investment in investments:
        client.investments.credit(investment.id)
    client.redemptions.create(investor_id, wallet_id, 25)
    sandbox.reset_faults()
    assert counts(client) == {"investors": 1, "investments": 3, "redemptions": 1}
    assert client.holdings(investor_id=investor_id)["units"].tolist() == [35]


def test_rate_limit_honours_retry_after(client: helpers.Client, sandbox: Sandbox) -> None:
    import time

    client.check_connection()
    sandbox.faults(queue=["429"], retry_after=1)
    started = time.monotonic()
    client.investors.list().to_list()
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize("retry_after", ["1.5", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_in_any_spelling_is_a_429_retried_never_a_lost_connection(
    client: helpers.Client, sandbox: Sandbox, retry_after: str
) -> None:
    """A Retry-After of '1.5' (not RFC 9110's whole seconds), negative, unreadable or in the past: the 429 is
    retried, a write too. Before, '1.5' read as 'Could not reach the registry' and a write as a lost answer."""
    client.check_connection()
    sandbox.faults(queue=["429"], retry_after_text=retry_after)
    assert client.products.list().to_list()
    sandbox.faults(queue=["429"], retry_after_text=retry_after, methods=["POST"])
    made = client.investors.create(investor_body("Throttled"))
    assert made.outcome == "created" and len(client.investors.list().to_list()) == 1
    sandbox.reset_faults()


def test_persistent_outage_reads_as_a_sentence(client: helpers.Client, sandbox: Sandbox) -> None:
    client.check_connection()
    sandbox.faults(error_rate=1.0, methods=["GET"])
    client.transport.reads.get_adapter("http://").max_retries.backoff_factor = 0
    with pytest.raises(helpers.ServerError) as caught:
        client.investors.get("3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert "could not read the investor, even after retries" in str(caught.value)
    # review 88: a form shows the sentence alone, so the sentence itself holds what support is to be told
    said = f"tell Cashlink's support the time, {caught.value.at:%Y-%m-%d %H:%M:%S} UTC"
    assert said in caught.value.message and "the time and the request id" not in caught.value.message
    assert caught.value.message.endswith(
        f", and the request id, {caught.value.request_id}." if caught.value.request_id else "no request id)."
    )
    shown = "\n".join(caught.value._render_traceback_())  # review 89: said once, not again under it
    assert shown.count(f"{caught.value.at:%Y-%m-%d %H:%M:%S}") == 1, shown


def test_token_expiry_mid_run_is_invisible(client: helpers.Client, sandbox: Sandbox) -> None:
    first = client.investors.create(investor_body())
    old_token = client.transport.token()
    sandbox.admin("tokens/expire")
    assert client.investors.get(first.id).id == first.id
    assert client.transport.token() != old_token


def test_token_is_renewed_before_it_expires(sandbox: Sandbox, config: Config) -> None:
    import time

    sandbox.admin("settings", {"token_ttl": 2})
    client = helpers.Client(config)
    old_token = client.transport.token()
    time.sleep(1.1)
    client.investors.list().to_list()
    assert client.transport.token() != old_token


def test_listing_walks_every_page(client: helpers.Client, sandbox: Sandbox, config: Config) -> None:
    sandbox.admin("bulk", {"client_id": config.client_id, "investors": 7, "investments": 1203})
    frame = client.investments.frame()
    assert len(frame) == 1203 and frame["id"].is_unique
    # review 86: the same columns on every registry (drf sends no remaining_units nor status_changed_at): the units
    # left derived from the documented amounts, as the screens do
    assert {"remaining_units", "status_changed_at"} <= set(frame.columns)
    assert str(frame["remaining_units"].dtype) == "Int64" and frame["remaining_units"].notna().all()
    assert (frame["remaining_units"] == frame["units"]).all()  # (none redeemed)
    small_pages = helpers.Client(config.replace(page_size=2)).investors.list()
    assert len(small_pages.to_list()) == 7 and small_pages.count == 7


def test_wrong_credentials_read_as_a_sentence(config: Config) -> None:
    with pytest.raises(helpers.AuthenticationError) as caught:
        helpers.connect(config.replace(client_secret="wrong-secret-value"))
    assert "did not accept our credentials" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value)


def test_a_wrong_api_path_says_to_check_the_base_url(config: Config) -> None:
    """Review 53: /api/extern said 'the registry has no such object: Not Found. Check the id.'"""
    wrong = config.base_url.replace("/api/external", "/api/extern")
    with pytest.raises(helpers.ConfigurationError) as caught:
        helpers.connect(config.replace(base_url=wrong))
    assert str(caught.value).startswith(f"No Cashlink API answers at {wrong}/oauth/token (it answered 404)")
    assert "check CASHLINK_BASE_URL (the settings came from" in str(caught.value)
    assert "Check the id" not in str(caught.value)


def test_missing_scope_reads_as_a_sentence(config: Config) -> None:
    client = helpers.Client(config.replace(scopes="investments:read"))
    with pytest.raises(helpers.PermissionDeniedError) as caught:
        client.investors.list().to_list()
    assert "not allowed to list the investors" in str(caught.value)


def test_api_field_errors_become_a_table(client: helpers.Client) -> None:
    with pytest.raises(helpers.ValidationError) as caught:
        client.transport.request(
            "POST",
            "/investors/",
            "create the investor",
            idempotency_key="k1",
            json=investor_body(natural_person__country="DE"),
        )
    error = caught.value
    assert not isinstance(error, helpers.InputError)
    ((path, label, message),) = error.rows()
    assert (path, label) == ("natural_person.country", "Country") and "DEU" in message
    assert "<table class='cl-errors'>" in error._repr_html_() and "<td>Country</td>" in error._repr_html_()
    assert error.status == 400 and "HTTP 400" in error.support() and "UTC" in error.support()


BAD_INPUTS: list[tuple[str, Any, str]] = [
    ("iban", lambda c: c.investors.create(investor_body(bank_account__iban="DE00123")), "IBAN is too short"),
    ("bic", lambda c: c.investors.create(investor_body(bank_account__bic="NOTABIC!")), "not a valid BIC"),
    (
        "country",
        lambda c: c.investors.create(investor_body(natural_person__country="Germany")),
        "three-letter ISO 3166",
    ),
    (
        "date",
        lambda c: c.investors.create(investor_body(natural_person__birth_date="2000-13-01")),
        "There is no such month",
    ),
    ("email", lambda c: c.investors.create(investor_body(communication__email="peter@")), "not an e-mail"),
    (
        "eth",
        lambda c: c.investors.create_generic_wallet(
            "3fa85f64-5717-4562-b3fc-2c963f66afa6", "0x52908400098527886E0F7030069857D2E4169Ee7"
        ),
        "wrong EIP-55 checksum",
    ),
    (
        "units float",
        lambda c: c.investments.create("3fa85f64-5717-4562-b3fc-2c963f66afa6", 1.5, SIGNED_AT, []),
        "floating-point",
    ),
    (
        "units text",
        lambda c: c.redemptions.create(
            "3fa85f64-5717-4562-b3fc-2c963f66afa6", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "ten"
        ),
        "not a number of units",
    ),
    (
        "datetime",
        lambda c: c.investments.create("3fa85f64-5717-4562-b3fc-2c963f66afa6", 1, "yesterday", []),
        "is not a date; write the day as YYYY-MM-DD",
    ),
    (  # review 81: and what to do instead
        "upload type",
        lambda c: c.documents.upload(b"MZ", "virus.exe"),
        "'virus.exe' is not a PDF, PNG or JPEG file. Choose the document as one of those",
    ),
    ("upload empty", lambda c: c.documents.upload(b"", "scan.pdf"), "The file is empty: choose the document itself."),
    ("renamed file", lambda c: c.documents.upload(b"a text", "fake.pdf"), "'fake.pdf' is named as a PDF file, but"),
    ("renamed image", lambda c: c.documents.upload(b"GIF89a", "scan.png"), "named as a PNG file, but its content"),
    ("upload missing", lambda c: c.documents.upload(Path("/nonexistent/protocol.pdf")), "no file at"),
    ("status filter", lambda c: c.investments.list(status="DONE"), "not an investment status"),
]


@pytest.mark.parametrize("name, call, text", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_before_sending(client: helpers.Client, name: str, call: Any, text: str) -> None:
    client.check_connection()
    sent = client.transport.requests_sent
    with pytest.raises(helpers.InputError) as caught:
        call(client)
    assert text in str(caught.value)
    assert str(caught.value).startswith("Nothing was sent")
    assert client.transport.requests_sent == sent


def test_a_task_stage_says_what_to_do_for_every_status() -> None:
    """One judgment of where a task stands, for the reconciliation's advice and a retry's refusal (review 84)."""
    stages = {"SUCCESS": "successful", "succeeded": "successful", " failed ": "failed", "unknown": "unknown"}
    stages |= {"processing": "running", "PENDING": "running", None: "running", "": "running", "in_review": "other"}
    assert {status: api.task_stage(status) for status in stages} == stages
    words = [api.task_word(status) for status in ("SUCCESS", "FAILED", None, "NONE", "in_review")]
    assert words == ["successful", "failed", "unknown", "not started", "in review"]


def test_a_redemption_that_did_not_fail_is_not_retried_and_says_why(client: helpers.Client) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    done = client.redemptions.create(investor_id, wallet_id, 3)
    with pytest.raises(
        helpers.InputError, match=r"The redemption's status is successful, not failed: there is nothing to retry\."
    ):
        client.redemptions.retry(done.id)


def test_redeeming_more_than_the_balance_is_refused_before_sending(client: helpers.Client) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    with pytest.raises(helpers.InputError, match="holds 10 units"):
        client.redemptions.create(investor_id, wallet_id, 11)
    assert counts(client)["redemptions"] == 0


def test_tasks_that_fail_or_end_unknown_raise(client: helpers.Client, sandbox: Sandbox) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    sandbox.admin("settings", {"task_outcome": "unknown"})
    with pytest.raises(helpers.TaskError, match="Do not retry"):
        client.redemptions.create(investor_id, wallet_id, 5)


def test_waiting_times_out_with_a_sentence(client: helpers.Client, sandbox: Sandbox) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    sandbox.admin("settings", {"settle_delay": 30})
    with pytest.raises(helpers.TaskError, match=r"has not ended after 0\.5 s \(the registry says processing\)"):
        client.redemptions.create(investor_id, wallet_id, 5, timeout=0.5)


def test_settlement_delay_is_waited_for(client: helpers.Client, sandbox: Sandbox) -> None:
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 10)
    sandbox.admin("settings", {"settle_delay": 0.5})
    assert client.investments.credit(investment.id)["status"] == "DELIVERED"


def test_personal_data_is_masked_unless_asked(client: helpers.Client) -> None:
    client.investors.create(investor_body())
    masked = client.investors.frame()
    assert masked.loc[0, "bank_account.iban"] == "DE53 •••• 6251"
    assert masked.loc[0, "natural_person.birth_date"] == "••••-••-••"
    assert "12345678" not in masked.to_string()
    shown = client.investors.frame(show_personal_data=True)
    assert shown.loc[0, "bank_account.iban"] == "DE53500105173569146251"


def test_no_secret_in_reprs_logs_or_errors(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = helpers.connect(config)
    client.investors.create(investor_body())
    token = client.transport.token()
    secret = config.client_secret.get_secret_value()
    texts = [
        repr(config),
        str(config),
        repr(client),
        repr(client.transport),
        client.describe(),
        caplog.text,
        client._repr_html_(),
    ]
    try:
        helpers.connect(config.replace(client_secret=secret + "x"))
    except helpers.AuthenticationError as exc:
        texts += [str(exc), repr(exc), exc._repr_html_()]
    for text in texts:
        assert secret not in text
        assert token not in text
    searched = client.investors.list(email="ada.secret@example.com")  # (review 40: a list's repr showed the e-mail)
    assert repr(searched) == "ListResult('/investors/', filtered by email)" and "ada.secret" not in repr(searched)


def test_connect_prints_nothing_and_shows_where(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    client = helpers.connect(config)
    assert capsys.readouterr().out == ""
    assert "Connected to the local sandbox" in client.describe() and config.client_id in client.describe()
    port = urlsplit(config.root_url).port  # review 71: two sandboxes on one machine looked the same
    assert f"SANDBOX · 127.0.0.1:{port}<" in client._repr_html_()
    far = helpers.Client(config.replace(base_url="https://connect.cashlink.de/api/external"))
    assert badge_text(far) == "PRODUCTION · connect.cashlink.de" and not far.is_sandbox


def test_a_registry_on_this_machine_that_is_not_the_sandbox_is_taken_for_production(
    config: Config, tmp_path: Path
) -> None:
    """Review 86: the sandbox was told by the address alone, so a real registry reached through a tunnel on this
    machine (ssh, kubectl port-forward) would have been offered placeholder documents, demo values auto-submitted
    and the sample ledger, under a SANDBOX badge. It is the sandbox only when it answers as the sandbox does."""
    import http.server

    class Registry(http.server.BaseHTTPRequestHandler):  # a registry at the far end of a tunnel: no /_sandbox
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tunnel = helpers.Client(
            config.replace(base_url=f"http://127.0.0.1:{server.server_port}/api/external", journal_path=tmp_path / "j")
        )
        assert tunnel.config.is_sandbox and not tunnel.is_sandbox  # on this machine, but not the sandbox
        assert tunnel.environment == "production" and badge_text(tunnel).startswith("PRODUCTION · 127.0.0.1:")
        assert "the PRODUCTION registry" in tunnel.describe()
        from helpers.ui import forms

        assert not forms.should_auto_submit(None, tunnel)  # no demo values sent unasked
    finally:
        server.shutdown()
        server.server_close()
    sandbox = helpers.Client(config)
    assert sandbox.is_sandbox and sandbox.environment == "sandbox"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # nothing answers there (bound, never listening): asked again next time (review 87)
    try:
        down = helpers.Client(config.replace(base_url=f"http://127.0.0.1:{closed.getsockname()[1]}/api/external"))
        assert not down.is_sandbox and down._sandbox is None
    finally:
        closed.close()


def test_a_read_the_registry_is_too_slow_to_answer_is_said_as_slow_not_as_unreachable(
    config: Config, sandbox: Sandbox
) -> None:
    """Review 86: a read that timed out said 'Could not reach the registry ... Is the sandbox running?': it was
    reached, and slow."""
    from helpers.core.transport import Transport, make_retry

    slow = config.replace(timeout=0.3)
    client = helpers.Client(slow, transport=Transport(slow, retry=make_retry(total=1, backoff=0)))
    client.check_connection()
    sandbox.faults(latency=1.0)
    try:
        with pytest.raises(helpers.APIConnectionError) as caught:
            client.products.list().to_list()
    finally:
        sandbox.reset_faults()
    said = str(caught.value)
    assert "did not answer 'list the products' within 0.3 s (CASHLINK_TIMEOUT)" in said, said
    assert "set CASHLINK_TIMEOUT higher" in said and "Could not reach" not in said


def test_sandbox_defaults_match_the_seed() -> None:
    from helpers.core import config as defaults
    from sandbox import seed

    assert (defaults.SANDBOX_CLIENT_ID, defaults.SANDBOX_CLIENT_SECRET) == (
        seed.DEMO_CLIENT_ID,
        seed.DEMO_CLIENT_SECRET,
    )
    assert (defaults.SANDBOX_CAMPAIGN_ID, defaults.SANDBOX_PRODUCT_ID) == (seed.CAMPAIGN_ID, seed.PRODUCT_ID)
    example = Path(__file__).resolve().parents[1] / ".env.example"
    assert helpers.load_config(example).campaign_id == seed.CAMPAIGN_ID


def test_transfer_between_investors(client: helpers.Client) -> None:
    sender, source = onboard(client, "Sender")
    client.investments.credit(invest(client, sender, source, 30).id)
    receiver, target = onboard(client, "Receiver")
    address = next(w["address"] for w in client.investors.wallets(receiver) if w["id"] == target)
    transfer = client.transfers.create(source, address, 12)
    assert transfer["status"] == "succeeded"
    held = client.holdings().set_index("investor_id")["units"].to_dict()
    assert held == {sender: 18, receiver: 12}
    assert client.transfers.create(source, address, 12).id == transfer.id  # a re-run: same one
    product = client.config.product_id
    assert product is not None
    for filters in ({"product_id": product}, {"wallet_id": source}, {"investor_id": sender}):
        assert [t.id for t in client.transfers.list(**filters)] == [transfer.id], filters
    assert client.transfers.list(wallet_id=target).to_list() == []
    assert client.transfers.list(investor_id=receiver).to_list() == []


def test_distributor_prefix_is_a_setting(config: Config) -> None:
    client = helpers.Client(config.replace(api_prefix="/distributor/v2"))
    investor = client.investors.create(investor_body())
    assert client.investors.get(investor.id).id == investor.id
    assert client.transport.url("/investors/").endswith("/api/external/distributor/v2/investors/")


def test_a_rerun_without_read_scope_trusts_the_journal(config: Config) -> None:
    """A write-only client cannot check the journal's answer with a GET; the re-run still creates nothing."""
    client = helpers.Client(config.replace(scopes="investors:write"))
    first = client.investors.create(investor_body())
    again = client.investors.create(investor_body())
    assert again.replayed and again.id == first.id


def test_messages_say_what_to_do_for_a_credit_without_wallet_and_an_unknown_wallet(client: helpers.Client) -> None:
    investor_id, wallet_id = onboard(client, "Walletless")
    investment = invest(client, investor_id, None, 20)  # paid, no delivery wallet yet
    with pytest.raises(helpers.InputError) as caught:
        client.investments.credit(investment.id)
    assert "no delivery wallet yet" in str(caught.value) and "wallet=WALLET_ID" in str(caught.value)
    assert ".;" not in str(caught.value)
    client.investments.update(investment.id, wallet=wallet_id)
    assert client.investments.credit(investment.id)["status"] == "DELIVERED"
    with pytest.raises(helpers.InputError) as caught:
        client.redemptions.create(investor_id, "3fa85f64-5717-4562-b3fc-2c963f66afa6", 5)
    assert "The investor has no wallet with this id" in str(caught.value)


def test_an_update_that_would_clear_a_field_or_holds_a_wrong_value_is_refused_before_sending(
    client: helpers.Client,
) -> None:
    """Review 45: clearing the e-mail or the tax id was sent, the registry kept them, and the result said 'updated';
    an empty e-mail went out unchecked. Each field of a change is checked by its own rule first."""
    made = client.investors.create(investor_body("Clearing"))
    sent = client.transport.requests_sent
    for changes, field in (
        ({"communication": {"email": None}}, "communication.email"),
        ({"communication": {"email": ""}}, "communication.email"),
        ({"tax_information": {"tax_identification_number": None}}, "tax_information.tax_identification_number"),
        ({"communication": {"email": "not an address"}}, "communication.email"),
        ({"natural_person": {"birth_date": "2999-01-01"}}, "natural_person.birth_date"),
        ({"natural_person": {"first_name": "Petra"}}, "natural_person.first_name"),  # review 47: said 'updated'
    ):
        with pytest.raises(helpers.InputError) as refused:
            client.investors.update(made.id, changes)
        assert list(refused.value.field_errors) == [field] and refused.value.message.startswith("Nothing was sent")
        if changes.get("communication", {}).get("email", "x") in (None, ""):
            assert "A value cannot be removed here" in refused.value.field_errors[field][0]
    assert client.transport.requests_sent == sent
    changed = client.investors.update(made.id, {"communication": {"email": "new.address@example.com"}})
    assert changed.outcome == "updated"


def test_a_payment_dated_years_before_the_signing_is_refused_before_sending(client: helpers.Client) -> None:
    """Review 45: paid_at in 2001 of an investment signed in 2021 was sent and said 'updated'. Review 47: a payment a
    day before the signing is no error (paying first is not forbidden), and a create is checked too."""
    investor_id, _wallet = onboard(client)
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]
    investment = client.investments.create(investor_id, 10, SIGNED_AT, signed)
    sent = client.transport.requests_sent
    with pytest.raises(helpers.InputError) as refused:
        client.investments.update(investment.id, paid_at="2001-03-12T10:00:00+00:00")
    said = refused.value.field_errors["paid_at"][0]
    assert said == (
        f"2001-03-12 is more than a year before the investment was signed ({SIGNED_AT[:10]}); check the year."
    )
    assert client.transport.requests_sent == sent + 1  # (the investment was read, nothing written)
    with pytest.raises(helpers.InputError, match="more than a year before"):
        client.investments.create(investor_id, 11, SIGNED_AT, signed, accepted_at="2020-01-01", paid_at="2020-01-02")
    assert client.transport.requests_sent == sent + 1
    assert client.investments.update(investment.id, accepted_at="2021-03-11").outcome == "updated"  # a day before


def test_a_credit_the_registry_would_refuse_is_not_sent_and_says_what_to_do(client: helpers.Client) -> None:
    """Review 45: a credit of an investment waiting for acceptance was sent (and refused with 'Check the request'),
    and credit(repeat=True) of a delivered one was sent too."""
    investor_id, wallet_id = onboard(client)
    document = client.documents.upload(b"%PDF-1.4 signed waiting", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]
    accepted = client.investments.create(investor_id, 10, SIGNED_AT, signed, accepted_at=SIGNED_AT, wallet=wallet_id)
    sent = client.transport.requests_sent
    with pytest.raises(helpers.InputError) as refused:
        client.investments.credit(accepted.id)
    assert refused.value.message == (
        "Nothing was sent. The investment is accepted, waiting for the payment: only a paid investment can be "
        "credited. Mark it paid once the money arrived, then credit it "
        f"(client.investments.update('{accepted.id}', paid_at=…))."
    )
    assert str(refused.value) == refused.value.message  # review 52: the sentence said twice ('... Status: The ...')
    assert client.transport.requests_sent == sent + 1  # (read, not written)
    delivered = client.investments.credit(invest(client, investor_id, wallet_id, 5).id)
    with pytest.raises(helpers.InputError, match="delivered already: there is nothing to credit"):
        client.investments.credit(delivered.id, repeat=True)


def test_investors_are_filtered_by_email_and_kyc_status_on_every_registry(
    client: helpers.Client, config: Config
) -> None:
    """Review 92: under drf, investors.frame(email=...) gave every investor without a word (the registry ignores
    what it does not know); under strict, progress=False was sent to the registry as a filter."""
    identified, _wallet = onboard(client, "Filtered")
    client.investors.create(investor_body("Unidentified"))
    found = client.investors.frame(email="PETER.filtered@example.com ", show_personal_data=True, progress=False)
    assert found["communication.email"].tolist() == ["peter.filtered@example.com"]
    assert client.investors.frame(email="nobody@example.com").empty
    succeeded = client.investors.frame(kyc_status="success", progress=False)
    assert len(client.investors.frame(progress=False)) == 2 and succeeded["id"].tolist() == [identified]
    assert len(client.investors.frame(kyc_status="PENDING")) == 1  # (one answer on every registry: review 94)
    with pytest.raises(TypeError):
        client.investors.frame(surname="Lovelace")  # type: ignore[call-arg]  # (not a filter: never sent)
    for frame in (
        client.investments.frame(status="DELIVERED", show_personal_data=True, progress=False),
        client.redemptions.frame(progress=False),
        client.campaigns.frame(progress=False),
        client.products.frame(progress=False),
    ):
        assert "id" in frame.columns


def test_an_investor_whose_latest_identification_failed_is_failed_on_every_registry(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 95: an imported identification that succeeded, then a video identification that failed: the registry
    that sends kyc_status said FAILED (its latest outcome), the toolkit reading identifications said SUCCESS."""
    investor_id, _wallet = onboard(client, "Failed Later")
    video = client.investors.identify(investor_id)
    sandbox.admin(f"identifications/{video['id']}/complete", {"result": "failed"})
    assert client.investors.kyc_status(investor_id) == "FAILED"
    assert client.investors.frame(kyc_status="FAILED")["id"].tolist() == [investor_id]
    assert client.investors.frame(kyc_status="SUCCESS").empty


def test_an_identification_imported_after_a_failed_one_makes_the_investor_identified_on_every_registry(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 97: a video identification that failed, then one done yesterday imported after it: the registry's
    kyc_status said SUCCESS (its latest event), the toolkit reading identifications FAILED (yesterday's verified_at
    came before the failure's)."""
    from datetime import UTC, datetime, timedelta

    investor = client.investors.create(investor_body("Imported Later"))
    video = client.investors.identify(investor.id)
    sandbox.admin(f"identifications/{video['id']}/complete", {"result": "failed"})
    protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    valid = {"document_valid_to": "2030-01-01", "verified_at": yesterday}
    client.investors.identify(investor.id, {**identification_body(protocol.id), **valid})
    assert client.investors.kyc_status(investor.id) == "SUCCESS"
