"""The walkthroughs without a browser: modes, steps, Back/Next, empty forms by hand, demo values only unattended on
the sandbox, personal values forgotten once sent, the repeated redemption asks first."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import helpers
from helpers.ui import forms, walkthrough
from tests.conftest import Sandbox, investor_body
from tests.test_forms import onboarded
from tests.test_helpers_client import invest, onboard


def text_of(widget: Any) -> str:
    """Every HTML value inside a widget tree (what a person reads), interactive tables' headers and cells included."""
    found = [str(getattr(widget, "value", ""))] if hasattr(widget, "value") and isinstance(widget.value, str) else []
    if type(widget).__name__ == "ITable":
        found += [widget._dt_args.get("table_html", ""), widget._dt_args.get("data_json", "")]
    for child in getattr(widget, "children", ()):
        found.append(text_of(child))
    return " ".join(found)


def credited_by_form(client: helpers.Client, investor_id: str) -> None:
    """40 units signed on 2024-03-12, accepted and paid, sent by the investment form and credited."""
    investment = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor_id,
            "units": 40,
            "signed_at": "2024-03-12",
            "document": b"%PDF-1.4 x",
        },
    ).submit()
    client.investments.credit(investment.id)


def fill(form: forms.Form, values: dict[str, Any]) -> None:
    for path, value in values.items():
        form.fields[path].widget.value = value


