"""The client's address: the TCP peer, or what a configured proxy says in ``X-Forwarded-For``.

``X-Forwarded-For`` is a list any client can write: each proxy appends the address it received the
request from, so only the entries appended by proxies we run are true. The rule (as in RFC 7239
section 5.2's ``for=``, and the "right-most untrusted" reading most servers use):

* a request whose TCP peer is not a trusted proxy comes from that peer; its header is ignored;
* otherwise the hops are read right to left, skipping trusted proxies; the first address that is not
  one is the client. If every hop is trusted, the left-most is. An entry that is not an IP address
  stops the walk: the client is the last trusted hop (a trusted proxy would never write one).

Trusted proxies are configuration only (``settings.http.trusted_proxies``, ``LEDGER_TRUSTED_PROXIES``,
a comma-separated list of CIDRs): none by default, so by default the header changes nothing. The ASGI
server must not rewrite the peer itself (``ledger serve`` runs uvicorn with ``proxy_headers`` off).

Per-address rate limits (``/oauth/token``, authentication failures) and partner IP allowlists use the
address :func:`resolve_client` stores in the request's state (:func:`api.http.context.client_address`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from api.http.context import CLIENT

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """An address as a proxy writes it (``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]:80``)."""
    value = text.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (a bare address is a /32 or /128); ValueError naming a malformed one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP network (CIDR): {cidr!r}") from None
    return tuple(networks)


def contains(networks: Iterable[IPNetwork], address: IPAddress | None) -> bool:
    return address is not None and any(address.version == net.version and address in net for net in networks)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` entries are believed (module docstring)."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, cidrs: Iterable[str]) -> TrustedProxies:
        return cls(parse_networks(cidrs))

    def client_of(self, peer: str, forwarded: list[str]) -> str:
        """The client address of a request from ``peer`` carrying these ``X-Forwarded-For`` values."""
        if not self.networks or not contains(self.networks, parse_address(peer)):
            return peer
        nearest = peer
        hops = [hop for value in forwarded for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                return nearest
            if not contains(self.networks, address):
                return str(address)
            nearest = str(address)
        return nearest


def _forwarded_values(scope: Scope) -> list[str]:
    return [bytes(v).decode("latin-1") for k, v in scope.get("headers", ()) if bytes(k).lower() == b"x-forwarded-for"]


def resolve_client(scope: Scope, proxies: TrustedProxies) -> str:
    """The request's client address, resolved once and kept in its state."""
    state: dict[str, Any] = scope.setdefault("state", {})
    known = state.get(CLIENT)
    if isinstance(known, str):
        return known
    peer = scope.get("client") or ("unknown", 0)
    client = proxies.client_of(str(peer[0]), _forwarded_values(scope))
    state[CLIENT] = client
    return client


class ClientAddressMiddleware(ASGIMiddleware):
    """App-level middleware: resolves the client address before anything else reads it."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, proxies: TrustedProxies) -> None:
        self._proxies = proxies

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        resolve_client(scope, self._proxies)
        await next_app(scope, receive, send)
