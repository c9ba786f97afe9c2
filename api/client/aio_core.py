"""The asyncio transport of the Python SDK: :class:`AsyncClientCore`, the twin of :class:`.core.ClientCore`.

Same behaviour, awaited: an access token fetched and refreshed, the five signed headers on every
``/api/v1`` request, an ``Idempotency-Key`` on every POST, retries with backoff and jitter honouring
``Retry-After`` (``asyncio.sleep``, never blocking the loop), :class:`.core.LedgerApiError` for an error
answer, and the remembered checkpoint checked against every newer one (:mod:`proofs.client_state`).
The endpoint methods of :class:`.aio.AsyncLedgerClient` are generated from the synchronous ones
(``python -m api.client._unasync``), so both clients have the same surface.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlencode

import httpx
import msgspec

from proofs.client_state import CheckpointState, Comparison

from .core import RETRY_STATUSES, TOKEN_MARGIN_S, LedgerApiError, _code, checkpoint_head, rfc3339
from .schemas import common as schemas
from .signing import sign

T = TypeVar("T")


class AsyncClientCore:
    """Transport of the async SDK (``httpx.AsyncClient``); endpoint groups are mixins over it."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        api_key: str,
        api_secret: str,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.AsyncClient | None = None,
        vkey: str | None = None,
        state: CheckpointState | Path | None = None,
    ) -> None:
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.client_id, self.api_key = client_id, api_key
        self._client_secret, self._api_secret = client_secret, api_secret
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self.last_response: httpx.Response | None = None
        self.vkey = vkey
        self.state = CheckpointState(state) if isinstance(state, Path) else state
        if self.state is not None and vkey is None:
            raise ValueError("a checkpoint state needs the vkey the checkpoints are verified with")

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing --------------------------------------------------------------------------------------
    async def token(self, *, refresh: bool = False) -> str:
        """A valid access token, fetched or refreshed when needed."""
        if refresh or self._token is None or time.monotonic() >= self._token_expires - TOKEN_MARGIN_S:
            answer = await self.fetch_token()
            self._token, self._token_expires = answer.access_token, time.monotonic() + answer.expires_in
        return self._token

    async def fetch_token(self, scope: str | None = None) -> schemas.TokenResponse:
        """``POST /oauth/token`` with HTTP Basic client authentication (retried like any call)."""
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        basic = base64.b64encode(
            f"{quote(self.client_id, safe='')}:{quote(self._client_secret, safe='')}".encode()
        ).decode()
        response = await self._with_retries(
            lambda: self.http.post("/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
        )
        return self._decode(response, schemas.TokenResponse)

    async def signed_headers(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, str]:
        """The five zero-trust headers for one request."""
        stamp = timestamp or rfc3339(self.clock())
        rid = request_id or str(uuid.uuid4())
        return {
            "Authorization": f"Bearer {await self.token()}",
            "X-API-Key": self.api_key,
            "X-Request-ID": rid,
            "X-Timestamp": stamp,
            "X-Signature": sign(self._api_secret, method, path, query, stamp, rid, body),
        }

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """A signed request with retries; raises :class:`LedgerApiError` for an error answer."""
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None}, quote_via=quote)
        key = idempotency_key if idempotency_key is not None else (str(uuid.uuid4()) if method == "POST" else None)
        refreshed = False

        async def attempt() -> httpx.Response:
            signed = await self.signed_headers(method, path, query, body)
            extra = {**(headers or {}), **({"Idempotency-Key": key} if key else {})}
            url = f"{path}?{query}" if query else path
            return await self.http.request(method, url, content=body, headers={**signed, **extra})

        while True:
            response = await self._with_retries(attempt, raise_errors=False)
            if response.status_code == 401 and not refreshed and _code(response) == "AUTH_INVALID_TOKEN":
                refreshed = True
                await self.token(refresh=True)
                continue
            if response.status_code >= 400:
                raise LedgerApiError.from_response(response)
            return response

    async def _with_retries(
        self, attempt: Callable[[], Awaitable[httpx.Response]], *, raise_errors: bool = True
    ) -> httpx.Response:
        for retry in range(self.max_retries + 1):
            try:
                response = await attempt()
            except httpx.TransportError:
                if retry == self.max_retries:
                    raise
                await asyncio.sleep(self._delay(retry, None))
                continue
            self.last_response = response
            retryable = response.status_code in RETRY_STATUSES or (
                response.status_code == 409 and _code(response) == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
            )
            if not retryable or retry == self.max_retries:
                break
            await asyncio.sleep(self._delay(retry, response.headers.get("Retry-After")))
        if raise_errors and response.status_code >= 400:
            raise LedgerApiError.from_response(response)
        return response

    def _delay(self, retry: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter, never shorter than ``Retry-After``."""
        delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**retry))  # noqa: S311 - jitter, not crypto
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        return delay

    @staticmethod
    def _decode(response: httpx.Response, kind: type[T]) -> T:
        return msgspec.json.decode(response.content, type=kind)

    async def _json(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        body: Any = None,
        extra_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> T:
        content = b"" if body is None else msgspec.json.encode(body)
        headers = {"Content-Type": "application/json"} if body is not None else None
        if extra_headers:
            headers = {**(headers or {}), **extra_headers}
        return self._decode(await self.send(method, path, body=content, headers=headers, **kwargs), kind)

    # -- the remembered checkpoint ---------------------------------------------------------------------
    async def _observe(self, note: str | None, *, latest: bool = False) -> Comparison | None:
        """Check a checkpoint the server sent against the remembered one (see :meth:`.core.ClientCore._observe`)."""
        if self.state is None or self.vkey is None or note is None:
            return None
        head = checkpoint_head(note, self.vkey)
        sizes = self.state.needed(head)
        path = None
        if sizes is not None:
            answer = await self._json(
                "GET",
                "/api/v1/audit/consistency",
                schemas.ConsistencyResponse,
                params={"from": sizes[0], "to": sizes[1]},
            )
            path = [bytes.fromhex(node) for node in answer.consistency_path]
        return self.state.observe(head, note, lambda _old, _new: path, latest=latest)
