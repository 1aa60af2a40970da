"""Widget logic without a browser: inline validation, review, submit, API errors next to fields, nothing lost."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pytest

import helpers
from helpers.core.client import CannotFollowWarning
from helpers.ui import forms
from tests.conftest import SIGNED_AT, Sandbox, investor_body, unique_iban, uploaded
from tests.test_field_names import holder_of
from tests.test_sandbox_api import random_address

PERSON = {
    "forename": "Ada",
    "surname": "Lovelace",
    "birth_date": "1985-12-10",
    "birth_place": "London",
    "citizenship": "DEU",
    "country": "DEU",
    "street": "Hauptstr. 1",
    "zip": "60316",
    "city": "Frankfurt",
    "phone": "+49 69 1234567",
    "email": "ada@example.com",
    "account_holder": "Ada Lovelace",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "bank": "Commerzbank",
    "tax_id": "12345678901",
}
IDENT = {
    "document_id": "L01X00T47",
    "document_issuer": "Buergeramt Frankfurt",
    "document_valid_from": "2022-01-01",
    "document_valid_to": "2032-01-01",
    "id_process_id": "pi-1",
    "identified_on": "2024-01-15",
    "protocol": b"%PDF-1.4 protocol",
}


def onboarded(client: helpers.Client) -> tuple[helpers.Record, helpers.Record]:
    investor = forms.InvestorForm(client, PERSON).submit()
    forms.IdentificationForm(client, investor.id, IDENT).submit()
    wallet = forms.WalletForm(client, investor.id).submit()
    return investor, wallet


def test_investor_form_submits_and_shows_the_new_investor(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, PERSON)
    assert form.review() and not form.submit_button.disabled
    record = form.submit()
    assert record is not None and record["natural_person"]["surname"] == "Lovelace"
    assert f"investor id {record.id[:8]}." in form.status.value and "Created" in form.status.value  # short: the
    assert record.id in form.result_box.value  # card below shows it whole, to copy
    assert form.result is record and form.submit_button.disabled
    again = forms.InvestorForm(client, PERSON).submit()
    assert again.id == record.id and again.replayed


def test_inline_validation_appears_as_you_type(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, PERSON)
    iban = form.fields["bank_account.iban"]
    iban.widget.value = "DE89370400440532013001"
    assert "not a valid IBAN" in iban.error.value
    iban.widget.value = "DE89 3704 0044 0532 0130 00"
    assert iban.error.value == ""
    form.fields["natural_person.country"].widget.value = "AUT"
    assert form.fields["natural_person.country"].error.value == ""


def test_bad_input_is_not_sent_and_nothing_typed_is_lost(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, PERSON)
    form.fields["bank_account.bic"].widget.value = "NOPE"
    form.fields["communication.email"].widget.value = "ada-at-example"
    sent = client.transport.requests_sent
    assert form.submit(raise_errors=False) is None
    assert client.transport.requests_sent == sent
    assert "not a valid BIC" in form.fields["bank_account.bic"].error.value
    assert "not an e-mail" in form.fields["communication.email"].error.value
    assert form.fields["natural_person.surname"].widget.value == "Lovelace"
    assert form.fields["bank_account.bic"].widget.value == "NOPE"
    assert isinstance(form.error, helpers.InputError)
    with pytest.raises(helpers.InputError):
        form.submit()


def test_a_postcode_that_does_not_fit_its_country_is_shown_at_the_postcode(client: helpers.Client) -> None:
    """A rule over two fields (the postcode's form depends on the country) lands next to the postcode, before
    anything is sent; the same model rule checks a spreadsheet's rows."""
    sent = client.transport.requests_sent
    form = forms.InvestorForm(client, {**PERSON, "zip": "1067", "city": "Dresden"})
    assert form.submit(raise_errors=False) is None and client.transport.requests_sent == sent
    message = html.unescape(form.fields["natural_person.zip"].error.value)
    assert "A postcode in Germany has five digits, such as 60311; this one does not." in message
    assert "1067" not in message  # review 86: part of an address, never repeated in a message
    assert "leading 0" in message and form.fields["natural_person.country"].error.value == ""
    typed = forms.InvestorForm(client, PERSON)  # as it is typed: the postcode, or the country chosen after it
    typed.fields["natural_person.zip"].widget.value = "1067"
    assert "five digits" in typed.fields["natural_person.zip"].error.value
    typed.fields["natural_person.zip"].widget.value = "01067"
    assert typed.fields["natural_person.zip"].error.value == ""
    typed.fields["natural_person.country"].widget.value = "AUT"
    assert "four digits" in typed.fields["natural_person.zip"].error.value
    typed.fields["natural_person.zip"].widget.value = "1010"
    assert typed.fields["natural_person.zip"].error.value == ""
    austrian = forms.InvestorForm(client, {**PERSON, "country": "AUT"})
    assert austrian.submit(raise_errors=False) is None
    assert "A postcode in Austria has four digits" in austrian.fields["natural_person.zip"].error.value
    assert forms.InvestorForm(client, {**PERSON, "country": "AUT", "zip": "1010"}).review()


def test_legal_person_variant(client: helpers.Client) -> None:
    form = forms.InvestorForm(
        client,
        {
            **PERSON,
            "kind": "legal_person",
            "company_name": "ACME GmbH",
            "legal_form": "GmbH",
            "registration_number": "HRB 1",
        },
    )
    assert form.fields["natural_person.forename"].row.layout.display == "none"
    record = form.submit()
    assert record["legal_person"]["company_name"] == "ACME GmbH" and "natural_person" not in record


def test_a_company_sharing_a_persons_iban_is_never_offered_as_an_update_of_that_person(client: helpers.Client) -> None:
    """Review 46: a company with a person's IBAN was offered 'Same person, details changed: update it', which the
    registry refused with a Python class name in the message."""
    forms.InvestorForm(client, PERSON).submit()
    company = forms.InvestorForm(
        client,
        {
            **PERSON,
            "kind": "legal_person",
            "company_name": "Lovelace Holding GmbH",
            "legal_form": "GmbH",
            "registration_number": "HRB 99",
            "email": "holding@example.com",
        },
    )
    assert company.submit(raise_errors=False) is None
    assert "it is a person, not a company, so it cannot be this investor" in company.status.value
    assert "update that one" not in company.status.value  # (review 48: offered in words, not as a button)
    offered = [button.description for button in company.choices.children]
    assert offered and not any("update" in label.lower() for label in offered), offered


def test_the_registrys_refusal_of_a_chosen_action_shows_its_sentence_and_fields(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = forms.InvestorForm(client, PERSON)
    refusal = helpers.ValidationError(
        "The registry refused to update the investor.", status=400, field_errors={"natural_person.zip": ["Bad."]}
    )
    form._safely(lambda: (_ for _ in ()).throw(refusal))
    assert "ValidationError" not in form.status.value and "refused to update the investor" in form.status.value
    assert "Bad." in form.fields["natural_person.zip"].error.value


def test_review_shows_what_was_typed_with_the_forms_labels(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, PERSON)
    values = dict(form.summary())
    assert values["IBAN"] == "DE89370400440532013000" and values["Birth date"] == "1985-12-10"
    assert set(values) <= {f.label for f in form.fields.values()}


def test_api_errors_appear_next_to_their_fields(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    address = random_address()
    forms.WalletForm(client, investor.id, {"kind": "eth-generic", "address": address}).submit()
    other = forms.InvestorForm(
        client, {**PERSON, "surname": "Byron", "email": "ada.byron@example.com", "iban": "DE02120300000000202051"}
    ).submit()
    forms.IdentificationForm(client, other.id, IDENT).submit()
    form = forms.WalletForm(client, other.id, {"kind": "eth-generic", "address": address})
    assert form.submit(raise_errors=False) is None
    assert "already registered" in form.fields["address"].error.value
    assert form.fields["address"].widget.value == address


def test_errors_without_a_field_show_above_the_buttons(client: helpers.Client) -> None:
    investor = forms.InvestorForm(client, PERSON).submit()
    form = forms.WalletForm(client, investor.id)  # no identification yet
    assert form.submit(raise_errors=False) is None
    assert "identif" in form.status.value and "identif" not in form.general_errors.value  # shown once


def test_investment_and_redemption_forms(client: helpers.Client) -> None:
    investor, wallet = onboarded(client)
    form = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor.id,
            "units": 40,
            "signed_at": SIGNED_AT,
            "document": b"%PDF-1.4 subscription",
        },
    )
    assert form.wallet.value == wallet.id
    assert form.review()
    assert ("Investment amount", "EUR 4,000.00") in form.summary()
    assert "Identification" not in dict(form.summary())  # identified: nothing to say
    newcomer = client.investors.create(investor_body("Unidentified"))
    early = forms.InvestmentForm(client, {"investor_id": newcomer.id, "units": 5, "signed_at": SIGNED_AT})
    assert (
        ": the investment waits (identification pending) until the investor is identified"
        in dict(early.summary())["Identification"]
    )
    investment = form.submit()
    assert investment["status"] == "PAID"
    assert "Remaining" not in form.result_box.value  # 0 before delivery would read as 'nothing left'
    assert "Investment amount" in form.result_box.value or "Units" in form.result_box.value
    card = dict(form.result_rows(investment))  # review 71: the campaign and product by name, as the form showed
    assert card["Campaign"] == "Solar Bond 2030 - public offering" and card["Product"] == "Solar Bond 2030", card

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise helpers.APIConnectionError("Could not reach the registry. Try again in a minute.")

    listing, client.products.list = client.products.list, unavailable  # type: ignore[method-assign,assignment]
    try:  # review 72: a product list that fails after the investment was made took the card and the next step
        assert dict(form.result_rows(investment))["Product"] == investment["product_id"]
    finally:
        client.products.list = listing  # type: ignore[method-assign]
    client.investments.credit(investment.id)
    redeem = forms.RedemptionForm(client, {"investor_id": investor.id, "units": 41})
    assert "holds <b>40</b>" in redeem.balance.value
    assert redeem.submit(raise_errors=False) is None
    assert "holds only 40" in redeem.fields["units"].error.value
    redeem.units.value = "15"
    assert redeem.submit()["status"] == "success"
    assert "holds <b>25</b>" in redeem.balance.value


def test_a_redemption_starts_from_the_wallet_that_holds_units_and_names_it_when_another_is_chosen(
    client: helpers.Client,
) -> None:
    """Review 46: an investor with an own address (empty) and the wallet holding the units: the form chose the empty
    one, and typing 41 said 'holds only 0 units ... Enter at most 0'."""
    investor, wallet = onboarded(client)
    empty = client.investors.create_generic_wallet(investor.id, random_address())
    investment = client.investments.create(
        investor.id,
        40,
        SIGNED_AT,
        [{"document_id": client.documents.upload(b"%PDF-1.4 s", "s.pdf").id, "category": "c", "subject": "s"}],
        accepted_at=SIGNED_AT,
        paid_at=SIGNED_AT,
        wallet=wallet.id,
    )
    client.investments.credit(investment.id)
    redeem = forms.RedemptionForm(client, {"investor_id": investor.id, "units": 5})
    assert redeem.wallet.value == wallet.id and "holds <b>40</b>" in redeem.balance.value
    redeem.wallet.value = empty.id
    assert redeem.submit(raise_errors=False) is None
    said = redeem.fields["units"].error.value
    assert "This wallet holds none of the product&#x27;s units: choose the wallet managed by Cashlink" in said
    assert "40 units above" in said


def test_a_redemption_for_an_investor_without_a_wallet_says_so(client: helpers.Client) -> None:
    """Before: an empty wallet list, 'This field is required' and 'The wallet holds only 0 units; you cannot redeem
    5': the missing wallet was never named."""
    investor = client.investors.create(investor_body("Walletless"))
    redeem = forms.RedemptionForm(client, {"investor_id": investor.id, "units": 5})
    assert "This investor has no wallet yet" in redeem.balance.value and "notebook 01" in redeem.balance.value
    assert redeem.submit(raise_errors=False) is None
    assert "no wallet to redeem from" in redeem.fields["units"].error.value
    assert "holds only" not in redeem.fields["units"].error.value
    assert "has no wallet yet" in redeem.fields["wallet_id"].error.value  # not 'This field is required.'
    assert "required" not in redeem.fields["wallet_id"].error.value


def test_zero_units_given_to_a_form_are_refused_as_zero_not_as_missing(client: helpers.Client) -> None:
    """Review 93: notebook 04 run with UNITS=0 said 'Units: This field is required.'"""
    investor_id, _wallet_id = holder_of(client, 10)
    for form in (
        forms.RedemptionForm(client, {"investor_id": investor_id, "units": 0}),
        forms.InvestmentForm(client, {"investor_id": investor_id, "units": 0}),
    ):
        assert form.fields["units"].widget.value == "0"
        assert form.submit(raise_errors=False) is None
        said = form.fields["units"].error.value
        assert "required" not in said and "at least 1" in said, said


def test_result_or_stop_explains_itself(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, PERSON)
    with pytest.raises(forms.NotSubmittedYet) as caught:
        form.result_or_stop()
    assert caught.value._render_traceback_() == [
        "Fill in the 'New investor' form above and click Create investor; the next steps continue from its result."
    ]


@pytest.mark.parametrize("auto, expected", [(None, True), (False, False), (True, True)])
def test_auto_submit_defaults_to_the_sandbox_only(client: helpers.Client, auto: Any, expected: bool) -> None:
    assert forms.should_auto_submit(auto, client) is expected
    real = helpers.Client(
        client.config.replace(base_url="https://demo.cashlink.de/api/external"), journal=client.journal
    )
    assert forms.should_auto_submit(None, real) is False


def test_benefiting_person_completes_a_legal_persons_kyc(client: helpers.Client) -> None:
    company = forms.InvestorForm(
        client,
        {
            **PERSON,
            "kind": "legal_person",
            "company_name": "Beneficial AG",
            "legal_form": "AG",
            "registration_number": "HRB 2",
        },
    ).submit()
    forms.IdentificationForm(client, company.id, IDENT).submit()
    form = forms.BenefitingPersonForm(client, company.id, {**PERSON, "birth_date": "2015-01-01"})
    assert form.submit(raise_errors=False) is None
    assert "at least 18" in form.fields["birth_date"].error.value
    form.fields["birth_date"].widget.value = "1970-05-04"
    assert form.submit()["surname"] == "Lovelace"
    company_now = client.investors.get(company.id)
    assert company_now.get("benefiting_persons", 1) == 1  # the count is a strict-profile extra, not documented


def test_a_click_never_loses_an_unexpected_error(client: helpers.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    form = forms.InvestorForm(client, PERSON)
    assert form.review()
    monkeypatch.setattr(client.investors, "create", lambda body, **kw: (_ for _ in ()).throw(RuntimeError("boom")))
    form.submit_button.click()
    assert "Something went wrong in this toolkit (RuntimeError): boom" in form.status.value
    assert form.fields["natural_person.surname"].widget.value == "Lovelace"


def test_an_uploaded_protocol_leaves_the_widget_once_sent(client: helpers.Client) -> None:
    """The protocol of an identification is personal: once uploaded to the registry, the widget forgets it, so the
    saved widget state of a notebook does not keep it."""
    investor = forms.InvestorForm(client, PERSON).submit()
    form = forms.IdentificationForm(client, investor.id, {k: v for k, v in IDENT.items() if k != "protocol"})
    content = b"%PDF-1.4 Passport scan of Ada Lovelace"
    form.protocol_file.value = uploaded("passport Ada Lovelace.pdf", content, "application/pdf")
    assert form.submit() is not None
    assert form.protocol_file.value == ()
    assert "Lovelace" not in repr(form.protocol_file.get_state())


def test_the_documents_days_are_checked_against_each_other_as_they_are_typed(client: helpers.Client) -> None:
    """Review 62: 'Valid to' before 'Valid from', or an identification outside the document's days, was said only
    at Review; a change of one day checks the others again."""
    investor = forms.InvestorForm(client, PERSON).submit()
    form = forms.IdentificationForm(client, investor.id, IDENT)
    valid_from, valid_to = form.fields["document_valid_from"], form.fields["document_valid_to"]
    identified = form.fields["verified_at"]
    valid_to.widget.value = "2021-01-01"
    assert "cannot expire before it is valid" in valid_to.error.value
    assert "not valid on the day of the identification" not in identified.error.value  # (its own: 'Valid to' first)
    valid_to.widget.value = "2023-01-01"
    assert valid_to.error.value == "" and "not valid on the day of the identification" in identified.error.value
    valid_to.widget.value = "2032-01-01"
    assert valid_to.error.value == identified.error.value == ""
    valid_from.widget.value = "2024-02-01"  # after the identification: said at once, under the identification's day
    assert valid_to.error.value == "" and "not valid on the day" in identified.error.value
    valid_from.widget.value, valid_to.widget.value = "2022-01-01", "2032-01-01"
    assert valid_to.error.value == identified.error.value == ""


def test_a_renamed_file_is_refused_as_it_is_chosen_next_to_its_field(client: helpers.Client) -> None:
    """Review 39: a text file named fake.pdf passed Review and was refused only by Save, in a table under 'File'."""
    investor = forms.InvestorForm(client, PERSON).submit()
    form = forms.IdentificationForm(client, investor.id, {k: v for k, v in IDENT.items() if k != "protocol"})
    sent = client.transport.requests_sent
    form.protocol_file.value = uploaded("fake.pdf", b"just some text", "application/pdf")
    protocol = form.fields["legitimation_protocol_id"]
    assert "is named as a PDF file, but its content is not one" in html.unescape(protocol.error.value)
    assert not form.review() and client.transport.requests_sent == sent
    form.protocol_file.value = uploaded("protocol.pdf", b"%PDF-1.4 the real one", "")  # (a browser may give no type)
    assert protocol.error.value == "" and form.review() and form.submit() is not None


def test_the_investment_form_refuses_more_units_than_the_campaign_has_left_before_any_upload(
    client: helpers.Client,
) -> None:
    investor, _wallet = onboarded(client)
    defaults = {"investor_id": investor.id, "signed_at": SIGNED_AT, "document": b"%PDF-1.4 subscription"}
    form = forms.InvestmentForm(client, {"accepted": True, "paid": True, **defaults, "units": 40})
    left = form.campaigns[form.fields["campaign_id"].value]["available_units"]
    form.fields["units"].widget.value = str(left + 1)
    sent = client.transport.requests_sent
    assert form.submit(raise_errors=False) is None and client.transport.requests_sent == sent
    assert f"has {left:,} units left" in form.fields["units"].error.value
    form.fields["signed_at"].widget.value = "2099-01-01"
    form.fields["units"].widget.value = "1e2"
    assert form.submit(raise_errors=False) is None and client.transport.requests_sent == sent
    assert "in the future" in form.fields["signed_at"].error.value
    assert "not a number of units" in form.fields["units"].error.value


def test_the_investment_form_checks_the_campaigns_rules_before_any_upload(
    client: helpers.Client, sandbox: Sandbox
) -> None:
    """Review 88: a closed campaign, a sold-out one, and one with a minimum and a step were refused by the registry
    only, after the subscription was uploaded; and read as open in the list."""
    investor, _wallet = onboarded(client)
    made = {
        name: sandbox.admin("campaigns", {"client_id": client.config.client_id, "name": name, **rules})["id"]
        for name, rules in {
            "Closed offering": {"available_units": 1_000, "active": False},
            "Sold-out offering": {"available_units": 0},
            "Large tickets": {"available_units": 10_000, "min_units": 100, "step_size": 50},
            "Nearly gone": {"available_units": 20, "min_units": 100},  # review 89: fewer left than it takes
        }.items()
    }
    defaults = {"investor_id": investor.id, "signed_at": SIGNED_AT, "document": b"%PDF-1.4 subscription"}
    form = forms.InvestmentForm(client, {"accepted": True, "paid": True, **defaults, "units": 120})
    labels = {value: label for label, value in form.fields["campaign_id"].widget.options}
    assert labels[made["Closed offering"]] == "Closed offering · closed"
    assert labels[made["Sold-out offering"]] == "Sold-out offering · sold out"
    assert labels[made["Large tickets"]] == "Large tickets · 10,000 units left"
    assert labels[made["Nearly gone"]] == "Nearly gone · 20 units left, too few"
    sent = client.transport.requests_sent
    said = {
        "Closed offering": ("campaign_id", "This campaign is closed for new investments: choose another campaign."),
        "Sold-out offering": ("campaign_id", "This campaign is sold out: choose another campaign."),
        "Large tickets": ("units", "This campaign takes at least 100 units, in steps of 50: enter 100, 150, 200 …<"),
        "Nearly gone": (
            "campaign_id",
            "This campaign is left with 20 units, fewer than the 100 it takes at least: choose another campaign.",
        ),
    }
    for name, (field, message) in said.items():
        form.fields["campaign_id"].widget.value = made[name]
        assert form.submit(raise_errors=False) is None and client.transport.requests_sent == sent, name
        assert message in form.fields[field].error.value, form.fields[field].error.value
    form.fields["campaign_id"].widget.value = made["Large tickets"]
    form.fields["units"].widget.value = "150"
    record = form.submit()
    assert record is not None and record["units"] == 150 and record["campaign_id"] == made["Large tickets"]


# Distinctive values, as a reviewer would type them, to look for in the widgets' state afterwards.
CANARY = {
    **PERSON,
    "forename": "Zebulonia",
    "surname": "Quixwortel",
    "birth_place": "Lindwurmhausen",
    "street": "Kanariengasse 77",
    "email": "zq.canary@example.org",
    "account_holder": "Zebulonia Q. Kontoinhaberin",
    "bank": "Kanarienbank",
}
TYPED = ("Zebulonia", "Quixwortel", "Lindwurmhausen", "Kanariengasse", "zq.canary", "Kontoinhaberin", "Kanarienbank")


def widget_states(widget: Any) -> str:
    """The saved widget state of ``widget`` and everything inside it (what a notebook saved with it keeps)."""
    found = [repr(widget.get_state())]
    for child in getattr(widget, "children", ()):
        found.append(widget_states(child))
    return " ".join(found)


def test_a_sent_form_forgets_every_typed_value(client: helpers.Client) -> None:
    """Not only the personal fields: name, e-mail, street, birth place, account holder leave the widgets once sent;
    the result card shows what was made by its id, naming nobody."""
    form = forms.InvestorForm(client, {**CANARY, "iban": unique_iban("canary-forgotten")})
    assert form.review() and "Lindwurmhausen" in widget_states(form.inputs)  # typed, shown until sent
    form.click_submit()
    assert form.result is not None and form.result["natural_person"]["birth_place"] == "Lindwurmhausen"
    states = widget_states(form.inputs)
    assert [value for value in TYPED if value in states] == []
    assert all(f.error.value == "" for f in form.fields.values())  # no 'required' next to the emptied fields
    assert form.result.id in form.result_box.value  # the card says what was made, by its id
    assert [value for value in TYPED if value in form.result_box.value] == []  # and names nobody (widget state)
    form.start_again()  # 'Another investor' starts empty
    assert all(f.is_empty() for f in form.fields.values() if isinstance(f.widget, widgets.Text))


def test_a_correction_after_the_duplicate_question_still_works_and_then_forgets(client: helpers.Client) -> None:
    """The duplicate question comes before anything is sent: its buttons still send what was typed (kept until it
    was sent), and once the update is sent the widgets forget it."""
    values = {**CANARY, "iban": unique_iban("canary-correction")}
    first = forms.InvestorForm(client, values).submit()
    form = forms.InvestorForm(client, {**values, "city": "Offenbach"})
    form.click_submit()
    assert form.result is None and "already in the registry" in form.status.value
    assert "An investor with the same e-mail, IBAN, name and birth date" in form.status.value  # not 'identical'
    assert "What you typed differs from it in: City." in form.status.value and "Offenbach" not in form.status.value
    assert form.submit_button.button_style == ""  # beside the question, its answers stand out (review 62)
    [update] = [b for b in form.choices.children if "cl-update-existing" in b._dom_classes]
    update.click()
    assert form.result is not None and form.result.id == first.id
    assert form.submit_button.button_style == "success"
    asked = forms.InvestorForm(client, {**values, "city": "Kassel"})
    asked.click_submit()
    assert asked.submit_button.button_style == ""
    asked.review()  # Review checks anew: the question goes with its answers (review 69: its buttons stayed)
    assert asked.choices.children == () and asked.submit_button.button_style == "success"
    asked.click_submit()
    assert asked.choices.children and asked.submit_button.button_style == ""  # asked again by Submit
    asked.fields["natural_person.city"].widget.value = "Fulda"  # changed instead of an answer (review 66)
    assert asked.choices.children == () and asked.submit_button.button_style == "success"
    partner = {**values, "forename": "Alana", "birth_date": "1990-01-02", "email": "alana.canary@example.com"}
    failing = forms.InvestorForm(client, partner)  # another person, perhaps: 'the same person, details changed'?
    failing.click_submit()
    [update] = [b for b in failing.choices.children if "cl-update-existing" in b._dom_classes]

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise helpers.APIConnectionError("Could not reach the registry (simulated).")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(client.investors), "update_to", unreachable)
        update.click()  # the answer failed: no question left, and Submit green again (review 67)
    assert failing.choices.children == () and failing.submit_button.button_style == "success"
    assert client.investors.get(first.id)["natural_person"]["city"] == "Offenbach"
    assert "Updated now" in form.status.value and "Changed: City." in form.status.value
    states = widget_states(form.inputs)
    assert [value for value in [*TYPED, "Offenbach"] if value in states] == []


def test_a_sent_investment_and_redemption_forget_the_typed_units_and_dates(client: helpers.Client) -> None:
    investor, _wallet = onboarded(client)
    form = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor.id,
            "units": 37,
            "signed_at": SIGNED_AT,
            "document": b"%PDF-1.4 x",
        },
    )
    investment = form.submit()
    assert form.fields["units"].widget.value == "" and form.fields["signed_at"].widget.value == ""
    client.investments.credit(investment.id)
    redeem = forms.RedemptionForm(client, {"investor_id": investor.id, "units": 13})
    assert redeem.submit()["units"] == 13
    assert redeem.units.value == "" and redeem.fields["units"].error.value == ""
    assert "holds <b>24</b>" in redeem.balance.value  # the balance after it, as before


