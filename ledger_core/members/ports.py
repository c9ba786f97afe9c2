"""Ports of the members context: where per-subject data keys live (crypto-shredding), and the signed
enrollment links the eligibility answer carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable


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


class SubjectKeys(NamedTuple):
    """What :meth:`BatchKeyStore.get_or_create_many` returns."""

    keys: Mapping[str, tuple[str, bytes]]
    """``subject -> (key id, key)``; erased subjects are left out."""
    created: frozenset[str]
    """The subjects whose key THIS call created (none existed before it, so nothing was ever sealed under a key
    of theirs); a key another caller created meanwhile and this call read back is not among them."""


@runtime_checkable
class BatchKeyStore(Protocol):
    """A :class:`KeyStore` that also serves many subjects in one round trip (the eligibility feed's bulk path)."""

    def get_or_create_many(self, subjects: Sequence[str]) -> SubjectKeys:
        """The key of every subject, creating missing keys in one transaction; subjects whose keys were
        destroyed (erased) are left out of the result, and no key is created for them."""
        ...


class EnrollmentLinks(Protocol):
    """Signed, expiring enrollment links (adapters: ``api.security.enrollment_tokens.EnrollmentTokens``)."""

    def url(self, partner_id: str, partner_member_id: str, now: datetime) -> str:
        """The link an eligible member follows to enroll, valid from ``now`` for the deployment's lifetime."""
        ...
