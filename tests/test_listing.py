"""Lists against a real sandbox: every page once and in order, concurrent page fetches bounded in memory, 429 and
Retry-After honoured by every worker, progress reported, and the tidy frame the same whichever way it is built."""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import helpers
from helpers.core.client import ListChangedWarning
from helpers.core.config import Config
from helpers.data import frames
from tests.conftest import Sandbox

INVESTMENTS = 1203  # 61 pages of 20 in the drf profile, 3 pages of 500 in the strict one


def config_for(box: Sandbox, tmp_path: Path, **changes: Any) -> Config:
    tenant = box.new_client()
    box.admin("bulk", {"client_id": tenant["client_id"], "investors": 40, "investments": INVESTMENTS})
    return Config(
        base_url=box.base_url,
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        journal_path=tmp_path / "journal.sqlite3",
        timeout=10,
        source="test",
        **changes,
    )


@pytest.fixture
def drf_config(drf_sandbox: Sandbox, tmp_path: Path) -> Config:
    return config_for(drf_sandbox, tmp_path)


@pytest.fixture
def any_config(any_sandbox: Sandbox, tmp_path: Path) -> Config:
    return config_for(any_sandbox, tmp_path)


def connected(config: Config, **changes: Any) -> helpers.Client:
    client = helpers.Client(config.replace(**changes) if changes else config)
    client.check_connection()
    return client


def ids(pages: Iterator[list[helpers.Record]]) -> list[str]:
    return [record.id for page in pages for record in page]