def test_credentials_that_may_not_list_investors_type_the_ids_instead(
    client: helpers.Client, sandbox: Any, tenant: dict[str, Any], config: Any
) -> None:
    """Without investors:read (nor investments:read) the investment and redemption forms still open: the investor's
    and the wallet's ids are typed (and checked as ids), and the registry checks the balance itself."""
    investor, wallet = onboarded(client)
    bought = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor.id,
            "units": 20,
            "signed_at": SIGNED_AT,
            "document": b"%PDF-1.4 x",
        },
    ).submit()
    client.investments.credit(bought.id)
    scopes = "investments:write investors:write documents:write"  # (not even products:read)
    other = sandbox.new_client(tenant=tenant["tenant"], scopes=scopes)
    blind = helpers.Client(
        config.replace(client_id=other["client_id"], client_secret=other["client_secret"], scopes=scopes)
    )
    invest = forms.InvestmentForm(
        blind, {"accepted": True, "paid": True, "units": 5, "signed_at": SIGNED_AT, "document": b"%PDF-1.4 x"}
    )
    assert isinstance(invest.investor, widgets.Text) and isinstance(invest.wallet, widgets.Text)
    assert invest.fields["campaign_id"].widget.value == client.config.campaign_id  # typed, the configured one
    invest.investor.value = "not an id"
    assert invest.submit(raise_errors=False) is None and "id" in invest.fields["investor_id"].error.value
    invest.investor.value, invest.wallet.value = investor.id.upper(), wallet.id
    assert invest.review()  # the summary, without the campaign's price (it cannot be read here)
    made = invest.submit()
    assert "Note: " in invest.result_box.value + invest.status.value  # no duplicate look-up: said beside the result
    assert made is not None and made["investor_id"] == investor.id and made["units"] == 5
    with pytest.warns(CannotFollowWarning, match="is not checked here"):
        credit = blind.investments.credit(made.id)  # sent; its end cannot be read with these credentials
    assert credit.outcome == "created" and client.investments.get(made.id)["status"] == "DELIVERED"
    redeem = forms.RedemptionForm(blind, {"units": 7})
    assert isinstance(redeem.investor, widgets.Text) and "cannot be read here" in redeem.balance.value
    redeem.investor.value, redeem.wallet.value = investor.id, wallet.id
    redeemed = redeem.submit()
    assert redeemed is not None and redeemed["units"] == 7
    assert "Note: " in redeem.result_box.value + redeem.status.value  # how it ends: not followed, said so
    assert sum(row["units"] for row in client.holding_rows(investor_id=investor.id)) == 18


