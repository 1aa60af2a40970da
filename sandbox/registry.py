"""The registry's business rules: investors, KYC, wallets, investments and their status machine, credits,
redemptions (FIFO) and transfers. Independent of HTTP; every method runs inside the caller's transaction.

Inputs arrive as validated request models (:mod:`sandbox.models`); what is stored is the answer the strict profile
gives, and the drf profile's answers leave out the fields in :data:`UNDOCUMENTED`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eth_utils import to_checksum_address
from pydantic import BaseModel, ValidationError

from sandbox import webhooks
from sandbox.checks import DOCUMENT_TYPES, IDENTITY_PROVIDERS
from sandbox.errors import ApiError, drf_body, invalid, not_found, refused
from sandbox.models import (
    BankAccount,
    BenefitingPersonCreate,
    Communication,
    GenericWalletCreate,
    IdentificationCreate,
    InvestmentCreate,
    InvestmentUpdate,
    InvestorCreate,
    InvestorUpdate,
    LegalPerson,
    NaturalPerson,
    RedemptionCreate,
    TaxInformation,
    TransferCreate,
)
from sandbox.settings import Profile, Settings
from sandbox.store import SHARED, Store

FINAL_STATUSES = {"DELIVERED", "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING"}
ALLOWED_UPLOAD_TYPES = {"application/pdf", "image/png", "image/jpeg"}
TASK_SUCCESS = {"credit": "success", "redemption": "success", "transfer": "succeeded"}
IDENTIFICATION_FIELDS = (
    "document_type",
    "document_id",
    "document_issuer",
    "document_valid_from",
    "document_valid_to",
    "identity_provider",
    "legitimation_process_id",
    "legitimation_protocol_id",
    "verified_at",
)

# Fields the sandbox keeps (the business rules read them) but the API documentation does not name: the strict
# profile answers with them, the drf profile leaves them out (section 6, D-F).
UNDOCUMENTED: dict[str, tuple[str, ...]] = {
    "investor": ("kyc_status", "benefiting_persons"),
    "investment": ("remaining_units", "status_changed_at"),
    "registry_statement": ("remaining_units",),
    "credit": ("settled_at",),
    "redemption": ("allocations", "settled_at"),
    "transfer": ("receiver_investment_id", "settled_at", "units"),
}


def _units(count: Any) -> str:
    """'1 unit', '5 units'."""
    return f"{count} unit{'' if count == 1 else 's'}"


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return now().isoformat(timespec="microseconds")


def new_id() -> str:
    return str(uuid.uuid4())


def money(value: Decimal, decimals: int, currency: str = "EUR") -> dict[str, Any]:
    """A Money object: ``amount`` is the value in units of 10^-decimals, as an integer string."""
    return {"amount": str(int(value.scaleb(decimals))), "decimals": decimals, "currency": currency}


def times(units: int, price: dict[str, Any]) -> dict[str, Any]:
    """``units`` times a Money price, exactly."""
    return {**price, "amount": str(units * int(price["amount"]))}


class Registry:
    def __init__(self, store: Store, settings: Settings, profile: Profile) -> None:
        self.store = store
        self.settings = settings
        self.profile = profile

    @contextmanager
    def work(self) -> Iterator[None]:
        """One request's unit of work: a transaction, after settling the tasks that are due."""
        with self.store.transaction():
            self.settle_due()
            yield

    def public(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """The answer a client sees of an object (the drf profile drops undocumented fields)."""
        if self.profile.undocumented_fields:
            return data
        return {key: value for key, value in data.items() if key not in UNDOCUMENTED.get(kind, ())}

    def _existing(self, kind: str, object_id: str, tenant: str, label: str) -> dict[str, Any]:
        found = self.store.get(kind, object_id, tenant)
        if found is None:
            raise not_found(label)
        return found

    # --- documents ----------------------------------------------------------------------------------------------

    def upload_document(self, tenant: str, filename: str, content_type: str, content: bytes) -> dict[str, Any]:
        if not content:
            raise invalid("file", "The submitted file is empty.")
        if len(content) > self.settings.max_upload_bytes:
            limit = self.settings.max_upload_bytes
            raise ApiError(413, {"file": [f"The file is larger than the limit of {limit} bytes."]})
        if content_type not in ALLOWED_UPLOAD_TYPES:
            allowed = ", ".join(sorted(ALLOWED_UPLOAD_TYPES))
            raise invalid("file", f"Files of type {content_type or 'unknown'} are not accepted; use {allowed}.")
        document: dict[str, Any] = {
            "id": new_id(),
            "name": filename or "document",
            "content_type": content_type,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "created_at": now_iso(),
        }
        self.store.insert("document", tenant, document)
        self.store.put_file(document["id"], content)
        return document

    def _document(self, tenant: str, document_id: str, field: str) -> dict[str, Any]:
        document = self.store.get("document", document_id, tenant)
        if document is None:
            raise invalid(field, f"No uploaded document has the id {document_id}.")
        return document

    # --- investors ----------------------------------------------------------------------------------------------

    def create_investor(self, tenant: str, body: InvestorCreate, object_id: str | None = None) -> dict[str, Any]:
        kind = "natural_person" if body.natural_person else "legal_person"
        person = body.natural_person or body.legal_person
        assert person is not None  # the model requires exactly one
        if body.legal_person and (doc := body.legal_person.commercial_register_document_id):
            self._document(tenant, doc, "legal_person.commercial_register_document_id")
        investor = {
            "id": object_id or new_id(),
            kind: person.model_dump(),
            "bank_account": body.bank_account.model_dump() if body.bank_account else None,
            "tax_information": body.tax_information.model_dump() if body.tax_information else None,
            "communication": body.communication.model_dump() if body.communication else None,
            "kyc_status": "PENDING",
            "benefiting_persons": 0 if kind == "legal_person" else None,
            "created_at": now_iso(),
        }
        return self.store.insert("investor", tenant, investor, status="PENDING")

    def investor(self, tenant: str, investor_id: str) -> dict[str, Any]:
        return self._existing("investor", investor_id, tenant, "Investor")

    def update_investor(self, tenant: str, investor_id: str, body: InvestorUpdate) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        if body.model_extra:
            raise ApiError(
                400, {name: ["This field cannot be changed through the API."] for name in sorted(body.model_extra)}
            )
        full: dict[str, type[BaseModel]] = {
            "natural_person": NaturalPerson,
            "legal_person": LegalPerson,
            "bank_account": BankAccount,
            "tax_information": TaxInformation,
            "communication": Communication,
        }
        for name in body.model_fields_set:
            change = getattr(body, name)
            if change is None:
                continue
            if name in ("natural_person", "legal_person") and name not in investor:
                raise ApiError(400, {name: [f"This investor is not a {name.replace('_', ' ')}."]})
            given = change if isinstance(change, dict) else change.model_dump(exclude_none=True)
            merged = {**(investor.get(name) or {}), **given}
            try:
                investor[name] = full[name].model_validate(merged).model_dump()
            except ValidationError as exc:
                raise ApiError(400, {name: drf_body(exc.errors())}) from None
        return self.store.update(investor_id, investor)

    def _kyc_complete(self, investor: dict[str, Any]) -> bool:
        if investor["kyc_status"] != "SUCCESS":
            return False
        return "legal_person" not in investor or investor.get("benefiting_persons", 0) > 0

    def create_identification(self, tenant: str, investor_id: str, body: IdentificationCreate) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        given = {name: getattr(body, name) for name in IDENTIFICATION_FIELDS if getattr(body, name) is not None}
        identification: dict[str, Any] = {"id": new_id(), "investor_id": investor_id, "created_at": now_iso()}
        if given:  # variant A: an identification performed elsewhere, imported
            missing = [name for name in IDENTIFICATION_FIELDS if name not in given]
            if missing:
                raise ApiError(400, {name: ["This field is required."] for name in missing})
            if not self.profile.lenient_enums:
                for name, allowed in (("document_type", DOCUMENT_TYPES), ("identity_provider", IDENTITY_PROVIDERS)):
                    given[name] = given[name].upper()
                    if given[name] not in allowed:
                        raise invalid(name, f"'{given[name]}' is not one of {', '.join(allowed)}.")
            if given["document_valid_to"] < given["document_valid_from"]:
                raise invalid(
                    "document_valid_to",
                    f"The document cannot expire ({given['document_valid_to']}) "
                    f"before it is valid ({given['document_valid_from']}).",
                )
            self._document(tenant, given["legitimation_protocol_id"], "legitimation_protocol_id")
            identification.update(given, status="SUCCESS")
        else:  # variant B: video identification run by the registry; completes later
            identification.update(status="PENDING", url=f"https://ident.sandbox.invalid/{identification['id']}")
        self.store.insert(
            "identification", tenant, identification, parent_id=investor_id, status=identification["status"]
        )
        if identification["status"] == "SUCCESS":
            self._set_kyc(tenant, investor, "SUCCESS")
        return identification

    def complete_identification(self, identification_id: str, succeeded: bool) -> dict[str, Any]:
        tenant = self.store.tenant_of(identification_id)
        identification = self.store.get("identification", identification_id)
        if identification is None or tenant is None:
            raise not_found("Identification")
        identification["status"] = "SUCCESS" if succeeded else "FAILED"
        identification["verified_at"] = now_iso()
        self.store.update(identification_id, identification, status=identification["status"])
        self._set_kyc(tenant, self.investor(tenant, identification["investor_id"]), identification["status"])
        return identification

    def _set_kyc(self, tenant: str, investor: dict[str, Any], status: str) -> None:
        investor["kyc_status"] = status
        self.store.update(investor["id"], investor, status=status)
        self._advance_investor(tenant, investor)

    def create_benefiting_person(self, tenant: str, investor_id: str, body: BenefitingPersonCreate) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        if "legal_person" not in investor:
            raise refused("Benefiting persons can only be added to legal persons.")
        person = {"id": new_id(), "investor_id": investor_id, **body.model_dump(), "created_at": now_iso()}
        self.store.insert("benefiting_person", tenant, person, parent_id=investor_id)
        investor["benefiting_persons"] = investor.get("benefiting_persons", 0) + 1
        self.store.update(investor_id, investor)
        self._advance_investor(tenant, investor)
        return person

    # --- wallets ------------------------------------------------------------------------------------------------

    def create_wallet(
        self, tenant: str, investor_id: str, kind: str, body: GenericWalletCreate | None, object_id: str | None = None
    ) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        if kind == "eth-generic":
            if body is None:
                raise invalid("address", "This field is required.")
            address = body.address
            receiving_enabled = True if body.receiving_enabled is None else body.receiving_enabled
        else:
            if self.store.all("wallet", tenant, parent_id=investor_id, status="eth-managed"):
                raise refused("This investor already has a managed wallet; an investor can have only one.")
            address = to_checksum_address("0x" + secrets.token_hex(20))
            receiving_enabled = True
        is_custodian = bool((investor.get("legal_person") or {}).get("is_custodian_bank"))
        if investor["kyc_status"] != "SUCCESS" and not is_custodian:
            raise refused("The investor has no successful identification yet; identify the investor first.")
        if not (investor.get("tax_information") or {}).get("tax_identification_number") and not is_custodian:
            raise refused("The investor has no tax information; add tax_information before creating a wallet.")
        if self.store.find_by_address(address):
            raise invalid("address", f"The address {address} is already registered to an investor.")
        wallet = {
            "id": object_id or new_id(),
            "type": kind,
            "address": address,
            "receiving_enabled": receiving_enabled,
            "frozen": False,
            "investor_id": investor_id,
            "created_at": now_iso(),
        }
        return self.store.insert("wallet", tenant, wallet, parent_id=investor_id, status=kind, address=address)

    def wallet(self, tenant: str, wallet_id: str) -> dict[str, Any]:
        return self.with_balances(self._existing("wallet", wallet_id, tenant, "Wallet"))

    def with_balances(self, wallet: dict[str, Any]) -> dict[str, Any]:
        """The strict profile's wallets carry their balance per product (a sandbox extra)."""
        if not self.profile.undocumented_fields:
            return wallet
        rows = self.store.execute(
            "SELECT product_id, SUM(json_extract(data, '$.remaining_units')) AS units FROM objects "
            "WHERE kind = 'investment' AND wallet_id = ? AND status = 'DELIVERED' GROUP BY product_id "
            "ORDER BY product_id",
            [wallet["id"]],
        )
        return {
            **wallet,
            "balances": [{"product_id": r["product_id"], "units": r["units"]} for r in rows if r["units"]],
        }

    def _balance(self, wallet_id: str, product_id: str) -> int:
        """Units in the wallet for the product, minus what pending redemptions and transfers hold back."""
        held = self.store.execute(
            "SELECT COALESCE(SUM(json_extract(data, '$.remaining_units')), 0) FROM objects "
            "WHERE kind = 'investment' AND wallet_id = ? AND product_id = ? AND status = 'DELIVERED'",
            [wallet_id, product_id],
        )[0][0]
        pending = self.store.execute(
            "SELECT COALESCE(SUM(json_extract(data, '$.units')), 0) FROM objects "
            "WHERE kind IN ('redemption', 'transfer') AND wallet_id = ? AND product_id = ? AND status = 'processing'",
            [wallet_id, product_id],
        )[0][0]
        return int(held) - int(pending)

    # --- investments --------------------------------------------------------------------------------------------

    def create_investment(self, tenant: str, body: InvestmentCreate) -> dict[str, Any]:
        if not body.signed_at:
            raise invalid(
                "signed_at",
                "Web-based subscriptions (without signed_at) are not enabled for this "
                "account; give the time the investor signed.",
            )
        investor = self.store.get("investor", body.investor_id, tenant)
        if investor is None:
            raise invalid("investor_id", f"No investor has the id {body.investor_id}.")
        campaign = self.store.get("campaign", body.campaign_id, tenant)
        if campaign is None:
            raise invalid("campaign_id", f"No campaign has the id {body.campaign_id}.")
        if not campaign["active"]:
            raise invalid("campaign_id", "This campaign is closed for new investments.")
        units = body.units
        if units < campaign["min_units"]:
            raise invalid("units", f"Units must be at least {campaign['min_units']}; got {units}.")
        if units % campaign["step_size"]:
            raise invalid("units", f"Units must be a multiple of the step size {campaign['step_size']}.")
        if units > (left := campaign["available_units"]):
            raise invalid(
                "units",
                f"Only {_units(left)} {'is' if left == 1 else 'are'} left in this campaign.",
            )
        for position, item in enumerate(body.signed_documents):
            self._document(tenant, item.document_id, f"signed_documents.{position}.document_id")
        if body.wallet:
            self._investor_wallet(tenant, body.wallet, investor["id"], "wallet")
        price = campaign["price_per_unit"]
        created = now_iso()
        investment = {
            "id": new_id(),
            "investor_id": investor["id"],
            "campaign_id": campaign["id"],
            "product_id": campaign["product_id"],
            "status": "KYC_PENDING",
            "units": units,
            "remaining_units": 0,
            "investment_amount": times(units, price),
            "remaining_amount": times(0, price),
            "signed_at": body.signed_at,
            "accepted_at": body.accepted_at,
            "paid_at": body.paid_at,
            "delivered_at": None,
            "cancellation_date": None,
            "cancellation_reason": None,
            "signed_documents": [item.model_dump() for item in body.signed_documents],
            "wallet": body.wallet,
            "created_at": created,
            "status_changed_at": created,
        }
        campaign["available_units"] -= units
        self.store.update(campaign["id"], campaign)
        self.store.insert(
            "investment",
            tenant,
            investment,
            investor_id=investor["id"],
            product_id=campaign["product_id"],
            campaign_id=campaign["id"],
            wallet_id=body.wallet,
            status="KYC_PENDING",
        )
        if self._advance(investment, investor)["status"] == "KYC_PENDING":
            self._set_status(investment, "KYC_PENDING", announce=True)
        return investment

    def investment(self, tenant: str, investment_id: str) -> dict[str, Any]:
        return self._existing("investment", investment_id, tenant, "Investment")

    def update_investment(self, tenant: str, investment_id: str, body: InvestmentUpdate) -> dict[str, Any]:
        investment = self.investment(tenant, investment_id)
        if body.model_extra:
            raise ApiError(
                400,
                {
                    name: ["This field cannot be changed after the investment is created."]
                    for name in sorted(body.model_extra)
                },
            )
        if investment["status"] in FINAL_STATUSES:
            raise refused(f"The investment is {investment['status']} and can no longer be changed.")
        changes = {name: getattr(body, name) for name in body.model_fields_set if getattr(body, name) is not None}
        if "wallet" in changes:
            self._investor_wallet(tenant, changes["wallet"], investment["investor_id"], "wallet")
        investment.update(changes)
        self.store.update(investment_id, investment, wallet_id=investment["wallet"])
        return self._advance(investment, self.investor(tenant, investment["investor_id"]))

    def _investor_wallet(self, tenant: str, wallet_id: str, investor_id: str, field: str) -> dict[str, Any]:
        wallet = self.store.get("wallet", wallet_id, tenant)
        if wallet is None or wallet["investor_id"] != investor_id:
            raise invalid(field, f"The investor has no wallet with the id {wallet_id}.")
        return wallet

    def _advance(self, investment: dict[str, Any], investor: dict[str, Any]) -> dict[str, Any]:
        """Move an investment as far along the status machine as its data allows."""
        if investment["status"] in FINAL_STATUSES or investment["status"] == "REVIEW_PENDING":
            return investment
        if not self._kyc_complete(investor):
            status = "KYC_INSUFFICIENT" if investor["kyc_status"] == "FAILED" else "KYC_PENDING"
        elif not investment["accepted_at"]:
            status = "WAITING_FOR_ACCEPTANCE"
        elif not investment["paid_at"]:
            status = "ACCEPTED"
        else:
            status = "PAID"
        return self._set_status(investment, status)

    def _set_status(self, investment: dict[str, Any], status: str, announce: bool = False) -> dict[str, Any]:
        """Store a status; a change (or ``announce``, for a new investment) is sent as a webhook event."""
        if status != investment["status"] or announce:
            investment["status"] = status
            investment["status_changed_at"] = now_iso()
            if status in {"ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING", "KYC_INSUFFICIENT"}:
                investment["cancellation_date"] = investment["status_changed_at"][:10]
                investment["cancellation_reason"] = status
            webhooks.enqueue(
                self.store,
                self.store.tenant_of(investment["id"]) or SHARED,
                investment["id"],
                status,
                investment["status_changed_at"],
            )
        self.store.update(investment["id"], investment, status=status)
        return investment

    def force_status(self, investment_id: str, status: str, changed_at: str | None = None) -> dict[str, Any]:
        """Sandbox only: put an investment in any status (for demos of stuck or failed investments)."""
        investment = self.store.get("investment", investment_id)
        if investment is None:
            raise not_found("Investment")
        self._set_status(investment, status)
        if changed_at:
            investment["status_changed_at"] = changed_at
            self.store.update(investment_id, investment)
        return investment

    def _advance_investor(self, tenant: str, investor: dict[str, Any]) -> None:
        for investment in self.store.all("investment", tenant, investor_id=investor["id"], status="KYC_PENDING"):
            self._advance(investment, investor)

    def _statement(self, tenant: str, investment: dict[str, Any], reason: str) -> None:
        statement = {
            "id": new_id(),
            "investment_id": investment["id"],
            "reason": reason,
            "remaining_units": investment["remaining_units"],
            "remaining_amount": investment["remaining_amount"],
            "document_id": None,
            "created_at": now_iso(),
        }
        self.store.insert("registry_statement", tenant, statement, parent_id=investment["id"])

    def _set_remaining(self, investment: dict[str, Any], remaining: int) -> None:
        price = int(investment["investment_amount"]["amount"]) // max(investment["units"], 1)
        investment["remaining_units"] = remaining
        investment["remaining_amount"] = {**investment["investment_amount"], "amount": str(remaining * price)}

    # --- tasks: credits, redemptions, transfers -----------------------------------------------------------------

    def _task(self, tenant: str, kind: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        task = {
            "id": new_id(),
            **data,
            "status": "processing",
            "error": None,
            "created_at": now_iso(),
            "settled_at": None,
        }
        self.store.insert(kind, tenant, task, status="processing", **refs)
        if self.settings.settle_delay <= 0:
            return self._settle(kind, task)
        return task

    def credit(self, tenant: str, investment_id: str) -> dict[str, Any]:
        investment = self.investment(tenant, investment_id)
        earlier = [t for t in self.store.all("credit", tenant, parent_id=investment_id) if t["status"] != "failed"]
        if earlier:
            raise refused(f"The investment was already credited (task {earlier[0]['id']}, {earlier[0]['status']}).")
        if investment["status"] != "PAID":
            raise refused(f"Only PAID investments can be credited; this one is {investment['status']}.")
        if not investment["wallet"]:
            raise refused("The investment has no wallet; set one with PATCH before crediting.")
        return self._task(
            tenant,
            "credit",
            {"investment_id": investment_id},
            parent_id=investment_id,
            investor_id=investment["investor_id"],
            product_id=investment["product_id"],
        )

    def create_redemption(self, tenant: str, body: RedemptionCreate) -> dict[str, Any]:
        if not self.store.get("investor", body.investor_id, tenant):
            raise invalid("investor_id", "No investor has this id.")
        if not self.store.get("product", body.product_id, tenant):
            raise invalid("product_id", "No product has this id.")
        wallet = self._investor_wallet(tenant, body.wallet_id, body.investor_id, "wallet_id")
        available = self._balance(wallet["id"], body.product_id)
        if body.units > available:
            raise invalid(
                "units", f"The wallet holds only {_units(available)} of this product; cannot redeem {body.units}."
            )
        data = {**body.model_dump(), "allocations": []}
        return self._task(
            tenant,
            "redemption",
            data,
            investor_id=body.investor_id,
            product_id=body.product_id,
            wallet_id=body.wallet_id,
        )

    def create_transfer(self, tenant: str, body: TransferCreate) -> dict[str, Any]:
        if not self.store.get("product", body.product, tenant):
            raise invalid("product", "No product has this id.")
        source = self.store.get("wallet", body.source_wallet, tenant)
        if source is None:
            raise invalid("source_wallet", "No wallet has this id.")
        if source["type"] != "eth-managed" or source["frozen"]:
            raise invalid("source_wallet", "Transfers need a managed wallet that is not frozen.")
        target = self.store.find_by_address(body.target_address)
        if target is None:
            raise invalid("target_address", "No wallet registered on the registry has this address.")
        if not target[1]["receiving_enabled"]:
            raise invalid("target_address", "The receiving wallet does not accept incoming transfers.")
        available = self._balance(source["id"], body.product)
        too_much = body.amount > available if self.profile.transfer_allows_equal else body.amount >= available
        if too_much:
            rule = "at most" if self.profile.transfer_allows_equal else "lower than"
            raise invalid(
                "amount",
                f"The wallet holds only {_units(available)} of this product; the amount must be "
                f"{rule} that, so {body.amount} cannot be transferred.",
            )
        data = {**body.model_dump(), "units": body.amount, "receiver_investment_id": None}
        return self._task(
            tenant, "transfer", data, investor_id=source["investor_id"], product_id=body.product, wallet_id=source["id"]
        )

    def settle_due(self) -> None:
        """Finish the tasks whose settlement delay has passed (called before every request)."""
        delay = self.settings.settle_delay
        for kind, task in self.store.processing_tasks():
            if kind not in TASK_SUCCESS:
                continue
            if (now() - datetime.fromisoformat(task["created_at"])).total_seconds() >= delay:
                self._settle(kind, task)

    def _settle(self, kind: str, task: dict[str, Any]) -> dict[str, Any]:
        tenant = self.store.tenant_of(task["id"]) or SHARED
        outcome = self.settings.task_outcome
        if outcome == "success":
            try:
                getattr(self, f"_settle_{kind}")(tenant, task)
                task["status"] = TASK_SUCCESS[kind]
            except ApiError as exc:  # the ledger refused: e.g. the balance moved meanwhile
                task["status"], task["error"] = "failed", exc.body.get("detail", str(exc.body))
        else:
            task["status"] = outcome
            task["error"] = (
                "The blockchain rejected the transaction (sandbox task_outcome)." if outcome == "failed" else None
            )
        task["settled_at"] = now_iso()
        self.store.update(task["id"], task, status=task["status"])
        return task

    def _settle_credit(self, tenant: str, task: dict[str, Any]) -> None:
        investment = self.investment(tenant, task["investment_id"])
        self._set_remaining(investment, investment["units"])
        investment["delivered_at"] = now_iso()
        self._set_status(investment, "DELIVERED")
        self._statement(tenant, investment, "ISSUANCE")

    def _consume_fifo(
        self, tenant: str, wallet_id: str, product_id: str, units: int, reason: str
    ) -> list[dict[str, Any]]:
        allocations = []
        for investment in self.store.all(
            "investment", None, wallet_id=wallet_id, product_id=product_id, status="DELIVERED"
        ):
            if units == 0:
                break
            take = min(units, investment["remaining_units"])
            if take == 0:
                continue
            self._set_remaining(investment, investment["remaining_units"] - take)
            self.store.update(investment["id"], investment)
            self._statement(tenant, investment, reason)
            allocations.append({"investment_id": investment["id"], "units": take})
            units -= take
        if units:
            raise refused("The wallet balance is too low.")
        return allocations

    def _settle_redemption(self, tenant: str, task: dict[str, Any]) -> None:
        task["allocations"] = self._consume_fifo(
            tenant, task["wallet_id"], task["product_id"], task["units"], "REDEMPTION"
        )

    def _settle_transfer(self, tenant: str, task: dict[str, Any]) -> None:
        source_allocations = self._consume_fifo(
            tenant, task["source_wallet"], task["product"], task["amount"], "TRANSFER"
        )
        found = self.store.find_by_address(task["target_address"])
        if found is None:
            raise refused("The receiving wallet is gone.")
        target_tenant, target = found
        first = self.investment(tenant, source_allocations[0]["investment_id"])
        price = int(first["investment_amount"]["amount"]) // max(first["units"], 1)
        received = {
            **first,
            "id": new_id(),
            "investor_id": target["investor_id"],
            "units": task["amount"],
            "investment_amount": {**first["investment_amount"], "amount": str(task["amount"] * price)},
            "signed_documents": [],
            "wallet": target["id"],
            "delivered_at": now_iso(),
            "created_at": now_iso(),
            "status_changed_at": now_iso(),
        }
        self._set_remaining(received, task["amount"])
        self.store.insert(
            "investment",
            target_tenant,
            received,
            investor_id=target["investor_id"],
            product_id=first["product_id"],
            campaign_id=first["campaign_id"],
            wallet_id=target["id"],
            status="DELIVERED",
        )
        self._statement(target_tenant, received, "TRANSFER")
        task["receiver_investment_id"] = received["id"]
