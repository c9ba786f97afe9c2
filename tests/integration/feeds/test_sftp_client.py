"""Client mode against a second local asyncssh SFTP server (the partner's), with a pinned host key."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import asyncssh
import pytest
from support.sftp import partner_hosted

from adapters.feed_exchange import (
    HostKeyRefused,
    RemoteCredentials,
    RemoteFailure,
    RemoteFailureKind,
    RemoteServer,
    RetryPolicy,
)
from adapters.feeds.folders import FeedFolders
from adapters.feeds.sftp_client import RemoteSftp


@pytest.fixture
def keys(tmp_path: Path) -> tuple[asyncssh.SSHKey, asyncssh.SSHKey, Path]:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    our_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "client_key"
    key_file.write_bytes(our_key.export_private_key())
    key_file.chmod(0o600)
    return host_key, our_key, key_file


def _remote(port: int, host_key: asyncssh.SSHKey) -> RemoteServer:
    return RemoteServer("127.0.0.1", port, "ledger", host_key.export_public_key().decode().strip())


def test_pull_and_push_with_the_pinned_host_key(
    tmp_path: Path, keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey, Path]
) -> None:
    host_key, our_key, key_file = keys
    remote_root = tmp_path / "partner-server"
    (remote_root / "outbound").mkdir(parents=True)
    (remote_root / "outbound" / "eligibility_acme_20260115.csv").write_bytes(b"partner_member_id\n1\n")
    (remote_root / "outbound" / "unrelated.txt").write_bytes(b"x")
    folders = FeedFolders(tmp_path / "feeds")
    outgoing = tmp_path / "enrollment_acme_20260115.csv"
    outgoing.write_bytes(b"partner_member_id,enrollment_date\n")

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with partner_hosted(remote_root, host_key, our_key) as port:
            client = RemoteSftp(_remote(port, host_key), RemoteCredentials(key_file, None))
            first = await client.pull("acme", folders, lambda name: name.startswith("eligibility_"))
            again = await client.pull("acme", folders, lambda name: name.startswith("eligibility_"))
            pushed = await client.push([outgoing])
            return first, again, pushed

    first, again, pushed = asyncio.run(scenario())
    assert first == ["eligibility_acme_20260115.csv"]
    assert again == []  # pulled once
    assert folders.ready("acme") == ["eligibility_acme_20260115.csv"]
    assert (folders.inbound("acme") / "eligibility_acme_20260115.csv").read_bytes() == b"partner_member_id\n1\n"
    assert pushed == ["enrollment_acme_20260115.csv"]
    assert (remote_root / "inbound" / "enrollment_acme_20260115.csv").read_bytes() == outgoing.read_bytes()
    assert not list((remote_root / "inbound").glob(".*"))


def test_a_changed_or_unpinned_host_key_is_refused(
    tmp_path: Path, keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey, Path]
) -> None:
    host_key, our_key, key_file = keys
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    folders = FeedFolders(tmp_path / "feeds")
    (tmp_path / "remote" / "outbound").mkdir(parents=True)
    (tmp_path / "remote" / "outbound" / "eligibility_acme_20260115.csv").write_bytes(b"x\n")

    async def scenario() -> list[str]:
        reasons = []
        async with partner_hosted(tmp_path / "remote", impostor, our_key) as port:
            for remote in (_remote(port, host_key), replace(_remote(port, host_key), host_key="")):
                client = RemoteSftp(remote, RemoteCredentials(key_file, None), RetryPolicy(first_delay=0))
                with pytest.raises(HostKeyRefused) as refused:
                    await client.pull("acme", folders, lambda _name: True)
                reasons.append(refused.value.reason)
        return reasons

    assert asyncio.run(scenario()) == ["presented key is not the pinned key", "no host key pinned"]
    assert folders.ready("acme") == []
    assert not (folders.inbound("acme") / "eligibility_acme_20260115.csv").exists()


def test_unreachable_server_is_retried_then_reported(
    keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey, Path], caplog: pytest.LogCaptureFixture
) -> None:
    host_key, _, key_file = keys
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(attempts=3, first_delay=0)
    client = RemoteSftp(_remote(port, host_key), RemoteCredentials(key_file, None), policy)
    with caplog.at_level("WARNING", logger="adapters.feeds.sftp_client"), pytest.raises(RemoteFailure) as failed:
        asyncio.run(client.push([key_file]))
    assert failed.value.kind is RemoteFailureKind.UNREACHABLE
    assert [r.getMessage().split(" to ")[0] for r in caplog.records] == ["sftp attempt 1", "sftp attempt 2"]
