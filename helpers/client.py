"""The client: resources (investors, documents, wallets, products, campaigns, investments, redemptions, transfers),
lazy pagination, journaled idempotent writes, and waiting for tasks.

    >>> import helpers
    >>> client = helpers.connect()
    Connected to the local sandbox at http://127.0.0.1:8765/api/external as demo-distributor ...
    >>> client.investments.frame(status="PAID")
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import api, checks
from helpers.config import Config, load_config
from helpers.errors import CashlinkError, ConflictError, NotFoundError, TaskError, input_error
from helpers.frames import Record, to_frame
from helpers.journal import Journal, canonical, derive_key, fresh_key
from helpers.transport import Transport

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class ListResult:
    """All objects of a list endpoint, fetched page by page (following ``next``) only as they are iterated."""

    def __init__(self, client: Client, path: str, action: str, params: Mapping[str, Any] | None = None,
                 columns: tuple[str, ...] = ("id",)) -> None:
        self._client = client
        self._path = path
        self._action = action
        self._columns = columns  # of the DataFrame when the list is empty
        self._params = {api.PAGE_SIZE_PARAM: api.PAGE_SIZE, **{k: v for k, v in (params or {}).items() if v}}
        self.count: int | None = None

    def pages(self) -> Iterator[list[Record]]:
        url: str | None = self._path
        params: dict[str, Any] | None = self._params
        while url:
            page = self._client.transport.request("GET", url, self._action, params=params)
            self.count = page.get("count", self.count)
            yield [Record(item) for item in page["results"]]
            url, params = page.get("next"), None  # `next` is a full URL that carries its own query

    def __iter__(self) -> Iterator[Record]:
        for page in self.pages():
            yield from page

    def to_list(self) -> list[Record]:
        return list(self)

    def to_frame(self, show_personal_data: bool = False) -> pd.DataFrame:
        frame = to_frame(self, show_personal_data=show_personal_data)
        return frame if len(frame) else pd.DataFrame(columns=list(self._columns))


class Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _write(self, *args: Any, **kwargs: Any) -> Record:
        return self._client.write(*args, **kwargs)

    def _get(self, path: str, action: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._client.get(path, action, params)


def _checked(subject: str, result: tuple[dict[str, Any], checks.FieldErrors]) -> dict[str, Any]:
    cleaned, errors = result
    if errors:
        raise input_error(subject, errors)
    return cleaned


class Documents(Resource):
    def upload(self, source: str | Path | bytes, filename: str | None = None, content_type: str | None = None,
               *, key: str | None = None, repeat: bool = False) -> Record:
        """Upload a PDF/PNG/JPEG (a path or bytes) and return the document with its ``id``."""
        subject = "the document"
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise input_error(subject, {"file": [f"There is no file at {path}."]})
            content, filename = path.read_bytes(), filename or path.name
        else:
            content, filename = bytes(source), filename or "document.pdf"
        content_type = content_type or UPLOAD_TYPES.get(Path(filename).suffix.lower()) \
            or mimetypes.guess_type(filename)[0] or ""
        problems = []
        if not content:
            problems.append("The file is empty.")
        if len(content) > MAX_UPLOAD_BYTES:
            problems.append(f"The file has {len(content) / 1048576:.1f} MiB; the limit is 10 MiB.")
        if content_type not in UPLOAD_TYPES.values():
            problems.append(f"'{filename}' is not a PDF, PNG or JPEG file.")
        if problems:
            raise input_error(subject, {"file": problems})
        fingerprint = {"name": filename, "type": content_type, "sha256": hashlib.sha256(content).hexdigest()}
        return self._write("POST", api.DOCUMENTS, "upload the document", content=fingerprint,
                           files={"file": (filename, content, content_type)}, key=key, repeat=repeat,
                           verify=lambda doc: self._get(api.DOCUMENT.format(id=doc["id"]), "check the document"))


class Investors(Resource):
    def create(self, body: Mapping[str, Any], *, key: str | None = None, repeat: bool = False) -> Record:
        """Create an investor (natural or legal person). Re-running with the same data returns the same investor."""
        cleaned = _checked("the investor", checks.validate_investor(body))
        return self._write("POST", api.INVESTORS, "create the investor", body=cleaned, key=key, repeat=repeat,
                           verify=lambda investor: self.get(investor["id"]))

    def get(self, investor_id: str) -> Record:
        return Record(self._get(api.INVESTOR.format(id=investor_id), "read the investor"))

    def update(self, investor_id: str, changes: Mapping[str, Any], *, key: str | None = None) -> Record:
        return self._write("PATCH", api.INVESTOR.format(id=investor_id), "update the investor", body=dict(changes),
                           key=key)

    def list(self, **filters: Any) -> ListResult:
        return ListResult(self._client, api.INVESTORS, "list the investors", filters, api.INVESTOR_COLUMNS)

    def frame(self, show_personal_data: bool = False, **filters: Any) -> pd.DataFrame:
        return self.list(**filters).to_frame(show_personal_data)

    def identify(self, investor_id: str, identification: Mapping[str, Any] | None = None, *,
                 key: str | None = None) -> Record:
        """Import an identification done elsewhere (with an uploaded protocol), or start a video identification
        (``identification=None``)."""
        cleaned = _checked("the identification", checks.validate_identification(identification or {}))
        path = api.IDENTIFICATIONS.format(id=investor_id)
        return self._write("POST", path, "create the identification", body=cleaned, key=key,
                           verify=lambda ident: self._find(path, ident["id"], "read the identifications"))

    def identifications(self, investor_id: str) -> list[Record]:
        path = api.IDENTIFICATIONS.format(id=investor_id)
        return [Record(item) for item in self._get(path, "read the identifications")]

    def add_benefiting_person(self, investor_id: str, person: Mapping[str, Any], *, key: str | None = None) -> Record:
        cleaned = _checked("the benefiting person", checks.clean(person, checks.BENEFITING_PERSON))
        return self._write("POST", api.BENEFITING_PERSONS.format(id=investor_id), "add the benefiting person",
                           body=cleaned, key=key)

    def wallets(self, investor_id: str) -> list[Record]:
        return [Record(w) for w in self._get(api.WALLETS_OF_INVESTOR.format(id=investor_id), "read the wallets")]

    def create_managed_wallet(self, investor_id: str, *, key: str | None = None) -> Record:
        """The investor's wallet in Cashlink's custody (at most one per investor; re-runs return it)."""
        return self._write("POST", api.MANAGED_WALLET.format(id=investor_id), "create the managed wallet", body=None,
                           key=key, verify=lambda w: self._find_wallet(investor_id, w["id"]))

    def create_generic_wallet(self, investor_id: str, address: str, receiving_enabled: bool = True, *,
                              key: str | None = None) -> Record:
        """Register the investor's own Ethereum address (checked for its EIP-55 checksum before sending)."""
        body = _checked("the wallet", checks.clean({"address": address, "receiving_enabled": receiving_enabled},
                                                   checks.GENERIC_WALLET))
        return self._write("POST", api.GENERIC_WALLET.format(id=investor_id), "register the wallet", body=body,
                           key=key, verify=lambda w: self._find_wallet(investor_id, w["id"]))

    def _find_wallet(self, investor_id: str, wallet_id: str) -> Record:
        return self._find(api.WALLETS_OF_INVESTOR.format(id=investor_id), wallet_id, "read the wallets")

    def _find(self, path: str, object_id: str, action: str) -> Record:
        for item in self._get(path, action):
            if item["id"] == object_id:
                return Record(item)
        raise NotFoundError(f"Could not {action}: {object_id} is not there.")


