"""What our client assumes about the API where the public documentation is silent ([assumed] in
`cashlink-api.md`). Kept in this one place so that adapting to the real API is a one-file change."""

from __future__ import annotations

# Paths relative to the API prefix (/v2 or /distributor/v2). [doc] unless marked.
INVESTORS = "/investors/"
INVESTOR = "/investors/{id}/"
IDENTIFICATIONS = "/investors/{id}/identifications/"
BENEFITING_PERSONS = "/investors/{id}/benefiting-persons/"
WALLETS_OF_INVESTOR = "/investors/{id}/wallets/"  # GET list: [assumed]
MANAGED_WALLET = "/investors/{id}/wallets/eth-managed/"
GENERIC_WALLET = "/investors/{id}/wallets/eth-generic/"
DOCUMENTS = "/documents/"
DOCUMENT = "/documents/{id}/"  # GET: [assumed]
PRODUCTS = "/products/"  # [assumed]
PRODUCT = "/products/{id}/"  # [assumed]
CAMPAIGNS = "/campaigns/"  # [assumed], filter product_id
CAMPAIGN = "/campaigns/{id}/"  # [assumed]
INVESTMENTS = "/investments/"
INVESTMENT = "/investments/{id}/"
CREDITS = "/investments/{id}/credits/"  # [seed]
REGISTRY_STATEMENTS = "/investments/{id}/registry-statements/"
REDEMPTIONS = "/redemptions/"  # [seed]
REDEMPTION = "/redemptions/{id}/"  # GET: [assumed]
TRANSFERS = "/transfers/"
TRANSFER = "/transfers/{id}/"  # GET: [assumed]

# Pagination [assumed]: DRF page numbers; we only ever follow `next`, and ask for bigger pages where allowed.
PAGE_SIZE_PARAM = "page_size"
PAGE_SIZE = 500

# Task statuses [doc]: redemptions say "success", transfers "succeeded"; "unknown" must never be retried.
TASK_SUCCESS = frozenset({"success", "succeeded"})
TASK_FAILED = frozenset({"failed"})
TASK_UNKNOWN = frozenset({"unknown"})

# Investment statuses [doc]; final ones never change again.
FINAL_STATUSES = frozenset({"DELIVERED", "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION",
                            "PAYMENT_MISSING"})
INVESTMENT_STATUSES = ("KYC_PENDING", "REVIEW_PENDING", "WAITING_FOR_ACCEPTANCE", "ACCEPTED", "PAID", "DELIVERED",
                       "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING")

# Columns of an empty list's DataFrame (so code that filters on them works for a distributor without data).
INVESTOR_COLUMNS = ("id", "natural_person.forename", "natural_person.surname", "legal_person.company_name",
                    "communication.email", "kyc_status", "created_at")
INVESTMENT_COLUMNS = ("id", "investor_id", "campaign_id", "product_id", "status", "units", "remaining_units",
                      "investment_amount", "investment_amount_currency", "signed_at", "accepted_at", "paid_at",
                      "delivered_at", "wallet", "created_at", "status_changed_at")
TASK_COLUMNS = ("id", "investor_id", "product_id", "wallet_id", "units", "status", "error", "created_at")
