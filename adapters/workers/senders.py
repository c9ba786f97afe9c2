"""HTTP clients the dispatcher can send with: ``aiohttp`` (the default) or ``httpx``.

Both are asyncio clients with keep-alive connection pools; the dispatcher only needs "POST these bytes
with these headers, tell me the status and ``Retry-After``, or what went wrong". ``benchmarks/webhooks.py``
measures both: on the 2-core reference machine httpx's pool tops out at a few hundred requests per
second (its connection pool rescans every connection for every queued request), below the 1,000
deliveries/s target, so aiohttp is the default and httpx remains selectable (``LEDGER_WEBHOOK_HTTP_CLIENT``).

Both connect only to addresses :class:`~adapters.webhook_targets.TargetPolicy` resolved and checked
(aiohttp through a custom resolver, httpx through a network backend that swaps the name for the checked
address), while the URL's host name stays the ``Host`` header, the TLS SNI and the name the certificate
is verified against. TLS comes from :func:`tls_context`: certificate and host name verification on,
TLS 1.2 at least (1.3 preferred: OpenSSL negotiates the highest both offer); the negotiated version is
returned with every response (``SendOutcome.tls_version``) for the delivery log.

What went wrong is told twice: ``error`` is short and names no address (the partner's delivery log),
``detail`` is the client's own message (the operators' log).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from adapters.webhook_targets import TargetPolicy, TargetRefused

if TYPE_CHECKING:
    import aiohttp
    import httpcore

HTTP_CLIENTS = ("aiohttp", "httpx")
TLS_FAILED = "TLS handshake failed"
CONNECT_FAILED = "connection failed"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """A response (``status``, ``retry_after`` header text, ``tls_version``) or a failure (``error``, ``detail``)."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None
    tls_version: str | None = None
    detail: str | None = None


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome: ...

    async def aclose(self) -> None: ...


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying client context, TLS 1.2 minimum; ``ca_file`` replaces the system's trust anchors."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _ssl_reason(failure: BaseException) -> str:
    """``TLS handshake failed (REASON)`` with OpenSSL's reason code (no address), or the bare sentence."""
    seen: BaseException | None = failure
    while seen is not None:
        reason = getattr(seen, "reason", None) if isinstance(seen, ssl.SSLError) else None
        if isinstance(reason, str) and reason:
            return f"{TLS_FAILED} ({reason})"
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "os_error", None)
    return TLS_FAILED


def _detail(failure: BaseException) -> str:
    return f"{type(failure).__name__}: {failure}"[:500]


def _is_tls_failure(failure: BaseException) -> bool:
    seen: BaseException | None = failure
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "os_error", None)
    return False


def _refusal(failure: BaseException) -> TargetRefused | None:
    seen: BaseException | None = failure
    while seen is not None:
        if isinstance(seen, TargetRefused):
            return seen
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "os_error", None)
    return None


def failure_outcome(failure: BaseException) -> SendOutcome:
    """The partner's short reason and the operators' detail for a transport failure."""
    refused = _refusal(failure)
    if refused is not None:
        return SendOutcome(None, error=f"refused: {refused.reason}", detail=refused.detail)
    error = _ssl_reason(failure) if _is_tls_failure(failure) else CONNECT_FAILED
    return SendOutcome(None, error=error, detail=_detail(failure))


def _tls_version(ssl_object: Any) -> str | None:
    return ssl_object.version() if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket) else None


class PinnedResolver:
    """aiohttp resolver answering with :meth:`TargetPolicy.addresses` (checked) instead of plain DNS."""

    def __init__(self, targets: TargetPolicy) -> None:
        self.targets = targets

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        try:
            addresses = await self.targets.addresses(host, port)
        except TargetRefused as refused:
            raise _RefusedOSError(refused) from refused
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: resolutions live in the policy."""


class _RefusedOSError(OSError):
    """A refusal crossing aiohttp's resolver boundary (it expects ``OSError``)."""

    def __init__(self, refused: TargetRefused) -> None:
        super().__init__(refused.reason)
        self.refused = refused
        self.__cause__ = refused