class Products(Resource):
    def list(self) -> ListResult:
        return ListResult(self._client, api.PRODUCTS, "list the products")

    def get(self, product_id: str) -> Record:
        return Record(self._get(api.PRODUCT.format(id=product_id), "read the product"))

    def frame(self) -> pd.DataFrame:
        return self.list().to_frame()


class Campaigns(Resource):
    def list(self, product_id: str | None = None) -> ListResult:
        return ListResult(self._client, api.CAMPAIGNS, "list the campaigns", {"product_id": product_id})

    def get(self, campaign_id: str) -> Record:
        return Record(self._get(api.CAMPAIGN.format(id=campaign_id), "read the campaign"))

    def frame(self, product_id: str | None = None) -> pd.DataFrame:
        return self.list(product_id).to_frame()


class Investments(Resource):
    def create(self, investor_id: str, units: int, signed_at: str | datetime,
               signed_documents: list[Mapping[str, str]], *, campaign_id: str | None = None,
               accepted_at: str | datetime | None = None, paid_at: str | datetime | None = None,
               wallet: str | None = None, key: str | None = None, repeat: bool = False) -> Record:
        """Import a signed investment. ``signed_at`` is the binding order time (required: without it the registry
        would start a web-based subscription). Re-running with the same data returns the same investment."""
        body = {
            "investor_id": investor_id, "campaign_id": campaign_id or self._client.config.campaign_id,
            "units": units, "signed_at": signed_at, "accepted_at": accepted_at, "paid_at": paid_at,
            "signed_documents": signed_documents, "wallet": wallet,
        }
        cleaned = _checked("the investment", checks.clean(body, checks.INVESTMENT))
        return self._write("POST", api.INVESTMENTS, "create the investment", body=cleaned, key=key, repeat=repeat,
                           verify=lambda investment: self.get(investment["id"]))

    def get(self, investment_id: str) -> Record:
        return Record(self._get(api.INVESTMENT.format(id=investment_id), "read the investment"))

    def update(self, investment_id: str, *, accepted_at: str | datetime | None = None,
               paid_at: str | datetime | None = None, wallet: str | None = None, key: str | None = None) -> Record:
        """Accept, mark as paid, or set the delivery wallet later (PATCH)."""
        body = _checked("the investment update", checks.clean(
            {"accepted_at": accepted_at, "paid_at": paid_at, "wallet": wallet}, checks.INVESTMENT_UPDATE))
        if not body:
            raise input_error("the investment update",
                              {"non_field_errors": ["Give accepted_at, paid_at or wallet."]})
        return self._write("PATCH", api.INVESTMENT.format(id=investment_id), "update the investment", body=body,
                           key=key)

    def list(self, *, product_id: str | None = None, campaign_id: str | None = None,
             investor_id: str | None = None, status: str | None = None, page_size: int | None = None) -> ListResult:
        if status and status not in api.INVESTMENT_STATUSES:
            raise input_error("the investment filter", {"status": [
                f"'{status}' is not an investment status; use one of {', '.join(api.INVESTMENT_STATUSES)}."]})
        filters = {"product_id": product_id, "campaign_id": campaign_id, "investor_id": investor_id, "status": status,
                   api.PAGE_SIZE_PARAM: page_size}
        return ListResult(self._client, api.INVESTMENTS, "list the investments", filters, api.INVESTMENT_COLUMNS)

    def frame(self, **filters: Any) -> pd.DataFrame:
        frame = self.list(**filters).to_frame()
        return frame.drop(columns=["signed_documents"], errors="ignore")

    def credit(self, investment_id: str, *, wait: bool = True, timeout: float = 60, progress: bool = True,
               key: str | None = None) -> Record:
        """Start crediting the digital securities to the investment's wallet; by default wait until DELIVERED.

        Returns the investment (when waiting) or the credit task."""
        task = self._write("POST", api.CREDITS.format(id=investment_id), "credit the investment", body=None, key=key)
        if not wait:
            return task
        return self._client.wait(lambda: self.get(investment_id), "credit", timeout=timeout, progress=progress,
                                 done=lambda inv: inv["status"] == "DELIVERED",
                                 failed=lambda inv: inv["status"] in api.FINAL_STATUSES - {"DELIVERED"})

    def wait_for_status(self, investment_id: str, statuses: set[str] | str = "DELIVERED", *, timeout: float = 60,
                        progress: bool = True) -> Record:
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        return self._client.wait(lambda: self.get(investment_id), "investment", timeout=timeout, progress=progress,
                                 done=lambda inv: inv["status"] in wanted,
                                 failed=lambda inv: inv["status"] in api.FINAL_STATUSES - wanted)

    def registry_statements(self, investment_id: str) -> pd.DataFrame:
        return to_frame(self._get(api.REGISTRY_STATEMENTS.format(id=investment_id), "read the registry statements"))


