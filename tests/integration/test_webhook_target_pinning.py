"""DNS rebinding closed: the senders connect only to the addresses the target policy resolved and checked,
resolving once per TTL, with the URL's name kept as the Host header (both HTTP clients, a real receiver)."""

from __future__ import annotations

import asyncio

import pytest
from support.webhook_receiver import webhook_receiver

from adapters.webhook_targets import TARGET_NOT_ALLOWED, TargetPolicy
from adapters.workers.senders import HTTP_CLIENTS, SendOutcome, open_sender

NAME = "hooks.rebind.test"  # resolvable only through the policy's lookup below, never by the system


class Rebinding:
    """A lookup answering ``first`` once, then ``later`` (an attacker's DNS server re-pointing the name)."""

    def __init__(self, first: list[str], later: list[str]) -> None:
        self.answers = [first, later]
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        answer = self.answers[min(self.calls, 1)]
        self.calls += 1
        return answer


async def send_twice(kind: str, policy: TargetPolicy, url: str) -> list[SendOutcome]:
    """Check then send, twice, as the dispatcher does for two deliveries."""
    sender = open_sender(kind, 5.0, 2, policy)
    outcomes = []
    try:
        for _ in range(2):
            await policy.check(url)
            outcomes.append(await sender.post(url, b"{}", {"content-type": "application/json"}))
    finally:
        await sender.aclose()
    return outcomes


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_sender_connects_to_the_checked_address_only(kind: str) -> None:
    """The name resolves once (check and connect share it); a later answer is not used within the TTL."""
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        lookup = Rebinding(["127.0.0.1"], ["10.255.255.1"])
        policy = TargetPolicy(allow_private=True, lookup=lookup)
        outcomes = asyncio.run(send_twice(kind, policy, f"http://{NAME}:{port}/hooks"))
        got = receiver.wait_count(2)
    assert [o.status for o in outcomes] == [200, 200]
    assert lookup.calls == 1
    assert {r.headers["host"] for r in got} == {f"{NAME}:{port}"}


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
def test_a_name_rebound_to_a_private_address_is_never_connected_to(kind: str) -> None:
    """With the guard on, a resolution to a private address refuses the target at connect time too: the
    sender itself asks the policy (TTL 0: a fresh answer), so nothing reaches the private receiver."""
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        policy = TargetPolicy(allow_private=False, ttl=0.0, lookup=Rebinding(["127.0.0.1"], ["127.0.0.1"]))
        sender = open_sender(kind, 5.0, 2, policy)

        async def post() -> SendOutcome:
            try:
                return await sender.post(f"https://{NAME}:{port}/hooks", b"{}", {})
            finally:
                await sender.aclose()

        outcome = asyncio.run(post())
        assert receiver.received == []
    assert outcome.status is None
    assert outcome.error == f"refused: {TARGET_NOT_ALLOWED}"
    assert outcome.detail is not None
    assert "127.0.0.1" in outcome.detail