def _tls_recording_response() -> type[aiohttp.ClientResponse]:
    """A ``ClientResponse`` that notes the TLS version of its connection when it starts (a small body may be
    read whole with the headers, and the connection released before the caller could look at it)."""
    import aiohttp

    class TlsRecordingResponse(aiohttp.ClientResponse):
        tls_version: str | None = None

        async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
            transport = connection.transport
            self.tls_version = None if transport is None else _tls_version(transport.get_extra_info("ssl_object"))
            return await super().start(connection)

    return TlsRecordingResponse


class AiohttpSender:
    """aiohttp ``ClientSession`` (created on first use, inside the running loop)."""

    def __init__(self, timeout: float, connections: int, targets: TargetPolicy, context: ssl.SSLContext) -> None:
        self.timeout = timeout
        self.connections = connections
        self.targets = targets
        self.context = context
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp
        from aiohttp.abc import AbstractResolver

        if self._session is None:
            resolver = PinnedResolver(self.targets)
            AbstractResolver.register(PinnedResolver)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.connections,
                    limit_per_host=self.connections,
                    resolver=resolver,  # type: ignore[arg-type]  # registered as an AbstractResolver above
                    use_dns_cache=False,  # every new connection asks the policy (which caches checked answers)
                    ssl=self.context,
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
                response_class=_tls_recording_response(),
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        import aiohttp

        session = self._client()
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                version = getattr(response, "tls_version", None)
                await response.read()
                return SendOutcome(response.status, response.headers.get("Retry-After"), tls_version=version)
        except TimeoutError:
            return SendOutcome(None, error=f"timeout after {self.timeout:g} s")
        except (aiohttp.ClientError, OSError) as failure:
            return failure_outcome(failure)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None


class PinnedBackend:
    """httpcore network backend connecting to :meth:`TargetPolicy.addresses` (checked), first that answers."""

    def __init__(self, targets: TargetPolicy) -> None:
        import httpcore

        self.targets = targets
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        import httpcore

        addresses = await self.targets.addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise OSError("webhooks are never sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class HttpxSender:
    """httpx ``AsyncClient`` (HTTP/1.1, keep-alive, no redirects)."""

    def __init__(self, timeout: float, connections: int, targets: TargetPolicy, context: ssl.SSLContext) -> None:
        import httpcore
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        transport = httpx.AsyncHTTPTransport(verify=context, limits=limits)
        # httpx takes no network backend; its pool (httpcore) does: the same pool, connecting to checked addresses.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(targets),  # type: ignore[arg-type]  # the AsyncNetworkBackend protocol
        )
        self.timeout = timeout
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        import httpx

        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return SendOutcome(None, error=f"timeout after {self.timeout:g} s")
        except (httpx.HTTPError, OSError, TargetRefused) as failure:  # refused: raised by PinnedBackend
            return failure_outcome(failure)
        stream = response.extensions.get("network_stream")
        version = None if stream is None else _tls_version(stream.get_extra_info("ssl_object"))
        return SendOutcome(response.status_code, response.headers.get("retry-after"), tls_version=version)

    async def aclose(self) -> None:
        await self.client.aclose()


def open_sender(
    kind: str, timeout: float, connections: int, targets: TargetPolicy, context: ssl.SSLContext | None = None
) -> Sender:
    """A sender of ``kind`` (one of :data:`HTTP_CLIENTS`); call from the loop that will use it."""
    context = context or tls_context()
    if kind == "aiohttp":
        return AiohttpSender(timeout, connections, targets, context)
    if kind == "httpx":
        return HttpxSender(timeout, connections, targets, context)
    raise ValueError(f"unknown webhook HTTP client {kind!r}; choose from {', '.join(HTTP_CLIENTS)}")
