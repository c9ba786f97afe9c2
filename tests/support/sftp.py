"""A real SFTP server on loopback for the feed tests, and partner-side helpers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from adapters.feeds.folders import FeedFolders
from adapters.feeds.partner_files import FeedKeyFiles
from adapters.feeds.sftp_server import SftpServerConfig, start_sftp_server
from adapters.files.master_key import KeyWrapper


@dataclass
class FeedsHome:
    data_dir: Path
    keys: FeedKeyFiles
    folders: FeedFolders
    completed: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path) -> FeedsHome:
        data_dir = root / "data"
        data_dir.mkdir()
        return cls(
            data_dir, FeedKeyFiles(data_dir, KeyWrapper(os.urandom(32))), FeedFolders(data_dir / "feeds" / "root")
        )

    def partner_key(self, partner_id: str) -> asyncssh.SSHKey:
        """A new SSH key for ``partner_id``, registered like ``ledger feeds keys add``."""
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.keys.add_ssh_key(partner_id, key.export_public_key().decode())
        return key


@asynccontextmanager
async def running_server(home: FeedsHome, max_upload_bytes: int = 1 << 20) -> AsyncIterator[int]:
    """Our SFTP server on 127.0.0.1 (any free port); yields the port."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    config = SftpServerConfig("127.0.0.1", 0, host_key, max_upload_bytes)
    acceptor = await start_sftp_server(config, home.folders, home.keys, lambda p, n: home.completed.append((p, n)))
    try:
        yield acceptor.get_port()
    finally:
        acceptor.close()
        await acceptor.wait_closed()


@asynccontextmanager
async def partner_session(port: int, partner_id: str, key: asyncssh.SSHKey) -> AsyncIterator[asyncssh.SFTPClient]:
    async with (
        asyncssh.connect(
            "127.0.0.1", port, username=partner_id, client_keys=[key], known_hosts=None, agent_path=None
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        yield sftp


class _PartnerServer(asyncssh.SSHServer):
    def __init__(self, authorized: asyncssh.SSHKey) -> None:
        self._authorized = authorized
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        if self._conn is not None:
            line = self._authorized.export_public_key().decode()
            self._conn.set_authorized_keys(asyncssh.import_authorized_keys(line))
        return True


@asynccontextmanager
async def partner_hosted(root: Path, host_key: asyncssh.SSHKey, our_key: asyncssh.SSHKey) -> AsyncIterator[int]:
    (root / "outbound").mkdir(parents=True, exist_ok=True)
    (root / "inbound").mkdir(parents=True, exist_ok=True)
    acceptor = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=lambda: _PartnerServer(our_key),
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=os.fsencode(root)),
    )
    try:
        yield acceptor.get_port()
    finally:
        acceptor.close()
        await acceptor.wait_closed()
