"""Proxies and certificate bundles from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) are
still honoured although the transport reads them once instead of on every request (``trust_env`` is off).

A forwarding proxy and a TLS front (a self-signed certificate made with openssl) run on loopback in front of the real
sandbox; the client talks HTTP(S) through them."""

from __future__ import annotations

import http.client
import http.server
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import urllib3.filepost
from requests.adapters import HTTPAdapter

import helpers
from helpers.core.client import Operation
from helpers.core.config import Config
from helpers.core.transport import AmbiguousWrite, PoolChoosingAdapter, Transport, make_retry, prepare, write_request
from tests.conftest import Sandbox, identification_body, investor_body
from tests.test_helpers_client import invest

HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class Forwarder(http.server.ThreadingHTTPServer):
    """An HTTP proxy (absolute URLs and CONNECT tunnels) or, with ``upstream``, a reverse proxy; it notes each
    request it forwarded."""

    daemon_threads = True

    def __init__(self, upstream: str | None = None, rewrite: Callable[[str, bytes], bytes] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.upstream = upstream
        self.rewrite = rewrite  # (url, answer body) -> the body sent on: a registry that answers otherwise
        # (method, url) -> a status (or a status and a JSON body) to answer instead
        self.refuse: Callable[[str, str], int | tuple[int, bytes] | None] | None = None
        self.fail_after: Callable[[str, str], int | None] | None = None  # the same, once the registry has acted
        self.moved: Callable[[str, str], tuple[int, str] | None] | None = None  # (method, url) -> a redirect
        # (method, url, status, body) -> the status and body (and headers) sent on instead, once the registry acted
        self.reshape: Callable[[str, str, int, bytes], tuple[Any, ...] | None] | None = None
        # (method, url) -> the answer sent a piece at a time: True, 4 bytes per 0.1 s; or (bytes, seconds)
        self.trickle: Callable[[str, str], bool | tuple[int, float]] | None = None
        self.seen: list[str] = []
        self.cookies: list[str | None] = []  # the Cookie header of each request forwarded
        self.refuse_tunnel: int | None = None  # a proxy's answer to CONNECT instead of a tunnel (407: credentials)
        self.drop_after: Callable[[str, str], bool] | None = None  # (method, url): forwarded, then no answer at all

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Forwarder

    def log_message(self, *_args: object) -> None:
        pass

    def do_CONNECT(self) -> None:
        self.server.seen.append(f"CONNECT {self.path}")
        if self.server.refuse_tunnel is not None:
            self.send_response(self.server.refuse_tunnel)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = True
            return
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                break
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    upstream.close()
                    self.close_connection = True
                    return
                (upstream if sock is self.connection else self.connection).sendall(data)

    def forward(self) -> None:
        url = self.path if self.path.startswith("http") else f"{self.server.upstream}{self.path}"
        self.server.seen.append(f"{self.command} {url}")
        self.server.cookies.append(self.headers.get("Cookie"))
        parts = urlsplit(url)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        moved = self.server.moved(self.command, url) if self.server.moved is not None else None
        if moved is not None:  # (status, Location): what a gateway answers for an address that moved
            self.send_response(moved[0])
            self.send_header("Location", moved[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        refused = self.server.refuse(self.command, url) if self.server.refuse is not None else None
        if refused is not None:
            refused, data = (
                refused if isinstance(refused, tuple) else (refused, b'{"detail": "Method \\"GET\\" not allowed."}')
            )
            self.send_response(refused)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        connection.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        answer = connection.getresponse()
        data = answer.read()
        if self.server.drop_after is not None and self.server.drop_after(self.command, url):
            connection.close()  # the registry acted; the way back broke before any byte of its answer
            self.close_connection = True
            return
        if self.server.rewrite is not None:
            data = self.server.rewrite(url, data)
        reshaped = self.server.reshape(self.command, url, answer.status, data) if self.server.reshape else None
        if reshaped is not None:  # the registry acted, and answered otherwise
            self.send_response(reshaped[0])
            self.send_header("Content-Type", "application/json")
            for name, value in (reshaped[2] if len(reshaped) > 2 else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reshaped[1])))
            self.end_headers()
            self.wfile.write(reshaped[1])
            connection.close()
            return
        failed = self.server.fail_after(self.command, url) if self.server.fail_after is not None else None
        if failed is not None:  # the registry acted, and its answer was replaced by an error of the way back
            data = b"" if 200 <= failed < 300 else b'{"detail": "Internal server error."}'  # (2xx: an empty answer)
            self.send_response(failed)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()
            return
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        pieces = self.server.trickle(self.command, url) if self.server.trickle is not None else False
        if pieces:
            size, pause = (4, 0.1) if pieces is True else pieces  # (4 bytes per 0.1 s: a gateway that trickles)
            for start in range(0, len(data), size):
                self.wfile.write(data[start : start + size])
                self.wfile.flush()
                time.sleep(pause)
        else:
            self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PATCH = forward


def serving(server: Forwarder) -> Iterator[Forwarder]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy() -> Iterator[Forwarder]:
    yield from serving(Forwarder())


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subject = ["-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), *subject],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_front(sandbox: Sandbox, certificate: tuple[Path, Path]) -> Iterator[Forwarder]:
    """HTTPS on loopback, with the self-signed certificate, in front of the sandbox."""
    server = Forwarder(upstream=sandbox.root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serving(server)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_http_proxy_is_used(config: Config, proxy: Forwarder, clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("HTTP_PROXY", proxy.url)
    client = helpers.Client(config)
    assert client.investors.list().to_list() == []
    assert client.investors.create(investor_body("Proxied")).outcome == "created"  # a write (sent by urllib3 itself)
    assert any(seen.startswith("POST ") and seen.endswith("/oauth/token") for seen in proxy.seen)
    assert any(seen.startswith("GET ") and "/investors/" in seen for seen in proxy.seen)
    assert any(seen.startswith("POST ") and seen.endswith("/investors/") for seen in proxy.seen), proxy.seen
    posts = sum(seen.startswith("POST ") and seen.endswith("/investors/") for seen in proxy.seen)
    proxy.drop_after = lambda method, url: method == "POST" and url.endswith("/investors/")  # forwarded, then cut
    made = client.investors.create(investor_body("Cut"), key="k-cut")  # a lost answer (urllib3 says ProxyError):
    assert made["natural_person"]["surname"] == "Cut"  # looked for and found, never taken for a write that never
    assert sum(seen.startswith("POST ") and seen.endswith("/investors/") for seen in proxy.seen) == posts + 1  # left


def test_no_proxy_is_honoured(config: Config, proxy: Forwarder, clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("HTTP_PROXY", proxy.url)
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    assert helpers.Client(config).investors.list().to_list() == []
    assert proxy.seen == []


def test_ca_bundle_and_https_proxy_are_used(
    config: Config,
    tls_front: Forwarder,
    proxy: Forwarder,
    certificate: tuple[Path, Path],
    clean_environment: pytest.MonkeyPatch,
) -> None:
    https = config.replace(base_url=f"https://127.0.0.1:{tls_front.server_address[1]}/api/external")
    with pytest.raises(helpers.APIConnectionError):  # a certificate nobody vouches for
        helpers.Client(https).check_connection()
    clean_environment.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    clean_environment.setenv("HTTPS_PROXY", proxy.url)
    client = helpers.Client(https)
    assert client.investors.list().to_list() == []
    tunnels = len(proxy.seen)
    assert client.investors.create(investor_body("Tunnelled")).outcome == "created"
    assert len(proxy.seen) > tunnels, "the write went around the proxy"  # (the writes' own pool: its own tunnel)
    assert proxy.seen and all(seen == f"CONNECT 127.0.0.1:{tls_front.server_address[1]}" for seen in proxy.seen)
    assert any(seen.startswith("GET ") and "/investors/" in seen for seen in tls_front.seen)
    assert any(seen.startswith("POST ") and seen.endswith("/investors/") for seen in tls_front.seen), tls_front.seen
    refused = helpers.Client(https)
    assert refused.investors.list().to_list() != []  # (its reads' tunnel: open, and kept)
    proxy.refuse_tunnel = 407  # the proxy now asks for credentials: this client's write never reaches the registry
    with pytest.raises(helpers.APIConnectionError) as blocked:
        refused.investors.create(investor_body("Blocked"), key="k-blocked")
    assert (
        not isinstance(blocked.value, AmbiguousWrite)
        and "the proxy on the way (HTTPS_PROXY or HTTP_PROXY) answered "
        "'407 Proxy Authentication Required' instead of connecting to it (407: it asks for credentials;"
        in str(blocked.value)
    )
    assert refused.journal.get("k-blocked").state == "refused"  # never sent: not looked for, sent on the next run


@pytest.mark.parametrize(
    "call",
    [
        {"method": "POST", "json": {"name": "Ada", "amount": 10**30}, "headers": {"X-Idempotency-Key": "k1"}},
        {"method": "GET", "params": {"page": 2, "status": None}, "headers": {"accept": "text/csv"}},
        {"method": "GET", "params": None, "headers": {"User-Agent": None}},
        {"method": "POST", "files": {"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}, "headers": {}},
        {"method": "POST", "data": {"grant_type": "client_credentials"}},
        {"method": "GET", "params": "page=2&status=DELIVERED"},
    ],
)
def test_the_transport_prepares_what_requests_would(call: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport prepares its requests itself (a third of ``Session.prepare_request``'s time): the same method,
    URL, headers, body and hooks, with the session's headers, parameters, cookies and hooks merged in."""
    session = requests.Session()
    session.trust_env = False
    session.headers.update({"Accept": "application/json", "User-Agent": "toolkit"})
    session.params = {"tenant": "t1"}
    session.cookies.set("route", "a", domain="127.0.0.1", path="/")
    session.hooks["response"].append(lambda response, *args, **kwargs: response)
    url = "http://127.0.0.1:8000/v2/investors/?ordering=name"
    monkeypatch.setattr(urllib3.filepost, "choose_boundary", lambda: "boundary")  # multipart bodies compare exactly
    ours = prepare(session, url=url, **call)
    theirs = session.prepare_request(requests.Request(url=url, **call))
    assert (ours.method, ours.url, ours.hooks) == (theirs.method, theirs.url, theirs.hooks)
    assert (list(ours.headers.items()), ours.body) == (list(theirs.headers.items()), theirs.body)
    assert ours.headers["Cookie"] == "route=a"


@pytest.mark.parametrize(
    "call",
    [
        {"json": {"name": "Ada", "amount": 10**30, "city": "Köln"}, "headers": {"X-Idempotency-Key": "k1"}},
        {"json": {"name": "Ada"}, "headers": {"User-Agent": None}, "params": {"page": 2, "status": None}},
        {"files": {"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}, "headers": {"X-Idempotency-Key": "k2"}},
        {"data": {"grant_type": "client_credentials", "scope": "a b"}},
        {"json": None},
    ],
)
def test_a_write_is_sent_as_requests_would_prepare_it(call: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes go on the wire through urllib3 itself (requests' layer was a fifth of a write's CPU): the same URL,
    headers and body as ``requests`` prepares, with the session's headers under the request's."""
    session = requests.Session()
    session.headers.update({"Accept": "application/json", "User-Agent": "toolkit"})
    url = "http://127.0.0.1:8000/v2/investors/"
    monkeypatch.setattr(urllib3.filepost, "choose_boundary", lambda: "boundary")  # multipart bodies compare exactly
    theirs = session.prepare_request(requests.Request("POST", url=url, **call))
    to, body, headers = write_request(session.headers, url, **call)
    expected = theirs.body.encode("latin-1") if isinstance(theirs.body, str) else theirs.body  # (http.client's)
    assert (to, body) == (theirs.url, expected)
    assert {**headers, "Content-Length": str(len(body or b""))} == {"Content-Length": "0", **theirs.headers}


def test_a_ca_bundle_is_named_only_where_tls_is_on_the_way(clean_environment: pytest.MonkeyPatch) -> None:
    """requests looks whether a named bundle is a folder on every request (a file system call each: 12% of the
    client's CPU per request in a bulk import); to a plain-http sandbox there is no TLS to verify."""
    from helpers.core.transport import environment_network_settings

    clean_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert environment_network_settings("http://127.0.0.1:8765/api/external") == ({}, True)
    assert environment_network_settings("https://demo.cashlink.de/api/external")[1] == (
        "/etc/ssl/certs/ca-certificates.crt"
    )
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:3128")  # a proxy on the way: as requests would
    assert environment_network_settings("http://10.0.0.5/api/external") == (
        {"http": "http://127.0.0.1:3128"},
        "/etc/ssl/certs/ca-certificates.crt",
    )


@pytest.fixture
def gateway(sandbox: Sandbox) -> Iterator[Forwarder]:
    """A reverse proxy in front of the sandbox, as a gateway is in front of the registry."""
    yield from serving(Forwarder(upstream=sandbox.root))


@pytest.fixture
def elsewhere(sandbox: Sandbox) -> Iterator[Forwarder]:
    """Another address that serves the same registry: where a redirect points."""
    yield from serving(Forwarder(upstream=sandbox.root))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_write_answered_with_a_redirect_is_not_sent_on_and_the_error_names_the_address(
    config: Config, sandbox: Sandbox, gateway: Forwarder, elsewhere: Forwarder, status: int
) -> None:
    """A gateway answers a write with a redirect (the address moved; http to https). requests would send a 301 or
    302 POST on as a GET of the new address, whose answer (a list) would be taken for the write's, and a 307 or 308
    with its body (someone's data) to wherever the redirect points. A write is not sent on: the error says where the
    registry points and which setting to change; nothing is made, and the same step at that address makes the
    investor once."""
    gateway.moved = lambda method, url: (
        (status, elsewhere.url + urlsplit(url).path) if method == "POST" and "/investors" in url else None
    )
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    with pytest.raises(helpers.ConfigurationError) as raised:
        client.investors.create(investor_body("Moved"))
    assert str(raised.value) == (
        f"The registry's address answered {status} (a redirect) when asked to create the investor, pointing to "
        f"{elsewhere.url}/api/external/v2/investors/: a write is not sent on to another address, so nothing was "
        f"sent there and nothing was made. If that is the registry, set CASHLINK_BASE_URL to "
        f"{elsewhere.url}/api/external (the settings came from test), then run the step again."
    )
    assert "Moved" not in str(raised.value) and elsewhere.seen == []
    assert [seen for seen in gateway.seen if seen.startswith("POST ") and "/investors" in seen] == [
        f"POST {sandbox.root}/api/external/v2/investors/"
    ]
    moved = helpers.Client(config.replace(base_url=f"{elsewhere.url}/api/external"))
    made = moved.investors.create(investor_body("Moved"))
    assert made.outcome == "created" and len(moved.investors.list().to_list()) == 1


@pytest.mark.parametrize("status", [301, 307])
def test_a_token_request_answered_with_a_redirect_does_not_send_the_secret_on(
    config: Config, sandbox: Sandbox, gateway: Forwarder, elsewhere: Forwarder, status: int
) -> None:
    gateway.moved = lambda method, url: (status, elsewhere.url + urlsplit(url).path) if "/oauth/" in url else None
    with pytest.raises(helpers.ConfigurationError) as raised:
        helpers.Client(config.replace(base_url=f"{gateway.url}/api/external")).check_connection()
    assert f"set CASHLINK_BASE_URL to {elsewhere.url}/api/external" in str(raised.value)
    assert "get an access token" in str(raised.value) and elsewhere.seen == []


@pytest.mark.parametrize("status", [200, 204])
def test_an_update_answered_without_the_object_shows_the_object_as_it_is_now(
    config: Config, gateway: Forwarder, status: int
) -> None:
    """A registry may answer an update with no body (204 No Content, or an empty 200): the result is the object as
    the registry has it after the update, read, not an error (the update was made)."""
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    made = client.investors.create(investor_body("Quiet"))
    gateway.fail_after = lambda method, url: status if method == "PATCH" else None
    updated = client.investors.update(made.id, {"communication": {"email": "quiet.new@example.com"}})
    assert (updated.outcome, updated.id) == ("updated", made.id)
    assert updated["communication"]["email"] == "quiet.new@example.com"
    assert updated.happened() == f"Updated now: investor id {made.id}."
    gateway.fail_after = None
    again = client.investors.update(made.id, {"communication": {"email": "quiet.new@example.com"}})
    assert again.outcome == "existed"


def test_a_read_follows_a_redirect_on_its_address_and_says_where_another_points(
    config: Config, sandbox: Sandbox, gateway: Forwarder, elsewhere: Forwarder
) -> None:
    """A read is safe to send on (a GET stays a GET) where the access token goes with it: on the registry's own
    address (here a trailing slash moved). Sent on to another address, requests drops the token, whose 401 would be
    taken for the registry refusing it: it is said as a redirect, with the setting to change."""
    gateway.moved = lambda method, url: (
        (301, urlsplit(url).path.rstrip("/"))
        if method == "GET" and urlsplit(url).path.endswith("/investors/")
        else None
    )
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    assert client.investors.list().to_list() == []
    assert any(seen.startswith("GET ") and seen.endswith("/v2/investors") for seen in gateway.seen)
    gateway.moved = lambda method, url: (
        (301, elsewhere.url + urlsplit(url).path) if method == "GET" and "/investors" in url else None
    )
    with pytest.raises(helpers.ConfigurationError) as raised:
        client.investors.list().to_list()
    assert str(raised.value) == (
        "The registry's address answered 301 (a redirect) when asked to list the investors, pointing to "
        f"{elsewhere.url}/api/external/v2/investors/: the access token is not sent on to another address. If that "
        f"is the registry, set CASHLINK_BASE_URL to {elsewhere.url}/api/external (the settings came from test), "
        "then run the step again."
    )
    gateway.moved = lambda method, url: (300, "") if method == "GET" and "/investors" in url else None
    with pytest.raises(helpers.ConfigurationError) as raised:
        client.investors.list().to_list()
    assert str(raised.value).startswith(
        "The registry's address answered 300 (a redirect) when asked to list the investors, without saying where "
        "to: it could not be followed. Check CASHLINK_BASE_URL"
    )


@pytest.mark.parametrize("shape", ["data", "list", "result", "jsend"])
def test_a_writes_answer_wrapped_is_read_as_the_object_it_wraps(
    config: Config, sandbox: Sandbox, gateway: Forwarder, shape: str
) -> None:
    """Review 58: an upload answered {"data": {...}} (or a list, or {"result": {...}}) was "Created now: document id
    None", and the identification then failed with KeyError 'id'. A credit answered so hid its failed task."""
    import json

    def wrapped(method: str, url: str, status: int, data: bytes) -> tuple[int, bytes] | None:
        if method != "POST" or not url.endswith(("/documents/", "/credits/")) or status >= 300:
            return None
        made = json.loads(data)
        envelope = {"status": "success", "data": made} if shape == "jsend" else {shape: made}
        return status, json.dumps([made] if shape == "list" else envelope).encode()

    gateway.reshape = wrapped
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    investor = client.investors.create(investor_body("Wrapped"))
    protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    assert protocol.outcome == "created" and checks_uuid(protocol.id)
    assert protocol.happened() == f"Created now: document id {protocol.id}."
    client.investors.identify(investor.id, identification_body(protocol.id))
    wallet = client.investors.create_managed_wallet(investor.id)
    investment = invest(client, investor.id, wallet.id, 10)
    assert "failed" in failed_credit(sandbox, client, investment.id)
    delivered = client.investments.credit(investment.id, timeout=10)  # a failed credit is sent as a new attempt
    assert delivered["status"] == "DELIVERED"


def test_an_upload_answered_without_any_id_is_an_unknown_outcome_not_a_document_without_one(
    config: Config, gateway: Forwarder
) -> None:
    """Review 58: a 201 with an empty body (no Location) to an upload was recorded as made, with id None, and the
    journal said done: every re-run answered an empty record. Nothing can look for a document: the outcome is
    unknown, said in a sentence, and the journal keeps the attempt open for its key."""
    gateway.reshape = lambda method, url, status, data: (
        (201, b"") if method == "POST" and url.endswith("/documents/") else None
    )
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    with pytest.raises(helpers.OutcomeUnknown) as raised:
        client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    assert str(raised.value).startswith(
        "The registry answered 201 to 'upload the document' but named no id of what it made (no id in its answer, "
        "no Location), and nothing here can look for it: which document it made cannot be told"
    )
    assert str(raised.value).endswith("running this again sends the same request under the same key.")
    gateway.reshape = None
    again = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
    assert again.outcome in ("created", "replayed") and checks_uuid(again.id)


def checks_uuid(value: str) -> bool:
    from helpers.core.checks import is_uuid

    return is_uuid(value)


def test_a_credit_answered_202_without_its_task_is_looked_for_not_sent_again(
    config: Config, sandbox: Sandbox, gateway: Forwarder
) -> None:
    """Review 58: a credit answered with an empty 202 was recorded done with no task; a failed one was never sent
    again. It is looked for among the investment's credit tasks, as after a lost answer, and sent once."""
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    from tests.test_helpers_client import onboard

    investor_id, wallet_id = onboard(client, "Accepted")
    investment = invest(client, investor_id, wallet_id, 10)
    gateway.reshape = lambda method, url, status, data: (
        (202, b"") if method == "POST" and url.endswith("/credits/") else None
    )
    delivered = client.investments.credit(investment.id, timeout=10)
    assert delivered["status"] == "DELIVERED" and delivered.outcome == "created"
    assert sum(seen.startswith("POST ") and seen.endswith("/credits/") for seen in gateway.seen) == 1


def test_a_token_refused_with_403_is_renewed_once_and_a_missing_scope_is_not(
    config: Config, gateway: Forwarder
) -> None:
    """Review 58: a registry that answers an expired token 403 (not 401) was taken for a missing scope, and the token
    was never renewed."""
    expired = b'{"detail": "Given token not valid for any token type", "code": "token_not_valid"}'
    refusals = {"left": 1}

    def refuse(method: str, url: str) -> tuple[int, bytes] | None:
        if "/oauth/" in url or refusals["left"] == 0:
            return None
        refusals["left"] -= 1
        return 403, expired

    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    client.investors.list().to_list()
    tokens = sum("/oauth/token" in seen for seen in gateway.seen)
    gateway.refuse = refuse
    assert client.investors.list().to_list() == []
    assert sum("/oauth/token" in seen for seen in gateway.seen) == tokens + 1
    refusals["left"] = 99
    with pytest.raises(helpers.AuthenticationError) as refused:
        client.investors.list().to_list()
    assert "trying to list the investors (403, twice: Given token not valid for any token type)" in str(refused.value)
    gateway.refuse = None
    client.investors.list().to_list()  # (a new token: the refused one was dropped)
    gateway.refuse = lambda method, url: (
        None if "/oauth/" in url else (403, b'{"detail": "You do not have permission to perform this action."}')
    )
    tokens = sum("/oauth/token" in seen for seen in gateway.seen)
    with pytest.raises(helpers.PermissionDeniedError) as denied:
        client.investors.list().to_list()
    assert "CASHLINK_SCOPES" in str(denied.value) and sum("/oauth/token" in s for s in gateway.seen) == tokens


def test_an_answer_that_trickles_in_is_cut_at_the_timeout_and_a_write_is_looked_for(
    config: Config, gateway: Forwarder
) -> None:
    """Review 58: CASHLINK_TIMEOUT bounded each read of the socket, not the answer: a gateway sending a few bytes at
    a time held a cell as long as it liked. The rest of an answer must come within the timeout of its first bytes; a
    write whose answer did not is looked for, as after a lost answer, and not sent again."""
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external", timeout=0.5))
    client.check_connection()
    gateway.trickle = lambda method, url: "/investors" in url and method == "GET"  # 4 bytes per 0.1 s: seconds
    with pytest.raises(helpers.APIConnectionError) as slow:
        client.investors.list().to_list()
    assert str(slow.value).startswith(
        "The registry's answer to 'list the investors' stopped coming (less than 64 KB in 0.5 s, not yet all of it)"
    )
    gateway.trickle = lambda method, url: (100_000, 0.3) if "/investors" in url and method == "GET" else False
    gateway.rewrite = lambda url, data: (
        data[:-1] + b', "padding": "' + b"x" * 400_000 + b'"}'
        if "/investors" in url and data.startswith(b"{")
        else data
    )
    assert client.investors.list().to_list() == []  # a large answer over a slow line: 1.2 s, and it keeps coming
    gateway.rewrite = None
    gateway.trickle = lambda method, url: "/investors" in url and method == "POST"
    made = client.investors.create(investor_body("Trickle"))
    assert made.outcome == "created" and made["natural_person"]["surname"] == "Trickle"
    assert sum(seen.startswith("POST ") and "/investors" in seen for seen in gateway.seen) == 1
    for session in (client.transport.reads, client.transport.writes):  # every cut answer's connection given back
        manager = session.get_adapter("http://").poolmanager  # (review 66: one place of the pool lost for each)
        pools = [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118 (no iteration of its own)
        assert pools and all(pool.pool.qsize() == pool.pool.maxsize for pool in pools), [p.pool.qsize() for p in pools]


def test_a_create_named_by_location_or_see_other_is_read_once_and_not_made_twice(
    config: Config, gateway: Forwarder
) -> None:
    """Review 59: a 201 with an empty body and the object's Location was looked for as if no answer had come (a
    client that may not read: an unknown outcome); a 303 See Other (done, its result at Location) was said to have
    made nothing, and a re-run made a second document."""
    import json

    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    gateway.reshape = lambda method, url, status, data: (
        (201, b"", {"Location": f"{urlsplit(url).path}{json.loads(data)['id']}/"})
        if method == "POST" and url.endswith("/investors/")
        else (303, b"", {"Location": f"{urlsplit(url).path}{json.loads(data)['id']}/"})
        if method == "POST" and url.endswith("/documents/")
        else None
    )
    investor = client.investors.create(investor_body("Located"))
    assert investor.outcome == "created" and checks_uuid(investor.id)
    after = gateway.seen[gateway.seen.index(next(s for s in gateway.seen if s.startswith("POST ") and "/inv" in s)) :]
    assert not any(seen.startswith("GET ") and "/investors/?" in seen for seen in after)  # not looked for
    for run in (1, 2):
        protocol = client.documents.upload(b"%PDF-1.4 protocol", "protocol.pdf")
        assert protocol.outcome == ("created" if run == 1 else "existed") and checks_uuid(protocol.id)
    assert sum(seen.startswith("POST ") and seen.endswith("/documents/") for seen in gateway.seen) == 1
    client.investors.identify(investor.id, identification_body(protocol.id))


def test_a_credit_answered_with_its_task_under_another_name_is_taken_as_the_answer(
    config: Config, gateway: Forwarder
) -> None:
    """Review 59: an answer of anything (``{"task_id": ...}``) to a credit was looked for as if none had come."""
    client, investment = paid_investment(config, gateway, "Tasked")
    answer_credits_with_task_id(gateway)
    delivered = client.investments.credit(investment.id, timeout=10)
    assert delivered["status"] == "DELIVERED" and delivered.outcome == "created"
    assert sum(seen.startswith("POST ") and seen.endswith("/credits/") for seen in gateway.seen) == 1


def test_a_redirect_names_no_password_and_multi_hop_reads_keep_their_token(
    config: Config, sandbox: Sandbox, gateway: Forwarder, elsewhere: Forwarder
) -> None:
    """Review 59: a redirect to user:password@host was quoted whole in the error, and in the address to set."""
    gateway.moved = lambda method, url: (
        (307, f"http://svc-user:S3cr3t-pw@127.0.0.1:{elsewhere.server_address[1]}{urlsplit(url).path}")
        if method == "POST"
        else None
    )
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    with pytest.raises(helpers.ConfigurationError) as raised:
        client.investors.create(investor_body("Secret"))
    said = str(raised.value)
    assert "S3cr3t" not in said and "svc-user" not in said
    assert "(with a user name and password in the address, not shown)" in said
    assert f"set CASHLINK_BASE_URL to {elsewhere.url}/api/external" in said


def test_a_task_answered_with_a_result_member_is_the_task_and_its_failure_is_said(
    config: Config, sandbox: Sandbox, gateway: Forwarder
) -> None:
    """Review 60: a credit answered {"task_id", "status": "failed", "result": {investment}} was read as its result
    member (the investment, "created"), and the failure never said."""
    import json

    from tests.test_helpers_client import onboard

    def tasked(method: str, url: str, status: int, data: bytes) -> tuple[int, bytes] | None:
        if method != "POST" or not url.endswith("/credits/") or status >= 300:
            return None
        task = json.loads(data)
        investment = {"id": url.rstrip("/").split("/")[-2], "status": "PAID"}
        answer = {"task_id": task.get("id"), "status": task.get("status"), "result": investment}
        return status, json.dumps(answer).encode()

    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    investor_id, wallet_id = onboard(client, "Resulted")
    investment = invest(client, investor_id, wallet_id, 10)
    gateway.reshape = tasked
    assert "failed" in failed_credit(sandbox, client, investment.id)


def test_a_see_other_that_cannot_be_read_is_never_sent_again(
    config: Config, gateway: Forwarder, elsewhere: Forwarder
) -> None:
    """Review 60: a 303 whose address could not be read (another host; a 404 there) was taken for a lost answer,
    and an upload sent four times a run. A 303 says it was done: the id its address names is what it made; with no
    id there, the outcome is unknown, and nothing is sent again."""
    import json

    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    gateway.reshape = lambda method, url, status, data: (
        (303, b"", {"Location": f"{elsewhere.url}{urlsplit(url).path}{json.loads(data)['id']}/"})
        if method == "POST" and url.endswith("/documents/")
        else None
    )
    with pytest.raises(helpers.OutcomeUnknown):  # (review 61: an id in another address may name anything)
        client.documents.upload(b"%PDF-1.4 protocol 303", "protocol.pdf")
    assert elsewhere.seen == []
    gateway.reshape = lambda method, url, status, data: (
        (303, b"", {"Location": f"{elsewhere.url}/somewhere/else/"})
        if method == "POST" and url.endswith("/documents/")
        else None
    )
    with pytest.raises(helpers.OutcomeUnknown) as unknown:
        client.documents.upload(b"%PDF-1.4 another protocol", "protocol.pdf")
    assert str(unknown.value).startswith(
        "The registry answered 303 to 'upload the document': it was done, and its result is elsewhere"
    )
    assert sum(seen.startswith("POST ") and seen.endswith("/documents/") for seen in gateway.seen) == 2


def test_a_jsend_refusal_in_a_2xx_is_a_refusal_and_a_refused_token_never_quotes_the_person(
    config: Config, gateway: Forwarder
) -> None:
    """Review 60: an update answered 200 {"status": "fail", "data": {...}} was "Updated now" though the registry
    changed nothing; a fresh token refused twice quoted the investor's name the registry's sentence held. JSend's
    "error" in a 200 to a read was "a problem (500)": said as the registry's error, with the status it came with."""
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    made = client.investors.create(investor_body("Jsend"))
    fail = b'{"status": "fail", "data": {"communication": {"email": ["This e-mail address is used already."]}}}'
    gateway.refuse = lambda method, url: (200, fail) if method == "PATCH" else None
    with pytest.raises(helpers.ValidationError) as refused:
        client.investors.update(made.id, {"communication": {"email": "jsend.new@example.com"}})
    assert "This e-mail address is used already" in str(refused.value.field_errors)
    error = b'{"status": "error", "message": "Investor Ada Lovelace is locked"}'  # on a read: said with its own
    gateway.refuse = lambda method, url: (200, error) if method == "GET" else None  # status, the name not quoted
    with pytest.raises(helpers.ServerError) as erred:  # (review 64: the registry's sentence named the person)
        client.investors.get(made.id)
    assert erred.value.status == 200 and str(erred.value).startswith(
        "The registry answered an error and could not read the investor. Running the cell again is safe"
    )
    assert "Lovelace" not in str(erred.value)
    gateway.refuse = None
    assert client.investors.get(made.id)["communication"]["email"] != "jsend.new@example.com"
    assert client.investors.update(made.id, {"communication": {"email": "jsend.new@example.com"}}).outcome == (
        "updated"
    )
    body = investor_body("Musterfrau")
    expired = b'{"detail": "Token expired while creating the investor Peter Musterfrau.", "code": "token_not_valid"}'
    gateway.refuse = lambda method, url: (403, expired) if method == "POST" and "/investors" in url else None
    with pytest.raises(helpers.AuthenticationError) as twice:
        client.investors.create(body)
    assert "403, twice" in str(twice.value) and "Musterfrau" not in str(twice.value)


def test_a_credit_answered_without_its_task_says_its_failure_from_the_registrys_list(
    config: Config, sandbox: Sandbox, gateway: Forwarder
) -> None:
    """Review 60: a failed credit answered {"task_id": ...} waited out its time, then said "this registry does not
    list credit tasks", which it does: its list says the credit failed, and how to send it again."""
    client, investment = paid_investment(config, gateway, "Untasked")
    answer_credits_with_task_id(gateway)
    sandbox.admin("settings", {"task_outcome": "failed"})
    try:
        with pytest.raises(helpers.TaskError) as failed:
            client.investments.credit(investment.id, timeout=1)
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    assert str(failed.value).startswith("The credit of the investment failed (")
    assert f"client.investments.credit('{investment.id}', repeat=True)" in str(failed.value)
    gateway.reshape = None
    assert client.investments.credit(investment.id, repeat=True)["status"] == "DELIVERED"


def failed_credit(sandbox: Sandbox, client: helpers.Client, investment_id: str) -> str:
    """The error a credit that the registry's ledger fails raises (the sandbox fails it on purpose)."""
    sandbox.admin("settings", {"task_outcome": "failed"})
    try:
        with pytest.raises(helpers.TaskError) as failed:
            client.investments.credit(investment_id, wait=False)
    finally:
        sandbox.admin("settings", {"task_outcome": "success"})
    return str(failed.value)


def paid_investment(config: Config, gateway: Forwarder, surname: str) -> tuple[helpers.Client, helpers.Record]:
    """A client that talks through the gateway, and a paid investment of a new investor with a wallet."""
    from tests.test_helpers_client import onboard

    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    investor_id, wallet_id = onboard(client, surname)
    return client, invest(client, investor_id, wallet_id, 10)


def answer_credits_with_task_id(gateway: Forwarder) -> None:
    """Credits answered 202 ``{"task_id": ...}``: their task under another name, without its status."""
    import json

    gateway.reshape = lambda method, url, status, data: (
        (202, json.dumps({"task_id": json.loads(data).get("id")}).encode())
        if method == "POST" and url.endswith("/credits/")
        else None
    )


def test_a_read_sent_to_another_address_and_back_is_said_as_a_redirect(
    config: Config, gateway: Forwarder, elsewhere: Forwarder
) -> None:
    """Review 59: a read redirected from the registry to another address and back lost its token at the middle hop
    (requests drops it there), whose 401 blamed the registry: every hop is checked."""

    def there(method: str, url: str) -> tuple[int, str] | None:
        parts = urlsplit(url)
        return (302, f"{elsewhere.url}{parts.path}?{parts.query}&hop=1") if "hop=" not in url else None

    gateway.moved = lambda method, url: there(method, url) if method == "GET" and "/investors" in url else None
    elsewhere.moved = lambda method, url: (
        (302, f"{gateway.url}{urlsplit(url).path}?{urlsplit(url).query.replace('hop=1', 'hop=2')}")
        if "hop=1" in url
        else None
    )
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    with pytest.raises(helpers.ConfigurationError) as raised:
        client.investors.list().to_list()
    assert "answered 302 (a redirect) when asked to list the investors" in str(raised.value)
    assert "the access token is not sent on to another address" in str(raised.value)


def test_a_gateways_sticky_cookie_set_on_a_write_goes_with_the_next_writes(config: Config, gateway: Forwarder) -> None:
    """Writes go through urllib3 itself, and still keep the cookies their answers set (a load balancer's sticky
    session; review 66: they were dropped); a value that cannot go on the wire is refused before anything is sent,
    in a sentence (review 66: a bare ValueError, and the audit trail said the outcome was unknown)."""
    client = helpers.Client(config.replace(base_url=f"{gateway.url}/api/external"))
    client.check_connection()
    gateway.reshape = lambda method, url, status, data: (
        (status, data, {"Set-Cookie": "AWSALB=node-2; Path=/"}) if method == "POST" and "/investors" in url else None
    )
    client.investors.create(investor_body("Sticky"))
    gateway.reshape = None
    client.investors.create(investor_body("Stuck"))
    sent = [cookie for seen, cookie in zip(gateway.seen, gateway.cookies, strict=True) if seen.startswith("POST ")]
    assert sent[-2:] == [None, "AWSALB=node-2"], sent
    forwarded = len(gateway.seen)
    nan = Operation("create note", "POST", "/investors/", "create the note", "note", body={"n": float("nan")}, key="k")
    with pytest.raises(helpers.InputError) as refused:
        client.write(nan)
    assert refused.value.message.startswith(
        "Could not create the note: what was to be sent cannot be written as an HTTP request (ValueError: Out of range "
        "float values are not JSON compliant"
    ) and refused.value.message.endswith("). Nothing was sent. Correct the values and try again.")
    assert len(gateway.seen) == forwarded and client.audit()[-1]["outcome"] == "refused: InputError"
    assert client.journal.get("k").state == "refused"  # (not 'sent': nothing is looked for on the next run)


def test_a_write_whose_proxy_cannot_be_reached_was_never_sent(config: Config) -> None:
    """A proxy on the way that refuses the connection: the write never left this machine, so it is said as the
    registry not reached (and may be sent again), not as an answer lost (review 66)."""
    client = helpers.Client(config)
    client.check_connection()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on (bound, never listening: refused)
    try:
        client.transport.writes.proxies = {"http": f"http://127.0.0.1:{closed.getsockname()[1]}"}
        client.transport.writes.get_adapter("http://").max_retries = make_retry(total=1, backoff=0, writes=True)
        with pytest.raises(helpers.APIConnectionError) as lost:
            client.investors.create(investor_body("Unproxied"), key="k-proxy")
    finally:
        closed.close()
    assert not isinstance(lost.value, AmbiguousWrite), lost.value
    assert str(lost.value).startswith("Could not reach the registry at ")
    assert client.journal.get("k-proxy").state == "refused"  # made nothing: the next run sends it


def test_the_pool_a_write_goes_through_is_the_one_requests_would_choose_after_a_close_or_a_new_proxy(
    config: Config, proxy: Forwarder, clean_environment: pytest.MonkeyPatch
) -> None:
    """The adapter remembers the pool it chose for an address (PoolChoosingAdapter): after its session's close, a
    write goes through the pool requests would choose now (urllib3 2.x lets the old one go, still open: review 79);
    a pool closed by hand is a write never sent, not an answer lost; a proxy set since is used."""
    client = helpers.Client(config)
    adapter = client.transport.writes.get_adapter(config.root_url)

    def chosen_now() -> object:
        target = requests.PreparedRequest()
        target.prepare(method="POST", url=config.api_url + "/investors/")
        return HTTPAdapter.get_connection_with_tls_context(adapter, target, True, {})  # requests' own choice

    assert client.investors.create(investor_body("Pooled")).outcome == "created"
    before = chosen_now()
    assert before in adapter._chosen.values()
    client.transport.writes.close()
    assert client.investors.create(investor_body("Reopened")).outcome == "created"
    assert chosen_now() is not before and chosen_now() in adapter._chosen.values()  # the pool of now, not the old
    chosen_now().close()  # (by hand: requests would choose this closed pool again)
    with pytest.raises(helpers.APIConnectionError) as closed:
        client.investors.create(investor_body("Closed"), key="k-closed")
    assert not isinstance(closed.value, AmbiguousWrite), closed.value  # nothing left: never said as maybe made
    assert client.journal.get("k-closed").state == "refused"
    client.transport.writes.close()
    assert proxy.seen == []
    client.transport.writes.proxies = {"http": proxy.url}
    assert client.investors.create(investor_body("Proxied later")).outcome == "created"
    assert sum(seen.startswith("POST ") and seen.endswith("/investors/") for seen in proxy.seen) == 1, proxy.seen


def test_the_adapter_remembers_no_pool_across_a_close_nor_more_pools_than_requests_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review 80: a choice made while another thread closed the session was remembered after the close (its pool,
    which urllib3 2.x leaves open, then served every request); pools of more addresses than requests keeps were all
    kept open by the memo."""
    session = requests.Session()
    adapter = PoolChoosingAdapter(pool_connections=4, pool_maxsize=4, max_retries=make_retry())
    session.mount("http://", adapter)

    def target(port: int) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.prepare(method="POST", url=f"http://127.0.0.1:{port}/investors/")
        return prepared

    requests_choice = HTTPAdapter.get_connection_with_tls_context

    def closed_meanwhile(self: HTTPAdapter, *args: Any, **kwargs: Any) -> Any:
        pool = requests_choice(self, *args, **kwargs)
        closing = threading.Thread(target=session.close)  # another thread's close lands between choice and memo
        closing.start()
        closing.join()
        return pool

    monkeypatch.setattr(HTTPAdapter, "get_connection_with_tls_context", closed_meanwhile)
    before = adapter.get_connection_with_tls_context(target(9001), True, {})
    monkeypatch.setattr(HTTPAdapter, "get_connection_with_tls_context", requests_choice)
    after = adapter.get_connection_with_tls_context(target(9001), True, {})
    assert after is not before and after is requests_choice(adapter, target(9001), True, {})
    for port in range(9001, 9011):  # ten addresses: never more remembered than requests keeps pools for (4)
        assert adapter.get_connection_with_tls_context(target(port), True, {}) is requests_choice(
            adapter, target(port), True, {}
        )
        assert len(adapter._chosen) <= 4


def test_a_write_presents_the_client_certificate_set_on_its_session(
    config: Config, sandbox: Sandbox, certificate: tuple[Path, Path], clean_environment: pytest.MonkeyPatch
) -> None:
    """A registry behind a gateway that asks for a client certificate (mutual TLS): a certificate set on the
    sessions goes with the writes too, as requests sends it with the reads (the writes' pool is chosen with it)."""
    server = Forwarder(upstream=sandbox.root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.verify_mode = ssl.CERT_REQUIRED  # no certificate, no connection
    context.load_verify_locations(certificate[0])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for front in serving(server):
        clean_environment.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
        client = helpers.Client(config.replace(base_url=f"https://127.0.0.1:{front.server_address[1]}/api/external"))
        with pytest.raises(helpers.APIConnectionError):
            client.check_connection()  # (without a certificate)
        for session in (client.transport.reads, client.transport.writes):
            session.cert = (str(certificate[0]), str(certificate[1]))
        assert client.investors.create(investor_body("Mutual")).outcome == "created"
        assert any(seen.startswith("POST ") and seen.endswith("/investors/") for seen in front.seen), front.seen


def test_a_registry_that_cannot_be_reached_is_said_in_words_not_a_class_name(config: Config) -> None:
    """Review 88: 'Could not reach the registry ... even after retries (ConnectionError).'"""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on (bound, never listening: refused)
    try:
        unreachable = config.replace(base_url=f"http://127.0.0.1:{closed.getsockname()[1]}")
        client = helpers.Client(unreachable, transport=Transport(unreachable, retry=make_retry(total=1, backoff=0)))
        with pytest.raises(helpers.APIConnectionError) as caught:
            client.check_connection()
    finally:
        closed.close()
    said = str(caught.value)
    assert "even after retries (the connection was refused)." in said and "Error)" not in said, said