def test_concurrent_pages_are_each_fetched_once_and_in_order(drf_config: Config) -> None:
    sequential = connected(drf_config, concurrency=1)
    expected = ids(sequential.investments.list().pages())
    client = connected(drf_config, concurrency=8)
    sent = client.transport.requests_sent
    listing = client.investments.list()
    got = ids(listing.pages())
    assert got == expected and len(set(got)) == INVESTMENTS == listing.count
    assert client.transport.requests_sent - sent == -(-INVESTMENTS // 20)  # one request per page, none again


def test_first_sends_one_request(any_config: Config) -> None:
    client = connected(any_config)
    sent = client.transport.requests_sent
    assert client.investments.list().first() is not None
    time.sleep(0.2)  # nothing fetched behind our back either
    assert client.transport.requests_sent - sent == 1


def test_pages_ahead_of_the_reader_are_bounded(drf_config: Config) -> None:
    client = connected(drf_config, concurrency=4)
    sent = client.transport.requests_sent
    pages = client.investments.list().pages()
    next(pages), next(pages)
    time.sleep(0.5)  # a slow reader: the fetchers wait for it instead of holding the whole list
    assert client.transport.requests_sent - sent <= 2 + 2 * 4
    assert len(ids(pages)) == INVESTMENTS - 40


def test_429_with_retry_after_pauses_every_worker(drf_config: Config, drf_sandbox: Sandbox) -> None:
    client = connected(drf_config, concurrency=8)
    listing = client.investments.list()
    pages = listing.pages()
    first = next(pages)
    drf_sandbox.faults(queue=["429"], retry_after=1)  # the next request is refused: come back in a second
    rest = ids(pages)
    expected = ids(connected(drf_config, concurrency=1).investments.list().pages())
    assert [r.id for r in first] + rest == expected
    assert client.transport.throttle.holds == 1
    assert client.transport.throttle.waits >= 1  # other workers waited for the registry's Retry-After too


def test_progress_is_reported_after_every_page(any_config: Config) -> None:
    client = connected(any_config)
    seen: list[tuple[int, int | None]] = []
    listing = client.investments.list()
    listing.progress = lambda fetched, total: seen.append((fetched, total))
    assert len(listing.to_list()) == INVESTMENTS
    assert seen[-1] == (INVESTMENTS, INVESTMENTS)
    assert [fetched for fetched, _total in seen] == sorted({fetched for fetched, _total in seen})


def test_a_list_that_grows_while_it_is_read_is_read_to_its_end(any_config: Config, any_sandbox: Sandbox) -> None:
    client = connected(any_config)
    pages = client.investments.list().pages()
    got = [record.id for record in next(pages)]
    any_sandbox.admin("bulk", {"client_id": any_config.client_id, "investors": 2, "investments": 45})
    got += ids(pages)
    assert len(got) == len(set(got)) == INVESTMENTS + 45


def test_the_frame_is_the_same_built_by_columns_or_by_rows(any_config: Config) -> None:
    client = connected(any_config)
    fast = client.investments.frame()
    rows = frames.to_frame(iter(client.investments.list().to_list()), columns=frames.EMPTY_COLUMNS["/investments/"])
    pd.testing.assert_frame_equal(fast, frames.with_remaining_units(rows))  # (units left: sent, or derived)
    assert fast["units"].dtype == "Int64" and isinstance(fast["created_at"].dtype, pd.DatetimeTZDtype)


MONEY = {"amount": "1000", "decimals": 2, "currency": "EUR"}
SHAPES = [
    [{"id": "a", "units": 1, "m": MONEY}, {"id": "b", "units": 2, "m": MONEY}],
    [{"id": "a", "units": 1}, {"id": "b", "units": None}],
    [{"id": "a", "units": 1}, {"id": "b", "units": True}],
    [{"id": "a", "n": {"x": 1}}, {"id": "b", "n": None}],
    [{"id": "a", "n": None}, {"id": "b", "n": {"x": {"y": "2020-01-01"}}}],
    [{"id": "a", "m": MONEY}, {"id": "b", "m": {"amount": "1"}}],
    [{"id": "a", "b": 1}, {"b": 2, "id": "c"}],
    [{"id": "a", "m": MONEY}, {"id": "b", "m": {"amount": "5", "decimals": 3, "currency": "EUR"}}],
    [{"id": "a", "n": {}}, {"id": "b", "n": {}}],
    [{}, {}],
]


@pytest.mark.parametrize("records", SHAPES)
def test_columns_give_what_rows_give(records: list[dict[str, Any]]) -> None:
    """Objects of one shape are turned into columns directly; any other shape gives what one row per object gave."""
    by_columns = frames.to_frame(records)
    by_rows = pd.DataFrame([frames.flatten_record(r) for r in records])
    by_rows = frames._typed(by_rows, False, None)
    pd.testing.assert_frame_equal(by_columns, by_rows)


def test_a_long_list_shows_a_progress_bar(any_config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    client = connected(any_config)
    listing = client.investments.list()
    with frames.progress_bar(listing, delay=0):
        frame = frames.to_frame(listing)
    assert len(frame) == INVESTMENTS and listing.progress is None
    assert f"{INVESTMENTS}/{INVESTMENTS}" in capsys.readouterr().err
    client.investments.list().frame(progress=False)
    assert capsys.readouterr().err == ""


def test_following_next_fetches_each_page_once_in_order(strict_sandbox: Sandbox, tmp_path: Path) -> None:
    """The strict profile's ``next`` links (an index position): each page is asked for as soon as the previous
    page's bytes arrive, never twice."""
    config = config_for(strict_sandbox, tmp_path)
    expected = ids(connected(config, page_size=1000).investments.list().pages())
    client = connected(config, page_size=100)
    sent = client.transport.requests_sent
    assert ids(client.investments.list().pages()) == expected
    assert client.transport.requests_sent - sent == -(-INVESTMENTS // 100)


def test_next_link_is_read_from_the_undecoded_page() -> None:
    from helpers.core.client import next_link_ahead

    page = b'{"count": 3, "next": "http://x/v2/a/?after=5&page=2", "previous": null, "results": [{"next": "no"}]}'
    assert next_link_ahead(page) == "http://x/v2/a/?after=5&page=2"
    assert next_link_ahead(b'{"count": 3, "next": null, "previous": null, "results": []}') is None
    assert next_link_ahead(b'{"results": [{"next": "http://y"}], "next": null}') is None  # only before the results
    assert next_link_ahead(b'{"next": "http://x/a\\u0041\\"b", "results": []}') == 'http://x/aA"b'


@pytest.mark.parametrize("read", ["to_list", "frame", "pages"])
def test_an_ignored_filter_is_reported_at_the_callers_line(drf_config: Config, read: str) -> None:
    import warnings

    client = connected(drf_config)
    listing = client.investments.list(status="PAID")  # the drf profile ignores it: filtered here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if read == "pages":
            next(listing.pages())
        else:
            getattr(listing, read)()
    (warning,) = [w for w in caught if issubclass(w.category, helpers.core.client.FilterIgnoredWarning)]
    assert warning.filename == __file__


# --- page links that lead elsewhere ------------------------------------------------------------------------------


@pytest.fixture
def links_rewritten(drf_sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[Any, Any, Config]]:
    """A drf registry behind a reverse proxy whose page links the test rewrites (``front.links``: the link of page
    N, or None to leave it); ``elsewhere``, another address that notes what reaches it."""
    import json

    from tests.test_network_settings import Forwarder, serving

    links: dict[str, Any] = {}

    def rewrite(_url: str, body: bytes) -> bytes:
        text = body.decode("utf-8", "replace").replace(drf_sandbox.root, front.url)  # a reverse proxy's own links
        if '"count"' in text and (links.get("count_of_the_page") or links.get("count_off_by")):
            page = json.loads(text)
            if isinstance(page, dict) and isinstance(page.get("results"), list):
                off = links.get("count_off_by")  # a count that is wrong, the same in every answer
                page["count"] = page["count"] + off if off else len(page["results"])
                text = json.dumps(page)
        if '"next"' in text and links.get("next"):
            import re

            page = json.loads(text)
            if isinstance(page, dict) and page.get("next"):
                number = re.search(r"[?&]page=(\d+)", page["next"])
                page["next"] = links["next"](number.group(1) if number else "2")
                text = json.dumps(page)
        if '"next"' in text and links.get("ahead"):  # a first "next" that decoding overrides with the second
            text = '{"next": ' + json.dumps(links["ahead"]) + ", " + text.lstrip()[1:]
        return text.encode()

    front = Forwarder(upstream=drf_sandbox.root, rewrite=rewrite)
    front.links = links  # type: ignore[attr-defined]
    elsewhere = Forwarder(upstream=drf_sandbox.root)
    tenant = drf_sandbox.new_client()
    drf_sandbox.admin("bulk", {"client_id": tenant["client_id"], "investors": 30, "investments": 70})
    with_front = serving(front)
    with_elsewhere = serving(elsewhere)
    next(with_front), next(with_elsewhere)
    config = Config(
        base_url=drf_sandbox.base_url.replace(drf_sandbox.root, front.url),
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        journal_path=tmp_path / "journal.sqlite3",
        timeout=10,
        source="test",
    )
    yield front, elsewhere, config
    for server in (front, elsewhere):
        server.shutdown()
        server.server_close()


def test_relative_page_links_are_followed_on_the_registry(links_rewritten: tuple[Any, Any, Config]) -> None:
    front, _elsewhere, config = links_rewritten
    client = helpers.Client(config)
    assert len(client.investors.list().to_list()) == 30  # absolute links (the proxy's own)
    front.links["next"] = lambda number: f"/api/external/v2/investors/?page={number}"
    assert len(client.investors.list().to_list()) == 30
    front.links["next"] = lambda number: f"?page={number}"
    assert len(client.investors.list().to_list()) == 30


def test_pages_read_ahead_from_a_link_that_decoding_overrides_are_read_again(
    links_rewritten: tuple[Any, Any, Config],
) -> None:
    """The page thread asks for the next page from the link it finds in a page's bytes, before the page is decoded;
    where the decoded page says another (its "next" given twice, the last one counting), what was read ahead is
    dropped and the pages are read from the decoded link: every object once, in order."""
    front, _elsewhere, config = links_rewritten
    client = helpers.Client(config.replace(concurrency=1))  # following the links: 2 pages of 20
    expected = [record.id for record in client.investors.list()]
    assert len(expected) == 30
    front.links["ahead"] = f"{front.url}/api/external/v2/investors/?page=1"  # followed, it would repeat page 1
    read = [record.id for record in itertools.islice(client.investors.list(), 100)]  # (repeated pages: never ends)
    assert read == expected


def test_a_slow_reader_of_followed_pages_holds_at_most_two_ahead(strict_sandbox: Sandbox, tmp_path: Path) -> None:
    """Following ``next`` links, the page thread reads at most two pages ahead of the reader (memory stays bounded
    however long the list) and goes on as the reader does."""
    config = config_for(strict_sandbox, tmp_path)
    client = connected(config, page_size=100)
    sent = client.transport.requests_sent
    pages = client.investments.list().pages()
    next(pages), next(pages)  # the first page, then the first followed one: two more may be read ahead
    deadline = time.monotonic() + 10
    while client.transport.requests_sent - sent < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # a slow reader: nothing more is read until it takes a page
    assert client.transport.requests_sent - sent == 4
    assert len(ids(pages)) == INVESTMENTS - 200


def test_leaving_a_list_does_not_wait_for_the_page_read_ahead(strict_sandbox: Sandbox, tmp_path: Path) -> None:
    """A `break` out of a list (or Ctrl-C) while the page thread waits for a page read ahead returns at once (it
    waited for that answer: a whole latency, or a Retry-After's pause); the thread ends by itself."""
    config = config_for(strict_sandbox, tmp_path)
    client = connected(config, page_size=100)
    pages = _two_pages_read_and_two_ahead(client)
    strict_sandbox.faults(latency=5)  # every answer from now on comes 5 s after its request
    try:
        next(pages)  # room for one more: the page thread asks for it
        thread = _page_thread_fetching()
        pages.close()
        assert thread.is_alive()  # still waiting for its answer: leaving the list did not wait for it
    finally:
        strict_sandbox.faults(latency=0)
    thread.join(30)
    assert not thread.is_alive()


def test_a_page_read_ahead_for_a_list_left_is_not_asked_for_again(strict_sandbox: Sandbox, tmp_path: Path) -> None:
    """Review 77: a list left while its page thread was told to come back later (429, Retry-After) went on asking for
    that page after each pause, five times, for no one. It stops at the end of the pause it is in."""
    config = config_for(strict_sandbox, tmp_path)
    client = connected(config, page_size=100)
    pages = _two_pages_read_and_two_ahead(client)
    strict_sandbox.faults(queue=["429"] * 5, retry_after=1)
    try:
        next(pages)  # room for one more: the page thread asks for it, and is told to come back in a second
        thread = _page_thread_fetching()
        pages.close()
        thread.join(30)
        assert not thread.is_alive()
        assert len(strict_sandbox.faults()["queue"]) >= 3  # asked once (twice if the close came after the pause)
    finally:
        strict_sandbox.faults(queue=[], retry_after=0)


def test_leaving_a_list_read_concurrently_does_not_wait_for_a_retry_pause(
    drf_config: Config, drf_sandbox: Sandbox
) -> None:
    """Review 78: leaving a list whose pages are fetched concurrently (page numbers) waited for every fetch under way,
    a Retry-After's pause included. It returns at once; the fetch ends by itself at the end of its pause."""
    client = connected(drf_config, concurrency=4)
    pages = client.investments.list().pages()
    next(pages), next(pages)
    drf_sandbox.faults(queue=["429"] * 8, retry_after=5)
    try:
        next(pages)  # the next fetch asked for is told to come back in 5 seconds
        thread = _page_thread_fetching("helpers-pages")
        pages.close()
        assert thread.is_alive()  # still in its pause: leaving the list did not wait for it
    finally:
        drf_sandbox.faults(queue=[], retry_after=0)
    thread.join(30)
    assert not thread.is_alive()


def _two_pages_read_and_two_ahead(client: helpers.Client) -> Iterator[Any]:
    """A list's pages with two taken, once its page thread has read the two pages ahead and waits for room (waited
    for: a fault set while it still read them met those reads, and the 429s meant for a later page were used up by
    them, five pauses before the reader had its third page; seen once in a clean-clone run)."""
    sent = client.transport.requests_sent
    pages = client.investments.list().pages()
    next(pages), next(pages)
    deadline = time.monotonic() + 30
    while client.transport.requests_sent - sent < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.transport.requests_sent - sent == 4, "the page thread did not read two pages ahead within 30 s"
    return pages


def _page_thread_fetching(name: str = "helpers-page") -> Any:
    """The page thread, once it is fetching a page (waited for: it may still be on its way there)."""
    import sys
    import threading
    import traceback

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for thread in threading.enumerate():
            frame = sys._current_frames().get(thread.ident or 0)
            named = thread.name == name or thread.name.startswith(name + "_")  # (a pool's threads: NAME_0, NAME_1)
            stack = traceback.extract_stack(frame) if named and frame is not None else []
            if any(line.name == "_send" for line in stack):
                return thread
        time.sleep(0.01)
    raise AssertionError("no page thread fetched a page within 30 s")


def test_a_list_left_half_read_never_holds_up_the_end_of_python(strict_sandbox: Sandbox, tmp_path: Path) -> None:
    """A script (or a kernel) that reads two pages of a long list and ends without closing it: the page thread,
    waiting for its reader to take a page, was joined at exit, which never came."""
    import subprocess
    import sys

    config = config_for(strict_sandbox, tmp_path)
    script = f"""
from pathlib import Path
import helpers
from helpers.core.config import Config
config = Config(
    base_url={config.base_url!r}, client_id={config.client_id!r},
    client_secret={config.client_secret.get_secret_value()!r}, journal_path=Path({str(config.journal_path)!r}),
    page_size=100, source="test",
)
pages = helpers.Client(config).investments.list().pages()
next(pages), next(pages)
print("two pages read", flush=True)
"""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "two pages read\n"


def test_a_count_of_the_page_alone_never_stops_a_list_at_its_first_page(
    links_rewritten: tuple[Any, Any, Config],
) -> None:
    """Review 40: a registry whose ``count`` counts the page's items (7 of 22) with a next link: the page numbers
    were taken from the count (one page), the link dropped, and 7 of 22 read without a word. A next link is always
    followed; such a count is not the list's."""
    import warnings

    front, _elsewhere, config = links_rewritten
    front.links["count_of_the_page"] = True
    client = helpers.Client(config.replace(concurrency=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no 'the list changed while it was read'
        listing = client.investments.list()
        assert len(listing.to_list()) == 70 and listing.count is None
        assert len(client.investments.list().frame()) == 70


@pytest.mark.parametrize("off_by", [30, 1, -5])
def test_a_count_that_is_off_never_fails_a_complete_list_nor_says_it_changed(
    links_rewritten: tuple[Any, Any, Config], off_by: int
) -> None:
    """Review 52: a count 30 too high failed a complete list ('the registry counts 75 and 45 were read'); one that
    was off said 'the list changed while it was read (30 when it started, 30 now)'. The pages say where the list
    ends; the count that disagrees is said as such."""
    front, _elsewhere, config = links_rewritten
    front.links["count_off_by"] = off_by
    for concurrency in (4, 1):
        client = helpers.Client(config.replace(concurrency=concurrency, page_size=20))
        with pytest.warns(ListChangedWarning) as said:
            assert len(client.investors.list().to_list()) == 30
        (warning,) = said
        assert f"The registry counts {30 + off_by} for this list" in str(warning.message)
        assert "but its pages held 30" in str(warning.message) and "changed" not in str(warning.message)


def test_a_page_link_to_another_address_is_not_followed_with_the_token(
    links_rewritten: tuple[Any, Any, Config],
) -> None:
    front, elsewhere, config = links_rewritten
    front.links["next"] = lambda number: f"{elsewhere.url}/api/external/v2/investors/?page={number}"
    with pytest.raises(helpers.ConfigurationError) as caught:
        helpers.Client(config).investors.list().to_list()
    assert "not its address" in str(caught.value) and "the list is incomplete" in str(caught.value)
    assert elsewhere.seen == []  # nothing, and no token, went there


def test_a_missing_page_is_an_error_never_a_short_list(links_rewritten: tuple[Any, Any, Config]) -> None:
    front, _elsewhere, config = links_rewritten
    front.links["next"] = lambda number: f"{front.url}/gateway/v2/investors/?page={number}"
    client = helpers.Client(config)
    with pytest.raises(helpers.NotFoundError) as caught:
        client.investors.list().to_list()
    assert "the registry counts 30 and 20 were read" in str(caught.value)
    one_at_a_time = helpers.Client(config.replace(concurrency=1))  # following the links page by page
    with pytest.raises(helpers.NotFoundError) as caught:
        one_at_a_time.investors.list().to_list()
    assert "a page the list linked to answered 'not found' after 20 objects" in str(caught.value)
    with pytest.raises(helpers.NotFoundError):
        client.investments.list().to_list()


def test_an_http_link_of_an_https_registry_stays_on_https(config: Config) -> None:
    from helpers.core.transport import Transport

    secure = Transport(config.replace(base_url="https://registry.example.com/api/external"))
    assert (
        secure.url("http://registry.example.com/api/external/v2/investors/?page=2")
        == "https://registry.example.com/api/external/v2/investors/?page=2"
    )
    assert secure.url("https://registry.example.com:443/x?page=2") == "https://registry.example.com:443/x?page=2"
    for elsewhere in (
        "https://other.example.com/x",
        "http://registry.example.com:8080/x",
        "https://registry.example.com:8443/x",
        "https://registry.example.com:99999/x",
        "https://registry.example.com:abc/x",
        "https://user:secret@registry.example.com/x",  # requests would send these as Basic credentials
    ):
        with pytest.raises(helpers.ConfigurationError) as caught:
            secure.url(elsewhere)
        assert "secret" not in str(caught.value)  # credentials in a link are never repeated


def test_a_list_that_changes_while_it_is_read_says_so(drf_sandbox: Sandbox, tmp_path: Path) -> None:
    from helpers.core.client import ListChangedWarning
    from tests.conftest import config_for as tenant_config
    from tests.conftest import investor_body

    tenant = drf_sandbox.new_client()
    drf_sandbox.admin("bulk", {"client_id": tenant["client_id"], "investors": 45, "investments": 45})
    client = helpers.Client(tenant_config(drf_sandbox, tenant, tmp_path / "journal.sqlite3"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ListChangedWarning)
        assert len(client.investors.list().to_list()) == 45  # read while nothing changes: nothing said
    pages = client.investors.list().pages()
    first = next(pages)
    for number in range(5):  # a colleague adds investors meanwhile
        client.investors.create(investor_body(f"Meanwhile {number}"))
    with pytest.warns(ListChangedWarning, match="45 when it started, 50 now"):
        rest = [item for page in pages for item in page]
    assert len(first) + len(rest) >= 45