def test_a_wallet_for_an_investor_without_a_tax_id_asks_for_it_and_adds_it_first(client: helpers.Client) -> None:
    """The registry makes no wallet for an investor without tax information [doc]. Before, the wallet step was a
    dead end (the refusal, and nothing in the wallet form to correct); now it asks for the tax id and adds it."""
    investor = forms.InvestorForm(client, {**PERSON, "tax_id": ""}).submit()
    assert not (client.investors.get(investor.id).get("tax_information") or {}).get("tax_identification_number")
    forms.IdentificationForm(client, investor.id, IDENT).submit()
    form = forms.WalletForm(client, investor.id)
    assert "has no tax id yet" in form.header.value
    tax_id = form.fields["tax_information.tax_identification_number"]
    assert form.submit(raise_errors=False) is None and "required" in tax_id.error.value  # nothing sent without it
    tax_id.widget.value = "98765432101"
    wallet = form.submit()
    assert wallet is not None and wallet.outcome == "created"
    assert "the tax id was added to the investor first" in form.status.value  # said, and no longer 'has none'
    assert "has no tax id yet" not in form.header.value
    taxed = client.investors.get(investor.id)["tax_information"]
    assert taxed["tax_identification_number"] == "98765432101" and tax_id.widget.value == ""  # forgotten once sent
    assert "tax id" not in forms.WalletForm(client, investor.id).header.value  # an investor with one is not asked


