"""Accounts and identity: who signs in through a partner's identity provider (seed 001 section 1).

Per-partner identity provider configuration (:mod:`.providers`), user accounts provisioned just in time
on a first login (:mod:`.account`), the one login use case both SAML and OIDC go through
(:mod:`.use_cases`), and browser sessions with rotating refresh tokens (:mod:`.sessions`). Protocol
adapters (``adapters/saml``, the OIDC relying party) turn a verified assertion into an
:class:`~.identity.IdentityAssertion`; nothing here speaks a protocol or does I/O.
"""
