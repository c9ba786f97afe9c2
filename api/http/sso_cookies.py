"""The browser session's cookies (seed 001 §1.2 sessions; docs/sso.md "Sessions").

Three ``__Host-`` cookies (RFC 6265bis section 4.1.3.2: Secure, Path=/, no Domain, so no sibling host can
set or read them): the access token and the refresh token, both HttpOnly; and the CSRF token, readable by
the page's script, which echoes it in the ``X-CSRF-Token`` header of every state-changing request
(double-submit: a cross-site form can send the cookies but cannot read the token to set the header).
SameSite is ``settings.sso.cookie_samesite`` (``lax``; ``none`` for the portal inside a partner's iframe).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from litestar.datastructures import Cookie

from ledger_core.accounts.sessions import IssuedSession

ACCESS_COOKIE = "__Host-ledger_access"
REFRESH_COOKIE = "__Host-ledger_refresh"
CSRF_COOKIE = "__Host-ledger_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAML_REQUEST_COOKIE = "__Host-ledger_saml_request"
"""HttpOnly, SameSite=None: binds a SAML sign-in to the browser that started it; the IdP's auto-posted form
is a cross-site POST, on which Lax cookies are not sent."""
SAML_COOKIE = "__Host-ledger_saml"
"""HttpOnly: the sealed NameID and SessionIndex a SAML session needs for SP-initiated single logout."""
SameSite = Literal["lax", "strict", "none"]


def _samesite(value: str) -> SameSite:
    lowered = value.lower()
    if lowered not in {"lax", "strict", "none"}:
        raise ValueError(f"cookie SameSite must be lax, strict or none, not {value!r}")
    return cast("SameSite", lowered)


def _cookie(name: str, value: str, expires: datetime, now: datetime, samesite: str, *, httponly: bool) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        max_age=max(int((expires - now).total_seconds()), 0),
        path="/",
        secure=True,
        httponly=httponly,
        samesite=_samesite(samesite),
    )


def session_cookies(issued: IssuedSession, now: datetime, samesite: str) -> list[Cookie]:
    """The cookies that carry ``issued`` (the CSRF cookie only when the family is new)."""
    cookies = [
        _cookie(ACCESS_COOKIE, issued.access_token, issued.access_expires_at, now, samesite, httponly=True),
        _cookie(REFRESH_COOKIE, issued.refresh_token, issued.refresh_expires_at, now, samesite, httponly=True),
    ]
    if issued.csrf_token is not None:
        cookies.append(
            _cookie(CSRF_COOKIE, issued.csrf_token, issued.refresh_expires_at, now, samesite, httponly=False)
        )
    return cookies


def cleared_cookies(samesite: str) -> list[Cookie]:
    """Cookies that delete the session's cookies (Max-Age=0)."""
    return [
        Cookie(
            key=name,
            value="",
            max_age=0,
            path="/",
            secure=True,
            httponly=name != CSRF_COOKIE,
            samesite=_samesite(samesite),
        )
        for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE, SAML_COOKIE)
    ]


def saml_cookie(handle: str, issued: IssuedSession, now: datetime, samesite: str) -> Cookie:
    """The SAML logout handle, for as long as the session's refresh token."""
    return _cookie(SAML_COOKIE, handle, issued.refresh_expires_at, now, samesite, httponly=True)


def saml_request_cookie(binding: str, max_age_s: int) -> Cookie:
    """The SAML request binding (SameSite=None: it must come back on the IdP's cross-site POST)."""
    return Cookie(
        key=SAML_REQUEST_COOKIE, value=binding, max_age=max_age_s, path="/", secure=True, httponly=True, samesite="none"
    )
