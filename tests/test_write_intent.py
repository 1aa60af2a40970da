"""A write's identity is the analyst's intent, not its content (issue 9), over HTTP against the sandbox.

Each test is one case of the issue: a re-run is the same operation and sends nothing; a person asking again is a new
operation after a clear question; a failed task can be retried; a correction offers an update; every result says
what happened, from the registry's answer; the journal keeps no personal data; every write is in the audit trail.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import helpers
from helpers.core import journal as journal_module
from helpers.core import resources as resources_module
from helpers.core.client import ConfirmationRequired
from helpers.core.config import Config
from helpers.core.transport import AmbiguousWrite
from helpers.data import bulk
from helpers.ui import forms
from tests.conftest import SIGNED_AT, Sandbox, config_for, identification_body, investor_body, unique_iban
from tests.test_helpers_client import counts, invest, onboard


def holding(client: helpers.Client, investor_id: str) -> int:
    return int(client.holdings(investor_id=investor_id)["units"].sum())


@pytest.fixture
def holder(client: helpers.Client) -> tuple[str, str]:
    """An investor with 200 units delivered to a managed wallet."""
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 200).id)
    return investor_id, wallet_id


def test_an_identical_redemption_asked_again_is_a_new_operation_after_a_question(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, _wallet_id = holder
    form = forms.RedemptionForm(client, {"investor_id": investor_id, "units": 50})
    first = form.click_submit()
    assert first is not None and first.outcome == "created" and "Created now" in form.status.value
    assert form.click_submit() is first  # a double-click's second click: nothing sent, nothing asked
    form.again_button.click()  # "Another redemption": the same person, the same 50 units, a second time
    assert form.units.value == ""  # a sent form forgets what was typed: the person types it again
    form.units.value = "50"
    again = form.click_submit()
    assert again is None and holding(client, investor_id) == 150
    assert isinstance(form.error, helpers.PossibleDuplicate)
    assert "An identical redemption (50 units from the same wallet) was made today at" in form.error.message
    assert first.id in form.error.message and "Nothing was sent" in form.error.message
    form.units.value = "51"  # review 53: the question about 50 units stayed, without its buttons
    assert form.choices.children == () and "identical" not in form.status.value and "Review" in form.status.value
    form.units.value = "50"
    assert form.click_submit() is None and form.choices.children  # asked again, about the values as they are
    make_another = next(b for b in form.choices.children if "cl-make-another" in b._dom_classes)
    make_another.click()
    assert form.result is not None and form.result.id != first.id and form.result.outcome == "created"
    make_another.click()  # the second click of a double-click: the result stays as it is
    assert form.result.outcome == "created" and "Created now" in form.status.value and form.choices.children == ()
    assert holding(client, investor_id) == 100
    assert counts(client)["redemptions"] == 2


def test_a_form_sent_again_after_its_kernel_stopped_mid_write_names_its_own_attempt_and_uses_it(
    client: helpers.Client, config: Config, holder: tuple[str, str]
) -> None:
    """Review 85: the kernel stopped as a redemption's answer came (the registry made it); the form filled in again
    asked about 'an identical redemption made today', without saying it was most likely the stopped one, and after
    'use' the stopped attempt stayed unanswered in the journal, with no audit line for the units it moved."""
    investor_id, _wallet_id = holder
    send = client.transport.request

    def stopped_as_the_answer_came(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        answer = send(method, path, *args, **kwargs)  # the registry makes it
        if method == "POST" and "redemptions" in path:
            raise KeyboardInterrupt
        return answer

    client.transport.request = stopped_as_the_answer_came  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        forms.RedemptionForm(client, {"investor_id": investor_id, "units": 40}).click_submit()
    client.transport.request = send  # type: ignore[method-assign]
    assert holding(client, investor_id) == 160
    restarted = helpers.Client(config)  # the kernel restarted, the form filled in again
    form = forms.RedemptionForm(restarted, {"investor_id": investor_id, "units": 40})
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    assert "This journal sent an identical redemption today at " in form.error.message
    assert "whose answer never came (the kernel or the connection stopped): this is most likely that one" in (
        form.error.message
    )
    use = next(b for b in form.choices.children if "cl-use-existing" in b._dom_classes)
    use.click()
    assert form.result is not None and form.result.outcome == "existed" and holding(client, investor_id) == 160
    outcomes = [line["outcome"] for line in restarted.audit() if line["operation"] == "create redemption"]
    assert outcomes == ["interrupted: outcome unknown", "found: made by an unanswered attempt"], outcomes
    with sqlite3.connect(config.journal_file) as journal:  # the stopped attempt's row is answered now, as this one's
        states = journal.execute("SELECT state FROM operations WHERE operation = 'create redemption'").fetchall()
    assert states == [("done",), ("done",)], states


def test_an_unanswered_attempt_days_old_is_never_taken_for_an_identical_object_made_today(
    client: helpers.Client, config: Config, holder: tuple[str, str], tmp_path: Path
) -> None:
    """Review 87: a form's redemption stopped before it went out (the registry made nothing), three days ago; today
    another journal made an identical one. The form filled in again called that one 'most likely' the stopped
    attempt's, and 'use' recorded it so: the analyst's own redemption would never be made."""
    investor_id, wallet_id = holder
    send = client.transport.request

    def stopped_before_sending(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "redemptions" in path:
            raise KeyboardInterrupt
        return send(method, path, *args, **kwargs)

    client.transport.request = stopped_before_sending  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        forms.RedemptionForm(client, {"investor_id": investor_id, "units": 40}).click_submit()
    client.transport.request = send  # type: ignore[method-assign]
    days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    with sqlite3.connect(config.journal_file) as journal:
        journal.execute("UPDATE operations SET sent_at = ?, updated_at = ?, created_at = ?", [days_ago] * 3)
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "colleague.sqlite3"))
    theirs = colleague.redemptions.create(investor_id, wallet_id, 40)
    restarted = helpers.Client(config)
    form = forms.RedemptionForm(restarted, {"investor_id": investor_id, "units": 40})
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    assert theirs.id in form.error.message and "This journal sent" not in form.error.message
    next(b for b in form.choices.children if "cl-use-existing" in b._dom_classes).click()
    outcomes = [line["outcome"] for line in restarted.audit() if line["operation"] == "create redemption"]
    assert "found: made by an unanswered attempt" not in outcomes, outcomes
    with sqlite3.connect(config.journal_file) as journal:  # the stopped attempt is still to be looked for
        states = sorted(
            state
            for (state,) in journal.execute("SELECT state FROM operations WHERE operation = ?", ["create redemption"])
        )
    assert states == ["done", "sent"], states


def test_a_rerun_of_the_same_step_sends_nothing_and_says_so(
    client: helpers.Client, config: Config, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 50)
    assert first.outcome == "created"
    rerun = helpers.Client(config).redemptions.create(investor_id, wallet_id, 50)  # a fresh Python session
    assert rerun.id == first.id and rerun.outcome == "existed"
    assert rerun.happened().startswith("Already existed (created on ") and "nothing new was sent" in rerun.happened()
    assert holding(client, investor_id) == 150
    with pytest.raises(helpers.PossibleDuplicate, match="An identical redemption"):
        client.redemptions.create(investor_id, wallet_id, 50, reference="payout 2026-12")  # a new operation: asked
    deliberate = client.redemptions.create(investor_id, wallet_id, 50, repeat=True)  # said in advance: made
    assert deliberate.outcome == "created" and holding(client, investor_id) == 100


def test_a_failed_redemption_can_be_retried_once_and_unknown_never(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError, match=r"failed: .*It is not done.*redemptions\.retry\(") as caught:
        client.redemptions.create(investor_id, wallet_id, 50)
    failed_id = caught.value.task["id"]
    with pytest.raises(helpers.TaskError, match="failed"):  # running the cell again shows the same failure
        client.redemptions.create(investor_id, wallet_id, 50)
    sandbox.admin("settings", {"task_outcome": "success"})  # the cause is fixed
    retried = client.redemptions.retry(failed_id)
    assert retried["status"] == "success" and retried.id != failed_id and retried.outcome == "created"
    # review 85: the result said only 'Created now: redemption id ...', not that it was a retry
    assert f", a new attempt at the failed redemption {failed_id}." in retried.happened()
    again = client.redemptions.retry(failed_id)
    assert again.id == retried.id and again.outcome == "existed"  # the retry itself is one operation
    assert (
        again.happened().startswith("Already existed (") and f"the failed redemption {failed_id})" in again.happened()
    )
    assert holding(client, investor_id) == 150
    rerun = client.redemptions.create(investor_id, wallet_id, 50)  # the notebook run again: done, by its retry
    assert rerun.id == retried.id and rerun["status"] == "success" and rerun.outcome == "existed"
    assert holding(client, investor_id) == 150
    sandbox.admin("settings", {"task_outcome": "unknown"})
    with pytest.raises(helpers.TaskError, match="Do not retry it"):
        client.redemptions.create(investor_id, wallet_id, 10)
    unknown = next(r for r in client.redemptions.list(investor_id=investor_id) if r["status"] == "unknown")
    with pytest.raises(helpers.TaskError, match=r"is not retried\. Ask Cashlink"):
        client.redemptions.retry(unknown["id"])


def test_a_retry_that_fails_too_says_it_was_the_retry(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    """Review 87: a retried redemption whose new task failed again said only 'The redemption ... failed'."""
    investor_id, wallet_id = holder
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError) as caught:
        client.redemptions.create(investor_id, wallet_id, 20)
    failed_id = caught.value.task["id"]
    with pytest.raises(helpers.TaskError) as again:
        client.redemptions.retry(failed_id)
    assert again.value.message.startswith(f"The new attempt at the failed redemption {failed_id}: the redemption ")
    assert again.value.task["id"] != failed_id and holding(client, investor_id) == 200


def test_a_failed_redemption_offers_a_retry_button(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, _wallet_id = holder
    sandbox.admin("settings", {"task_outcome": "failed"})
    form = forms.RedemptionForm(client, {"investor_id": investor_id, "units": 20})
    assert form.click_submit() is None
    assert form.status.value.count("failed") == 1  # said once
    sandbox.admin("settings", {"task_outcome": "success"})
    retry = next(b for b in form.choices.children if "cl-retry" in b._dom_classes)
    form.review()  # (the retry stands out, not a green Redeem that would make another: review 69)
    assert form.submit_button.button_style == "" and retry in form.choices.children
    retry.click()
    assert form.result is not None and form.result["status"] == "success"
    assert holding(client, investor_id) == 180


def test_a_correction_offers_an_update_not_a_duplicate(client: helpers.Client) -> None:
    first = client.investors.create(investor_body())
    corrected = investor_body(natural_person__salutation="MS")
    with pytest.raises(helpers.PossibleDuplicate) as caught:
        client.investors.create(corrected)
    assert "A similar investor (the same e-mail, IBAN, name and birth date)" in caught.value.message
    assert "on_duplicate='update'" in caught.value.message and caught.value.existing.id == first.id
    updated = client.investors.create(corrected, on_duplicate="update")
    assert updated.outcome == "updated" and updated.happened().startswith("Updated now: investor")
    assert updated.id == first.id and client.investors.get(first.id)["natural_person"]["salutation"] == "MS"
    assert counts(client)["investors"] == 1


def test_the_investor_form_offers_to_update_the_existing_investor(client: helpers.Client) -> None:
    from tests.test_forms import PERSON

    forms.InvestorForm(client, PERSON).click_submit()
    form = forms.InvestorForm(client, {**PERSON, "salutation": "MS"})
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    update = next(b for b in form.choices.children if "cl-update-existing" in b._dom_classes)
    highlighted = [b.description for b in form.choices.children if b.button_style == "primary"]
    assert highlighted == ["Use the existing investor"]  # review 57: one highlighted answer, the safe one
    update.click()
    assert form.result is not None and form.result["natural_person"]["salutation"] == "MS"
    assert counts(client)["investors"] == 1


def test_bulk_import_flags_rows_that_match_an_existing_investor(client: helpers.Client, tmp_path: Path) -> None:
    existing = client.investors.create(investor_body("Lovelace"))
    template = next(csv.DictReader(bulk.TEMPLATE.open()))
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(template))
        writer.writeheader()
        writer.writerow(
            {
                **template,
                "reference": "NEW-REF-1",
                "iban": existing["bank_account"]["iban"],
                "email": "someone.else@example.com",
            }
        )
    plan = bulk.read_investors(path, placeholder_protocols=True, client=client)
    assert plan.matches[["reference", "existing_investor_id", "reason"]].values.tolist() == [
        ["NEW-REF-1", existing.id, "the same IBAN"]
    ]
    assert (
        "1 row ready to import, 1 of them matches an investor the registry already has, with other data"
        in plan.summary()
    )
    asked = bulk.import_investors(client, plan, progress=False)
    assert asked.loc[0, "status"] == "needs a decision" and counts(client)["investors"] == 1
    used = bulk.import_investors(client, plan, progress=False, on_duplicate="use")  # Erika is not Peter: not merged
    assert used.loc[0, "status"] == "needs a decision" and "another person" in used.loc[0, "error"]
    assert counts(client)["investors"] == 1
    created = bulk.import_investors(client, plan, progress=False, on_duplicate="create")
    assert created.loc[0, "status"] == "created" and counts(client)["investors"] == 2


@pytest.mark.parametrize("spelling", ["{root}/", "{root}/v2", "{root}/distributor/v2/", "{root}"])
def test_one_namespace_whatever_the_spelling_of_the_base_url(
    client: helpers.Client, config: Config, spelling: str
) -> None:
    first = client.investors.create(investor_body())
    other = helpers.Client(config.replace(base_url=spelling.format(root=config.base_url)))
    again = other.investors.create(investor_body())
    assert again.id == first.id and again.outcome == "existed"
    assert counts(client)["investors"] == 1


def test_with_the_journal_lost_a_full_balance_redemption_is_found_not_refused(
    client: helpers.Client, config: Config, holder: tuple[str, str], tmp_path: Path
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 200)
    assert holding(client, investor_id) == 0
    elsewhere = helpers.Client(config.replace(journal_path=tmp_path / "lost.sqlite3"))
    again = elsewhere.redemptions.create(investor_id, wallet_id, 200)
    assert again.id == first.id and again.outcome == "existed"


def test_two_machines_agree_on_what_happened(client: helpers.Client, config: Config, tmp_path: Path) -> None:
    """Machine B (its own journal) re-runs machine A's onboarding: nothing is created twice, and B says so from the
    registry's answers (the investor, identification and wallet found in the registry)."""
    investor_id, wallet_id = onboard(client)
    machine_b = helpers.Client(config.replace(journal_path=tmp_path / "machine-b.sqlite3"))
    investor = machine_b.investors.create(investor_body())
    protocol = machine_b.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    from tests.conftest import identification_body

    identification = machine_b.investors.identify(investor.id, identification_body(protocol.id))
    wallet = machine_b.investors.create_managed_wallet(investor.id)
    assert (investor.id, wallet.id) == (investor_id, wallet_id)
    assert [investor.outcome, identification.outcome, wallet.outcome] == ["existed", "existed", "existed"]
    assert protocol.outcome in ("replayed", "created")  # replayed where uploads honour idempotency keys
    assert counts(client)["investors"] == 1 and len(client.investors.wallets(investor_id)) == 1


