"""The registry's business rules: investors, KYC, wallets, investments and their status machine, credits,
redemptions (FIFO) and transfers. Independent of HTTP; every method runs inside the caller's transaction."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

from eth_utils import to_checksum_address

from sandbox import legacy_checks as checks
from sandbox import webhooks
from sandbox.settings import Settings
from sandbox.store import SHARED, Store

FINAL_STATUSES = {"DELIVERED", "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING"}
ALL_STATUSES = FINAL_STATUSES | {"KYC_PENDING", "REVIEW_PENDING", "WAITING_FOR_ACCEPTANCE", "ACCEPTED", "PAID"}
ALLOWED_UPLOAD_TYPES = {"application/pdf", "image/png", "image/jpeg"}
TASK_SUCCESS = {"credit": "success", "redemption": "success", "transfer": "succeeded"}


class ApiError(Exception):
    """An error answer: HTTP status and a DRF-style JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def invalid(errors: checks.FieldErrors) -> ApiError:
    return ApiError(400, checks.nest(errors))


def refused(detail: str, status: int = 400) -> ApiError:
    return ApiError(status, {"detail": detail})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"detail": f"{what} not found."})


def now() -> datetime:
    return datetime.now(timezone.utc)


def now_iso() -> str:
    return now().isoformat(timespec="microseconds")


def new_id() -> str:
    return str(uuid.uuid4())


def money(units: int, price: dict[str, Any]) -> dict[str, Any]:
    """``units`` times a Money price, exactly (integer minor units)."""
    return {"amount": str(units * int(price["amount"])), "decimals": price["decimals"], "currency": price["currency"]}