def test_modes_are_chosen_without_editing_code(client: helpers.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    assert walkthrough.resolve_mode("auto", client) == "unattended"  # a program runs this, on the sandbox
    assert walkthrough.resolve_mode(None, client) == "unattended"
    assert walkthrough.resolve_mode("by hand", client) == "by hand"
    assert walkthrough.resolve_mode("by_hand", client) == "by hand"
    real = helpers.Client(
        client.config.replace(base_url="https://demo.cashlink.de/api/external"), journal=client.journal
    )
    assert walkthrough.resolve_mode("auto", real) == "by hand"  # never unattended against a real registry by default
    with pytest.raises(helpers.InputError):
        walkthrough.resolve_mode("sometimes", client)
    monkeypatch.setenv("VOILA_SERVER_URL", "http://127.0.0.1:8866/")
    assert walkthrough.person_at_screen() and walkthrough.resolve_mode("auto", client) == "by hand"


def test_parameters_become_values(client: helpers.Client) -> None:
    assert walkthrough.parameters({"MODE": "auto", "IF_EXISTS": "use", "IBAN": None, "UNITS": 3, "client": 1}) == {
        "iban": None,
        "units": 3,
    }


def test_onboarding_by_hand_starts_empty_and_goes_step_by_step(client: helpers.Client) -> None:
    wizard = walkthrough.Onboarding(client, "by hand", {"iban": "DE53500105173569146251", "surname": "Parker"})
    form = wizard.body.children[0]
    assert isinstance(form, forms.InvestorForm)
    assert all(f.is_empty() or isinstance(f.value, bool) for f in form.fields.values())  # checkboxes: their default
    assert "Step 1 of 4: Investor" in wizard.where.value  # a natural person: no benefiting person step
    assert wizard.back_button.disabled and wizard.next_button.disabled
    fill(
        form,
        {
            "natural_person.forename": "Ada",
            "natural_person.surname": "Lovelace",
            "natural_person.birth_date": "1985-12-10",
            "natural_person.citizenship": "DEU",
            "natural_person.street": "Hauptstr. 1",
            "natural_person.zip": "60316",
            "natural_person.city": "Frankfurt",
            "natural_person.country": "DEU",
            "bank_account.account_holder": "Ada Lovelace",
            "bank_account.iban": "DE89370400440532013000",
            "bank_account.bic": "COBADEFFXXX",
            "tax_information.tax_identification_number": "12345678901",
            "communication.email": "ada@example.com",
        },
    )
    assert form.review() and "<td>DE89370400440532013000</td>" in form.review_box.value  # as typed, to check it
    form.click_submit()
    assert form.result is not None and "Created now" in form.status.value
    assert form.fields["bank_account.iban"].widget.value == ""  # forgotten once sent (no personal widget state)
    assert form.inputs.layout.display == "none"  # the inputs fold away; the result shows once
    assert not wizard.next_button.disabled and wizard.next_button.description == "Next: Identification"
    next_button = wizard.next_button
    next_button.click()
    next_button.click()  # review 39: a double-click's second click (on the button it was sent to) skipped a step
    ident = wizard.body.children[0]
    assert isinstance(ident, forms.IdentificationForm)
    assert ident.fields["document_id"].widget.value == "" and ident.fields["legitimation_protocol_id"].required
    assert "Step 2 of 4: Identification" in wizard.where.value
    wizard.back_button.click()
    assert wizard.body.children[0] is form and "Created now" in form.status.value


def test_onboarding_unattended_with_demo_values(client: helpers.Client) -> None:
    wizard = walkthrough.Onboarding(client, "unattended", {"surname": "Walkthrough", "iban": "DE02120300000000202051"})
    wizard.run_unattended()
    investor = wizard.result("Investor")
    assert investor is not None and investor["natural_person"]["surname"] == "Walkthrough"
    assert wizard.result("Identification") is not None and wizard.result("Wallet") is not None
    assert "Step 4 of 4: Done" in wizard.where.value and "is onboarded" in text_of(wizard)
    assert "DE02120300000000202051" not in text_of(wizard)
    assert client.investors.kyc_status(investor.id) == "SUCCESS"
    again = walkthrough.Onboarding(client, "unattended", {"surname": "Walkthrough", "iban": "DE02120300000000202051"})
    again.run_unattended()
    assert again.result("Investor").id == investor.id and again.result("Investor").replayed
    assert again.again_button.layout.display is None and again.again_button.description == "Start again by hand"
    again.again_button.click()  # after the demo, the same steps by hand: empty forms from the first step
    assert again.mode == "by hand" and again.mode_switch.value == "by hand" and "Step 1 of" in again.where.value
    form = again.body.children[0]
    assert isinstance(form, forms.InvestorForm) and form.fields["natural_person.surname"].widget.value == ""


def test_unattended_errors_stop_with_a_sentence_and_keep_no_personal_value(client: helpers.Client) -> None:
    wizard = walkthrough.Onboarding(client, "unattended", {"surname": "Typo", "iban": "DE53500105173569146252"})
    with pytest.raises(helpers.InputError) as caught:
        wizard.run_unattended()
    assert "Nothing was sent" in str(caught.value) and "not a valid IBAN" in str(caught.value)
    form = wizard.body.children[0]
    assert form.fields["bank_account.iban"].widget.value == ""
    assert form.fields["natural_person.birth_date"].widget.value == ""
    assert form.fields["natural_person.surname"].widget.value == ""  # nothing typed stays, names neither
    assert "not a valid IBAN" in form.fields["bank_account.iban"].error.value  # what was wrong stays said


def test_no_demo_values_outside_the_sandbox(client: helpers.Client) -> None:
    from helpers.ui import demo

    assert demo.values(demo.ONBOARDING, {"surname": "X", "iban": None}, sandbox=False) == {"surname": "X"}
    assert demo.values(demo.ONBOARDING, {"surname": "X"}, sandbox=True)["iban"] == demo.ONBOARDING["iban"]


def test_investing_unattended_credits_and_shows_statements(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "unattended", {"investor_id": investor.id, "units": 30})
    wizard.run_unattended()
    assert wizard.result("Credit")["status"] == "DELIVERED"
    assert "Investment of 30 units: delivered." in text_of(wizard)
    screen = wizard.steps[1].screen
    assert isinstance(screen, walkthrough.CreditScreen) and "is delivered" in screen.status.value


def test_an_unattended_run_that_stops_leaves_no_list_of_people_in_the_executed_notebook(
    client: helpers.Client,
) -> None:
    """Review 54: a refused unattended step kept the investor picker's whole list (every investor's name) in the
    widget state papermill saves."""
    investor, _wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "unattended", {"investor_id": investor.id, "units": "2.5"})
    with pytest.raises(helpers.InputError):
        wizard.run_unattended()
    form = wizard.steps[0].screen
    assert isinstance(form, forms.InvestmentForm)
    assert form.investor.options == ((f"investor {investor.id[:8]}", investor.id),)  # the chosen one, by id only
    redeeming = walkthrough.Redeeming(client, "unattended", {"investor_id": investor.id, "units": 10**9})
    with pytest.raises(helpers.CashlinkError):
        redeeming.run_unattended()
    pickers = [s.investor for s in (step.screen for step in redeeming.steps) if isinstance(s, forms.Form)]
    assert all(len(picker.options) <= 1 for picker in pickers)


