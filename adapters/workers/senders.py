"""HTTP clients the dispatcher can send with: ``aiohttp`` (the default) or ``httpx``.

Both are asyncio clients with keep-alive connection pools; the dispatcher only needs "POST these bytes
with these headers, tell me the status and ``Retry-After``, or what went wrong". ``benchmarks/webhooks.py``
measures both: on the 2-core reference machine httpx's pool tops out at a few hundred requests per
second (its connection pool rescans every connection for every queued request), below the 1,000
deliveries/s target, so aiohttp is the default and httpx remains selectable (``LEDGER_WEBHOOK_HTTP_CLIENT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

HTTP_CLIENTS = ("aiohttp", "httpx")


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """A response (``status``, ``retry_after`` header text) or a transport failure (``error``)."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome: ...

    async def aclose(self) -> None: ...


class AiohttpSender:
    """aiohttp ``ClientSession`` (created on first use, inside the running loop)."""

    def __init__(self, timeout: float, connections: int) -> None:
        self.timeout = timeout
        self.connections = connections
        self._session: object | None = None

    def _client(self) -> object:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, limit_per_host=self.connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        import aiohttp

        session = self._client()
        assert isinstance(session, aiohttp.ClientSession)  # built above; not a business rule
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                return SendOutcome(response.status, response.headers.get("Retry-After"))
        except TimeoutError:
            return SendOutcome(None, error=f"timeout after {self.timeout:g} s")
        except (aiohttp.ClientError, OSError) as failure:
            return SendOutcome(None, error=f"{type(failure).__name__}: {failure}"[:500])

    async def aclose(self) -> None:
        import aiohttp

        if isinstance(self._session, aiohttp.ClientSession):
            await self._session.close()
        self._session = None


class HttpxSender:
    """httpx ``AsyncClient`` (HTTP/1.1, keep-alive, no redirects)."""

    def __init__(self, timeout: float, connections: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.timeout = timeout
        self.client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        import httpx

        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return SendOutcome(None, error=f"timeout after {self.timeout:g} s")
        except httpx.HTTPError as failure:
            return SendOutcome(None, error=f"{type(failure).__name__}: {failure}"[:500])
        return SendOutcome(response.status_code, response.headers.get("retry-after"))

    async def aclose(self) -> None:
        await self.client.aclose()


def open_sender(kind: str, timeout: float, connections: int) -> Sender:
    """A sender of ``kind`` (one of :data:`HTTP_CLIENTS`); call from the loop that will use it."""
    if kind == "aiohttp":
        return AiohttpSender(timeout, connections)
    if kind == "httpx":
        return HttpxSender(timeout, connections)
    raise ValueError(f"unknown webhook HTTP client {kind!r}; choose from {', '.join(HTTP_CLIENTS)}")
