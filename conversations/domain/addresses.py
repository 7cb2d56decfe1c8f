"""Where webhooks may go: the address rule against server-side request forgery (SSRF).

A webhook URL must be ``http`` or ``https`` with a host, and every address its host resolves
to must be a public unicast address: no loopback, private (RFC 1918, unique-local ``fc00::/7``),
shared (``100.64.0.0/10``), link-local (``169.254.0.0/16``, ``fe80::/10``: cloud metadata
services live there), multicast, reserved, unspecified (``0.0.0.0``, ``::``) or documentation
address, for IPv4 and IPv6 alike. IPv6 forms that embed an IPv4 address (IPv4-mapped
``::ffff:a.b.c.d``, 6to4 ``2002::/16``, Teredo, NAT64 ``64:ff9b::/96``) are judged by the IPv4
address inside. A host with one bad address is refused as a whole: DNS answers rotate.

The rule is applied twice, by the same function :func:`check_address`:

- when an endpoint is saved (:func:`validate_webhook_url`, called by
  :meth:`WebhookEndpoint.clean <conversations.models.WebhookEndpoint.clean>`, so the admin form
  and ``create_webhook`` share it), and
- at connect time, by the delivery worker's network backend
  (:mod:`conversations.webhooks.transport`), which resolves the host itself, checks every
  address and connects to the checked address, so a DNS answer that changed since the save
  (rebinding) cannot send the request elsewhere.

``CONVSTORE_WEBHOOK_ALLOW_PRIVATE=1`` lifts the address rule (never the scheme rule): for
development and tests, where receivers listen on 127.0.0.1. It is off by default.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

ALLOWED_SCHEMES = ("http", "https")
# Networks Python's ``is_global`` does not already exclude, or that we name explicitly.
_EXTRA_BLOCKED = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast (is_global says True for some of it)
        "240.0.0.0/4",  # reserved, and the broadcast address
        "ff00::/8",  # IPv6 multicast
        "64:ff9b:1::/48",  # local-use NAT64
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeAddress(ValueError):
    """A webhook host or address the address rule refuses; ``str()`` is a short reason.
    ``kind`` names the refused address's kind (``loopback``, ``private``, …), or is empty
    when the host does not resolve."""

    def __init__(self, reason: str, kind: str = ""):
        super().__init__(reason)
        self.kind = kind


#: Added to a save-time refusal of a non-public address: how development lifts the rule.
ALLOW_PRIVATE_HINT = (
    "For a receiver on this machine or a private network in development only, set "
    "CONVSTORE_WEBHOOK_ALLOW_PRIVATE=1 (never in production: it lets webhooks reach "
    "internal services)."
)


def allow_private() -> bool:
    """Whether the address rule is lifted (``CONVSTORE_WEBHOOK_ALLOW_PRIVATE``, default off)."""
    return settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` may not receive webhooks (``"loopback"``, ``"private"``, …), or ``None``."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            kind = address_kind(inner)
            return f"{kind} (embedded in IPv6)" if kind else None
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def check_address(host: str, address: str) -> None:
    """Refuse ``address`` (a resolved IP of ``host``) unless it is a public unicast address.

    Raises :class:`UnsafeAddress` with a short reason naming the host and the address.
    Does nothing when ``CONVSTORE_WEBHOOK_ALLOW_PRIVATE`` is on.
    """
    if allow_private():
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    kind = address_kind(ip)
    if kind:
        shown = host if host == address else f"{host} resolves to {address}, which"
        raise UnsafeAddress(f"{shown} is a {kind} address", kind)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for TCP (``socket.getaddrinfo``), in its order.

    Raises :class:`UnsafeAddress` when the name does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"{host} does not resolve ({exc.__class__.__name__})") from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise UnsafeAddress(f"{host} has no IPv4 or IPv6 address")
    return addresses


def check_host(host: str, port: int) -> list[str]:
    """Resolve ``host`` and check every address; returns them (all allowed).

    Raises :class:`UnsafeAddress`. With ``CONVSTORE_WEBHOOK_ALLOW_PRIVATE`` on, an IP literal
    is returned as is and a name is resolved but not judged."""
    addresses = resolve(host, port)
    for address in addresses:
        check_address(host, address)
    return addresses


def validate_webhook_url(url: str) -> None:
    """The save-time rule for a webhook URL (the admin form and ``create_webhook``).

    Refuses any scheme but ``http``/``https``, a URL without a host, user info in the URL,
    and (unless ``CONVSTORE_WEBHOOK_ALLOW_PRIVATE``) a host that resolves to a non-public
    address or does not resolve. Raises Django's ``ValidationError``.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ValidationError("Enter a valid URL.", code="invalid") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValidationError(
            "Webhook URLs must use http or https, not %(scheme)s.",
            code="scheme",
            params={"scheme": parts.scheme or "no scheme"},
        )
    host = parts.hostname
    if not host:
        raise ValidationError("Webhook URLs need a host.", code="invalid")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("Webhook URLs may not carry a user name or password.", code="invalid")
    if allow_private():
        return
    try:
        check_host(host, port)
    except UnsafeAddress as exc:
        raise ValidationError(
            "Webhook URLs must point at a public address: %(reason)s.%(hint)s",
            code="address",
            params={"reason": exc, "hint": f" {ALLOW_PRIVATE_HINT}" if exc.kind else ""},
        ) from None