def test_the_journal_holds_no_personal_data_and_the_audit_trail_every_write(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 30).id)
    client.redemptions.create(investor_id, wallet_id, 10)
    client.redemptions.create(investor_id, wallet_id, 10)  # a re-run: not sent, not in the audit trail
    body = investor_body()
    on_disk = b"".join(p.read_bytes() for p in Path(config.journal_file).parent.iterdir())
    for secret in (
        body["bank_account"]["iban"],
        body["natural_person"]["birth_date"],
        body["tax_information"]["tax_identification_number"],
        "ID123456",
        body["communication"]["email"],
    ):
        assert secret.encode() not in on_disk
    audit = client.audit_frame()
    assert audit["operation"].tolist() == [
        "create investor",
        "upload document",
        "create identification",
        "create managed wallet",
        "upload document",
        "create investment",
        "credit investment",
        "create redemption",
    ]
    assert set(audit["outcome"]) == {"created"} and audit["registry"].eq(config.root_url).all()
    assert audit["client_id"].eq(config.client_id).all() and audit["registry_id"].notna().all()
    exported = client.export_audit(tmp_path / "audit.csv").read_text()
    assert body["bank_account"]["iban"] not in exported and "create redemption" in exported


def test_moving_units_on_production_needs_a_second_confirmation(tmp_path: Path) -> None:
    production = helpers.Client(
        Config(base_url="https://connect.cashlink.de/api/external", journal_path=tmp_path / "j.sqlite3")
    )
    investor_id, wallet_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6", "4fa85f64-5717-4562-b3fc-2c963f66afa6"
    with pytest.raises(ConfirmationRequired, match=r"PRODUCTION registry connect\.cashlink\.de: real units move"):
        production.redemptions.create(investor_id, wallet_id, 50)
    assert production.transport.requests_sent == 0  # asked before anything was sent


@pytest.mark.parametrize("fault", ["error", "429", "drop"])
def test_fault_runs_end_with_exactly_n_objects(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str], fault: str
) -> None:
    investor_id, wallet_id = holder
    sandbox.faults(queue=[fault, fault], retry_after=0)
    first = client.redemptions.create(investor_id, wallet_id, 30)
    sandbox.faults(queue=[fault], retry_after=0)
    second = client.redemptions.create(investor_id, wallet_id, 30, repeat=True)
    sandbox.reset_faults()
    assert first.id != second.id and counts(client)["redemptions"] == 2 and holding(client, investor_id) == 140


