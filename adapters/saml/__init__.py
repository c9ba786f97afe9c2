"""The SAML 2.0 service provider (pysaml2 over the ``xmlsec1`` binary): metadata, AuthnRequest, ACS, SLO.

It turns a verified SAML response into an :class:`~ledger_core.accounts.identity.IdentityAssertion` for the
accounts context's login use case, and remembers request and assertion ids in the shared
:class:`~ledger_core.accounts.ports.OneTimeStore`. See :mod:`adapters.saml.service_provider`.
"""