def test_investing_by_hand_and_the_credit_screen(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "by hand")
    form = wizard.body.children[0]
    assert isinstance(form, forms.InvestmentForm) and form.investor.value is None  # nobody chosen for the analyst
    form.investor.value = investor.id
    form.fields["units"].widget.value = "2.5"
    assert "whole number" in form.fields["units"].error.value  # never read as 25
    form.fields["units"].widget.value = "2,5"
    assert "decimal comma" in form.fields["units"].error.value
    form.fields["units"].widget.value = "1,500"
    assert form.fields["units"].error.value == ""
    form.fields["units"].widget.value = "20"
    form.fields["signed_at"].widget.value = "2024-03-12"
    assert not form.fields["accepted"].widget.value and not form.fields["paid"].widget.value  # a person ticks them
    form.fields["accepted"].widget.value = form.fields["paid"].widget.value = True
    form.document_file.value = (
        {
            "name": "signed.pdf",
            "type": "application/pdf",
            "size": 10,
            "content": memoryview(b"%PDF-1.4 s"),
            "last_modified": datetime.now(UTC),
        },
    )
    form.click_submit()
    assert form.result is not None and form.result["status"] == "PAID", form.status.value
    next_button = wizard.next_button
    next_button.click()
    next_button.click()  # (a double-click: the credit step stays, with nothing credited yet)
    credit = wizard.body.children[0]
    assert isinstance(credit, walkthrough.CreditScreen) and wizard.next_button.disabled
    credit.button.click()
    assert "is delivered" in credit.status.value and "checks/s" not in credit.status.value
    wallet_id = str(form.result["wallet"])  # review 71: a whole wallet id beside the investment's short one
    assert f"in wallet <span class='cl-id' title='{wallet_id}'><code>{wallet_id[:8]}" in credit.status.value
    assert "is PAID" not in credit.intro.value and "is credited" in credit.intro.value
    assert not wizard.next_button.disabled
    wizard.next_button.click()
    assert "Registry statements" in text_of(wizard)
    wizard.restart()  # 'Start again': the earlier screens, their investor picker with everyone's names, are closed
    assert form.investor.comm is None and form.comm is None and credit.comm is None
    assert wizard.body.children[0] is not form


