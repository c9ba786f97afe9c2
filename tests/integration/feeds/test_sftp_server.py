"""Our SFTP server on loopback with a real asyncssh client: keys, confinement, completion, size cap."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncssh
import pytest
from support.sftp import FeedsHome, partner_session, running_server


@pytest.fixture
def home(tmp_path: Path) -> FeedsHome:
    return FeedsHome.create(tmp_path)


def test_upload_is_ready_only_after_close_and_confined(home: FeedsHome) -> None:
    key = home.partner_key("acme")

    async def scenario() -> None:
        async with running_server(home) as port, partner_session(port, "acme", key) as sftp:
            assert sorted(await sftp.listdir("/")) == [".", "..", "inbound", "outbound"]
            assert sorted(await sftp.listdir("/inbound")) == [".", "..", "acme"]
            async with sftp.open("/inbound/acme/eligibility_acme_20260115.csv", "wb") as handle:
                await handle.write(b"partner_member_id,email\n")
                assert home.folders.ready("acme") == []  # half-written: not taken
                await handle.write(b"1,a@example.com\n")
            assert home.folders.ready("acme") == ["eligibility_acme_20260115.csv"]
            assert home.completed == [("acme", "eligibility_acme_20260115.csv")]
            with pytest.raises(asyncssh.SFTPPermissionDenied):  # an unread upload is never deleted
                await sftp.remove("/inbound/acme/eligibility_acme_20260115.csv")

    asyncio.run(scenario())
    data = (home.folders.inbound("acme") / "eligibility_acme_20260115.csv").read_bytes()
    assert data == b"partner_member_id,email\n1,a@example.com\n"


@pytest.mark.parametrize(
    "path",
    [
        "/inbound/acme/../../../../etc/passwd",
        "../../outside.csv",
        "/inbound/other/eligibility_other_20260115.csv",
        "/inbound/acme/../other/x.csv",
        "/outbound/acme/planted.csv",
        "/inbound/acme/.hidden",
        "/x.csv",
    ],
)
def test_path_traversal_and_other_folders_refused(home: FeedsHome, path: str) -> None:
    key = home.partner_key("acme")
    home.folders.ensure("other")

    async def scenario() -> None:
        async with running_server(home) as port, partner_session(port, "acme", key) as sftp:
            with pytest.raises((asyncssh.SFTPPermissionDenied, asyncssh.SFTPNoSuchFile)):
                async with sftp.open(path, "wb") as handle:
                    await handle.write(b"x")

    asyncio.run(scenario())
    assert home.folders.ready("acme") == []
    assert not any(home.folders.root.parent.parent.parent.rglob("outside.csv"))
    assert not (home.folders.inbound("other") / "eligibility_other_20260115.csv").exists()


def test_no_other_partners_files_no_symlink_escape(home: FeedsHome, tmp_path: Path) -> None:
    key = home.partner_key("acme")
    home.partner_key("other")
    home.folders.ensure("acme")
    home.folders.ensure("other")
    (home.folders.outbound("other") / "enrollment_other_20260115.csv").write_text("secret")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    os.symlink(secret, home.folders.outbound("acme") / "escape.csv")  # planted by anyone but the partner

    async def scenario() -> None:
        async with running_server(home) as port, partner_session(port, "acme", key) as sftp:
            with pytest.raises(asyncssh.SFTPNoSuchFile):
                await sftp.listdir("/outbound/other")
            with pytest.raises((asyncssh.SFTPNoSuchFile, asyncssh.SFTPPermissionDenied)):
                await sftp.get("/outbound/other/enrollment_other_20260115.csv", str(tmp_path / "got"))
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.get("/outbound/acme/escape.csv", str(tmp_path / "got"))
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.symlink("/etc/passwd", "/inbound/acme/link.csv")
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.mkdir("/inbound/acme/sub")

    asyncio.run(scenario())
    assert not (tmp_path / "got").exists()


def test_wrong_key_and_unknown_partner_are_refused(home: FeedsHome) -> None:
    home.partner_key("acme")
    stranger = asyncssh.generate_private_key("ssh-ed25519")

    async def scenario() -> None:
        async with running_server(home) as port:
            for user in ("acme", "nobody", "../acme"):
                with pytest.raises(asyncssh.PermissionDenied):
                    async with partner_session(port, user, stranger):
                        pass

    asyncio.run(scenario())


def test_upload_over_the_cap_is_refused_and_removed(home: FeedsHome) -> None:
    key = home.partner_key("acme")

    async def scenario() -> None:
        async with running_server(home, max_upload_bytes=1000) as port, partner_session(port, "acme", key) as sftp:
            with pytest.raises(asyncssh.SFTPFailure):
                async with sftp.open("/inbound/acme/big.csv", "wb") as handle:
                    await handle.write(b"x" * 2000)

    asyncio.run(scenario())
    assert home.folders.ready("acme") == []
    assert not (home.folders.inbound("acme") / "big.csv").exists()
