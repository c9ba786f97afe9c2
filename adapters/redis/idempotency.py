"""The shared idempotency store: one Redis hash per (partner, key), changed only by Lua scripts.

Layout: ``<prefix>idem:{<partner id>}:<SHA-256 of the key>`` holds ``state`` (``in_flight`` or
``done``), ``fp`` (request fingerprint), ``lease``, and once done ``status``, ``headers`` (JSON pairs)
and ``body``. ``begin`` creates the hash with the lease's expiry (``PEXPIRE``) or reports what is
there, in one script, so of concurrent first attempts exactly one gets :class:`New`. ``complete``
checks the lease and stores the response with the 24-hour expiry; ``abandon`` deletes the hash if the
lease still holds. A record is as durable as the Redis instance (AOF recommended): losing it only
means a retried request runs again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import redis

from adapters.idempotency import (
    IDEMPOTENCY_TTL_S,
    LEASE_S,
    IdempotencyOutcome,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
)
from ledger_core.engine.errors import LedgerError

__all__ = ["BEGIN_FUNCTION", "IdempotencyStoreUnavailable", "RedisIdempotencyStore", "begin_outcome"]

# A Lua function, so :mod:`adapters.redis.gate` runs the same claim after the replay check and the rate limit.
BEGIN_FUNCTION = """
local function idempotency_begin(key, fp, lease, lease_ms)
  local s = redis.call('HMGET', key, 'state', 'fp', 'status', 'headers', 'body')
  if not s[1] then
    redis.call('HSET', key, 'state', 'in_flight', 'fp', fp, 'lease', lease)
    redis.call('PEXPIRE', key, lease_ms)
    return {'new'}
  end
  if s[2] ~= fp then return {'mismatch'} end
  if s[1] == 'in_flight' then return {'in_flight'} end
  return {'replay', s[3], s[4], s[5]}
end
"""
_BEGIN = BEGIN_FUNCTION + "return idempotency_begin(KEYS[1], ARGV[1], ARGV[2], ARGV[3])\n"
_COMPLETE = """
local s = redis.call('HMGET', KEYS[1], 'state', 'lease')
if s[1] ~= 'in_flight' or s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
_ABANDON = """
local s = redis.call('HMGET', KEYS[1], 'state', 'lease')
if s[1] ~= 'in_flight' or s[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


class IdempotencyStoreUnavailable(LedgerError):
    """Redis could not be reached or failed: the HTTP layer answers 503 rather than risk a double run."""

    code = "SERVICE_UNAVAILABLE"


class RedisIdempotencyStore:
    """:class:`~adapters.idempotency.IdempotencyStore` on Redis (client without ``decode_responses``)."""

    def __init__(
        self, client: redis.Redis, prefix: str = "ledger:", *, ttl_s: int = IDEMPOTENCY_TTL_S, lease_s: int = LEASE_S
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("RedisIdempotencyStore stores raw bodies: use a client without decode_responses")
        self._client = client
        self._prefix = prefix
        self._ttl_s, self._lease_s = ttl_s, lease_s
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._abandon = client.register_script(_ABANDON)

    @classmethod
    def from_url(cls, url: str, prefix: str = "ledger:") -> RedisIdempotencyStore:
        return cls(redis.Redis.from_url(url), prefix)

    def key(self, partner_id: str, key: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return f"{self._prefix}idem:{{{partner_id}}}:{digest}"

    @property
    def client(self) -> redis.Redis:
        return self._client

    def begin_args(self, partner_id: str, key: str, fingerprint: str) -> tuple[str, list[Any]]:
        """The record's key and the arguments of ``idempotency_begin`` after it (a fresh lease first)."""
        return self.key(partner_id, key), [fingerprint, secrets.token_hex(16), self._lease_s * 1000]

    def begin(self, partner_id: str, key: str, fingerprint: str) -> IdempotencyOutcome:
        record, args = self.begin_args(partner_id, key, fingerprint)
        return begin_outcome(self._run(self._begin, record, *args), args[1])

    def complete(
        self, partner_id: str, key: str, lease: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> bool:
        encoded = json.dumps([list(pair) for pair in headers])
        reply = self._run(self._complete, self.key(partner_id, key), lease, status, encoded, body, self._ttl_s)
        return bool(reply)

    def abandon(self, partner_id: str, key: str, lease: str) -> bool:
        return bool(self._run(self._abandon, self.key(partner_id, key), lease))

    @staticmethod
    def _run(script: Any, key: str, *args: Any) -> Any:
        try:
            return script(keys=[key], args=list(args))
        except redis.RedisError as error:
            raise IdempotencyStoreUnavailable(f"idempotency store unavailable: {error}", backend="redis") from error


def begin_outcome(reply: Any, lease: str) -> IdempotencyOutcome:
    """The outcome of ``idempotency_begin``'s reply (``lease``: the one it was given)."""
    kind = bytes(reply[0]).decode()
    if kind == "new":
        return New(lease)
    if kind == "mismatch":
        return Mismatch()
    if kind == "in_flight":
        return InFlight()
    pairs = tuple((str(name), str(value)) for name, value in json.loads(reply[2]))
    return Replay(StoredResponse(int(reply[1]), pairs, bytes(reply[3])))