def test_a_repeated_redemption_asks_first_and_a_confirm_makes_the_second(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    credited_by_form(client, investor.id)
    wizard = walkthrough.Redeeming(client, "by hand")

    def redeem() -> forms.RedemptionForm:
        form = wizard.body.children[0]
        assert isinstance(form, forms.RedemptionForm) and form.investor.value is None
        form.investor.value = investor.id
        form.units.value = "5"
        form.click_submit()
        return form

    first = redeem()
    assert first.result is not None and first.result.outcome == "created"
    wizard.next_button.click()
    done = text_of(wizard)  # the registry's order, said as it is: made first, not signed first
    if first.result.get("allocations"):  # the registry's order, said as it is: made first, not signed first
        assert "Where the units came from, in the order the registry took them" in done and "oldest" not in done
        assert "Made in the registry" in done
    else:  # (drf: no allocations) said in a sentence, not as a heading over nothing (review 46)
        assert "The registry does not say which investments the units came from" in done
        assert "Where the units came from" not in done
    assert "2024-03-12" in done  # each source's dates beside it (the investments' table where none are reported)
    wizard.again_button.click()
    second = redeem()
    assert second.result is None
    assert "An identical redemption of 5 units was made today at" in second.status.value
    assert "Make another one" in second.status.value and "repeat=True" not in second.status.value
    assert len(client.redemptions.list(investor_id=investor.id).to_list()) == 1
    [make_another] = [b for b in second.choices.children if "cl-make-another" in b._dom_classes]
    make_another.click()
    assert second.result is not None and second.result.outcome == "created"
    assert len(client.redemptions.list(investor_id=investor.id).to_list()) == 2
    assert "30 units" in second.status.value or "holds <b>30</b>" in second.balance.value


def test_credit_screen_for_an_unpaid_investment_checks_again_then_credits(client: helpers.Client) -> None:
    investor, wallet = onboarded(client)
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    investment = client.investments.create(
        investor.id,
        40,
        "2024-03-12",
        [{"document_id": document.id, "category": "c", "subject": "s"}],
        accepted_at="2024-03-12",
        wallet=wallet.id,
    )
    assert investment["status"] == "ACCEPTED"
    screen = walkthrough.CreditScreen(client, investment)
    assert screen.button.description == "Check again" and "click <b>Check again</b>" in screen.intro.value
    screen.button.click()  # not paid yet: it says so, and nothing is credited
    assert "the investment is <b>accepted</b>" in screen.status.value and screen.result is None
    client.investments.update(investment.id, paid_at="2024-03-13")
    screen.button.click()  # paid now: the same button credits
    assert screen.button.description == "Credit the securities" and "is <b>paid</b>" in screen.intro.value
    screen.button.click()
    assert screen.result is not None and screen.result["status"] == "DELIVERED", screen.status.value


def test_a_double_click_on_next_stays_on_the_credit_step_of_an_unpaid_investment(client: helpers.Client) -> None:
    """Review 42: an investment not paid yet: its credit step is done as soon as it is shown (nothing to credit), so
    the second click of a double-click on 'Next: Credit' went on to Done, past the screen that says what it waits
    for. Each step has Back and Next of its own: a click on the ones of a step left changes nothing."""
    investor, wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "by hand", {})
    wizard.steps[0].result = client.investments.create(
        investor.id,
        10,
        "2024-03-12",
        [{"document_id": client.documents.upload(b"%PDF-1.4 s", "s.pdf").id, "category": "c", "subject": "s"}],
        wallet=wallet.id,
    )
    wizard._render_where()
    next_button = wizard.next_button
    next_button.click()
    next_button.click()
    assert isinstance(wizard.body.children[0], walkthrough.CreditScreen) and "Step 2 of 3: Credit" in wizard.where.value
    wizard.next_button.click()  # a click of its own: on to Done
    assert "Step 3 of 3: Done" in wizard.where.value
    assert "… Credit" in wizard.where.value and "✔ Credit" not in wizard.where.value  # review 48: nothing credited
    done = text_of(wizard)
    assert "<b>Investment of 10 units: not credited yet, waiting for the issuer&#x27;s acceptance.</b>" in done


def test_the_credit_screen_reads_an_investment_that_ended_meanwhile(client: helpers.Client, sandbox: Sandbox) -> None:
    """Review 42: the registry ended the investment while the screen showed it paid: the click read 'Only PAID
    investments can be credited; this one is CANCELLATION. Check the request and try again.', the button stayed."""
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 30)
    screen = walkthrough.CreditScreen(client, investment, timeout=5)
    assert "is <b>paid</b>" in screen.intro.value
    sandbox.admin(f"investments/{investment.id}/status", {"status": "CANCELLATION"})
    screen.button.click()
    assert "Nothing was credited: the investment is cancelled by the investor now" in screen.status.value
    assert "it has ended and can no longer be credited" in screen.intro.value
    assert screen.button.layout.display == "none" and screen.choices.children == ()


def test_credit_screen_says_what_an_investment_waits_for(client: helpers.Client) -> None:
    """Review 39: an investment waiting for the identification was told to wait for the issuer and the payment."""
    investor = client.investors.create(investor_body("Unidentified"))
    document = client.documents.upload(b"%PDF-1.4 signed", "signed.pdf")
    investment = client.investments.create(
        investor.id, 10, "2024-03-12", [{"document_id": document.id, "category": "c", "subject": "s"}]
    )
    assert investment["status"] == "KYC_PENDING"
    screen = walkthrough.CreditScreen(client, investment)
    assert "is <b>waiting for the investor's identification</b>" in html.unescape(screen.intro.value)  # (review 42:
    # 'The investment is identification pending')
    assert "Complete the identification, and for a company add a benefiting person (notebook 1)." in screen.intro.value
    assert "issuer" not in screen.intro.value


