"""Ports of the members context: where per-subject data keys live (crypto-shredding), and the signed
enrollment links the eligibility answer carries."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class KeyStore(Protocol):
    """Per-subject data keys for personal data (crypto-shredding). Keys never enter the log."""

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        """Return ``(key id, 32-byte key)`` for ``subject``, creating it on first use.

        Raises :class:`~ledger_core.members.errors.PersonalDataErased` for a subject whose keys were destroyed.
        """
        ...

    def get(self, key_id: str) -> bytes | None:
        """The key with ``key_id``, or None once it has been destroyed."""
        ...

    def destroy(self, subject: str) -> int:
        """Destroy every key of ``subject``; return how many were destroyed."""
        ...


class EnrollmentLinks(Protocol):
    """Signed, expiring enrollment links (adapters: ``api.security.enrollment_tokens.EnrollmentTokens``)."""

    def url(self, partner_id: str, partner_member_id: str, now: datetime) -> str:
        """The link an eligible member follows to enroll, valid from ``now`` for the deployment's lifetime."""
        ...
