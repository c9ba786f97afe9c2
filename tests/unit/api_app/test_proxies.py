"""The client address: the peer, or the right-most untrusted hop of a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import pytest

from api.http.proxies import TrustedProxies, parse_address

PROXIES = TrustedProxies.of(["10.0.0.0/8", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("proxies", "peer", "forwarded", "client"),
    [
        (TrustedProxies(), "127.0.0.1", ["198.51.100.1"], "127.0.0.1"),  # none trusted by default
        (PROXIES, "192.0.2.1", ["198.51.100.1"], "192.0.2.1"),  # an untrusted peer's header is ignored
        (PROXIES, "10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        (PROXIES, "10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client wrote the left one
        (PROXIES, "10.0.0.2", ["198.51.100.1, 10.0.0.9"], "198.51.100.1"),  # two proxies in a row
        (PROXIES, "10.0.0.2", ["6.6.6.6", "198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # several headers
        (PROXIES, "10.0.0.2", ["10.0.0.7, 10.0.0.9"], "10.0.0.7"),  # every hop trusted: the left-most
        (PROXIES, "10.0.0.2", [], "10.0.0.2"),
        (PROXIES, "10.0.0.2", ["garbage, 10.0.0.9"], "10.0.0.9"),  # a non-address stops the walk
        (PROXIES, "10.0.0.2", ["198.51.100.1:4711"], "198.51.100.1"),
        (PROXIES, "10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5"),
        (PROXIES, "2001:db8:ffff::1", ["2001:db8::5"], "2001:db8::5"),
        (PROXIES, "::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer
    ],
)
def test_client_address(proxies: TrustedProxies, peer: str, forwarded: list[str], client: str) -> None:
    """Right-most untrusted hop, only through trusted proxies."""
    assert proxies.client_of(peer, forwarded) == client


def test_malformed_trusted_proxies_fail_at_start() -> None:
    """A typo in ``LEDGER_TRUSTED_PROXIES`` stops the server, naming it."""
    with pytest.raises(ValueError, match="not an IP network"):
        TrustedProxies.of(["10.0.0.0/8", "ten"])


def test_parse_address_forms() -> None:
    """Addresses as proxies write them; anything else is None."""
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"
    assert parse_address("unknown") is None
    assert parse_address("") is None
