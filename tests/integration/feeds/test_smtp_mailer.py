"""The SMTP adapter against a real local SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import asyncio
import email
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.smtp.mailer import EmailNotSent, SmtpConfig, SmtpMailer
from ledger_core.members.feeds.notifications import eligible_message, file_rejected_message


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.content
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 Message accepted"


async def _with_server(inbox: _Inbox, action: Any) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="smtp.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await action(SmtpMailer(SmtpConfig("127.0.0.1", port, "feeds@ledger.example", starttls=False)))
    finally:
        server.close()
        await server.wait_closed()


def test_rejection_to_partner_it_and_eligibility_to_the_member_alone() -> None:
    inbox = _Inbox()

    async def action(mailer: SmtpMailer) -> None:
        await mailer.send(file_rejected_message("it@acme.example", "Acme", "eligibility_acme_20260115.csv", "r.csv"))
        await mailer.send(eligible_message("Acme", "yes@example.com"))

    asyncio.run(_with_server(inbox, action))
    assert [to for to, _ in inbox.messages] == [["it@acme.example"], ["yes@example.com"]]
    rejected, eligible = (message for _, message in inbox.messages)
    assert rejected["Subject"] == "Eligibility file rejected: eligibility_acme_20260115.csv"
    assert eligible["To"] == "yes@example.com"
    assert "Acme" in eligible.get_payload()
    assert eligible["Cc"] is None
    assert eligible["Bcc"] is None


def test_refused_recipient_raises() -> None:
    inbox = _Inbox()

    async def action(mailer: SmtpMailer) -> None:
        with pytest.raises(EmailNotSent):
            await mailer.send(file_rejected_message("it@refused.example", "Acme", "f.csv", "r.csv"))

    asyncio.run(_with_server(inbox, action))
    assert inbox.messages == []