def test_investing_with_an_already_delivered_investment_is_not_stuck(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "unattended", {"investor_id": investor.id, "units": 30})
    wizard.run_unattended()
    assert wizard.result("Investment")["status"] == "PAID"  # the form's answer (a replay would say the same)
    assert wizard.result("Credit")["status"] == "DELIVERED"
    wizard.steps[1].screen, wizard.steps[1].result = None, None  # the credit step built again from that answer
    wizard.go(1)
    screen = wizard.body.children[0]
    assert isinstance(screen, walkthrough.CreditScreen) and "already <b>delivered</b>" in screen.intro.value
    assert not wizard.next_button.disabled  # the registry says DELIVERED: the step is done, Next goes on


def test_a_values_file_fills_the_parameters_left_none(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text('{"IBAN": "DE53500105173569146251", "UNITS": 5}')
    namespace = {"MODE": "auto", "IBAN": None, "UNITS": 3, "VALUES_FILE": str(tmp_path / "v.json")}
    assert walkthrough.parameters(namespace) == {"iban": "DE53500105173569146251", "units": 3}  # -p values win
    for content, message in (("[1, 2]", "one JSON object"), ("{nope", "is not a JSON file")):
        (tmp_path / "bad.json").write_text(content)
        with pytest.raises(helpers.InputError, match=message):
            walkthrough.parameters({"VALUES_FILE": str(tmp_path / "bad.json")})
    with pytest.raises(helpers.InputError, match="There is no file at"):
        walkthrough.parameters({"VALUES_FILE": str(tmp_path / "nowhere.json")})


def test_the_credit_screen_says_a_credit_failed_and_its_button_sends_a_new_attempt(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    investor_id, wallet_id = onboard(client)
    screen = walkthrough.CreditScreen(client, invest(client, investor_id, wallet_id, 30), timeout=5)
    sandbox.admin("settings", {"task_outcome": "failed"})
    screen.button.click()
    assert "failed" in screen.status.value and "click <b>Credit again</b>" in screen.status.value
    assert "client.investments" not in screen.status.value  # a sentence for a person, not code
    assert screen.result is None and screen.button.layout.display == "none"
    [again] = screen.choices.children
    screen.button.click()  # review 39: the second click of a double-click, arriving after the failure is shown
    assert (
        screen.choices.children == (again,) and len(client.investments._credit_tasks(screen.investment.id) or []) == 1
    )
    rerun = walkthrough.CreditScreen(client, client.investments.get(screen.investment.id), timeout=5)  # review 71
    assert "An earlier credit of it failed (today at" in rerun.intro.value, rerun.intro.value
    assert (
        "crediting again sends a new attempt" in rerun.intro.value
        and rerun.button.description == "Credit the securities"
    )

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise helpers.APIConnectionError("Could not reach the registry. Try again in a minute.")

    credit = client.investments.credit
    client.investments.credit = unreachable  # type: ignore[method-assign,assignment]
    again.click()  # review 41: 'Credit again' that ends in another error left no button to go on with
    [again] = screen.choices.children
    assert again.description == "Try again" and "Try again in a minute" in screen.status.value
    client.investments.credit = credit  # type: ignore[method-assign]
    sandbox.admin("settings", {"task_outcome": "success"})
    again.click()
    again.click()  # (the second click of a double-click once it is done)
    assert screen.result is not None and screen.result["status"] == "DELIVERED"
    assert (
        "is delivered" in screen.status.value and len(client.investments._credit_tasks(screen.investment.id) or []) == 2
    )


def test_the_credit_screen_says_a_credit_whose_outcome_is_unknown_and_offers_no_other(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 72: a credit that failed, then one whose outcome is unknown: the step named the failure and offered
    a new attempt, which the registry then refused."""
    investor_id, wallet_id = onboard(client)
    investment = invest(client, investor_id, wallet_id, 30)
    for outcome in ("failed", "unknown"):
        sandbox.admin("settings", {"task_outcome": outcome})
        try:
            with pytest.raises(helpers.TaskError):
                client.investments.credit(investment.id)
        finally:
            sandbox.admin("settings", {"task_outcome": "success"})
    screen = walkthrough.CreditScreen(client, client.investments.get(investment.id), timeout=5)
    assert "A credit of it (today at" in screen.intro.value and "ended as 'unknown'" in screen.intro.value
    assert "failed" not in screen.intro.value and screen.button.layout.display == "none"
    listed = client.investments.credit_tasks
    client.investments.credit_tasks = lambda i: list(reversed(listed(i)))  # type: ignore[method-assign]
    try:  # review 73: a registry listing the newest first took the failed one for the last
        newest_first = walkthrough.CreditScreen(client, client.investments.get(investment.id), timeout=5)
        assert "ended as 'unknown'" in newest_first.intro.value and newest_first.button.layout.display == "none"
    finally:
        client.investments.credit_tasks = listed  # type: ignore[method-assign]
    # reviews 74, 75: a registry that lets a credit be sent again once Cashlink checked the unknown one (the sandbox
    # does not), where that later one failed: both are said, and the button stays away while an unknown one is there;
    # a credit under way, older or newer, and a tie in time change nothing of that
    [_failed, unknown] = listed(investment.id)
    again = {**unknown, "id": "00000000-0000-4000-8000-000000000001", "status": "failed", "created_at": "2099-01-01"}
    running = {**again, "id": "00000000-0000-4000-8000-000000000002", "status": "processing"}
    same_time = {**again, "created_at": unknown.get("created_at")}
    for shown in ([unknown, again], [running, unknown], [unknown, running], [same_time, unknown]):
        client.investments.credit_tasks = lambda _i, shown=shown: [helpers.Record(t) for t in shown]  # type: ignore[method-assign]
        try:
            later = walkthrough.CreditScreen(client, client.investments.get(investment.id), timeout=5)
        finally:
            client.investments.credit_tasks = listed  # type: ignore[method-assign]
        assert "ended as 'unknown'" in later.intro.value and later.button.layout.display == "none", shown
        assert ("A later one failed (on 2099-01-01" in later.intro.value) == (shown[1] is again), later.intro.value


def test_an_unknown_investor_email_stops_unattended_runs_and_acts_on_nobody(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    investor, _wallet = onboarded(client)
    credited_by_form(client, investor.id)
    typo = {"investor_email": "nobody.typo@example.org", "units": 2}
    for flow in (walkthrough.Redeeming, walkthrough.Investing):
        with pytest.raises(helpers.InputError) as caught:
            flow(client, "unattended", typo).run_unattended()
        assert "Nothing was sent" in str(caught.value) and "nobody.typo" not in str(caught.value)
        assert "No investor in the registry has this e-mail address" in str(caught.value.field_errors)
    assert client.redemptions.list().to_list() == []
    assert len(client.investments.list().to_list()) == 1
    # outside the sandbox nothing given picks nobody either (the sandbox's demo picks the latest holder)
    monkeypatch.setattr(type(client.config), "is_sandbox", property(lambda _self: False))
    with pytest.raises(helpers.InputError) as caught:
        walkthrough.Redeeming(client, "unattended", {"units": 2}).run_unattended()
    assert "Give INVESTOR_ID or INVESTOR_EMAIL" in str(caught.value.field_errors)
    assert client.redemptions.list().to_list() == []


def test_a_shared_or_conflicting_investor_email_stops_unattended_runs(client: helpers.Client) -> None:
    elder = client.investors.create(investor_body("Elder", communication__email="joint.account@example.com"))
    younger = client.investors.create(
        investor_body("Younger", communication__email="joint.account@example.com"), on_duplicate="create"
    )
    for given, said in (
        ({"investor_email": " JOINT.account@example.com", "units": 3}, "2 investors share this e-mail address"),
        (
            {"investor_id": elder.id, "investor_email": "peter.younger@example.com", "units": 3},
            "No investor in the registry has this e-mail address",
        ),
    ):
        with pytest.raises(helpers.InputError) as caught:
            walkthrough.Redeeming(client, "unattended", given).run_unattended()
        assert said in str(caught.value.field_errors)
    other = client.investors.create(investor_body("Other"))
    with pytest.raises(helpers.InputError) as caught:
        walkthrough.Redeeming(
            client, "unattended", {"investor_id": other.id, "investor_email": "joint.account@example.com"}
        ).run_unattended()
    assert "INVESTOR_ID names another investor" in str(caught.value.field_errors)
    assert younger.id and client.redemptions.list().to_list() == []
    wizard = walkthrough.Redeeming(  # the investor's own id, as typed (spaces, capitals), with its e-mail
        client, "by hand", {"investor_id": f" {elder.id.upper()} ", "investor_email": "joint.account@example.com"}
    )
    assert wizard._acted_on(wizard.given, lambda: None) == elder.id
    alone = walkthrough.Redeeming(client, "by hand", {"investor_id": f" {elder.id.upper()} "})  # without an e-mail
    assert alone._acted_on(alone.given, lambda: None) == elder.id


def test_an_unattended_onboarding_outside_the_sandbox_without_a_wallet_kind_stops_before_sending(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A real registry gets no demo values: WALLET_KIND (and the protocol's path) left at None stop the run before the
    investor is written, with a sentence naming the parameter, instead of a KeyError after two writes."""
    from helpers.ui import demo

    protocol = tmp_path / "protocol.pdf"
    protocol.write_bytes(client.documents.placeholder("Identification protocol"))
    given = {name: value for name, value in demo.ONBOARDING.items() if name != "wallet_kind"}
    monkeypatch.setattr(type(client.config), "is_sandbox", property(lambda _self: False))
    for values, named in (
        ({**given, "surname": "Walletless", "protocol_pdf": str(protocol)}, "WALLET_KIND"),
        ({**given, "surname": "Walletless", "wallet_kind": "eth-managed"}, "PROTOCOL_PDF"),
        (
            {**given, "surname": "Walletless", "protocol_pdf": str(protocol), "wallet_kind": "eth-generic"},
            "WALLET_ADDRESS",
        ),
        (  # a wallet needs the tax id: without it the run stopped after the investor and identification were written
            {
                **given,
                "surname": "Walletless",
                "protocol_pdf": str(protocol),
                "wallet_kind": "eth-managed",
                "tax_id": None,
            },
            "TAX_ID",
        ),
    ):
        wizard = walkthrough.Onboarding(client, "unattended", values)
        with pytest.raises(helpers.InputError) as caught:
            wizard.run_unattended()
        assert "Nothing was sent" in str(caught.value) and named in caught.value.field_errors
        assert client.investors.list().to_list() == []


def test_an_unattended_onboarding_outside_the_sandbox_sends_the_protocol_it_is_given(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PROTOCOL_PDF's file is the identification's protocol on any registry (the form used to drop it off the
    sandbox and refuse the identification after the investor was written)."""
    from helpers.ui import demo

    protocol = tmp_path / "protocol.pdf"
    protocol.write_bytes(client.documents.placeholder("Identification protocol"))
    monkeypatch.setattr(type(client.config), "is_sandbox", property(lambda _self: False))
    values = {**demo.ONBOARDING, "surname": "Offsandbox", "protocol_pdf": str(protocol), "wallet_kind": "eth-managed"}
    wizard = walkthrough.Onboarding(client, "unattended", values)
    wizard.run_unattended()
    investor = wizard.result("Investor")
    assert investor is not None and wizard.result("Identification") is not None
    assert wizard.result("Wallet") is not None and client.investors.kyc_status(investor.id) == "SUCCESS"


def test_the_onboardings_wallet_kind_takes_the_spreadsheets_spelling_too(client: helpers.Client) -> None:
    """WALLET_KIND "managed" (bulk's spelling) is the managed wallet, as "eth-managed" is; another word stops the
    run before anything is sent."""
    wizard = walkthrough.Onboarding(client, "unattended", {"surname": "Spelling", "wallet_kind": "managed"})
    wizard.run_unattended()
    assert wizard.result("Wallet") is not None and wizard.result("Wallet")["type"] == "eth-managed"
    with pytest.raises(helpers.InputError) as caught:
        walkthrough.Onboarding(client, "unattended", {"surname": "Cold", "wallet_kind": "cold"}).run_unattended()
    assert "WALLET_KIND" in caught.value.field_errors
    assert [i for i in client.investors.list() if i["natural_person"]["surname"] == "Cold"] == []


def test_a_cell_run_again_closes_the_walkthrough_it_made_before(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person typed an investor, never sent it, and ran the cell again: the earlier walkthrough is closed, so the
    saved notebook no longer keeps what was typed (before: a 767 KB notebook with the unsent person in it). One
    made by another cell stays."""
    cell = {"id": "cell-a"}
    monkeypatch.setattr(forms, "running_cell", lambda: cell["id"])
    other_cell = walkthrough.Onboarding(client, "by hand")
    cell["id"] = "cell-b"
    first = walkthrough.Onboarding(client, "by hand")
    form = first.body.children[0]
    assert isinstance(form, forms.InvestorForm)
    form.fields["natural_person.surname"].widget.value = "Neversent"
    typed = form.fields["natural_person.surname"].widget
    second = walkthrough.Onboarding(client, "by hand")
    assert first.comm is None and typed.comm is None and second.comm is not None
    assert walkthrough.Investing(client, "by hand").comm is not None and second.comm is not None  # another kind
    assert other_cell.comm is not None  # another cell's walkthrough (another investor) is left alone


def test_a_redemption_done_says_its_status_in_words(client: helpers.Client) -> None:
    investor_id, wallet_id = onboard(client, "Wordy")
    client.investments.credit(invest(client, investor_id, wallet_id, 1500).id)
    wizard = walkthrough.Redeeming(client, "unattended", {"investor_id": investor_id, "units": 1200})
    wizard.run_unattended()
    assert "Redemption of 1,200 units: successful.</b>" in text_of(wizard)


def test_an_investment_ended_while_its_credit_step_is_shown_lets_the_walkthrough_go_on(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 50: the click said the investment had ended, but Next stayed disabled: a dead end."""
    from tests.test_helpers_client import invest, onboard

    investor_id, wallet_id = onboard(client)
    wizard = walkthrough.Investing(client, "by hand", {})
    wizard.steps[0].result = invest(client, investor_id, wallet_id, 20)
    wizard._render_where()
    wizard.next_button.click()
    screen = wizard.body.children[0]
    assert isinstance(screen, walkthrough.CreditScreen) and wizard.next_button.disabled
    sandbox.admin(f"investments/{screen.investment.id}/status", {"status": "CANCELLATION"})
    screen.button.click()
    assert "it has ended and can no longer be credited" in screen.intro.value
    assert not wizard.next_button.disabled and "– Credit" in wizard.where.value  # ended: neither ✔ nor waiting
    wizard.next_button.click()
    assert "Step 3 of 3: Done" in wizard.where.value
    done = text_of(wizard)
    assert "<b>Investment of 20 units: cancelled by the investor, not credited.</b>" in done


def test_a_new_investment_clears_the_credit_steps_mark_of_the_last_one(client: helpers.Client) -> None:
    """Review 51: after an unpaid investment, a new one in step 1 still showed '…' on Credit."""
    investor, wallet = onboarded(client)
    wizard = walkthrough.Investing(client, "by hand", {})
    document = client.documents.upload(b"%PDF-1.4 s", "s.pdf").id
    signed = [{"document_id": document, "category": "c", "subject": "s"}]
    wizard.steps[0].result = client.investments.create(investor.id, 10, "2024-03-12", signed, wallet=wallet.id)
    wizard._render_where()
    wizard.next_button.click()
    assert wizard.steps[1].waiting
    wizard._step_done(wizard.steps[0], client.investments.create(investor.id, 11, "2024-03-12", signed))
    assert not wizard.steps[1].waiting and "2 Credit" in wizard.where.value


def test_the_sandbox_demo_redeems_from_a_holder_of_enough_units_and_no_more_than_held(client: helpers.Client) -> None:
    """Review 96: the demo's redemption of 100 units chose the latest holder, of 1 unit, and refused itself."""
    from tests.test_helpers_client import invest, onboard

    rich, rich_wallet = onboard(client, "Rich Holder")
    client.investments.credit(invest(client, rich, rich_wallet, 300).id)
    poor, poor_wallet = onboard(client, "Poor Holder")
    client.investments.credit(invest(client, poor, poor_wallet, 1).id)  # (the latest holder)
    demo = walkthrough.Redeeming(client, "unattended", {})
    demo.run_unattended()
    made = demo.result("Redemption")
    assert made is not None and made["investor_id"] == rich and made["units"] == 100
    client.redemptions.create(rich, rich_wallet, 200)  # only the holder of 1 unit is left
    alone = walkthrough.Redeeming(client, "unattended", {})
    alone.run_unattended()
    made = alone.result("Redemption")
    assert made is not None and made["investor_id"] == poor and made["units"] == 1
