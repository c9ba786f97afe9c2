"""The SMTP adapter of :class:`ledger_core.members.feeds.notifications.Mailer` (aiosmtplib).

STARTTLS is used when the server offers it (``starttls=None``: opportunistic) or required
(``starttls=True``); login only when a user is configured. A refused recipient raises: nothing is
silently dropped. Messages are plain text, one recipient each (no Cc/Bcc, so no address leaks).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from ledger_core.engine.errors import LedgerError
from ledger_core.members.feeds.notifications import EmailMessage

__all__ = ["EmailNotSent", "SmtpConfig", "SmtpMailer"]


class EmailNotSent(LedgerError):
    """The SMTP server refused the message or could not be reached."""

    code = "EMAIL_NOT_SENT"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool | None = None
    timeout: float = 30.0


class SmtpMailer:
    """Sends each :class:`EmailMessage` in its own SMTP transaction."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage) -> None:
        mime = MimeMessage()
        mime["From"] = self.config.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2] or None)
        mime.set_content(message.body)
        config = self.config
        try:
            await aiosmtplib.send(
                mime,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                start_tls=config.starttls,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPException as error:
            raise EmailNotSent(f"email to the recipient not sent: {error}", subject=message.subject) from error
