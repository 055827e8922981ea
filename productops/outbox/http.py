"""Outgoing HTTP for webhooks and Slack: https only, no redirects, timeouts, and no private
addresses — checked on the address actually connected to, so DNS rebinding cannot slip by.

The check lives in an httpcore network backend: every TCP connection the client opens
resolves the host itself, refuses forbidden addresses and connects to the checked IP (TLS
still verifies the certificate for the host name). :func:`check_url` runs the same rules
when an endpoint is saved, so bad URLs are refused at entry with a field error.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from productops.errors import ValidationFailed

SLACK_HOST = "hooks.slack.com"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Shared address space (carrier-grade NAT), which ``ipaddress`` does not call private.
CGNAT = ipaddress.ip_network("100.64.0.0/10")
TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)
MAX_RESPONSE_BYTES = 64 * 1024


class ForbiddenAddress(httpcore.ConnectError):
    """The host resolved only to addresses productops may not call."""


def allow_localhost() -> bool:
    """http://localhost (and loopback) is allowed only in development (``DEBUG``) or when an
    operator sets ``OUTBOX_ALLOW_LOCALHOST`` (the test suite's local receivers)."""
    return bool(settings.DEBUG or getattr(settings, "OUTBOX_ALLOW_LOCALHOST", False))


def is_forbidden(address: str) -> bool:
    """Private, loopback, link-local (cloud metadata), CGNAT, unspecified, multicast and
    reserved addresses, in IPv4, IPv6 and IPv4-mapped or -compatible IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
        elif ip.teredo is not None:
            ip = ip.teredo[1]
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def allowed_addresses(host: str, port: int) -> list[str]:
    """The resolved addresses of ``host`` that may be connected to (raises ForbiddenAddress if none)."""
    host = host.strip("[]")
    addresses = _resolve(host, port)
    local_ok = allow_localhost() and host.lower() in LOCAL_NAMES
    allowed = [a for a in addresses if local_ok or not is_forbidden(a)]
    if not allowed:
        raise ForbiddenAddress(f"{host} resolves to an address productops may not call")
    return allowed


class GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks and connects to the checked address (the connection's real peer)."""

    def connect_tcp(
        self, host, port, timeout=None, local_address=None, socket_options: Iterable | None = None
    ):
        last_error: Exception | None = None
        for address in allowed_addresses(host, port):
            try:
                return super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address, as getaddrinfo's order says
                last_error = exc
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")


def client() -> httpx.Client:
    """An httpx client for outgoing calls: guarded connections, timeouts, no redirects, and
    no proxy from the environment (a proxy would make the connected address the proxy's)."""
    transport = httpx.HTTPTransport(retries=0)
    # httpx has no public hook for the network backend; the pool is rebuilt with the same
    # TLS context (httpx==0.28 is pinned; tests/productops/test_outbox_http.py guards this).
    pool = transport._pool
    transport._pool = httpcore.ConnectionPool(
        ssl_context=pool._ssl_context, network_backend=GuardedBackend(), retries=0
    )
    return httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def check_url(url: str, *, attr: str = "url", slack: bool = False) -> str:
    """Validate an endpoint URL at entry: https (http only for localhost when allowed), the
    Slack host for Slack, and no forbidden resolved address. Returns the URL, stripped."""
    url = (url or "").strip()
    if len(url) > 500:
        raise ValidationFailed("At most 500 characters.", attr=attr, code="max_length")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationFailed("Enter a valid URL.", attr=attr, code="invalid") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationFailed("Enter a valid https:// URL.", attr=attr, code="invalid")
    if parts.username or parts.password:
        raise ValidationFailed("The URL may not carry a user name or password.", attr=attr, code="invalid")
    local = allow_localhost() and host in LOCAL_NAMES
    if parts.scheme != "https" and not local:
        raise ValidationFailed("The URL must use https://.", attr=attr, code="insecure_url")
    if slack and host != SLACK_HOST and not local:
        raise ValidationFailed(
            f"A Slack incoming webhook URL starts with https://{SLACK_HOST}/.", attr=attr, code="not_slack"
        )
    try:
        allowed_addresses(host, port)
    except ForbiddenAddress:
        raise ValidationFailed(
            "The URL points to a private or local address.", attr=attr, code="private_address"
        ) from None
    except (OSError, UnicodeError):
        # Not resolvable now (DNS down, or a name not yet published): accepted; every
        # connection is checked again when it is made.
        pass
    return url