class Registry:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def _existing(self, kind: str, object_id: str, tenant: str, label: str) -> dict[str, Any]:
        """The tenant's object, or a 404 that names what was not found."""
        found = self.store.get(kind, object_id, tenant)
        if found is None:
            raise not_found(label)
        return found

    # --- documents ----------------------------------------------------------------------------------------------

    def upload_document(self, tenant: str, filename: str, content_type: str, content: bytes) -> dict[str, Any]:
        if not content:
            raise invalid({"file": ["The submitted file is empty."]})
        if len(content) > self.settings.max_upload_bytes:
            limit = self.settings.max_upload_bytes // (1024 * 1024)
            raise ApiError(413, {"file": [f"The file is larger than the {limit} MiB limit."]})
        if content_type not in ALLOWED_UPLOAD_TYPES:
            allowed = ", ".join(sorted(ALLOWED_UPLOAD_TYPES))
            raise invalid({"file": [f"Files of type {content_type or 'unknown'} are not accepted; use {allowed}."]})
        document = {
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
            raise invalid({field: [f"No uploaded document has the id {document_id}."]})
        return document

    # --- investors ----------------------------------------------------------------------------------------------

    def create_investor(self, tenant: str, body: dict[str, Any], object_id: str | None = None) -> dict[str, Any]:
        cleaned, errors = checks.validate_investor(body, strict=False)
        if errors:
            raise invalid(errors)
        kind = "natural_person" if "natural_person" in cleaned else "legal_person"
        if kind == "legal_person" and (doc := cleaned[kind].get("commercial_register_document_id")):
            self._document(tenant, doc, "legal_person.commercial_register_document_id")
        investor = {
            "id": object_id or new_id(),
            kind: cleaned[kind],
            "bank_account": cleaned.get("bank_account"),
            "tax_information": cleaned.get("tax_information"),
            "communication": cleaned.get("communication"),
            "kyc_status": "PENDING",
            "benefiting_persons": 0 if kind == "legal_person" else None,
            "created_at": now_iso(),
        }
        if kind == "natural_person":
            investor[kind].setdefault("is_pep", False)
            investor[kind].setdefault("is_subject_to_us_tax", False)
        return self.store.insert("investor", tenant, investor, status="PENDING")

    def investor(self, tenant: str, investor_id: str) -> dict[str, Any]:
        return self._existing("investor", investor_id, tenant, "Investor")

    def update_investor(self, tenant: str, investor_id: str, body: dict[str, Any]) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        schemas = {"communication": checks.LENIENT_COMMUNICATION, "bank_account": checks.BANK_ACCOUNT,
                   "tax_information": checks.TAX_INFORMATION}
        kind = "natural_person" if "natural_person" in investor else "legal_person"  # a partial update [doc]
        schemas[kind] = checks.NATURAL_PERSON if kind == "natural_person" else checks.LEGAL_PERSON
        unknown = set(body) - set(schemas)
        if unknown:
            raise invalid({name: ["This field cannot be changed through the API."] for name in sorted(unknown)})
        errors: checks.FieldErrors = {}
        for name, value in body.items():
            merged = {**(investor.get(name) or {}), **(value or {})}
            investor[name], field_errors = checks.clean(merged, schemas[name], f"{name}.")
            errors.update(field_errors)
        if errors:
            raise invalid(errors)
        return self.store.update(investor_id, investor)

    def _kyc_complete(self, investor: dict[str, Any]) -> bool:
        if investor["kyc_status"] != "SUCCESS":
            return False
        return "legal_person" not in investor or investor.get("benefiting_persons", 0) > 0

    def create_identification(self, tenant: str, investor_id: str, body: dict[str, Any]) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        cleaned, errors = checks.validate_identification(body)
        if errors:
            raise invalid(errors)
        identification: dict[str, Any] = {"id": new_id(), "investor_id": investor_id, "created_at": now_iso()}
        if cleaned:  # variant A: an identification performed elsewhere, imported
            self._document(tenant, cleaned["legitimation_protocol_id"], "legitimation_protocol_id")
            identification.update(cleaned, status="SUCCESS")
        else:  # variant B: video identification run by the registry; completes later
            identification.update(status="PENDING", url=f"https://ident.sandbox.invalid/{identification['id']}")
        self.store.insert("identification", tenant, identification, parent_id=investor_id,
                          status=identification["status"])
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

    def create_benefiting_person(self, tenant: str, investor_id: str, body: dict[str, Any]) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        if "legal_person" not in investor:
            raise refused("Benefiting persons can only be added to legal persons.")
        cleaned, errors = checks.clean(body, checks.BENEFITING_PERSON)
        if errors:
            raise invalid(errors)
        person = {"id": new_id(), "investor_id": investor_id, **cleaned, "created_at": now_iso()}
        self.store.insert("benefiting_person", tenant, person, parent_id=investor_id)
        investor["benefiting_persons"] = investor.get("benefiting_persons", 0) + 1
        self.store.update(investor_id, investor)
        self._advance_investor(tenant, investor)
        return person

    def identifications(self, tenant: str, investor_id: str) -> list[dict[str, Any]]:
        self.investor(tenant, investor_id)
        return self.store.all("identification", tenant, parent_id=investor_id)

    # --- wallets ------------------------------------------------------------------------------------------------

    def create_wallet(
        self, tenant: str, investor_id: str, kind: str, body: dict[str, Any], object_id: str | None = None
    ) -> dict[str, Any]:
        investor = self.investor(tenant, investor_id)
        if kind == "eth-generic":
            cleaned, errors = checks.clean(body, checks.GENERIC_WALLET)
            if errors:
                raise invalid(errors)
            address = cleaned["address"]
            receiving_enabled = cleaned.get("receiving_enabled", True)
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
            raise invalid({"address": [f"The address {address} is already registered to an investor."]})
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
        rows = self.store.execute(
            "SELECT product_id, SUM(json_extract(data, '$.remaining_units')) AS units FROM objects "
            "WHERE kind = 'investment' AND wallet_id = ? AND status = 'DELIVERED' GROUP BY product_id "
            "ORDER BY product_id",
            [wallet["id"]],
        )
        return {**wallet, "balances": [{"product_id": r["product_id"], "units": r["units"]} for r in rows if r["units"]]}

    def wallets(self, tenant: str, investor_id: str) -> list[dict[str, Any]]:
        self.investor(tenant, investor_id)
        return [self.with_balances(w) for w in self.store.all("wallet", tenant, parent_id=investor_id)]

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

    # --- products and campaigns ---------------------------------------------------------------------------------

    def product(self, tenant: str, product_id: str) -> dict[str, Any]:
        return self._existing("product", product_id, tenant, "Product")

    def campaign(self, tenant: str, campaign_id: str) -> dict[str, Any]:
        return self._existing("campaign", campaign_id, tenant, "Campaign")

    # --- investments --------------------------------------------------------------------------------------------

    def create_investment(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("signed_at"):
            raise invalid({"signed_at": ["Web-based subscriptions (without signed_at) are not enabled for this "
                                         "account; give the time the investor signed."]})
        cleaned, errors = checks.clean(body, checks.INVESTMENT)
        if errors:
            raise invalid(errors)
        investor = self.store.get("investor", cleaned["investor_id"], tenant)
        if investor is None:
            raise invalid({"investor_id": [f"No investor has the id {cleaned['investor_id']}."]})
        campaign = self.store.get("campaign", cleaned["campaign_id"], tenant)
        if campaign is None:
            raise invalid({"campaign_id": [f"No campaign has the id {cleaned['campaign_id']}."]})
        if not campaign["active"]:
            raise invalid({"campaign_id": ["This campaign is closed for new investments."]})
        units = cleaned["units"]
        try:
            checks.check_units(units, step_size=campaign["step_size"], minimum=campaign["min_units"])
        except checks.CheckError as exc:
            raise invalid({"units": [str(exc)]}) from None
        if units > campaign["available_units"]:
            raise invalid({"units": [f"Only {campaign['available_units']} units are left in this campaign."]})
        for position, item in enumerate(cleaned["signed_documents"]):
            self._document(tenant, item["document_id"], f"signed_documents.{position}.document_id")
        wallet_id = cleaned.get("wallet")
        if wallet_id:
            self._investor_wallet(tenant, wallet_id, investor["id"], "wallet")
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
            "investment_amount": money(units, price),
            "remaining_amount": money(0, price),
            "signed_at": cleaned["signed_at"],
            "accepted_at": cleaned.get("accepted_at"),
            "paid_at": cleaned.get("paid_at"),
            "delivered_at": None,
            "cancellation_date": None,
            "cancellation_reason": None,
            "signed_documents": cleaned["signed_documents"],
            "wallet": wallet_id,
            "created_at": created,
            "status_changed_at": created,
        }
        campaign["available_units"] -= units
        self.store.update(campaign["id"], campaign)
        self.store.insert("investment", tenant, investment, investor_id=investor["id"],
                          product_id=campaign["product_id"], campaign_id=campaign["id"], wallet_id=wallet_id,
                          status="KYC_PENDING")
        if self._advance(investment, investor)["status"] == "KYC_PENDING":
            self._set_status(investment, "KYC_PENDING", announce=True)
        return investment

    def investment(self, tenant: str, investment_id: str) -> dict[str, Any]:
        return self._existing("investment", investment_id, tenant, "Investment")

    def update_investment(self, tenant: str, investment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        investment = self.investment(tenant, investment_id)
        unknown = set(body) - set(checks.INVESTMENT_UPDATE)
        if unknown:
            raise invalid({name: ["This field cannot be changed after the investment is created."]
                           for name in sorted(unknown)})
        cleaned, errors = checks.clean(body, checks.INVESTMENT_UPDATE)
        if errors:
            raise invalid(errors)
        if investment["status"] in FINAL_STATUSES:
            raise refused(f"The investment is {investment['status']} and can no longer be changed.")
        if "wallet" in cleaned:
            self._investor_wallet(tenant, cleaned["wallet"], investment["investor_id"], "wallet")
        investment.update({key: value for key, value in cleaned.items()})
        self.store.update(investment_id, investment, wallet_id=investment["wallet"])
        return self._advance(investment, self.investor(tenant, investment["investor_id"]))

    def _investor_wallet(self, tenant: str, wallet_id: str, investor_id: str, field: str) -> dict[str, Any]:
        wallet = self.store.get("wallet", wallet_id, tenant)
        if wallet is None or wallet["investor_id"] != investor_id:
            raise invalid({field: [f"The investor has no wallet with the id {wallet_id}."]})
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
            webhooks.enqueue(self.store, self.store.tenant_of(investment["id"]) or SHARED, investment["id"],
                             status, investment["status_changed_at"])
        self.store.update(investment["id"], investment, status=status)
        return investment

    def force_status(self, investment_id: str, status: str, changed_at: str | None = None) -> dict[str, Any]:
        """Sandbox only: put an investment in any status (for demos of stuck or failed investments)."""
        if status not in ALL_STATUSES:
            raise invalid({"status": [f"'{status}' is not an investment status."]})
        investment = self.store.get("investment", investment_id)
        if investment is None:
            raise not_found("Investment")
        self._set_status(investment, status)
        if changed_at:
            investment["status_changed_at"] = checks.check_datetime(changed_at)
            self.store.update(investment_id, investment)
        return investment

    def _advance_investor(self, tenant: str, investor: dict[str, Any]) -> None:
        for investment in self.store.all("investment", tenant, investor_id=investor["id"], status="KYC_PENDING"):
            self._advance(investment, investor)

    def registry_statements(self, tenant: str, investment_id: str) -> list[dict[str, Any]]:
        self.investment(tenant, investment_id)
        return self.store.all("registry_statement", tenant, parent_id=investment_id)

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
        price_amount = int(investment["investment_amount"]["amount"]) // max(investment["units"], 1)
        investment["remaining_units"] = remaining
        investment["remaining_amount"] = {**investment["investment_amount"], "amount": str(remaining * price_amount)}

    # --- tasks: credits, redemptions, transfers -----------------------------------------------------------------

    def _task(self, tenant: str, kind: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        task = {"id": new_id(), **data, "status": "processing", "error": None, "created_at": now_iso(),
                "settled_at": None}
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
        return self._task(tenant, "credit", {"investment_id": investment_id}, parent_id=investment_id,
                          investor_id=investment["investor_id"], product_id=investment["product_id"])

    def create_redemption(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        cleaned, errors = checks.validate_redemption(body)
        if errors:
            raise invalid(errors)
        if not self.store.get("investor", cleaned["investor_id"], tenant):
            self._missing("investor_id", "investor")
        if not self.store.get("product", cleaned["product_id"], tenant):
            self._missing("product_id", "product")
        wallet = self._investor_wallet(tenant, cleaned["wallet_id"], cleaned["investor_id"], "wallet_id")
        available = self._balance(wallet["id"], cleaned["product_id"])
        if cleaned["units"] > available:
            raise invalid({"units": [f"The wallet holds only {available} units of this product; "
                                     f"cannot redeem {cleaned['units']}."]})
        return self._task(tenant, "redemption", {**cleaned, "allocations": []}, investor_id=cleaned["investor_id"],
                          product_id=cleaned["product_id"], wallet_id=cleaned["wallet_id"])

    def _missing(self, field: str, what: str) -> None:
        raise invalid({field: [f"No {what} has this id."]})

    def create_transfer(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        cleaned, errors = checks.clean(body, checks.TRANSFER)
        if errors:
            raise invalid(errors)
        if not self.store.get("product", cleaned["product"], tenant):
            self._missing("product", "product")
        source = self.store.get("wallet", cleaned["source_wallet"], tenant)
        if source is None:
            self._missing("source_wallet", "wallet")
        if source["type"] != "eth-managed" or source["frozen"]:
            raise invalid({"source_wallet": ["Transfers need a managed wallet that is not frozen."]})
        target = self.store.find_by_address(cleaned["target_address"])
        if target is None:
            raise invalid({"target_address": ["No wallet registered on the registry has this address."]})
        if not target[1]["receiving_enabled"]:
            raise invalid({"target_address": ["The receiving wallet does not accept incoming transfers."]})
        available = self._balance(source["id"], cleaned["product"])
        if cleaned["amount"] > available:
            raise invalid({"amount": [f"The wallet holds only {available} units of this product; "
                                      f"cannot transfer {cleaned['amount']}."]})
        data = {**cleaned, "units": cleaned["amount"], "receiver_investment_id": None}
        return self._task(tenant, "transfer", data, investor_id=source["investor_id"],
                          product_id=cleaned["product"], wallet_id=source["id"])

    def task(self, tenant: str, kind: str, task_id: str) -> dict[str, Any]:
        return self._existing(kind, task_id, tenant, kind.capitalize())

    def settle_due(self) -> None:
        """Finish the tasks whose settlement delay has passed (called before every request)."""
        delay = self.settings.settle_delay
        for kind, task in self.store.processing_tasks():
            if kind not in TASK_SUCCESS:
                continue
            age = (now() - datetime.fromisoformat(task["created_at"])).total_seconds()
            if age >= delay:
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
            task["error"] = "The ledger rejected the transaction (sandbox task_outcome)." if outcome == "failed" else None
        task["settled_at"] = now_iso()
        self.store.update(task["id"], task, status=task["status"])
        return task

    def _settle_credit(self, tenant: str, task: dict[str, Any]) -> None:
        investment = self.investment(tenant, task["investment_id"])
        self._set_remaining(investment, investment["units"])
        investment["delivered_at"] = now_iso()
        self._set_status(investment, "DELIVERED")
        self._statement(tenant, investment, "ISSUANCE")

    def _consume_fifo(self, tenant: str, wallet_id: str, product_id: str, units: int, reason: str) -> list[dict]:
        allocations = []
        for investment in self.store.all("investment", None, wallet_id=wallet_id, product_id=product_id,
                                         status="DELIVERED"):
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
        task["allocations"] = self._consume_fifo(tenant, task["wallet_id"], task["product_id"], task["units"],
                                                 "REDEMPTION")

    def _settle_transfer(self, tenant: str, task: dict[str, Any]) -> None:
        source_allocations = self._consume_fifo(tenant, task["source_wallet"], task["product"], task["amount"],
                                                "TRANSFER")
        target_tenant, target = self.store.find_by_address(task["target_address"])
        first = self.investment(tenant, source_allocations[0]["investment_id"])
        received = {
            **first,
            "id": new_id(),
            "investor_id": target["investor_id"],
            "units": task["amount"],
            "investment_amount": {**first["investment_amount"], "amount": str(
                task["amount"] * (int(first["investment_amount"]["amount"]) // max(first["units"], 1)))},
            "signed_documents": [],
            "wallet": target["id"],
            "delivered_at": now_iso(),
            "created_at": now_iso(),
            "status_changed_at": now_iso(),
        }
        self._set_remaining(received, task["amount"])
        self.store.insert("investment", target_tenant, received, investor_id=target["investor_id"],
                          product_id=first["product_id"], campaign_id=first["campaign_id"], wallet_id=target["id"],
                          status="DELIVERED")
        self._statement(target_tenant, received, "TRANSFER")
        task["receiver_investment_id"] = received["id"]
