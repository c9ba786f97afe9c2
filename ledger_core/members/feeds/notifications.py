"""Email notifications of the batch feeds (seed 001 section 2.2) and the port they are sent through.

Two messages, and nothing personal beyond the recipient's own address:

* **file rejected** -> the partner's IT address: the file name and the report's name, never a row;
* **you're eligible** -> a member a file registered who opted in to email (``email_opt_in``), once, at the
  member's own address only; the body names the partner, never the member's name, date of birth or
  anything else from the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

__all__ = ["EligibilityNotice", "EmailMessage", "Mailer", "eligible_message", "file_rejected_message"]


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One plain-text email to one address."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Where emails go (adapter: :class:`adapters.smtp.mailer.SmtpMailer`)."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise; a refused recipient is an error, never silently dropped."""
        ...


@dataclass(frozen=True, slots=True)
class EligibilityNotice:
    """A member an eligibility file registered who opted in to email: whom to write to, never the address
    (it stays sealed until :meth:`~ledger_core.members.feeds.use_cases.Feeds.claim_eligibility_email`)."""

    partner_member_id: str
    file_id: UUID


def file_rejected_message(to: str, partner_name: str, file_name: str, report_name: str) -> EmailMessage:
    """Seed 001 section 2.2, error handling: "Eligibility file rejected - please fix and re-upload"."""
    return EmailMessage(
        to=to,
        subject=f"Eligibility file rejected: {file_name}",
        body=(
            f"Hello {partner_name} IT team,\n\n"
            f"The eligibility file {file_name} was rejected and nothing of it was loaded.\n"
            f"The reasons are in {report_name} in your outbound folder.\n"
            "Please fix the file and upload it again.\n"
        ),
    )


def eligible_message(partner_name: str, to: str) -> EmailMessage:
    """Seed 001 section 2.2 step 5: "You're eligible for free genetic testing via [Partner]", to the member's
    own address; the body names the partner and nothing of the member."""
    return EmailMessage(
        to=to,
        subject=f"You're eligible for free genetic testing via {partner_name}",
        body=(
            f"Good news: through {partner_name} you are eligible for free genetic testing "
            "with Fair Underwriting.\nSign in with your usual account to enroll.\n"
        ),
    )