def test_the_investor_cards_rows_are_picked_by_field_not_by_label(client: helpers.Client) -> None:
    """The result card shows the investor's name, e-mail and IBAN fields (masked), once each: an undocumented field
    that happens to carry the same label (another part's ``email``) is not one of them."""
    from helpers.core import models
    from helpers.core.records import Record

    record = Record(
        {
            "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "natural_person": {"forename": "Ada", "surname": "Lovelace", "city": "London"},
            "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
            "communication": {"email": "ada@example.com"},
            "notification": {"email": "alerts@example.com"},
        }
    )
    rows = forms.InvestorForm(client).result_rows(record)
    labels = [name for name, _value in rows]
    assert labels == [
        "Investor id",
        models.label("natural_person.forename"),
        models.label("natural_person.surname"),
        models.label("bank_account.iban"),
        models.label("communication.email"),
    ]
    shown = " ".join(value for _name, value in rows)
    assert "Ada" not in shown and "ada@" not in shown and "DE89370400440532013000" not in shown


def test_a_sent_form_keeps_no_list_of_everyones_names(client: helpers.Client) -> None:
    """The investor picker lists every investor by name while a person picks; once the form is sent it keeps only
    the one chosen, by id (a saved notebook keeps widget state), and 'Another' lists them again."""
    investor, _wallet = onboarded(client)
    form = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor.id,
            "units": 3,
            "signed_at": SIGNED_AT,
            "document": b"%PDF-1.4 x",
        },
    )
    assert any("Lovelace" in label for label, _id in form.investor.options)
    assert form.submit() is not None
    assert form.investor.options == ((f"investor {investor.id[:8]}", investor.id),)
    form.start_again()
    assert any("Lovelace" in label for label, _id in form.investor.options) and form.investor.value == investor.id


