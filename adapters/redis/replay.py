"""The shared replay cache: ``SET key 1 NX EX ttl`` per (partner, request id).

``SET ... NX`` is atomic, so of two workers receiving the same request id at once exactly one sees it
as new. Keys expire on their own after ``ttl`` seconds (twice the timestamp skew), which bounds memory
by the request rate; nothing else is stored.
"""

from __future__ import annotations

import redis

from ledger_core.engine.errors import LedgerError

__all__ = ["RedisReplayCache", "ReplayCacheUnavailable"]


class ReplayCacheUnavailable(LedgerError):
    """Redis could not be reached or failed: the HTTP layer answers 503 (never skips the check)."""

    code = "SERVICE_UNAVAILABLE"


class RedisReplayCache:
    """:class:`~ledger_core.partners.ports.ReplayCache` on Redis; keys ``<prefix>replay:{<partner id>}:<request id>``.
    """

    def __init__(self, client: redis.Redis, prefix: str = "ledger:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "ledger:") -> RedisReplayCache:
        return cls(redis.Redis.from_url(url), prefix)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def key(self, partner_id: str, request_id: str) -> str:
        return f"{self._prefix}replay:{{{partner_id}}}:{request_id}"

    def remember(self, partner_id: str, request_id: str, ttl_s: int) -> bool:
        try:
            created = self._client.set(self.key(partner_id, request_id), b"1", nx=True, ex=max(1, ttl_s))
        except redis.RedisError as error:
            raise ReplayCacheUnavailable(f"replay cache unavailable: {error}", backend="redis") from error
        return bool(created)
