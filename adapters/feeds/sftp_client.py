"""SFTP client for partner-hosted servers (seed 001 section 2.5, "Partner SFTP Server").

The partner's host key is **pinned** (:attr:`RemoteServer.host_key`): the connection is refused before
any authentication when no key is pinned or the server presents another one, and the caller raises an
``audit.alert``. Transient failures (refused connection, timeout, dropped session) are retried with
exponential backoff; a refused host key or refused credentials are not.

Pulled files are downloaded to a hidden temporary name in the partner's inbound folder and renamed into
place, then marked ready, so the worker never sees a partial download. A file is pulled once: its
name is recorded in the partner's pulled list (:meth:`FeedFolders.pulled_list`) after the rename (the
remote copy stays; the partner owns its server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import asyncssh

from adapters.feed_exchange import (
    FeedFolderStore,
    HostKeyRefused,
    RemoteCredentials,
    RemoteFailure,
    RemoteFailureKind,
    RemoteServer,
    RetryPolicy,
    check_file_name,
)
from ledger_core.engine.errors import InvalidCommand

log = logging.getLogger("adapters.feeds.sftp_client")
T = TypeVar("T")

__all__ = ["RemoteSftp"]


_TRANSIENT = (OSError, asyncio.TimeoutError, asyncssh.ConnectionLost, asyncssh.DisconnectError)


def _pinned(remote: RemoteServer) -> asyncssh.SSHKey:
    if not remote.host_key.strip():
        raise HostKeyRefused(remote.host, remote.port, "no host key pinned")
    try:
        return asyncssh.import_public_key(remote.host_key.strip())
    except (asyncssh.KeyImportError, ValueError) as error:
        raise InvalidCommand(f"pinned host key is not an SSH public key: {error}", field="host_key") from error


class RemoteSftp:
    """Pull from and push to one partner's server."""

    def __init__(self, remote: RemoteServer, credentials: RemoteCredentials, retry: RetryPolicy | None = None) -> None:
        self.remote = remote
        self.credentials = credentials
        self.retry = retry or RetryPolicy()

    async def _with_session(self, action: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        remote = self.remote
        host_key = _pinned(remote)
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.attempts + 1):
            try:
                async with (
                    asyncssh.connect(
                        remote.host,
                        remote.port,
                        username=remote.username,
                        known_hosts=([host_key], [], []),
                        client_keys=None if self.credentials.client_key is None else [str(self.credentials.client_key)],
                        password=self.credentials.password,
                        agent_path=None,
                        preferred_auth="publickey,password",
                        connect_timeout=self.retry.connect_timeout,
                    ) as conn,
                    conn.start_sftp_client() as sftp,
                ):
                    return await action(sftp)
            except asyncssh.HostKeyNotVerifiable as error:
                raise HostKeyRefused(remote.host, remote.port, "presented key is not the pinned key") from error
            except asyncssh.PermissionDenied as error:
                raise RemoteFailure(remote.host, remote.port, RemoteFailureKind.AUTHENTICATION, str(error)) from error
            except _TRANSIENT as error:
                if attempt == self.retry.attempts:
                    raise RemoteFailure(remote.host, remote.port, RemoteFailureKind.UNREACHABLE, str(error)) from error
                log.warning("sftp attempt %d to %s failed (%s); retrying", attempt, remote.host, error)
                await asyncio.sleep(delay)
                delay *= self.retry.factor
        raise RemoteFailure(remote.host, remote.port, RemoteFailureKind.UNREACHABLE, "no attempt made")

    async def pull(self, partner_id: str, folders: FeedFolderStore, pattern: Callable[[str], bool]) -> list[str]:
        """Download new remote files whose names match ``pattern`` into the partner's inbound, marked ready."""
        inbound = folders.inbound(partner_id)
        inbound.mkdir(parents=True, exist_ok=True)
        journal = folders.pulled_list(partner_id)

        async def action(sftp: asyncssh.SFTPClient) -> list[str]:
            seen = set(journal.read_text().splitlines()) if journal.exists() else set()
            pulled: list[str] = []
            for name in sorted(await sftp.listdir(self.remote.inbound_dir)):
                if name in seen or not pattern(name):
                    continue
                check_file_name(name)
                temporary = inbound / f".{name}.part"
                await sftp.get(posixpath.join(self.remote.inbound_dir, name), str(temporary))
                os.replace(temporary, inbound / name)
                folders.mark_ready(partner_id, name)
                with journal.open("a") as handle:
                    handle.write(name + "\n")
                pulled.append(name)
            return pulled

        return await self._with_session(action)

    async def push(self, files: Sequence[Path]) -> list[str]:
        """Upload ``files`` to the remote outbound folder (to a temporary name, then renamed into place)."""

        async def action(sftp: asyncssh.SFTPClient) -> list[str]:
            pushed: list[str] = []
            for path in files:
                target = posixpath.join(self.remote.outbound_dir, path.name)
                temporary = posixpath.join(self.remote.outbound_dir, f".{path.name}.part")
                await sftp.put(str(path), temporary)
                if await sftp.exists(target):
                    await sftp.remove(target)
                await sftp.rename(temporary, target)
                pushed.append(path.name)
            return pushed

        return await self._with_session(action)