def test_errors_of_the_whole_request_are_pointed_to_where_they_are(client: helpers.Client) -> None:
    """A document valid until before it was valid from is shown next to 'Valid to'; an error of the request as a
    whole goes in the table above the buttons, and the status line points there, not to fields marked ⚠."""
    investor = forms.InvestorForm(client, PERSON).submit()
    form = forms.IdentificationForm(client, investor.id, {**IDENT, "document_valid_to": "2021-01-01"})
    assert not form.review()
    assert "cannot expire" in form.fields["document_valid_to"].error.value
    assert "the fields marked ⚠ above." in form.status.value
    form.show_errors({"non_field_errors": ["The registry refuses this request as a whole."]})
    assert form._what_to_correct() == "what the table above the buttons says" and form.general_errors.value


def test_a_wallet_that_fails_after_the_tax_id_was_added_says_the_tax_id_stays(client: helpers.Client) -> None:
    investor = forms.InvestorForm(client, {**PERSON, "tax_id": "", "iban": unique_iban("no-kyc")}).submit()
    form = forms.WalletForm(client, investor.id)  # not identified yet: the registry refuses the wallet
    form.fields["tax_information.tax_identification_number"].widget.value = "98765432101"
    assert form.submit(raise_errors=False) is None
    assert "identif" in form.status.value and "the tax id was added to the investor" in form.status.value
    assert client.investors.get(investor.id)["tax_information"]["tax_identification_number"] == "98765432101"


