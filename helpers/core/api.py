"""What our client assumes about the API where the public documentation is silent ([assumed] in
`cashlink-api.md`), and what it knows from it ([doc]). Kept in this one place so that adapting to the real API is a
one-file change. The client survives every variant of section 6 of the reference (see ``Client.check_api``)."""

from __future__ import annotations

# Paths relative to the API prefix (/v2 or /distributor/v2). [doc] unless marked.
INVESTORS = "/investors/"
INVESTOR = "/investors/{investor_id}/"
IDENTIFICATIONS = "/investors/{investor_id}/identifications/"
BENEFITING_PERSONS = "/investors/{investor_id}/benefiting-persons/"
WALLETS_OF_INVESTOR = "/investors/{investor_id}/wallets/"  # GET list: [assumed]
MANAGED_WALLET = "/investors/{investor_id}/wallets/eth-managed/"
GENERIC_WALLET = "/investors/{investor_id}/wallets/eth-generic/"
DOCUMENTS = "/documents/"
PRODUCTS = "/products/"  # [assumed]
PRODUCT = "/products/{product_id}/"  # [assumed]
CAMPAIGNS = "/campaigns/"  # [assumed], filter product_id
CAMPAIGN = "/campaigns/{campaign_id}/"  # [assumed]
INVESTMENTS = "/investments/"
INVESTMENT = "/investments/{investment_id}/"
CREDITS = "/investments/{investment_id}/credits/"  # [seed]
REGISTRY_STATEMENTS = "/investments/{investment_id}/registry-statements/"
REDEMPTIONS = "/redemptions/"  # [seed]
REDEMPTION = "/redemptions/{redemption_id}/"  # GET: [assumed]
TRANSFERS = "/transfers/"
TRANSFER = "/transfers/{transfer_id}/"  # GET: [assumed]

# Pagination: DRF pages {count, next, previous, results} [doc]; a bare array is accepted too (section 6, A). We only
# follow `next` (or, when it carries page numbers, fetch the remaining pages concurrently); page_size is asked for
# and may be ignored (section 6, C).
PAGE_SIZE_PARAM = "page_size"

# Task statuses [doc]: redemptions say "success", transfers "succeeded"; "unknown" must never be retried.
TASK_SUCCESS = frozenset({"success", "succeeded"})
TASK_FAILED = frozenset({"failed"})
TASK_UNKNOWN = frozenset({"unknown"})

# Investment statuses [doc]; final ones never change again.
FINAL_STATUSES = frozenset(
    {"DELIVERED", "KYC_INSUFFICIENT", "ABORTION", "REJECTION", "CANCELLATION", "PAYMENT_MISSING"}
)
INVESTMENT_STATUSES = (
    "KYC_PENDING",
    "REVIEW_PENDING",
    "WAITING_FOR_ACCEPTANCE",
    "ACCEPTED",
    "PAID",
    "DELIVERED",
    "KYC_INSUFFICIENT",
    "ABORTION",
    "REJECTION",
    "CANCELLATION",
    "PAYMENT_MISSING",
)

# When an investment entered its status, from documented fields (section 6, E: `status_changed_at` may be absent).
STATUS_SINCE = {
    "DELIVERED": "delivered_at",
    "PAID": "paid_at",
    "ACCEPTED": "accepted_at",
    "WAITING_FOR_ACCEPTANCE": "signed_at",
    "REVIEW_PENDING": "signed_at",
    "KYC_PENDING": "signed_at",
    "KYC_INSUFFICIENT": "cancellation_date",
    "ABORTION": "cancellation_date",
    "REJECTION": "cancellation_date",
    "CANCELLATION": "cancellation_date",
    "PAYMENT_MISSING": "cancellation_date",
}

# How far back a new write looks for an equal object before it is sent (section 6: "never rely on an idempotency
# key alone for a money-moving write older than a day").
DUPLICATE_WINDOW_DAYS = 7