def test_the_first_rerun_after_the_upgrade_sends_nothing_again(
    client: helpers.Client, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 0.1 kept one journal per machine in ~/.cache, with bodies in clear, and derived its keys from the
    body it sent: the journal is adopted (keys kept, bodies dropped), then removed, and the re-run finds its key."""
    import json
    import sqlite3

    from helpers.core.journal import derive_key

    body = investor_body()
    investor = client.investors.create(body)  # as version 0.1 made it: the same body, the same key
    namespace = f"{config.base_url}|{config.client_id}"
    key = derive_key(namespace, "POST /investors/", body)
    legacy = tmp_path / "home" / ".cache" / "cashlink-toolkit" / "journal.sqlite3"
    legacy.parent.mkdir(parents=True)
    old = sqlite3.connect(legacy)
    old.execute(
        "CREATE TABLE writes (key TEXT PRIMARY KEY, namespace TEXT NOT NULL, operation TEXT NOT NULL, "
        "request TEXT NOT NULL, state TEXT NOT NULL, response TEXT, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL)"
    )
    old.execute(
        "INSERT INTO writes VALUES (?, ?, 'POST /investors/', ?, 'done', ?, '2026-11-01', '2026-11-01')",
        [key, namespace, json.dumps(body), json.dumps({"id": investor.id, **body})],
    )
    old.commit()
    old.close()
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(
        f"CASHLINK_BASE_URL={config.base_url}\nCASHLINK_CLIENT_ID={config.client_id}\n"
        f"CASHLINK_CLIENT_SECRET={config.client_secret.get_secret_value()}\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CASHLINK_JOURNAL", raising=False)
    monkeypatch.chdir(project)
    upgraded = helpers.Client(helpers.load_config())
    assert upgraded.journal.get(key).registry_id == investor.id and not legacy.exists()
    assert b"DE53500105173569146251" not in (project / ".state" / "journal.sqlite3").read_bytes()
    again = upgraded.investors.create(body)
    assert again.id == investor.id and again.outcome == "existed" and upgraded.audit() == []  # nothing sent


def test_the_investor_form_never_merges_another_person_who_shares_an_iban(client: helpers.Client) -> None:
    from tests.test_forms import PERSON

    forms.InvestorForm(client, PERSON).click_submit()
    partner = {**PERSON, "forename": "Alana", "birth_date": "1990-01-02", "email": "alana@example.com"}
    form = forms.InvestorForm(client, partner)
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    assert "has the same IBAN as what you typed, but another e-mail, name and birth date: perhaps another" in (
        form.status.value
    )
    choices = [b for b in form.choices.children]
    assert [c._dom_classes for c in choices] == [("cl-update-existing",), ("cl-make-another",)]  # never 'use'
    assert choices[0].description == "Same person, details changed: update it"
    choices[1].click()
    assert form.result is not None and form.result.outcome == "created"
    assert counts(client)["investors"] == 2


def test_a_double_click_on_submit_leaves_the_result_as_it_is(client: helpers.Client, holder: tuple[str, str]) -> None:
    from tests.test_forms import PERSON

    form = forms.InvestorForm(client, PERSON)
    record = form.click_submit()
    shown, sent = form.status.value, client.transport.requests_sent
    assert record is not None and "Created now" in shown
    assert form.click_submit() is record  # the second click of a double-click, queued behind the first
    assert form.status.value == shown and client.transport.requests_sent == sent


# --- corrections: what a changed write under the same reference does (a fresh-clone review's reproductions) ----


COMPANY = {"kind": "legal_person", "company_name": "Owners AG", "legal_form": "AG", "registration_number": "HRB 7"}


def payout_2_made_then_the_kernel_dies(
    client: helpers.Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, investor_id: str, wallet_id: str
) -> None:
    """A deliberate redemption of 10 units ('payout 2'): the registry makes it, the kernel dies before the answer."""
    lose_the_answer_then_die(monkeypatch, sandbox)
    with pytest.raises(KeyboardInterrupt):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    monkeypatch.undo()
    sandbox.reset_faults()


def lose_the_answer_then_die(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    """The registry acts on the POST, its answer is cut, and the kernel dies while the client waits to look."""
    from helpers.core import client as core_client

    sandbox.faults(drop_rate=1.0, methods=["POST"])

    def die(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(core_client.time, "sleep", die)


def test_a_correction_of_an_unanswered_write_is_refused_until_its_outcome_is_known(
    client: helpers.Client, config: Config, sandbox: Sandbox, holder: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    investor_id, wallet_id = holder
    lose_the_answer_then_die(monkeypatch, sandbox)
    with pytest.raises(KeyboardInterrupt):
        client.redemptions.create(investor_id, wallet_id, 50, reference="payout 7")
    monkeypatch.undo()
    sandbox.reset_faults()
    again = helpers.Client(config)  # a new session; the analyst corrects the amount of the same payout
    with pytest.raises(helpers.ConflictError, match="whether the registry acted on it is unknown"):
        again.redemptions.create(investor_id, wallet_id, 60, reference="payout 7")
    assert counts(client)["redemptions"] == 1 and holding(client, investor_id) == 150
    first = again.redemptions.create(investor_id, wallet_id, 50, reference="payout 7")  # the advice: learn what came
    assert first.outcome in ("replayed", "existed") and counts(client)["redemptions"] == 1


def test_two_sessions_sharing_a_journal_never_send_one_reference_twice(config: Config, sandbox: Sandbox) -> None:
    a, b = helpers.Client(config), helpers.Client(config)  # two kernels, one journal file
    send = a.transport.request
    corrected = investor_body("Shared", natural_person__city="Berlin")
    refused: list[Exception] = []

    def b_writes_first(*args: Any, **kwargs: Any) -> Any:  # A has recorded its intent; B tries before A's POST
        if args[0] == "POST" and not refused:
            with pytest.raises(helpers.ConflictError) as caught:
                b.investors.create(corrected, reference="row 7")
            refused.append(caught.value)
        return send(*args, **kwargs)

    a.transport.request = b_writes_first  # type: ignore[method-assign]
    made = a.investors.create(investor_body("Shared"), reference="row 7")
    assert made.outcome == "created" and refused and counts(a)["investors"] == 1


def _claimed_by(client: helpers.Client, registry_id: str, owner: str) -> None:
    """The row of the operation that made ``registry_id`` as a session sending it (``owner``) has it."""
    with client.journal._transaction() as db:
        db.execute("UPDATE operations SET owner = ?, state = 'sent' WHERE registry_id = ?", [owner, registry_id])


def test_an_operation_another_process_is_sending_is_waited_for_and_never_sent_twice(
    client: helpers.Client, tmp_path: Path
) -> None:
    made = client.investors.create(investor_body("Waited"), reference="row 9")
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:  # another kernel, alive, is sending the same reference
        _claimed_by(client, made.id, f"{journal_module.HOST}|{other.pid}|1")
        client.journal.wait = 0.2  # that session never answers here: refused after the wait, nothing sent
        with pytest.raises(
            helpers.ConflictError,
            match=r"Another session sharing this journal is sending this operation: process \d+ on host",
        ):
            client.investors.create(investor_body("Waited"), reference="row 9")
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait()
    assert counts(client)["investors"] == 1
    # that process ended without an answer: its attempt is unanswered, and looked for before anything is sent
    again = client.investors.create(investor_body("Waited"), reference="row 9")
    assert again.id == made.id and again.outcome in ("existed", "replayed") and counts(client)["investors"] == 1


@pytest.mark.parametrize("version", [2, 3])
def test_a_journal_of_an_earlier_version_gets_the_new_columns_and_keeps_its_rows(tmp_path: Path, version: int) -> None:
    path = tmp_path / "journal.sqlite3"
    owner = ", owner TEXT" if version == 3 else ""
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE operations (identity TEXT PRIMARY KEY, key TEXT NOT NULL, namespace TEXT NOT NULL, "
            "operation TEXT NOT NULL, content_hash TEXT NOT NULL, state TEXT NOT NULL, registry_id TEXT, "
            f"created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT NOT NULL{owner});"
            "INSERT INTO operations (identity, key, namespace, operation, content_hash, state, registry_id, "
            "created_at, updated_at, expires_at) VALUES ('i1', 'k1', 'ns', 'create investor', 'h1', 'done', "
            "'inv-1', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00');"
            f"PRAGMA user_version = {version};"
        )
    journal = journal_module.Journal(path)
    entry = journal.get("i1")
    assert entry is not None
    assert (entry.key, entry.state, entry.registry_id, entry.owner, entry.sent_at, entry.before) == (
        "k1",
        "done",
        "inv-1",
        None,
        "",
        (),
    )
    assert not journal.sending_elsewhere(entry)
    journal.claim("i2", "k2", "ns", "create investor", "h2", None, before=["inv-1"])
    claimed = journal.get("i2")
    assert claimed is not None and claimed.before == ("inv-1",) and claimed.sent_at
    journal.close()


def test_a_failed_redemption_corrected_in_the_form_is_sent_as_a_new_attempt(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, _wallet_id = holder
    form = forms.RedemptionForm(client, {"investor_id": investor_id, "units": 50})
    sandbox.admin("settings", {"task_outcome": "failed"})
    try:
        form.click_submit()
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    assert holding(client, investor_id) == 200
    form.units.value = "40"
    done = form.click_submit()
    assert done is not None and done.outcome == "created" and holding(client, investor_id) == 160, form.status.value


def test_the_same_person_whose_details_changed_can_be_updated(client: helpers.Client) -> None:
    before = client.investors.create(investor_body("Smith"))
    married = investor_body("Smith", natural_person__surname="Jones", bank_account__account_holder="Peter Jones")
    with pytest.raises(helpers.PossibleDuplicate) as asked:  # 'use' would file Jones under Smith: asked
        client.investors.create(married, on_duplicate="use")
    assert not asked.value.same_party and f"client.investors.update_to('{before.id}'" in asked.value.message
    with pytest.raises(helpers.PossibleDuplicate):  # 'update' chosen in advance never renames another person either
        client.investors.create(married, on_duplicate="update")
    updated = client.investors.update_to(before.id, married)  # the analyst says it is the same person
    assert updated.outcome == "updated" and updated.id == before.id and updated["natural_person"]["surname"] == "Jones"
    assert client.investors.update_to(before.id, married).outcome == "existed"  # nothing left to change: nothing sent


def test_the_same_person_is_found_before_another_who_shares_an_e_mail(client: helpers.Client) -> None:
    alice = investor_body("Alice")
    client.investors.create(alice)
    bob = client.investors.create(investor_body("Bob"))
    joint = investor_body("Bob", communication__email=alice["communication"]["email"])
    again = client.investors.create(joint, on_duplicate="use")
    assert again.id == bob.id and again.outcome == "existed" and counts(client)["investors"] == 2


def test_an_update_with_nothing_to_change_sends_nothing_and_says_so(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    from tests.test_bulk import spreadsheet

    def updates() -> int:
        return sum(1 for line in client.audit() if line.get("operation") == "update investor")

    bulk.import_investors(
        client, bulk.read_investors(spreadsheet(tmp_path / "a.csv", 1), placeholder_protocols=True), progress=False
    )
    changed = bulk.read_investors(spreadsheet(tmp_path / "b.csv", 1, city="Berlin"), placeholder_protocols=True)
    statuses = [bulk.import_investors(client, changed, progress=False, on_duplicate="update").loc[0, "status"]]
    sent = updates()
    statuses.append(bulk.import_investors(client, changed, progress=False, on_duplicate="update").loc[0, "status"])
    assert statuses == ["updated", "already existed"] and updates() == sent == 1
    elsewhere = helpers.Client(config.replace(journal_path=tmp_path / "other.sqlite3"))  # a colleague's machine
    again = bulk.import_investors(elsewhere, changed, progress=False, on_duplicate="update")
    assert again.loc[0, "status"] == "already existed" and updates() == 1


def test_a_registry_that_keeps_its_refusal_under_the_key_still_takes_the_corrected_row(
    client: helpers.Client, tmp_path: Path
) -> None:
    """Some registries answer a key with its first answer, a 400 included: a new attempt has a key of its own."""
    from helpers.core.errors import CashlinkError
    from tests.test_bulk import spreadsheet

    send, kept = client.transport.request, {}

    def keeping_refusals(method: str, path: str, action: str, **options: Any) -> Any:
        key = options.get("idempotency_key")
        if key in kept:
            raise kept[key]
        try:
            return send(method, path, action, **options)
        except CashlinkError as exc:
            if exc.status == 400 and key:
                kept[key] = exc
            raise

    client.transport.request = keeping_refusals  # type: ignore[method-assign]
    row = spreadsheet(tmp_path / "a.csv", 1)
    plan = bulk.read_investors(row, placeholder_protocols=True)
    plan.rows[0]["investor"]["tax_information"] = None  # the registry refuses a wallet without tax information
    refused = bulk.import_investors(client, plan, progress=False).loc[0]
    assert refused["status"] == "incomplete" and refused["investor_id"] and refused["identification_id"]
    assert refused["error"].startswith("The investor was created now, with its identification; its wallet was not")
    assert refused["error"].endswith("Do what this says, then import again: the investor is not made twice.")
    with pytest.raises(helpers.ImportIncomplete, match=r"1 row was left incomplete \(row 2\) of 1;"):
        bulk.raise_for_rows_not_done(pd.DataFrame([refused]))
    corrected = bulk.read_investors(row, placeholder_protocols=True)
    result = bulk.import_investors(client, corrected, progress=False, on_duplicate="update")
    assert result.loc[0, "status"] == "updated" and result.loc[0, "wallet_id"], result.loc[0, "error"]


def test_the_investor_forms_same_person_button_updates_the_one_found(client: helpers.Client) -> None:
    from tests.test_forms import PERSON

    first = forms.InvestorForm(client, PERSON).submit()
    married = forms.InvestorForm(client, {**PERSON, "surname": "King", "account_holder": "Ada King"})
    assert married.click_submit() is None and not married.error.same_party
    same_person = next(b for b in married.choices.children if "cl-update-existing" in b._dom_classes)
    same_person.click()
    assert married.result is not None and married.result.outcome == "updated" and married.result.id == first.id
    assert "Changed: Last name, Account holder." in married.status.value  # what changed, not its values
    assert "King" not in married.status.value
    assert client.investors.get(first.id)["natural_person"]["surname"] == "King" and counts(client)["investors"] == 1


def test_a_namesake_with_another_e_mail_and_iban_is_asked_about(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    """Two people of the same name and birth date: neither 'use' nor 'update' may file one under the other."""
    first = client.investors.create(investor_body("Twin"))
    namesake = investor_body("Twin", communication__email="other.twin@example.com")
    namesake["bank_account"]["iban"] = "DE74370400447777770001"
    elsewhere = helpers.Client(config.replace(journal_path=tmp_path / "other.sqlite3"))
    for choice in ("use", "update"):
        with pytest.raises(helpers.PossibleDuplicate) as asked:
            elsewhere.investors.create(namesake, on_duplicate=choice)  # type: ignore[arg-type]
        assert not asked.value.same_party and asked.value.existing.id == first.id
    assert client.investors.get(first.id)["communication"]["email"] == investor_body("Twin")["communication"]["email"]


def test_changing_a_value_back_and_forth_sends_each_change(client: helpers.Client) -> None:
    investor = client.investors.create(investor_body("Mover"))
    cities = ["Berlin", "Frankfurt", "Berlin"]
    for city in cities:
        moved = client.investors.update(investor.id, {"natural_person": {"city": city}}, reference="row 1")
        assert moved.outcome == "updated" and moved["natural_person"]["city"] == city
    assert client.investors.get(investor.id)["natural_person"]["city"] == "Berlin"
    again = client.investors.update(investor.id, {"natural_person": {"city": "Berlin"}}, reference="row 1")
    assert again.outcome == "existed"  # a re-run of the last step: nothing to change, nothing sent


def test_a_correction_after_a_request_that_never_left_is_sent(client: helpers.Client, holder: tuple[str, str]) -> None:
    """The connection never opened (the transport says APIConnectionError, not a lost answer, for such a write):
    nothing reached the registry, so the corrected amount is simply sent."""
    investor_id, wallet_id = holder
    send = client.transport.request

    def network_down(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST":
            raise helpers.APIConnectionError("Could not reach the registry (ConnectionError).")
        return send(method, *args, **kwargs)

    client.transport.request = network_down  # type: ignore[method-assign]
    with pytest.raises(helpers.APIConnectionError):
        client.redemptions.create(investor_id, wallet_id, 50, reference="payout 9")
    client.transport.request = send  # type: ignore[method-assign]
    made = client.redemptions.create(investor_id, wallet_id, 60, reference="payout 9")
    assert made.outcome == "created" and holding(client, investor_id) == 140 and counts(client)["redemptions"] == 1


def test_a_lost_answer_where_nothing_can_look_is_not_sent_blind_again(client: helpers.Client, sandbox: Sandbox) -> None:
    """There is no documented list of a company's benefiting persons: after a lost answer nothing is sent again."""
    from tests.test_forms import PERSON

    investor = forms.InvestorForm(client, {**PERSON, **COMPANY}).submit()
    fields = ("salutation", "forename", "surname", "birth_date", "birth_place", "citizenship", "street", "city", "zip")
    person = {name: investor_body()["natural_person"][name] for name in (*fields, "country")}
    sandbox.faults(queue=["drop"])
    try:
        with pytest.raises(helpers.OutcomeUnknown, match="Nothing more was sent"):
            client.investors.add_benefiting_person(investor.id, person, reference="owner 1")
    finally:
        sandbox.reset_faults()
    lines = [line for line in client.audit() if line["operation"] == "add benefiting person"]
    assert [line["outcome"] for line in lines] == ["answer lost"]  # one attempt, no blind second one


def test_a_gateways_503_after_the_registry_committed_is_looked_up_never_sent_blind_again(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 52: a 503 was taken as 'made nothing' and sent again at once; where the registry keeps no key for the
    route (drf: wallets, identifications), that made a second object. A 503 that says when to come back (its
    Retry-After) is still sent again at once."""
    from helpers.core.transport import make_retry

    investor = client.investors.create(investor_body(), reference="gateway 503")
    protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    sandbox.faults(queue=["gateway_503"])
    try:
        made = client.investors.identify(investor.id, identification_body(protocol.id), reference="gateway 503 id")
    finally:
        sandbox.reset_faults()
    listed = client.investors.identifications(investor.id)
    assert len(listed) == 1 and made.id == listed[0]["id"]  # (drf: there were two)
    retry = make_retry(writes=True)
    assert not retry.is_retry("POST", 503, has_retry_after=False) and retry.is_retry("POST", 503, has_retry_after=True)
    assert make_retry().is_retry("GET", 503) and make_retry().is_retry("POST", 503)  # (review 55: tokens are POSTs)
    assert make_retry(writes=True).new(total=1).for_writes  # kept by every retry urllib3 derives


def test_an_expired_journal_row_is_a_new_operation(client: helpers.Client) -> None:
    journal = client.journal
    journal.record_intent("identity-1", "key-1", "ns", "create investor", "hash-1")
    journal.record_done("identity-1", "old-id")
    with journal._transaction() as db:
        db.execute("UPDATE operations SET expires_at = '2000-01-01T00:00:00+00:00' WHERE identity = 'identity-1'")
    assert journal.get("identity-1") is None
    journal.record_intent("identity-1", "key-2", "ns", "create investor", "hash-2")
    entry = journal.get("identity-1")
    assert entry is not None and (entry.key, entry.content_hash, entry.state, entry.registry_id) == (
        "key-2",
        "hash-2",
        "sent",
        None,
    )


def test_the_form_offers_to_send_new_data_as_a_new_operation_when_the_first_outcome_is_unknown(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    investor_id, _wallet_id = holder
    form = forms.RedemptionForm(client, {"investor_id": investor_id, "units": 50})
    form.submission = "form fixed-for-this-test"
    lose_the_answer_then_die(monkeypatch, sandbox)
    with pytest.raises(KeyboardInterrupt):
        form.submit(reference=form.submission)
    monkeypatch.undo()
    sandbox.reset_faults()
    assert holding(client, investor_id) == 150  # the first 50 were redeemed; its answer never came
    form.units.value = "20"
    assert form.click_submit() is None and isinstance(form.error, helpers.OutcomeUnknown)
    (send_as_new,) = form.choices.children
    assert "cl-send-as-new" in send_as_new._dom_classes and send_as_new.description == "Send as a new redemption"
    send_as_new.click()  # the person looked in the registry and wants the 20 as well
    assert form.result is not None and form.result.outcome == "created" and holding(client, investor_id) == 130


# --- a third review's reproductions -------------------------------------------------------------------------------


def test_a_value_changed_back_and_forth_by_create_or_update_to_is_applied_each_time(client: helpers.Client) -> None:
    client.investors.create(investor_body("Roamer"), reference="row 1")
    for city in ("Berlin", "Frankfurt", "Berlin"):
        moved = client.investors.create(
            investor_body("Roamer", natural_person__city=city), reference="row 1", on_duplicate="update"
        )
        assert moved["natural_person"]["city"] == city, (city, moved.outcome)
    investor_id = moved.id
    for city in ("Hamburg", "Berlin", "Hamburg"):
        assert client.investors.update_to(investor_id, investor_body("Roamer", natural_person__city=city)).outcome == (
            "updated"
        )
    assert client.investors.get(investor_id)["natural_person"]["city"] == "Hamburg"


def test_an_update_that_only_changes_capitals_is_sent(client: helpers.Client) -> None:
    investor = client.investors.create(investor_body("Mcdonald"))
    fixed = investor_body("Mcdonald", natural_person__surname="McDonald")
    assert client.investors.update_to(investor.id, fixed).outcome == "updated"
    assert client.investors.get(investor.id)["natural_person"]["surname"] == "McDonald"


def test_a_reference_reused_for_another_person_never_changes_the_first(client: helpers.Client) -> None:
    alice = client.investors.create(investor_body("Alice"), reference="r1")
    bob = investor_body("Stranger", natural_person__forename="Bob", natural_person__birth_date="1970-01-01")
    for choice in ("ask", "use", "update"):
        with pytest.raises(helpers.PossibleDuplicate) as asked:
            client.investors.create(bob, reference="r1", on_duplicate=choice)  # type: ignore[arg-type]
        assert not asked.value.same_party and "perhaps the reference was reused" in asked.value.message
    assert client.investors.get(alice.id)["natural_person"]["surname"] == "Alice" and counts(client)["investors"] == 1


def test_a_namesake_is_told_what_differs(client: helpers.Client) -> None:
    client.investors.create(investor_body("Twin"))
    namesake = investor_body("Twin", communication__email="other.twin@example.com")
    namesake["bank_account"]["iban"] = "DE74370400447777770001"
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.create(namesake)
    assert "with the same name and birth date exists" in asked.value.message
    assert "but with another e-mail and IBAN: perhaps another person" in asked.value.message
    assert "Twin" not in str(asked.value) and "Nothing was sent for this investor" in str(asked.value)  # no names


def test_a_rerun_after_a_lost_answer_where_nothing_can_look_asks_for_a_new_reference(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    from tests.test_forms import PERSON

    investor = forms.InvestorForm(client, {**PERSON, **COMPANY}).submit()
    fields = ("salutation", "forename", "surname", "birth_date", "birth_place", "citizenship", "street", "city", "zip")
    person = {name: investor_body()["natural_person"][name] for name in (*fields, "country")}
    sandbox.faults(queue=["drop"])
    try:
        with pytest.raises(helpers.OutcomeUnknown):
            client.investors.add_benefiting_person(investor.id, person, reference="owner 2")
    finally:
        sandbox.reset_faults()
    with pytest.raises(helpers.OutcomeUnknown, match="pass repeat=True"):
        client.investors.add_benefiting_person(investor.id, person, reference="owner 2")
    with pytest.raises(helpers.OutcomeUnknown, match="under another reference, and its answer never came"):
        client.investors.add_benefiting_person(investor.id, person, reference="owner 2 again")  # (review 47)
    sent = client.investors.add_benefiting_person(investor.id, person, reference="owner 2 again", repeat=True)
    assert sent.outcome == "created"  # as said
    again = client.investors.add_benefiting_person(investor.id, person, reference="owner 2 again", repeat=True)
    assert again.id == sent.id


def test_the_benefiting_person_form_after_a_lost_answer_names_its_button(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    from tests.test_forms import PERSON

    company = forms.InvestorForm(client, {**PERSON, **COMPANY}).submit()
    assert company is not None
    form = forms.BenefitingPersonForm(client, company.id, {**PERSON, "birth_date": "1970-05-04"})
    sandbox.faults(queue=["drop"])
    try:
        assert form.click_submit() is None and isinstance(form.error, helpers.OutcomeUnknown)
    finally:
        sandbox.reset_faults()
    assert "the button &#x27;Send as a new …&#x27;" in form.status.value
    (send_as_new,) = form.choices.children
    assert "cl-send-as-new" in send_as_new._dom_classes
    assert form.click_submit() is None and "Nothing was sent" in form.status.value  # Submit again sends nothing
    send_as_new.click()  # the analyst looked in Cashlink Studio and sends one (review 47: asked, never blocked)
    assert form.result is not None and form.result.outcome == "created"


def test_an_update_without_read_scope_is_still_sent(client: helpers.Client, config: Config) -> None:
    investor = client.investors.create(investor_body("Writer"))
    write_only = helpers.Client(config.replace(scopes="investors:write"))
    moved = write_only.investors.update(investor.id, {"natural_person": {"city": "Bonn"}})
    assert moved.outcome == "updated" and client.investors.get(investor.id)["natural_person"]["city"] == "Bonn"


def test_a_bulk_row_updated_through_a_match_already_existed_on_the_next_run(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    from tests.test_bulk import spreadsheet

    bulk.import_investors(
        client, bulk.read_investors(spreadsheet(tmp_path / "a.csv", 1), placeholder_protocols=True), progress=False
    )
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "other.sqlite3"))
    changed = bulk.read_investors(spreadsheet(tmp_path / "b.csv", 1, city="Berlin"), placeholder_protocols=True)
    assert (
        bulk.import_investors(colleague, changed, progress=False, on_duplicate="update").loc[0, "status"] == "updated"
    )
    changed = bulk.read_investors(spreadsheet(tmp_path / "b.csv", 1, city="Berlin"), placeholder_protocols=True)
    assert bulk.import_investors(colleague, changed, progress=False).loc[0, "status"] == "already existed"


# --- a fourth review's reproductions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"natural_person": {"city": "Berlin "}},  # the registry trims it
        {"natural_person": {"country": "aut"}},  # ... upper-cases a code
        {"bank_account": {"bic": "cobadeffxxx"}},
    ],
)
def test_a_rerun_update_sends_nothing_when_the_registry_normalised_the_value(
    client: helpers.Client, changes: dict[str, Any]
) -> None:
    investor = client.investors.create(investor_body("Normal"))

    def patches() -> int:
        return sum(1 for line in client.audit() if line["operation"] == "update investor")

    outcomes = [client.investors.update(investor.id, changes).outcome for _run in range(3)]
    assert outcomes[0] == "updated" and outcomes[1:] == ["existed", "existed"] and patches() == 1, outcomes


def test_a_typo_fixed_under_the_same_reference_is_an_update(client: helpers.Client, tmp_path: Path) -> None:
    from tests.test_bulk import spreadsheet

    typo = spreadsheet(tmp_path / "a.csv", 1, surname="Investr 00001")
    first = bulk.import_investors(client, bulk.read_investors(typo, placeholder_protocols=True), progress=False)
    fixed = bulk.read_investors(spreadsheet(tmp_path / "b.csv", 1), placeholder_protocols=True)
    asked = bulk.import_investors(client, fixed, progress=False)
    assert asked.loc[0, "status"] == "needs a decision" and "Update it with the new data" in asked.loc[0, "error"]
    updated = bulk.import_investors(client, fixed, progress=False, on_duplicate="update")
    assert updated.loc[0, "status"] == "updated" and updated.loc[0, "investor_id"] == first.loc[0, "investor_id"]
    again = bulk.import_investors(client, fixed, progress=False, on_duplicate="update")
    assert again.loc[0, "status"] == "already existed" and investors_in_registry_of(client) == ["Investor 00001"]


def investors_in_registry_of(client: helpers.Client) -> list[str]:
    return [i["natural_person"]["surname"] for i in client.investors.list()]


# --- a fifth review's reproductions --------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", ["iban", "email"])
def test_a_reused_reference_sharing_one_identifier_never_overwrites_the_first_person(
    client: helpers.Client, shared: str
) -> None:
    alice = client.investors.create(investor_body("Alice"), reference="r1")
    bob = investor_body("Bob", natural_person__forename="Bob", natural_person__birth_date="1969-05-06")
    if shared == "iban":
        bob["bank_account"]["iban"] = alice["bank_account"]["iban"]  # a joint account
    else:
        bob["communication"]["email"] = alice["communication"]["email"]
    for choice in ("ask", "use", "update"):
        with pytest.raises(helpers.PossibleDuplicate) as asked:
            client.investors.create(bob, reference="r1", on_duplicate=choice)  # type: ignore[arg-type]
        assert not asked.value.same_party
    assert client.investors.get(alice.id)["natural_person"]["surname"] == "Alice"


def test_an_update_the_registry_answers_from_an_earlier_identical_one_is_applied(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    investor = client.investors.create(investor_body("Replay"))
    client.investors.update(investor.id, {"natural_person": {"city": "Berlin"}})
    client.investors.update(investor.id, {"natural_person": {"city": "Frankfurt"}})
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "other.sqlite3"))  # no journal of ours
    moved = colleague.investors.update(investor.id, {"natural_person": {"city": "Berlin"}})
    assert moved["natural_person"]["city"] == "Berlin" and moved.outcome in ("updated", "replayed")
    assert client.investors.get(investor.id)["natural_person"]["city"] == "Berlin"


def test_capitals_in_a_legal_form_are_a_change(client: helpers.Client) -> None:
    from tests.test_forms import PERSON

    company = forms.InvestorForm(client, {**PERSON, **COMPANY, "legal_form": "Gmbh"}).submit()
    fixed = client.investors.update(company.id, {"legal_person": {"legal_form": "GmbH"}})
    assert fixed.outcome == "updated" and client.investors.get(company.id)["legal_person"]["legal_form"] == "GmbH"


# --- a sixth review's reproductions --------------------------------------------------------------------------------


def test_a_couple_sharing_an_e_mail_and_an_account_is_never_a_correction(client: helpers.Client) -> None:
    alice = client.investors.create(investor_body("Alice"), reference="r1")
    bob = investor_body("Bob", natural_person__forename="Bob", natural_person__birth_date="1969-05-06")
    bob["bank_account"]["iban"], bob["communication"]["email"] = (
        alice["bank_account"]["iban"],
        alice["communication"]["email"],
    )
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.create(bob, reference="r1", on_duplicate="update")
    assert not asked.value.same_party and "another name and birth date" in asked.value.message
    assert client.investors.get(alice.id)["natural_person"]["forename"] == "Peter"


def test_a_replayed_update_under_a_reference_is_sent_as_a_change_of_its_own(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    investor = client.investors.create(investor_body("Replayed"))
    for city in ("Berlin", "Frankfurt", "Berlin", "Frankfurt"):
        client.investors.update(investor.id, {"natural_person": {"city": city}}, reference="R")
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "other.sqlite3"))
    moved = colleague.investors.update(investor.id, {"natural_person": {"city": "Berlin"}}, reference="R")
    assert client.investors.get(investor.id)["natural_person"]["city"] == "Berlin", moved.outcome


def test_an_update_of_an_older_investor_says_updated(client: helpers.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.core import client as core_client

    investor = client.investors.create(investor_body("Older"))
    monkeypatch.setattr(core_client, "CLOCK_TOLERANCE", core_client.timedelta(0))  # as if made long ago
    moved = client.investors.update(investor.id, {"natural_person": {"city": "Bonn"}})
    assert moved.outcome == "updated"


# --- a seventh review's reproductions ------------------------------------------------------------------------------


def test_a_lost_answer_for_an_identical_redemption_asked_for_again_never_names_the_earlier_one(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    sandbox.faults(drop_rate=1.0, methods=["POST"])  # the registry makes it; its answer is lost
    second = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    sandbox.reset_faults()
    assert second.id != first.id and second.outcome == "created" and holding(client, investor_id) == 180
    again = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert again.id == second.id and again.outcome == "existed" and holding(client, investor_id) == 180


def test_a_redemption_whose_request_never_arrived_is_sent_again_not_taken_for_an_identical_earlier_one(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    send, lost = client.transport.request, []

    def the_proxy_times_out_once(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "redemptions" in path and not lost:
            lost.append(path)
            raise AmbiguousWrite("Could not create the redemption: no answer came (ReadTimeout).")
        return send(method, path, *args, **kwargs)

    client.transport.request = the_proxy_times_out_once  # type: ignore[method-assign]
    second = client.redemptions.create(investor_id, wallet_id, 10, repeat=True)
    assert lost and second.id != first.id and second.outcome == "created" and holding(client, investor_id) == 180


def test_a_failed_credit_says_so_and_running_it_again_sends_a_new_attempt(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 100)
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError, match=r"The credit .* failed: .* credit it again \(client\.investments"):
        client.investments.credit(investment.id, timeout=5)
    sandbox.admin("settings", {"task_outcome": "success"})
    credited = client.investments.credit(investment.id, timeout=5)
    assert credited["status"] == "DELIVERED" and credited.outcome == "created"
    assert credited.happened().startswith("Created now") and holding(client, investor_id) == 100
    again = client.investments.credit(investment.id, timeout=5)
    assert again.outcome == "existed" and holding(client, investor_id) == 100
    # review 85: the sentence gave the investment's time of making as the credit's
    assert again.happened() == (
        f"Already existed: the credit of investment was sent before (investment id {investment.id}); nothing new was "
        "sent."
    )


def test_a_lost_credit_answer_on_drf_finds_the_processing_task_instead_of_sending_it_again(
    drf_client: helpers.Client, drf_sandbox: Sandbox
) -> None:
    investor_id, wallet_id = onboard(drf_client)
    investment = invest(drf_client, investor_id, wallet_id, 100)
    drf_sandbox.admin("settings", {"settle_delay": 1})  # the credit stays processing for a second
    drf_sandbox.faults(drop_rate=1.0, methods=["POST"])  # drf keeps no idempotency for credits
    credited = drf_client.investments.credit(investment.id, timeout=10)
    drf_sandbox.reset_faults()
    assert credited["status"] == "DELIVERED" and credited.outcome == "created"
    outcomes = [line["outcome"] for line in drf_client.audit() if line["operation"] == "credit investment"]
    assert outcomes == ["answer lost", "created"] or outcomes == ["created"], outcomes
    assert holding(drf_client, investor_id) == 100


def test_an_investment_update_changed_back_and_forth_is_sent_each_time(client: helpers.Client) -> None:
    investor_id, _wallet_id = onboard(client)
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]
    investment = client.investments.create(investor_id, 10, SIGNED_AT, signed, accepted_at=SIGNED_AT)
    outcomes = []
    for day in ("2021-03-13T10:00:00+00:00", "2021-03-14T10:00:00+00:00", "2021-03-13T10:00:00+00:00"):
        outcomes.append(client.investments.update(investment.id, paid_at=day).outcome)
        assert client.investments.get(investment.id)["paid_at"][:10] == day[:10]
    assert outcomes == ["updated", "updated", "updated"]
    same = client.investments.update(investment.id, paid_at="2021-03-13T10:00:00+00:00")
    assert same.outcome == "existed"  # it has that date already: nothing sent


def test_a_namesake_with_another_email_and_iban_under_a_reused_reference_is_asked_about(client: helpers.Client) -> None:
    first = client.investors.create(investor_body("Parker"), reference="row 7")
    namesake = investor_body("Parker", natural_person__city="Berlin")
    namesake["communication"]["email"] = "peter.parker.other@example.org"
    namesake["bank_account"]["iban"] = unique_iban("namesake")
    for choice in ("ask", "update", "use"):
        with pytest.raises(helpers.PossibleDuplicate) as asked:
            client.investors.create(namesake, reference="row 7", on_duplicate=choice)  # type: ignore[arg-type]
        assert not asked.value.same_party and "another e-mail and IBAN" in asked.value.message
    kept = client.investors.get(first.id)
    assert kept["communication"]["email"] == first["communication"]["email"] and counts(client)["investors"] == 1


def test_the_identification_and_wallet_forms_answer_their_duplicate_question(config: Config) -> None:
    first = helpers.Client(config)
    investor = first.investors.create(investor_body("Ident"))
    protocol = first.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    made = first.investors.identify(investor.id, identification_body(protocol.id))
    wallet = first.investors.create_managed_wallet(investor.id)
    client = helpers.Client(config)  # the next session: it did not create the investor, so it looks first
    values = {k: v for k, v in identification_body("x").items() if k != "legitimation_protocol_id"}
    form = forms.IdentificationForm(client, investor.id, {**values, "protocol": b"%PDF-1.4 protocol"})
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    use, _another = form.choices.children
    use.click()
    assert form.result is not None and form.result.id == made.id and form.result.outcome == "existed"
    form = forms.IdentificationForm(client, investor.id, {**values, "protocol": b"%PDF-1.4 protocol"})
    form.click_submit()
    form.choices.children[1].click()  # "Make another identification": the person asked for it
    assert form.result is not None and form.result.outcome == "created"
    assert len(client.investors.identifications(investor.id)) == 2
    assert use.description == "Use the existing identification" and "a identification" not in str(form.error or "")
    wallets = forms.WalletForm(client, investor.id)
    assert wallets.click_submit() is None and "has a managed wallet (the registry keeps one" in wallets.status.value
    (use_wallet,) = wallets.choices.children
    use_wallet.click()
    assert (
        wallets.result is not None
        and wallets.result.id == wallet.id
        and len(client.investors.wallets(investor.id)) == 1
    )
    assert client.investors.identify(investor.id, identification_body(protocol.id), on_duplicate="use").id == made.id


# --- an eighth review's reproductions ------------------------------------------------------------------------------


def lose_one_answer(client: helpers.Client, word: str, arrive: bool) -> None:
    """The next POST whose path has ``word`` gets no answer: it reached the registry (``arrive``) or it did not."""
    send, left = client.transport.request, [1]

    def once(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and word in path and left:
            left.pop()
            if arrive:
                send(method, path, *args, **kwargs)
            raise AmbiguousWrite("Could not write: no answer came (ReadTimeout).")
        return send(method, path, *args, **kwargs)

    client.transport.request = once  # type: ignore[method-assign]


def write_only(config: Config, sandbox: Sandbox, tenant: dict[str, Any], journal: Path) -> helpers.Client:
    """A client of the same distributor that may write but not read."""
    scopes = "investments:write investors:write documents:write"
    other = sandbox.new_client(tenant=tenant["tenant"], scopes=scopes)
    return helpers.Client(
        config.replace(
            client_id=other["client_id"], client_secret=other["client_secret"], scopes=scopes, journal_path=journal
        )
    )


@pytest.mark.parametrize("arrive", [False, True])
def test_a_deliberate_identical_write_after_a_lost_answer_is_never_the_earlier_object(
    client: helpers.Client, arrive: bool
) -> None:
    investor_id, _wallet_id = onboard(client)
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]
    first = client.investments.create(investor_id, 10, SIGNED_AT, signed)
    lose_one_answer(client, "investments", arrive)
    second = client.investments.create(investor_id, 10, SIGNED_AT, signed, repeat=True)
    assert second.id != first.id and second.outcome == "created"
    assert len(client.investments.list(investor_id=investor_id).to_list()) == 2
    twin = client.investors.create(investor_body("Twin"), reference="twin a")
    lose_one_answer(client, "investors", arrive)
    other = client.investors.create(investor_body("Twin"), reference="twin b", on_duplicate="create")
    assert other.id != twin.id and other.outcome == "created"


def test_a_deliberate_redemption_interrupted_then_unanswered_is_never_the_earlier_one(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    send = client.transport.request

    def stopped(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "redemptions" in path:
            raise KeyboardInterrupt  # the cell is stopped before the request leaves
        return send(method, path, *args, **kwargs)

    client.transport.request = stopped  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    client.transport.request = send  # type: ignore[method-assign]
    lose_one_answer(client, "redemptions", arrive=False)
    second = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert second.id != first.id and second.outcome == "created" and holding(client, investor_id) == 180


def without_a_credits_list(client: helpers.Client) -> None:
    """The registry has no list of an investment's credit tasks (the reference documents only the POST)."""
    send = client.transport.request

    def no_list(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "GET" and path.rstrip("/").endswith("/credits"):
            raise helpers.NotFoundError("Could not read the credits: the registry has no such object.", status=404)
        return send(method, path, *args, **kwargs)

    client.transport.request = no_list  # type: ignore[method-assign]


def test_without_a_credits_list_a_failed_credit_is_sent_again_and_an_unknown_end_is_said(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    without_a_credits_list(client)
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 100)
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError, match="failed"):
        client.investments.credit(investment.id, timeout=3)  # the answer says it failed
    sandbox.admin("settings", {"task_outcome": "success"})
    assert client.investments.credit(investment.id, timeout=3).outcome == "created"
    later = invest(client, investor_id, wallet_id, 50)
    sandbox.admin("settings", {"task_outcome": "failed", "settle_delay": 0.3})  # fails after the answer
    with pytest.raises(helpers.TaskError, match=r"has not ended after 1 s \(the registry says paid\)"):
        client.investments.credit(later.id, timeout=1)
    with pytest.raises(helpers.TaskError, match=r"does not list credit tasks.*repeat=True"):
        client.investments.credit(later.id, timeout=1)  # a re-run cannot tell; it says so and how to go on
    sandbox.admin("settings", {"task_outcome": "success", "settle_delay": 0})
    again = client.investments.credit(later.id, timeout=3, repeat=True)
    assert again.outcome == "created" and holding(client, investor_id) == 150


def test_a_lost_credit_answer_without_a_credits_list_on_drf_is_never_sent_again_blind(
    drf_client: helpers.Client, drf_sandbox: Sandbox
) -> None:
    """drf keeps no idempotency for credits, and no list of credit tasks tells a credit under way from none: after a
    lost answer the investment still paid says nothing, so nothing is sent again until the analyst says (before: the
    credit was sent again at once and on every re-run, saved only by the registry's own 'already credited')."""
    send, credits_sent = drf_client.transport.request, []

    def counted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "credits" in path:
            credits_sent.append(path)
        return send(method, path, *args, **kwargs)

    drf_client.transport.request = counted  # type: ignore[method-assign]
    without_a_credits_list(drf_client)
    investor_id, wallet_id = onboard(drf_client)
    investment = invest(drf_client, investor_id, wallet_id, 100)
    drf_sandbox.admin("settings", {"settle_delay": 2})
    lose_one_answer(drf_client, "credits", arrive=True)
    with pytest.raises(helpers.OutcomeUnknown) as lost:
        drf_client.investments.credit(investment.id)
    said = lost.value.message
    assert "whether it made a credit of 100 units is unknown" in said and "Nothing more was sent" in said
    assert "If the investment shows delivered, it was credited" in said and "still running there, wait" in said
    assert f"credit it again: client.investments.credit('{investment.id}', repeat=True)." in said
    assert "reference=" not in said and "scopes" not in said  # (a credit has no reference; reading would not help)
    with pytest.raises(helpers.OutcomeUnknown, match="was never answered"):  # run again while it is under way
        drf_client.investments.credit(investment.id)
    assert len(credits_sent) == 1
    drf_client.investments.wait_for_status(investment.id, "DELIVERED", timeout=10)
    assert drf_client.investments.credit(investment.id).outcome == "existed" and holding(drf_client, investor_id) == 100
    assert len(credits_sent) == 1


def test_a_client_without_read_scope_makes_deliberate_redemptions_and_updates(
    client: helpers.Client, config: Config, sandbox: Sandbox, tenant: dict[str, Any], tmp_path: Path
) -> None:
    investor_id, wallet_id = onboard(client)
    client.investments.credit(invest(client, investor_id, wallet_id, 200).id)
    blind = write_only(config, sandbox, tenant, tmp_path / "blind.sqlite3")
    blind.redemptions.create(investor_id, wallet_id, 5, wait=False)
    blind.redemptions.create(investor_id, wallet_id, 5, wait=False, repeat=True)
    assert counts(client)["redemptions"] == 2
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]
    investment = client.investments.create(investor_id, 10, SIGNED_AT, signed, accepted_at=SIGNED_AT)
    first, second = "2021-03-13T10:00:00+00:00", "2021-03-14T10:00:00+00:00"
    assert blind.investments.update(investment.id, paid_at=first).outcome == "updated"
    assert blind.investments.update(investment.id, paid_at=first).outcome == "existed"  # the journal is trusted
    for number, day in enumerate((second, first)):  # other sessions, each with a journal of its own
        other = write_only(config, sandbox, tenant, tmp_path / f"other-{number}.sqlite3")
        assert other.investments.update(investment.id, paid_at=day).outcome == "updated"
        assert client.investments.get(investment.id)["paid_at"][:10] == day[:10]


def test_an_interrupt_while_a_claim_is_let_go_leaves_nothing_blocked(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    send, journal = client.transport.request, client.journal
    write_one = journal._write_one

    def interrupted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "investors" in path:
            raise KeyboardInterrupt
        return send(method, path, *args, **kwargs)

    def letting_go_interrupted(sql: str, params: list[Any]) -> int:
        if sql.startswith("UPDATE operations SET owner = NULL"):
            raise KeyboardInterrupt
        return write_one(sql, params)

    monkeypatch.setattr(client.transport, "request", interrupted)
    monkeypatch.setattr(journal, "_write_one", letting_go_interrupted)
    with pytest.raises(KeyboardInterrupt):
        client.investors.create(investor_body("Held"), reference="row 5")
    monkeypatch.undo()
    journal.wait = 0.5
    made = client.investors.create(investor_body("Held"), reference="row 5")  # this thread's old claim: no wait
    assert made.outcome == "created" and counts(client)["investors"] == 1


def test_a_claim_left_on_another_host_says_whose_it_is_and_when_it_lapses(client: helpers.Client) -> None:
    made = client.investors.create(investor_body("Moved"), reference="row 6")
    _claimed_by(client, made.id, "old-container|57|1")
    client.journal.wait = 0.2
    with pytest.raises(helpers.ConflictError) as held:
        client.investors.create(investor_body("Moved"), reference="row 6")
    assert "process 57 on host old-container" in held.value.message and "its claim lapses at" in held.value.message
    assert "Nothing was sent" in held.value.message and counts(client)["investors"] == 1


def test_a_birth_date_typo_under_the_same_reference_is_a_correction(client: helpers.Client) -> None:
    first = client.investors.create(investor_body("Birth"), reference="row 3")
    fixed = investor_body("Birth", natural_person__birth_date="2000-10-08")
    with pytest.raises(helpers.PossibleDuplicate, match="Update it with the new data"):
        client.investors.create(fixed, reference="row 3")
    updated = client.investors.create(fixed, reference="row 3", on_duplicate="update")
    assert updated.id == first.id and updated["natural_person"]["birth_date"] == "2000-10-08"


# --- a ninth review's reproductions --------------------------------------------------------------------------------


def test_a_refused_operation_asked_about_is_asked_again_on_the_next_run(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    sandbox.faults(error_rate=1.0, methods=["POST"], retry_after=0)
    with pytest.raises(helpers.ServerError):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")  # refused: made nothing
    sandbox.reset_faults()
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    for _run in range(2):  # the question is not answered: asked again, never taken for payout 1
        with pytest.raises(helpers.PossibleDuplicate):
            client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")
    made = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert made.id != first.id and made.outcome == "created" and holding(client, investor_id) == 180


@pytest.mark.parametrize("arrive", [False, True])
def test_a_deliberate_twin_after_a_lost_answer_is_never_an_earlier_twin(client: helpers.Client, arrive: bool) -> None:
    a = client.investors.create(investor_body("Twin"), reference="twin a")
    b = client.investors.create(investor_body("Twin"), reference="twin b", on_duplicate="create")
    lose_one_answer(client, "investors", arrive)
    third = client.investors.create(investor_body("Twin"), reference="twin c", on_duplicate="create")
    assert third.id not in (a.id, b.id) and third.outcome == "created" and counts(client)["investors"] == 3


def test_a_refusal_after_lost_answers_is_the_registrys_reason_and_the_operation_can_be_corrected(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    send, lost = client.transport.request, []

    def never_arrives(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and "redemptions" in path:
            lost.append(path)
            raise AmbiguousWrite("Could not create the redemption: no answer came (ReadTimeout).")
        return send(method, path, *args, **kwargs)

    client.transport.request = never_arrives  # type: ignore[method-assign]
    with pytest.raises(AmbiguousWrite):
        client.redemptions.create(investor_id, wallet_id, 150, reference="payout A")
    client.transport.request = send  # type: ignore[method-assign]
    client.redemptions.create(investor_id, wallet_id, 100, reference="payout B")  # 100 left now
    with pytest.raises(helpers.OutcomeUnknown, match="refused the same request sent again") as refused:
        client.redemptions.create(investor_id, wallet_id, 150, reference="payout A")
    assert "units" in refused.value.field_errors and "nothing the earlier attempt made was found" in str(refused.value)
    with pytest.raises(helpers.InputError, match="holds 100 units"):  # a new attempt now: checked before sending
        client.redemptions.create(investor_id, wallet_id, 150, reference="payout A")
    corrected = client.redemptions.create(investor_id, wallet_id, 50, reference="payout A")
    assert corrected.outcome == "created" and holding(client, investor_id) == 50
    outcomes = [line["outcome"] for line in client.audit() if line["reference"] == "payout A"]
    assert outcomes == ["answer lost", "refused after a lost answer: ValidationError 400", "created"], outcomes


def test_a_session_whose_duplicate_check_finds_what_another_session_just_sent_reports_it(config: Config) -> None:
    a, b = helpers.Client(config), helpers.Client(config)  # two kernels, one journal
    body = investor_body("Race")
    send, done = b.transport.request, []

    def the_other_session_sends_meanwhile(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "GET" and path.rstrip("/").endswith("/investors") and not done:
            done.append(a.investors.create(body, reference="row 1"))
        return send(method, path, *args, **kwargs)

    b.transport.request = the_other_session_sends_meanwhile  # type: ignore[method-assign]
    found = b.investors.create(body, reference="row 1")
    assert found.id == done[0].id and found.outcome == "existed" and counts(a)["investors"] == 1


def test_a_write_only_correction_says_it_cannot_compare(
    client: helpers.Client, config: Config, sandbox: Sandbox, tenant: dict[str, Any], tmp_path: Path
) -> None:
    blind = write_only(config, sandbox, tenant, tmp_path / "blind.sqlite3")
    blind.investors.create(investor_body("Blind"), reference="row 1")
    typo = investor_body("Blind", natural_person__forename="Petre")
    with pytest.raises(helpers.ConflictError, match=r"cannot read it \(no read scope\)"):
        blind.investors.create(typo, reference="row 1", on_duplicate="update")
    assert counts(client)["investors"] == 1


def test_two_threads_never_both_send_one_operation_while_a_claim_is_written(drf_client: helpers.Client) -> None:
    journal, claimed, started = drf_client.journal, threading.Event(), threading.Event()
    write_one = journal._write_one

    def slow_claim(sql: str, params: list[Any]) -> int:
        changed = write_one(sql, params)
        if sql.startswith("INSERT INTO operations") and not claimed.is_set():
            claimed.set()
            started.wait(5)  # the other thread looks while this one has written its claim
        return changed

    get = journal.get

    def looked(identity: str) -> Any:
        entry = get(identity)
        if threading.current_thread().name == "second":
            started.set()  # the first thread goes on only once the second has read the claimed row
        return entry

    journal._write_one = slow_claim  # type: ignore[method-assign]
    journal.get = looked  # type: ignore[method-assign]
    results: list[helpers.Record] = []

    def upload() -> None:
        results.append(drf_client.documents.upload(b"%PDF-1.4 shared protocol", "protocol.pdf"))

    first = threading.Thread(target=upload, name="first")
    first.start()
    claimed.wait(5)
    second = threading.Thread(target=upload, name="second")
    second.start()
    first.join()
    second.join()
    assert len({record.id for record in results}) == 1 and sorted(r.outcome for r in results) == ["created", "existed"]


# --- a tenth review's reproductions --------------------------------------------------------------------------------


def never_arriving(client: helpers.Client, word: str) -> Any:
    """Every POST whose path has ``word`` times out before it reaches the registry; returns the undo."""
    send = client.transport.request

    def lost(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and word in path:
            raise AmbiguousWrite("Could not write: no answer came (ReadTimeout).")
        return send(method, path, *args, **kwargs)

    client.transport.request = lost  # type: ignore[method-assign]
    return lambda: setattr(client.transport, "request", send)


def test_an_unanswered_deliberate_redemption_run_again_is_never_the_earlier_identical_one(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    undo = never_arriving(client, "redemptions")
    with pytest.raises(AmbiguousWrite):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    undo()
    with pytest.raises(helpers.PossibleDuplicate) as asked:  # run again as the form does: asked, never payout 1
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")
    assert asked.value.existing.get("id") == first.id
    made = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert made.id != first.id and made.outcome == "created" and holding(client, investor_id) == 180


def test_an_unanswered_deliberate_redemption_is_looked_for_before_it_is_sent_again(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    payout_2_made_then_the_kernel_dies(client, sandbox, monkeypatch, investor_id, wallet_id)
    sandbox.admin("settings", {"idempotency_retention": 0})  # the registry no longer knows the key (the next day)
    for _run in range(2):
        again = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
        assert again.id != first.id and again.outcome == "existed" and holding(client, investor_id) == 180
    outcomes = [line["outcome"] for line in client.audit() if line["reference"] == "payout 2"]
    assert outcomes == ["interrupted: outcome unknown", "found: made by an unanswered attempt"], outcomes


def test_a_replay_of_this_calls_own_lost_attempt_is_what_it_made(client: helpers.Client, sandbox: Sandbox) -> None:
    investor = client.investors.create(investor_body("Own"))
    sandbox.faults(queue=["drop"])  # the registry makes it; the answer is cut; the same key again replays it
    updated = client.investors.update(investor.id, {"communication": {"email": "own.new@example.com"}})
    assert updated.outcome == "updated"
    sandbox.faults(queue=["drop"])
    uploaded = client.documents.upload(b"%PDF-1.4 own", "own.pdf")
    assert uploaded.outcome == "created"


def test_a_twin_sharing_everything_but_the_forename_under_a_reused_reference_is_asked_about(
    client: helpers.Client,
) -> None:
    anna = investor_body("Berg", natural_person__forename="Anna", natural_person__birth_date="1995-04-02")
    lena = investor_body("Berg", natural_person__forename="Lena", natural_person__birth_date="1995-04-02")
    first = client.investors.create(anna, reference="child 1")
    for choice in ("ask", "update"):
        with pytest.raises(helpers.PossibleDuplicate) as asked:
            client.investors.create(lena, reference="child 1", on_duplicate=choice)  # type: ignore[arg-type]
        assert not asked.value.same_party and "another name" in asked.value.message
        assert "another name and birth date" not in asked.value.message  # the twins' birth date is the same
    assert client.investors.get(first.id)["natural_person"]["forename"] == "Anna"
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.create(lena)  # (no reference): the registry's look-up says the same, part by part
    assert asked.value.differs == "another name" and "birth date" in asked.value.reason
    typo = investor_body("Berg", natural_person__forename="Ana", natural_person__birth_date="1995-04-02")
    assert client.investors.create(typo, reference="child 1", on_duplicate="update").id == first.id


def test_the_same_person_with_another_tax_id_is_matching_not_identical(client: helpers.Client) -> None:
    client.investors.create(investor_body("Taxman"))
    taxed = investor_body("Taxman")
    taxed["tax_information"] = {"tax_identification_number": "99999999999"}
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.create(taxed, reference="another step")  # another operation: the look-up asks
    assert asked.value.message.startswith("A matching investor (the same e-mail, IBAN, name and birth date)")


# --- an eleventh review's reproductions ----------------------------------------------------------------------------


def test_what_another_operation_of_the_journal_made_is_never_taken_for_an_unanswered_attempt(
    client: helpers.Client, config: Config, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    undo = never_arriving(client, "redemptions")
    with pytest.raises(AmbiguousWrite, match="Running the same step again is safe: it looks in the registry"):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")
    undo()
    third = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 3")
    later = helpers.Client(config)  # a new session, the same journal
    with pytest.raises(helpers.PossibleDuplicate) as asked:  # payout 3 is another operation's: asked, never taken
        later.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")
    assert asked.value.existing.get("id") == third.id
    made = later.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert made.id != third.id and made.outcome == "created" and holding(client, investor_id) == 180


def test_an_unanswered_attempt_recorded_before_version_4_asks_about_what_it_finds(
    client: helpers.Client, config: Config, holder: tuple[str, str], tmp_path: Path
) -> None:
    investor_id, wallet_id = holder
    undo = never_arriving(client, "redemptions")
    with pytest.raises(AmbiguousWrite):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    undo()
    with client.journal._transaction() as db:  # as a journal migrated from version 3 has it
        db.execute("UPDATE operations SET sent_at = NULL, before = NULL WHERE state = 'sent'")
    elsewhere = helpers.Client(config.replace(journal_path=tmp_path / "elsewhere.sqlite3"))
    other = elsewhere.redemptions.create(investor_id, wallet_id, 10, reference="payout 9", on_duplicate="create")
    with pytest.raises(helpers.PossibleDuplicate, match="may be what it made or another one"):
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2")
    made = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert made.id != other.id and made.outcome == "created" and holding(client, investor_id) == 180


def test_a_lost_answer_whose_look_up_fails_too_is_said_and_audited(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    lose_one_answer(client, "redemptions", arrive=True)
    get, post = client.transport.get, client.transport.request
    sent: list[str] = []

    def noted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(method)
        return post(method, path, *args, **kwargs)

    def listing_fails(path: str, action: str, *args: Any, **kwargs: Any) -> Any:
        if "redemptions" in path and "POST" in sent:  # once the answer is lost, the look-up fails too
            raise helpers.ServerError("Could not list the redemptions: the registry answered 503.", status=503)
        return get(path, action, *args, **kwargs)

    client.transport.request = noted  # type: ignore[method-assign]
    client.transport.get = listing_fails  # type: ignore[method-assign]
    with pytest.raises(AmbiguousWrite, match="looking in the registry for what it made failed too") as caught:
        client.redemptions.create(investor_id, wallet_id, 10, reference="payout A", on_duplicate="create")
    assert "failed too. Could not list the redemptions: the registry answered 503. Whether it was done" in str(
        caught.value  # review 52: the look-up's whole message, its advice too, was nested in brackets
    )
    client.transport.get, client.transport.request = get, post  # type: ignore[method-assign]
    assert [line["outcome"] for line in client.audit() if line["reference"] == "payout A"] == ["answer lost"]
    found = client.redemptions.create(investor_id, wallet_id, 10, reference="payout A", on_duplicate="create")
    assert found.outcome == "existed" and holding(client, investor_id) == 190


# --- a twelfth review's reproductions ------------------------------------------------------------------------------


def _shifted(value: Any, delta: timedelta) -> Any:
    """``value`` with every ``created_at`` moved by ``delta`` (as a registry whose clock is off stamps them)."""
    if isinstance(value, dict):
        return {
            k: (datetime.fromisoformat(v) + delta).isoformat()
            if k == "created_at" and isinstance(v, str)
            else _shifted(v, delta)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_shifted(item, delta) for item in value]
    return value


def registry_clock_off(
    client: helpers.Client, minutes: int, date_minutes: int | None = None, measured_now: bool = True
) -> None:
    """The clock that stamps the registry's ``created_at`` is ``minutes`` off this machine's; its answers' Date
    header says ``date_minutes`` (the same by default; a proxy adding its own Date says 0)."""
    delta, request = timedelta(minutes=minutes), client.transport.request
    date_offset = (minutes if date_minutes is None else date_minutes) * 60.0

    def stamped(*args: Any, **kwargs: Any) -> Any:  # every call, reads included (get() calls request())
        answer = request(*args, **kwargs)
        if isinstance(answer.body, bytes):  # a page left undecoded
            answer.body = json.dumps(_shifted(json.loads(answer.body), delta)).encode()
        else:
            answer.body = _shifted(answer.body, delta)
        return answer

    def noted(_date: str | None) -> None:
        client.transport.clock_offset = date_offset

    client.transport.request = stamped  # type: ignore[method-assign]
    client.transport._note_clock = noted  # type: ignore[method-assign]
    if measured_now:
        noted(None)


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_registry_clock_minutes_off_changes_no_outcome(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str], monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    investor_id, wallet_id = holder
    registry_clock_off(client, minutes)
    assert client.investors.create(investor_body("Skew"), reference="row 1").outcome == "created"
    first = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 1")
    payout_2_made_then_the_kernel_dies(client, sandbox, monkeypatch, investor_id, wallet_id)
    sandbox.admin("settings", {"idempotency_retention": 0})  # the registry no longer knows the key
    again = client.redemptions.create(investor_id, wallet_id, 10, reference="payout 2", on_duplicate="create")
    assert again.id != first.id and again.outcome == "existed" and holding(client, investor_id) == 180


def test_a_bulk_import_looks_at_the_registry_as_it_is_when_the_import_starts(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    from tests.test_bulk import spreadsheet

    plan = bulk.read_investors(spreadsheet(tmp_path / "1.csv", 1), placeholder_protocols=True, client=client)
    assert plan.matches.empty  # the dry run found nobody
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "colleague.sqlite3"))
    colleague.investors.create(plan.rows[0]["investor"], reference="form 1")  # adds the person meanwhile
    done = bulk.import_investors(client, plan, progress=False)
    assert done.loc[0, "status"] == "needs a decision" and counts(client)["investors"] == 1
    used = bulk.import_investors(client, plan, progress=False, on_duplicate="use")  # the analyst's answer: the
    assert used.loc[0, "status"] == "completed" and counts(client)["investors"] == 1  # form made no wallet


# --- a thirteenth review's reproductions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "date_minutes"), [(-10, None), (-2, 0), (3, 0)])
def test_a_first_write_of_a_session_is_looked_for_on_the_registrys_clock(
    config: Config, sandbox: Sandbox, holder: tuple[str, str], minutes: int, date_minutes: int | None
) -> None:
    """A new kernel's first call is the write (nothing read before it); a proxy may add a Date of its own."""
    investor_id, wallet_id = holder
    fresh = helpers.Client(config)
    registry_clock_off(fresh, minutes, date_minutes, measured_now=False)
    send = fresh.transport.request

    def dies_after_the_post(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        answer = send(method, path, *args, **kwargs)
        if method == "POST" and "redemptions" in path:
            raise KeyboardInterrupt  # the registry made payout 2; the kernel dies before reading the answer
        return answer

    fresh.transport.request = dies_after_the_post  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        fresh.redemptions.create(investor_id, wallet_id, 10, repeat=True, key="payout-2-key")
    sandbox.admin("settings", {"idempotency_retention": 0})  # the registry no longer knows the key
    later = helpers.Client(config)
    registry_clock_off(later, minutes, date_minutes)
    again = later.redemptions.create(investor_id, wallet_id, 10, key="payout-2-key", repeat=True)
    assert again.outcome == "existed" and holding(later, investor_id) == 190
    assert later.investors.create(investor_body("Clock"), reference="row 1").outcome == "created"


def test_a_date_without_a_zone_is_gmt(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.core.transport import _registry_time

    monkeypatch.setenv("TZ", "America/New_York")  # a machine whose local time is not UTC
    time.tzset()

    assert _registry_time("Thu Nov 26 05:17:44 2026") == _registry_time("Thu, 26 Nov 2026 05:17:44 GMT")
    assert _registry_time("Thu, 26 Nov 2026 05:17:44 -0000") == _registry_time("Thu, 26 Nov 2026 05:17:44 GMT")
    assert _registry_time("not a date") is None and _registry_time(None) is None
    monkeypatch.undo()
    time.tzset()


# --- a fourteenth review's reproductions ---------------------------------------------------------------------------


def test_a_second_identification_or_wallet_for_an_investor_made_in_this_session_is_asked_about(
    client: helpers.Client,
) -> None:
    investor = client.investors.create(investor_body("Fresh"))
    protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    made = client.investors.identify(investor.id, identification_body(protocol.id))
    with pytest.raises(helpers.PossibleDuplicate, match="An identical identification"):
        client.investors.identify(investor.id, identification_body(protocol.id), reference="again")
    wallet = client.investors.create_managed_wallet(investor.id)
    form = forms.WalletForm(client, investor.id)
    assert form.click_submit() is None and isinstance(form.error, helpers.PossibleDuplicate)
    (use,) = form.choices.children
    use.click()
    assert form.result is not None and form.result.id == wallet.id
    assert [i["id"] for i in client.investors.identifications(investor.id)] == [made.id]


def test_a_renewed_identification_with_the_same_document_is_asked_about_not_taken(config: Config) -> None:
    first = helpers.Client(config)
    investor = first.investors.create(investor_body("Renewed"))
    protocol = first.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    old = first.investors.identify(investor.id, identification_body(protocol.id))
    renewed = {
        **identification_body(protocol.id),
        "document_valid_from": "2025-08-01",
        "document_valid_to": "2035-08-01",
        "verified_at": "2025-08-02T10:00:00Z",
    }
    later = helpers.Client(config)  # another notebook
    with pytest.raises(helpers.PossibleDuplicate, match="A similar identification") as asked:
        later.investors.identify(investor.id, renewed)
    assert asked.value.existing.get("id") == old.id and not asked.value.equal
    made = later.investors.identify(investor.id, renewed, on_duplicate="create")
    assert made.outcome == "created" and made.id != old.id


def test_a_task_that_failed_has_its_end_in_the_audit_trail(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError):
        client.redemptions.create(investor_id, wallet_id, 5, timeout=5)
    lines = [(line["operation"], line["outcome"]) for line in client.audit()][-2:]
    assert lines == [("create redemption", "created"), ("redemption task", "ended failed")], lines


# --- a fifteenth review's reproductions ----------------------------------------------------------------------------


def test_what_another_session_added_to_an_investor_this_one_created_is_looked_for(
    client: helpers.Client, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    investor = client.investors.create(investor_body("Formside"))
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "colleague.sqlite3"))
    protocol = colleague.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    made = colleague.investors.identify(investor.id, identification_body(protocol.id))
    wallet = colleague.investors.create_managed_wallet(investor.id)
    monkeypatch.setattr(resources_module, "FRESH_INVESTOR_SECONDS", 0.0)  # minutes later, as a form is filled in
    with pytest.raises(helpers.PossibleDuplicate, match="An identical identification"):
        client.investors.identify(investor.id, identification_body(protocol.id), reference="form 1234")
    assert client.investors.create_managed_wallet(investor.id, on_duplicate="use").id == wallet.id
    assert [i["id"] for i in client.investors.identifications(investor.id)] == [made.id]


def test_a_failed_task_has_one_end_line_however_often_it_is_looked_at(
    client: helpers.Client, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    investor_id, wallet_id = holder
    sandbox.admin("settings", {"task_outcome": "failed"})
    with pytest.raises(helpers.TaskError) as failed:
        client.redemptions.create(investor_id, wallet_id, 5, timeout=5)
    for _look in range(2):
        with pytest.raises(helpers.TaskError, match=r"client\.redemptions\.retry"):
            client.redemptions.wait(failed.value.task.id, timeout=5)
    ends = [line for line in client.audit() if line["operation"] == "redemption task"]
    assert len(ends) == 1 and ends[0]["outcome"] == "ended failed"


def test_a_lost_answer_a_client_may_not_look_for_is_never_sent_again_unasked(
    drf_sandbox: Sandbox, tmp_path: Path
) -> None:
    """drf: the identification route keeps no idempotency key, so a resend would make a second one."""
    tenant = drf_sandbox.new_client()
    config = config_for(drf_sandbox, tenant, tmp_path / "reader.sqlite3")
    reader = helpers.Client(config)
    investor = reader.investors.create(investor_body("Blindly"))
    protocol = reader.documents.upload(b"%PDF-1.4 blind protocol", "protocol.pdf")
    blind = write_only(config, drf_sandbox, tenant, tmp_path / "blind.sqlite3")
    blind.transport.token()  # (a POST too)
    drf_sandbox.faults(drop_rate=1.0, methods=["POST"])  # each write is made, its answer cut
    try:
        with pytest.raises(helpers.OutcomeUnknown, match="this client may not read the registry"):
            blind.investors.identify(investor.id, identification_body(protocol.id))
    finally:
        drf_sandbox.reset_faults()
    assert len(reader.investors.identifications(investor.id)) == 1
    assert any(line["outcome"] == "answer lost" for line in blind.audit())


def test_a_write_only_credit_screen_says_what_is_known_and_what_is_not(
    client: helpers.Client, config: Config, sandbox: Sandbox, tenant: dict[str, Any], tmp_path: Path
) -> None:
    """Credentials that may not read the investment: the credit is sent once and the screen says so, and that its
    delivery is not checked (before: 'The investment is success: None units ... (investment id <the task's id>)')."""
    from helpers.ui import walkthrough

    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 12)
    blind = write_only(config, sandbox, tenant, tmp_path / "blind.sqlite3")
    screen = walkthrough.CreditScreen(blind, investment)
    screen.button.click()
    assert "The credit was sent" in screen.status.value and "None units" not in screen.status.value
    assert "is not checked here" in screen.status.value and "Cashlink Studio" in screen.status.value
    assert client.investments.get(investment.id)["status"] == "DELIVERED"


def test_an_investor_that_already_existed_says_what_was_given_otherwise(client: helpers.Client) -> None:
    """The same step again with another tax id: the investor existed and nothing was sent, and the result says the
    tax id given was not applied (before: 'Already existed' only, the new tax id silently dropped)."""
    client.investors.create(investor_body("Retax"))
    again = investor_body("Retax")
    again["tax_information"] = {"tax_identification_number": "99999999999"}
    made = client.investors.create(again)
    assert made.outcome == "existed" and made["tax_information"]["tax_identification_number"] == "12345678"
    assert "differs from it in Tax id, which was not applied: update it" in made.happened()
    assert "99999999999" not in made.happened()


def test_a_phone_number_typed_with_other_spacing_is_the_same(client: helpers.Client) -> None:
    """The same step again with the phone spaced otherwise: nothing differs (before: 'differs from it in Phone, which
    was not applied'); another number is a question."""
    client.investors.create(investor_body("Respaced"))
    again = client.investors.create(investor_body("Respaced", natural_person__phone="+49-123 / 456789"))
    assert again.outcome == "existed" and again.not_applied == ()
    trunk = client.investors.create(investor_body("Respaced", natural_person__phone="+49 (0)123 456 789"))
    assert trunk.outcome == "existed" and trunk.not_applied == ()  # the German '(0)' after the country code
    with pytest.raises(helpers.PossibleDuplicate):  # another number: a similar investor, a question
        client.investors.create(investor_body("Respaced", natural_person__phone="+49 123 456 780"))


def test_a_repeated_redemption_run_again_is_that_one_also_after_an_interruption(
    client: helpers.Client, config: Config, holder: tuple[str, str]
) -> None:
    """``repeat=True`` makes one more: its step run again (a re-run, Run All, a kernel killed while it was sent) is
    that one, never a third (before: a fresh key per call, so every re-run moved units again)."""
    investor_id, wallet_id = holder
    client.redemptions.create(investor_id, wallet_id, 10)

    cut = helpers.Client(config)
    send = cut.transport._send_write

    def interrupted(method: str, *args: Any) -> Any:
        send(method, *args)
        raise KeyboardInterrupt  # the registry acted; the kernel was stopped before the answer was read

    cut.transport._send_write = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        cut.redemptions.create(investor_id, wallet_id, 10, repeat=True)
    assert holding(client, investor_id) == 180
    again = helpers.Client(config).redemptions.create(investor_id, wallet_id, 10, repeat=True)  # a restarted kernel
    assert again.outcome == "existed" and holding(client, investor_id) == 180
    assert helpers.Client(config).redemptions.create(investor_id, wallet_id, 10, repeat=True).id == again.id
    assert holding(client, investor_id) == 180


def test_identical_redemptions_sent_at_once_under_other_references_make_one_and_ask(
    config: Config, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    """Three sessions on one journal (threads, each its own client: two notebooks, a double submit) ask for the same
    redemption under three references at the same moment: one is made, the others wait for it and ask (before: the
    look for an identical one and the send were apart, and all three were made, each 'created')."""
    investor_id, wallet_id = holder
    sandbox.faults(latency=0.3)

    def redeem(number: int) -> str:
        try:
            made = helpers.Client(config).redemptions.create(investor_id, wallet_id, 7, reference=f"ref-{number}")
        except helpers.PossibleDuplicate as asked:
            assert "An identical redemption" in asked.message
            return "asked"
        return str(made.outcome)

    try:
        with ThreadPoolExecutor(3) as pool:
            outcomes = sorted(pool.map(redeem, range(3)))
    finally:
        sandbox.reset_faults()
    assert outcomes == ["asked", "asked", "created"]
    assert holding(helpers.Client(config), investor_id) == 193


def test_a_managed_wallet_made_meanwhile_by_another_session_is_found_not_an_error(
    drf_client: helpers.Client, tmp_path: Path
) -> None:
    """This session made the investor a moment ago (so it does not look for wallets yet); a colleague with another
    journal gives it its managed wallet meanwhile, on a registry that keeps no key for it (drf): the registry
    refuses a second, and that one is used as asked (before: a ValidationError 'already has a managed wallet')."""
    client = drf_client
    investor = client.investors.create(investor_body("Meanwhile"))
    colleague = helpers.Client(client.config.replace(journal_path=tmp_path / "colleague.sqlite3"))
    protocol = colleague.documents.upload(b"%PDF-1.4 protocol meanwhile", "protocol.pdf")
    colleague.investors.identify(investor.id, identification_body(protocol.id))
    theirs = colleague.investors.create_managed_wallet(investor.id)
    mine = client.investors.create_managed_wallet(investor.id, on_duplicate="use")
    assert mine.id == theirs.id and mine.outcome == "existed"
    assert [w["type"] for w in client.investors.wallets(investor.id)] == ["eth-managed"]


def test_create_another_on_a_step_already_done_says_how_to_make_one_more(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    """on_duplicate='create' on the same step run again sends nothing (it is that step), and says so with how to
    make one more (before: 'existed' without a word, the request seemingly ignored)."""
    investor_id, wallet_id = holder
    first = client.redemptions.create(investor_id, wallet_id, 10)
    with pytest.warns(UserWarning, match="To make one more, pass repeat=True or a reference of its own"):
        again = client.redemptions.create(investor_id, wallet_id, 10, on_duplicate="create")
    assert again.id == first.id and again.outcome == "existed" and holding(client, investor_id) == 190


def test_a_change_another_journal_made_before_is_applied_again_by_a_third(
    client: helpers.Client, config: Config, tmp_path: Path
) -> None:
    """A change back and forth across three journals: the third's change, which the registry answers with the
    second's earlier answer, is sent as a change of its own and applied (before, with a key the same in every
    journal, the registry replayed the second's fallback too: 'replayed', and the e-mail stayed as it was)."""
    second, third = (helpers.Client(config.replace(journal_path=tmp_path / f"j{n}.sqlite3")) for n in (2, 3))
    investor = client.investors.create(investor_body("Backforth"))
    first_email = investor["communication"]["email"]

    def change(session: helpers.Client, email: str) -> str:
        return str(session.investors.update(investor.id, {"communication": {"email": email}}).outcome)

    change(client, "b@example.com")
    change(client, first_email)
    change(second, "b@example.com")
    change(client, first_email)
    assert change(third, "b@example.com") == "updated"
    assert client.investors.get(investor.id)["communication"]["email"] == "b@example.com"


def test_one_more_is_one_more_in_each_journal_and_a_third_is_said(
    client: helpers.Client, config: Config, holder: tuple[str, str], tmp_path: Path
) -> None:
    """repeat=True in a second journal (a colleague) makes a real new one, not the first journal's replayed; a step
    with repeat=True run again says how to make yet another."""
    investor_id, wallet_id = holder
    client.redemptions.create(investor_id, wallet_id, 10)
    client.redemptions.create(investor_id, wallet_id, 10, repeat=True)
    colleague = helpers.Client(config.replace(journal_path=tmp_path / "colleague.sqlite3"))
    theirs = colleague.redemptions.create(investor_id, wallet_id, 10, repeat=True)
    assert theirs.outcome == "created" and holding(client, investor_id) == 170
    with pytest.warns(UserWarning, match="To make yet another, give it a reference of its own"):
        again = client.redemptions.create(investor_id, wallet_id, 10, repeat=True)
    assert again.outcome == "existed" and holding(client, investor_id) == 170


def test_an_identical_redemption_that_failed_meanwhile_is_not_taken_for_this_one(
    config: Config, sandbox: Sandbox, holder: tuple[str, str]
) -> None:
    """Two sessions on one journal: while this one looks for an identical redemption, the other's identical one is
    sent and fails. This one is then sent (before: it was answered with the other's failed redemption)."""
    investor_id, wallet_id = holder
    mine, other = helpers.Client(config), helpers.Client(config)
    send, failed = mine.transport.request, []

    def meanwhile(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "GET" and "redemptions" in path and not failed:
            sandbox.admin("settings", {"task_outcome": "failed"})
            try:
                with pytest.raises(helpers.TaskError):
                    other.redemptions.create(investor_id, wallet_id, 10, reference="a")
            finally:
                sandbox.admin("settings", {"task_outcome": "success"})
            failed.append(True)
        return send(method, path, *args, **kwargs)

    mine.transport.request = meanwhile  # type: ignore[method-assign]
    made = mine.redemptions.create(investor_id, wallet_id, 10, reference="b", on_duplicate="use")
    assert failed and made.outcome == "created" and made["status"] == "success"
    assert holding(mine, investor_id) == 190


def test_what_the_registry_does_not_show_of_an_investor_is_unknown_never_another(client: helpers.Client) -> None:
    """A registry that leaves out or masks an investor's birth date, e-mail and IBAN (review 45): the same person
    created again under a new reference is asked about, never made twice without a word; what is hidden is said to
    be not shown, not to be another."""
    made = client.investors.create(investor_body("Hidden"), reference="first")
    send = client.transport.request
    hiding = {"mode": "left out"}

    def hide(investor: dict[str, Any]) -> dict[str, Any]:
        if "natural_person" not in investor:
            return investor
        investor = json.loads(json.dumps(investor))
        if hiding["mode"] == "left out":
            investor["communication"], investor["bank_account"] = None, None
            investor["natural_person"].pop("birth_date", None)
        else:
            investor["natural_person"]["birth_date"] = "****-**-**"
            investor["bank_account"]["iban"] = "DE53 **** **** **** **62 51"
        return investor

    def hidden(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        answer = send(method, path, *args, **kwargs)
        if method == "GET" and path.rstrip("/").endswith("investors") and isinstance(answer.body, dict):
            answer.body = {**answer.body, "results": [hide(i) for i in answer.body.get("results", [])]}
        return answer

    client.transport.request = hidden  # type: ignore[method-assign]
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.create(investor_body("Hidden"), reference="second")
    said = asked.value.message
    assert f"An investor with the same name exists (id {made.id}" in said
    assert "but with its e-mail, IBAN and birth date not shown by the registry: perhaps another person" in said
    hiding["mode"] = "masked"
    with pytest.raises(helpers.PossibleDuplicate) as masked:
        client.investors.create(investor_body("Hidden"), reference="third")
    assert "(the same e-mail and name)" in masked.value.message or "the same e-mail and name" in masked.value.message
    assert "its IBAN and birth date not shown by the registry" in masked.value.message
    assert "another" not in masked.value.message.split("exists")[1].split(":")[0]
    client.transport.request = send  # type: ignore[method-assign]
    assert counts(client)["investors"] == 1


def test_an_investment_corrected_under_its_reference_can_be_kept_and_says_how_to_correct_it(
    client: helpers.Client,
) -> None:
    """Review 45: 12 units under the reference that made 10 offered only 'give it a new reference' (a duplicate),
    and on_duplicate='use' was refused too."""
    investor_id, wallet_id = onboard(client)
    document = client.documents.upload(b"%PDF-1.4 signed order-1", "signed.pdf")
    signed = [{"document_id": document.id, "category": "c", "subject": "s"}]

    def order(units: int, **options: Any) -> helpers.Record:
        return client.investments.create(investor_id, units, SIGNED_AT, signed, wallet=wallet_id, **options)

    made = order(10, reference="order-1")
    with pytest.raises(helpers.ConflictError) as refused:
        order(12, reference="order-1")
    said = refused.value.message
    assert "To keep that one as it is, pass on_duplicate='use'" in said
    assert "its units, product and signing cannot be changed: cancel it in Cashlink Studio" in said
    kept = order(12, reference="order-1", on_duplicate="use")
    assert kept.id == made.id and kept.outcome == "existed" and counts(client)["investments"] == 1
    assert kept.not_applied == ("Units",)  # review 47: 'use' said nothing of the units that differ
    assert "differs from it in Units, which was not applied: the registry's stays as it is." in kept.happened()


def test_a_redemption_used_with_other_units_says_so_once_waited_for(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    """Review 85: 45 units under the reference that redeemed 40, used, said only 'Already existed' once the task
    was waited for (the reading of the task lost what the write said); and 'update it' of units that cannot be."""
    investor_id, wallet_id = holder
    made = client.redemptions.create(investor_id, wallet_id, 40, reference="payout-7")
    with pytest.raises(helpers.ConflictError):
        client.redemptions.create(investor_id, wallet_id, 45, reference="payout-7")
    kept = client.redemptions.create(investor_id, wallet_id, 45, reference="payout-7", on_duplicate="use")
    assert kept.id == made.id and kept.outcome == "existed" and kept.not_applied == ("Units",)
    assert "differs from it in Units, which was not applied: the registry's stays as it is." in kept.happened()
    assert holding(client, investor_id) == 160


def test_the_same_benefiting_person_under_another_reference_is_asked_about(client: helpers.Client) -> None:
    """Review 45: the registry lists no benefiting persons, and the same person under a new reference was added
    again without a word (4 records for 3 people). This journal remembers what it added, and asks."""
    company, person = company_and_owner(client, "Ownerco", "Ada Owner")
    first = client.investors.add_benefiting_person(company.id, person, reference="submission 1")
    with pytest.raises(helpers.PossibleDuplicate) as asked:
        client.investors.add_benefiting_person(company.id, person, reference="submission 2")
    assert f"(id {first.id})" in asked.value.message and "Nothing was sent for this benefiting person" in (
        asked.value.message
    )
    kept = client.investors.add_benefiting_person(company.id, person, reference="submission 2", on_duplicate="use")
    assert kept.id == first.id and kept.outcome == "existed"
    another = client.investors.add_benefiting_person(company.id, person, reference="submission 3", repeat=True)
    assert another.id != first.id and another.outcome == "created"  # one more, said so


def test_a_benefiting_person_whose_first_answer_was_lost_is_not_added_again_under_another_reference(
    client: helpers.Client,
) -> None:
    """Review 47: after a lost answer (the request arrived), a second reference added a second owner."""
    company, person = company_and_owner(client, "Lostco", "Ben Lost")
    lose_one_answer(client, "benefiting", arrive=True)
    with pytest.raises(helpers.OutcomeUnknown):
        client.investors.add_benefiting_person(company.id, person, reference="submission 1")
    with pytest.raises(helpers.OutcomeUnknown, match="under another reference, and its answer never came"):
        client.investors.add_benefiting_person(company.id, person, reference="submission 2")


def company_and_owner(client: helpers.Client, name: str, owner: str) -> tuple[helpers.Record, dict[str, Any]]:
    """A company investor ``name`` GmbH, and a person who owns it (not added yet)."""
    company = client.investors.create(
        investor_body(
            name,
            natural_person=None,
            legal_person={
                "company_name": f"{name} GmbH",
                "legal_form": "GmbH",
                "registration_number": f"HRB {sum(map(ord, name))}",
                "street": "Hauptstr. 1",
                "city": "Frankfurt",
                "zip": "60311",
                "country": "DEU",
            },
        )
    )
    forename, surname = owner.split()
    person = {
        "forename": forename,
        "surname": surname,
        "birth_date": "1970-05-04",
        "birth_place": "Berlin",
        "citizenship": "DEU",
        "street": "Hauptstr. 2",
        "city": "Frankfurt",
        "zip": "60311",
        "country": "DEU",
    }
    return company, person


def test_a_redemption_of_more_than_the_wallet_holds_now_says_what_to_enter(
    client: helpers.Client, holder: tuple[str, str]
) -> None:
    """Review 88: a second form, opened before another redeemed, read '... holds 1 units ...; cannot redeem 3.'"""
    investor_id, wallet_id = holder
    held = client.balance(investor_id, wallet_id, client.config.product_id)
    client.redemptions.create(investor_id, wallet_id, held - 1)
    sent = client.transport.requests_sent
    with pytest.raises(helpers.ValidationError) as caught:
        client.redemptions.create(investor_id, wallet_id, 3)
    assert "The wallet now holds 1 unit of this product, fewer than 3: enter at most 1." in str(caught.value)
    assert client.transport.requests_sent - sent <= 3  # reads only (the balance, the wallets): nothing written