def test_a_please_correct_line_goes_once_a_field_is_changed(client: helpers.Client) -> None:
    form = forms.InvestorForm(client, {**PERSON, "iban": "DE00 0000"})
    assert not form.review() and "Please correct" in form.status.value
    form.fields["bank_account.iban"].widget.value = unique_iban("corrected")
    assert "Nothing was sent yet; click <b>Review</b>" in form.status.value and form.review()


def test_a_company_is_asked_for_its_name_before_its_address(client: helpers.Client) -> None:
    """The legal person's fields start with the company's name (they started with the street)."""
    form = forms.InvestorForm(client)
    company = [path for path in form.fields if path.startswith("legal_person.")]
    assert company[:3] == ["legal_person.company_name", "legal_person.legal_form", "legal_person.registration_number"]
    assert company.index("legal_person.street") > company.index("legal_person.registration_court")


def test_a_failed_redemption_is_offered_again_when_its_investor_is_chosen(client: helpers.Client, sandbox: Any) -> None:
    """The reconciliation says 'retry the redemption (notebook 4)': choosing the investor there offers each failed
    redemption again (before: only right after it failed, in that session; a new one was made instead, and the
    failed one stayed in the report)."""
    from tests.test_helpers_client import failed_redemption, invest, onboard

    investor_id, wallet_id = onboard(client, "Retryable")
    client.investments.credit(invest(client, investor_id, wallet_id, 60).id)
    failed_redemption(client, sandbox, investor_id, wallet_id, 20)
    redeem = forms.RedemptionForm(client, {"investor_id": investor_id})
    sentence, again = redeem.earlier.children
    assert "A redemption of 20 units made today at" in sentence.value and "no units moved" in sentence.value
    assert "notebook 04, choosing the investor offers it" in failed_redemption_advice(client, investor_id)
    again.click()
    assert redeem.result is not None and redeem.result["status"] == "success" and redeem.result.outcome == "created"
    assert redeem.earlier.children == () and "holds <b>40</b>" in redeem.balance.value
    assert forms.RedemptionForm(client, {"investor_id": investor_id}).earlier.children == ()  # retried: not offered
    assert sorted(r["status"] for r in client.redemptions.list(investor_id=investor_id)) == ["failed", "success"]
    # the books show what the retry left (40): the report counts the failure as no difference (review 93), and says so
    report = reconcile_books_of(client, investor_id, 40)
    assert report.is_clean and report.headline().endswith(
        "1 failed redemption tried again with success since, as the books show: not a difference."
    )
    [advice] = reconcile_books_of(client, investor_id, 20).differences.query("category == 'redemption_failed'")[
        "action"
    ]  # books that booked both: the failed one is named, with its retry
    assert (
        advice.startswith("It was tried again from this journal: redemption ") and "is successful. Book that" in advice
    )


