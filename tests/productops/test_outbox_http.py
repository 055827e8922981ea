"""Outgoing HTTP (webhooks, Slack) refuses what it must, at entry (``check_url``) and on the
address actually connected to (``GuardedBackend``), so DNS rebinding cannot slip through."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from productops.errors import ValidationFailed
from productops.outbox import http, transports
from productops.outbox.models import Delivery

FORBIDDEN = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.5.5.5",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    "::ffff:0.0.0.0",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "fd00:ec2::254",  # AWS's IPv6 metadata
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.fixture
def no_localhost(settings):
    settings.DEBUG = False
    settings.OUTBOX_ALLOW_LOCALHOST = False


@pytest.fixture
def dns(monkeypatch):
    """Names under .test resolve to what the test says, without the network."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address):
    assert http.is_forbidden(address) is True


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses(address):
    assert http.is_forbidden(address) is False


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.test/in", "insecure_url"),
        ("ftp://hooks.example.test/in", "invalid"),
        ("https://", "invalid"),
        ("https://user:pw@hooks.example.test/in", "invalid"),
        ("https://10.0.0.1/in", "private_address"),
        ("https://127.0.0.1/in", "private_address"),
        ("https://169.254.169.254/latest/meta-data/", "private_address"),
        ("https://100.64.0.1/in", "private_address"),
        ("https://0.0.0.0/in", "private_address"),
        ("https://[::1]/in", "private_address"),
        ("https://[fe80::1]/in", "private_address"),
        ("https://[fd00::1]/in", "private_address"),
        ("https://[::ffff:127.0.0.1]/in", "private_address"),
        ("https://[::ffff:169.254.169.254]/in", "private_address"),
        ("https://metadata.test/computeMetadata/v1/", "private_address"),
        ("https://localhost/in", "private_address"),
        ("http://localhost:8000/in", "insecure_url"),
        ("https://" + "a" * 500 + ".test/", "max_length"),
    ],
)
def test_check_url_refuses_at_entry(no_localhost, dns, url, code):
    dns["hooks.example.test"] = ["93.184.216.34"]
    dns["metadata.test"] = ["169.254.169.254"]
    with pytest.raises(ValidationFailed) as refused:
        http.check_url(url, attr="url")
    assert (refused.value.attr, refused.value.code) == ("url", code)


def test_a_name_resolving_to_any_public_address_is_accepted_and_one_resolving_only_privately_is_not(
    no_localhost, dns
):
    dns["mixed.test"] = ["10.0.0.1", "93.184.216.34"]
    dns["private.test"] = ["10.0.0.1", "fd00::1"]
    assert http.check_url(" https://mixed.test/in ") == "https://mixed.test/in"
    assert http.allowed_addresses("mixed.test", 443) == ["93.184.216.34"]  # never the private one
    with pytest.raises(ValidationFailed):
        http.check_url("https://private.test/in")


def test_an_unresolvable_name_is_accepted_at_entry_and_checked_at_connect(no_localhost, dns):
    assert http.check_url("https://not-published-yet.invalid/in") == "https://not-published-yet.invalid/in"


def test_slack_urls_must_be_on_hooks_slack_com(no_localhost, dns):
    dns["hooks.slack.com"] = ["34.1.2.3"]
    dns["hooks.slack.com.evil.test"] = ["93.184.216.34"]
    assert http.check_url("https://hooks.slack.com/services/T/B/X", slack=True)
    for url in ("https://hooks.slack.com.evil.test/services/T/B/X", "https://slack.com/services/x"):
        with pytest.raises(ValidationFailed) as refused:
            http.check_url(url, slack=True, attr="slack_url")
        assert (refused.value.attr, refused.value.code) == ("slack_url", "not_slack")
    with pytest.raises(ValidationFailed) as insecure:
        http.check_url("http://hooks.slack.com/services/T/B/X", slack=True)
    assert insecure.value.code == "insecure_url"


@pytest.mark.parametrize("flag", ["DEBUG", "OUTBOX_ALLOW_LOCALHOST"])
def test_http_localhost_is_allowed_in_development_or_when_the_operator_says_so(settings, no_localhost, flag):
    setattr(settings, flag, True)
    assert http.check_url("http://localhost:8000/hook") == "http://localhost:8000/hook"
    assert http.check_url("http://127.0.0.1:9/hook", slack=True) == "http://127.0.0.1:9/hook"
    # Only the local names: any other http URL, or another name resolving to loopback, is not.
    with pytest.raises(ValidationFailed):
        http.check_url("http://hooks.example.com/in")


# --- at connect -----------------------------------------------------------------------------------


class Receiver:
    """A local HTTP server that records requests; ``redirect`` answers 302 to another path."""

    def __init__(self, *, redirect: bool = False) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                hits.append(self.path)
                if redirect and self.path != "/elsewhere":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                else:
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_the_client_uses_the_guarded_backend_no_redirects_timeouts_and_no_proxy():
    client = http.client()
    pool = client._transport._pool
    assert isinstance(pool._network_backend, http.GuardedBackend)
    assert client.follow_redirects is False
    assert client.timeout == http.TIMEOUT
    assert client.timeout.connect == 5.0
    assert client.timeout.read == 10.0
    assert client._trust_env is False


def test_a_hostname_resolving_to_loopback_is_refused_at_connect(no_localhost):
    with Receiver() as receiver, http.client() as client, pytest.raises(httpx.ConnectError) as refused:
        # localhost resolves to 127.0.0.1: the entry check is bypassed, the connection is not.
        client.post(f"http://localhost:{receiver.port}/hook", content=b"{}")
    assert "may not call" in str(refused.value)
    assert receiver.hits == []


def test_dns_rebinding_is_refused_at_connect_even_with_local_receivers_allowed(settings, dns):
    settings.OUTBOX_ALLOW_LOCALHOST = True
    dns["rebind.test"] = ["93.184.216.34"]
    assert http.check_url("https://rebind.test/in")  # public when the endpoint is saved ...
    with Receiver() as receiver:
        dns["rebind.test"] = ["127.0.0.1"]  # ... loopback when it is called
        with http.client() as client, pytest.raises(httpx.ConnectError):
            client.post(f"http://rebind.test:{receiver.port}/hook", content=b"{}")
    assert receiver.hits == []


def test_literal_private_and_mapped_addresses_are_refused_at_connect(no_localhost):
    with Receiver() as receiver, http.client() as client:
        for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0"):  # noqa: S104
            with pytest.raises(httpx.ConnectError):
                client.post(f"http://{host}:{receiver.port}/hook", content=b"{}")
    assert receiver.hits == []


def test_redirects_are_not_followed(settings):
    settings.OUTBOX_ALLOW_LOCALHOST = True
    with Receiver(redirect=True) as receiver:
        with http.client() as client:
            response = client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
        assert response.status_code == 302
        delivery = Delivery(
            channel="slack", recipient=f"http://localhost:{receiver.port}/hook", body_text="{}"
        )
        with pytest.raises(transports.SendError) as failed:
            transports.send(delivery)
    assert failed.value.permanent is True
    assert receiver.hits == ["/hook", "/hook"]


def test_the_transport_refuses_a_forbidden_address_permanently(no_localhost):
    with Receiver() as receiver:
        delivery = Delivery(
            channel="slack", recipient=f"http://localhost:{receiver.port}/hook", body_text="{}"
        )
        with pytest.raises(transports.SendError) as refused:
            transports.send(delivery)
    assert refused.value.permanent is True
    assert receiver.hits == []
