"""Where webhooks may be sent: host normalisation, the public-address rule, and resolutions pinned for connecting.

Used at registration (:func:`check_target`, synchronous: the HTTP app and the CLI) and by the dispatcher
(:class:`TargetPolicy`, asyncio), so both apply one rule:

* **Hosts are normalised as a browser does** (WHATWG URL Standard, "host parsing" and "IPv4 parser"):
  lower case, one trailing dot dropped, and a host whose last label is a number is an IPv4 address
  written in decimal, hex (``0x``) or octal (leading ``0``) parts, shortened forms included
  (``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1). Percent signs and
  non-ASCII hosts are refused (an internationalised name is registered in its ``xn--`` form).
* **Only public addresses**: every address a host resolves to must be globally routable
  (:func:`is_public`); IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
  IPv4-compatible ``::a.b.c.d``, 6to4, Teredo, NAT64 ``64:ff9b::/96``) are judged by that IPv4 address.
* **Resolve once, check, connect to what was checked**: :meth:`TargetPolicy.addresses` resolves a name,
  checks every address and caches the checked list for ``ttl`` seconds; the senders
  (:mod:`adapters.workers.senders`) connect only to addresses it returned, while the URL's name stays the
  ``Host`` header, the TLS SNI and the name the certificate is verified against. A name re-pointed at a
  private address between the check and the connection (DNS rebinding) is never connected to.

A refusal (:class:`TargetRefused`) carries a generic :attr:`~TargetRefused.reason` for the partner
(registration error, delivery log) and the :attr:`~TargetRefused.detail` (the resolved addresses) for
operators only (the dispatcher's log, ``ledger webhooks`` output): a partner cannot use registration or
the delivery log to learn how the deployment's internal names resolve.

``allow_private`` (tests and the embedded single-machine default; ``Settings.webhooks_may_target_private``)
turns the address rule and the https requirement off; resolutions are still pinned.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], Awaitable[list[str]]]
"""``lookup(host, port)``: the addresses a name resolves to (raises ``OSError`` when it does not)."""
SyncLookup = Callable[[str, int], list[str]]

TARGET_NOT_ALLOWED = "webhook target not allowed"
"""The one reason a partner is told when a target is refused (registration and delivery log alike)."""
REGISTRATION_MESSAGE = "webhook url must be https to a host that resolves only to public addresses"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(Exception):
    """A webhook target the deployment does not send to: ``reason`` for the partner, ``detail`` for operators."""

    def __init__(self, detail: str, reason: str = TARGET_NOT_ALLOWED) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host denotes under the WHATWG "ends in a number" rule, None if it is a name.

    Raises :class:`TargetRefused` for a host that ends in a number but is no valid IPv4 address
    (``1.2.3.4.5``, ``256.1``), which a browser refuses too.
    """
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1] if parts else ""
    if not (last.isdigit() and last.isascii()) and not _is_hex_number(last):
        return None
    if len(parts) > 4:
        raise TargetRefused(f"host {host!r} is not a valid IPv4 address")
    numbers = [_ipv4_number(part, host) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise TargetRefused(f"host {host!r} is not a valid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _is_hex_number(label: str) -> bool:
    digits = label[2:]
    return label[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in digits)


def _ipv4_number(part: str, host: str) -> int:
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        if part.isdigit() and part.isascii():
            return int(part)
    except ValueError:
        pass
    raise TargetRefused(f"host {host!r} is not a valid IPv4 address")


def canonical_host(host: str) -> str:
    """The normalised host (see the module docstring): an address's text form, or a lower-case ASCII name."""
    if not host or "%" in host or not host.isascii():
        raise TargetRefused(f"host {host!r} is not an ASCII host name or address")
    host = host.lower()
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host.strip("[]")))
        except ValueError:
            raise TargetRefused(f"host {host!r} is not a valid IPv6 address") from None
    address = whatwg_ipv4(host)
    if address is not None:
        return str(address)
    return host.removesuffix(".")


def literal_address(host: str) -> IPAddress | None:
    """The address of a canonical host that is one (see :func:`canonical_host`), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo server/client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (RFC 4291 2.5.5.1, deprecated)
        return ipaddress.IPv4Address(packed)
    if address in _NAT64:
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast (``is_global``), judged by the embedded IPv4 address for the IPv6 forms."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not address.is_multicast


def check_addresses(host: str, addresses: Sequence[str]) -> None:
    """Raise :class:`TargetRefused` unless there is an address and every one is public."""
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    private = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
    if private:
        raise TargetRefused(f"{host} resolves to a non-public address ({', '.join(private)})")


def partner_error(error: str | None) -> str | None:
    """An attempt's error as a partner may see it: any refusal reads ``refused: webhook target not allowed``.

    (Attempts recorded before this rule said which address a name resolved to; the delivery log must not
    show that, whatever the ledger's age. Operators read the stored text through ``ledger webhooks``.)
    """
    if error is not None and error.startswith("refused:"):
        return f"refused: {TARGET_NOT_ALLOWED}"
    return error


def target_host(url: str, allow_private: bool) -> tuple[str, int]:
    """The canonical host and port of a webhook URL; https only unless ``allow_private``."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise TargetRefused(f"scheme {parts.scheme!r} is not https")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("malformed port") from None
    return canonical_host(parts.hostname or ""), port


def system_lookup(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for a TCP connection to ``host:port``, in its order, no repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def system_lookup_async(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_target(url: str, allow_private: bool, lookup: SyncLookup = system_lookup) -> None:
    """Registration: refuse a URL the dispatcher would refuse, resolving its name now (the same rule).

    Raises :class:`TargetRefused`; an unresolvable name is refused like a private one, so registration
    tells a partner nothing about which internal names exist.
    """
    if allow_private:
        return
    host, port = target_host(url, allow_private)
    address = literal_address(host)
    if address is not None:
        check_addresses(host, [str(address)])
        return
    try:
        addresses = lookup(host, port)
    except (OSError, UnicodeError) as error:
        raise TargetRefused(f"cannot resolve {host}: {error}") from None
    check_addresses(host, addresses)


@dataclass
class TargetPolicy:
    """Which targets may be called, and the checked addresses to connect to (cached ``ttl`` seconds)."""

    allow_private: bool = False
    ttl: float = 60.0
    lookup: Lookup = system_lookup_async
    _cache: dict[tuple[str, int], tuple[float, tuple[str, ...] | TargetRefused]] = field(default_factory=dict)

    async def check(self, url: str) -> tuple[str, ...]:
        """The checked addresses of ``url``'s host; :class:`TargetRefused` unless it may be called."""
        host, port = target_host(url, self.allow_private)
        return await self.addresses(host, port)

    async def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """The checked addresses of ``host`` (resolved at most once per ``ttl``): connect only to these."""
        host = canonical_host(host)
        literal = literal_address(host)
        if literal is not None:
            if not self.allow_private:
                check_addresses(host, [host])
            return (host,)
        key = (host, port)
        cached = self._cache.get(key)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + self.ttl, await self._resolve(host, port))
            self._cache[key] = cached
        if isinstance(cached[1], TargetRefused):
            raise TargetRefused(cached[1].detail)
        return cached[1]

    async def _resolve(self, host: str, port: int) -> tuple[str, ...] | TargetRefused:
        try:
            found = await self.lookup(host, port)
        except (OSError, UnicodeError) as error:
            return TargetRefused(f"cannot resolve {host}: {error}")
        if not self.allow_private:
            try:
                check_addresses(host, found)
            except TargetRefused as refused:
                return refused
        return tuple(found)