def test_a_redemption_whose_outcome_is_unknown_is_said_when_its_investor_is_chosen(
    client: helpers.Client, sandbox: Any
) -> None:
    """Review 71: the form showed the balance and offered the failed redemption again, and said nothing of one whose
    outcome is unknown, whose units may have moved (the reconciliation says not to retry it)."""
    from tests.test_helpers_client import invest, onboard

    investor_id, wallet_id = onboard(client, "Unknowable")
    client.investments.credit(invest(client, investor_id, wallet_id, 60).id)
    sandbox.admin("settings", {"task_outcome": "unknown"})
    try:
        with pytest.raises(helpers.TaskError):
            client.redemptions.create(investor_id, wallet_id, 25)
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    redeem = forms.RedemptionForm(client, {"investor_id": investor_id})
    [said] = redeem.earlier.children
    assert "A redemption of 25 units made today at" in said.value and "ended as 'unknown'" in said.value
    assert "may hold 25 units fewer" in said.value and "Do not redeem them again" in said.value
    assert not isinstance(said, widgets.Button) and "&lt;" not in said.value  # review 72: markup shown as text
    assert f"from wallet <span class='cl-id' title='{wallet_id}'>" in said.value  # (which wallet: review 72)
    client.redemptions.create(investor_id, wallet_id, 25, reference="redone, Cashlink said", on_duplicate="create")
    [said] = forms.RedemptionForm(client, {"investor_id": investor_id}).earlier.children  # said, never hidden
    assert (
        "ended as 'unknown'" in said.value and "One of the same 25 units from that wallet succeeded since" in said.value
    )
    assert "if that was this one done again once Cashlink said it failed, nothing is left to do" in said.value


def test_two_unknown_redemptions_of_the_same_units_are_each_asked_about(client: helpers.Client, sandbox: Any) -> None:
    """Review 74: a later redemption of the same units that is itself unknown does not settle an earlier one: both
    may have moved."""
    from tests.test_helpers_client import invest, onboard

    investor_id, wallet_id = onboard(client, "Twice Unknown")
    client.investments.credit(invest(client, investor_id, wallet_id, 60).id)
    sandbox.admin("settings", {"task_outcome": "unknown"})
    try:
        for reference in ("first", "second"):
            with pytest.raises(helpers.TaskError):
                client.redemptions.create(investor_id, wallet_id, 25, reference=reference, on_duplicate="create")
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    first, second = forms.RedemptionForm(client, {"investor_id": investor_id}).earlier.children
    assert "Another redemption of the same 25 units from that wallet is in the registry (unknown)" in first.value
    assert "ask Cashlink about both" in first.value and "nothing is left to do" not in first.value
    assert "Another redemption" not in second.value  # (none made after the second)


def reconcile_books_of(client: helpers.Client, investor_id: str, units: int) -> Any:
    """The reconciliation of books that hold ``units`` for the investor."""
    import pandas as pd

    from helpers.data import reconcile

    ledger = pd.DataFrame([{"investor_id": investor_id, "product_id": client.config.product_id, "units": units}])
    return reconcile.reconcile(client, ledger)


def failed_redemption_advice(client: helpers.Client, investor_id: str) -> str:
    """What the reconciliation says to do about the investor's failed redemption."""
    import pandas as pd

    from helpers.data import reconcile

    ledger = pd.DataFrame([{"investor_id": investor_id, "product_id": client.config.product_id, "units": 40}])
    report = reconcile.reconcile(client, ledger)
    [advice] = report.differences.loc[report.differences["category"] == "redemption_failed", "action"]
    return str(advice)


def test_a_failed_redemption_done_again_by_hand_is_not_retried_unasked(client: helpers.Client, sandbox: Any) -> None:
    """Review 36: a failed redemption redeemed again by hand was still offered, and one click took the units out a
    second time. Now the offer says so and asks for 'all the same'; retry() asks; the report says which to book."""
    from tests.test_helpers_client import failed_redemption, invest, onboard

    investor_id, wallet_id = onboard(client, "Doubler")
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    failed_id = str(failed_redemption(client, sandbox, investor_id, wallet_id, 3).task["id"])
    by_hand = client.redemptions.create(investor_id, wallet_id, 3, reference="by hand")  # the same units again
    assert by_hand.outcome == "created" and by_hand["status"] == "success"
    with pytest.raises(helpers.PossibleDuplicate, match=r"was made after the failed one .* Nothing was sent"):
        client.redemptions.retry(failed_id)
    redeem = forms.RedemptionForm(client, {"investor_id": investor_id})
    sentence, again = redeem.earlier.children
    assert "was made since" in sentence.value and "nothing to retry" in sentence.value
    assert again.description == "Retry the redemption of 3 units all the same"
    assert "was made after it" in failed_redemption_advice(client, investor_id)
    assert sorted(r["status"] for r in client.redemptions.list(investor_id=investor_id)) == ["failed", "success"]
    again.click()  # asked, and said: all the same
    assert redeem.result is not None and redeem.result["status"] == "success"
    assert len(client.redemptions.list(investor_id=investor_id).to_list()) == 3


def test_one_later_redemption_answers_for_one_failed_one_only(client: helpers.Client, sandbox: Any) -> None:
    """Review 37: two failed redemptions of the same units, one retried here: the retry is that one's, so the other
    is still offered as failed (it read 'done again', and the report said to book the retry twice)."""
    from tests.test_helpers_client import failed_redemption, invest, onboard

    investor_id, wallet_id = onboard(client, "Twofailed")
    client.investments.credit(invest(client, investor_id, wallet_id, 20).id)
    failed = [
        str(failed_redemption(client, sandbox, investor_id, wallet_id, 2, reference).task["id"])
        for reference in ("first", "second")
    ]
    retried = client.redemptions.retry(failed[0])
    assert retried["status"] == "success"
    redeem = forms.RedemptionForm(client, {"investor_id": investor_id})
    sentence, again = redeem.earlier.children  # the second one only, as failed, not 'done again'
    assert "Once the cause is fixed" in sentence.value and again.description == "Try the redemption of 2 units again"
    assert client.redemptions.retry(failed[1])["status"] == "success"  # not asked: no other answers for it


