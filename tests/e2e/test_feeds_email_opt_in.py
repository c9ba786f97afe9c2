"""Seed 001 §2.2 step 5 end to end: an eligibility file with our ``email_opt_in`` column goes through the
real ``ledger feeds run`` worker, and a real SMTP server (aiosmtpd on loopback) receives one "you're
eligible" email per new member who opted in, at that member's own address, with nothing else personal;
re-running the file, or resuming it after a crash, sends nothing twice; an erased member gets nothing.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from support.feeds import csv_bytes, member_row

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.feeds_runtime import feed_files
from api.settings import Settings, StorageSection
from ledger_core.members.feeds.formats import ELIGIBILITY_COLUMNS
from ledger_core.members.member import Member, member_id

LEDGER = shutil.which("ledger", path=str(Path(sys.executable).parent)) or shutil.which("ledger")
P = "acme"
COLUMNS = (*ELIGIBILITY_COLUMNS, "email_opt_in")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.content
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 Message accepted"

    def received(self) -> list[str]:
        return sorted(address for recipients, _ in self.messages for address in recipients)


@contextmanager
def smtp_server(inbox: _Inbox) -> Iterator[int]:
    """A real SMTP server on an ephemeral loopback port, served from its own thread; yields the port."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(inbox, hostname="smtp.test"), "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def ledger(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert LEDGER is not None, "the ledger console script is installed with the package"
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def _upload(settings: Settings, name: str, data: bytes) -> None:
    """What the SFTP server does for a completed upload: the file in the partner's inbound folder, marked."""
    folders = feed_files(settings).folders
    folders.ensure(P)
    (folders.inbound(P) / name).write_bytes(data)
    folders.mark_ready(P, name)


def _run(where: list[str], port: int) -> list[dict[str, Any]]:
    env = {"LEDGER_SMTP_HOST": "127.0.0.1", "LEDGER_SMTP_PORT": str(port)}
    result = ledger("feeds", "run", "--partner", P, "--feed", "eligibility", *where, env=env)
    assert result.returncode == 0, result.stderr
    steps: list[dict[str, Any]] = json.loads(result.stdout)
    return steps


def test_opted_in_members_get_one_email_each_at_their_own_address(
    where: list[str], tmp_path: Path, database_url: str
) -> None:
    assert ledger("init", *where).returncode == 0
    settings = Settings(storage=StorageSection(data_dir=tmp_path / "data", database_url=database_url))
    opt_ins = {1: "Y", 2: "true", 3: "1", 4: "N", 5: "false", 6: "0", 7: "", 8: "maybe"}
    rows = [member_row(index, email_opt_in=flag) for index, flag in opt_ins.items()]
    first = f"eligibility_{P}_20260115.csv"
    inbox = _Inbox()
    with smtp_server(inbox) as port:
        _upload(settings, first, csv_bytes(rows, columns=COLUMNS))
        steps = _run(where, port)
        assert [(s["file"], s["accepted"], s["rejected"]) for s in steps] == [(first, 7, 1)]
        opted_in = sorted(member_row(index)["email"] for index in (1, 2, 3))
        assert inbox.received() == opted_in  # only the opted-in, once each

        _upload(settings, first, csv_bytes(rows, columns=COLUMNS))  # the same file again: already processed
        _run(where, port)
        assert inbox.received() == opted_in

        second = f"eligibility_{P}_20260116.csv"  # loaded by `ledger feeds load` (no email), then the
        later = [member_row(index, email_opt_in="Y") for index in (11, 12)]  # worker "crashes" before mailing
        file = tmp_path / "in" / second
        file.parent.mkdir()
        file.write_bytes(csv_bytes([*later, member_row(13)], columns=COLUMNS))
        loaded = ledger("feeds", "load", P, str(file), "--out", str(tmp_path / "out"), *where)
        assert loaded.returncode == 0, loaded.stderr
        with open_ledger(StorageConfig(tmp_path / "data", database_url)) as opened:
            opened.membership.erase(P, later[1]["partner_member_id"])
        processing = settings.feeds.root_dir(settings.storage.data_dir) / "processing" / P
        processing.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, processing / second)  # left in processing/ by the crashed worker: resumed first
        _run(where, port)
        assert inbox.received() == sorted([*opted_in, later[0]["email"]])  # never the erased member
        shutil.copy(file, processing / second)  # and resumed once more: nothing twice
        _run(where, port)
        assert inbox.received() == sorted([*opted_in, later[0]["email"]])

    personal = [value for row in [*rows, *later] for key, value in row.items() if key in ("first_name", "last_name")]
    personal += [row["date_of_birth"] for row in [*rows, *later]]
    for recipients, message in inbox.messages:
        assert recipients == [message["To"]]
        assert message["Cc"] is None
        assert message["Subject"] == f"You're eligible for free genetic testing via {P}"
        text = message.as_string()
        others = [row["email"] for row in [*rows, *later] if row["email"] != message["To"]]
        assert not [value for value in [*personal, *others] if value in text]
    with open_ledger(StorageConfig(tmp_path / "data", database_url)) as opened:
        for index, expected in ((1, True), (2, True), (3, True), (4, False), (7, False)):
            member = opened.membership.app.find(Member, member_id(P, member_row(index)["partner_member_id"]))
            assert member is not None
            assert member.email_opt_in is expected
    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stdout