class Redemptions(Resource):
    def create(self, investor_id: str, wallet_id: str, units: int, *, product_id: str | None = None,
               wait: bool = True, timeout: float = 60, progress: bool = True, key: str | None = None,
               repeat: bool = False) -> Record:
        """Redeem units of a product from a wallet. The registry takes them from the oldest investments first (FIFO).

        More units than the wallet holds are refused here, before anything is sent."""
        product_id = product_id or self._client.config.product_id
        body = _checked("the redemption", checks.validate_redemption(
            {"investor_id": investor_id, "product_id": product_id, "wallet_id": wallet_id, "units": units}))
        held = self._client.holdings(investor_id=investor_id, product_id=product_id)
        balance = int(held.loc[held["wallet_id"] == wallet_id, "units"].sum()) if len(held) else 0
        key = key or self._client.idempotency_key("POST", api.REDEMPTIONS, body, repeat)
        if body["units"] > balance and not self._client.journal.get(key):
            raise input_error("the redemption", {"units": [
                f"The wallet holds {balance} units of this product; cannot redeem {body['units']}."]})
        task = self._write("POST", api.REDEMPTIONS, "create the redemption", body=body, key=key,
                           verify=lambda r: self.get(r["id"]))
        return self.wait(task["id"], timeout=timeout, progress=progress) if wait else task

    def get(self, redemption_id: str) -> Record:
        return Record(self._get(api.REDEMPTION.format(id=redemption_id), "read the redemption"))

    def wait(self, redemption_id: str, *, timeout: float = 60, progress: bool = True) -> Record:
        return self._client.wait_for_task(lambda: self.get(redemption_id), "redemption", timeout=timeout,
                                          progress=progress)

    def list(self, *, investor_id: str | None = None, product_id: str | None = None,
             status: str | None = None) -> ListResult:
        return ListResult(self._client, api.REDEMPTIONS, "list the redemptions",
                          {"investor_id": investor_id, "product_id": product_id, "status": status}, api.TASK_COLUMNS)

    def frame(self, **filters: Any) -> pd.DataFrame:
        return self.list(**filters).to_frame().drop(columns=["allocations"], errors="ignore")