def test_an_investor_onboarded_before_keeps_its_wallet_and_identification_by_a_click(client: helpers.Client) -> None:
    """Review 46: onboarding again someone who has a wallet made a second one without a word, and the identification
    step had to be typed again. Each step says what the investor has and offers it."""
    from tests.test_helpers_client import onboard

    investor_id, wallet_id = onboard(client, "Returning")
    wallet_form = forms.WalletForm(client, investor_id)
    assert "This investor has 1 wallet already" in wallet_form.header.value
    (use,) = wallet_form.choices.children
    assert use.description == f"Use wallet {wallet_id[:8]}"
    use.click()
    assert wallet_form.result is not None and wallet_form.result.id == wallet_id
    assert wallet_form.result.outcome == "existed" and len(client.investors.wallets(investor_id)) == 1
    identification_form = forms.IdentificationForm(client, investor_id)
    assert "This investor has an identification already" in identification_form.header.value
    (use_it,) = identification_form.choices.children
    use_it.click()
    assert identification_form.result is not None and identification_form.result.outcome == "existed"
    assert len(client.investors.identifications(investor_id)) == 1
    new_investor = client.investors.create(investor_body("Fresh"))
    assert forms.WalletForm(client, new_investor.id).choices.children == ()  # nothing to offer


def test_an_investor_typed_as_the_registry_has_it_is_not_offered_as_an_update(client: helpers.Client) -> None:
    """Review 46: typing a known person exactly as the registry has them offered 'Update the existing investor'."""
    forms.InvestorForm(client, PERSON).submit()
    again = forms.InvestorForm(client, PERSON)
    assert again.submit(raise_errors=False, reference="typed again") is None
    assert "What you typed is what it has" in again.status.value
    offered = [button.description for button in again.choices.children]
    assert "Use the existing investor" in offered and not any("Update" in label for label in offered), offered


def test_an_offer_shown_with_a_form_leaves_submit_green(client: helpers.Client) -> None:
    """The identification and wallet forms of an onboarded investor offer what it has ('Use this identification',
    'Use wallet …'): no question, so Submit stays green (review 68: it turned grey beside them)."""
    investor, _wallet = onboarded(client)
    for form in (forms.IdentificationForm(client, investor.id, IDENT), forms.WalletForm(client, investor.id)):
        form.review()
        assert form.choices.children and form.submit_button.button_style == "success", form.title


def test_the_offer_to_use_what_the_investor_has_stays_until_the_step_is_done(client: helpers.Client) -> None:
    """Review 88: the first keystroke (or the wallet kind switched and back) took 'Use this identification' and 'Use
    wallet …' away, while the form's text still pointed to them."""
    investor, wallet = onboarded(client)
    identification = forms.IdentificationForm(client, investor.id, IDENT)
    identification.fields["document_id"].widget.value = "X1"  # a keystroke
    assert [b.description for b in identification.choices.children] == ["Use this identification"]
    identification.review()
    identification.fields["document_id"].widget.value = "X12"
    assert [b.description for b in identification.choices.children] == ["Use this identification"]
    wallets = forms.WalletForm(client, investor.id)
    wallets.kind.value = "eth-generic"
    wallets.kind.value = "eth-managed"
    (use,) = wallets.choices.children
    assert use.description == f"Use wallet {wallet.id[:8]}" and wallets.submit_button.button_style == "success"
    sent = client.transport.requests_sent
    use.click()
    assert wallets.result is not None and wallets.result.id == wallet.id and client.transport.requests_sent == sent
    assert not wallets.choices.children  # the step is done: nothing more is offered
    wallets.again_button.click()  # review 89: 'Another wallet' shows the inputs, and the offer the text names
    assert [b.description for b in wallets.choices.children] == [f"Use wallet {wallet.id[:8]}"]


def test_a_campaigns_listing_is_read_with_its_numbers_as_text_or_missing() -> None:
    """Review 89: a registry that sends a campaign's numbers as text ('0', as DRF writes decimals) or not at all."""
    label = forms._campaign_label
    assert label({"name": "A", "available_units": "0"}) == "A · sold out"
    assert label({"name": "B", "available_units": "20", "min_units": "100"}) == "B · 20 units left, too few"
    assert label({"name": "C", "active": "false", "available_units": 5}) == "C · closed"
    assert label({"name": "D", "available_units": "1000"}) == "D · 1,000 units left"
    assert label({"name": "E"}) == "E"  # (not '? units left')
    assert label({"name": "F", "available_units": -5}) == "F · sold out"  # review 91
    assert (
        label({"name": "G", "active": 0, "available_units": 5}) == label({"name": "G", "active": "no"}) == "G · closed"
    )


def test_a_new_investment_made_with_a_file_uploaded_before_says_so(client: helpers.Client) -> None:
    """Review 90: the ID protocol chosen as the signed subscription made the investment with the protocol's document,
    and nothing said so; review 91: not for an unattended run's default document, and advice that can be followed."""
    investor, _wallet = onboarded(client)
    earlier = client.documents.upload(b"%PDF-1.4 the protocol", "protocol.pdf")
    defaults = {"investor_id": investor.id, "signed_at": SIGNED_AT, "units": 5}
    form = forms.InvestmentForm(client, defaults)
    form.fields["signed_document"].widget.value = uploaded("protocol.pdf", b"%PDF-1.4 the protocol", "application/pdf")
    record = form.submit()
    assert record is not None and record["signed_documents"][0]["document_id"] == earlier.id
    said = html.unescape(form.status.value)
    assert f"this file was uploaded before (document {earlier.id[:8]}), so that document is the signed" in said, said
    assert f"of investment {record.id[:8]}. If that is the wrong file" in said and "ask Cashlink's support" in said
    unattended = forms.InvestmentForm(client, {**defaults, "units": 6, "document": b"%PDF-1.4 the protocol"})
    assert unattended.submit() is not None and "uploaded before" not in unattended.status.value  # (a default file)