class Transfers(Resource):
    def create(self, source_wallet: str, target_address: str, amount: int, *, product_id: str | None = None,
               wait: bool = True, timeout: float = 60, progress: bool = True, key: str | None = None) -> Record:
        body = _checked("the transfer", checks.clean(
            {"product": product_id or self._client.config.product_id, "source_wallet": source_wallet,
             "target_address": target_address, "amount": amount}, checks.TRANSFER))
        task = self._write("POST", api.TRANSFERS, "create the transfer", body=body, key=key,
                           verify=lambda t: self.get(t["id"]))
        if not wait:
            return task
        return self._client.wait_for_task(lambda: self.get(task["id"]), "transfer", timeout=timeout,
                                          progress=progress)

    def get(self, transfer_id: str) -> Record:
        return Record(self._get(api.TRANSFER.format(id=transfer_id), "read the transfer"))

    def list(self, **filters: Any) -> ListResult:
        return ListResult(self._client, api.TRANSFERS, "list the transfers", filters)


class Client:
    """A connection to the registry API: one session, one token, one journal."""

    def __init__(self, config: Config | None = None, *, journal: Journal | None = None,
                 transport: Transport | None = None) -> None:
        self.config = config or load_config()
        self.transport = transport or Transport(self.config)
        self.journal = journal or Journal(self.config.journal_path)
        self.namespace = f"{self.config.base_url}|{self.config.client_id}"
        self.documents = Documents(self)
        self.investors = Investors(self)
        self.products = Products(self)
        self.campaigns = Campaigns(self)
        self.investments = Investments(self)
        self.redemptions = Redemptions(self)
        self.transfers = Transfers(self)

    def __repr__(self) -> str:
        return f"Client(base_url={self.config.base_url!r}, client_id={self.config.client_id!r})"

    def describe(self) -> str:
        where = "the local sandbox" if self.config.is_sandbox else "the registry API"
        return (f"Connected to {where} at {self.config.base_url} as {self.config.client_id} "
                f"(settings: {self.config.source}).")

    # --- plumbing -------------------------------------------------------------------------------------------------

    def get(self, path: str, action: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.transport.request("GET", path, action, params=dict(params or {}))

    def idempotency_key(self, method: str, path: str, content: Any, repeat: bool = False) -> str:
        """The key a write of ``content`` gets: the same on every run, or a fresh one for a deliberate repeat."""
        return (fresh_key if repeat else derive_key)(self.namespace, f"{method} {path}", content)

    def write(self, method: str, path: str, action: str, *, body: Any = None, content: Any = None,
              files: Any = None, key: str | None = None, repeat: bool = False,
              verify: Callable[[Record], Any] | None = None) -> Record:
        """Send a write at most once per content: journal first, same idempotency key on every retry."""
        content = body if content is None else content
        operation = f"{method} {path}"
        key = key or self.idempotency_key(method, path, content, repeat)
        entry = self.journal.get(key)
        if entry is not None and entry.request != canonical(content):
            raise ConflictError(f"Could not {action}: its idempotency key was used before for different data. Use a "
                                "new key (or reference) for a new object, or repeat=True.")
        if entry is not None and entry.state == "done":
            record = Record(entry.response)
            try:
                record = Record(verify(record)) if verify else record
            except NotFoundError:  # the registry no longer knows it (e.g. a reset sandbox): send again
                self.journal.forget(key)
            except CashlinkError:  # cannot check (no read scope, no such read endpoint): trust the journal
                record.replayed = True
                return record
            else:
                record.replayed = True
                return record
        self.journal.record_intent(key, self.namespace, operation, content)
        result = self.transport.request(method, path, action, json=body if files is None else None, files=files,
                                        idempotency_key=key)
        self.journal.record_result(key, result)
        return Record(result)

    def wait(self, fetch: Callable[[], Record], what: str, *, done: Callable[[Record], bool],
             failed: Callable[[Record], bool], timeout: float = 60, interval: float = 0.25,
             progress: bool = True) -> Record:
        """Poll ``fetch`` until ``done`` (returned) or ``failed``/timeout (raised as :class:`TaskError`)."""
        from tqdm.auto import tqdm

        deadline = time.monotonic() + timeout
        bar = tqdm(desc=f"waiting for the {what}", total=None, disable=not progress, leave=False, unit=" checks")
        try:
            while True:
                current = fetch()
                status = current.get("status")
                bar.set_postfix_str(str(status))
                bar.update()
                if done(current):
                    return current
                if failed(current):
                    raise TaskError(f"The {what} ended as {status}: {current.get('error') or 'see the registry'}.",
                                    current)
                if time.monotonic() >= deadline:
                    raise TaskError(f"The {what} is still {status} after {timeout:g} s. It goes on in the registry; "
                                    f"check again later (id {current.get('id')}).", current)
                time.sleep(interval)
                interval = min(interval * 1.5, 2.0)
        finally:
            bar.close()

    def wait_for_task(self, fetch: Callable[[], Record], what: str, *, timeout: float = 60,
                      progress: bool = True) -> Record:
        """Wait for a credit/redemption/transfer task. 'unknown' is raised, never retried (the docs forbid it)."""
        try:
            return self.wait(fetch, what, timeout=timeout, progress=progress,
                             done=lambda t: t["status"] in api.TASK_SUCCESS,
                             failed=lambda t: t["status"] in api.TASK_FAILED | api.TASK_UNKNOWN)
        except TaskError as exc:
            if exc.task.get("status") in api.TASK_UNKNOWN:
                raise TaskError(f"The {what} {exc.task.get('id')} ended as 'unknown': its outcome is unclear. Do not "
                                "retry it; ask Cashlink to check it on the ledger.", exc.task) from None
            raise

    # --- views across resources ---------------------------------------------------------------------------------

    def holdings(self, *, investor_id: str | None = None, product_id: str | None = None) -> pd.DataFrame:
        """Units held per investor, wallet and product: the remaining units of delivered investments."""
        rows = [
            {"investor_id": inv["investor_id"], "wallet_id": inv.get("wallet"), "product_id": inv["product_id"],
             "units": int(inv.get("remaining_units") or 0)}
            for inv in self.investments.list(investor_id=investor_id, product_id=product_id, status="DELIVERED")
        ]
        frame = pd.DataFrame(rows, columns=["investor_id", "wallet_id", "product_id", "units"])
        frame = frame.groupby(["investor_id", "wallet_id", "product_id"], as_index=False, dropna=False)["units"].sum()
        frame["units"] = frame["units"].astype("Int64")
        return frame

    def check_connection(self) -> None:
        """Fetch a token now, so that wrong credentials show up at once rather than at the first call."""
        self.transport.token()


def connect(config: Config | None = None, *, quiet: bool = False, **overrides: Any) -> Client:
    """A ready client for the API configured in `.env` (the local sandbox by default); says what it connected to."""
    client = Client(config or load_config(**overrides))
    client.check_connection()
    if not quiet:
        print(client.describe())
    return client


__all__ = ["Client", "ListResult", "connect"]
